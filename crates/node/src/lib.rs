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
pub mod openapi;
pub mod samples;
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

/// What `ena node init` is told.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub data_dir: PathBuf,
    pub federation: String,
    pub federation_node: String,
    pub entity_id: String,
    pub organisation: String,
    pub name: String,
    pub contact: String,
    pub listen: String,
    pub peer_listen: String,
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

/// The trust anchor's entity id, from its entity configuration at `federation`.
async fn anchor_id(client: &reqwest::Client, federation: &str) -> anyhow::Result<String> {
    let ec = client
        .get(format!("{federation}/.well-known/openid-federation"))
        .send()
        .await
        .with_context(|| format!("the federation at {federation} does not answer"))?
        .error_for_status()?
        .text()
        .await?;
    let parsed =
        ena_keys::jose::Unverified::parse(&ec).map_err(|e| anyhow!("the anchor's entity configuration: {e}"))?;
    Ok(parsed.payload.get("iss").and_then(Value::as_str).unwrap_or_default().trim_end_matches('/').to_owned())
}

fn node_metadata(file: &NodeFile, keys: &Keys) -> Value {
    json!({"ena_node": {
        "api_endpoint": format!("{}/node/v1", file.inbox_url.trim_end_matches("/inbox").trim_end_matches("/node/v1")),
        "inbox_endpoint": file.inbox_url,
        "jwks": {"keys": [keys.signing.public_jwk()]},
        "log_verifier_key": keys.log.verifier_key(),
        "organization_name": file.name,
    }})
}

/// Make the node's keys and settings, and apply to the federation. Returns the application id.
pub async fn init(o: &InitOptions) -> anyhow::Result<String> {
    let host = host_of(&o.entity_id)?.to_owned();
    let organisation = ena_core::Organisationsnummer::parse(&o.organisation)
        .map_err(|e| anyhow!("--organisation: not an organisationsnummer: {e}"))?;
    if o.data_dir.join(NODE_FILE).exists() {
        bail!("{} already has a node ({NODE_FILE}); use another --data-dir", o.data_dir.display());
    }
    ena_keys::files::create_private_dir(&o.data_dir)
        .with_context(|| format!("cannot create {}", o.data_dir.display()))?;
    let peer: SocketAddr = o.peer_listen.parse().map_err(|_| anyhow!("--peer-listen: not an address:port"))?;
    if let (_, Some(port)) = host_port(&o.entity_id)?
        && port != peer.port()
    {
        bail!(
            "--entity-id names port {port}, but --peer-listen is on {}: the entity id must answer (the node serves its entity configuration there)",
            peer.port()
        );
    }
    let mut file = NodeFile {
        entity_id: o.entity_id.trim_end_matches('/').to_owned(),
        organisation: organisation.as_str().to_owned(),
        name: o.name.clone(),
        contact: o.contact.clone(),
        federation: o.federation.trim_end_matches('/').to_owned(),
        federation_node: o.federation_node.trim_end_matches('/').to_owned(),
        listen: o.listen.clone(),
        peer_listen: o.peer_listen.clone(),
        inbox_url: format!("https://{host}:{}/node/v1/inbox", peer.port()),
        application: None,
        address: vec![AddressSpec {
            address: organisation.as_str().to_owned(),
            kind: "organisation".into(),
            name: o.name.clone(),
            accepts: Vec::new(),
        }],
        message_type: Vec::new(),
        service: Vec::new(),
    };
    let keys = load_keys(&o.data_dir, &file.entity_id)?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let agreement: Value = client
        .get(format!("{}/federation/v1/agreement", file.federation))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let anchor = anchor_id(&client, &file.federation).await?;
    let tls = rcgen::KeyPair::from_pem(&keys.tls_pem).context("tls.key")?;
    let mut params = rcgen::CertificateParams::new(vec![host.clone()])?;
    params.distinguished_name.push(rcgen::DnType::CommonName, host.as_str());
    let csr = params.serialize_request(&tls)?.pem()?;
    let application = json!({
        "organisationNumber": organisation.as_str(), "name": file.name, "contact": file.contact,
        "entityId": file.entity_id, "jwks": {"keys": [keys.entity.public_jwk()]}, "entityTypes": ["ena_node"],
        "metadata": node_metadata(&file, &keys),
        "keyRequest": csr, "entityConfiguration": entity_configuration(&file, &keys, &anchor),
        "acceptAgreement": agreement["version"],
    });
    let response =
        client.post(format!("{}/federation/v1/applications", file.federation)).json(&application).send().await?;
    if !response.status().is_success() {
        bail!("the federation refused the application: {}", directory::problem_detail(response).await);
    }
    let created: Value = response.json().await?;
    let id =
        created["id"].as_str().ok_or_else(|| anyhow!("the federation answered without an application id"))?.to_owned();
    file.application = Some(id.clone());
    std::fs::write(o.data_dir.join(NODE_FILE), toml::to_string_pretty(&file)?)?;
    Ok(id)
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
    let id = file.application.as_deref().ok_or_else(|| anyhow!("{NODE_FILE} names no application"))?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let app: Value = client
        .get(format!("{}/federation/v1/applications/{id}", file.federation))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let Some(cert) = app["certificate"].as_str() else {
        bail!(
            "application {id} is {}: the operator approves it with `ena federation approve {id}` (or on /anslutning)",
            app["status"].as_str().unwrap_or("unknown")
        );
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
            .await?;
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
        entity_configuration: Arc::new(published),
    };
    // Client certificates are asked for but not required: anyone may read the node's entity
    // configuration; every other peer route refuses a connection without one.
    let tls =
        ena_server::mtls::server_config_public_reads(&ca, &cert, &keys.tls_pem).map_err(|e| anyhow!("TLS: {e}"))?;
    let transport = Arc::new(HttpTransport { client: central, me: file.entity_id.clone() });
    Ok(Node { file, state, transport, tls })
}

/// Register this organisation's message types and publish its addresses with this node's key.
async fn publish(dir: &Path, file: &NodeFile, directory: &HttpDirectory, key: &EncryptionKey) -> anyhow::Result<()> {
    let base = &directory.central_url;
    for t in &file.message_type {
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(&t.schema)).with_context(|| format!("{}", t.schema.display()))?,
        )?;
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
            .await?;
        if !r.status().is_success() {
            bail!("message type {}@{}: {}", t.id, t.version, directory::problem_detail(r).await);
        }
    }
    for a in &file.address {
        let mut capabilities: Vec<Capability> = Vec::new();
        for spec in &a.accepts {
            let (t, v) = spec
                .split_once('@')
                .ok_or_else(|| anyhow!("address {}: accepts {spec:?} is not type@version", a.address))?;
            match capabilities.iter_mut().find(|c| c.message_type == t) {
                Some(c) => c.versions.push(v.to_owned()),
                None => capabilities.push(Capability { message_type: t.to_owned(), versions: vec![v.to_owned()] }),
            }
        }
        let body = json!({"kind": a.kind, "name": a.name, "node": file.entity_id, "capabilities": capabilities,
                          "encryptionKeys": [key.public_jwk()]});
        let r = directory
            .central
            .put(format!("{base}/addresses/v1/addresses/{}", ena_core::percent_encode(&a.address)))
            .json(&body)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("address {}: {}", a.address, directory::problem_detail(r).await);
        }
    }
    Ok(())
}

/// Serve until `shutdown`: the local API, the mTLS inbox and the outbox worker.
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
