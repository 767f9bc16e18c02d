//! Identitet: login with e-ID at a known level of assurance. `testeid` is ena's built-in OpenID Connect
//! provider for tests and demos (TEST ONLY); `rp` is the relying party the portal logs people in with;
//! `session` keeps server-side sessions.

pub mod loa;
pub mod rp;
pub mod session;
pub mod signature;
pub mod testeid;

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

pub(crate) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
