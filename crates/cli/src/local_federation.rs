//! A whole federation in this process, for `ena demo` and `ena bench messaging`: the central instance
//! (public listener and node listener) and member nodes onboarded the real way — `ena node init`'s code
//! makes their keys and applies, the operator approves over the API, and each node runs with its own data
//! directory, database, keys and certificate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use ena_server::{AppState, ServerConfig};
use serde_json::Value;
use tokio::sync::watch;

pub struct Central {
    pub state: AppState,
    pub url: String,
    pub node_url: String,
    pub operator_token: String,
    pub dir: PathBuf,
}

/// Start the central instance on `listen` (e.g. `127.0.0.1:8080`, or port 0) with its node listener on
/// `node_listen`, until `stop` turns true; with `mailbox_node`, it runs the built-in mailbox on that
/// node's letters (the node may be made later: [`start_mailbox_node`]).
pub async fn start_central(
    dir: &Path,
    listen: &str,
    node_listen: &str,
    mailbox_node: Option<PathBuf>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Central> {
    std::fs::create_dir_all(dir)?;
    let store = ena_store::Store::open_sqlite(&dir.join("ena.db")).await?;
    ena_server::prepare_store(&store).await.map_err(|e| anyhow!("{e}"))?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let config = ServerConfig {
        federation_entity_id: format!("http://{addr}"),
        mailbox: mailbox_node.map(|node_dir| ena_server::MailboxSettings { node_dir, retention_days: 730 }),
        ..ServerConfig::default()
    };
    let state = AppState::open(store, config, dir).await.map_err(|e| anyhow!("{e}"))?;
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn(ena_server::serve(listener, state.clone(), stopped(stop.clone())));
    let node_listener =
        tokio::net::TcpListener::bind(node_listen).await.with_context(|| format!("cannot listen on {node_listen}"))?;
    let node_addr = node_listener.local_addr()?;
    let (cert, key) =
        state.federation.server_certificate(&["localhost".into(), "127.0.0.1".into()]).map_err(|e| anyhow!("{e}"))?;
    let tls =
        ena_server::mtls::server_config(state.federation.ca_certificate(), &cert, &key).map_err(|e| anyhow!(e))?;
    tokio::spawn(ena_server::mtls::serve(
        node_listener,
        tls,
        state.clone(),
        ena_server::app(state.clone()),
        stopped(stop),
    ));
    let operator_token = std::fs::read_to_string(ena_server::auth::token_path(dir))?.trim().to_owned();
    Ok(Central {
        state,
        url: format!("http://{addr}"),
        node_url: format!("https://{node_addr}"),
        operator_token,
        dir: dir.to_owned(),
    })
}

/// A node running in this process.
pub struct LocalNode {
    pub entity_id: String,
    pub dir: PathBuf,
    pub api: String,
    pub token: String,
    pub state: ena_node::api::NodeState,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A free port on 127.0.0.1 for a node's peer listener, chosen before the node starts so that its entity
/// id — `https://<host>:<port>`, a URL that answers with the node's entity configuration — can be named
/// in other nodes' settings.
pub fn peer_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The entity id of the node on `host` whose peer listener is on `port`.
pub fn entity_id(host: &str, port: u16) -> String {
    format!("https://{host}:{port}")
}

/// Onboard a node (init, approve), add `extra` to its node.toml and `files` to its data directory, and
/// run it until `stop` turns true. Its peer listener is on `port` (see [`peer_port`]).
#[allow(clippy::too_many_arguments)]
pub async fn start_node(
    central: &Central,
    host: &str,
    port: u16,
    organisation: &str,
    name: &str,
    extra: &str,
    files: &[(&str, String)],
    stop: watch::Receiver<bool>,
) -> anyhow::Result<LocalNode> {
    start_node_as(central, host, port, organisation, name, extra, files, None, stop).await
}

/// A mailbox operator's node (`ena node init --mailbox-operator <mailbox>`), onboarded and running; its
/// data directory is `central.dir/../<host>`, the one [`start_central`] is given as `mailbox_node`.
pub async fn start_mailbox_node(
    central: &Central,
    host: &str,
    port: u16,
    organisation: &str,
    name: &str,
    mailbox: &str,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<LocalNode> {
    start_node_as(central, host, port, organisation, name, "", &[], Some(mailbox), stop).await
}

/// The data directory [`start_node`] gives the node on `host`.
pub fn node_dir(central_dir: &Path, host: &str) -> PathBuf {
    central_dir.parent().unwrap_or(central_dir).join(host)
}

#[allow(clippy::too_many_arguments)]
async fn start_node_as(
    central: &Central,
    host: &str,
    port: u16,
    organisation: &str,
    name: &str,
    extra: &str,
    files: &[(&str, String)],
    mailbox: Option<&str>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<LocalNode> {
    let dir = node_dir(&central.dir, host);
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let options = ena_node::InitOptions {
        data_dir: dir.clone(),
        federation: central.url.clone(),
        federation_node: central.node_url.clone(),
        entity_id: entity_id(host, port),
        organisation: organisation.into(),
        name: name.into(),
        contact: format!("federation@{host}"),
        listen: "127.0.0.1:0".into(),
        peer_listen: peer.to_string(),
        // The demo plays every organisation: it accepts the agreement in force for each.
        accept_agreement: ena_node::agreement(&central.url).await?.version,
        mailbox_operator: mailbox.map(str::to_owned),
    };
    let application = ena_node::init(&options).await?;
    reqwest::Client::new()
        .post(format!("{}/federation/v1/applications/{application}/approve", central.url))
        .bearer_auth(&central.operator_token)
        .send()
        .await?
        .error_for_status()?;
    for (file, content) in files {
        std::fs::write(dir.join(file), content)?;
    }
    let mut text = std::fs::read_to_string(dir.join(ena_node::NODE_FILE))?;
    text.push_str(extra);
    std::fs::write(dir.join(ena_node::NODE_FILE), text)?;
    let node = ena_node::open(&dir, None, ena_node::directory::DEFAULT_TTL, None).await?;
    let state = node.state.clone();
    let run_dir = dir.clone();
    let mut stop = stop;
    let task = tokio::spawn(async move {
        ena_node::run(node, &run_dir, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
    });
    let ready = dir.join(ena_node::READY_FILE);
    for _ in 0..200 {
        if ready.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let info: Value = serde_json::from_str(&std::fs::read_to_string(&ready).context("the node did not start")?)?;
    let token = std::fs::read_to_string(dir.join(ena_node::TOKEN_FILE))?.trim().to_owned();
    Ok(LocalNode {
        entity_id: entity_id(host, port),
        dir,
        api: info["api"].as_str().unwrap_or_default().to_owned(),
        token,
        state,
        task,
    })
}

/// Skatteverket's income register as a plain HTTP service (what its node produces for synchronous calls):
/// `POST /personer` with `{"personnummer": …}` answers at once, `POST /slow` after 10 ms (as a service
/// with a database lookup). The person is named in the body, never in the URL. Serves until `stop`
/// turns true.
pub async fn start_income_register(stop: watch::Receiver<bool>) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let answer = |asked: serde_json::Value| {
        let pnr = asked["personnummer"].as_str().unwrap_or_default().to_owned();
        axum::Json(
            serde_json::json!({"personnummer": pnr, "ar": 2026, "inkomst": 412_000, "kalla": "Skatteverket (demo)"}),
        )
    };
    let service = axum::Router::new()
        .route(
            "/personer",
            axum::routing::post(move |axum::Json(asked): axum::Json<serde_json::Value>| async move { answer(asked) }),
        )
        // Behind the consent-bound service: the person is the one the consent names (the node says whom).
        .route(
            "/samtycke",
            axum::routing::post(move |headers: axum::http::HeaderMap| async move {
                let subject = headers.get("ena-consent-subject").and_then(|v| v.to_str().ok()).unwrap_or_default();
                answer(serde_json::json!({"personnummer": subject}))
            }),
        )
        // The demo's sample catalog API (register extracts), behind the node's gateway.
        .route(
            "/utdrag/v1/utdrag",
            axum::routing::get(|| async {
                axum::Json(serde_json::json!({"items": [{"utdragId": "u-1", "status": "levererat"}], "hasMore": false}))
            }),
        )
        .route(
            "/slow",
            axum::routing::post(move |axum::Json(asked): axum::Json<serde_json::Value>| async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                answer(asked)
            }),
        );
    let mut stop = stop;
    tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });
    Ok(addr)
}

/// Skatteverket's node producing what `produces` (given the municipality node's entity id) puts in its
/// node.toml, and Exempelkommunen's with `kommun_extra` and its files — the pair the benches call between.
pub async fn tax_agency_and_municipality(
    central: &Central,
    produces: impl FnOnce(&str) -> String,
    kommun_extra: &str,
    kommun_files: &[(&str, String)],
    stop: watch::Receiver<bool>,
) -> anyhow::Result<(LocalNode, LocalNode)> {
    let (skatt_port, kommun_port) = (peer_port()?, peer_port()?);
    let produces = produces(&entity_id("kommun.localhost", kommun_port));
    let skatt = start_node(
        central,
        "skatteverket.localhost",
        skatt_port,
        "202100-5448",
        "Skatteverket",
        &produces,
        &[],
        stop.clone(),
    )
    .await?;
    let kommun = start_node(
        central,
        "kommun.localhost",
        kommun_port,
        "212000-0142",
        "Exempelkommunen",
        kommun_extra,
        kommun_files,
        stop,
    )
    .await?;
    Ok((skatt, kommun))
}
