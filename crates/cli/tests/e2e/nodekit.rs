//! Member nodes as separate processes for the tests: start, restart and kill `ena node run`, onboard
//! two of them, send streams of messages and check that each arrived exactly once.

use super::*;

/// A member node running as its own process (`ena node run`), killed on drop.
pub(crate) struct NodeProc {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) child: std::process::Child,
    pub(crate) api: String,
    pub(crate) token: String,
    pub(crate) database: Option<String>,
    pub(crate) entity_id: String,
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProc {
    pub(crate) fn arg(&self) -> String {
        self.dir.path().to_str().unwrap().to_owned()
    }
    pub(crate) async fn store(&self) -> ena_store::Store {
        match &self.database {
            Some(url) => ena_store::Store::connect(url).await.unwrap(),
            None => ena_store::Store::open_sqlite(&self.dir.path().join("node.db")).await.unwrap(),
        }
    }
    /// An mTLS client with the node's own certificate (what the node presents to others; `*.localhost`
    /// resolves to the loopback address).
    pub(crate) fn tls_client_localhost(&self) -> reqwest::Client {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap();
        ena_node::transport::client(&read("ca.crt"), &read("tls.crt"), &read("tls.key")).unwrap()
    }
    pub(crate) fn post(&self, c: &reqwest::Client, path: &str, body: &Value) -> reqwest::RequestBuilder {
        c.post(format!("{}{path}", self.api)).bearer_auth(&self.token).json(body)
    }
    pub(crate) fn get(&self, c: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
        c.get(format!("{}{path}", self.api)).bearer_auth(&self.token)
    }
    /// POST these exact JSON bytes (a test that hashes the request needs them as sent).
    pub(crate) fn post_raw(&self, c: &reqwest::Client, path: &str, json: &'static [u8]) -> reqwest::RequestBuilder {
        c.post(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(json)
    }
}

/// Another message id of the same shape (UUIDv7-like) for a forged envelope.
pub(crate) fn uuid_like(id: &str) -> String {
    let last = id.chars().last().unwrap();
    format!("{}{}", &id[..id.len() - 1], if last == '0' { '1' } else { '0' })
}

/// A port for a node to listen on later (its entity id names the port before it starts). Taken below
/// the kernel's ephemeral range (32768 and up here), where every port-0 listener and every outgoing
/// connection of the other tests gets its port, so none of them can take it between this pick and the
/// node's bind; a new one each call (a per-process counter from a per-process base), checked free.
pub(crate) fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 400) as u16 * 25;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 2_500;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Onboard a node through the real `ena node init`, approve it as the operator, add `extra` to its
/// node.toml and start `ena node run` (on a fresh PostgreSQL schema when the server is on PostgreSQL).
pub(crate) async fn start_node(
    server: &TestServer,
    central_node: std::net::SocketAddr,
    host: &str,
    peer_port: u16,
    org: &str,
    extra: &str,
    files: &[(&str, String)],
) -> NodeProc {
    start_node_in(server, central_node, tempfile::tempdir().unwrap(), host, peer_port, org, extra, files, &[]).await
}

/// [`start_node`] in `dir`, with more arguments for `ena node init` (e.g. `--mailbox-operator NAME`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start_node_in(
    server: &TestServer,
    central_node: std::net::SocketAddr,
    dir: tempfile::TempDir,
    host: &str,
    peer_port: u16,
    org: &str,
    extra: &str,
    files: &[(&str, String)],
    init_extra: &[&str],
) -> NodeProc {
    let d = dir.path().to_str().unwrap().to_owned();
    let api_port = free_port();
    // The entity id is a URL that answers: the node serves its entity configuration there.
    let entity_id = format!("https://{host}:{peer_port}");
    let (ok, stdout, stderr) = ena_off_thread(
        [
            "node",
            "init",
            "--data-dir",
            &d,
            "--federation",
            &server.url(""),
            "--federation-node",
            &format!("https://{central_node}"),
            "--entity-id",
            &entity_id,
            "--organisation",
            org,
            "--name",
            host,
            "--listen",
            &format!("127.0.0.1:{api_port}"),
            "--peer-listen",
            &format!("127.0.0.1:{peer_port}"),
            "--contact",
            &format!("registrator@{host}"),
            "--accept-agreement",
        ]
        .iter()
        .chain(init_extra)
        .map(|s| (*s).to_owned())
        .collect(),
    )
    .await;
    assert!(ok, "node init: {stderr}");
    let application = stdout.trim().to_owned();
    let r = server
        .client
        .post(server.url(&format!("/federation/v1/applications/{application}/approve")))
        .bearer_auth(server.operator_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "approve {host}");
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let toml_path = dir.path().join("node.toml");
    let mut text = std::fs::read_to_string(&toml_path).unwrap();
    text.push_str(extra);
    std::fs::write(&toml_path, text).unwrap();
    // The node runs on the dialect of the pass: its own PostgreSQL schema when the server is on PostgreSQL.
    let dialect = server.db.store.dialect();
    let database = match (dialect, std::env::var("ENA_TEST_POSTGRES_URL")) {
        (ena_store::Dialect::Postgres, Ok(base)) => Some(ena_testkit::postgres_schema_url(&base).await),
        (ena_store::Dialect::Postgres, Err(_)) => panic!("a PostgreSQL pass without ENA_TEST_POSTGRES_URL"),
        (ena_store::Dialect::Sqlite, _) => None,
    };
    let (child, api) = spawn_node(dir.path(), database.as_deref()).await;
    let token = std::fs::read_to_string(dir.path().join("node.token")).unwrap().trim().to_owned();
    let node = NodeProc { api, token, child, dir, database, entity_id };
    assert_eq!(node.store().await.dialect(), dialect, "{}: node {host} runs on the pass's database", server.label);
    eprintln!("{}: node {host} runs on {dialect:?}", server.label);
    node
}

/// `ena node run` on `dir` (and `database`), once it has said where it listens: (process, local API URL).
pub(crate) async fn spawn_node(dir: &std::path::Path, database: Option<&str>) -> (std::process::Child, String) {
    let ready = dir.join("node.ready.json");
    let _ = std::fs::remove_file(&ready);
    let mut cmd = Command::new(ENA);
    cmd.args(["node", "run", "--data-dir", dir.to_str().unwrap(), "--directory-ttl", "1", "--log", "warn"]);
    if let Some(url) = database {
        cmd.args(["--database-url", url]);
    }
    let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::inherit()).spawn().unwrap();
    for _ in 0..200 {
        if ready.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let info: Value = serde_json::from_str(&std::fs::read_to_string(&ready).expect("the node became ready")).unwrap();
    (child, info["api"].as_str().unwrap().to_owned())
}

impl NodeProc {
    /// SIGKILL (no shutdown at all), then start again on the same data directory and database.
    pub(crate) async fn kill_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let (child, api) = spawn_node(self.dir.path(), self.database.as_deref()).await;
        self.child = child;
        self.api = api;
    }
}

/// Skatteverket's node (with `skatt_extra` in its node.toml) and Exempelkommunen's, which owns the
/// orosanmälan type (with `schema`) and serves its social services' address.
/// Skatteverket's and the municipality's nodes; `{kommun}` in `skatt_extra` becomes the municipality
/// node's entity id (chosen before either starts, so Skatteverket's node.toml can name it).
pub(crate) async fn tax_agency_and_municipality(
    server: &TestServer,
    central_node: std::net::SocketAddr,
    skatt_extra: &str,
    schema: &Value,
) -> (NodeProc, NodeProc) {
    let (skatt_port, kommun_port) = (free_port(), free_port());
    let skatt_extra = skatt_extra.replace("{kommun}", &format!("https://kommun.localhost:{kommun_port}"));
    let skatt =
        start_node(server, central_node, "skatteverket.localhost", skatt_port, "202100-5448", &skatt_extra, &[]).await;
    let files = [("orosanmalan.json", schema.to_string())];
    let kommun =
        start_node(server, central_node, "kommun.localhost", kommun_port, "212000-0142", OROSANMALAN, &files).await;
    (skatt, kommun)
}

pub(crate) const OROSANMALAN: &str = ena_node::samples::MUNICIPALITY_TOML;

pub(crate) async fn wait_status(node: &NodeProc, c: &reqwest::Client, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..150 {
        last = json_of(node.get(c, &format!("/messages/v1/outbox/{id}")).send().await.unwrap()).await;
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("message {id} never became {status}: {last}");
}

/// Submit `n` messages with `clients` concurrent clients. Returns the ids the sender acknowledged (201);
/// a submission to a node that is down is simply not acknowledged.
pub(crate) async fn stream_messages(api: String, token: String, n: usize, clients: usize) -> Vec<String> {
    let c = reqwest::Client::new();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (c, next, api, token) = (c.clone(), next.clone(), api.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return ids;
                }
                let body = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0",
                                  "payload": {"child": "201401012383", "concern": format!("message {i}")}});
                // A sender that is being killed answers nothing: that submission was never acknowledged.
                if let Ok(r) = c.post(format!("{api}/messages/v1/outbox")).bearer_auth(&token).json(&body).send().await
                    && r.status() == 201
                    && let Ok(v) = r.json::<Value>().await
                {
                    ids.push(v["id"].as_str().unwrap().to_owned());
                }
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids
}

/// Wait until every id in `ids` is delivered at the sender; then check the recipient holds each exactly
/// once and both logs verify.
pub(crate) async fn all_delivered_exactly_once(label: &str, sender: &NodeProc, recipient: &NodeProc, ids: &[String]) {
    let store = sender.store().await;
    // Until nothing is waiting: every row in the outbox (acknowledged or not) delivered.
    for _ in 0..1200 {
        let counts = ena_messaging::repo::counts(&store).await.unwrap();
        assert!(!counts.iter().any(|(s, _)| s == "failed" || s == "expired"), "{label}: {counts:?}");
        if counts.iter().all(|(s, _)| s == "delivered")
            && counts.iter().map(|(_, n)| *n).sum::<i64>() as usize >= ids.len()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let theirs = recipient.store().await;
    for id in ids {
        let row = ena_messaging::repo::out(&store, id).await.unwrap().unwrap();
        assert_eq!(row.status, "delivered", "{label}: {id}");
        assert!(row.receipt.is_some(), "{label}: receipt for {id}");
        assert!(ena_messaging::repo::inbound(&theirs, id).await.unwrap().is_some(), "{label}: {id} received");
    }
    let received = ena_messaging::repo::inbox_count(&theirs).await.unwrap();
    let sent = ena_messaging::repo::outs(&store, None, u32::MAX, 0).await.unwrap().len();
    assert_eq!(received as usize, sent, "{label}: the inbox holds every sent message once, and nothing else");
    for n in [sender, recipient] {
        let mut args = vec!["audit".to_owned(), "verify".into(), "--data-dir".into(), n.arg()];
        if let Some(url) = &n.database {
            args.extend(["--database-url".into(), url.clone()]);
        }
        let (ok, out, err) = ena_off_thread(args).await;
        assert!(ok, "{label}: the log of {} verifies: {out}{err}", n.entity_id);
    }
}

/// The `.part` files of attachment transfers in progress under a node's data directory.
pub(crate) fn transfers_in_progress(node: &NodeProc) -> usize {
    let incoming = node.dir.path().join("attachments").join("incoming");
    let mut n = 0;
    for sender in std::fs::read_dir(incoming).into_iter().flatten().flatten() {
        for message in std::fs::read_dir(sender.path()).into_iter().flatten().flatten() {
            for file in std::fs::read_dir(message.path()).into_iter().flatten().flatten() {
                let part = file.path().extension().is_some_and(|x| x == "part");
                n += usize::from(part && file.metadata().is_ok_and(|m| m.len() > 0));
            }
        }
    }
    n
}
