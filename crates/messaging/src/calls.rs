//! Synchronous calls through two nodes (X-Road style): the **request hash** both nodes compute over what
//! the consumer asked (SHA-512 over method, path and query, content type, the consumer's address and the
//! body), and the producer node's signed **response proof** binding the response to that request — so a
//! consumer can show which answer it got to which question, and a producer what it was asked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};

use crate::jws::{self, JwsError, Unverified};
use crate::keys::SigningKey;

pub const PROOF_TYP: &str = "ena-call-response+jws";

/// base64url SHA-512 of the request as both nodes see it. `path` is the path below the service (with
/// its query string), e.g. `/inkomster/201401012383?ar=2026`.
pub fn request_hash(method: &str, path: &str, content_type: &str, consumer: &str, body: &[u8]) -> String {
    let mut h = Sha512::new();
    for part in [method.to_ascii_uppercase().as_bytes(), path.as_bytes(), content_type.as_bytes(), consumer.as_bytes()]
    {
        h.update(part);
        h.update(b"\n");
    }
    h.update(b"\n");
    h.update(body);
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// base64url SHA-512 of a response: status, content type and body.
pub fn response_hash(status: u16, content_type: &str, body: &[u8]) -> String {
    let mut h = Sha512::new();
    h.update(status.to_string().as_bytes());
    h.update(b"\n");
    h.update(content_type.as_bytes());
    h.update(b"\n\n");
    h.update(body);
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// What the producer node signs about one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallProof {
    pub call_id: String,
    pub service: String,
    pub consumer: String,
    pub consumer_node: String,
    pub producer_node: String,
    pub request_sha512: String,
    pub response_sha512: String,
    pub status: u16,
    /// RFC 3339.
    pub at: String,
}

impl CallProof {
    pub fn sign(&self, key: &SigningKey) -> String {
        jws::sign(key, PROOF_TYP, self)
    }

    pub fn verify(token: &str, producer_jwks: &serde_json::Value) -> Result<CallProof, JwsError> {
        Unverified::parse(token, PROOF_TYP)?.verify(producer_jwks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_the_request_changes_the_hash() {
        let base = request_hash("GET", "/a?x=1", "application/json", "162120000142", b"{}");
        assert_eq!(base, request_hash("get", "/a?x=1", "application/json", "162120000142", b"{}"));
        for other in [
            request_hash("POST", "/a?x=1", "application/json", "162120000142", b"{}"),
            request_hash("GET", "/a?x=2", "application/json", "162120000142", b"{}"),
            request_hash("GET", "/a?x=1", "text/plain", "162120000142", b"{}"),
            request_hash("GET", "/a?x=1", "application/json", "162021005448", b"{}"),
            request_hash("GET", "/a?x=1", "application/json", "162120000142", b"{ }"),
            // A separator moved between parts is a different request.
            request_hash("GET", "/a?x=1\napplication/json", "", "162120000142", b"{}"),
        ] {
            assert_ne!(base, other);
        }
        assert_eq!(URL_SAFE_NO_PAD.decode(&base).unwrap().len(), 64);
    }

    #[test]
    fn a_proof_verifies_only_with_the_producer_key_and_unchanged() {
        let key = SigningKey::generate();
        let proof = CallProof {
            call_id: "c".into(),
            service: "inkomster".into(),
            consumer: "162120000142".into(),
            consumer_node: "https://kommun.localhost".into(),
            producer_node: "https://skatteverket.localhost".into(),
            request_sha512: request_hash("GET", "/", "", "162120000142", b""),
            response_sha512: response_hash(200, "application/json", b"{}"),
            status: 200,
            at: "2026-11-29T10:00:00Z".into(),
        };
        let token = proof.sign(&key);
        let jwks = serde_json::json!({"keys": [key.public_jwk()]});
        assert_eq!(CallProof::verify(&token, &jwks).unwrap(), proof);
        let other = serde_json::json!({"keys": [SigningKey::generate().public_jwk()]});
        assert!(CallProof::verify(&token, &other).is_err());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&CallProof { status: 500, ..proof }).unwrap());
        parts[1] = &forged;
        assert!(CallProof::verify(&parts.join("."), &jwks).is_err());
    }
}
