//! C2SP signed notes: checkpoints (`tlog-checkpoint`), Ed25519 note signatures and verifier keys
//! (`signed-note`), and timestamped Ed25519 cosignatures (`tlog-cosignature`, `cosignature/v1`).
//!
//! Keys are Ed25519 through aws-lc-rs (ena's one crypto provider). A log's private key is a PKCS#8
//! document in the data directory with mode 0600.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ena_core::hex;
use sha2::{Digest, Sha256};

use ena_keys::files::write_private;

use crate::merkle::Hash;

/// Signature type bytes of the signed-note registry.
const ALG_ED25519: u8 = 0x01;
const ALG_COSIGNATURE_V1: u8 = 0x04;

#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("cannot read or write the key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("the key file {0} does not hold an Ed25519 PKCS#8 key")]
    BadKey(String),
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error("no valid signature by {0}")]
    NoSignature(String),
    #[error("invalid key name {0:?}: it must be non-empty and contain no spaces, '+' or newlines")]
    BadName(String),
}

/// `SHA-256(name ‖ "\n" ‖ alg ‖ public key)[:4]`.
fn key_id(name: &str, alg: u8, public: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains([' ', '+', '\n', '\t']) {
        return Err(NoteError::BadName(name.to_owned()));
    }
    Ok(())
}

/// A named Ed25519 signing key (a log's, or a witness's).
#[derive(Debug)]
pub struct NoteSigner {
    name: String,
    pair: Ed25519KeyPair,
}

impl NoteSigner {
    /// Load the key at `path`, creating it (mode 0600) on first use.
    pub fn load_or_create(path: &Path, name: &str) -> Result<NoteSigner, NoteError> {
        check_name(name)?;
        let io = |source| NoteError::KeyFile { path: path.display().to_string(), source };
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                    .map_err(|_| NoteError::BadKey(path.display().to_string()))?;
                write_private(path, doc.as_ref()).map_err(io)?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(io(e)),
        };
        NoteSigner::from_pkcs8(name, &pkcs8).map_err(|_| NoteError::BadKey(path.display().to_string()))
    }

    /// A fresh Ed25519 key as PKCS#8 (to be stored, e.g. in the deployment's key vault).
    pub fn generate_pkcs8() -> Result<Vec<u8>, NoteError> {
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| NoteError::BadKey("a new key".into()))
    }

    /// The key in `pkcs8`, named `name`.
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<NoteSigner, NoteError> {
        check_name(name)?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| NoteError::BadKey(name.to_owned()))?;
        Ok(NoteSigner { name: name.to_owned(), pair })
    }

    /// A key that lives only in memory (tests, benchmarks).
    pub fn ephemeral(name: &str) -> Result<NoteSigner, NoteError> {
        check_name(name)?;
        let doc =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| NoteError::BadKey("memory".into()))?;
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| NoteError::BadKey("memory".into()))?;
        Ok(NoteSigner { name: name.to_owned(), pair })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.pair.public_key().as_ref().try_into().unwrap_or([0; 32])
    }

    /// The C2SP verifier key: `<name>+<key id hex>+<base64(0x01 ‖ public key)>`.
    pub fn verifier_key(&self) -> String {
        let public = self.public_key();
        let id = key_id(&self.name, ALG_ED25519, &public);
        let mut material = vec![ALG_ED25519];
        material.extend_from_slice(&public);
        format!("{}+{}+{}", self.name, hex(&id), STANDARD.encode(material))
    }

    /// The cosigner's verifier key (signature type 0x04).
    pub fn cosigner_key(&self) -> String {
        let public = self.public_key();
        let id = key_id(&self.name, ALG_COSIGNATURE_V1, &public);
        let mut material = vec![ALG_COSIGNATURE_V1];
        material.extend_from_slice(&public);
        format!("{}+{}+{}", self.name, hex(&id), STANDARD.encode(material))
    }

    /// A signed note: `body` (newline-terminated) followed by a blank line and this key's signature line.
    pub fn sign_note(&self, body: &str) -> String {
        let signature = self.pair.sign(body.as_bytes());
        let mut payload = key_id(&self.name, ALG_ED25519, &self.public_key()).to_vec();
        payload.extend_from_slice(signature.as_ref());
        format!("{body}\n— {} {}\n", self.name, STANDARD.encode(payload))
    }

    /// A `cosignature/v1` signature line over a checkpoint body, made at `timestamp` (POSIX seconds).
    pub fn cosign(&self, body: &str, timestamp: u64) -> String {
        let message = format!("cosignature/v1\ntime {timestamp}\n{body}");
        let signature = self.pair.sign(message.as_bytes());
        let mut payload = key_id(&self.name, ALG_COSIGNATURE_V1, &self.public_key()).to_vec();
        payload.extend_from_slice(&timestamp.to_be_bytes());
        payload.extend_from_slice(signature.as_ref());
        format!("— {} {}\n", self.name, STANDARD.encode(payload))
    }
}

/// A checkpoint's body: origin, tree size, root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note body, three newline-terminated lines.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root))
    }
}

/// A verifier for one named Ed25519 key, parsed from a C2SP verifier key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    pub name: String,
    pub alg: u8,
    pub public: [u8; 32],
    id: [u8; 4],
}

impl NoteVerifier {
    /// Parse `<name>+<hex id>+<base64(alg ‖ key)>` (alg 0x01 note key, 0x04 cosigner key).
    pub fn parse(vkey: &str) -> Result<NoteVerifier, NoteError> {
        let bad = || NoteError::Malformed(format!("verifier key {vkey:?}"));
        // Base64 may itself contain '+': split off the name and key id only.
        let mut parts = vkey.trim().splitn(3, '+');
        let (name, id_hex, material) =
            (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
        check_name(name)?;
        let material = STANDARD.decode(material).map_err(|_| bad())?;
        let (&alg, key) = material.split_first().ok_or_else(bad)?;
        let public: [u8; 32] = key.try_into().map_err(|_| bad())?;
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(bad());
        }
        let id = key_id(name, alg, &public);
        if hex(&id) != id_hex {
            return Err(bad());
        }
        Ok(NoteVerifier { name: name.to_owned(), alg, public, id })
    }

    fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public).verify(message, signature).is_ok()
    }
}

/// Split a note into its body (with final newline) and signature lines `(name, payload)`.
pub fn split_note(note: &str) -> Result<(&str, Vec<(&str, Vec<u8>)>), NoteError> {
    let at = note.find("\n\n").ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
    let (body, rest) = note.split_at(at + 1);
    let mut signatures = Vec::new();
    for line in rest[1..].lines().filter(|l| !l.is_empty()) {
        let line = line.strip_prefix("— ").ok_or_else(|| NoteError::Malformed(format!("signature line {line:?}")))?;
        let (name, b64) =
            line.split_once(' ').ok_or_else(|| NoteError::Malformed(format!("signature line {line:?}")))?;
        let payload =
            STANDARD.decode(b64).map_err(|_| NoteError::Malformed(format!("signature of {name} is not base64")))?;
        signatures.push((name, payload));
    }
    Ok((body, signatures))
}

/// Parse a checkpoint body: origin, decimal size, base64 root; extension lines are not accepted.
pub fn parse_checkpoint(body: &str) -> Result<Checkpoint, NoteError> {
    let lines: Vec<&str> = body.strip_suffix('\n').unwrap_or(body).split('\n').collect();
    if lines.len() != 3 {
        return Err(NoteError::Malformed(format!("expected 3 lines (origin, size, root), got {}", lines.len())));
    }
    let size = lines[1]
        .parse::<u64>()
        .ok()
        .filter(|_| lines[1] == "0" || !lines[1].starts_with('0'))
        .ok_or_else(|| NoteError::Malformed(format!("size {:?}", lines[1])))?;
    let root: Hash = STANDARD
        .decode(lines[2])
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| NoteError::Malformed(format!("root {:?}", lines[2])))?;
    if lines[0].is_empty() {
        return Err(NoteError::Malformed("empty origin".into()));
    }
    Ok(Checkpoint { origin: lines[0].to_owned(), size, root })
}

/// Verify a signed checkpoint note against a log's key; returns the checkpoint.
pub fn verify_checkpoint(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
    let (body, signatures) = split_note(note)?;
    let checkpoint = parse_checkpoint(body)?;
    let signed = signatures.iter().any(|(name, payload)| {
        *name == verifier.name
            && payload.len() == 4 + 64
            && payload[..4] == verifier.id
            && verifier.verify_raw(body.as_bytes(), &payload[4..])
    });
    if !signed {
        return Err(NoteError::NoSignature(verifier.name.clone()));
    }
    Ok(checkpoint)
}

/// Verify a `cosignature/v1` line's payload over `body`; returns its timestamp.
pub fn verify_cosignature(body: &str, payload: &[u8], verifier: &NoteVerifier) -> Result<u64, NoteError> {
    if payload.len() != 4 + 8 + 64 || payload[..4] != verifier.id {
        return Err(NoteError::NoSignature(verifier.name.clone()));
    }
    let timestamp = u64::from_be_bytes(payload[4..12].try_into().unwrap_or([0; 8]));
    let message = format!("cosignature/v1\ntime {timestamp}\n{body}");
    if !verifier.verify_raw(message.as_bytes(), &payload[12..]) {
        return Err(NoteError::NoSignature(verifier.name.clone()));
    }
    Ok(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint { origin: "ena.example/audit".into(), size: 42, root: [7; 32] }
    }

    #[test]
    fn signed_checkpoints_verify_and_tampering_fails() {
        let signer = NoteSigner::ephemeral("ena.example/audit").unwrap();
        let verifier = NoteVerifier::parse(&signer.verifier_key()).unwrap();
        let note = signer.sign_note(&checkpoint().body());
        assert!(note.starts_with("ena.example/audit\n42\nBwcH"));
        assert_eq!(verify_checkpoint(&note, &verifier).unwrap(), checkpoint());
        let forged = note.replacen("\n42\n", "\n43\n", 1);
        assert!(verify_checkpoint(&forged, &verifier).is_err());
        let other = NoteVerifier::parse(&NoteSigner::ephemeral("ena.example/audit").unwrap().verifier_key()).unwrap();
        assert!(verify_checkpoint(&note, &other).is_err());
    }

    #[test]
    fn verifier_keys_round_trip_and_reject_a_wrong_id() {
        let signer = NoteSigner::ephemeral("ena.example/audit").unwrap();
        let vkey = signer.verifier_key();
        let parsed = NoteVerifier::parse(&vkey).unwrap();
        assert_eq!((parsed.name.as_str(), parsed.alg, parsed.public), ("ena.example/audit", 1, signer.public_key()));
        let mut parts: Vec<&str> = vkey.split('+').collect();
        parts[1] = "00000000";
        assert!(NoteVerifier::parse(&parts.join("+")).is_err());
    }

    #[test]
    fn cosignatures_verify() {
        let witness = NoteSigner::ephemeral("witness.example/w1").unwrap();
        let verifier = NoteVerifier::parse(&witness.cosigner_key()).unwrap();
        let body = checkpoint().body();
        let line = witness.cosign(&body, 1_700_000_000);
        let (name, b64) = line.trim_end().strip_prefix("— ").unwrap().split_once(' ').unwrap();
        assert_eq!(name, "witness.example/w1");
        let payload = STANDARD.decode(b64).unwrap();
        assert_eq!(verify_cosignature(&body, &payload, &verifier).unwrap(), 1_700_000_000);
        assert!(verify_cosignature(&body.replace("42", "41"), &payload, &verifier).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let first = NoteSigner::load_or_create(&path, "ena.example/audit").unwrap();
        let again = NoteSigner::load_or_create(&path, "ena.example/audit").unwrap();
        assert_eq!(first.public_key(), again.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        for body in [
            "",
            "a\n1\n",
            "a\n01\nBwcH\n",
            "a\nx\nBwcH\n",
            "\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "a\n1\nshort\n",
        ] {
            assert!(parse_checkpoint(body).is_err(), "{body:?}");
        }
    }
}
