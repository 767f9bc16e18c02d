//! The HTTP edge of ena: one axum router per block API, problem+json errors, the OpenAPI document,
//! portal pages, health and metrics.
//!
//! This crate holds no SQL and no business rules: a handler extracts its input, calls one service
//! function of its block and maps the result. `app(state)` builds the whole router without a socket
//! (tests drive it with `oneshot`); `serve` runs it on a listener until a shutdown signal.

pub mod apis;
pub mod auth;
pub mod blocks;
pub mod callers;
pub mod edge;
pub mod extract;
pub mod mtls;
pub mod notify;
pub mod openapi;
pub mod paging;
pub mod privacy;
pub mod problem;
pub mod site;
pub mod trace;
pub mod webhook;

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use ena_store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Limits and switches of the HTTP server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The audit log's origin line and key name (a schema-less URL naming this log).
    pub audit_origin: String,
    /// Follow-up rules evaluated on the audit log.
    pub audit_rules: ena_audit::RuleSet,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: Duration,
    /// The trust anchor's entity identifier: this instance's public base URL.
    pub federation_entity_id: String,
    /// Serve the built-in test eID provider at /test-eid and offer it at /login (TEST ONLY).
    pub test_eid: bool,
    /// Other OpenID providers offered at /login.
    pub oidc_providers: Vec<ena_identity::rp::ProviderConfig>,
    /// Mina ombud notices are also POSTed here (CloudEvents JSON).
    pub notice_webhook: Option<String>,
    /// Clients of the test eID given in ena.toml (`[[test_eid_clients]]`: client_id, client_secret_sha256,
    /// redirect_uris), besides the portal and those the operator registers.
    pub test_eid_clients: Vec<ena_identity::testeid::TestClient>,
    /// Verifier keys of logs outside the federation the witness cosigns; members' logs (the
    /// `log_verifier_key` their `ena_node` metadata publishes) are witnessed without being listed.
    pub witnessed_logs: Vec<String>,
    /// The deployment's key-encryption key file (opens the keys in the database); default
    /// `DATA_DIR/key-encryption.key`, created by the first instance. Every instance of one deployment
    /// is given the same file.
    pub key_encryption_key: Option<std::path::PathBuf>,
    /// NATS server case events are published to (JetStream stream `ENA_CASES`), for subscriptions with
    /// delivery `nats`; needs the `nats` cargo feature.
    pub nats_url: Option<String>,
    /// The built-in mailbox (Min myndighetspost role), if this installation runs one.
    pub mailbox: Option<MailboxSettings>,
    /// The notification sender: run per notice (new mail, a verification code) with the notice as JSON
    /// on standard input; `None`: log only.
    pub notify_command: Option<String>,
}

/// The built-in mailbox: the data directory of the operator's node (a member approved as
/// `ena_mailbox_operator`, made with `ena node init --mailbox-operator`), whose letters this installation
/// takes into Mina meddelanden. The node's settings are read from there each round, so the central
/// instance may start before the node is made, approved or running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxSettings {
    pub node_dir: std::path::PathBuf,
    /// Messages are kept this many days after they arrive (unless they expire sooner).
    pub retention_days: i64,
}

/// What the intake needs of the mailbox's node, read from its data directory.
#[derive(Clone, Debug)]
pub struct MailboxConfig {
    /// The operator's entity id (the node's).
    pub operator: String,
    /// The largest attachment the mailbox takes, bytes.
    pub max_attachment_bytes: u64,
    /// The node's local API and its token.
    pub node_api: String,
    pub node_token: String,
}

impl MailboxSettings {
    /// The node's settings as they stand now; `None` until the node has its node.toml and token.
    pub fn read(&self) -> Result<Option<MailboxConfig>, String> {
        let (file, token) = (self.node_dir.join("node.toml"), self.node_dir.join("node.token"));
        if !file.exists() || !token.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let node: toml::Value = toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let Some(mailbox) = node.get("mailbox_operator") else {
            return Err(format!("{} runs no mailbox: make it with `ena node init --mailbox-operator`", file.display()));
        };
        let text = |v: Option<&toml::Value>| v.and_then(toml::Value::as_str).unwrap_or_default().to_owned();
        Ok(Some(MailboxConfig {
            operator: text(node.get("entity_id")),
            max_attachment_bytes: mailbox
                .get("max_attachment_bytes")
                .and_then(toml::Value::as_integer)
                .map_or(ena_mail::DEFAULT_MAX_ATTACHMENT, |n| n.max(0) as u64),
            // Where it listens now (node.ready.json, while it runs), else where node.toml says.
            node_api: std::fs::read_to_string(self.node_dir.join("node.ready.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["api"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("http://{}", text(node.get("listen")))),
            node_token: std::fs::read_to_string(&token)
                .map_err(|e| format!("{}: {e}", token.display()))?
                .trim()
                .to_owned(),
        }))
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            audit_origin: "localhost/ena/audit".into(),
            audit_rules: ena_audit::RuleSet::shipped(),
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            federation_entity_id: "http://127.0.0.1:8080".into(),
            test_eid: true,
            oidc_providers: Vec::new(),
            notice_webhook: None,
            witnessed_logs: Vec::new(),
            test_eid_clients: Vec::new(),
            key_encryption_key: None,
            nats_url: None,
            mailbox: None,
            notify_command: None,
        }
    }
}

/// What every handler can reach: one shared [`Services`]. axum clones the state for every request, so it
/// is a single `Arc` (one reference count), not a struct of handles each counted on every request.
#[derive(Clone)]
pub struct AppState(std::sync::Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

impl AppState {
    /// Change a service before the state is shared (a benchmark swaps in a generated company register).
    pub fn configure(mut self, change: impl FnOnce(&mut Services)) -> AppState {
        change(std::sync::Arc::get_mut(&mut self.0).expect("configure the state before serving it"));
        self
    }
}

/// The services and settings of one instance.
pub struct Services {
    pub store: Store,
    /// The plan block's service handle (holds the computed snapshot of the current plan).
    pub plans: ena_plan::Plans,
    pub config: std::sync::Arc<ServerConfig>,
    pub metrics: PrometheusHandle,
    /// The transparency log every block records its audit events in.
    pub audit: ena_audit::AuditLog,
    /// This node's witness key (cosigns other logs' checkpoints).
    pub witness: std::sync::Arc<ena_audit::NoteSigner>,
    /// The bootstrap operator token (for set-up and automation; operators are otherwise persons).
    pub operator: auth::OperatorToken,
    /// The OpenAPI document, built once.
    pub openapi: axum::body::Bytes,
    /// The federation's trust anchor, trust mark issuer and CA.
    pub federation: std::sync::Arc<ena_federation::TrustAnchor>,
    /// Login: the relying party, sessions, and the test eID provider when enabled.
    pub identity: std::sync::Arc<IdentityState>,
    /// The signature service (e-underskrift).
    pub signatures: std::sync::Arc<ena_identity::signature::SignatureService>,
    /// Identity-bound API tokens for member systems.
    pub tokens: std::sync::Arc<ena_identity::token::TokenService>,
    /// The registry of employee credentials (e-tjänstelegitimation).
    pub employees: ena_identity::employee::EmployeeCredentials,
    /// The test eID's clients the operator registered.
    pub test_clients: ena_identity::testeid::TestClients,
    /// The one decision point every authorisation goes through.
    pub access: std::sync::Arc<ena_access::DecisionPoint>,
    /// Mina ombud: the representation register.
    pub representation: std::sync::Arc<ena_representation::Representation>,
    /// Adressregister.
    pub addresses: std::sync::Arc<ena_addresses::Addresses>,
    /// Mina ärenden.
    pub cases: ena_cases::Cases,
    /// Where this instance sends case events (webhooks, NATS).
    pub case_events: blocks::cases::events::Outlet,
    /// Mina meddelanden: FaR and the built-in mailbox.
    pub mail: ena_mail::Mail,
    /// Indexering: who holds information about what.
    pub index: ena_index::Index,
    /// Min profil: contact details, preferences, consents.
    pub profile: ena_profile::Profile,
    /// API-hantering: the API catalog.
    pub catalog: ena_apis::catalog::Catalog,
    /// Towards the built-in mailbox's node.
    pub mail_client: reqwest::Client,
}

/// What login needs.
pub struct IdentityState {
    /// The built-in test provider (TEST ONLY), when enabled.
    pub test_eid: Option<ena_identity::testeid::TestProvider>,
    pub rp: ena_identity::rp::RelyingParty,
    pub timeouts: ena_identity::session::Timeouts,
    /// This instance's public base URL (redirect URIs are built from it).
    pub base_url: String,
    /// Cookies get `Secure` when the public URL is https.
    pub secure_cookies: bool,
}

impl IdentityState {
    fn new(config: &ServerConfig, portal_client_key: ena_keys::jose::SigningKey) -> Result<IdentityState, String> {
        let base = config.federation_entity_id.trim_end_matches('/').to_owned();
        let mut providers = Vec::new();
        let test_eid = if config.test_eid {
            let secret = ena_identity::random_token(24);
            let issuer = format!("{base}/test-eid");
            // The portal's own client, then the ones in ena.toml; the operator registers more at run time
            // (`/identity/v1/test-eid-clients`, in the database).
            let mut clients = vec![ena_identity::testeid::TestClient {
                client_id: "ena-portal".into(),
                client_secret_sha256: ena_identity::sha256_b64(&secret),
                redirect_uris: vec![format!("{base}/login/callback")],
            }];
            clients.extend(config.test_eid_clients.iter().cloned());
            let provider = ena_identity::testeid::TestProvider::new(&issuer, clients)?;
            providers.push(ena_identity::rp::ProviderConfig {
                id: "test-eid".into(),
                name: "Test-e-legitimation (ena)".into(),
                issuer,
                client_id: "ena-portal".into(),
                client_secret: secret,
                test_only: true,
                federation_metadata: None,
            });
            Some(provider)
        } else {
            None
        };
        providers.extend(config.oidc_providers.iter().cloned());
        Ok(IdentityState {
            test_eid,
            rp: ena_identity::rp::RelyingParty::new(providers, ena_identity::loa::AcrMap::default(), None)
                .with_key(portal_client_key),
            timeouts: ena_identity::session::Timeouts::default(),
            secure_cookies: base.starts_with("https://"),
            base_url: base,
        })
    }
}

impl std::fmt::Debug for IdentityState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityState").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// Names of the deployment's keys in its key vault (and the files a data directory kept them in before;
/// a member node still keeps its log key in `AUDIT_KEY_FILE`).
pub const OPERATOR_TOKEN_NAME: &str = "operator.token";
pub const AUDIT_KEY_FILE: &str = "audit-log.key";
/// Written by `ena serve` in its data directory: the instance's public URL, so the CLI given the data
/// directory (`ena federation … --data-dir`) talks to this instance wherever it listens.
pub const PUBLIC_URL_FILE: &str = "public.url";
pub const WITNESS_KEY_FILE: &str = "witness.key";
pub const SIGNATURE_KEY_FILE: &str = "signature-service.key";
pub const TOKEN_KEY_FILE: &str = "api-tokens.key";
pub const PORTAL_CLIENT_KEY_FILE: &str = "portal-client.key";
/// Signs Min profil's consent receipts.
pub const CONSENT_RECEIPT_KEY: &str = "consent-receipts.key";

impl AppState {
    /// Open everything the server needs on a prepared store. The deployment's keys and operator token
    /// come from its key vault in the database (made by the first instance, or imported from this data
    /// directory's key files of before the vault), opened with the key-encryption key; the operator
    /// token is also written to `data_dir` for local tools.
    pub async fn open(
        store: Store,
        config: ServerConfig,
        data_dir: &std::path::Path,
    ) -> Result<AppState, Box<dyn std::error::Error + Send + Sync>> {
        let vault = ena_keys::KeyVault::open(store.clone(), data_dir, config.key_encryption_key.as_deref()).await?;
        let secrets = Secrets { vault: &vault, data_dir };
        // The index's pseudonym key: the same on every instance (the vault), so a find on one instance
        // finds what another registered.
        let pseudonym = secrets.get(ena_index::PSEUDONYM_KEY, || Ok(rand::random::<[u8; 32]>().to_vec())).await?;
        let note_key = || ena_audit::NoteSigner::generate_pkcs8().map_err(|e| e.to_string());
        let es256 = || ena_keys::jose::SigningKey::generate().map(|k| k.pkcs8().to_vec()).map_err(|e| e.to_string());
        let signer =
            ena_audit::NoteSigner::from_pkcs8(&config.audit_origin, &secrets.get(AUDIT_KEY_FILE, note_key).await?)?;
        let witness = ena_audit::NoteSigner::from_pkcs8(
            &format!("{}/witness", config.audit_origin),
            &secrets.get(WITNESS_KEY_FILE, note_key).await?,
        )?;
        let audit = ena_audit::AuditLog::open(store.clone(), signer, config.audit_rules.clone()).await?;
        let token =
            secrets.get(OPERATOR_TOKEN_NAME, || auth::OperatorToken::generate().map(String::into_bytes)).await?;
        let token = String::from_utf8_lossy(&token).trim().to_owned();
        auth::OperatorToken::write_file(data_dir, &token)?;
        let operator = auth::OperatorToken::from_secret(&token);
        let base = config.federation_entity_id.trim_end_matches('/').to_owned();
        let es256_key =
            async |name: &str| -> Result<ena_keys::jose::SigningKey, Box<dyn std::error::Error + Send + Sync>> {
                Ok(ena_keys::jose::SigningKey::from_pkcs8(&secrets.get(name, es256).await?)
                    .map_err(|e| format!("{name}: {e}"))?)
            };
        let signature_key = es256_key(SIGNATURE_KEY_FILE).await?;
        let signatures =
            ena_identity::signature::SignatureService::new(signature_key, &format!("{base}/signatures"), audit.clone());
        let token_key = es256_key(TOKEN_KEY_FILE).await?;
        let consent_key = es256_key(CONSENT_RECEIPT_KEY).await?;
        let identity = std::sync::Arc::new(IdentityState::new(&config, es256_key(PORTAL_CLIENT_KEY_FILE).await?)?);
        let mut anchor_config = ena_federation::AnchorConfig::new(&config.federation_entity_id);
        anchor_config.extra_metadata = ena_identity::published_metadata(&base, &signatures, &identity.rp, &token_key);
        let federation = std::sync::Arc::new(
            ena_federation::TrustAnchor::open(
                store.clone(),
                anchor_config,
                vault,
                std::sync::Arc::new(audit.clone()),
                Some(data_dir),
            )
            .await?,
        );
        let tokens = ena_identity::token::TokenService::new(
            token_key,
            &base,
            ena_identity::session::Timeouts::default(),
            store.clone(),
            federation.clone(),
            audit.clone(),
        );
        let access =
            std::sync::Arc::new(ena_access::DecisionPoint::open(store.clone()).await?.with_audit(audit.clone()));
        let mut representation = ena_representation::Representation::new(
            store.clone(),
            std::sync::Arc::new(ena_representation::register::FixtureRegister::shipped()),
            ena_representation::catalog::Catalog::shipped(),
            access.clone(),
            audit.clone(),
        );
        if let Some(url) = &config.notice_webhook {
            representation = representation.with_hook(std::sync::Arc::new(webhook::Webhook::new(url, &base)));
        }
        let addresses = ena_addresses::Addresses::new(store.clone(), access.clone(), federation.clone());
        // Mina meddelanden's message types are the federation's own (owner `operator`), shipped with the
        // release: every mailbox operator's address accepts them and every sending node sends them.
        // Seeding is a no-op once they are there with this content (versions never change).
        for (id, title, schema) in [
            (ena_mail::wire::MAIL_TYPE, "Digital post (Mina meddelanden)", ena_mail::wire::mail_schema()),
            (ena_mail::wire::RECEIPT_TYPE, "Kvittens för digital post", ena_mail::wire::receipt_schema()),
            (ena_mail::wire::REPLY_TYPE, "Svar på digital post", ena_mail::wire::reply_schema()),
        ] {
            let input = ena_addresses::MessageTypeInput {
                title: title.into(),
                schema,
                classification: ena_addresses::Classification { confidentiality: 3, integrity: 3, availability: 2 },
            };
            addresses
                .seed_message_type(id, ena_mail::wire::VERSION, input)
                .await
                .map_err(|e| format!("registering the message type {id}: {e}"))?;
        }
        let representation = std::sync::Arc::new(representation);
        let mail = ena_mail::Mail::new(store.clone(), audit.clone(), federation.clone(), representation.clone());
        let index = ena_index::Index::new(store.clone(), audit.clone(), access.clone(), &pseudonym);
        let profile = ena_profile::Profile::new(
            store.clone(),
            audit.clone(),
            consent_key,
            std::sync::Arc::new(blocks::profile::Registry { store: store.clone() }),
            &base,
        );
        let openapi = axum::body::Bytes::from(serde_json::to_vec(&openapi::document()).unwrap_or_default());
        let catalog = ena_apis::catalog::Catalog::new(store.clone(), audit.clone());
        let store_for_cases = store.clone();
        let case_events = blocks::cases::events::Outlet::open(config.nats_url.as_deref()).await?;
        Ok(AppState(std::sync::Arc::new(Services {
            plans: ena_plan::Plans::new(store.clone()),
            employees: ena_identity::employee::EmployeeCredentials::new(
                store.clone(),
                federation.clone(),
                audit.clone(),
            ),
            test_clients: ena_identity::testeid::TestClients::new(store.clone(), audit.clone()),
            store,
            config: std::sync::Arc::new(config),
            metrics: metrics_handle(),
            audit,
            witness: std::sync::Arc::new(witness),
            operator,
            openapi,
            identity,
            signatures: std::sync::Arc::new(signatures),
            tokens: std::sync::Arc::new(tokens),
            access,
            representation,
            federation,
            addresses: std::sync::Arc::new(addresses),
            cases: ena_cases::Cases::new(store_for_cases),
            case_events,
            mail,
            index,
            profile,
            catalog,
            mail_client: blocks::mail::intake::client(),
        })))
    }
}

/// The deployment's secrets in its key vault, by name; the first instance imports each from the data
/// directory's file of the same name (kept there before the vault) or makes a new one.
struct Secrets<'a> {
    vault: &'a ena_keys::KeyVault,
    data_dir: &'a std::path::Path,
}

impl Secrets<'_> {
    async fn get(
        &self,
        name: &str,
        make: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<Vec<u8>, ena_keys::VaultError> {
        let now = ena_core::time::unix_now();
        let legacy = self.data_dir.join(name);
        let made = self
            .vault
            .first(name, now, || match std::fs::read(&legacy) {
                Ok(bytes) => Ok(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => make(),
                Err(e) => Err(format!("{}: {e}", legacy.display())),
            })
            .await?;
        Ok(made.secret)
    }
}

/// The process-wide Prometheus recorder; installed once, shared by every server in the process (tests
/// start several).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
                .expect("bucket list is not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // A recorder already installed (by an embedding program) is kept; ours then renders nothing.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Bring a database up to date and seed what a fresh install needs (the shipped plan).
pub async fn prepare_store(store: &Store) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    store.migrate().await?;
    if ena_plan::Plans::new(store.clone()).seed_if_empty(ena_core::time::unix_now()).await? {
        tracing::info!("seeded the plan data");
    }
    Ok(())
}

/// Every route of the central instance with who may call it (the router and the OpenAPI document are
/// built from these): each block's, then the site's.
pub fn routes() -> callers::Routes {
    blocks::ALL
        .iter()
        .fold(callers::Routes::new(), |routes, block| routes.merge((block.routes)()))
        .merge(site::routes())
}

/// The whole application: the router inside the edge, one service (`into_make_service` for `axum::serve`).
pub fn app(state: AppState) -> edge::Edge {
    let limits = edge::Limits { timeout: state.config.request_timeout, body_limit: state.config.body_limit };
    edge::finish(routes().into_router(&state).with_state(state), Some(limits))
}

/// Run `task` every `period` (the first time at once) until the handle is aborted: what it reports is
/// logged, a failure is logged as a warning and retried the next period.
fn every<F, Fut>(period: Duration, what: &'static str, mut task: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Option<String>, String>> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            match task().await {
                Ok(None) => {}
                Ok(Some(news)) => tracing::info!("{news}"),
                Err(e) => tracing::warn!(error = %e, "{what} failed; retried in {} s", period.as_secs()),
            }
        }
    })
}

/// Serve `app` on `listener` until `shutdown` resolves, then finish in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Tell the parties of mandates that end within 14 days, hourly (and once at start).
    let representation = state.representation.clone();
    let sweeper = every(Duration::from_secs(3600), "expiry notices", move || {
        let representation = representation.clone();
        async move {
            let n = representation.notice_expiring().await.map_err(|e| e.to_string())?;
            Ok((n > 0).then(|| format!("told the parties of {n} mandates ending within 14 days")))
        }
    });
    // Members' entity configurations, read from where they serve them every ten minutes (pushes are
    // taken at once as well).
    let federation = state.federation.clone();
    let refresher = every(Duration::from_secs(600), "refreshing members' entity configurations", move || {
        let federation = federation.clone();
        async move {
            let n = federation.refresh_configurations().await.map_err(|e| e.to_string())?;
            Ok((n > 0).then(|| format!("{n} members' entity configurations refreshed from their well-known URLs")))
        }
    });
    // The anchor's key ring, re-read every minute: a key another instance (or `ena federation
    // rotate-key`) added is published here well before it takes effect (`keys::ROLLOVER_NOTICE`).
    let federation = state.federation.clone();
    let keys = every(Duration::from_secs(60), "reading the federation's key ring", move || {
        let federation = federation.clone();
        async move {
            let changed = federation.reload_keys().await.map_err(|e| e.to_string())?;
            Ok(changed.then(|| "the federation's key ring changed; publishing its new keys".to_owned()))
        }
    });
    // Latency samples wait in the recorder until they are folded into their histograms (as a scrape of
    // /metrics does); without this a server nobody scrapes would keep every sample (24 bytes a request).
    let metrics = state.metrics.clone();
    let upkeep = every(Duration::from_secs(5), "folding latency samples into histograms", move || {
        metrics.run_upkeep();
        std::future::ready(Ok(None))
    });
    // Cases past their committed decision date without a decision: an alert for the organisation's
    // follow-up, every minute (claimed per case, so of several instances one raises it).
    let (cases, audit) = (state.cases.clone(), state.audit.clone());
    let overdue = every(Duration::from_secs(60), "flagging overdue cases", move || {
        let (cases, audit) = (cases.clone(), audit.clone());
        async move {
            let n = cases.flag_overdue(&audit).await.map_err(|e| e.to_string())?;
            Ok((n > 0).then(|| format!("{n} cases passed their expected-decision date without a decision")))
        }
    });
    // Case events: fanned out by the instance holding the lease, sent by whichever claims them; five
    // times a second so an event reaches its subscriber well within a second.
    let (dispatcher_state, holder) = (state.clone(), uuid::Uuid::now_v7().to_string());
    let dispatcher = every(Duration::from_millis(200), "dispatching case events", move || {
        let (state, holder) = (dispatcher_state.clone(), holder.clone());
        async move { blocks::cases::events::dispatch(&state, &holder).await }
    });
    // The built-in mailbox (when this installation runs one): its node's new letters every second, and
    // messages past their time or the retention period removed every hour.
    let intake_state = state.clone();
    let intake = every(Duration::from_secs(1), "taking letters into the mailbox", move || {
        let state = intake_state.clone();
        async move { blocks::mail::intake::take(&state).await }
    });
    let (mail, retention) = (state.mail.clone(), state.config.mailbox.as_ref().map(|m| m.retention_days));
    let purge = every(Duration::from_secs(3600), "removing expired mail", move || {
        let mail = mail.clone();
        async move {
            let Some(days) = retention else { return Ok(None) };
            let n = mail.purge(days).await.map_err(|e| e.to_string())?;
            Ok((n > 0).then(|| format!("{n} messages past their time removed from the mailbox")))
        }
    });
    let served = axum::serve(listener, app(state).into_make_service()).with_graceful_shutdown(shutdown).await;
    intake.abort();
    purge.abort();
    upkeep.abort();
    overdue.abort();
    dispatcher.abort();
    sweeper.abort();
    refresher.abort();
    keys.abort();
    served
}
