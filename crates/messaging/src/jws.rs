//! Compact JWS with EdDSA (Ed25519), written out here because it is small and the checks matter: the
//! header must say `alg` `EdDSA`, the expected `typ`, a `kid`, and no `crit`; the signature is verified
//! with the key of that `kid` from the signer's published JWK Set.

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::keys::SigningKey;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("header: {0}")]
    Header(String),
    #[error("no key {0:?} in the signer's published keys")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("payload: {0}")]
    Payload(String),
}

/// Sign `payload` as a compact JWS of type `typ`.
pub fn sign<T: Serialize>(key: &SigningKey, typ: &str, payload: &T) -> String {
    let header = json!({"alg": "EdDSA", "typ": typ, "kid": key.kid()});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap_or_default())
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A parsed, not yet verified JWS.
#[derive(Debug, Clone)]
pub struct Unverified {
    pub kid: String,
    input: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl Unverified {
    pub fn parse(token: &str, typ: &str) -> Result<Unverified, JwsError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JwsError::Malformed);
        };
        let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| JwsError::Malformed);
        let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| JwsError::Malformed)?;
        if header["alg"] != "EdDSA" {
            return Err(JwsError::Header(format!("alg must be EdDSA, not {}", header["alg"])));
        }
        if header["typ"] != typ {
            return Err(JwsError::Header(format!("typ must be {typ}, not {}", header["typ"])));
        }
        if header.get("crit").is_some() {
            return Err(JwsError::Header("crit is not understood".into()));
        }
        let kid = header["kid"].as_str().ok_or_else(|| JwsError::Header("kid missing".into()))?.to_owned();
        Ok(Unverified { kid, input: format!("{h}.{p}"), payload: decode(p)?, signature: decode(s)? })
    }

    /// Verify with the `kid`'s key in `jwks` (a JWK Set) and parse the payload.
    /// The claims as they stand, not verified: for showing what a token that came over an authenticated
    /// channel says, never for deciding on it.
    pub fn claims_unverified<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.payload).ok()
    }

    pub fn verify<T: DeserializeOwned>(&self, jwks: &Value) -> Result<T, JwsError> {
        let key = jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|k| k["kid"] == self.kid.as_str() && k["kty"] == "OKP" && k["crv"] == "Ed25519")
            .ok_or_else(|| JwsError::UnknownKey(self.kid.clone()))?;
        let x = key["x"].as_str().and_then(|x| URL_SAFE_NO_PAD.decode(x).ok()).ok_or(JwsError::Signature)?;
        UnparsedPublicKey::new(&ED25519, x)
            .verify(self.input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::Signature)?;
        serde_json::from_slice(&self.payload).map_err(|e| JwsError::Payload(e.to_string()))
    }
}
