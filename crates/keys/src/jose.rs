//! Compact JWS for federation statements: our signing keys (ES256 on aws-lc-rs), JWKs and JWK Sets,
//! and verification of tokens signed by anyone whose JWKS we trust.
//!
//! The header is parsed by us, not by `jsonwebtoken`, because the checks OpenID Federation requires
//! (`typ`, `kid`, `crit`) are header fields that library does not all expose; it is used for the
//! signature primitives only.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Longest token we parse (a resolve response with a long chain is a few tens of KiB).
pub const MAX_TOKEN_BYTES: usize = 256 * 1024;

/// Why a token was refused. `field` names the part of the token at fault.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{field}: {reason}")]
pub struct JoseError {
    pub field: &'static str,
    pub reason: String,
}

pub fn err(field: &'static str, reason: impl Into<String>) -> JoseError {
    JoseError { field, reason: reason.into() }
}

/// Algorithms we accept from others. No `none`, no HMAC: a federation key is always asymmetric.
const ACCEPTED: &[&str] = &["ES256", "ES384", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];

/// One of our signing keys (ES256).
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public: Value,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<SigningKey, JoseError> {
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| err("key", "could not generate a P-256 key"))?;
        SigningKey::from_pkcs8(doc.as_ref())
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, JoseError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| err("key", "not a PKCS#8 P-256 private key"))?;
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 4 {
            return Err(err("key", "unexpected public key encoding"));
        }
        let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
        let kid = thumbprint(&json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}))?;
        let public = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"});
        Ok(SigningKey { kid, encoding: EncodingKey::from_ec_der(pkcs8), public, pkcs8: pkcs8.to_vec() })
    }

    /// Load the key at `path`, or create it (mode 0600) if the file does not exist.
    pub fn load_or_create(path: &Path) -> std::io::Result<SigningKey> {
        let invalid =
            |e: JoseError| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()));
        match std::fs::read(path) {
            Ok(bytes) => SigningKey::from_pkcs8(&bytes).map_err(invalid),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::generate().map_err(invalid)?;
                crate::files::write_private(path, &key.pkcs8)?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK (with `kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> &Value {
        &self.public
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// A compact JWS over `claims` with header `{alg: ES256, kid, typ}`.
    pub fn sign(&self, typ: &str, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "kid": self.kid, "typ": typ});
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = self.sign_input(&input);
        format!("{input}.{signature}")
    }

    /// The base64url ES256 signature of a JWS signing input (`header.payload`, both already encoded),
    /// for JWS shapes other than a JWT (e.g. a detached payload).
    pub fn sign_input(&self, input: &str) -> String {
        // Signing with a well-formed key of our own cannot fail short of a broken crypto provider.
        jsonwebtoken::crypto::sign(input.as_bytes(), &self.encoding, Algorithm::ES256)
            .expect("ES256 signing with a valid P-256 key")
    }
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of a public JWK.
pub fn thumbprint(jwk: &Value) -> Result<String, JoseError> {
    let member = |name: &str| {
        jwk.get(name).and_then(Value::as_str).ok_or_else(|| err("jwks", format!("a key lacks its `{name}` member")))
    };
    let canonical = match member("kty")? {
        "EC" => format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, member("crv")?, member("x")?, member("y")?),
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, member("e")?, member("n")?),
        "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, member("crv")?, member("x")?),
        other => return Err(err("jwks", format!("key type {other} is not accepted (use EC, RSA or OKP)"))),
    };
    Ok(B64.encode(Sha256::digest(canonical.as_bytes())))
}

/// A token split into its parts, header and payload parsed, signature not yet checked.
#[derive(Debug, Clone)]
pub struct Unverified {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    signing_input: String,
    signature: String,
}

impl Unverified {
    /// Parse a compact JWS. Checks the shape, `alg` (no `none`/HMAC), a `kid`, and `crit` (we understand no
    /// header extensions, so any `crit` is refused as RFC 7515 §4.1.11 requires).
    pub fn parse(token: &str) -> Result<Unverified, JoseError> {
        Unverified::parse_with(token, true)
    }

    /// Like [`Unverified::parse`] for a JWS whose payload is not a JSON object (e.g. a digest); `payload`
    /// is then empty.
    pub fn parse_any(token: &str) -> Result<Unverified, JoseError> {
        Unverified::parse_with(token, false)
    }

    fn parse_with(token: &str, json_payload: bool) -> Result<Unverified, JoseError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(err("jwt", format!("longer than {MAX_TOKEN_BYTES} bytes")));
        }
        let parts: Vec<&str> = token.trim().split('.').collect();
        let [h, p, s] = parts[..] else {
            return Err(err("jwt", format!("a compact JWS has 3 dot-separated parts, this has {}", parts.len())));
        };
        let object = |part: &str, field: &'static str| -> Result<Map<String, Value>, JoseError> {
            let bytes = B64.decode(part).map_err(|e| err(field, format!("not base64url: {e}")))?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err(err(field, "not a JSON object")),
                Err(e) => Err(err(field, format!("not JSON: {e}"))),
            }
        };
        let header = object(h, "header")?;
        let payload = if json_payload { object(p, "payload")? } else { Map::new() };
        let alg = header.get("alg").and_then(Value::as_str).ok_or_else(|| err("header.alg", "missing"))?;
        if !ACCEPTED.contains(&alg) {
            return Err(err("header.alg", format!("{alg} is not accepted (asymmetric algorithms only)")));
        }
        if header.get("kid").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(err("header.kid", "missing; federation tokens must name their key"));
        }
        if let Some(crit) = header.get("crit") {
            return Err(err("header.crit", format!("extensions {crit} are not understood")));
        }
        Ok(Unverified { header, payload, signing_input: format!("{h}.{p}"), signature: s.to_owned() })
    }

    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    pub fn kid(&self) -> &str {
        self.header.get("kid").and_then(Value::as_str).unwrap_or_default()
    }

    /// Require `typ` to be `expected` (e.g. `entity-statement+jwt`).
    pub fn expect_typ(&self, expected: &str) -> Result<(), JoseError> {
        match self.typ() {
            Some(t) if t.eq_ignore_ascii_case(expected) => Ok(()),
            Some(t) => Err(err("header.typ", format!("is {t}, expected {expected}"))),
            None => Err(err("header.typ", format!("missing, expected {expected}"))),
        }
    }

    /// Check the signature with the key named by `kid` in `jwks` (a JWK Set object `{"keys": [...]}`).
    pub fn verify(&self, jwks: &Value) -> Result<(), JoseError> {
        let alg_name = self.header.get("alg").and_then(Value::as_str).unwrap_or_default();
        let alg: Algorithm = alg_name.parse().map_err(|_| err("header.alg", format!("{alg_name} is unknown")))?;
        let kid = self.kid();
        let key = jwks
            .get("keys")
            .and_then(Value::as_array)
            .and_then(|keys| keys.iter().find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)))
            .ok_or_else(|| err("header.kid", format!("no key {kid} in the issuer's JWKS")))?;
        let jwk: Jwk = serde_json::from_value(key.clone()).map_err(|e| err("jwks", format!("key {kid}: {e}")))?;
        let kty = key.get("kty").and_then(Value::as_str).unwrap_or_default();
        let family_ok = matches!(
            (kty, alg_name),
            ("EC", "ES256" | "ES384")
                | ("OKP", "EdDSA")
                | ("RSA", "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512")
        );
        if !family_ok {
            return Err(err("header.alg", format!("{alg_name} does not fit key {kid} of type {kty}")));
        }
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| err("jwks", format!("key {kid}: {e}")))?;
        match jsonwebtoken::crypto::verify(&self.signature, self.signing_input.as_bytes(), &decoding, alg) {
            Ok(true) => Ok(()),
            Ok(false) => Err(err("signature", format!("does not verify with key {kid}"))),
            Err(e) => Err(err("signature", format!("cannot be checked with key {kid}: {e}"))),
        }
    }
}

/// Validate a JWK Set a member supplies: an object with 1..=`max` public keys, each with a `kid`, of an
/// accepted type, with no private parts.
pub fn check_public_jwks(jwks: &Value, max: usize) -> Result<(), JoseError> {
    let keys = jwks.get("keys").and_then(Value::as_array).ok_or_else(|| err("jwks", "must be {\"keys\": [...]}"))?;
    if keys.is_empty() || keys.len() > max {
        return Err(err("jwks", format!("must hold 1 to {max} keys, holds {}", keys.len())));
    }
    for key in keys {
        if key.get("kid").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(err("jwks", "every key needs a kid"));
        }
        thumbprint(key)?;
        if ["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|m| key.get(*m).is_some()) {
            return Err(err("jwks", "contains private key material; send public keys only"));
        }
        serde_json::from_value::<Jwk>(key.clone()).map_err(|e| err("jwks", format!("unreadable key: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_refuses_what_it_must() {
        let key = SigningKey::generate().unwrap();
        let jwks = json!({"keys": [key.public_jwk()]});
        let token = key.sign("entity-statement+jwt", &json!({"iss": "https://a.example", "sub": "https://a.example"}));
        let parsed = Unverified::parse(&token).unwrap();
        parsed.expect_typ("entity-statement+jwt").unwrap();
        parsed.verify(&jwks).unwrap();
        assert_eq!(parsed.payload["iss"], "https://a.example");
        assert_eq!(parsed.expect_typ("trust-mark+jwt").unwrap_err().field, "header.typ");

        // Another key with the same kid does not verify it.
        let other = SigningKey::generate().unwrap();
        let mut forged = other.public_jwk().clone();
        forged["kid"] = json!(key.kid());
        assert_eq!(parsed.verify(&json!({"keys": [forged]})).unwrap_err().field, "signature");
        // A flipped payload does not verify.
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], B64.encode(r#"{"iss":"https://evil.example"}"#), parts[2]);
        assert_eq!(Unverified::parse(&tampered).unwrap().verify(&jwks).unwrap_err().field, "signature");

        let header = |h: Value| format!("{}.{}.{}", B64.encode(h.to_string()), parts[1], parts[2]);
        let field = |t: &str| Unverified::parse(t).unwrap_err().field;
        assert_eq!(field(&header(json!({"alg": "none", "kid": "k"}))), "header.alg");
        assert_eq!(field(&header(json!({"alg": "HS256", "kid": "k"}))), "header.alg");
        assert_eq!(field(&header(json!({"alg": "ES256"}))), "header.kid");
        assert_eq!(field(&header(json!({"alg": "ES256", "kid": "k", "crit": ["exp"], "exp": 1}))), "header.crit");
        assert_eq!(field("a.b"), "jwt");
        assert_eq!(field("!!.e30.sig"), "header");
        assert_eq!(field(&format!("{}.W10.sig", B64.encode(r#"{"alg":"ES256","kid":"k"}"#))), "payload");
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // The RSA key of RFC 7638 §3.1 and its published thumbprint.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn member_jwks_are_checked() {
        let key = SigningKey::generate().unwrap();
        check_public_jwks(&json!({"keys": [key.public_jwk()]}), 10).unwrap();
        assert!(check_public_jwks(&json!({"keys": []}), 10).is_err());
        assert!(check_public_jwks(&json!([]), 10).is_err());
        let mut private = key.public_jwk().clone();
        private["d"] = json!("secret");
        assert!(check_public_jwks(&json!({"keys": [private]}), 10).unwrap_err().reason.contains("private"));
        let many: Vec<Value> = (0..11).map(|_| key.public_jwk().clone()).collect();
        assert!(check_public_jwks(&json!({"keys": many}), 10).is_err());
        assert!(check_public_jwks(&json!({"keys": [{"kty": "oct", "k": "AA", "kid": "x"}]}), 10).is_err());
    }
}
