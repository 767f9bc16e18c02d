//! The receipt: the recipient node's signed statement that it received a message — digests of the
//! envelope, the ciphertext and the decrypted payload, when, and where it is in the recipient's
//! transparency log (the receipt event's leaf, the signed checkpoint and the inclusion proof), so anyone
//! with the recipient's published keys can check it without asking the recipient.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ena_audit::merkle;
use ena_audit::note::{NoteVerifier, verify_checkpoint};
use serde::{Deserialize, Serialize};

use crate::jws::{self, JwsError, Unverified};
use crate::keys::SigningKey;

pub const RECEIPT_TYP: &str = "ena-receipt+jws";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Receipt {
    pub message_id: String,
    pub sender_node: String,
    pub recipient_node: String,
    /// base64url SHA-256 of the signed envelope as received (its compact JWS text).
    pub envelope_sha256: String,
    pub ciphertext_sha256: String,
    /// base64url SHA-256 of the decrypted payload.
    pub payload_sha256: String,
    /// RFC 3339.
    pub received_at: String,
    pub log: LogProof,
}

/// Where the receipt event is in the recipient's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogProof {
    pub index: u64,
    pub tree_size: u64,
    /// The leaf bytes (the event's canonical JSON), base64.
    pub leaf: String,
    /// The signed checkpoint (C2SP signed note) of `tree_size`.
    pub checkpoint: String,
    /// RFC 9162 inclusion proof, base64 hashes.
    pub inclusion_proof: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error(transparent)]
    Jws(#[from] JwsError),
    #[error("log proof: {0}")]
    Proof(String),
    #[error("the receipt is for another message: {0}")]
    Mismatch(String),
}

impl Receipt {
    pub fn sign(&self, key: &SigningKey) -> String {
        jws::sign(key, RECEIPT_TYP, self)
    }

    /// Verify a signed receipt with the recipient node's JWK Set and its log's verifier key: the
    /// signature, the checkpoint's signature, the leaf's inclusion at that size, and that the leaf is
    /// the receipt event of this message.
    pub fn verify(token: &str, recipient_jwks: &serde_json::Value, log_key: &str) -> Result<Receipt, ReceiptError> {
        let r: Receipt = Unverified::parse(token, RECEIPT_TYP)?.verify(recipient_jwks)?;
        let event = r.log.verify(log_key)?;
        if event["action"] != "messages.received" || event["object"]["id"] != r.message_id.as_str() {
            return Err(ReceiptError::Proof("the logged event is not this message's receipt".into()));
        }
        Ok(r)
    }
}

impl LogProof {
    /// Append `event` to `audit` and prove where it went: the leaf is the event's canonical bytes (what
    /// the proof carries, with no read back), with the signed checkpoint and the inclusion proof.
    pub async fn append(audit: &ena_audit::AuditLog, event: ena_audit::AuditEvent) -> Result<LogProof, String> {
        let leaf = event.canonical_bytes();
        let appended = audit.append(vec![event]).await.map_err(|e| e.to_string())?;
        let index = appended.first_index;
        let proof = audit.inclusion_proof(index, appended.tree_size).await.map_err(|e| e.to_string())?;
        Ok(LogProof {
            index,
            tree_size: appended.tree_size,
            leaf: STANDARD.encode(&leaf),
            checkpoint: appended.checkpoint,
            inclusion_proof: proof.iter().map(|h| STANDARD.encode(h)).collect(),
        })
    }

    /// Check the proof with the log's verifier key — the checkpoint's signature, its size, the leaf's
    /// inclusion — and return the logged event, for the caller to check it is the one it expects.
    pub fn verify(&self, log_key: &str) -> Result<serde_json::Value, ReceiptError> {
        let verifier = NoteVerifier::parse(log_key).map_err(|e| ReceiptError::Proof(e.to_string()))?;
        let cp = verify_checkpoint(&self.checkpoint, &verifier).map_err(|e| ReceiptError::Proof(e.to_string()))?;
        if cp.size != self.tree_size {
            return Err(ReceiptError::Proof(format!(
                "checkpoint size {} is not the tree size {}",
                cp.size, self.tree_size
            )));
        }
        let leaf = STANDARD.decode(&self.leaf).map_err(|_| ReceiptError::Proof("leaf is not base64".into()))?;
        let proof = self
            .inclusion_proof
            .iter()
            .map(|h| STANDARD.decode(h).ok().and_then(|b| <merkle::Hash>::try_from(b.as_slice()).ok()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ReceiptError::Proof("a proof hash is malformed".into()))?;
        merkle::verify_inclusion(self.index, self.tree_size, &merkle::leaf_hash(&leaf), &proof, &cp.root)
            .map_err(|e| ReceiptError::Proof(format!("{e:?}")))?;
        serde_json::from_slice(&leaf).map_err(|_| ReceiptError::Proof("the leaf is not an event".into()))
    }
}
