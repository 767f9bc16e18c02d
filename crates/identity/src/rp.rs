//! The OpenID Connect relying party the portal logs people in with: authorization code flow with PKCE,
//! `state` and `nonce`; the ID token checked for signature (provider JWKS), issuer, audience, expiry,
//! nonce; `acr` mapped to a level of assurance; the person identified by a configurable claim and parsed.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use ena_core::PersonId;
use ena_keys::jose::{SigningKey, Unverified};
use serde_json::Value;

use crate::loa::{AcrMap, Loa, acr_uri};
use crate::testeid::{PERSONAL_NUMBER_CLAIM, encode};
use crate::{random_token, sha256_b64};

/// Clock skew tolerated on `exp`/`iat`, seconds.
const LEEWAY: i64 = 60;

/// A configured provider (`[[oidc_providers]]` in ena.toml).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Short id used in URLs (`/login/start?provider=…`).
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    /// With a secret the client authenticates with `client_secret_post`; without one, with
    /// `private_key_jwt` signed by the portal's key (published as `openid_relying_party` metadata in the
    /// federation).
    #[serde(default)]
    pub client_secret: String,
    /// Marked TEST ONLY in the login page.
    #[serde(default)]
    pub test_only: bool,
    /// For a provider found in the federation: its resolved `openid_provider` metadata. Its endpoints
    /// and its `jwks` are taken from there, never from web discovery (keys another party must trust are
    /// published by the federation). Not settable in ena.toml.
    #[serde(skip)]
    pub federation_metadata: Option<Value>,
}

/// Why a login failed; `field` names what was wrong (for the error page and the audit event).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct LoginError {
    pub field: &'static str,
    pub reason: String,
}

fn fail(field: &'static str, reason: impl Into<String>) -> LoginError {
    LoginError { field, reason: reason.into() }
}

/// A login in progress, kept server-side between the redirect and the callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub provider: String,
    pub return_to: String,
    pub min_loa: Loa,
}

/// A person who has logged in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedIn {
    pub person: PersonId,
    pub name: String,
    pub loa: Loa,
    pub provider: String,
}

#[derive(Clone, Debug)]
struct Discovered {
    authorization_endpoint: String,
    token_endpoint: String,
    end_session_endpoint: Option<String>,
    jwks: Value,
    fetched: i64,
}

pub struct RelyingParty {
    providers: Vec<ProviderConfig>,
    /// Providers the federation vouches for (`openid_provider` members), refreshed by the portal.
    federation: RwLock<Vec<ProviderConfig>>,
    /// The portal's client key for `private_key_jwt`.
    key: Option<SigningKey>,
    acr: AcrMap,
    claim: String,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Discovered>>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").field("providers", &self.providers.len()).finish_non_exhaustive()
    }
}

impl RelyingParty {
    pub fn new(providers: Vec<ProviderConfig>, acr: AcrMap, claim: Option<String>) -> RelyingParty {
        RelyingParty {
            providers,
            federation: RwLock::new(Vec::new()),
            key: None,
            acr,
            claim: claim.unwrap_or_else(|| PERSONAL_NUMBER_CLAIM.to_owned()),
            http: reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap_or_default(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Authenticate to providers without a client secret with `private_key_jwt` signed by `key`.
    pub fn with_key(mut self, key: SigningKey) -> RelyingParty {
        self.key = Some(key);
        self
    }

    /// The portal's client keys (public), for its `openid_relying_party` metadata.
    pub fn jwks(&self) -> Value {
        serde_json::json!({"keys": self.key.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>()})
    }

    /// Replace the providers the federation vouches for.
    pub fn set_federation_providers(&self, providers: Vec<ProviderConfig>) {
        *self.federation.write().expect("providers lock") = providers;
    }

    /// Every provider offered: configured ones first, then the federation's.
    pub fn providers(&self) -> Vec<ProviderConfig> {
        let federation = self.federation.read().expect("providers lock");
        self.providers
            .iter()
            .chain(federation.iter().filter(|f| self.providers.iter().all(|p| p.id != f.id)))
            .cloned()
            .collect()
    }

    fn provider(&self, id: &str) -> Result<ProviderConfig, LoginError> {
        self.providers().into_iter().find(|p| p.id == id).ok_or_else(|| fail("provider", format!("no provider {id:?}")))
    }

    /// The client authentication part of a token request: the secret, or a fresh client assertion.
    fn client_auth(&self, p: &ProviderConfig, token_endpoint: &str) -> Result<Vec<(&'static str, String)>, LoginError> {
        if !p.client_secret.is_empty() {
            return Ok(vec![("client_secret", p.client_secret.clone())]);
        }
        let key = self.key.as_ref().ok_or_else(|| fail("provider", "no client secret and no client key"))?;
        let now = ena_core::time::unix_now();
        let assertion = key.sign(
            "JWT",
            &serde_json::json!({"iss": p.client_id, "sub": p.client_id, "aud": token_endpoint,
                                "iat": now, "exp": now + 60, "jti": random_token(16)}),
        );
        Ok(vec![
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
            ("client_assertion", assertion),
        ])
    }

    /// Discovery and JWKS of a provider, cached for ten minutes.
    async fn discover(&self, p: &ProviderConfig) -> Result<Discovered, LoginError> {
        if let Some(d) = self.cache.lock().expect("cache").get(&p.id)
            && ena_core::time::unix_now() - d.fetched < 600
        {
            return Ok(d.clone());
        }
        let get = |url: String| async move {
            let r = self.http.get(&url).send().await.map_err(|e| fail("provider", format!("{url}: {e}")))?;
            r.error_for_status()
                .map_err(|e| fail("provider", format!("{url}: {e}")))?
                .json::<Value>()
                .await
                .map_err(|e| fail("provider", format!("{url}: {e}")))
        };
        let federated = p.federation_metadata.is_some();
        let doc = match &p.federation_metadata {
            Some(m) => m.clone(),
            None => get(format!("{}/.well-known/openid-configuration", p.issuer)).await?,
        };
        if doc["issuer"].as_str().map(|i| i.trim_end_matches('/')) != Some(p.issuer.as_str()) {
            return Err(fail("issuer", "the provider's metadata names another issuer"));
        }
        let field = |k: &str| {
            doc[k].as_str().map(str::to_owned).ok_or_else(|| {
                let from = if federated { "its federation metadata" } else { "discovery" };
                fail("provider", format!("{from} lacks {k}"))
            })
        };
        let jwks = if federated {
            doc.get("jwks").cloned().filter(|j| j["keys"].is_array()).ok_or_else(|| {
                fail(
                    "provider",
                    "its federation metadata publishes no jwks (a provider in the federation publishes its keys there)",
                )
            })?
        } else {
            get(field("jwks_uri")?).await?
        };
        let d = Discovered {
            authorization_endpoint: field("authorization_endpoint")?,
            token_endpoint: field("token_endpoint")?,
            end_session_endpoint: doc["end_session_endpoint"].as_str().map(str::to_owned),
            jwks,
            fetched: ena_core::time::unix_now(),
        };
        self.cache.lock().expect("cache").insert(p.id.clone(), d.clone());
        Ok(d)
    }

    /// Begin a login: the URL to send the browser to, and what to keep until the callback.
    pub async fn start(
        &self,
        provider: &str,
        redirect_uri: &str,
        min_loa: Loa,
        return_to: &str,
    ) -> Result<(String, Pending), LoginError> {
        let p = self.provider(provider)?;
        let d = self.discover(&p).await?;
        let pending = Pending {
            state: random_token(24),
            nonce: random_token(24),
            verifier: random_token(32),
            provider: p.id.clone(),
            return_to: return_to.to_owned(),
            min_loa,
        };
        let url = format!(
            "{}?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile&state={}&nonce={}&code_challenge={}&code_challenge_method=S256&acr_values={}",
            d.authorization_endpoint,
            encode(&p.client_id),
            encode(redirect_uri),
            pending.state,
            pending.nonce,
            sha256_b64(&pending.verifier),
            encode(&acr_uri(min_loa)),
        );
        Ok((url, pending))
    }

    /// Where to send the browser to end the session at the provider too (RP-initiated logout), if the
    /// provider supports it.
    ///
    /// The ID token is not sent as `id_token_hint`: it carries the person's identity number, and a URL
    /// ends up in browser history, proxy and provider logs. `client_id` identifies the client instead
    /// (RP-Initiated Logout 1.0 §2).
    pub async fn logout_url(&self, provider: &str, post_logout_redirect_uri: &str) -> Option<String> {
        let p = self.provider(provider).ok()?;
        let end = self.discover(&p).await.ok()?.end_session_endpoint?;
        Some(format!(
            "{end}?client_id={}&post_logout_redirect_uri={}",
            encode(&p.client_id),
            encode(post_logout_redirect_uri)
        ))
    }

    /// Finish a login at the callback: exchange the code, verify the ID token; returns who logged in and
    /// the ID token (kept for logout).
    pub async fn finish(
        &self,
        pending: &Pending,
        code: &str,
        redirect_uri: &str,
    ) -> Result<(LoggedIn, String), LoginError> {
        let p = self.provider(&pending.provider)?;
        let d = self.discover(&p).await?;
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
            ("client_id", p.client_id.clone()),
            ("code_verifier", pending.verifier.clone()),
        ];
        form.extend(self.client_auth(&p, &d.token_endpoint)?);
        let body = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
        let response = self
            .http
            .post(&d.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| fail("provider", e.to_string()))?;
        let status = response.status();
        let tokens: Value = response.json().await.map_err(|e| fail("provider", e.to_string()))?;
        if !status.is_success() {
            return Err(fail(
                "code",
                format!("the provider refused the code: {} {}", tokens["error"], tokens["error_description"]),
            ));
        }
        let id_token =
            tokens["id_token"].as_str().ok_or_else(|| fail("id_token", "missing from the token response"))?;
        let logged = self.verify_id_token(id_token, &p, &d.jwks, &pending.nonce, ena_core::time::unix_now())?;
        if logged.loa < pending.min_loa {
            return Err(fail("acr", format!("{} is below the {} this login asked for", logged.loa, pending.min_loa)));
        }
        Ok((logged, id_token.to_owned()))
    }

    /// Check an ID token against the provider's configuration and keys.
    pub fn verify_id_token(
        &self,
        token: &str,
        p: &ProviderConfig,
        jwks: &Value,
        nonce: &str,
        now: i64,
    ) -> Result<LoggedIn, LoginError> {
        let t = Unverified::parse(token).map_err(|e| fail("id_token", e.to_string()))?;
        t.verify(jwks).map_err(|e| fail("signature", e.to_string()))?;
        let c = &t.payload;
        if c.get("iss").and_then(Value::as_str) != Some(p.issuer.as_str()) {
            return Err(fail(
                "iss",
                format!("{} is not the provider {}", c.get("iss").unwrap_or(&Value::Null), p.issuer),
            ));
        }
        let aud_ok = match c.get("aud") {
            Some(Value::String(a)) => a == &p.client_id,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(p.client_id.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(fail("aud", "the token is not for this client"));
        }
        let exp = c.get("exp").and_then(Value::as_i64).ok_or_else(|| fail("exp", "missing"))?;
        if exp + LEEWAY < now {
            return Err(fail("exp", "the token has expired"));
        }
        if c.get("iat").and_then(Value::as_i64).is_some_and(|iat| iat > now + LEEWAY) {
            return Err(fail("iat", "issued in the future"));
        }
        if c.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(fail("nonce", "does not match this login (replayed or foreign token)"));
        }
        let acr = c.get("acr").and_then(Value::as_str).unwrap_or_default();
        let loa = self.acr.level(acr).ok_or_else(|| fail("acr", format!("{acr:?} maps to no level of assurance")))?;
        let raw = c
            .get(&self.claim)
            .and_then(Value::as_str)
            .ok_or_else(|| fail("personal number", format!("the token lacks {}", self.claim)))?;
        let person = PersonId::parse(raw).map_err(|e| fail("personal number", e.to_string()))?;
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok(LoggedIn { person, name, loa, provider: p.id.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ena_keys::jose::SigningKey;
    use serde_json::json;

    #[test]
    fn tampered_id_tokens_are_refused_naming_what_is_wrong() {
        let key = SigningKey::generate().unwrap();
        let jwks = json!({"keys": [key.public_jwk()]});
        let p = ProviderConfig {
            id: "t".into(),
            name: "T".into(),
            issuer: "https://op.example".into(),
            client_id: "rp".into(),
            client_secret: "s".into(),
            test_only: true,
            federation_metadata: None,
        };
        let rp = RelyingParty::new(vec![p.clone()], AcrMap::default(), None);
        let now = 1_800_000_000;
        let base = json!({"iss": "https://op.example", "aud": "rp", "exp": now + 300, "iat": now, "nonce": "n1",
            "acr": acr_uri(Loa(3)), PERSONAL_NUMBER_CLAIM: "191212121212", "name": "Tolvan Tolvansson"});
        let token = |changes: Value| {
            let mut c = base.clone();
            for (k, v) in changes.as_object().unwrap() {
                c[k] = v.clone();
            }
            key.sign("JWT", &c)
        };
        let ok = rp.verify_id_token(&token(json!({})), &p, &jwks, "n1", now).unwrap();
        assert_eq!((ok.person.as_str(), ok.loa), ("191212121212", Loa(3)));
        let field = |t: String, nonce: &str| rp.verify_id_token(&t, &p, &jwks, nonce, now).unwrap_err().field;
        assert_eq!(field(token(json!({"iss": "https://evil.example"})), "n1"), "iss");
        assert_eq!(field(token(json!({"aud": "other"})), "n1"), "aud");
        assert_eq!(field(token(json!({"exp": now - 3600})), "n1"), "exp");
        assert_eq!(field(token(json!({})), "other-nonce"), "nonce");
        assert_eq!(field(token(json!({"acr": "urn:unknown"})), "n1"), "acr");
        assert_eq!(field(token(json!({PERSONAL_NUMBER_CLAIM: "191212121213"})), "n1"), "personal number");
        let forged = SigningKey::generate().unwrap();
        let mut jwk = forged.public_jwk().clone();
        jwk["kid"] = json!(key.kid());
        assert_eq!(
            rp.verify_id_token(&token(json!({})), &p, &json!({"keys": [jwk]}), "n1", now).unwrap_err().field,
            "signature"
        );
    }
}
