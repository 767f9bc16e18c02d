//! The member node (`ena node`): one organisation's access point. `init` makes its keys and applies to
//! the federation; `run` collects the certificate once the operator has approved, publishes the node's
//! entity configuration, message types and addresses, and serves — the local API for the organisation's
//! systems, the mTLS inbox for other nodes — while the outbox worker delivers.
//!
//! Everything lives in the node's data directory: `node.toml` (settings), the keys (0600), the
//! certificate, the node token, and `node.db` (outbox, inbox and the node's own transparency log).

pub mod api;
pub mod calls;
pub mod directory;
pub mod events;
pub mod forward;
pub mod gateway;
mod info;
pub mod mail;
pub mod mail_operator;
mod onboarding;
pub mod openapi;
pub mod samples;
pub mod status;
pub mod transport;

/// The NATS client, for those who read what the node publishes (tests).
#[cfg(feature = "nats")]
pub use async_nats;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ena_addresses::{Capability, Classification};
use ena_audit::{AuditLog, NoteSigner, RuleSet};
use ena_keys::files::write_private;
use ena_keys::jose::SigningKey as EntityKey;
use ena_messaging::keys::{EncryptionKey, SigningKey};
use ena_messaging::{Messaging, NodeIdentity};
use ena_server::auth::OperatorToken;
use ena_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{NodeState, PeerCertificate};
use crate::directory::HttpDirectory;
use crate::transport::HttpTransport;
pub use onboarding::{Agreement, InitOptions, agreement, init, reapply};
pub(crate) use onboarding::{application, application_standing, node_listener_down};

pub const NODE_FILE: &str = "node.toml";
pub const TOKEN_FILE: &str = "node.token";
/// Written when the node serves: where its listeners are (for scripts and tests).
pub const READY_FILE: &str = "node.ready.json";

/// `node.toml`: the node's settings (written by `init`, editable).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// The node's federation entity id, `https://<host>`; the host is its certificate's name.
    pub entity_id: String,
    pub organisation: String,
    pub name: String,
    pub contact: String,
    /// The central instance's public URL.
    pub federation: String,
    /// The central instance's node listener (mTLS).
    pub federation_node: String,
    /// The local API for the organisation's systems.
    pub listen: String,
    /// The mTLS listener other nodes deliver to.
    pub peer_listen: String,
    /// The inbox URL as other nodes reach it (published in the federation metadata).
    pub inbox_url: String,
    #[serde(default)]
    pub application: Option<String>,
    /// Addresses this node publishes (with its encryption key) at every start.
    #[serde(default)]
    pub address: Vec<AddressSpec>,
    /// Message types this node's organisation owns, registered at every start (a no-op when unchanged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message_type: Vec<TypeSpec>,
    /// Services this node produces for synchronous calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<calls::ServiceSpec>,
    /// This organisation runs a mailbox of Mina meddelanden: the node applies as `ena_mailbox_operator`
    /// too (with the `connected-mina-meddelanden` trust mark) and receives mail at its function address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox_operator: Option<MailboxOperatorSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxOperatorSpec {
    /// The mailbox's name as recipients see it, e.g. "Min myndighetspost".
    pub name: String,
    /// The function of the organisation's address mail arrives at (`<orgnr>:<function>`).
    #[serde(default = "default_mailbox_function")]
    pub function: String,
    /// The largest attachment the mailbox takes, bytes.
    #[serde(default = "default_max_attachment")]
    pub max_attachment_bytes: u64,
}

fn default_mailbox_function() -> String {
    "brevlada".into()
}

fn default_max_attachment() -> u64 {
    64 * 1024 * 1024
}

impl NodeFile {
    /// The address mail to this node's mailbox goes to, if it runs one.
    pub fn mailbox_address(&self) -> Option<String> {
        self.mailbox_operator.as_ref().map(|m| format!("{}:{}", self.organisation, m.function))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressSpec {
    pub address: String,
    pub kind: String,
    pub name: String,
    /// `type@version`, e.g. `se.kommun.orosanmalan@1.0`.
    #[serde(default)]
    pub accepts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeSpec {
    pub id: String,
    pub version: String,
    pub title: String,
    /// A JSON Schema file, relative to the data directory.
    pub schema: PathBuf,
    pub classification: Classification,
}

/// The host of an entity id `https://<host>[:<port>]` (the certificate's name) and its port, if given.
/// The entity id must answer: the node serves its entity configuration at
/// `<entity id>/.well-known/openid-federation` on its peer listener, so a port, when given, is the peer
/// listener's (or a proxy's in front of it).
fn host_port(entity_id: &str) -> anyhow::Result<(&str, Option<u16>)> {
    let rest = entity_id.strip_prefix("https://").ok_or_else(|| anyhow!("--entity-id must be an https URL"))?;
    let (host, port) = match rest.split_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| anyhow!("--entity-id: {p:?} is not a port"))?)),
        None => (rest, None),
    };
    if host.is_empty() || host.contains(['/', '?', '#', '@']) {
        bail!("--entity-id must be https://<host>[:<port>] with no path (the host is the certificate's name)");
    }
    Ok((host, port))
}

fn host_of(entity_id: &str) -> anyhow::Result<&str> {
    Ok(host_port(entity_id)?.0)
}

struct Keys {
    entity: EntityKey,
    tls_pem: String,
    signing: SigningKey,
    encryption: EncryptionKey,
    log: NoteSigner,
}

fn load_keys(dir: &Path, entity_id: &str) -> anyhow::Result<Keys> {
    let entity = EntityKey::load_or_create(&dir.join("federation.key")).context("federation.key")?;
    let tls_path = dir.join("tls.key");
    if !tls_path.exists() {
        let pair = rcgen::KeyPair::generate().context("a TLS key")?;
        write_private(&tls_path, pair.serialize_pem().as_bytes())?;
    }
    let tls_pem = std::fs::read_to_string(&tls_path)?;
    let signing = SigningKey::load_or_create(dir)?;
    let encryption = EncryptionKey::load_or_create(dir)?;
    let log_name = format!("{}/log", host_of(entity_id)?);
    let log = NoteSigner::load_or_create(&dir.join(ena_server::AUDIT_KEY_FILE), &log_name)
        .map_err(|e| anyhow!("{}: {e}", ena_server::AUDIT_KEY_FILE))?;
    Ok(Keys { entity, tls_pem, signing, encryption, log })
}

/// The node's signed entity configuration: its federation keys and its `ena_node` metadata (message
/// signing keys, its log's verifier key, its inbox).
fn entity_configuration(file: &NodeFile, keys: &Keys, anchor: &str) -> String {
    sign_configuration(file, &keys.entity, &node_metadata(file, keys), anchor)
}

/// The node's entity configuration: self-signed, naming the trust anchor in `authority_hints` (so a
/// client that starts at the node finds its superior), served at `/.well-known/openid-federation`.
fn sign_configuration(file: &NodeFile, entity: &EntityKey, metadata: &Value, anchor: &str) -> String {
    let now = ena_core::time::unix_now();
    entity.sign(
        "entity-statement+jwt",
        &json!({
            "iss": file.entity_id, "sub": file.entity_id, "iat": now, "exp": now + 30 * 86_400,
            "jwks": {"keys": [entity.public_jwk()]},
            "authority_hints": [anchor],
            "metadata": metadata,
        }),
    )
}

fn node_metadata(file: &NodeFile, keys: &Keys) -> Value {
    let mut metadata = json!({"ena_node": {
        "api_endpoint": format!("{}/node/v1", file.inbox_url.trim_end_matches("/inbox").trim_end_matches("/node/v1")),
        "inbox_endpoint": file.inbox_url,
        "jwks": {"keys": [keys.signing.public_jwk()]},
        "log_verifier_key": keys.log.verifier_key(),
        "organization_name": file.name,
    }});
    if let (Some(m), Some(address)) = (&file.mailbox_operator, file.mailbox_address()) {
        metadata["ena_mailbox_operator"] =
            json!({"name": m.name, "service_address": address, "max_attachment_bytes": m.max_attachment_bytes});
    }
    metadata
}

pub fn read_file(dir: &Path) -> anyhow::Result<NodeFile> {
    let path = dir.join(NODE_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{} has no node: run `ena node init` first", dir.display()))?;
    toml::from_str(&text).with_context(|| format!("{}", path.display()))
}

/// Fetch the certificate once the application is approved (and the federation CA with it).
async fn certificate(dir: &Path, file: &NodeFile) -> anyhow::Result<(String, String)> {
    let (cert_path, ca_path) = (dir.join("tls.crt"), dir.join("ca.crt"));
    if cert_path.exists() && ca_path.exists() {
        return Ok((std::fs::read_to_string(&ca_path)?, std::fs::read_to_string(&cert_path)?));
    }
    let id = file.application.as_deref().ok_or_else(|| {
        anyhow!(
            "{NODE_FILE} names no application: apply with `ena node reapply --data-dir {} --accept-agreement`",
            dir.display()
        )
    })?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let app = application(&client, &file.federation, id).await?;
    let Some(cert) = app["certificate"].as_str() else {
        bail!(application_standing(&app, dir));
    };
    let ca = client
        .get(format!("{}/federation/v1/ca-certificate", file.federation))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    std::fs::write(&ca_path, &ca)?;
    std::fs::write(&cert_path, cert)?;
    Ok((ca, cert.to_owned()))
}

fn node_token(dir: &Path) -> anyhow::Result<OperatorToken> {
    let path = dir.join(TOKEN_FILE);
    if !path.exists() {
        let token = format!("ena_node_{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()));
        write_private(&path, token.as_bytes())?;
    }
    Ok(OperatorToken::from_secret(std::fs::read_to_string(&path)?.trim()))
}

/// A node ready to serve.
pub struct Node {
    pub file: NodeFile,
    pub state: NodeState,
    pub transport: Arc<HttpTransport>,
    tls: rustls::ServerConfig,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("entity_id", &self.file.entity_id).finish()
    }
}

/// Open the node in `dir` on `database` (a `postgres://` URL, or its own SQLite file by default):
/// certificate, store, log, directory, and what it publishes.
pub async fn open(dir: &Path, database: Option<&str>, ttl: Duration, nats_url: Option<&str>) -> anyhow::Result<Node> {
    let file = read_file(dir)?;
    let keys = load_keys(dir, &file.entity_id)?;
    let (ca, cert) = certificate(dir, &file).await?;
    let store = match database {
        Some(url) => Store::connect(url).await?,
        None => Store::open_sqlite(&dir.join("node.db")).await?,
    };
    store.migrate().await?;
    // Taken before the log key moves into the log.
    let metadata = node_metadata(&file, &keys);
    let audit = AuditLog::open(store.clone(), keys.log, RuleSet::shipped()).await?;
    // One client for the central listener and the peers; peers' certificates are pinned as resolved.
    let pins = Arc::new(ena_federation::client::Pins::default());
    let central = transport::client_pinned(&ca, &cert, &keys.tls_pem, pins.clone())?;
    let directory =
        Arc::new(HttpDirectory::connect(central.clone(), &file.federation_node, &file.federation, ttl, pins).await?);
    // Keep the published entity configuration fresh (and its metadata current), over the node's own
    // certificate. The federation takes only a strictly newer `iat`: a restart within the same second
    // waits for the next one and sends again.
    let mut published = String::new();
    for attempt in 0..2 {
        let configuration = sign_configuration(&file, &keys.entity, &metadata, &directory.anchor_id);
        let r = central
            .put(format!("{}/federation/v1/entity-configuration", file.federation_node))
            .header("content-type", "application/entity-statement+jwt")
            .body(configuration.clone())
            .send()
            .await
            .with_context(|| node_listener_down(&file.federation_node))?;
        if r.status().is_success() {
            published = configuration;
            break;
        }
        if r.status() == reqwest::StatusCode::CONFLICT && attempt == 0 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
            continue;
        }
        bail!("the federation refused this node's entity configuration: {}", directory::problem_detail(r).await);
    }
    publish(dir, &file, &directory, &keys.encryption).await?;
    // The standing as the federation has it, in the start log (`ena node status` shows it too).
    match central.get(format!("{}/federation/v1/membership", file.federation_node)).send().await {
        Ok(r) if r.status().is_success() => {
            let m: Value = r.json().await.unwrap_or(Value::Null);
            tracing::info!(
                entity = %file.entity_id,
                status = %m["status"].as_str().unwrap_or("?"),
                entity_types = %m["entityTypes"],
                agreement_version = %m["agreementVersion"],
                "membership in the federation"
            );
        }
        Ok(r) => {
            tracing::warn!(detail = %directory::problem_text(r).await, "the federation refuses this node's membership")
        }
        Err(e) => tracing::warn!(error = %e, "the federation's membership entry could not be read"),
    }

    let me = Arc::new(NodeIdentity {
        entity_id: file.entity_id.clone(),
        address: file.organisation.clone(),
        signing: keys.signing,
        encryption: keys.encryption,
    });
    // The node's own decision point: who may call which of its services (from node.toml).
    let access =
        Arc::new(ena_access::DecisionPoint::open(store.clone()).await.map_err(|e| anyhow!("decision point: {e}"))?);
    for service in &file.service {
        let policy = calls::policy(service).ok_or_else(|| {
            anyhow!("service {:?}: an id of a–z, 0–9 and '-', and entity ids without quotes", service.id)
        })?;
        access.put_configured_policy(policy).await.map_err(|e| anyhow!("service {}: {e}", service.id))?;
    }
    let events = events::EventBus::new(me.clone(), store.clone());
    events.link_cases(central.clone(), &directory.central_url);
    let events = match nats_url {
        #[cfg(feature = "nats")]
        Some(url) => events.with_nats(url).await.with_context(|| format!("NATS at {url}"))?,
        #[cfg(not(feature = "nats"))]
        Some(_) => bail!("--nats-url needs ena built with --features nats"),
        None => events,
    };
    // After NATS is set up: retries taken up here share the bus.
    events.load().await.map_err(|e| anyhow!("subscriptions: {e}"))?;
    let files = ena_messaging::attachments::Files::new(dir.join("attachments"));
    let messaging =
        Arc::new(Messaging::new(store, audit, me, directory.clone(), files).with_events(Arc::new(events.clone())));
    let swept = messaging.sweep_files().await;
    if swept > 0 {
        tracing::info!(swept, "stale uploads and unfinished transfers removed");
    }
    let recovered = messaging.recover().await.map_err(|e| anyhow!("{e}"))?;
    if recovered > 0 {
        tracing::info!(recovered, "deliveries in flight at the last stop are due again");
    }
    let state = NodeState {
        messaging,
        directory,
        token: Arc::new(node_token(dir)?),
        access,
        services: Arc::new(file.service.clone()),
        calls_client: central.clone(),
        upstream: reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(64).build()?,
        events,
        gateway: Arc::new(ena_apis::gateway::Gateway::new()),
        boot: Arc::new(uuid::Uuid::now_v7().to_string()),
        entity_configuration: Arc::new(published),
    };
    // Client certificates are asked for but not required: anyone may read the node's entity
    // configuration; every other peer route refuses a connection without one.
    let tls =
        ena_server::mtls::server_config_public_reads(&ca, &cert, &keys.tls_pem).map_err(|e| anyhow!("TLS: {e}"))?;
    let transport = Arc::new(HttpTransport { client: central, me: file.entity_id.clone() });
    Ok(Node { file, state, transport, tls })
}

/// Register this organisation's message types and publish its addresses with this node's key; each is
/// logged, so the start log says what the node made known.
async fn publish(dir: &Path, file: &NodeFile, directory: &HttpDirectory, key: &EncryptionKey) -> anyhow::Result<()> {
    let base = &directory.central_url;
    for t in &file.message_type {
        let what = format!("[[message_type]] {}@{} in {}", t.id, t.version, dir.join(NODE_FILE).display());
        let path = dir.join(&t.schema);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{what}: cannot read its schema file {}", path.display()))?;
        let schema: Value = serde_json::from_str(&text)
            .with_context(|| format!("{what}: its schema file {} is not JSON", path.display()))?;
        let body = json!({"title": t.title, "schema": schema, "classification": t.classification});
        let r = directory
            .central
            .put(format!(
                "{base}/addresses/v1/message-types/{}/versions/{}",
                ena_core::percent_encode(&t.id),
                ena_core::percent_encode(&t.version)
            ))
            .json(&body)
            .send()
            .await
            .with_context(|| node_listener_down(base))?;
        if !r.status().is_success() {
            bail!("{what}: the address registry refused it: {}", directory::problem_text(r).await);
        }
        tracing::info!(message_type = %t.id, version = %t.version, schema = %path.display(), "message type registered");
    }
    for a in &file.address {
        let mut capabilities: Vec<Capability> = Vec::new();
        for spec in &a.accepts {
            let (t, v) = spec.split_once('@').ok_or_else(|| {
                anyhow!("[[address]] {} in {NODE_FILE}: accepts {spec:?} is not type@version (e.g. se.kommun.orosanmalan@1.0)", a.address)
            })?;
            match capabilities.iter_mut().find(|c| c.message_type == t) {
                Some(c) => c.versions.push(v.to_owned()),
                None => capabilities.push(Capability { message_type: t.to_owned(), versions: vec![v.to_owned()] }),
            }
        }
        // The organisation's own address takes what comes back for its letters (Mina meddelanden): the
        // operators' receipts and the recipients' replies, in each letter's conversation.
        if a.address == file.organisation {
            for t in [ena_mail::wire::RECEIPT_TYPE, ena_mail::wire::REPLY_TYPE] {
                if !capabilities.iter().any(|c| c.message_type == t) {
                    capabilities.push(Capability {
                        message_type: t.to_owned(),
                        versions: vec![ena_mail::wire::VERSION.into()],
                    });
                }
            }
        }
        let body = json!({"kind": a.kind, "name": a.name, "node": file.entity_id, "capabilities": capabilities,
                          "encryptionKeys": [key.public_jwk()]});
        let r = directory
            .central
            .put(format!("{base}/addresses/v1/addresses/{}", ena_core::percent_encode(&a.address)))
            .json(&body)
            .send()
            .await
            .with_context(|| node_listener_down(base))?;
        if !r.status().is_success() {
            bail!(
                "[[address]] {} in {NODE_FILE}: the address registry refused it: {}",
                a.address,
                directory::problem_text(r).await
            );
        }
        let accepts = if a.accepts.is_empty() { "no message types".to_owned() } else { a.accepts.join(", ") };
        tracing::info!(address = %a.address, kind = %a.kind, %accepts, "address published");
    }
    for service in &file.service {
        tracing::info!(service = %service.id, upstream = %service.upstream, allow = %service.allow.join(", "), "service offered for synchronous calls");
    }
    Ok(())
}

/// Serve until `shutdown`: the local API, the mTLS inbox, the outbox worker and the hand-over of the
/// log's events about persons to the central log.
pub async fn run(
    node: Node,
    dir: &Path,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let local = tokio::net::TcpListener::bind(&node.file.listen)
        .await
        .with_context(|| format!("cannot listen on {}", node.file.listen))?;
    let peer = tokio::net::TcpListener::bind(&node.file.peer_listen)
        .await
        .with_context(|| format!("cannot listen on {}", node.file.peer_listen))?;
    let (local_addr, peer_addr) = (local.local_addr()?, peer.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let local_app = api::local_router(node.state.clone());
    let local_task = tokio::spawn({
        let stop = stopped(stop_rx.clone());
        async move { axum::serve(local, local_app.into_make_service()).with_graceful_shutdown(stop).await }
    });
    let identify =
        |der: Option<Vec<u8>>| async move { PeerCertificate(der.map(|d| ena_federation::ca::thumbprint(&d))) };
    let peer_task = tokio::spawn(ena_server::mtls::serve_with(
        peer,
        node.tls.clone(),
        api::peer_router(node.state.clone()),
        identify,
        stopped(stop_rx.clone()),
    ));
    let worker = tokio::spawn(deliver_forever(node.state.messaging.clone(), node.transport.clone(), stop_rx.clone()));
    let watcher = tokio::spawn(watch_addresses(node.state.clone(), stop_rx.clone()));
    let sweeper = tokio::spawn(sweep_hourly(node.state.messaging.clone(), stop_rx.clone()));
    let handing_over = tokio::spawn(forward::hand_over_forever(
        node.state.messaging.audit().clone(),
        node.state.directory.clone(),
        stop_rx.clone(),
    ));
    let gatekeeping = tokio::spawn(gateway::run_forever(node.state.clone(), stop_rx.clone()));
    let ready = json!({"entityId": node.file.entity_id, "api": format!("http://{local_addr}"), "inbox": format!("https://{peer_addr}/node/v1/inbox"), "pid": std::process::id()});
    // Written whole under another name and renamed: whoever waits for the file never reads half of it.
    let partial = dir.join(format!("{READY_FILE}.part"));
    std::fs::write(&partial, ready.to_string())?;
    std::fs::rename(&partial, dir.join(READY_FILE))?;
    tracing::info!(entity = %node.file.entity_id, api = %local_addr, inbox = %peer_addr, "node serving");
    shutdown.await;
    let _ = stop_tx.send(true);
    let _ = std::fs::remove_file(dir.join(READY_FILE));
    let _ = local_task.await;
    let _ = peer_task.await;
    let _ = worker.await;
    let _ = watcher.await;
    let _ = sweeper.await;
    let _ = handing_over.await;
    let _ = gatekeeping.await;
    Ok(())
}

/// Sweep stale uploads and unfinished deliveries every hour, not only at start: a node that runs for
/// weeks must not keep what another member delivered for messages that never came.
async fn sweep_hourly(messaging: Arc<Messaging>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let swept = messaging.sweep_files().await;
        if swept > 0 {
            tracing::info!(swept, "stale uploads and unfinished transfers removed");
        }
    }
}

/// Follow the address registry's change feed: each change drops the cached entry and becomes an
/// `se.ena.address.changed` event. Starts at the feed's end (what changed before is not news).
async fn watch_addresses(state: NodeState, mut stop: tokio::sync::watch::Receiver<bool>) {
    // The feed's position is not kept across restarts, so the first reads take the whole feed: what
    // changed since shortly before this start (the margin covers clocks a few seconds apart) is
    // announced, older changes are not. A change made while the node restarted is then announced,
    // not lost (at most announced twice).
    let announce_from = ena_core::time::unix_now() - ANNOUNCE_MARGIN_SECS;
    let (mut since, mut caught_up) = (0, false);
    loop {
        match state.directory.changes(since).await {
            Ok((changes, next)) => {
                for c in &changes {
                    if caught_up || ena_core::time::unix_of(&c.at) >= announce_from {
                        state.directory.invalidate(&c.address);
                        state.events.emit(
                            "se.ena.address.changed",
                            &c.address,
                            serde_json::to_value(c).unwrap_or(Value::Null),
                        );
                    }
                }
                since = next;
                if !changes.is_empty() {
                    continue;
                }
                caught_up = true;
            }
            Err(e) => tracing::debug!(error = %e, "address feed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// How far before its start a node announces address changes it finds in the feed on its first read.
const ANNOUNCE_MARGIN_SECS: i64 = 5;

/// Deliveries in flight at once.
const IN_FLIGHT: usize = 128;

/// The outbox worker: keeps up to [`IN_FLIGHT`] deliveries going, claiming more as each finishes or as
/// new messages are queued (no rounds: a message queued while others are in flight starts at once).
async fn deliver_forever(
    messaging: Arc<Messaging>,
    transport: Arc<HttpTransport>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut running = tokio::task::JoinSet::new();
    loop {
        if *stop.borrow() {
            running.shutdown().await;
            return;
        }
        let free = IN_FLIGHT - running.len();
        if free > 0 {
            match messaging.claim(free as u32).await {
                Ok(rows) => {
                    for row in rows {
                        let (m, t) = (messaging.clone(), transport.clone());
                        running.spawn(async move {
                            if let Err(e) = m.attempt(t.as_ref(), row).await {
                                tracing::warn!(error = %e, "a delivery attempt could not be settled");
                            }
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming due messages failed"),
            }
        }
        // Wait for a slot, a newly queued message, a retry coming due, or the stop.
        let idle = if running.is_empty() { Duration::from_millis(250) } else { Duration::from_millis(20) };
        tokio::select! {
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = messaging.queued().notified() => {}
            () = tokio::time::sleep(idle) => {}
            _ = stop.changed() => {}
        }
    }
}
