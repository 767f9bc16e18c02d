//! Identitet: login with e-ID at a known level of assurance. `testeid` is ena's built-in OpenID Connect
//! provider for tests and demos (TEST ONLY); `rp` is the relying party the portal logs people in with;
//! `session` keeps server-side sessions; `signature` is the signature service; `token` issues and checks
//! identity-bound API tokens; `employee` registers and verifies employee credentials.

pub mod employee;
pub mod loa;
pub mod repo;
pub mod rp;
pub mod session;
pub mod signature;
pub mod testeid;
pub mod token;

/// Why an identity operation refused: an OAuth-style error code (`invalid_request`, `invalid_client`,
/// `invalid_grant`, `invalid_target`, `unsupported_grant_type`, `invalid_token`, `not_found`,
/// `forbidden`, `conflict`), the field at fault and the reason in words. The HTTP edge maps `error` to a
/// status and a problem code, and keeps `error`/`error_description` for OAuth clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Refusal {
    pub error: &'static str,
    pub field: &'static str,
    pub reason: String,
}

pub(crate) fn refuse(error: &'static str, field: &'static str, reason: impl Into<String>) -> Refusal {
    Refusal { error, field, reason: reason.into() }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Refusal {
        refuse("server_error", "database", e.to_string())
    }
}

/// Random URL-safe text of `bytes` random bytes (state, nonce, codes, session ids).
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut b = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut b).expect("system randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// base64url SHA-256 of `text` (PKCE S256, stored session ids).
pub fn sha256_b64(text: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(text.as_bytes()))
}

/// What the identity block publishes through the trust anchor's signed entity configuration, so
/// verifiers and providers find its keys there: the signature service, the portal as a relying party of
/// the federation's OpenID providers (private_key_jwt with these keys), and the token service.
pub fn published_metadata(
    base: &str,
    signatures: &signature::SignatureService,
    portal: &rp::RelyingParty,
    token_key: &ena_keys::jose::SigningKey,
) -> serde_json::Value {
    let mut token_service = token::metadata(base);
    token_service["jwks"] = token::jwks(token_key);
    serde_json::json!({
        "ena_signature_service": {
            "jwks": signatures.jwks(),
            "signature_verification_endpoint": format!("{base}/signatures/v1/verify"),
        },
        "openid_relying_party": {
            "client_name": "ena",
            "redirect_uris": [format!("{base}/login/callback")],
            "response_types": ["code"],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks": portal.jwks(),
        },
        "oauth_authorization_server": token_service,
    })
}
