//! `ena serve`: claim the data directory, open and migrate the database, serve until SIGINT/SIGTERM.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use ena_server::{AppState, ServerConfig};
use ena_store::Store;
use tracing_subscriber::EnvFilter;

use crate::config::{self, LogFormat, ServeArgs, Settings};

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = config::resolve(&args)?;
    init_logging(&settings)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(serve(settings))
}

fn init_logging(settings: &Settings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&settings.log_level)
        .with_context(|| format!("log level {:?} is not a valid filter", settings.log_level))?;
    match settings.log_format {
        LogFormat::Human => crate::logging::init_human(filter),
        LogFormat::Json => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    Ok(())
}

/// Hold an exclusive lock on `DATA_DIR/ena.lock` for the life of the process, so a second `serve`
/// on the same directory stops with a clear message instead of sharing (and corrupting) its files.
fn claim_data_dir(dir: &Path) -> anyhow::Result<File> {
    ena_keys::files::create_private_dir(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    // Root ignores permission bits, so probe by writing rather than by reading the mode.
    let probe = dir.join(".ena-write-probe");
    std::fs::write(&probe, b"probe").with_context(|| format!("data directory {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    let path = dir.join("ena.lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() { String::new() } else { format!(" (pid {holder})") };
            bail!(
                "data directory {} is in use by another ena process{who}; stop it or choose another --data-dir",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(file)
}

async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = match &settings.database_url {
        Some(url) => Store::connect_postgres(url, None).await?,
        None => Store::open_sqlite(&settings.sqlite_path()).await?,
    };
    ena_server::prepare_store(&store).await.map_err(|e| anyhow::anyhow!("preparing the database failed: {e}"))?;
    Ok(store)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let started = Instant::now();
    // The ports first: a start that cannot listen stops before it makes or seeds a data directory.
    let listener = tokio::net::TcpListener::bind(settings.listen).await.with_context(|| {
        format!("cannot listen on {} (--listen): is another server using it? choose another port", settings.listen)
    })?;
    let node_listener = match settings.node_listen {
        Some(at) => Some(tokio::net::TcpListener::bind(at).await.with_context(|| {
            format!("cannot listen for nodes on {at} (--node-listen): is another server using it? choose another port")
        })?),
        None => None,
    };
    let _lock = claim_data_dir(&settings.data_dir)?;
    let store = open_store(&settings).await?;
    let database = match &settings.database_url {
        Some(url) => ena_store::redact_url(url),
        None => settings.sqlite_path().display().to_string(),
    };
    let address = listener.local_addr()?;
    let config = ServerConfig {
        federation_entity_id: settings.public_url.clone().unwrap_or_else(|| format!("http://{address}")),
        test_eid: settings.test_eid,
        oidc_providers: settings.oidc_providers.clone(),
        notice_webhook: settings.notice_webhook.clone(),
        witnessed_logs: settings.witnessed_logs.clone(),
        test_eid_clients: settings.test_eid_clients.clone(),
        key_encryption_key: settings.key_encryption_key.clone(),
        nats_url: settings.nats_url.clone(),
        mailbox: settings.mailbox.clone(),
        notify_command: settings.notify_command.clone(),
        audit_origin: settings.audit_origin.clone(),
        audit_rules: settings.audit_rules.clone(),
        body_limit: settings.body_limit,
        request_timeout: settings.request_timeout,
    };
    let public_url = config.federation_entity_id.clone();
    let state = AppState::open(store.clone(), config, &settings.data_dir).await.map_err(|e| {
        anyhow::anyhow!("opening the audit log and keys in {} failed: {e}", settings.data_dir.display())
    })?;
    tracing::info!(
        %database,
        startup_ms = started.elapsed().as_millis() as u64,
        "ena listening on http://{address} (portal /, API reference /docs)"
    );
    // ena's own APIs in the catalog (each block's and the node's), in the background: a start waits for
    // nothing, and an instance that finds them there adds nothing.
    let own = state.clone();
    tokio::spawn(async move {
        match ena_server::blocks::apis::own::publish_own(&own, Some(&ena_node::openapi::DOCUMENT)).await {
            Ok(n) => tracing::info!(published = n, "ena's own APIs are in the API catalog"),
            Err(e) => tracing::warn!(error = %e, "ena's own APIs could not all be put in the API catalog"),
        }
    });
    let url_file = settings.data_dir.join(ena_server::PUBLIC_URL_FILE);
    std::fs::write(&url_file, format!("{public_url}\n"))
        .with_context(|| format!("cannot write {}", url_file.display()))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(node_listener) = node_listener {
        let node_address = node_listener.local_addr()?;
        let mut names = vec!["localhost".to_owned(), node_address.ip().to_string()];
        if let Some(host) =
            settings.public_url.as_deref().and_then(|u| u.split("://").nth(1)).and_then(|r| r.split([':', '/']).next())
        {
            names.push(host.to_owned());
        }
        let (cert, key) = state
            .federation
            .server_certificate(&names)
            .map_err(|e| anyhow::anyhow!("node listener certificate: {e}"))?;
        let tls = ena_server::mtls::server_config(state.federation.ca_certificate(), &cert, &key)
            .map_err(|e| anyhow::anyhow!("node listener TLS: {e}"))?;
        let mut stop = stop_rx.clone();
        tokio::spawn(ena_server::mtls::serve(
            node_listener,
            tls,
            state.clone(),
            ena_server::app(state.clone()),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ));
        tracing::info!("node mTLS listening on https://{node_address} (client certificates from the federation CA)");
    }
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    ena_server::serve(listener, state, shutdown).await.context("server failed")?;
    drop(stop_rx);
    store.close().await;
    tracing::info!("ena stopped");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
