//! End-to-end payload encryption: HPKE (RFC 9180) base mode with one pinned suite —
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305. The message id is the associated data, so
//! a ciphertext cannot be moved under another envelope.

use hpke::{Deserializable, OpModeR, OpModeS, Serializable};

pub type Kem = hpke::kem::X25519HkdfSha256;
pub type Kdf = hpke::kdf::HkdfSha256;
pub type Aead = hpke::aead::ChaCha20Poly1305;

/// The suite's name in envelopes (and in the address registry).
pub const SUITE: &str = ena_addresses::HPKE_SUITE;
/// HPKE `info`: binds the keys to this protocol and version.
const INFO: &[u8] = b"ena message v1";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the recipient key is not an X25519 public key")]
    BadKey,
    #[error("the encapsulated key is malformed")]
    BadEnc,
    #[error("the ciphertext does not open with this node's key (wrong key, or altered)")]
    Open,
    #[error("encryption failed")]
    Seal,
}

/// Encrypt `plaintext` to `recipient` (32-byte X25519 public key): (encapsulated key, ciphertext).
pub fn seal(recipient: &[u8], message_id: &str, plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SealError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(recipient).map_err(|_| SealError::BadKey)?;
    let (enc, ct) =
        hpke::single_shot_seal::<Aead, Kdf, Kem>(&OpModeS::Base, &pk, INFO, plaintext, message_id.as_bytes())
            .map_err(|_| SealError::Seal)?;
    Ok((enc.to_bytes().to_vec(), ct))
}

/// Decrypt with this node's key.
pub fn open(
    key: &crate::keys::EncryptionKey,
    enc: &[u8],
    message_id: &str,
    ciphertext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| SealError::BadEnc)?;
    hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &key.secret, &enc, INFO, ciphertext, message_id.as_bytes())
        .map_err(|_| SealError::Open)
}
