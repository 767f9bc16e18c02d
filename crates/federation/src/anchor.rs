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
use ena_audit::event::{ObjectRef, Result as AuditResult};
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

mod onboarding;
mod statements;

pub use statements::NodePeer;

/// Entity types ena knows: the OpenID Federation ones it uses and its own node type.
pub const ENTITY_TYPES: &[&str] = &[
    "federation_entity",
    "openid_provider",
    "openid_relying_party",
    "oauth_client",
    "oauth_resource",
    ENA_NODE,
    ENA_CREDENTIAL_ISSUER,
    ENA_MAILBOX_OPERATOR,
];

/// The entity type of a mailbox operator of Mina meddelanden (a Min myndighetspost, Kivra-like service):
/// its metadata names the operator and the address in the address registry its node receives mail at.
/// The recipient registry points only at members approved as this type that hold the
/// `connected-mina-meddelanden` trust mark.
pub const ENA_MAILBOX_OPERATOR: &str = "ena_mailbox_operator";

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
    // The required fields default when missing, so the check names every missing one in one answer
    // (serde would stop at the first); the schema still marks them required.
    #[serde(default)]
    #[schema(example = "212000-0142", required = true)]
    pub organisation_number: String,
    #[serde(default)]
    #[schema(example = "Exempelkommunen", required = true)]
    pub name: String,
    /// An e-mail address for federation matters.
    #[serde(default)]
    #[schema(example = "federation@exempel.kommun.se", required = true)]
    pub contact: String,
    /// The member's entity identifier (an https URL).
    #[serde(default)]
    #[schema(example = "https://node.exempel.kommun.se", required = true)]
    pub entity_id: String,
    /// The member's federation signing keys (public JWK Set).
    #[serde(default)]
    #[schema(value_type = Object, required = true)]
    pub jwks: Value,
    #[serde(default)]
    #[schema(example = json!(["ena_node"]), required = true)]
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

/// Where an application stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationStatus {
    Pending,
    Approved,
    Rejected,
}
ena_core::text_enum!(ApplicationStatus { Pending = "pending", Approved = "approved", Rejected = "rejected" });

/// Where a member stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    Active,
    Suspended,
    Revoked,
}
ena_core::text_enum!(MemberStatus { Active = "active", Suspended = "suspended", Revoked = "revoked" });

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
    pub status: ApplicationStatus,
    pub reason: Option<String>,
    pub agreement_version: i64,
    pub created_at: String,
    pub decided_at: Option<String>,
    /// Who decided: the acting audit actor's id (a person's identity number, or `operator-token` for
    /// the bootstrap token); absent while pending and for decisions taken before it was recorded.
    /// Views open to others than operators mask a person's number.
    #[schema(example = "operator-token")]
    pub decided_by: Option<String>,
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
            // The column holds only what this crate wrote.
            status: ApplicationStatus::parse(&r.status).unwrap_or(ApplicationStatus::Rejected),
            reason: r.reason,
            agreement_version: r.agreement_version,
            created_at: ena_core::time::rfc3339_of(r.created_at),
            decided_at: r.decided_at.map(ena_core::time::rfc3339_of),
            decided_by: r.decided_by,
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
    pub status: MemberStatus,
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
    /// Where every statement it issues and every decision it takes is recorded, before the call returns.
    audit: std::sync::Arc<dyn AuditSink>,
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
        audit: std::sync::Arc<dyn AuditSink>,
        legacy_dir: Option<&Path>,
    ) -> Result<TrustAnchor, FederationError> {
        let keys = KeyRing::open(&vault, legacy_dir, ena_core::time::unix_now())
            .await
            .map_err(|e| FederationError::Ca(e.to_string()))?;
        let ca = FederationCa::open(&vault, legacy_dir, &config.name)
            .await
            .map_err(|e| FederationError::Ca(e.to_string()))?;
        if repo::current_agreement(&store).await?.is_none() {
            repo::publish_agreement(&store, DEFAULT_AGREEMENT_TITLE, DEFAULT_AGREEMENT, ena_core::time::unix_now())
                .await?;
        }
        let ring = std::sync::RwLock::new(std::sync::Arc::new(keys));
        Ok(TrustAnchor { store, config, vault, ring, ca, cache: Mutex::new(Cache::default()), audit })
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
        self.keys().published(ena_core::time::unix_now(), self.config.lifetime)
    }

    pub fn ca_certificate(&self) -> &str {
        self.ca.certificate_pem()
    }

    /// An answer of the central services signed with the anchor's active key (`typ`, `iss` = the anchor,
    /// `iat`), so a member checks it with the keys of the anchor's entity configuration, whatever the
    /// channel: a man in the middle cannot swap what it says (recipients' encryption keys, say).
    pub fn sign_answer(&self, typ: &str, mut claims: Value) -> String {
        claims["iss"] = json!(self.config.entity_id);
        claims["iat"] = json!(ena_core::time::unix_now());
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
        let appended = self.audit.record(events).await.map_err(|e| FederationError::Audit(e.to_string()))?;
        for (i, id) in ids.iter().enumerate().take(count) {
            repo::set_log_index(&self.store, id, appended.first_index + i as u64).await?;
        }
        Ok(())
    }

    // ---- The anchor's own entity configuration ----

    // ---- Onboarding ----

    // ---- Statements ----
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
            let now = ena_core::time::unix_now();
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
            let ta = TrustAnchor::open(
                db.store.clone(),
                AnchorConfig::new("https://ena.example.se"),
                vault,
                std::sync::Arc::new(audit.clone()),
                None,
            )
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
            let f = fields(ta.apply(&ctx, &bad).await.unwrap_err());
            for name in ["organisationNumber", "entityId", "entityTypes[0]", "acceptAgreement", "jwks"] {
                assert!(f.contains(&name.to_owned()), "{label}: {name} in {f:?}");
            }
            let mut wrong_csr = input.clone();
            wrong_csr.key_request = Some(node.csr("evil.example.se"));
            assert_eq!(fields(ta.apply(&ctx, &wrong_csr).await.unwrap_err()), vec!["keyRequest"]);
            let mut forged = input.clone();
            forged.entity_configuration = Some(Applicant::new("node.exempel.se").configuration());
            assert_eq!(fields(ta.apply(&ctx, &forged).await.unwrap_err()), vec!["entityConfiguration"]);
            let mut big = input.clone();
            big.jwks = json!({"keys": vec![node.key.public_jwk().clone(); 200]});
            assert_eq!(fields(ta.apply(&ctx, &big).await.unwrap_err()), vec!["jwks"]);
            assert!(ta.applications(None, 10, 0).await.unwrap().is_empty(), "{label}: nothing half-written");

            let app = ta.apply(&ctx, &input).await.unwrap();
            assert_eq!(app.status, "pending");
            assert_eq!(app.organisation_number, "162120000142");
            assert!(
                matches!(ta.apply(&ctx, &input).await.unwrap_err(), FederationError::Conflict(_)),
                "{label}: one pending application per entity"
            );
            // Not a member yet: nothing to list, fetch or resolve.
            assert!(ta.list(None, None).await.unwrap().is_empty());
            assert!(ta.fetch(&node.id).await.is_err());

            assert_eq!(app.decided_by, None, "{label}: nobody has decided yet");
            let approved = ta.approve(&ctx, &app.id).await.unwrap();
            assert_eq!(approved.status, "approved");
            assert_eq!(approved.decided_by.as_deref(), Some("test"), "{label}: the decider is the context's actor");
            assert!(
                matches!(ta.approve(&ctx, &app.id).await.unwrap_err(), FederationError::Conflict(_)),
                "{label}: approving twice"
            );
            assert!(matches!(ta.reject(&ctx, &app.id, "late").await.unwrap_err(), FederationError::Conflict(_)));
            assert_eq!(ta.list(Some(ENA_NODE), None).await.unwrap(), vec![node.id.clone()]);
            assert!(ta.list(Some("openid_provider"), None).await.unwrap().is_empty());
            assert_eq!(ta.list(None, Some(&ta.config().trust_mark_types[0])).await.unwrap(), vec![node.id.clone()]);
            let member = ta.member(&node.id).await.unwrap();
            let cert = member.certificate.clone().expect("a certificate was issued");

            // Resolve: a chain any validator accepts, the anchor's thumbprint override in the metadata.
            let resolved = ta.resolve(&node.id, "https://ena.example.se").await.unwrap();
            let r = Unverified::parse(&resolved).unwrap();
            r.expect_typ(RESOLVE_TYP).unwrap();
            r.verify(&ta.jwks()).unwrap();
            let chain: Vec<String> = serde_json::from_value(r.payload["trust_chain"].clone()).unwrap();
            assert_eq!(chain.len(), 3);
            chain::validate(&chain, ta.entity_id(), &ta.jwks(), ena_core::time::unix_now()).unwrap();
            let (_, der) = x509_parser::pem::parse_x509_pem(cert.as_bytes()).unwrap();
            assert_eq!(
                r.payload["metadata"][ENA_NODE]["tls_client_certificate_sha256"],
                crate::ca::thumbprint(&der.contents)
            );
            assert_eq!(r.payload["metadata"][ENA_NODE]["api_endpoint"], format!("{}/node/v1", node.id));
            assert_eq!(r.payload["trust_marks"].as_array().unwrap().len(), 1);
            assert_eq!(
                ta.resolve(&node.id, "https://other.example.se").await.unwrap_err().to_string().split(':').next(),
                Some("invalid_trust_anchor")
            );
            assert!(ta.resolve("https://nobody.example.se", ta.entity_id()).await.is_err());

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
            ta.remove(&ctx, &node.id, false, "test").await.unwrap();
            assert!(ta.list(None, None).await.unwrap().is_empty());
            assert!(ta.resolve(&node.id, ta.entity_id()).await.is_err(), "{label}: the cached resolution is dropped");
            assert_eq!(status(ta.trust_mark_status(&mark).await.unwrap()), "revoked");
            let crl = ta.crl().await.unwrap();
            let (_, der) = x509_parser::pem::parse_x509_pem(crl.as_bytes()).unwrap();
            use x509_parser::prelude::FromDer;
            let (_, parsed) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der.contents).unwrap();
            assert_eq!(parsed.iter_revoked_certificates().count(), 1, "{label}");
            assert!(matches!(ta.remove(&ctx, &node.id, false, "").await.unwrap_err(), FederationError::Conflict(_)));

            // The anchor's own configuration resolves and is logged once while fresh.
            let ec = ta.entity_configuration().await.unwrap();
            assert_eq!(ec, ta.entity_configuration().await.unwrap());
            assert!(ta.resolve(ta.entity_id(), ta.entity_id()).await.is_ok());
        }
    }
}
