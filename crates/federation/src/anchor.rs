//! The trust anchor service: its entity configuration, subordinate statements, resolve, trust marks,
//! onboarding (applications and decisions), suspension and revocation, and key transparency (everything it
//! issues is stored and appended to the audit log).
//!
//! Writes happen only after every check has passed and every token and certificate has been made, so
//! bad input never leaves anything half-written.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ena_audit::event::{ObjectRef, Result as AuditResult, now_rfc3339};
use ena_audit::{AuditEvent, AuditSink, Context};
use ena_core::{FieldError, Organisationsnummer};
use ena_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ca::{CaError, FederationCa, entity_host};
use crate::chain::{self, ChainError, ENTITY_STATEMENT_TYP, ErrorCode as ChainCode};
use crate::keys::KeyRing;
use crate::repo::{self, ApplicationRow, CertificateRow, MemberRow, StatementRow};
use ena_keys::jose::{self, Unverified};

/// Entity types ena knows: the OpenID Federation ones it uses and its own node type.
pub const ENTITY_TYPES: &[&str] = &[
    "federation_entity",
    "openid_provider",
    "openid_relying_party",
    "oauth_client",
    "oauth_resource",
    ENA_NODE,
    ENA_CREDENTIAL_ISSUER,
];
/// The entity type of a member that issues employee credentials (e-tjänstelegitimation); its metadata
/// carries the `jwks` the credentials are signed with.
pub const ENA_CREDENTIAL_ISSUER: &str = "ena_credential_issuer";
/// The entity type of an ena member node; its metadata carries endpoints, keys and the TLS thumbprint.
pub const ENA_NODE: &str = "ena_node";
pub const TRUST_MARK_TYP: &str = "trust-mark+jwt";
/// The media type entity configurations are served with.
pub const ENTITY_STATEMENT_MEDIA_TYPE: &str = "application/entity-statement+jwt";
pub const RESOLVE_TYP: &str = "resolve-response+jwt";
pub const STATUS_TYP: &str = "trust-mark-status-response+jwt";
pub const HISTORICAL_KEYS_TYP: &str = "jwk-set+jwt";
/// Largest JWKS a member may register (bytes of JSON) and number of keys in it.
pub const MAX_JWKS_BYTES: usize = 16 * 1024;
pub const MAX_JWKS_KEYS: usize = 10;

/// The trust anchor's settings.
#[derive(Debug, Clone)]
pub struct AnchorConfig {
    /// The anchor's entity identifier (its public base URL).
    pub entity_id: String,
    pub name: String,
    /// Lifetime of issued statements, seconds; they are renewed at half-life.
    pub lifetime: i64,
    /// The metadata policy put in every subordinate statement.
    pub metadata_policy: Value,
    /// Trust mark types this anchor issues (as their identifiers).
    pub trust_mark_types: Vec<String>,
    /// More metadata of the anchor's own entity configuration, per entity type (e.g. the signature
    /// service's keys).
    pub extra_metadata: Value,
}

impl AnchorConfig {
    pub fn new(entity_id: &str) -> AnchorConfig {
        let id = entity_id.trim_end_matches('/').to_owned();
        AnchorConfig {
            trust_mark_types: ["connected-mina-meddelanden", "loa2", "loa3", "loa4"]
                .iter()
                .map(|t| format!("{id}/trust-marks/{t}"))
                .collect(),
            entity_id: id,
            name: "ena".into(),
            lifetime: 86_400,
            metadata_policy: json!({}),
            extra_metadata: json!({}),
        }
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/federation/v1/{path}", self.entity_id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("the request is invalid")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The caller is authenticated but may not do this (another member's configuration, say).
    #[error("{0}")]
    Forbidden(String),
    /// A resolve or validation failure with OpenID Federation's error code.
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("the audit log could not record it: {0}")]
    Audit(String),
    #[error("certificate authority: {0}")]
    Ca(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn invalid(field: &str, value: impl ToString, reason: impl Into<String>) -> FederationError {
    FederationError::Invalid(vec![FieldError::new(field, value, reason)])
}

/// What an organisation sends to join.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationInput {
    #[schema(example = "212000-0142")]
    pub organisation_number: String,
    #[schema(example = "Exempelkommunen")]
    pub name: String,
    /// An e-mail address for federation matters.
    #[schema(example = "federation@exempel.kommun.se")]
    pub contact: String,
    /// The member's entity identifier (an https URL).
    #[schema(example = "https://node.exempel.kommun.se")]
    pub entity_id: String,
    /// The member's federation signing keys (public JWK Set).
    #[schema(value_type = Object)]
    pub jwks: Value,
    #[schema(example = json!(["ena_node"]))]
    pub entity_types: Vec<String>,
    /// Metadata per entity type the member declares (e.g. its node endpoints).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Trust mark types requested.
    #[serde(default)]
    pub trust_marks: Vec<String>,
    /// A PEM certificate signing request (subject CN = the entity's host) or PEM public key for the node's
    /// TLS certificate. The private key never leaves the member.
    #[serde(default)]
    pub key_request: Option<String>,
    /// The member's own signed entity configuration (`entity-statement+jwt`), so resolve can build its
    /// chain; it can also be sent later.
    #[serde(default)]
    pub entity_configuration: Option<String>,
    /// The agreement version the applicant accepts; must be the current one.
    pub accept_agreement: Option<i64>,
}

/// An application as shown to applicants and operators.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: String,
    pub entity_id: String,
    pub organisation_number: String,
    pub name: String,
    pub contact: String,
    pub entity_types: Vec<String>,
    pub trust_marks: Vec<String>,
    /// pending, approved or rejected.
    pub status: String,
    pub reason: Option<String>,
    pub agreement_version: i64,
    pub created_at: String,
    pub decided_at: Option<String>,
    /// The node certificate (PEM), once approved (on a single application's view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

impl From<ApplicationRow> for Application {
    fn from(r: ApplicationRow) -> Self {
        Application {
            entity_types: serde_json::from_str(&r.entity_types).unwrap_or_default(),
            trust_marks: serde_json::from_str(&r.trust_marks).unwrap_or_default(),
            id: r.id,
            entity_id: r.entity_id,
            organisation_number: r.organisation_number,
            name: r.name,
            contact: r.contact,
            status: r.status,
            reason: r.reason,
            agreement_version: r.agreement_version,
            created_at: r.created_at,
            decided_at: r.decided_at,
            certificate: None,
        }
    }
}

/// The agreement (anslutningsavtal) in force.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Agreement {
    pub version: i64,
    pub title: String,
    pub body: String,
    pub published_at: String,
}

/// A member as the operator sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub entity_id: String,
    pub organisation_number: String,
    pub name: String,
    pub entity_types: Vec<String>,
    /// active, suspended or revoked.
    pub status: String,
    pub agreement_version: i64,
    pub updated_at: String,
    /// The node certificate in force (PEM), if one was issued.
    pub certificate: Option<String>,
}

/// One thing the federation said about an entity, with its place in the transparency log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItem {
    /// entity-configuration, subordinate-statement, trust-mark, certificate, agreement-acceptance, revocation.
    pub kind: String,
    /// The token or certificate exactly as issued.
    pub token: String,
    /// base64url SHA-256 of `token`, as recorded in the log event.
    pub sha256: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<String>,
    /// Index of the log entry recording it (prove with /audit/v1/proofs/inclusion).
    pub log_index: Option<i64>,
}

fn sha256(token: &str) -> String {
    B64.encode(Sha256::digest(token.as_bytes()))
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[derive(Default)]
struct Cache {
    configuration: Option<(String, i64)>,
    /// Per subject: the signed answer, its expiry, and the federation revision it was made at.
    resolved: HashMap<String, (String, i64, i64)>,
}

/// The trust anchor (and trust mark issuer, and CA) of the federation.
pub struct TrustAnchor {
    store: Store,
    config: AnchorConfig,
    vault: ena_keys::KeyVault,
    /// The key ring as last loaded from the vault; `reload_keys` replaces it when another instance (or
    /// `ena federation rotate-key`) added a key.
    ring: std::sync::RwLock<std::sync::Arc<KeyRing>>,
    ca: FederationCa,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for TrustAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustAnchor").field("entity_id", &self.config.entity_id).finish_non_exhaustive()
    }
}

/// A statement to store and record once the writes of an operation begin.
struct Issue {
    sub: String,
    kind: &'static str,
    token: String,
    issued_at: i64,
    expires_at: i64,
}

impl TrustAnchor {
    /// Open the anchor: key ring and CA from the deployment's key vault (made on first start, or imported
    /// from the key files of `legacy_dir`, a data directory of before the vault), the first agreement
    /// published if there is none.
    pub async fn open(
        store: Store,
        config: AnchorConfig,
        vault: ena_keys::KeyVault,
        legacy_dir: Option<&Path>,
    ) -> Result<TrustAnchor, FederationError> {
        let keys =
            KeyRing::open(&vault, legacy_dir, unix_now()).await.map_err(|e| FederationError::Ca(e.to_string()))?;
        let ca = FederationCa::open(&vault, legacy_dir, &config.name)
            .await
            .map_err(|e| FederationError::Ca(e.to_string()))?;
        if repo::current_agreement(&store).await?.is_none() {
            repo::publish_agreement(&store, DEFAULT_AGREEMENT_TITLE, DEFAULT_AGREEMENT, &now_rfc3339()).await?;
        }
        let ring = std::sync::RwLock::new(std::sync::Arc::new(keys));
        Ok(TrustAnchor { store, config, vault, ring, ca, cache: Mutex::new(Cache::default()) })
    }

    /// The key ring in use.
    fn keys(&self) -> std::sync::Arc<KeyRing> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Read the ring from the vault again (the server does so every minute, well within
    /// `keys::ROLLOVER_NOTICE`); when it changed, the cached entity configuration and resolve answers
    /// are dropped so the new keys are published at once. Returns whether it changed.
    pub async fn reload_keys(&self) -> Result<bool, FederationError> {
        let fresh = KeyRing::load(&self.vault).await.map_err(|e| FederationError::Ca(e.to_string()))?;
        if fresh.kids() == self.keys().kids() {
            return Ok(false);
        }
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(fresh);
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Cache::default();
        Ok(true)
    }

    pub fn config(&self) -> &AnchorConfig {
        &self.config
    }

    pub fn entity_id(&self) -> &str {
        &self.config.entity_id
    }

    /// The JWKS of the anchor's entity configuration (what members pin as the trust anchor's keys).
    pub fn jwks(&self) -> Value {
        self.keys().published(unix_now(), self.config.lifetime)
    }

    pub fn ca_certificate(&self) -> &str {
        self.ca.certificate_pem()
    }

    /// An answer of the central services signed with the anchor's active key (`typ`, `iss` = the anchor,
    /// `iat`), so a member checks it with the keys of the anchor's entity configuration, whatever the
    /// channel: a man in the middle cannot swap what it says (recipients' encryption keys, say).
    pub fn sign_answer(&self, typ: &str, mut claims: Value) -> String {
        claims["iss"] = json!(self.config.entity_id);
        claims["iat"] = json!(unix_now());
        self.keys().active().sign(typ, &claims)
    }

    /// Drop cached resolve responses (benchmarks measure uncached resolves with it).
    pub fn clear_resolve_cache(&self) {
        self.cache.lock().expect("cache lock").resolved.clear();
    }

    /// After a membership change: raise the federation's revision, so every instance's cached resolve
    /// answers (this one's too) are made anew.
    async fn changed(&self) -> Result<(), FederationError> {
        repo::raise_revision(&self.store).await?;
        self.clear_resolve_cache();
        Ok(())
    }

    /// Store the issued statements and append one event per statement plus `extra` events; each stored
    /// statement learns its log index.
    async fn publish(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        issues: Vec<Issue>,
        mut extra: Vec<AuditEvent>,
    ) -> Result<(), FederationError> {
        let mut ids = Vec::new();
        let mut events = Vec::new();
        // What the federation issues is the trust anchor's act (public in the log, naming no person);
        // the decision that led to it is `ctx`'s own event, under the same correlation id.
        let issuer = Context {
            actor: ena_audit::Actor {
                kind: ena_audit::ActorKind::System,
                id: "trust-anchor".into(),
                organisation: None,
            },
            on_behalf_of: None,
            correlation_id: ctx.correlation_id.clone(),
        };
        for issue in &issues {
            let id = uuid::Uuid::now_v7().to_string();
            repo::insert_statement(
                &self.store,
                &StatementRow {
                    id: id.clone(),
                    sub: issue.sub.clone(),
                    kind: issue.kind.into(),
                    token: issue.token.clone(),
                    issued_at: issue.issued_at,
                    expires_at: issue.expires_at,
                    revoked_at: None,
                    log_index: None,
                },
            )
            .await?;
            let mut event = issuer.event(
                &format!("federation.{}.issue", issue.kind),
                Some(ObjectRef { kind: "entity".into(), id: issue.sub.clone() }),
                AuditResult::Allowed,
                None,
            );
            event.details = Some(BTreeMap::from([
                ("kind".to_owned(), issue.kind.to_owned()),
                ("sha256".to_owned(), sha256(&issue.token)),
            ]));
            events.push(event);
            ids.push(id);
        }
        let count = events.len();
        events.append(&mut extra);
        if events.is_empty() {
            return Ok(());
        }
        let appended = audit.record(events).await.map_err(|e| FederationError::Audit(e.to_string()))?;
        for (i, id) in ids.iter().enumerate().take(count) {
            repo::set_log_index(&self.store, id, appended.first_index + i as u64).await?;
        }
        Ok(())
    }

    // ---- The anchor's own entity configuration ----

    fn sign_configuration(&self, now: i64) -> (String, i64) {
        let c = &self.config;
        let exp = now + c.lifetime;
        let issuers: serde_json::Map<String, Value> =
            c.trust_mark_types.iter().map(|t| (t.clone(), json!([c.entity_id]))).collect();
        let claims = json!({
            "iss": c.entity_id, "sub": c.entity_id, "iat": now, "exp": exp,
            "jwks": self.keys().published(now, c.lifetime),
            "metadata": {"federation_entity": {
                "organization_name": c.name,
                "federation_fetch_endpoint": c.endpoint("fetch"),
                "federation_list_endpoint": c.endpoint("list"),
                "federation_resolve_endpoint": c.endpoint("resolve"),
                "federation_trust_mark_status_endpoint": c.endpoint("trust-mark-status"),
                "federation_trust_mark_endpoint": c.endpoint("trust-mark"),
                "federation_historical_keys_endpoint": c.endpoint("historical-keys"),
                "ena_crl_uri": c.endpoint("crl"),
                "ena_ca_certificate_uri": c.endpoint("ca-certificate"),
            }},
            "trust_mark_issuers": issuers,
        });
        let mut claims = claims;
        for (t, v) in c.extra_metadata.as_object().into_iter().flatten() {
            claims["metadata"][t] = v.clone();
        }
        (self.keys().active().sign(ENTITY_STATEMENT_TYP, &claims), exp)
    }

    /// The anchor's entity configuration; re-issued (and logged) at half-life.
    pub async fn entity_configuration(&self, audit: &dyn AuditSink) -> Result<String, FederationError> {
        let now = unix_now();
        let half = self.config.lifetime / 2;
        if let Some((token, exp)) = &self.cache.lock().expect("cache lock").configuration
            && exp - now > half
        {
            return Ok(token.clone());
        }
        // Another process (or a restart) may have issued one that is still fresh.
        if let Some(row) = repo::latest_statement(&self.store, &self.config.entity_id, "entity-configuration").await?
            && row.expires_at - now > half
            && Unverified::parse(&row.token)
                .and_then(|t| t.verify(&self.jwks()).map(|()| t))
                .is_ok_and(|t| t.payload.get("jwks") == Some(&self.jwks()))
        {
            self.cache.lock().expect("cache lock").configuration = Some((row.token.clone(), row.expires_at));
            return Ok(row.token);
        }
        let (token, exp) = self.sign_configuration(now);
        let issue = Issue {
            sub: self.config.entity_id.clone(),
            kind: "entity-configuration",
            token: token.clone(),
            issued_at: now,
            expires_at: exp,
        };
        self.publish(audit, &Context::system("federation"), vec![issue], vec![]).await?;
        self.cache.lock().expect("cache lock").configuration = Some((token.clone(), exp));
        Ok(token)
    }

    /// The historical keys (a signed `jwk-set+jwt`).
    pub fn historical_keys(&self) -> String {
        let now = unix_now();
        let claims = json!({"iss": self.config.entity_id, "iat": now, "keys": self.keys().history()});
        self.keys().active().sign(HISTORICAL_KEYS_TYP, &claims)
    }

    // ---- Onboarding ----

    pub async fn agreement(&self) -> Result<Agreement, FederationError> {
        let a = repo::current_agreement(&self.store)
            .await?
            .ok_or_else(|| FederationError::NotFound("no agreement is published".into()))?;
        Ok(Agreement { version: a.version, title: a.title, body: a.body, published_at: a.published_at })
    }

    /// Why `entity_id`'s host cannot be a member's, if it cannot: node certificates name the host, so
    /// two members on one host could act as each other over TLS, and a member on the anchor's host (or
    /// `localhost`, which the anchor's own node-listener certificate names) could pose as the anchor.
    async fn host_taken(&self, entity_id: &str) -> Result<Option<String>, FederationError> {
        let Some(host) = entity_host(entity_id).map(str::to_ascii_lowercase) else { return Ok(None) };
        let anchor = self.config.entity_id.split("://").nth(1).unwrap_or_default();
        let anchor_host = anchor.split(['/', ':']).next().unwrap_or_default().to_ascii_lowercase();
        if host == anchor_host || host == "localhost" {
            return Ok(Some(format!("its host {host} is the trust anchor's; a member needs a host of its own")));
        }
        let mut offset = 0;
        loop {
            let page = repo::members(&self.store, Some("active"), 500, offset).await?;
            let n = page.len();
            if let Some(m) = page.iter().find(|m| {
                m.entity_id != entity_id && entity_host(&m.entity_id).is_some_and(|h| h.eq_ignore_ascii_case(&host))
            }) {
                return Ok(Some(format!(
                    "another member ({}) already uses the host {host}: one member per host (certificates name the host)",
                    m.entity_id
                )));
            }
            if n < 500 {
                return Ok(None);
            }
            offset += 500;
        }
    }

    /// Check an application; on success returns the row to store.
    async fn check_application(&self, input: &ApplicationInput) -> Result<ApplicationRow, FederationError> {
        let mut errors = Vec::new();
        let org = match Organisationsnummer::parse(&input.organisation_number) {
            Ok(o) => o.as_str().to_owned(),
            Err(e) => {
                errors.push(FieldError::new("organisationNumber", &input.organisation_number, e.to_string()));
                String::new()
            }
        };
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("name", &input.name, "must be 1 to 200 characters"));
        }
        let contact = input.contact.trim();
        if !contact.contains('@') || contact.len() > 254 || contact.contains(char::is_whitespace) {
            errors.push(FieldError::new("contact", &input.contact, "must be an e-mail address"));
        }
        let entity_id = input.entity_id.trim().trim_end_matches('/').to_owned();
        if entity_host(&entity_id).is_none() || entity_id.len() > 255 || entity_id.contains(['?', '#', ' ']) {
            errors.push(FieldError::new(
                "entityId",
                &input.entity_id,
                "must be an https URL with a host, no query or fragment",
            ));
        } else if entity_id == self.config.entity_id {
            errors.push(FieldError::new("entityId", &input.entity_id, "is the trust anchor's own identifier"));
        } else if let Some(why) = self.host_taken(&entity_id).await? {
            errors.push(FieldError::new("entityId", &input.entity_id, why));
        }
        let jwks_text = input.jwks.to_string();
        if jwks_text.len() > MAX_JWKS_BYTES {
            errors.push(FieldError::new(
                "jwks",
                format!("{} bytes", jwks_text.len()),
                format!("must be at most {MAX_JWKS_BYTES} bytes"),
            ));
        } else if let Err(e) = jose::check_public_jwks(&input.jwks, MAX_JWKS_KEYS) {
            errors.push(FieldError::new("jwks", "(keys)", e.reason));
        }
        if input.entity_types.is_empty() {
            errors.push(FieldError::new("entityTypes", "[]", "name at least one entity type"));
        }
        for (i, t) in input.entity_types.iter().enumerate() {
            if !ENTITY_TYPES.contains(&t.as_str()) {
                errors.push(FieldError::new(
                    format!("entityTypes[{i}]"),
                    t,
                    format!("must be one of {}", ENTITY_TYPES.join(", ")),
                ));
            }
        }
        for (i, t) in input.trust_marks.iter().enumerate() {
            if !self.config.trust_mark_types.contains(t) {
                errors.push(FieldError::new(
                    format!("trustMarks[{i}]"),
                    t,
                    format!("must be one of {}", self.config.trust_mark_types.join(", ")),
                ));
            }
        }
        let metadata = input.metadata.clone().unwrap_or_else(|| json!({}));
        match metadata.as_object() {
            Some(m) => {
                for t in m.keys() {
                    if !input.entity_types.contains(t) {
                        errors.push(FieldError::new(
                            format!("metadata.{t}"),
                            t,
                            "metadata for an entity type not applied for",
                        ));
                    }
                }
                if metadata.to_string().len() > 64 * 1024 {
                    errors.push(FieldError::new("metadata", "(object)", "must be at most 64 KiB"));
                }
            }
            None => errors.push(FieldError::new("metadata", &metadata, "must be an object keyed by entity type")),
        }
        if let Some(req) = &input.key_request
            && errors.iter().all(|e| e.property != "entityId")
            && let Err(e) = self.ca.issue(req, &entity_id, name, &org)
        {
            errors.push(FieldError::new("keyRequest", "(PEM)", e.to_string()));
        }
        if let Some(ec) = &input.entity_configuration
            && let Err(e) =
                check_member_configuration(ec, &entity_id, &input.jwks, &input.entity_types, &self.config.entity_id)
        {
            errors.push(e);
        }
        let agreement = self.agreement().await?;
        match input.accept_agreement {
            Some(v) if v == agreement.version => {}
            Some(v) => errors.push(FieldError::new(
                "acceptAgreement",
                v,
                format!("the agreement in force is version {}", agreement.version),
            )),
            None => errors.push(FieldError::new(
                "acceptAgreement",
                "(missing)",
                format!("accept agreement version {} (GET /federation/v1/agreement)", agreement.version),
            )),
        }
        if !errors.is_empty() {
            return Err(FederationError::Invalid(errors));
        }
        if let Some(m) = repo::member(&self.store, &entity_id).await?
            && m.status == "active"
        {
            return Err(FederationError::Conflict(format!("{entity_id} is already an active member")));
        }
        Ok(ApplicationRow {
            id: uuid::Uuid::now_v7().to_string(),
            entity_id,
            organisation_number: org,
            name: name.to_owned(),
            contact: contact.to_owned(),
            jwks: jwks_text,
            entity_types: serde_json::to_string(&input.entity_types).unwrap_or_default(),
            metadata: metadata.to_string(),
            trust_marks: serde_json::to_string(&input.trust_marks).unwrap_or_default(),
            key_request: input.key_request.clone(),
            entity_configuration: input.entity_configuration.clone(),
            agreement_version: agreement.version,
            status: "pending".into(),
            reason: None,
            created_at: now_rfc3339(),
            decided_at: None,
        })
    }

    /// An organisation applies to join; the acceptance of the agreement is logged.
    pub async fn apply(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        input: &ApplicationInput,
    ) -> Result<Application, FederationError> {
        let row = self.check_application(input).await?;
        if !repo::insert_application(&self.store, &row).await? {
            return Err(FederationError::Conflict(format!("{} already has a pending application", row.entity_id)));
        }
        let object = Some(ObjectRef { kind: "entity".into(), id: row.entity_id.clone() });
        let submit = ctx.event("federation.application.submit", object.clone(), AuditResult::Allowed, None);
        let mut accept = ctx.event("federation.agreement.accept", object, AuditResult::Allowed, None);
        accept.details = Some(BTreeMap::from([
            ("agreementVersion".to_owned(), row.agreement_version.to_string()),
            ("organisationNumber".to_owned(), row.organisation_number.clone()),
            ("application".to_owned(), row.id.clone()),
        ]));
        self.publish(audit, ctx, vec![], vec![submit, accept]).await?;
        Ok(row.into())
    }

    /// An application; once approved, with the member's node certificate (certificates are public: the
    /// applicant, who holds the key, collects its certificate here with the application id).
    pub async fn application(&self, id: &str) -> Result<Application, FederationError> {
        let mut app: Application = repo::application(&self.store, id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("no application {id}")))?
            .into();
        if app.status == "approved" {
            app.certificate = self.member(&app.entity_id).await.ok().and_then(|m| m.certificate);
        }
        Ok(app)
    }

    pub async fn applications(
        &self,
        status: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Application>, FederationError> {
        if let Some(s) = status
            && !["pending", "approved", "rejected"].contains(&s)
        {
            return Err(invalid("status", s, "must be pending, approved or rejected"));
        }
        Ok(repo::applications(&self.store, status, limit, offset).await?.into_iter().map(Application::from).collect())
    }

    /// Approve a pending application: the member is published (subordinate statement), its certificate
    /// issued and its trust marks issued.
    pub async fn approve(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        id: &str,
    ) -> Result<Application, FederationError> {
        let app = repo::application(&self.store, id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("no application {id}")))?;
        if app.status != "pending" {
            return Err(FederationError::Conflict(format!("application {id} was already {}", app.status)));
        }
        // Checked again: another application for the same host may have been approved meanwhile.
        if let Some(why) = self.host_taken(&app.entity_id).await? {
            return Err(FederationError::Conflict(format!("{}: {why}", app.entity_id)));
        }
        let now = unix_now();
        // Everything is made before anything is written.
        let issued = match &app.key_request {
            Some(req) => {
                Some(self.ca.issue(req, &app.entity_id, &app.name, &app.organisation_number).map_err(|e| match e {
                    CaError::BadRequest(m) => invalid("keyRequest", "(PEM)", m),
                    other => FederationError::Ca(other.to_string()),
                })?)
            }
            None => None,
        };
        let member = MemberRow {
            entity_id: app.entity_id.clone(),
            organisation_number: app.organisation_number.clone(),
            name: app.name.clone(),
            contact: app.contact.clone(),
            jwks: app.jwks.clone(),
            entity_types: app.entity_types.clone(),
            metadata: app.metadata.clone(),
            entity_configuration: app.entity_configuration.clone(),
            status: "active".into(),
            application_id: app.id.clone(),
            agreement_version: app.agreement_version,
            updated_at: now_rfc3339(),
        };
        let thumbprint = issued.as_ref().map(|c| c.thumbprint.clone());
        let (statement, exp) = self.sign_subordinate(&member, thumbprint.as_deref(), now);
        let mut issues = vec![Issue {
            sub: member.entity_id.clone(),
            kind: "subordinate-statement",
            token: statement,
            issued_at: now,
            expires_at: exp,
        }];
        let marks: Vec<String> = serde_json::from_str(&app.trust_marks).unwrap_or_default();
        for t in &marks {
            issues.push(self.sign_trust_mark(&member.entity_id, t, now));
        }
        if let Some(c) = &issued {
            issues.push(Issue {
                sub: member.entity_id.clone(),
                kind: "certificate",
                token: c.pem.clone(),
                issued_at: now,
                expires_at: c.not_after.unix_timestamp(),
            });
        }
        if !repo::decide_application(&self.store, id, "approved", None, &now_rfc3339()).await? {
            return Err(FederationError::Conflict(format!("application {id} was decided meanwhile")));
        }
        repo::upsert_member(&self.store, &member).await?;
        if let Some(c) = &issued {
            repo::insert_certificate(
                &self.store,
                &CertificateRow {
                    serial: c.serial.clone(),
                    entity_id: member.entity_id.clone(),
                    pem: c.pem.clone(),
                    thumbprint: c.thumbprint.clone(),
                    not_after: c.not_after.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                    revoked_at: None,
                },
            )
            .await?;
        }
        let decision = ctx.event(
            "federation.application.approve",
            Some(ObjectRef { kind: "entity".into(), id: member.entity_id.clone() }),
            AuditResult::Allowed,
            None,
        );
        self.publish(audit, ctx, issues, vec![decision]).await?;
        self.changed().await?;
        self.application(id).await
    }

    pub async fn reject(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        id: &str,
        reason: &str,
    ) -> Result<Application, FederationError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(invalid("reason", reason, "give a reason of 1 to 1000 characters"));
        }
        let app = repo::application(&self.store, id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("no application {id}")))?;
        if !repo::decide_application(&self.store, id, "rejected", Some(reason), &now_rfc3339()).await? {
            return Err(FederationError::Conflict(format!("application {id} was already {}", app.status)));
        }
        let event = ctx.event(
            "federation.application.reject",
            Some(ObjectRef { kind: "entity".into(), id: app.entity_id.clone() }),
            AuditResult::Allowed,
            Some(reason.to_owned()),
        );
        self.publish(audit, ctx, vec![], vec![event]).await?;
        self.application(id).await
    }

    /// Suspend (`revoke = false`) or revoke a member: gone from list and resolve, statements, trust marks
    /// and certificates revoked (the CRL lists them).
    pub async fn remove(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        entity_id: &str,
        revoke: bool,
        reason: &str,
    ) -> Result<Member, FederationError> {
        let status = if revoke { "revoked" } else { "suspended" };
        let member = repo::member(&self.store, entity_id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("no member {entity_id}")))?;
        if member.status == "revoked" || member.status == status {
            return Err(FederationError::Conflict(format!("{entity_id} is already {}", member.status)));
        }
        let now = now_rfc3339();
        repo::set_member_status(&self.store, entity_id, status, &now).await?;
        let serials = repo::revoke_certificates(&self.store, entity_id, &now).await?;
        for kind in ["subordinate-statement", "trust-mark", "certificate"] {
            repo::revoke_statements(&self.store, entity_id, kind, &now).await?;
        }
        let mut event = ctx.event(
            &format!("federation.member.{}", if revoke { "revoke" } else { "suspend" }),
            Some(ObjectRef { kind: "entity".into(), id: entity_id.to_owned() }),
            AuditResult::Allowed,
            (!reason.trim().is_empty()).then(|| reason.trim().to_owned()),
        );
        event.details = Some(BTreeMap::from([("revokedCertificates".to_owned(), serials.join(","))]));
        self.publish(audit, ctx, vec![], vec![event]).await?;
        self.changed().await?;
        self.member(entity_id).await
    }

    pub async fn member(&self, entity_id: &str) -> Result<Member, FederationError> {
        let m = repo::member(&self.store, entity_id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("no member {entity_id}")))?;
        self.member_view(m).await
    }

    pub async fn members(&self, status: Option<&str>, limit: u32, offset: u64) -> Result<Vec<Member>, FederationError> {
        let mut out = Vec::new();
        for m in repo::members(&self.store, status, limit, offset).await? {
            out.push(self.member_view(m).await?);
        }
        Ok(out)
    }

    /// A stored member as shown, with its certificate in force.
    async fn member_view(&self, m: MemberRow) -> Result<Member, FederationError> {
        let certificate = repo::certificates_of(&self.store, &m.entity_id)
            .await?
            .into_iter()
            .find(|c| c.revoked_at.is_none())
            .map(|c| c.pem);
        Ok(Member {
            entity_types: serde_json::from_str(&m.entity_types).unwrap_or_default(),
            entity_id: m.entity_id,
            organisation_number: m.organisation_number,
            name: m.name,
            status: m.status,
            agreement_version: m.agreement_version,
            updated_at: m.updated_at,
            certificate,
        })
    }

    /// A member replaces its entity configuration; the token authenticates itself (it must verify with the
    /// member's registered keys).
    ///
    /// Only the member itself may send it (`caller` is the entity id its mTLS certificate proves), only
    /// with metadata for the entity types the operator approved, and only strictly newer (`iat`) than
    /// the one in force: every configuration the member ever published is public inside resolve
    /// responses, so an older one must not roll it back to old keys or endpoints. Sending the one in
    /// force again changes nothing.
    pub async fn update_configuration(&self, caller: &str, token: &str) -> Result<(), FederationError> {
        let parsed = Unverified::parse(token).map_err(|e| invalid("entityConfiguration", "(JWT)", e.to_string()))?;
        let entity_id = parsed.payload.get("sub").and_then(Value::as_str).unwrap_or_default().trim_end_matches('/');
        if entity_id != caller {
            return Err(FederationError::Forbidden(format!(
                "a member may publish only its own entity configuration: the certificate is {caller}'s, the configuration is about {entity_id}"
            )));
        }
        let m = self.active_member(entity_id).await?;
        let jwks: Value = serde_json::from_str(&m.jwks).unwrap_or_default();
        let types: Vec<String> = serde_json::from_str(&m.entity_types).unwrap_or_default();
        let payload = check_member_configuration(token, entity_id, &jwks, &types, &self.config.entity_id)
            .map_err(|e| FederationError::Invalid(vec![e]))?;
        if let Some(current) = &m.entity_configuration {
            if current == token {
                return Ok(());
            }
            let iat = |p: &serde_json::Map<String, Value>| p.get("iat").and_then(Value::as_i64).unwrap_or(i64::MIN);
            let in_force = Unverified::parse(current).map(|c| iat(&c.payload)).unwrap_or(i64::MIN);
            if iat(&payload) <= in_force {
                return Err(FederationError::Conflict(format!(
                    "the entity configuration's iat {} is not newer than the one in force (iat {in_force}); sign a new one",
                    iat(&payload)
                )));
            }
        }
        repo::set_member_configuration(&self.store, entity_id, token, &now_rfc3339()).await?;
        self.changed().await?;
        Ok(())
    }

    async fn active_member(&self, entity_id: &str) -> Result<MemberRow, FederationError> {
        match repo::member(&self.store, entity_id).await? {
            Some(m) if m.status == "active" => Ok(m),
            _ => Err(FederationError::NotFound(format!("{entity_id} is not an active member of this federation"))),
        }
    }

    // ---- Statements ----

    fn sign_subordinate(&self, member: &MemberRow, thumbprint: Option<&str>, now: i64) -> (String, i64) {
        let exp = now + self.config.lifetime;
        let jwks: Value = serde_json::from_str(&member.jwks).unwrap_or_default();
        let types: Vec<String> = serde_json::from_str(&member.entity_types).unwrap_or_default();
        // The approved entity types travel with the statement: any chain validator (ours or another
        // implementation's) drops metadata of other types, whatever the member's configuration says.
        let mut claims = json!({
            "iss": self.config.entity_id, "sub": member.entity_id, "iat": now, "exp": exp, "jwks": jwks,
            "source_endpoint": self.config.endpoint("fetch"),
            "constraints": {"allowed_entity_types": types},
        });
        if self.config.metadata_policy.as_object().is_some_and(|p| !p.is_empty()) {
            claims["metadata_policy"] = self.config.metadata_policy.clone();
        }
        if let Some(t) = thumbprint
            && types.iter().any(|x| x == ENA_NODE)
        {
            // The anchor's word on the node's TLS certificate overrides anything the member says.
            claims["metadata"] = json!({ENA_NODE: {"tls_client_certificate_sha256": t}});
        }
        (self.keys().active().sign(ENTITY_STATEMENT_TYP, &claims), exp)
    }

    fn sign_trust_mark(&self, sub: &str, trust_mark_type: &str, now: i64) -> Issue {
        let exp = now + 365 * 86_400;
        let claims = json!({"iss": self.config.entity_id, "sub": sub, "trust_mark_type": trust_mark_type, "iat": now, "exp": exp});
        Issue {
            sub: sub.to_owned(),
            kind: "trust-mark",
            token: self.keys().active().sign(TRUST_MARK_TYP, &claims),
            issued_at: now,
            expires_at: exp,
        }
    }

    /// The subordinate statement about `sub` (fetch endpoint); re-issued and logged at half-life.
    pub async fn fetch(&self, audit: &dyn AuditSink, sub: &str) -> Result<String, FederationError> {
        if sub == self.config.entity_id {
            return Err(invalid(
                "sub",
                sub,
                "the anchor issues no statement about itself; get its entity configuration",
            ));
        }
        let member = self.active_member(sub).await?;
        let now = unix_now();
        if let Some(row) = repo::latest_statement(&self.store, sub, "subordinate-statement").await?
            && row.expires_at - now > self.config.lifetime / 2
        {
            return Ok(row.token);
        }
        let thumbprint = repo::certificates_of(&self.store, sub)
            .await?
            .into_iter()
            .find(|c| c.revoked_at.is_none())
            .map(|c| c.thumbprint);
        let (token, exp) = self.sign_subordinate(&member, thumbprint.as_deref(), now);
        let issue = Issue {
            sub: sub.to_owned(),
            kind: "subordinate-statement",
            token: token.clone(),
            issued_at: now,
            expires_at: exp,
        };
        self.publish(audit, &Context::system("federation"), vec![issue], vec![]).await?;
        Ok(token)
    }

    /// Entity ids of active members, optionally only those of one entity type or holding a trust mark type.
    pub async fn list(
        &self,
        entity_type: Option<&str>,
        trust_mark_type: Option<&str>,
    ) -> Result<Vec<String>, FederationError> {
        if let Some(t) = entity_type
            && !ENTITY_TYPES.contains(&t)
        {
            return Err(invalid("entity_type", t, format!("must be one of {}", ENTITY_TYPES.join(", "))));
        }
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = repo::members(&self.store, Some("active"), 500, offset).await?;
            let n = page.len();
            for m in page {
                let types: Vec<String> = serde_json::from_str(&m.entity_types).unwrap_or_default();
                if entity_type.is_some_and(|t| !types.iter().any(|x| x == t)) {
                    continue;
                }
                if let Some(tm) = trust_mark_type
                    && !self.active_trust_marks(&m.entity_id).await?.iter().any(|(t, _)| t == tm)
                {
                    continue;
                }
                out.push(m.entity_id);
            }
            if n < 500 {
                return Ok(out);
            }
            offset += 500;
        }
    }

    async fn active_trust_marks(&self, sub: &str) -> Result<Vec<(String, String)>, FederationError> {
        let now = unix_now();
        Ok(repo::statements_about(&self.store, sub, 100, 0)
            .await?
            .into_iter()
            .filter(|s| s.kind == "trust-mark" && s.revoked_at.is_none() && s.expires_at > now)
            .filter_map(|s| {
                let t = Unverified::parse(&s.token).ok()?.payload.get("trust_mark_type")?.as_str()?.to_owned();
                Some((t, s.token))
            })
            .collect())
    }

    /// Resolve `sub` under `trust_anchor` (must be this anchor): a signed resolve response with the
    /// validated chain and resolved metadata. Cached until its earliest expiry or a membership change.
    pub async fn resolve(
        &self,
        audit: &dyn AuditSink,
        sub: &str,
        trust_anchor: &str,
    ) -> Result<String, FederationError> {
        let now = unix_now();
        if trust_anchor.trim_end_matches('/') != self.config.entity_id {
            return Err(ChainError {
                code: ChainCode::InvalidTrustAnchor,
                index: 0,
                reason: format!(
                    "{trust_anchor} is not a trust anchor this resolver serves ({})",
                    self.config.entity_id
                ),
            }
            .into());
        }
        // The revision is read before anything else, so an answer cached now is never newer than the
        // revision it is stored under (a change by another instance after this read raises it again).
        let revision = repo::revision(&self.store).await?;
        if let Some((token, exp, at)) = self.cache.lock().expect("cache lock").resolved.get(sub)
            && *exp > now + 5
            && *at == revision
        {
            return Ok(token.clone());
        }
        let configuration = self.entity_configuration(audit).await?;
        let chain = if sub == self.config.entity_id {
            vec![configuration]
        } else {
            let member = self.active_member(sub).await.map_err(|_| ChainError {
                code: ChainCode::NotFound,
                index: 0,
                reason: format!("{sub} is not an active member"),
            })?;
            let ec = member.entity_configuration.ok_or_else(|| ChainError {
                code: ChainCode::NotFound,
                index: 0,
                reason: format!("{sub} has not published its entity configuration to the federation"),
            })?;
            vec![ec, self.fetch(audit, sub).await?, configuration]
        };
        let resolved = chain::validate(&chain, &self.config.entity_id, &self.jwks(), now)?;
        let marks: Vec<Value> = if sub == self.config.entity_id {
            vec![]
        } else {
            self.active_trust_marks(sub)
                .await?
                .into_iter()
                .map(|(t, token)| json!({"trust_mark_type": t, "trust_mark": token}))
                .collect()
        };
        let exp = resolved.expires.min(now + self.config.lifetime);
        let claims = json!({
            "iss": self.config.entity_id, "sub": sub, "iat": now, "exp": exp,
            "metadata": resolved.metadata, "trust_marks": marks, "trust_chain": chain,
        });
        let token = self.keys().active().sign(RESOLVE_TYP, &claims);
        self.cache.lock().expect("cache lock").resolved.insert(sub.to_owned(), (token.clone(), exp, revision));
        Ok(token)
    }

    /// The metadata of `sub` as the federation resolves it (chain validated, policies applied): what
    /// other blocks use to find a member's keys. Refused when `sub` is not an active member with a valid
    /// chain.
    pub async fn resolved_metadata(&self, audit: &dyn AuditSink, sub: &str) -> Result<Value, FederationError> {
        let token = self.resolve(audit, sub, &self.config.entity_id.clone()).await?;
        // We signed it a moment ago (or cached what we signed): the payload needs no second check.
        let parsed = Unverified::parse(&token).map_err(|e| FederationError::Ca(e.to_string()))?;
        Ok(parsed.payload.get("metadata").cloned().unwrap_or_else(|| json!({})))
    }

    /// The resolved metadata of `sub` for `entity_type`, only if the operator approved `sub` as that
    /// type. Every consumer of a type (credential issuers, token clients, providers) reads it here, so a
    /// member cannot take on a role by publishing its metadata; the subordinate statement's
    /// `allowed_entity_types` says the same to other validators.
    pub async fn approved_metadata(
        &self,
        audit: &dyn AuditSink,
        sub: &str,
        entity_type: &str,
    ) -> Result<Value, FederationError> {
        let member = self.active_member(sub).await?;
        let types: Vec<String> = serde_json::from_str(&member.entity_types).unwrap_or_default();
        if !types.iter().any(|t| t == entity_type) {
            return Err(FederationError::Forbidden(format!(
                "{sub} is not approved as {entity_type} in this federation (approved: {})",
                types.join(", ")
            )));
        }
        let mut metadata = self.resolved_metadata(audit, sub).await?;
        Ok(metadata.get_mut(entity_type).map(Value::take).unwrap_or_else(|| json!({})))
    }

    /// Fetch member `entity_id`'s entity configuration from where it serves it
    /// (`{entity_id}/.well-known/openid-federation`, media type `application/entity-statement+jwt`) and
    /// take it if it is newer than the one in force — with every check a push gets. `Ok(true)` when it
    /// replaced the stored one, `Ok(false)` when it is the one in force already.
    pub async fn refresh_configuration(&self, entity_id: &str) -> Result<bool, FederationError> {
        let member = self.active_member(entity_id).await?;
        let client = crate::client::member_reader(self.ca.certificate_pem()).map_err(FederationError::Ca)?;
        let url = format!("{}/.well-known/openid-federation", member.entity_id);
        let unreachable = |why: String| {
            invalid("entityId", entity_id, format!("{url} does not serve an entity configuration: {why}"))
        };
        let response = client.get(&url).send().await.map_err(|e| unreachable(e.to_string()))?;
        let typed = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with(ENTITY_STATEMENT_MEDIA_TYPE));
        if !response.status().is_success() || !typed {
            return Err(unreachable(format!("HTTP {} as {ENTITY_STATEMENT_MEDIA_TYPE}?", response.status())));
        }
        let token = response.text().await.map_err(|e| unreachable(e.to_string()))?;
        if member.entity_configuration.as_deref() == Some(token.trim()) {
            return Ok(false);
        }
        self.update_configuration(&member.entity_id, token.trim()).await?;
        Ok(true)
    }

    /// Refresh every active member's configuration from where it serves it; members that do not answer
    /// keep the one they pushed. Returns how many changed.
    pub async fn refresh_configurations(&self) -> Result<usize, FederationError> {
        let mut changed = 0;
        for id in self.list(None, None).await? {
            match self.refresh_configuration(&id).await {
                Ok(true) => changed += 1,
                Ok(false) => {}
                Err(e) => tracing::debug!(entity = %id, error = %e, "member configuration not refreshed"),
            }
        }
        Ok(changed)
    }

    /// The member node whose resolved `ena_node` metadata publishes `verifier_key` as its log's key, if
    /// any: the logs a witness of this federation cosigns without being configured for them.
    pub async fn member_with_log_key(
        &self,
        audit: &dyn AuditSink,
        verifier_key: &str,
    ) -> Result<Option<String>, FederationError> {
        for id in self.list(Some(ENA_NODE), None).await? {
            let Ok(node) = self.approved_metadata(audit, &id, ENA_NODE).await else { continue };
            if node.get("log_verifier_key").and_then(Value::as_str).map(str::trim) == Some(verifier_key.trim()) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Issue a trust mark of `trust_mark_type` to `sub` on demand (the trust mark endpoint): the newest
    /// valid one issued at approval.
    pub async fn trust_mark(&self, sub: &str, trust_mark_type: &str) -> Result<String, FederationError> {
        self.active_member(sub).await?;
        self.active_trust_marks(sub)
            .await?
            .into_iter()
            .find(|(t, _)| t == trust_mark_type)
            .map(|(_, token)| token)
            .ok_or_else(|| FederationError::NotFound(format!("{sub} holds no trust mark {trust_mark_type}")))
    }

    /// The status of a trust mark (a signed `trust-mark-status-response+jwt`): active, revoked, expired or
    /// invalid.
    pub async fn trust_mark_status(&self, token: &str) -> Result<String, FederationError> {
        let parsed = Unverified::parse(token).map_err(|e| invalid("trust_mark", "(JWT)", e.to_string()))?;
        let status = if parsed.expect_typ(TRUST_MARK_TYP).is_err() || parsed.verify(&self.keys().all()).is_err() {
            "invalid"
        } else {
            match repo::statement_by_token(&self.store, token).await? {
                None => "invalid",
                Some(s) if s.revoked_at.is_some() => "revoked",
                Some(s) if s.expires_at <= unix_now() => "expired",
                Some(_) => "active",
            }
        };
        let claims = json!({"iss": self.config.entity_id, "iat": unix_now(), "trust_mark": token, "status": status});
        Ok(self.keys().active().sign(STATUS_TYP, &claims))
    }

    /// Everything the federation issued about `sub`, newest first.
    pub async fn history(&self, sub: &str, limit: u32, offset: u64) -> Result<Vec<HistoryItem>, FederationError> {
        Ok(repo::statements_about(&self.store, sub, limit, offset)
            .await?
            .into_iter()
            .map(|s| HistoryItem {
                sha256: sha256(&s.token),
                kind: s.kind,
                token: s.token,
                issued_at: s.issued_at,
                expires_at: s.expires_at,
                revoked_at: s.revoked_at,
                log_index: s.log_index,
            })
            .collect())
    }

    /// The CRL (PEM) of every revoked certificate.
    pub async fn crl(&self) -> Result<String, FederationError> {
        let revoked: Vec<(String, time::OffsetDateTime)> = repo::revoked_certificates(&self.store)
            .await?
            .into_iter()
            .filter_map(|(serial, at)| {
                Some((serial, time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339).ok()?))
            })
            .collect();
        // The CRL number only has to grow: seconds since the epoch do.
        self.ca.crl(&revoked, unix_now().max(1) as u64).map_err(|e| FederationError::Ca(e.to_string()))
    }
}

/// A member node proven by its TLS client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePeer {
    pub entity_id: String,
    pub organisation_number: String,
    pub name: String,
    /// base64url SHA-256 of the certificate.
    pub certificate_sha256: String,
}

impl TrustAnchor {
    /// Who presented `der` (a client certificate that already chained to the federation CA): a member in
    /// good standing whose current, unrevoked certificate it is — or why not.
    pub async fn node_peer(&self, der: &[u8]) -> Result<NodePeer, String> {
        let thumbprint = crate::ca::thumbprint(der);
        let cert = repo::certificate_by_thumbprint(&self.store, &thumbprint)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the certificate was not issued to a member by this federation")?;
        if cert.revoked_at.is_some() {
            return Err("the certificate is revoked".into());
        }
        let member =
            repo::member(&self.store, &cert.entity_id).await.map_err(|e| e.to_string())?.ok_or("no such member")?;
        if member.status != "active" {
            return Err(format!("the member is {}", member.status));
        }
        Ok(NodePeer {
            entity_id: member.entity_id,
            organisation_number: member.organisation_number,
            name: member.name,
            certificate_sha256: thumbprint,
        })
    }

    /// The certificate and key of this instance's own node listener, issued by the CA for `names`.
    pub fn server_certificate(&self, names: &[String]) -> Result<(String, String), FederationError> {
        self.ca.issue_server(names).map_err(|e| FederationError::Ca(e.to_string()))
    }
}

/// A member's own entity configuration must be self-issued for `entity_id`, typed, signed with one of
/// the keys it registered, unexpired, name this anchor (`anchor_id`) in `authority_hints` (OpenID
/// Federation requires them of every entity but an anchor; a client that starts at the member finds its
/// superior there), and carry metadata only for `types` (the entity types applied for or approved;
/// `federation_entity` is every entity's). Returns its payload.
fn check_member_configuration(
    token: &str,
    entity_id: &str,
    jwks: &Value,
    types: &[String],
    anchor_id: &str,
) -> Result<serde_json::Map<String, Value>, FieldError> {
    let bad = |reason: String| FieldError::new("entityConfiguration", "(JWT)", reason);
    let parsed = Unverified::parse(token).map_err(|e| bad(e.to_string()))?;
    parsed.expect_typ(ENTITY_STATEMENT_TYP).map_err(|e| bad(e.to_string()))?;
    let claim =
        |n: &str| parsed.payload.get(n).and_then(Value::as_str).unwrap_or_default().trim_end_matches('/').to_owned();
    if claim("iss") != entity_id || claim("sub") != entity_id {
        return Err(bad(format!("iss and sub must both be {entity_id}")));
    }
    parsed.verify(jwks).map_err(|e| bad(format!("{e} (it must be signed with a key in jwks)")))?;
    let exp = parsed.payload.get("exp").and_then(Value::as_i64).ok_or_else(|| bad("exp is missing".into()))?;
    if exp <= unix_now() {
        return Err(bad("it has expired".into()));
    }
    let hints = parsed.payload.get("authority_hints").and_then(Value::as_array);
    if !hints.is_some_and(|h| h.iter().any(|a| a.as_str().map(|a| a.trim_end_matches('/')) == Some(anchor_id))) {
        return Err(FieldError::new(
            "entityConfiguration.authority_hints",
            "(JWT)",
            format!("must name the trust anchor {anchor_id} (authority_hints are required of every member)"),
        ));
    }
    if let Some(metadata) = parsed.payload.get("metadata").and_then(Value::as_object) {
        for t in metadata.keys() {
            if t != "federation_entity" && !types.iter().any(|a| a == t) {
                return Err(FieldError::new(
                    format!("entityConfiguration.metadata.{t}"),
                    t,
                    format!(
                        "metadata for an entity type the member is not approved for (approved: {})",
                        types.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(parsed.payload)
}

pub const DEFAULT_AGREEMENT_TITLE: &str = "Anslutningsavtal för ena-federationen, version 1";
pub const DEFAULT_AGREEMENT: &str = "Organisationen ansluter sin nod till federationen och åtar sig att: \
använda federationens nycklar och certifikat endast för sin egen nod; hålla sina privata nycklar hos sig; \
anmäla nyckelbyte och säkerhetsincidenter till operatören utan dröjsmål; logga sina utbyten i den \
manipuleringssäkra loggen; och följa federationens metadatapolicy. Operatören får stänga av en nod som \
bryter mot avtalet.";

#[cfg(test)]
mod tests {
    use super::*;
    use ena_audit::{AuditLog, NoteSigner, RuleSet};
    use ena_keys::jose::SigningKey;
    use ena_store::testing::test_stores;

    const ORG: &str = "212000-0142";

    struct Applicant {
        id: String,
        key: SigningKey,
        tls: rcgen::KeyPair,
    }

    impl Applicant {
        fn new(host: &str) -> Applicant {
            Applicant {
                id: format!("https://{host}"),
                key: SigningKey::generate().unwrap(),
                tls: rcgen::KeyPair::generate().unwrap(),
            }
        }
        fn jwks(&self) -> Value {
            json!({"keys": [self.key.public_jwk()]})
        }
        fn configuration(&self) -> String {
            let now = unix_now();
            self.key.sign(
                ENTITY_STATEMENT_TYP,
                &json!({"iss": self.id, "sub": self.id, "iat": now, "exp": now + 3600, "jwks": self.jwks(),
                "authority_hints": ["https://ena.example.se"],
                "metadata": {"ena_node": {"api_endpoint": format!("{}/node/v1", self.id)}}}),
            )
        }
        fn csr(&self, cn: &str) -> String {
            let mut p = rcgen::CertificateParams::new(vec![cn.to_owned()]).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            p.serialize_request(&self.tls).unwrap().pem().unwrap()
        }
        fn input(&self, version: i64) -> ApplicationInput {
            ApplicationInput {
                organisation_number: ORG.into(),
                name: "Exempelkommunen".into(),
                contact: "federation@exempel.se".into(),
                entity_id: self.id.clone(),
                jwks: self.jwks(),
                entity_types: vec![ENA_NODE.into()],
                metadata: Some(json!({"ena_node": {"api_endpoint": format!("{}/node/v1", self.id)}})),
                trust_marks: vec![],
                key_request: Some(self.csr(self.id.trim_start_matches("https://"))),
                entity_configuration: Some(self.configuration()),
                accept_agreement: Some(version),
            }
        }
    }

    fn fields(e: FederationError) -> Vec<String> {
        match e {
            FederationError::Invalid(errors) => errors.into_iter().map(|f| f.property).collect(),
            other => panic!("expected invalid input, got {other}"),
        }
    }

    #[tokio::test]
    async fn onboarding_resolve_and_removal_on_both_databases() {
        for db in test_stores().await {
            let label = &db.label;
            let audit =
                AuditLog::open(db.store.clone(), NoteSigner::ephemeral("test/log").unwrap(), RuleSet { rules: vec![] })
                    .await
                    .unwrap();
            let vault = ena_keys::KeyVault::new(db.store.clone(), ena_keys::Kek::generate());
            let ta = TrustAnchor::open(db.store.clone(), AnchorConfig::new("https://ena.example.se"), vault, None)
                .await
                .unwrap();
            let ctx = Context::system("test");
            let version = ta.agreement().await.unwrap().version;
            let node = Applicant::new("node.exempel.se");
            let mut input = node.input(version);
            input.trust_marks = vec![ta.config().trust_mark_types[0].clone()];

            // Bad input names its fields and writes nothing.
            let mut bad = input.clone();
            bad.organisation_number = "212000-0143".into();
            bad.entity_id = "http://node.exempel.se".into();
            bad.entity_types = vec!["printer".into()];
            bad.accept_agreement = None;
            bad.jwks = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x"}]});
            let f = fields(ta.apply(&audit, &ctx, &bad).await.unwrap_err());
            for name in ["organisationNumber", "entityId", "entityTypes[0]", "acceptAgreement", "jwks"] {
                assert!(f.contains(&name.to_owned()), "{label}: {name} in {f:?}");
            }
            let mut wrong_csr = input.clone();
            wrong_csr.key_request = Some(node.csr("evil.example.se"));
            assert_eq!(fields(ta.apply(&audit, &ctx, &wrong_csr).await.unwrap_err()), vec!["keyRequest"]);
            let mut forged = input.clone();
            forged.entity_configuration = Some(Applicant::new("node.exempel.se").configuration());
            assert_eq!(fields(ta.apply(&audit, &ctx, &forged).await.unwrap_err()), vec!["entityConfiguration"]);
            let mut big = input.clone();
            big.jwks = json!({"keys": vec![node.key.public_jwk().clone(); 200]});
            assert_eq!(fields(ta.apply(&audit, &ctx, &big).await.unwrap_err()), vec!["jwks"]);
            assert!(ta.applications(None, 10, 0).await.unwrap().is_empty(), "{label}: nothing half-written");

            let app = ta.apply(&audit, &ctx, &input).await.unwrap();
            assert_eq!(app.status, "pending");
            assert_eq!(app.organisation_number, "162120000142");
            assert!(
                matches!(ta.apply(&audit, &ctx, &input).await.unwrap_err(), FederationError::Conflict(_)),
                "{label}: one pending application per entity"
            );
            // Not a member yet: nothing to list, fetch or resolve.
            assert!(ta.list(None, None).await.unwrap().is_empty());
            assert!(ta.fetch(&audit, &node.id).await.is_err());

            let approved = ta.approve(&audit, &ctx, &app.id).await.unwrap();
            assert_eq!(approved.status, "approved");
            assert!(
                matches!(ta.approve(&audit, &ctx, &app.id).await.unwrap_err(), FederationError::Conflict(_)),
                "{label}: approving twice"
            );
            assert!(matches!(
                ta.reject(&audit, &ctx, &app.id, "late").await.unwrap_err(),
                FederationError::Conflict(_)
            ));
            assert_eq!(ta.list(Some(ENA_NODE), None).await.unwrap(), vec![node.id.clone()]);
            assert!(ta.list(Some("openid_provider"), None).await.unwrap().is_empty());
            assert_eq!(ta.list(None, Some(&ta.config().trust_mark_types[0])).await.unwrap(), vec![node.id.clone()]);
            let member = ta.member(&node.id).await.unwrap();
            let cert = member.certificate.clone().expect("a certificate was issued");

            // Resolve: a chain any validator accepts, the anchor's thumbprint override in the metadata.
            let resolved = ta.resolve(&audit, &node.id, "https://ena.example.se").await.unwrap();
            let r = Unverified::parse(&resolved).unwrap();
            r.expect_typ(RESOLVE_TYP).unwrap();
            r.verify(&ta.jwks()).unwrap();
            let chain: Vec<String> = serde_json::from_value(r.payload["trust_chain"].clone()).unwrap();
            assert_eq!(chain.len(), 3);
            chain::validate(&chain, ta.entity_id(), &ta.jwks(), unix_now()).unwrap();
            let (_, der) = x509_parser::pem::parse_x509_pem(cert.as_bytes()).unwrap();
            assert_eq!(
                r.payload["metadata"][ENA_NODE]["tls_client_certificate_sha256"],
                crate::ca::thumbprint(&der.contents)
            );
            assert_eq!(r.payload["metadata"][ENA_NODE]["api_endpoint"], format!("{}/node/v1", node.id));
            assert_eq!(r.payload["trust_marks"].as_array().unwrap().len(), 1);
            assert_eq!(
                ta.resolve(&audit, &node.id, "https://other.example.se")
                    .await
                    .unwrap_err()
                    .to_string()
                    .split(':')
                    .next(),
                Some("invalid_trust_anchor")
            );
            assert!(ta.resolve(&audit, "https://nobody.example.se", ta.entity_id()).await.is_err());

            // Trust mark status.
            let mark = ta.trust_mark(&node.id, &ta.config().trust_mark_types[0]).await.unwrap();
            let status = |t: String| Unverified::parse(&t).unwrap().payload["status"].as_str().unwrap().to_owned();
            assert_eq!(status(ta.trust_mark_status(&mark).await.unwrap()), "active");
            let other_key =
                SigningKey::generate().unwrap().sign(TRUST_MARK_TYP, &json!({"iss": ta.entity_id(), "sub": node.id}));
            assert_eq!(status(ta.trust_mark_status(&other_key).await.unwrap()), "invalid");

            // History: every statement with its log index, provable.
            let history = ta.history(&node.id, 50, 0).await.unwrap();
            let kinds: Vec<&str> = history.iter().map(|h| h.kind.as_str()).collect();
            for k in ["subordinate-statement", "trust-mark", "certificate"] {
                assert!(kinds.contains(&k), "{label}: {k} in {kinds:?}");
            }
            for h in &history {
                let entry = audit.entry(h.log_index.unwrap() as u64).await.unwrap();
                assert_eq!(entry.event.details.as_ref().unwrap()["sha256"], h.sha256, "{label}");
            }

            // Suspension: gone from list and resolve, certificate on the CRL, trust mark revoked.
            ta.remove(&audit, &ctx, &node.id, false, "test").await.unwrap();
            assert!(ta.list(None, None).await.unwrap().is_empty());
            assert!(
                ta.resolve(&audit, &node.id, ta.entity_id()).await.is_err(),
                "{label}: the cached resolution is dropped"
            );
            assert_eq!(status(ta.trust_mark_status(&mark).await.unwrap()), "revoked");
            let crl = ta.crl().await.unwrap();
            let (_, der) = x509_parser::pem::parse_x509_pem(crl.as_bytes()).unwrap();
            use x509_parser::prelude::FromDer;
            let (_, parsed) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der.contents).unwrap();
            assert_eq!(parsed.iter_revoked_certificates().count(), 1, "{label}");
            assert!(matches!(
                ta.remove(&audit, &ctx, &node.id, false, "").await.unwrap_err(),
                FederationError::Conflict(_)
            ));

            // The anchor's own configuration resolves and is logged once while fresh.
            let ec = ta.entity_configuration(&audit).await.unwrap();
            assert_eq!(ec, ta.entity_configuration(&audit).await.unwrap());
            assert!(ta.resolve(&audit, ta.entity_id(), ta.entity_id()).await.is_ok());
        }
    }
}
