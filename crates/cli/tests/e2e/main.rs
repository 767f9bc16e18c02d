//! End-to-end tests: the real server over HTTP (on SQLite, and on PostgreSQL when
//! `ENA_TEST_POSTGRES_URL` is set), and the real `ena` binary as a user runs it.
//!
//! This is the workspace's one integration-test binary (each extra one is another slow link on 2 cores):
//! one module per block — `platform`, `binary`, `tidy`, `audit`, `federation`, `identity`, `access`,
//! `representation`, `nodes` (member nodes: messages, addresses, calls, events), `onboarding` (the quickstart and a
//! newcomer's mistakes), `faults` (nodes killed
//! mid-stream), `instances` (two central instances of one deployment) and `security` (the attacks of
//! docs/security.md). This file holds the helpers they share — servers and members to start, problems to
//! check, outside tools to run — and `nodekit.rs` those for member nodes as processes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ena_server::ServerConfig;
use ena_testkit::TestServer;
pub(crate) use ena_testkit::callers::*;
pub(crate) use ena_testkit::web::*;
use serde_json::{Value, json};

const ENA: &str = env!("CARGO_BIN_EXE_ena");

mod access;
mod apis;
mod audit;
mod binary;
mod case_events;
mod cases;
mod faults;
mod federation;
mod gateway;
mod identity;
mod index;
mod instances;
mod mail;
mod nodekit;
mod nodes;
mod onboarding;
mod platform;
mod profile;
mod representation;
mod security;
mod tidy;

/// The shipped plan as the JSON the API accepts.
fn shipped_plan_json() -> Value {
    toml::from_str(ena_plan::SHIPPED_PLAN).unwrap()
}

// ---------------------------------------------------------------- helpers: the binary

fn ena(args: &[&str]) -> std::process::Output {
    Command::new(ENA).args(args).env_remove("ENA_DATABASE_URL").output().expect("run ena")
}

/// Run `command` (an `ena serve` that is expected to refuse and exit) and collect its output, failing
/// the test after `limit` instead of hanging when it starts serving after all.
fn output_within(command: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} still runs after {limit:?}: it should have refused and exited");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A running `ena serve` child; killed if the test fails before stopping it.
struct Served {
    child: Child,
    addr: String,
    log: std::sync::mpsc::Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Start `ena serve` on port 0 and wait until it logs its address.
fn start_serve(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Served {
    let mut command = Command::new(ENA);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir.to_str().unwrap(), "--log-format", "json"])
        .args(extra)
        .env_remove("ENA_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("spawn ena serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split(' ').next().unwrap().to_owned();
                return Served { child, addr, log: rx };
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            panic!("ena serve exited early ({status}): {err}");
        }
    }
    panic!("ena serve did not start within 30 s");
}

fn get(addr: &str, path: &str) -> (u16, String) {
    get_as(addr, path, None)
}

/// `GET path` with `Authorization: Bearer <token>` when a token is given.
fn get_as(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    std::io::Write::write_all(
        &mut stream,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response)
}

fn sigterm_and_wait(mut served: Served) -> (std::process::ExitStatus, Vec<String>) {
    Command::new("kill").args(["-TERM", &served.child.id().to_string()]).status().unwrap();
    let status = served.child.wait().unwrap();
    let lines = served.log.try_iter().collect();
    (status, lines)
}

// ---------------------------------------------------------------- helpers: audit (Spårbarhet)

fn audit_event(action: &str, subject: Option<&str>) -> Value {
    let mut e = json!({
        "time": "2026-11-29T08:00:00Z",
        "actor": { "kind": "system", "id": "agency-x-case-system" },
        "action": action,
        "outcome": { "result": "allowed" },
    });
    if let Some(s) = subject {
        e["dataSubjects"] = json!([s]);
    }
    e
}

/// Append events over HTTP from several threads until told to stop; returns every acknowledged index
/// with the action it carried.
fn stream_appends(
    addr: String,
    token: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<(u64, String)>>> {
    (0..8)
        .map(|w| {
            let (addr, token, stop) = (addr.clone(), token.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let action = format!("crash.w{w}.n{n}");
                    let body = audit_event(&action, None).to_string();
                    let request = format!(
                        "POST /audit/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let Ok(mut stream) = std::net::TcpStream::connect(&addr) else { break };
                    if std::io::Write::write_all(&mut stream, request.as_bytes()).is_err() {
                        break;
                    }
                    let mut response = String::new();
                    if std::io::Read::read_to_string(&mut stream, &mut response).is_err() || !response.starts_with("HTTP/1.1 201") {
                        break;
                    }
                    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
                    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                    if let Some(i) = v["firstIndex"].as_u64() {
                        acked.push((i, action));
                    }
                    n += 1;
                }
                acked
            })
        })
        .collect()
}

// ---------------------------------------------------------------- helpers: federation (issue 4)

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Run `scripts/interop/oidf.py` (jwcrypto + PyJWT); its absence is a loud failure, never a pass.
fn oidf(args: &[&str]) -> String {
    let script = Path::new(ROOT).join("../../scripts/interop/oidf.py");
    let out = Command::new("python3").arg(&script).args(args).output().expect("python3 must be installed");
    assert!(
        out.status.success(),
        "oidf.py {args:?} failed (scripts/test installs jwcrypto and PyJWT):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Two pending applications on `server`; their ids.
async fn two_applications(server: &TestServer, agreement: i64) -> Vec<String> {
    let mut ids = Vec::new();
    for host in ["a.portal.example.se", "b.portal.example.se"] {
        let m = Member::new(host, &server.url(""));
        let mut body = m.application(agreement, "");
        body["trustMarks"] = json!([]);
        let r = server.client.post(server.url("/federation/v1/applications")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    ids
}

// ---------------------------------------------------------------- helpers: identity (issue 5, first part)

fn encode_query(v: &str) -> String {
    ena_core::percent_encode(v)
}

/// Start .ci/oidc/op.mjs (panva/node-oidc-provider) on `port` with `args`; returns once it listens.
fn spawn_op(port: u16, args: &[&str]) -> Child {
    let op_dir = Path::new(ROOT).join("../../.ci/oidc");
    assert!(
        op_dir.join("node_modules/oidc-provider").exists(),
        "oidc-provider is not installed: run scripts/test (it runs npm ci in .ci/oidc)"
    );
    let mut op = Command::new("node")
        .arg(op_dir.join("op.mjs"))
        .arg(port.to_string())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node must be installed");
    let mut out = BufReader::new(op.stdout.take().unwrap());
    let mut ready = String::new();
    out.read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "ready");
    // Keep reading: the provider logs to stdout and dies of EPIPE if nobody listens.
    std::thread::spawn(move || for _ in out.lines() {});
    op
}

/// Log in to the portal through the provider `provider` (served by op.mjs at `issuer`); returns the
/// session cookie.
async fn op_login(server: &TestServer, issuer: &str, provider: &str) -> String {
    let callback = op_callback(server, issuer, provider).await;
    assert_eq!(callback.status(), 303, "{}: {}", server.label, callback.text().await.unwrap_or_default());
    session_cookie(&callback)
}

/// The portal's answer at the callback of a login through `provider` (served by op.mjs at `issuer`).
async fn op_callback(server: &TestServer, issuer: &str, provider: &str) -> reqwest::Response {
    let label = &server.label;
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut jar: Vec<(String, String)> = Vec::new();
    let mut keep = |r: &reqwest::Response| {
        for v in r.headers().get_all("set-cookie") {
            let kv = v.to_str().unwrap().split(';').next().unwrap().to_owned();
            let (k, val) = kv.split_once('=').unwrap();
            jar.retain(|(n, _)| n != k);
            jar.push((k.to_owned(), val.to_owned()));
        }
        jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    };
    let start = c
        .get(server.url(&format!("/login/start?provider={provider}&loa=3&return=%2Fmina-sidor")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303, "{label}");
    let login_cookie = start.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let mut next = location(&start);
    assert!(next.starts_with(issuer), "{next}");
    let mut cookies = String::new();
    // Follow the provider's redirects (auth → interaction → auth resume → our callback).
    for _ in 0..6 {
        if next.starts_with(&server.url("/login/callback")) {
            break;
        }
        let url = if next.starts_with('/') { format!("{issuer}{next}") } else { next.clone() };
        let r = c.get(&url).header("cookie", &cookies).send().await.unwrap();
        cookies = keep(&r);
        assert!(r.status().is_redirection(), "{label}: {} {}", r.status(), r.text().await.unwrap());
        next = location(&r);
    }
    c.get(&next).header("cookie", login_cookie).send().await.unwrap()
}

/// An event with `action` is in the log (operator view).
async fn denied_or_logged(server: &TestServer, action: &str) {
    let events = json_of(
        server
            .client
            .get(server.url(&format!("/audit/v1/events?action={action}")))
            .bearer_auth(server.operator_token())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(!events["items"].as_array().unwrap().is_empty(), "{}: no {action} event", server.label);
}

// ---------------------------------------------------------------- helpers: identity (issue 5: tokens, employee credentials)

/// The operator suspends a member.
async fn suspend(server: &TestServer, entity_id: &str) {
    let r = server
        .client
        .post(server.url("/federation/v1/members/suspend"))
        .bearer_auth(server.operator_token())
        .json(&json!({"entityId": entity_id, "reason": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}: suspend {entity_id}", server.label);
}

/// A denied event with `action` is in the log, and its reason mentions `needle`.
async fn denied_event_logged(server: &TestServer, action: &str, needle: &str) {
    let events = json_of(
        server
            .client
            .get(server.url(&format!("/audit/v1/events?action={action}&outcome=denied&limit=100")))
            .bearer_auth(server.operator_token())
            .send()
            .await
            .unwrap(),
    )
    .await;
    let found = events["items"].as_array().unwrap().iter().any(|e| e.to_string().contains(needle));
    assert!(found, "{}: no denied {action} mentioning {needle:?} in {events}", server.label);
}

async fn ec_of(server: &TestServer) -> String {
    server.client.get(server.url("/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap()
}

fn rustls_pemfile_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

/// Run `ena ARGS` off the async workers (the in-process server keeps serving meanwhile).
async fn ena_off_thread(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(ENA).args(&args).env_remove("ENA_SERVER").env_remove("ENA_NODE_URL").output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

pub(crate) use nodekit::*;
