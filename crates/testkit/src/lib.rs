//! Test helpers: start the real ena server (the same router, middleware and database code as
//! `ena serve`) on 127.0.0.1 port 0, on a fresh SQLite file or a fresh PostgreSQL schema, and talk
//! HTTP to it. `callers` has the usual callers (a person at a level, an operator person, member
//! systems with certificate and token) and `web` what a test does with answers and forms.

pub mod callers;
pub mod web;

use std::net::SocketAddr;

use ena_server::{AppState, ServerConfig};
use ena_store::testing::{TestStore, test_stores};
use tokio::sync::oneshot;

/// A running server; stopped (gracefully) when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub label: String,
    pub client: reqwest::Client,
    pub db: TestStore,
    /// The server's data directory (keys, operator token).
    pub data_dir: tempfile::TempDir,
    /// The server's state (the same handles its handlers use).
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    node_shutdown: Vec<oneshot::Sender<()>>,
}

impl TestServer {
    /// Start a server on `db` with the default limits.
    pub async fn start(db: TestStore) -> TestServer {
        TestServer::start_with(db, ServerConfig::default()).await
    }

    pub async fn start_with(db: TestStore, config: ServerConfig) -> TestServer {
        TestServer::start_instance(db, config, None).await
    }

    /// A second central instance of this one's deployment: the same database, the same public URL
    /// (entity id), its own data directory, given this one's key-encryption key — as two instances
    /// behind one load balancer. `self` must outlive it.
    pub async fn second_instance(&self) -> TestServer {
        let mut config = (*self.state.config).clone();
        config.key_encryption_key = Some(self.data_dir.path().join(ena_keys::vault::KEK_FILE));
        TestServer::start_instance(self.db.shared(), config, Some(self.state.config.federation_entity_id.clone())).await
    }

    async fn start_instance(db: TestStore, mut config: ServerConfig, entity_id: Option<String>) -> TestServer {
        ena_server::prepare_store(&db.store).await.expect("prepare test database");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        // The trust anchor is named by the URL it is served at, as `ena serve` does.
        config.federation_entity_id = entity_id.unwrap_or_else(|| format!("http://{addr}"));
        let data_dir = tempfile::tempdir().expect("data dir");
        let state = AppState::open(db.store.clone(), config, data_dir.path()).await.expect("open app state");
        let (tx, rx) = oneshot::channel::<()>();
        let served = state.clone();
        tokio::spawn(async move {
            let _ = ena_server::serve(listener, served, async {
                let _ = rx.await;
            })
            .await;
        });
        TestServer {
            addr,
            label: db.label.clone(),
            client: reqwest::Client::builder().build().expect("http client"),
            db,
            data_dir,
            state,
            shutdown: Some(tx),
            node_shutdown: Vec::new(),
        }
    }

    /// Start the node listener (mutual TLS with federation certificates, as `ena serve --node-listen`)
    /// on another port of 127.0.0.1; returns its address. It stops with the server.
    pub async fn node_listener(&mut self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let (cert, key) = self.state.federation.server_certificate(&names).expect("node certificate");
        let tls = ena_server::mtls::server_config(self.state.federation.ca_certificate(), &cert, &key)
            .expect("node TLS settings");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(ena_server::mtls::serve(
            listener,
            tls,
            self.state.clone(),
            ena_server::app(self.state.clone()),
            async {
                let _ = rx.await;
            },
        ));
        self.node_shutdown.push(tx);
        addr
    }

    /// One server per available database: SQLite always, PostgreSQL when `ENA_TEST_POSTGRES_URL` is set.
    pub async fn each() -> Vec<TestServer> {
        TestServer::each_with(ServerConfig::default()).await
    }

    pub async fn each_with(config: ServerConfig) -> Vec<TestServer> {
        let mut servers = Vec::new();
        for db in test_stores().await {
            servers.push(TestServer::start_with(db, config.clone()).await);
        }
        servers
    }

    /// The operator token the server created in its data directory.
    pub fn operator_token(&self) -> String {
        std::fs::read_to_string(ena_server::auth::token_path(self.data_dir.path()))
            .expect("operator token")
            .trim()
            .to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// POST a raw body with a content type (so tests can send malformed JSON).
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client.post(self.url(path)).header("content-type", content_type).body(body).send().await.expect("POST")
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer").field("addr", &self.addr).field("label", &self.label).finish_non_exhaustive()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for tx in self.node_shutdown.drain(..) {
            let _ = tx.send(());
        }
    }
}

/// A fresh PostgreSQL schema for a test that runs the `ena` binary itself, and a URL whose connections
/// use it (`options=-c search_path=…`).
pub async fn postgres_schema_url(base_url: &str) -> String {
    let schema = ena_store::testing::create_schema(base_url, "bin").await;
    let separator = if base_url.contains('?') { '&' } else { '?' };
    format!("{base_url}{separator}options=-c%20search_path%3D{schema}")
}
