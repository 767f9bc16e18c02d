//! Identity-bound API tokens: the OAuth 2.0 token endpoint for member systems, and the check a resource
//! makes of a presented token.
//!
//! A member system authenticates with its federation certificate (mTLS on the node listener, RFC 8705
//! `tls_client_auth`) or with `private_key_jwt` (a client assertion signed with a key of its
//! `oauth_client` metadata, found by resolving the client through the federation; each assertion is
//! single-use). Access tokens are short-lived ES256 JWTs (`at+jwt`, RFC 9068) for one audience (this
//! instance or another active member). A token obtained over mTLS is bound to the certificate
//! (`cnf.x5t#S256`) and refused on a connection with any other certificate.
//!
//! On behalf of a person: the logged-in person asks the portal for a *subject token* naming the member
//! system that may act for them (and the party they represent); that system exchanges it (RFC 8693) for
//! an access token carrying the person as `sub` and itself as `act.sub`. The token stays backed by the
//! session: once the person logs out or the session times out, the token is refused. The mandate check
//! for a represented party belongs to the representation block (Mina ombud) and is not made here.

use std::collections::HashMap;
use std::sync::Arc;

use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{Actor, ActorKind, AuditLog, AuditSink, Context};
use ena_core::{Organisationsnummer, PersonId};
use ena_federation::{NodePeer, TrustAnchor};
use ena_keys::jose::{SigningKey, Unverified};
use ena_store::Store;
use serde::Serialize;
use serde_json::{Value, json};

use crate::session::{self, Session, Timeouts};
use crate::{Refusal, random_token, refuse, repo};

/// A token's claims.
type Claims = serde_json::Map<String, Value>;

pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
pub const SUBJECT_TOKEN_TYP: &str = "ena-subject+jwt";
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const TOKEN_TYPE_ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Access tokens live five minutes; subject tokens two; a client assertion may be valid ten at most.
pub const ACCESS_LIFETIME: i64 = 300;
pub const SUBJECT_LIFETIME: i64 = 120;
const MAX_ASSERTION_LIFETIME: i64 = 600;
const LEEWAY: i64 = 60;

/// An authenticated client: a member system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub entity_id: String,
    pub organisation_number: String,
    /// base64url SHA-256 of the TLS client certificate, when the request came over mTLS.
    pub certificate_sha256: Option<String>,
    /// `tls_client_auth` or `private_key_jwt`.
    pub method: &'static str,
}

/// Who is calling with a valid access token.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    /// The member system (client) the token was issued to.
    pub client: String,
    pub organisation_number: String,
    /// The person the client acts for (token exchange), if any.
    pub person: Option<String>,
    pub person_name: Option<String>,
    pub loa: Option<u8>,
    /// The party the person represents, as the person named it (mandates are checked by Mina ombud).
    pub represents: Option<String>,
    pub audience: String,
    pub scope: Option<String>,
    pub expires_at: i64,
    /// Whether the token is bound to a client certificate (and so was checked against this connection's).
    pub certificate_bound: bool,
    pub token_id: String,
}

pub struct TokenService {
    /// Access tokens whose signature was checked, by SHA-256, with their claims (a resource sees the
    /// same token many times in its five minutes; the signature of the same bytes does not change).
    verified: std::sync::Mutex<HashMap<String, (i64, Claims)>>,
    key: SigningKey,
    issuer: String,
    token_endpoint: String,
    timeouts: Timeouts,
    store: Store,
    anchor: Arc<TrustAnchor>,
    audit: AuditLog,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// The blocks the token service reads and records in, borrowed for one call.
#[derive(Clone, Copy)]
struct Deps<'a> {
    pub store: &'a Store,
    pub anchor: &'a TrustAnchor,
    pub audit: &'a AuditLog,
}

fn form_value<'a>(form: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    form.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn node_actor(id: &str, organisation: Option<&str>) -> Actor {
    Actor { kind: ActorKind::Node, id: id.to_owned(), organisation: organisation.map(str::to_owned) }
}

async fn record(
    audit: &AuditLog,
    actor: Actor,
    on_behalf_of: Option<String>,
    action: &str,
    object: Option<ObjectRef>,
    result: AuditResult,
    reason: Option<String>,
) -> Result<(), Refusal> {
    let ctx = Context { actor, on_behalf_of: on_behalf_of.clone(), correlation_id: None };
    let mut event = ctx.event(action, object, result, reason);
    event.data_subjects = on_behalf_of.into_iter().collect();
    audit.record(vec![event]).await.map_err(|e| refuse("server_error", "log", e.to_string()))?;
    Ok(())
}

/// Record a refusal of `action` for the client `who` (if known) and hand the refusal back (or the log's
/// failure, which then wins).
async fn denied(audit: &AuditLog, who: Option<String>, action: &str, e: Refusal) -> Refusal {
    let actor = Actor { kind: ActorKind::Node, id: who.unwrap_or_else(|| "anonymous".into()), organisation: None };
    match record(audit, actor, None, action, None, AuditResult::Denied, Some(e.to_string())).await {
        Ok(()) => e,
        Err(log) => log,
    }
}

fn issuer(base: &str) -> String {
    format!("{base}/identity")
}

fn token_endpoint(base: &str) -> String {
    format!("{base}/identity/v1/token")
}

/// The RFC 8414 authorization-server metadata of the token service at `base` (also what the trust anchor
/// publishes for it, composed before the service itself can be built).
pub fn metadata(base: &str) -> serde_json::Value {
    let base = base.trim_end_matches('/');
    serde_json::json!({
        "issuer": issuer(base),
        "token_endpoint": token_endpoint(base),
        "jwks_uri": format!("{base}/identity/v1/jwks"),
        "grant_types_supported": [CLIENT_CREDENTIALS, TOKEN_EXCHANGE],
        "token_endpoint_auth_methods_supported": ["tls_client_auth", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "ES384", "RS256", "PS256", "EdDSA"],
        "tls_client_certificate_bound_access_tokens": true,
    })
}

/// The public keys tokens signed with `key` are verified with.
pub fn jwks(key: &SigningKey) -> Value {
    json!({"keys": [key.public_jwk()]})
}

impl TokenService {
    /// Its RFC 8414 authorization-server metadata, served at `base`.
    pub fn metadata(&self, base: &str) -> serde_json::Value {
        metadata(base)
    }

    /// Tokens of the instance at `base_url`, signed with `key`; `timeouts` are the portal sessions' (a
    /// token backed by a session lives no longer than the session).
    /// It reads clients and sessions in `store` and members in `anchor`, and records every issue and
    /// refusal in `audit`.
    pub fn new(
        key: SigningKey,
        base_url: &str,
        timeouts: Timeouts,
        store: Store,
        anchor: Arc<TrustAnchor>,
        audit: AuditLog,
    ) -> TokenService {
        let base = base_url.trim_end_matches('/');
        TokenService {
            verified: std::sync::Mutex::new(HashMap::new()),
            key,
            issuer: issuer(base),
            token_endpoint: token_endpoint(base),
            timeouts,
            store,
            anchor,
            audit,
        }
    }

    fn deps(&self) -> Deps<'_> {
        Deps { store: &self.store, anchor: &self.anchor, audit: &self.audit }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn token_endpoint(&self) -> &str {
        &self.token_endpoint
    }

    /// The public keys access and subject tokens are signed with.
    pub fn jwks(&self) -> Value {
        jwks(&self.key)
    }

    /// The token endpoint: authenticate the client (the mTLS `peer`, or a client assertion in `form`),
    /// then grant. Every refusal is recorded in the log.
    pub async fn token(&self, peer: Option<&NodePeer>, form: &HashMap<String, String>) -> Result<Value, Refusal> {
        let deps = self.deps();
        let outcome = match self.authenticate(deps, peer, form).await {
            Ok(client) => self.grant(deps, &client, form).await.map_err(|e| (Some(client), e)),
            Err(e) => Err((None, e)),
        };
        match outcome {
            Ok(v) => Ok(v),
            Err((client, e)) => {
                let who = client
                    .map(|c| c.entity_id)
                    .or_else(|| peer.map(|p| p.entity_id.clone()))
                    .or_else(|| form_value(form, "client_id").map(str::to_owned));
                Err(denied(deps.audit, who, "identity.token.issue", e).await)
            }
        }
    }

    async fn authenticate(
        &self,
        deps: Deps<'_>,
        peer: Option<&NodePeer>,
        form: &HashMap<String, String>,
    ) -> Result<Client, Refusal> {
        let client_id = form_value(form, "client_id");
        let Some(assertion) = form_value(form, "client_assertion") else {
            let Some(peer) = peer else {
                return Err(refuse(
                    "invalid_client",
                    "client_assertion",
                    "authenticate with the node's federation certificate (node listener) or with private_key_jwt",
                ));
            };
            if let Some(id) = client_id
                && id != peer.entity_id
            {
                return Err(refuse(
                    "invalid_client",
                    "client_id",
                    format!("{id} is not the member the certificate belongs to ({})", peer.entity_id),
                ));
            }
            let approved = deps
                .anchor
                .member(&peer.entity_id)
                .await
                .is_ok_and(|m| m.entity_types.iter().any(|t| t == "oauth_client"));
            if !approved {
                return Err(refuse(
                    "unauthorized_client",
                    "client_id",
                    format!("{} is not approved as oauth_client in the federation", peer.entity_id),
                ));
            }
            return Ok(Client {
                entity_id: peer.entity_id.clone(),
                organisation_number: peer.organisation_number.clone(),
                certificate_sha256: Some(peer.certificate_sha256.clone()),
                method: "tls_client_auth",
            });
        };
        if form_value(form, "client_assertion_type") != Some(CLIENT_ASSERTION_TYPE) {
            return Err(refuse("invalid_client", "client_assertion_type", format!("must be {CLIENT_ASSERTION_TYPE}")));
        }
        let bad = |reason: String| refuse("invalid_client", "client_assertion", reason);
        let t = Unverified::parse(assertion).map_err(|e| bad(e.to_string()))?;
        let text = |n: &str| t.payload.get(n).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (iss, sub) = (text("iss"), text("sub"));
        if iss.is_empty() || iss != sub {
            return Err(bad("iss and sub must both be the client's entity identifier".into()));
        }
        if let Some(id) = client_id
            && id != iss
        {
            return Err(bad(format!("issued by {iss}, but client_id is {id}")));
        }
        let member = deps.anchor.member(&iss).await.map_err(|_| bad(format!("{iss} is not a member")))?;
        if member.status != ena_federation::anchor::MemberStatus::Active {
            return Err(bad(format!("{iss} is {}", member.status)));
        }
        let metadata = deps.anchor.approved_metadata(&iss, "oauth_client").await.map_err(|e| match e {
            ena_federation::anchor::FederationError::Forbidden(why) => bad(why),
            e => bad(format!("{iss} does not resolve in the federation: {e}")),
        })?;
        let jwks = metadata
            .get("jwks")
            .ok_or_else(|| bad(format!("{iss} publishes no oauth_client jwks in its federation metadata")))?;
        t.verify(jwks).map_err(|e| bad(e.to_string()))?;
        let audience_ok = match t.payload.get("aud") {
            Some(Value::String(a)) => a == &self.token_endpoint || a == &self.issuer,
            Some(Value::Array(a)) => a.iter().any(|a| a == &json!(self.token_endpoint) || a == &json!(self.issuer)),
            _ => false,
        };
        if !audience_ok {
            return Err(bad(format!("aud must be the token endpoint {}", self.token_endpoint)));
        }
        let now = ena_core::time::unix_now();
        let exp = t.payload.get("exp").and_then(Value::as_i64).ok_or_else(|| bad("exp is missing".into()))?;
        if exp <= now - LEEWAY {
            return Err(bad(format!("expired at {exp}")));
        }
        if exp > now + MAX_ASSERTION_LIFETIME {
            return Err(bad(format!("valid until {exp}: at most {MAX_ASSERTION_LIFETIME} seconds ahead")));
        }
        let jti = text("jti");
        if jti.is_empty() {
            return Err(bad("jti is missing".into()));
        }
        if !repo::use_once(deps.store, &format!("assertion {iss} {jti}"), exp + LEEWAY).await? {
            return Err(bad(format!("jti {jti} was used before (replay)")));
        }
        if let Some(peer) = peer
            && peer.entity_id != iss
        {
            return Err(bad(format!("the certificate belongs to {}, the assertion to {iss}", peer.entity_id)));
        }
        Ok(Client {
            entity_id: iss,
            organisation_number: member.organisation_number,
            certificate_sha256: peer.map(|p| p.certificate_sha256.clone()),
            method: "private_key_jwt",
        })
    }

    async fn grant(&self, deps: Deps<'_>, client: &Client, form: &HashMap<String, String>) -> Result<Value, Refusal> {
        let grant_type = form_value(form, "grant_type").unwrap_or_default();
        if grant_type != CLIENT_CREDENTIALS && grant_type != TOKEN_EXCHANGE {
            return Err(refuse(
                "unsupported_grant_type",
                "grant_type",
                format!("must be {CLIENT_CREDENTIALS} or {TOKEN_EXCHANGE}"),
            ));
        }
        let audience = form_value(form, "audience")
            .or_else(|| form_value(form, "resource"))
            .ok_or_else(|| refuse("invalid_request", "audience", "name the API's owner (an entity identifier)"))?
            .trim_end_matches('/')
            .to_owned();
        if audience != deps.anchor.entity_id() {
            match deps.anchor.member(&audience).await {
                Ok(m) if m.status == ena_federation::anchor::MemberStatus::Active => {}
                _ => {
                    return Err(refuse(
                        "invalid_target",
                        "audience",
                        format!("{audience} is neither this instance nor an active member"),
                    ));
                }
            }
        }
        let scope = form_value(form, "scope").map(str::to_owned);
        if let Some(s) = &scope
            && (s.len() > 1000
                || !s.bytes().all(|b| b == b' ' || (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\'))
        {
            return Err(refuse("invalid_scope", "scope", "space-separated printable ASCII tokens, at most 1000 bytes"));
        }
        let now = ena_core::time::unix_now();
        let jti = random_token(16);
        let mut claims = json!({
            "iss": self.issuer, "sub": client.entity_id, "aud": audience, "client_id": client.entity_id,
            "iat": now, "exp": now + ACCESS_LIFETIME, "jti": jti, "ena_org": client.organisation_number,
        });
        if let Some(s) = &scope {
            claims["scope"] = json!(s);
        }
        if let Some(x5t) = &client.certificate_sha256 {
            claims["cnf"] = json!({"x5t#S256": x5t});
        }
        let mut person = None;
        if grant_type == TOKEN_EXCHANGE {
            let session = self.subject(deps, client, form).await?;
            claims["sub"] = json!(session.0.person.as_str());
            claims["act"] = json!({"sub": client.entity_id});
            claims["sid"] = json!(session.0.sid);
            claims["ena_name"] = json!(session.0.name);
            claims["ena_loa"] = json!(session.0.loa.0);
            if let Some(r) = session.1 {
                claims["ena_represents"] = json!(r);
            }
            // A token backed by a session never outlives it.
            let left = (session.0.created_at + self.timeouts.absolute).min(now + ACCESS_LIFETIME);
            claims["exp"] = json!(left);
            person = Some(session.0.person.as_str().to_owned());
        }
        let token = self.key.sign(ACCESS_TOKEN_TYP, &claims);
        let object = ObjectRef { kind: "access-token".into(), id: jti };
        let reason = Some(format!("audience {audience}; {grant_type}; {}", client.method));
        record(
            deps.audit,
            node_actor(&client.entity_id, Some(&client.organisation_number)),
            person,
            "identity.token.issue",
            Some(object),
            AuditResult::Allowed,
            reason,
        )
        .await?;
        let mut body = json!({
            "access_token": token, "token_type": "Bearer",
            "expires_in": claims["exp"].as_i64().unwrap_or(now) - now,
        });
        if grant_type == TOKEN_EXCHANGE {
            body["issued_token_type"] = json!(TOKEN_TYPE_ACCESS);
        }
        if let Some(s) = scope {
            body["scope"] = json!(s);
        }
        Ok(body)
    }

    /// The live session (and represented party) behind a token exchange's subject token.
    async fn subject(
        &self,
        deps: Deps<'_>,
        client: &Client,
        form: &HashMap<String, String>,
    ) -> Result<(Session, Option<String>), Refusal> {
        let token = form_value(form, "subject_token")
            .ok_or_else(|| refuse("invalid_request", "subject_token", "required for token exchange"))?;
        if form_value(form, "subject_token_type") != Some(TOKEN_TYPE_JWT) {
            return Err(refuse("invalid_request", "subject_token_type", format!("must be {TOKEN_TYPE_JWT}")));
        }
        let bad = |reason: String| refuse("invalid_grant", "subject_token", reason);
        let t = Unverified::parse(token).map_err(|e| bad(e.to_string()))?;
        t.expect_typ(SUBJECT_TOKEN_TYP).map_err(|e| bad(e.to_string()))?;
        t.verify(&self.jwks()).map_err(|e| bad(e.to_string()))?;
        let text = |n: &str| t.payload.get(n).and_then(Value::as_str).unwrap_or_default().to_owned();
        if text("iss") != self.issuer {
            return Err(bad(format!("not issued by {}", self.issuer)));
        }
        let exp = t.payload.get("exp").and_then(Value::as_i64).unwrap_or_default();
        if exp <= ena_core::time::unix_now() {
            return Err(bad(format!("expired at {exp}")));
        }
        if text("azp") != client.entity_id {
            return Err(bad(format!("the person gave it to {}, not to {}", text("azp"), client.entity_id)));
        }
        if !repo::use_once(deps.store, &format!("subject {}", text("jti")), exp + LEEWAY).await? {
            return Err(bad("it was exchanged before (replay)".into()));
        }
        let session = session::by_id(deps.store, &text("sid"), self.timeouts)
            .await?
            .ok_or_else(|| bad("the person's session has ended (logged out or timed out)".into()))?;
        if session.person.as_str() != text("sub") {
            return Err(bad("the session belongs to someone else".into()));
        }
        let represents = t.payload.get("ena_represents").and_then(Value::as_str).map(str::to_owned);
        Ok((session, represents))
    }

    /// The claims of an access token whose type and signature are good, from the cache when this exact
    /// token was checked before.
    fn verified_payload(&self, token: &str) -> Result<serde_json::Map<String, Value>, String> {
        let key = crate::sha256_b64(token);
        let now = ena_core::time::unix_now();
        if let Some((exp, payload)) = self.verified.lock().expect("token cache").get(&key)
            && *exp > now
        {
            return Ok(payload.clone());
        }
        let t = Unverified::parse(token).map_err(|e| e.to_string())?;
        t.expect_typ(ACCESS_TOKEN_TYP).map_err(|e| e.to_string())?;
        t.verify(&self.jwks()).map_err(|e| e.to_string())?;
        let exp = t.payload.get("exp").and_then(Value::as_i64).unwrap_or_default();
        let mut cache = self.verified.lock().expect("token cache");
        if cache.len() >= 10_000 {
            cache.retain(|_, (e, _)| *e > now);
            if cache.len() >= 10_000 {
                cache.clear();
            }
        }
        cache.insert(key, (exp, t.payload.clone()));
        Ok(t.payload)
    }

    /// A subject token for the person of `session`, for the member system `actor` to exchange within two
    /// minutes; `represents` names the party the person acts for (an identity or organisation number).
    pub async fn subject_token(
        &self,
        session: &Session,
        actor: &str,
        represents: Option<&str>,
    ) -> Result<(String, i64), Refusal> {
        let deps = self.deps();
        let actor = actor.trim().trim_end_matches('/');
        match deps.anchor.member(actor).await {
            Ok(m) if m.status == ena_federation::anchor::MemberStatus::Active => {}
            _ => return Err(refuse("invalid_request", "actor", format!("{actor} is not an active member"))),
        }
        let represents = match represents.map(str::trim).filter(|r| !r.is_empty()) {
            None => None,
            Some(r) => Some(match PersonId::parse(r) {
                Ok(p) => p.as_str().to_owned(),
                Err(_) => Organisationsnummer::parse(r)
                    .map_err(|e| {
                        refuse(
                            "invalid_request",
                            "represents",
                            format!("neither an identity nor an organisation number: {e}"),
                        )
                    })?
                    .as_str()
                    .to_owned(),
            }),
        };
        let now = ena_core::time::unix_now();
        let exp = now + SUBJECT_LIFETIME;
        let mut claims = json!({
            "iss": self.issuer, "sub": session.person.as_str(), "azp": actor, "sid": session.sid,
            "iat": now, "exp": exp, "jti": random_token(16),
        });
        if let Some(r) = &represents {
            claims["ena_represents"] = json!(r);
        }
        let token = self.key.sign(SUBJECT_TOKEN_TYP, &claims);
        let actor_rec = Actor { kind: ActorKind::Person, id: session.person.as_str().to_owned(), organisation: None };
        record(
            deps.audit,
            actor_rec,
            None,
            "identity.subject-token.issue",
            Some(ObjectRef { kind: "member".into(), id: actor.to_owned() }),
            AuditResult::Allowed,
            represents.map(|r| format!("represents {r}")),
        )
        .await?;
        Ok((token, exp))
    }

    /// Check a presented access token for the resource `audience`, over a connection whose client
    /// certificate has SHA-256 `presented` (if any). A refusal is recorded in the log.
    pub async fn check(&self, token: &str, presented: Option<&str>, audience: &str) -> Result<Caller, Refusal> {
        let deps = self.deps();
        match self.check_inner(deps, token, presented, audience).await {
            Ok(c) => Ok(c),
            Err(e) => {
                let who = Unverified::parse(token)
                    .ok()
                    .and_then(|t| t.payload.get("client_id").and_then(Value::as_str).map(str::to_owned));
                Err(denied(deps.audit, who, "identity.token.use", e).await)
            }
        }
    }

    async fn check_inner(
        &self,
        deps: Deps<'_>,
        token: &str,
        presented: Option<&str>,
        audience: &str,
    ) -> Result<Caller, Refusal> {
        let bad = |reason: String| refuse("invalid_token", "authorization", reason);
        let payload = self.verified_payload(token).map_err(bad)?;
        let t = VerifiedToken { payload };
        let text = |n: &str| t.payload.get(n).and_then(Value::as_str).map(str::to_owned);
        if text("iss").as_deref() != Some(&self.issuer) {
            return Err(bad(format!("not issued by {}", self.issuer)));
        }
        let exp = t.payload.get("exp").and_then(Value::as_i64).unwrap_or_default();
        if exp <= ena_core::time::unix_now() {
            return Err(bad(format!("expired at {exp}")));
        }
        if text("aud").as_deref() != Some(audience) {
            return Err(bad(format!("issued for {}, not for {audience}", text("aud").unwrap_or_default())));
        }
        let bound = t.payload.get("cnf").and_then(|c| c.get("x5t#S256")).and_then(Value::as_str);
        if let Some(x5t) = bound {
            match presented {
                Some(p) if p == x5t => {}
                Some(_) => {
                    return Err(bad(
                        "the token is bound to another client certificate than this connection's (RFC 8705)".into(),
                    ));
                }
                None => {
                    return Err(bad(
                        "the token is bound to a client certificate: present it on the node listener (RFC 8705)".into(),
                    ));
                }
            }
        }
        let client = text("client_id").unwrap_or_default();
        match deps.anchor.member(&client).await {
            Ok(m) if m.status == ena_federation::anchor::MemberStatus::Active => {}
            _ => return Err(bad(format!("the client {client} is no longer an active member"))),
        }
        // With an actor (`act`), `sub` is the person the client acts for.
        let person = t.payload.get("act").map(|_| text("sub").unwrap_or_default());
        if let Some(sid) = text("sid")
            && session::by_id(deps.store, &sid, self.timeouts).await?.is_none()
        {
            return Err(bad("the person's session behind the token has ended".into()));
        }
        Ok(Caller {
            client,
            organisation_number: text("ena_org").unwrap_or_default(),
            person,
            person_name: text("ena_name"),
            loa: t.payload.get("ena_loa").and_then(Value::as_u64).map(|l| l as u8),
            represents: text("ena_represents"),
            audience: audience.to_owned(),
            scope: text("scope"),
            expires_at: exp,
            certificate_bound: bound.is_some(),
            token_id: text("jti").unwrap_or_default(),
        })
    }
}

/// The claims of a token whose signature was checked.
struct VerifiedToken {
    payload: serde_json::Map<String, Value>,
}

#[cfg(test)]
mod tests {
    //! The token service's refusals, case by case, on each database: the token endpoint's client
    //! authentication, and the resource side's check of a presented token — each refusal for the reason
    //! it names (a forged token fails at its signature, shown by the same claims signed with the
    //! service's key passing the signature and failing later).
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use ena_audit::{NoteSigner, RuleSet};
    use ena_federation::AnchorConfig;
    use ena_store::testing::test_stores;

    const BASE: &str = "https://ena.example.se";
    const CLIENT: &str = "https://nod.exempelkommun.se";

    async fn service(store: &Store) -> (TokenService, SigningKey) {
        let audit =
            AuditLog::open(store.clone(), NoteSigner::ephemeral("test/log").unwrap(), RuleSet { rules: vec![] })
                .await
                .unwrap();
        let vault = ena_keys::KeyVault::new(store.clone(), ena_keys::Kek::generate());
        let anchor = TrustAnchor::open(store.clone(), AnchorConfig::new(BASE), vault, Arc::new(audit.clone()), None)
            .await
            .unwrap();
        let key = SigningKey::generate().unwrap();
        let copy = SigningKey::from_pkcs8(key.pkcs8()).unwrap();
        (TokenService::new(key, BASE, Timeouts::default(), store.clone(), Arc::new(anchor), audit), copy)
    }

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn peer() -> NodePeer {
        NodePeer {
            entity_id: CLIENT.into(),
            organisation_number: "2120000142".into(),
            name: "Exempelkommunen".into(),
            certificate_sha256: "cert-a".into(),
        }
    }

    /// A client assertion with `claims`, signed by a key nobody published.
    fn assertion(claims: Value) -> String {
        SigningKey::generate().unwrap().sign("JWT", &claims)
    }

    #[tokio::test]
    async fn the_token_endpoint_refuses_each_bad_client_for_its_reason() {
        let now = ena_core::time::unix_now();
        let good = json!({"iss": CLIENT, "sub": CLIENT, "aud": format!("{BASE}/identity/v1/token"), "exp": now + 60, "jti": "j1"});
        let mut other_sub = good.clone();
        other_sub["sub"] = json!("https://nod.annan.se");
        let (signed, mismatched) = (assertion(good.clone()), assertion(other_sub));
        fn with(a: &str) -> Vec<(&str, &str)> {
            vec![
                ("grant_type", CLIENT_CREDENTIALS),
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                ("client_assertion", a),
            ]
        }
        let mut wrong_type = with(&signed);
        wrong_type[1].1 = "urn:example:other";
        let mut other_client = with(&signed);
        other_client.push(("client_id", "https://nod.annan.se"));
        // (case, form, over the node listener, error, field, reason contains)
        let cases: Vec<(&str, Vec<(&str, &str)>, bool, &str, &str, &str)> = vec![
            (
                "neither certificate nor assertion",
                vec![("grant_type", CLIENT_CREDENTIALS)],
                false,
                "invalid_client",
                "client_assertion",
                "private_key_jwt",
            ),
            (
                "wrong assertion type",
                wrong_type,
                false,
                "invalid_client",
                "client_assertion_type",
                CLIENT_ASSERTION_TYPE,
            ),
            ("assertion that is no JWT", with("not-a-jwt"), false, "invalid_client", "client_assertion", ""),
            ("iss and sub differ", with(&mismatched), false, "invalid_client", "client_assertion", "iss and sub"),
            (
                "client_id names another client",
                other_client,
                false,
                "invalid_client",
                "client_assertion",
                "client_id is https://nod.annan.se",
            ),
            ("issuer is no member", with(&signed), false, "invalid_client", "client_assertion", "is not a member"),
            (
                "certificate of no oauth_client",
                vec![("grant_type", CLIENT_CREDENTIALS)],
                true,
                "unauthorized_client",
                "client_id",
                "not approved as oauth_client",
            ),
            (
                "client_id is not the certificate's",
                vec![("grant_type", CLIENT_CREDENTIALS), ("client_id", "https://nod.annan.se")],
                true,
                "invalid_client",
                "client_id",
                "is not the member the certificate belongs to",
            ),
        ];
        for db in test_stores().await {
            let (tokens, _) = service(&db.store).await;
            for (case, pairs, over_node, error, field, reason) in &cases {
                let p = peer();
                let refusal = tokens
                    .token(over_node.then_some(&p), &form(pairs))
                    .await
                    .expect_err(&format!("{}: {case} is refused", db.label));
                assert_eq!((refusal.error, refusal.field), (*error, *field), "{}: {case}: {refusal}", db.label);
                assert!(refusal.reason.contains(reason), "{}: {case}: {refusal}", db.label);
            }
        }
    }

    #[tokio::test]
    async fn a_presented_token_is_refused_for_the_reason_it_names() {
        let now = ena_core::time::unix_now();
        let audience = "https://nod.exempelmyndighet.se";
        let claims = |f: &dyn Fn(&mut Value)| {
            let mut c = json!({"iss": format!("{BASE}/identity"), "sub": CLIENT, "client_id": CLIENT, "aud": audience, "exp": now + 60, "jti": "t1"});
            f(&mut c);
            c
        };
        for db in test_stores().await {
            let (tokens, key) = service(&db.store).await;
            let signed = |c: Value| key.sign(ACCESS_TOKEN_TYP, &c);
            // The same header (alg, kid, typ) and claims as a real token, signed by another key.
            let real = signed(claims(&|_| {}));
            let (header, payload) = {
                let mut parts = real.split('.');
                (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned())
            };
            let forger = SigningKey::generate().unwrap();
            let forged = format!("{header}.{payload}.{}", forger.sign_input(&format!("{header}.{payload}")));
            let header_of_other_typ = B64.encode(json!({"alg": "ES256", "kid": key.kid(), "typ": "JWT"}).to_string());
            let other_typ = format!(
                "{header_of_other_typ}.{payload}.{}",
                key.sign_input(&format!("{header_of_other_typ}.{payload}"))
            );
            // (case, token, presented certificate, reason contains)
            let cases: Vec<(&str, String, Option<&str>, String)> = vec![
                ("garbage", "abc".into(), None, String::new()),
                ("forged signature", forged, None, format!("signature: does not verify with key {}", key.kid())),
                ("not an access token", other_typ, None, "typ".into()),
                (
                    "another issuer",
                    signed(claims(&|c| c["iss"] = json!("https://elsewhere/identity"))),
                    None,
                    "not issued by".into(),
                ),
                ("expired", signed(claims(&|c| c["exp"] = json!(now - 1))), None, "expired at".into()),
                (
                    "another audience",
                    signed(claims(&|c| c["aud"] = json!("https://nod.annan.se"))),
                    None,
                    format!("not for {audience}"),
                ),
                (
                    "bound, over another certificate",
                    signed(claims(&|c| c["cnf"] = json!({"x5t#S256": "cert-a"}))),
                    Some("cert-b"),
                    "another client certificate".into(),
                ),
                (
                    "bound, no certificate",
                    signed(claims(&|c| c["cnf"] = json!({"x5t#S256": "cert-a"}))),
                    None,
                    "present it on the node listener".into(),
                ),
                // The forged token's claims with the service's own signature get past the signature and
                // every claim, and fail only at the client's membership: so the forgery failed at its
                // signature, not at anything after it.
                ("genuine, client no member", real, None, "no longer an active member".into()),
            ];
            for (case, token, presented, reason) in &cases {
                let refusal = tokens
                    .check(token, *presented, audience)
                    .await
                    .expect_err(&format!("{}: {case} is refused", db.label));
                assert_eq!((refusal.error, refusal.field), ("invalid_token", "authorization"), "{}: {case}", db.label);
                assert!(refusal.reason.contains(reason.as_str()), "{}: {case}: {refusal}", db.label);
            }
        }
    }
}
