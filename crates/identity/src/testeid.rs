//! ena's built-in test eID provider: a real OpenID Connect provider (authorization code flow with PKCE
//! S256, ES256 ID tokens, userinfo) whose login page lets a tester pick a made-up person. TEST ONLY —
//! every page says so, and production mode refuses to enable it.
//!
//! Codes and access tokens live in memory (a test provider needs no durability); a code works once.

use ena_audit::AuditSink;
use std::collections::HashMap;
use std::sync::Mutex;

use ena_keys::jose::SigningKey;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::loa::{Loa, acr_uri};
use crate::{random_token, sha256_b64};

/// The claim carrying the Swedish personal identity number (as Sweden Connect's OIDC profile names it).
pub const PERSONAL_NUMBER_CLAIM: &str = "https://id.oidc.se/claim/personalIdentityNumber";
pub const TEST_PERSONS: &str = include_str!("../../../data/identity/test-persons.toml");
/// How long a code and an ID token live.
const CODE_SECS: i64 = 60;
const TOKEN_SECS: i64 = 300;

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct TestPerson {
    pub personal_number: String,
    pub given_name: String,
    pub family_name: String,
    pub loa: u8,
}

#[derive(Debug, Deserialize)]
struct PersonsFile {
    persons: Vec<TestPerson>,
}

/// A client registered with the provider: the portal, those in ena.toml, and those the operator
/// registers (`identity_test_clients`). Only the secret's SHA-256 is kept; redirect URIs match exactly.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestClient {
    pub client_id: String,
    /// base64url SHA-256 of the client secret.
    pub client_secret_sha256: String,
    pub redirect_uris: Vec<String>,
}

impl TestClient {
    fn secret_matches(&self, presented: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            sha256_b64(presented).as_bytes(),
            self.client_secret_sha256.as_bytes(),
        )
        .is_ok()
    }
}

impl From<crate::repo::TestClientRow> for TestClient {
    fn from(r: crate::repo::TestClientRow) -> TestClient {
        TestClient {
            client_id: r.client_id,
            client_secret_sha256: r.secret_sha256,
            redirect_uris: serde_json::from_str(&r.redirect_uris).unwrap_or_default(),
        }
    }
}

/// An OAuth error to return as `{error, error_description}` (token endpoint) or in a redirect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

fn oauth(error: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError { error, description: description.into() }
}

/// A checked authorization request, waiting for the tester to pick a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub nonce: String,
    pub code_challenge: String,
    /// The lowest level the client asked for (`acr_values`), if any.
    pub min_loa: Option<Loa>,
}

#[derive(Clone, Debug)]
struct Grant {
    request: AuthRequest,
    person: TestPerson,
    expires: i64,
}

pub struct TestProvider {
    issuer: String,
    key: SigningKey,
    persons: Vec<TestPerson>,
    clients: Vec<TestClient>,
    codes: Mutex<HashMap<String, Grant>>,
    access: Mutex<HashMap<String, (TestPerson, i64)>>,
}

impl std::fmt::Debug for TestProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestProvider").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl TestProvider {
    /// A provider at `issuer` (e.g. `http://127.0.0.1:8080/test-eid`) with the shipped test persons.
    pub fn new(issuer: &str, clients: Vec<TestClient>) -> Result<TestProvider, String> {
        let file: PersonsFile = toml::from_str(TEST_PERSONS).map_err(|e| format!("test persons: {e}"))?;
        for p in &file.persons {
            ena_core::PersonId::parse(&p.personal_number).map_err(|e| format!("test person {}: {e}", p.given_name))?;
        }
        Ok(TestProvider {
            issuer: issuer.trim_end_matches('/').to_owned(),
            key: SigningKey::generate().map_err(|e| e.to_string())?,
            persons: file.persons,
            clients,
            codes: Mutex::new(HashMap::new()),
            access: Mutex::new(HashMap::new()),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn persons(&self) -> &[TestPerson] {
        &self.persons
    }

    pub fn discovery(&self) -> Value {
        let i = &self.issuer;
        json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/authorize"),
            "token_endpoint": format!("{i}/token"),
            "userinfo_endpoint": format!("{i}/userinfo"),
            "end_session_endpoint": format!("{i}/logout"),
            "jwks_uri": format!("{i}/jwks"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile", "https://id.oidc.se/scope/naturalPersonNumber"],
            "claims_supported": ["sub", "name", "given_name", "family_name", "acr", PERSONAL_NUMBER_CLAIM],
            "acr_values_supported": (2..=4).map(|n| acr_uri(Loa(n))).collect::<Vec<_>>(),
        })
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": [self.key.public_jwk()]})
    }

    /// The client `id`: one of the provider's own, or `registered` (the operator-registered client of that
    /// id, looked up by the caller in the database).
    fn client<'a>(&'a self, id: &str, registered: Option<&'a TestClient>) -> Option<&'a TestClient> {
        self.clients.iter().chain(registered).find(|c| c.client_id == id)
    }

    /// Check an authorization request. `Err((None, e))`: do not redirect (unknown client or redirect URI —
    /// show the error); `Err((Some(uri), e))`: redirect the error to the client.
    pub fn check_authorize(
        &self,
        q: &HashMap<String, String>,
        registered: Option<&TestClient>,
    ) -> Result<AuthRequest, (Option<String>, OAuthError)> {
        let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
        let client =
            self.client(get("client_id"), registered).ok_or((None, oauth("invalid_client", "unknown client_id")))?;
        let redirect_uri = get("redirect_uri");
        if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
            return Err((None, oauth("invalid_request", "redirect_uri is not registered for this client")));
        }
        let back = |e: OAuthError| (Some(redirect_uri.to_owned()), e);
        if get("response_type") != "code" {
            return Err(back(oauth("unsupported_response_type", "only response_type=code")));
        }
        if !get("scope").split(' ').any(|s| s == "openid") {
            return Err(back(oauth("invalid_scope", "scope must include openid")));
        }
        if get("code_challenge_method") != "S256" || get("code_challenge").len() < 43 {
            return Err(back(oauth(
                "invalid_request",
                "PKCE is required: code_challenge with code_challenge_method=S256",
            )));
        }
        if get("nonce").is_empty() || get("state").is_empty() {
            return Err(back(oauth("invalid_request", "state and nonce are required")));
        }
        let min_loa = get("acr_values").split(' ').filter_map(|a| (2..=4).map(Loa).find(|l| acr_uri(*l) == a)).min();
        Ok(AuthRequest {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            state: get("state").to_owned(),
            nonce: get("nonce").to_owned(),
            code_challenge: get("code_challenge").to_owned(),
            min_loa,
        })
    }

    /// The tester picked `personal_number`: issue a code; returns the redirect back to the client.
    pub fn approve(&self, request: AuthRequest, personal_number: &str) -> Result<String, OAuthError> {
        let person = self
            .persons
            .iter()
            .find(|p| p.personal_number == personal_number)
            .cloned()
            .ok_or_else(|| oauth("access_denied", "no such test person"))?;
        if request.min_loa.is_some_and(|min| Loa(person.loa) < min) {
            return Err(oauth(
                "access_denied",
                format!(
                    "{} has LoA {}, the client asked for at least {}",
                    person.given_name,
                    person.loa,
                    request.min_loa.map_or(0, |l| l.0)
                ),
            ));
        }
        let code = random_token(32);
        let uri = format!(
            "{}{}code={code}&state={}",
            request.redirect_uri,
            if request.redirect_uri.contains('?') { '&' } else { '?' },
            encode(&request.state)
        );
        self.codes
            .lock()
            .expect("codes")
            .insert(code, Grant { request, person, expires: ena_core::time::unix_now() + CODE_SECS });
        Ok(uri)
    }

    /// The token endpoint: exchange a code (once) for an ID token and an access token.
    pub fn token(
        &self,
        form: &HashMap<String, String>,
        basic: Option<(String, String)>,
        registered: Option<&TestClient>,
    ) -> Result<Value, OAuthError> {
        let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
        if get("grant_type") != "authorization_code" {
            return Err(oauth("unsupported_grant_type", "only authorization_code"));
        }
        let (id, secret) = basic.unwrap_or_else(|| (get("client_id").to_owned(), get("client_secret").to_owned()));
        let client = self
            .client(&id, registered)
            .filter(|c| c.secret_matches(&secret))
            .ok_or_else(|| oauth("invalid_client", "client authentication failed"))?;
        // A code is removed on first use, so a replay finds nothing.
        let grant = self
            .codes
            .lock()
            .expect("codes")
            .remove(get("code"))
            .ok_or_else(|| oauth("invalid_grant", "unknown, used or expired code"))?;
        if grant.expires < ena_core::time::unix_now() {
            return Err(oauth("invalid_grant", "the code has expired"));
        }
        if grant.request.client_id != client.client_id || grant.request.redirect_uri != get("redirect_uri") {
            return Err(oauth("invalid_grant", "the code was issued to another client or redirect_uri"));
        }
        if sha256_b64(get("code_verifier")) != grant.request.code_challenge {
            return Err(oauth("invalid_grant", "code_verifier does not match the code_challenge (PKCE)"));
        }
        let now = ena_core::time::unix_now();
        let p = &grant.person;
        let claims = json!({
            "iss": self.issuer, "sub": p.personal_number, "aud": client.client_id, "iat": now, "exp": now + TOKEN_SECS,
            "auth_time": now, "nonce": grant.request.nonce, "acr": acr_uri(Loa(p.loa)),
            PERSONAL_NUMBER_CLAIM: p.personal_number, "given_name": p.given_name, "family_name": p.family_name,
            "name": format!("{} {}", p.given_name, p.family_name),
        });
        let id_token = self.key.sign("JWT", &claims);
        let access_token = random_token(32);
        self.access.lock().expect("access").insert(access_token.clone(), (p.clone(), now + TOKEN_SECS));
        Ok(
            json!({"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_SECS, "id_token": id_token}),
        )
    }

    /// RP-initiated logout: the ID token hint must be one of ours for a known client, and the
    /// post-logout redirect must be on the origin of one of that client's redirect URIs. Returns where to
    /// send the browser.
    ///
    /// The client is named by `client_id` or by a verified `id_token_hint` (both, if both are sent, must
    /// agree).
    pub fn end_session(
        &self,
        q: &HashMap<String, String>,
        registered: Option<&TestClient>,
    ) -> Result<String, OAuthError> {
        let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
        let mut client_id = get("client_id").to_owned();
        if q.contains_key("id_token_hint") {
            let hint = ena_keys::jose::Unverified::parse(get("id_token_hint"))
                .map_err(|e| oauth("invalid_request", format!("id_token_hint: {e}")))?;
            hint.verify(&self.jwks()).map_err(|e| oauth("invalid_request", format!("id_token_hint: {e}")))?;
            let aud = hint.payload.get("aud").and_then(Value::as_str).unwrap_or_default();
            if !client_id.is_empty() && client_id != aud {
                return Err(oauth("invalid_request", "id_token_hint is for another client than client_id"));
            }
            client_id = aud.to_owned();
        }
        let client = self
            .client(&client_id, registered)
            .ok_or_else(|| oauth("invalid_request", "client_id (or id_token_hint) names no known client"))?;
        let to = get("post_logout_redirect_uri");
        let origin = |u: &str| u.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        if to.is_empty() || !client.redirect_uris.iter().any(|r| origin(r) == origin(to)) {
            return Err(oauth("invalid_request", "post_logout_redirect_uri is not on the client's origin"));
        }
        Ok(to.to_owned())
    }

    /// The userinfo endpoint.
    pub fn userinfo(&self, access_token: &str) -> Result<Value, OAuthError> {
        let map = self.access.lock().expect("access");
        let (p, exp) = map.get(access_token).ok_or_else(|| oauth("invalid_token", "unknown access token"))?;
        if *exp < ena_core::time::unix_now() {
            return Err(oauth("invalid_token", "the access token has expired"));
        }
        Ok(json!({"sub": p.personal_number, PERSONAL_NUMBER_CLAIM: p.personal_number, "given_name": p.given_name,
                  "family_name": p.family_name, "name": format!("{} {}", p.given_name, p.family_name)}))
    }
}

/// What the operator gives to register a test client.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestClientInput {
    /// Letters, digits, `-`, `.` and `_`, 3–64 characters; a random one when left out.
    #[serde(default)]
    #[schema(example = "skatteverket-eservice-test")]
    pub client_id: Option<String>,
    /// Whose e-service it is, for the operator's list.
    #[schema(example = "Skatteverket, e-tjänst för deklaration (test)")]
    pub name: String,
    /// Exact redirect URIs: https, or http on 127.0.0.1, `[::1]` or localhost; no fragment; 1–10 of them.
    #[schema(example = json!(["https://test.eservice.skatteverket.se/callback"]))]
    pub redirect_uris: Vec<String>,
}

/// A registered test client, as the operator sees it (never the secret).
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredTestClient {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub created_at: String,
    /// Only in the answer to the registration: shown once, kept only as its SHA-256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<crate::repo::TestClientRow> for RegisteredTestClient {
    fn from(r: crate::repo::TestClientRow) -> RegisteredTestClient {
        RegisteredTestClient {
            redirect_uris: serde_json::from_str(&r.redirect_uris).unwrap_or_default(),
            client_id: r.client_id,
            name: r.name,
            created_at: ena_core::time::rfc3339_of(r.created_at),
            client_secret: None,
        }
    }
}

/// Check a test client registration; every bad field is named.
pub fn check_test_client(input: &TestClientInput) -> Result<(), Vec<ena_core::FieldError>> {
    use ena_core::FieldError;
    let mut errors = Vec::new();
    if let Some(id) = &input.client_id
        && (!(3..=64).contains(&id.len())
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            || id == "ena-portal")
    {
        errors.push(FieldError::new("clientId", id, "3–64 letters, digits, '-', '.' or '_' (and not ena-portal)"));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", &input.name, "1–200 characters"));
    }
    if input.redirect_uris.is_empty() || input.redirect_uris.len() > 10 {
        errors.push(FieldError::new("redirectUris", input.redirect_uris.len(), "1–10 redirect URIs"));
    }
    for (i, uri) in input.redirect_uris.iter().enumerate() {
        if let Err(why) = check_redirect_uri(uri) {
            errors.push(FieldError::new(format!("redirectUris[{i}]"), uri, why));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    if uri.len() > 500 || uri.contains('#') || uri.chars().any(|c| c.is_control() || c == ' ') {
        return Err("at most 500 characters, no fragment, no spaces or control characters");
    }
    let (scheme, rest) = uri.split_once("://").ok_or("an absolute URL (https://…)")?;
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host_name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let loopback = ["127.0.0.1", "localhost", "[::1]"].contains(&host_name);
    match scheme {
        "https" if !host_name.is_empty() && !host.contains('@') => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("https with a host, or http only on 127.0.0.1, [::1] or localhost"),
    }
}

/// Why registering, listing or removing a test client did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TestClientError {
    #[error("the registration is invalid")]
    Invalid(Vec<ena_core::FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for TestClientError {
    fn from(e: sqlx::Error) -> TestClientError {
        TestClientError::Internal(e.to_string())
    }
}

fn client_event(ctx: &ena_audit::Context, action: &str, client_id: &str) -> ena_audit::AuditEvent {
    let object = Some(ena_audit::ObjectRef { kind: "test-eid-client".into(), id: client_id.to_owned() });
    ctx.event(action, object, ena_audit::event::Result::Allowed, None)
}

/// The test eID's registered clients (the operator's, beside the configured ones): the store they are
/// kept in and the log every registration and removal is written to before the call returns.
#[derive(Clone)]
pub struct TestClients {
    store: ena_store::Store,
    audit: ena_audit::AuditLog,
}

impl TestClients {
    pub fn new(store: ena_store::Store, audit: ena_audit::AuditLog) -> TestClients {
        TestClients { store, audit }
    }

    /// Register a test client (the operator): checked, stored with its secret hashed, logged before the
    /// answer. Returns it with the secret, shown this once.
    pub async fn register(
        &self,
        ctx: &ena_audit::Context,
        input: TestClientInput,
    ) -> Result<RegisteredTestClient, TestClientError> {
        let (store, audit) = (&self.store, &self.audit);
        check_test_client(&input).map_err(TestClientError::Invalid)?;
        let client_id = input.client_id.clone().unwrap_or_else(|| format!("test-{}", random_token(9)));
        let secret = random_token(32);
        let row = crate::repo::TestClientRow {
            client_id: client_id.clone(),
            name: input.name.trim().to_owned(),
            secret_sha256: sha256_b64(&secret),
            redirect_uris: serde_json::to_string(&input.redirect_uris).unwrap_or_default(),
            created_at: ena_core::time::unix_now(),
        };
        if !crate::repo::insert_test_client(store, &row).await? {
            return Err(TestClientError::Conflict(format!("a test client {client_id} is registered already")));
        }
        audit
            .record(vec![client_event(ctx, "identity.test-eid-client.register", &client_id)])
            .await
            .map_err(|e| TestClientError::Internal(e.to_string()))?;
        let mut out = RegisteredTestClient::from(row);
        out.client_secret = Some(secret);
        Ok(out)
    }

    /// Remove a test client (the operator); logged.
    pub async fn remove(&self, ctx: &ena_audit::Context, client_id: &str) -> Result<(), TestClientError> {
        let (store, audit) = (&self.store, &self.audit);
        if !crate::repo::delete_test_client(store, client_id).await? {
            return Err(TestClientError::NotFound(format!("no test client {client_id}")));
        }
        audit
            .record(vec![client_event(ctx, "identity.test-eid-client.remove", client_id)])
            .await
            .map_err(|e| TestClientError::Internal(e.to_string()))?;
        Ok(())
    }

    /// The client `client_id` if the operator registered it (what the provider's endpoints pass on).
    pub async fn registered(&self, client_id: &str) -> Result<Option<TestClient>, sqlx::Error> {
        Ok(crate::repo::test_client(&self.store, client_id).await?.map(TestClient::from))
    }
}

/// Percent-encode a query value.
pub fn encode(value: &str) -> String {
    ena_core::percent_encode(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> TestProvider {
        TestProvider::new(
            "http://localhost/test-eid",
            vec![TestClient {
                client_id: "rp".into(),
                client_secret_sha256: sha256_b64("s3cret"),
                redirect_uris: vec!["http://localhost/cb".into()],
            }],
        )
        .unwrap()
    }

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn code_flow_with_pkce_and_the_refusals() {
        let p = provider();
        let verifier = random_token(32);
        let mut q = query(&[
            ("client_id", "rp"),
            ("redirect_uri", "http://localhost/cb"),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st"),
            ("nonce", "no"),
            ("code_challenge_method", "S256"),
        ]);
        q.insert("code_challenge".into(), sha256_b64(&verifier));
        let request = p.check_authorize(&q, None).unwrap();
        let redirect = p.approve(request.clone(), "191212121212").unwrap();
        let code = redirect.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned();
        assert!(redirect.ends_with("state=st"));

        let form = |code: &str, verifier: &str| {
            query(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", "http://localhost/cb"),
                ("client_id", "rp"),
                ("client_secret", "s3cret"),
                ("code_verifier", verifier),
            ])
        };
        assert_eq!(
            p.token(&form(&code, "wrong-verifier"), None, None).unwrap_err().error,
            "invalid_grant",
            "wrong PKCE verifier"
        );
        // The failed attempt consumed the code: codes are single-use whatever happens.
        assert_eq!(p.token(&form(&code, &verifier), None, None).unwrap_err().error, "invalid_grant");

        let redirect = p.approve(request.clone(), "191212121212").unwrap();
        let code = redirect.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned();
        let tokens = p.token(&form(&code, &verifier), None, None).unwrap();
        assert_eq!(
            p.token(&form(&code, &verifier), None, None).unwrap_err().error,
            "invalid_grant",
            "a replayed code is refused"
        );
        let id = ena_keys::jose::Unverified::parse(tokens["id_token"].as_str().unwrap()).unwrap();
        id.verify(&p.jwks()).unwrap();
        assert_eq!(id.payload["nonce"], "no");
        assert_eq!(id.payload[PERSONAL_NUMBER_CLAIM], "191212121212");
        assert_eq!(p.userinfo(tokens["access_token"].as_str().unwrap()).unwrap()["given_name"], "Tolvan");

        // Unknown client and unregistered redirect are not redirected; other errors go back to the client.
        let mut bad = q.clone();
        bad.insert("redirect_uri".into(), "https://evil.example/cb".into());
        assert!(p.check_authorize(&bad, None).unwrap_err().0.is_none());
        let mut no_pkce = q.clone();
        no_pkce.remove("code_challenge");
        assert_eq!(p.check_authorize(&no_pkce, None).unwrap_err().0.as_deref(), Some("http://localhost/cb"));
        // A person below the requested level cannot be picked.
        let mut high = q.clone();
        high.insert("acr_values".into(), acr_uri(Loa(4)));
        assert_eq!(
            p.approve(p.check_authorize(&high, None).unwrap(), "191212121212").unwrap_err().error,
            "access_denied"
        );
        let mut wrong_secret = form(&code, &verifier);
        wrong_secret.insert("client_secret".into(), "nope".into());
        assert_eq!(p.token(&wrong_secret, None, None).unwrap_err().error, "invalid_client");
    }
}
