//! The envelope: what a message is (id, sender, recipient, type, conversation, case, times, the
//! encrypted payload's digest and how it is encrypted), signed by the sender node. The payload travels
//! beside it, encrypted to the recipient; the envelope binds it by SHA-256, the ciphertext binds the
//! envelope by its id (HPKE associated data).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::jws::{self, JwsError, Unverified};
use crate::keys::SigningKey;

/// The JWS `typ` of envelopes.
pub const ENVELOPE_TYP: &str = "ena-envelope+jws";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    /// UUIDv7, chosen by the sender; the recipient drops a second delivery of the same id.
    pub id: String,
    /// The sending organisation's address.
    pub sender: String,
    /// The sending node's federation entity id (its signing keys are in its federation metadata).
    pub sender_node: String,
    pub recipient: String,
    pub recipient_node: String,
    pub message_type: String,
    pub version: String,
    pub conversation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339; not delivered after this.
    pub expires: String,
    pub encryption: Encryption,
    /// base64url SHA-256 of the ciphertext.
    pub ciphertext_sha256: String,
    pub ciphertext_length: u64,
    /// Files sent with the message, each encrypted and delivered beside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::attachments::Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// Always [`crate::seal::SUITE`].
    pub suite: String,
    /// The recipient key used (its JWK thumbprint, as in the address registry).
    pub kid: String,
    /// The HPKE encapsulated key, base64url.
    pub enc: String,
}

pub fn sha256_b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

impl Envelope {
    pub fn sign(&self, key: &SigningKey) -> String {
        jws::sign(key, ENVELOPE_TYP, self)
    }

    /// Verify a signed envelope with the sender node's JWK Set.
    pub fn verify(token: &str, sender_jwks: &serde_json::Value) -> Result<Envelope, JwsError> {
        Unverified::parse(token, ENVELOPE_TYP)?.verify(sender_jwks)
    }

    /// Read the claimed sender node without verifying (to know whose keys to fetch).
    pub fn peek(token: &str) -> Result<Envelope, JwsError> {
        let payload = token.split('.').nth(1).ok_or(JwsError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| JwsError::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|e| JwsError::Payload(e.to_string()))
    }
}
