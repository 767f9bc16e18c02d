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

/// HPKE exporter label of the key that encrypts a message's attachments (see [`crate::attachments`]).
const ATTACHMENTS_LABEL: &[u8] = b"ena attachments v1";

/// What sealing gives: the encapsulated key, the payload's ciphertext, and the message's attachment key
/// (exported from the same HPKE context, so only the recipient can derive it).
pub struct Sealed {
    pub enc: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub attachment_key: [u8; 32],
}

/// Encrypt `plaintext` to `recipient` (32-byte X25519 public key). The ciphertext is exactly HPKE's
/// single-shot seal (one context, sequence 0); the context also exports the attachment key.
pub fn seal(recipient: &[u8], message_id: &str, plaintext: &[u8]) -> Result<Sealed, SealError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(recipient).map_err(|_| SealError::BadKey)?;
    let (enc, mut ctx) =
        hpke::setup_sender::<Aead, Kdf, Kem>(&OpModeS::Base, &pk, INFO).map_err(|_| SealError::Seal)?;
    let ciphertext = ctx.seal(plaintext, message_id.as_bytes()).map_err(|_| SealError::Seal)?;
    let mut attachment_key = [0u8; 32];
    ctx.export(ATTACHMENTS_LABEL, &mut attachment_key).map_err(|_| SealError::Seal)?;
    Ok(Sealed { enc: enc.to_bytes().to_vec(), ciphertext, attachment_key })
}

fn receiver(key: &crate::keys::EncryptionKey, enc: &[u8]) -> Result<hpke::aead::AeadCtxR<Aead, Kdf, Kem>, SealError> {
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| SealError::BadEnc)?;
    hpke::setup_receiver::<Aead, Kdf, Kem>(&OpModeR::Base, &key.secret, &enc, INFO).map_err(|_| SealError::BadEnc)
}

/// Decrypt with this node's key: (plaintext, the message's attachment key).
pub fn open(
    key: &crate::keys::EncryptionKey,
    enc: &[u8],
    message_id: &str,
    ciphertext: &[u8],
) -> Result<(Vec<u8>, [u8; 32]), SealError> {
    let mut ctx = receiver(key, enc)?;
    let plaintext = ctx.open(ciphertext, message_id.as_bytes()).map_err(|_| SealError::Open)?;
    let mut attachment_key = [0u8; 32];
    ctx.export(ATTACHMENTS_LABEL, &mut attachment_key).map_err(|_| SealError::Open)?;
    Ok((plaintext, attachment_key))
}

/// The attachment key of a message already received (for reading its attachments later).
pub fn attachment_key(key: &crate::keys::EncryptionKey, enc: &[u8]) -> Result<[u8; 32], SealError> {
    let mut attachment_key = [0u8; 32];
    receiver(key, enc)?.export(ATTACHMENTS_LABEL, &mut attachment_key).map_err(|_| SealError::BadEnc)?;
    Ok(attachment_key)
}
