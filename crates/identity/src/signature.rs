//! The signature service (*e-underskrift*): a person logged in at LoA ≥ 3 signs a document's SHA-256
//! digest. The result is a JWS with a **detached payload** (RFC 7515 appendix F: the payload is the 32
//! digest bytes, left out of the serialisation) whose protected header carries the signer, the level of
//! assurance, the time and the transparency-log entry recording the signing. Anyone verifies it with the
//! service's key (published in the trust anchor's entity configuration) and proves the log entry.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{Actor, ActorKind, AuditLog, AuditSink, Context};
use ena_keys::jose::SigningKey;
use serde::Serialize;
use serde_json::{Value, json};

use crate::loa::Loa;
use crate::session::Session;

/// The level a signature needs.
pub const SIGNING_LOA: Loa = Loa(3);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SignatureError {
    pub field: &'static str,
    pub reason: String,
}

fn fail(field: &'static str, reason: impl Into<String>) -> SignatureError {
    SignatureError { field, reason: reason.into() }
}

/// Parse a base64url (or standard base64) SHA-256 digest.
pub fn parse_digest(text: &str) -> Result<[u8; 32], SignatureError> {
    let t = text.trim().trim_end_matches('=');
    let bytes = B64
        .decode(t)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(t))
        .map_err(|_| fail("sha256", "not base64 or base64url"))?;
    bytes.try_into().map_err(|_| fail("sha256", "a SHA-256 digest is 32 bytes"))
}

/// A made signature.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Signed {
    /// Compact JWS with detached payload: `header..signature`.
    pub signature: String,
    pub sha256: String,
    pub log_index: u64,
}

/// What verification found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    pub personal_number: String,
    pub name: String,
    pub loa: u8,
    pub signed_at: i64,
    pub log_index: u64,
    /// The signed checkpoint the entry was proven against.
    pub checkpoint_size: u64,
}

pub struct SignatureService {
    key: SigningKey,
    /// Who signs (the instance's public URL + `/signatures`).
    issuer: String,
    /// Every signing is recorded here before the signature is returned; verification reads it back.
    log: AuditLog,
}

impl std::fmt::Debug for SignatureService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureService").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl SignatureService {
    pub fn new(key: SigningKey, issuer: &str, log: AuditLog) -> SignatureService {
        SignatureService { key, issuer: issuer.to_owned(), log }
    }

    /// The service's public keys.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.key.public_jwk()]})
    }

    /// Sign `digest` for the person of `session`, after recording the signing in the log.
    pub async fn sign(&self, session: &Session, digest: &[u8; 32]) -> Result<Signed, SignatureError> {
        let log = &self.log;
        if session.loa < SIGNING_LOA {
            return Err(fail("loa", format!("signing needs {SIGNING_LOA}; this session has {}", session.loa)));
        }
        let sha = B64.encode(digest);
        let ctx = Context {
            actor: Actor { kind: ActorKind::Person, id: session.person.as_str().to_owned(), organisation: None },
            on_behalf_of: None,
            correlation_id: None,
        };
        let mut event = ctx.event(
            "signature.sign",
            Some(ObjectRef { kind: "document".into(), id: sha.clone() }),
            AuditResult::Allowed,
            None,
        );
        event.data_subjects = vec![session.person.as_str().to_owned()];
        event.details = Some(std::collections::BTreeMap::from([
            ("sha256".to_owned(), sha.clone()),
            ("loa".to_owned(), session.loa.0.to_string()),
        ]));
        let appended = log.record(vec![event]).await.map_err(|e| fail("log", e.to_string()))?;
        let header = json!({
            "alg": "ES256", "kid": self.key.kid(), "typ": "JOSE", "iss": self.issuer, "iat": ena_core::time::unix_now(),
            "ena_signer": {"personalNumber": session.person.as_str(), "name": session.name, "loa": session.loa.0},
            "ena_log": {"origin": log.origin(), "index": appended.first_index},
        });
        let h = B64.encode(header.to_string());
        let signing_input = format!("{h}.{}", B64.encode(digest));
        let jws = self.key.sign_input(&signing_input);
        Ok(Signed { signature: format!("{h}..{jws}"), sha256: sha, log_index: appended.first_index })
    }

    /// Verify a detached JWS over `digest`: signature with the service's keys, then the log entry it names
    /// (same digest, same signer) and its inclusion in the latest signed checkpoint.
    pub async fn verify(&self, digest: &[u8; 32], jws: &str) -> Result<Verified, SignatureError> {
        let log = &self.log;
        verify_detached(jws, digest, &self.jwks())?;
        let header = header_of(jws)?;
        let index = header["ena_log"]["index"].as_u64().ok_or_else(|| fail("signature", "no ena_log.index"))?;
        let entry = log.entry(index).await.map_err(|e| fail("log", e.to_string()))?;
        let sha = B64.encode(digest);
        let e = &entry.event;
        let signer = header["ena_signer"]["personalNumber"].as_str().unwrap_or_default();
        if e.action != "signature.sign"
            || e.details.as_ref().and_then(|d| d.get("sha256")) != Some(&sha)
            || e.actor.id != signer
        {
            return Err(fail("log", format!("log entry {index} does not record this signing")));
        }
        let note = log.checkpoint().await.map_err(|e| fail("log", e.to_string()))?;
        let verifier = ena_audit::NoteVerifier::parse(&log.verifier_key()).map_err(|e| fail("log", e.to_string()))?;
        let checkpoint =
            ena_audit::note::verify_checkpoint(&note, &verifier).map_err(|e| fail("log", e.to_string()))?;
        let proof = log.inclusion_proof(index, checkpoint.size).await.map_err(|e| fail("log", e.to_string()))?;
        ena_audit::merkle::verify_inclusion(index, checkpoint.size, &entry.leaf_hash, &proof, &checkpoint.root)
            .map_err(|e| fail("log", format!("inclusion proof: {e}")))?;
        Ok(Verified {
            personal_number: signer.to_owned(),
            name: header["ena_signer"]["name"].as_str().unwrap_or_default().to_owned(),
            loa: header["ena_signer"]["loa"].as_u64().unwrap_or_default() as u8,
            signed_at: header["iat"].as_i64().unwrap_or_default(),
            log_index: index,
            checkpoint_size: checkpoint.size,
        })
    }
}

fn header_of(jws: &str) -> Result<Value, SignatureError> {
    let h = jws.split('.').next().unwrap_or_default();
    let bytes = B64.decode(h).map_err(|_| fail("signature", "header is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| fail("signature", "header is not JSON"))
}

/// Check a detached compact JWS (`header..signature`) over `digest` with `jwks`.
pub fn verify_detached(jws: &str, digest: &[u8; 32], jwks: &Value) -> Result<(), SignatureError> {
    let parts: Vec<&str> = jws.trim().split('.').collect();
    let [h, p, s] = parts[..] else { return Err(fail("signature", "a compact JWS has 3 parts")) };
    if !p.is_empty() {
        return Err(fail("signature", "the payload must be detached (header..signature)"));
    }
    let attached = format!("{h}.{}.{s}", B64.encode(digest));
    let token = ena_keys::jose::Unverified::parse_any(&attached).map_err(|e| fail("signature", e.to_string()))?;
    token.verify(jwks).map_err(|e| fail("signature", e.to_string()))
}
