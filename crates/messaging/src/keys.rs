//! A node's message keys: Ed25519 for signing envelopes and receipts, X25519 for receiving end-to-end
//! encrypted payloads. Both live in the node's data directory (0600), created on first start; the key ids
//! are RFC 7638 JWK thumbprints, so anyone can recompute them from the published keys.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ena_keys::files::write_private;
use hpke::{Deserializable, Kem as _, Serializable};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::seal::Kem;

pub const SIGNING_FILE: &str = "message-signing.key";
pub const ENCRYPTION_FILE: &str = "message-encryption.key";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {reason}")]
    Bad { path: String, reason: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The signing key: Ed25519, `EdDSA` in JWS.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish()
    }
}

impl SigningKey {
    pub fn generate() -> SigningKey {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("system randomness");
        SigningKey::from_pkcs8(doc.as_ref()).expect("a fresh key parses")
    }

    pub fn from_pkcs8(der: &[u8]) -> Option<SigningKey> {
        let pair = Ed25519KeyPair::from_pkcs8(der).ok()?;
        let kid = okp_thumbprint("Ed25519", pair.public_key().as_ref());
        Some(SigningKey { pair, kid })
    }

    /// Load from `dir`, creating the key on first use.
    pub fn load_or_create(dir: &Path) -> Result<SigningKey, KeyError> {
        let path = dir.join(SIGNING_FILE);
        if !path.exists() {
            let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| KeyError::Bad { path: path.display().to_string(), reason: "no randomness".into() })?;
            write_private(&path, doc.as_ref())?;
        }
        let der = std::fs::read(&path)?;
        SigningKey::from_pkcs8(&der).ok_or_else(|| KeyError::Bad {
            path: path.display().to_string(),
            reason: "not an Ed25519 PKCS#8 key".into(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    /// The public key as a JWK (`OKP`, `Ed25519`, `alg` `EdDSA`, `use` `sig`).
    pub fn public_jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref()),
               "kid": self.kid, "alg": "EdDSA", "use": "sig"})
    }
}

/// The encryption key: X25519 for HPKE.
#[derive(Clone)]
pub struct EncryptionKey {
    pub(crate) secret: <Kem as hpke::Kem>::PrivateKey,
    public: <Kem as hpke::Kem>::PublicKey,
    kid: String,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKey").field("kid", &self.kid).finish()
    }
}

impl EncryptionKey {
    pub fn generate() -> EncryptionKey {
        let (secret, public) = Kem::gen_keypair();
        EncryptionKey::from_parts(secret, public)
    }

    fn from_parts(secret: <Kem as hpke::Kem>::PrivateKey, public: <Kem as hpke::Kem>::PublicKey) -> EncryptionKey {
        let kid = okp_thumbprint("X25519", &public.to_bytes());
        EncryptionKey { secret, public, kid }
    }

    /// Load from `dir`, creating the key on first use (32 raw bytes).
    pub fn load_or_create(dir: &Path) -> Result<EncryptionKey, KeyError> {
        let path = dir.join(ENCRYPTION_FILE);
        if !path.exists() {
            let (secret, _) = Kem::gen_keypair();
            write_private(&path, &secret.to_bytes())?;
        }
        let bytes = std::fs::read(&path)?;
        let secret = <Kem as hpke::Kem>::PrivateKey::from_bytes(&bytes)
            .map_err(|_| KeyError::Bad { path: path.display().to_string(), reason: "not an X25519 key".into() })?;
        let public = Kem::sk_to_pk(&secret);
        Ok(EncryptionKey::from_parts(secret, public))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_bytes(&self) -> Vec<u8> {
        self.public.to_bytes().to_vec()
    }

    /// The public key as a JWK (`OKP`, `X25519`, `use` `enc`) — the form addresses publish.
    pub fn public_jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "X25519", "x": URL_SAFE_NO_PAD.encode(self.public_bytes()), "kid": self.kid})
    }
}

/// RFC 7638 thumbprint of an OKP key: SHA-256 over `{"crv":…,"kty":"OKP","x":…}`, base64url.
pub fn okp_thumbprint(crv: &str, public: &[u8]) -> String {
    let canonical = format!(r#"{{"crv":"{crv}","kty":"OKP","x":"{}"}}"#, URL_SAFE_NO_PAD.encode(public));
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}
