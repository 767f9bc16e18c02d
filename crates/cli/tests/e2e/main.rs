//! End-to-end tests: the real server over HTTP (on SQLite, and on PostgreSQL when
//! `ENA_TEST_POSTGRES_URL` is set), and the real `ena` binary as a user runs it.
//!
//! This is the workspace's one integration-test binary: each extra one is another slow link on 2 cores.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ena_server::ServerConfig;
use ena_testkit::TestServer;
use serde_json::{Value, json};

const ENA: &str = env!("CARGO_BIN_EXE_ena");

mod instances;
mod security;

/// Assert `response` is a problem+json with `status` and `code`; return its body.
async fn check_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    for key in ["type", "title", "detail", "instance", "traceId"] {
        assert!(body[key].as_str().is_some_and(|v| !v.is_empty()), "{key} missing in {body}");
    }
    body
}

fn invalid_properties(problem: &Value) -> Vec<String> {
    problem["invalid-parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["property"].as_str().unwrap().to_owned())
        .collect()
}

/// The shipped plan as the JSON the API accepts.
fn shipped_plan_json() -> Value {
    toml::from_str(ena_plan::SHIPPED_PLAN).unwrap()
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "{}", response.url());
    response.json().await.unwrap()
}

#[tokio::test]
async fn plan_api_on_each_database() {
    for server in TestServer::each().await {
        let label = &server.label;
        let health = json_of(server.get("/healthz").await).await;
        assert_eq!(health["status"], "ok");
        let ready = json_of(server.get("/readyz").await).await;
        let expected_db = if label.starts_with("sqlite") { "sqlite" } else { "postgres" };
        assert_eq!(ready["database"], expected_db, "{label}");

        let info = json_of(server.get("/plan/v1/api-info").await).await;
        assert_eq!(info["apiName"], "ena plan API");
        for key in ["apiVersion", "apiReleased", "apiStatus", "apiDocumentation"] {
            assert!(info[key].is_string(), "{key}");
        }

        let page = json_of(server.get("/plan/v1/blocks?limit=4&page=2").await).await;
        assert_eq!(
            (page["total"].as_u64(), page["page"].as_u64(), page["items"].as_array().unwrap().len()),
            (Some(14), Some(2), 4)
        );
        let all = json_of(server.get("/plan/v1/blocks").await).await;
        assert_eq!(all["limit"], 20);
        assert_eq!(all["items"].as_array().unwrap().len(), 14);
        let trust = json_of(server.get("/plan/v1/blocks?category=tillit-och-sakerhet").await).await;
        assert_eq!(trust["total"], 5);

        let ombud = json_of(server.get("/plan/v1/blocks/mina-ombud").await).await;
        assert_eq!(ombud["agency"], "Bolagsverket");
        assert_eq!(ombud["dependsOn"][0]["id"], "identitet");
        assert_eq!(ombud["costs"][1], json!({"year": 2022, "development": 14000, "operations": 4000, "total": 18000}));

        let summary = json_of(server.get("/plan/v1/cost-summary").await).await;
        let totals: Vec<i64> =
            summary["perYear"].as_array().unwrap().iter().map(|y| y["total"].as_i64().unwrap()).collect();
        assert_eq!(totals, [155_900, 190_500, 194_500], "table 17 on {label}");
        let dev: Vec<i64> = summary["perYear"]
            .as_array()
            .unwrap()
            .iter()
            .map(|y| y["identifiedBlocks"]["development"].as_i64().unwrap())
            .collect();
        assert_eq!(dev, [84_500, 66_000, 28_000], "table 5 on {label}");
        assert_eq!(summary["schablon"]["value"], 10_000);

        // The what-if calculation of the shipped plan gives the stored plan's summary.
        let plan = shipped_plan_json();
        let calculated = server.client.post(server.url("/plan/v1/cost-calculations")).json(&plan).send().await.unwrap();
        assert_eq!(json_of(calculated).await, summary, "{label}");
    }
}

#[tokio::test]
async fn bad_input_gets_problems_naming_the_field_and_changes_nothing() {
    let config = ServerConfig { body_limit: 64 * 1024, ..ServerConfig::default() };
    for server in TestServer::each_with(config).await {
        let before = json_of(server.get("/plan/v1/cost-summary").await).await;
        let path = "/plan/v1/cost-calculations";

        let problem = check_problem(
            server.post_raw(path, "application/json", "{\"meta\": {\"unit\": }").await,
            400,
            "malformed-json",
        )
        .await;
        assert!(problem["detail"].as_str().unwrap().contains("line 1 column"), "{problem}");
        assert_eq!(problem["instance"], path);

        let mut plan = shipped_plan_json();
        plan["blocks"][0]["lines"][0]["costs"][0]["amount"] = json!("7000");
        let problem =
            check_problem(server.post_raw(path, "application/json", plan.to_string()).await, 400, "invalid-body").await;
        assert_eq!(invalid_properties(&problem), ["blocks[0].lines[0].costs[0].amount"]);

        let mut plan = shipped_plan_json();
        plan["meta"]["colour"] = json!("blue");
        let problem =
            check_problem(server.post_raw(path, "application/json", plan.to_string()).await, 400, "invalid-body").await;
        assert_eq!(invalid_properties(&problem), ["meta.colour"]);

        let mut plan = shipped_plan_json();
        plan["blocks"][2]["dependsOn"] = json!(["no-such-block"]);
        plan["blocks"][0]["lines"][0]["costs"][0]["amount"] = json!(-5);
        let problem =
            check_problem(server.post_raw(path, "application/json", plan.to_string()).await, 400, "validation-failed")
                .await;
        assert_eq!(invalid_properties(&problem), ["blocks[0].lines[0].costs[0].amount", "blocks[2].dependsOn[0]"]);

        // Numbers that would overflow the cost model are refused, not computed.
        let mut plan = shipped_plan_json();
        plan["meta"]["schablonRounding"] = json!(1_i64 << 62);
        plan["blocks"][1]["lines"][0]["costs"][0]["amount"] = json!(i64::MAX);
        let problem =
            check_problem(server.post_raw(path, "application/json", plan.to_string()).await, 400, "validation-failed")
                .await;
        assert_eq!(invalid_properties(&problem), ["meta.schablonRounding", "blocks[1].lines[0].costs[0].amount"]);

        check_problem(server.post_raw(path, "text/plain", "hello").await, 415, "unsupported-media-type").await;
        let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(70 * 1024));
        check_problem(server.post_raw(path, "application/json", huge).await, 413, "payload-too-large").await;

        let problem =
            check_problem(server.get("/plan/v1/blocks?limit=500&page=0").await, 400, "invalid-parameter").await;
        assert_eq!(invalid_properties(&problem), ["limit", "page"]);
        let problem = check_problem(server.get("/plan/v1/blocks?limit=ten").await, 400, "invalid-parameter").await;
        assert_eq!(invalid_properties(&problem), ["limit"]);
        let problem = check_problem(server.get("/plan/v1/blocks?category=nope").await, 400, "invalid-parameter").await;
        assert_eq!(invalid_properties(&problem), ["category"]);
        check_problem(server.get("/plan/v1/blocks/no-such-block").await, 404, "resource-not-found").await;
        check_problem(server.get("/plan/v2/blocks").await, 404, "route-not-found").await;
        check_problem(server.get("/no/such/path").await, 404, "route-not-found").await;
        let delete = server.client.delete(server.url("/plan/v1/blocks")).send().await.unwrap();
        check_problem(delete, 405, "method-not-allowed").await;
        let put = server.client.put(server.url("/plan/v1/cost-summary")).body("{}").send().await.unwrap();
        check_problem(put, 405, "method-not-allowed").await;

        assert_eq!(
            json_of(server.get("/plan/v1/cost-summary").await).await,
            before,
            "bad input changed the plan on {}",
            server.label
        );
    }
}

#[tokio::test]
async fn traceparent_is_continued_or_started_on_every_response() {
    let server = TestServer::start(ena_store::testing::sqlite().await).await;
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for path in ["/healthz", "/plan/v1/blocks/nope", "/nowhere"] {
        let response = server.client.get(server.url(path)).header("traceparent", incoming).send().await.unwrap();
        let returned = response.headers()["traceparent"].to_str().unwrap().to_owned();
        assert!(returned.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{path}: {returned}");
        assert!(!returned.contains("00f067aa0ba902b7"), "the server is a new span");
    }
    let response = server.get("/healthz").await;
    let started = response.headers()["traceparent"].to_str().unwrap();
    assert_eq!(started.len(), 55, "{started}");
    let problem = check_problem(
        server.client.get(server.url("/nowhere")).header("traceparent", incoming).send().await.unwrap(),
        404,
        "route-not-found",
    )
    .await;
    assert_eq!(problem["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[tokio::test]
async fn metrics_openapi_docs_and_portal() {
    let server = TestServer::start(ena_store::testing::sqlite().await).await;
    server.get("/plan/v1/blocks/mina-ombud").await;
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"http_requests_total{method="GET",route="/plan/v1/blocks/{id}",status="200"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"), "{metrics}");
    assert!(metrics.contains(r#"db_pool_connections{state="max"} 8"#), "{metrics}");

    let doc = json_of(server.get("/openapi.json").await).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/plan/v1/cost-summary"]["get"].is_object());

    let docs = server.get("/docs").await;
    assert_eq!(docs.headers()["content-type"], "text/html; charset=utf-8");
    let html = docs.text().await.unwrap();
    assert!(html.contains("/plan/v1/cost-calculations") && html.contains("id=\"error-invalid-body\""));
    assert!(
        !html.contains("<script") && !html.contains("https://cdn"),
        "the reference page works offline without scripts"
    );

    let home = server.get("/").await.text().await.unwrap();
    assert!(home.contains("<html lang=\"sv\">") && home.contains("Välkommen till ena"));
    let home_en = server.get("/?lang=en").await.text().await.unwrap();
    assert!(home_en.contains("<html lang=\"en\">") && home_en.contains("Welcome to ena"));
    let blocks = server.get("/byggblock").await.text().await.unwrap();
    assert!(blocks.contains("Tillit och säkerhet") && blocks.contains("141\u{a0}500") && blocks.contains("Mina ombud"));
    let blocks_en = server.get("/byggblock?lang=en").await.text().await.unwrap();
    assert!(blocks_en.contains("Trust and security") && blocks_en.contains("190,500"));
    let block = server.get("/byggblock/mina-ombud?lang=en").await.text().await.unwrap();
    assert!(block.contains("Bolagsverket") && block.contains("/byggblock/identitet?lang=en"));

    // A browser on a portal path gets a page, an API client gets a problem.
    let html_404 = server.client.get(server.url("/byggblock/nope")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(html_404.status(), 404);
    assert!(html_404.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(html_404.headers().contains_key("content-security-policy"), "error pages keep the security headers");
    let api_404 =
        server.client.get(server.url("/plan/v1/blocks/nope")).header("accept", "text/html").send().await.unwrap();
    check_problem(api_404, 404, "resource-not-found").await;
    let csp = server.get("/").await.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'none'"));
}

// ---------------------------------------------------------------- the binary

fn ena(args: &[&str]) -> std::process::Output {
    Command::new(ENA).args(args).env_remove("ENA_DATABASE_URL").output().expect("run ena")
}

#[test]
fn id_parse_prints_json_or_a_one_line_reason() {
    let out = ena(&["id", "parse", "19121212-1212"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({"kind": "personnummer", "normalized": "191212121212", "birthDate": "1912-12-12", "coordinationNumber": false, "sex": "male"})
    );
    let v: Value = serde_json::from_slice(&ena(&["id", "parse", "701063-2391"]).stdout).unwrap();
    assert_eq!((v["kind"].as_str(), v["coordinationNumber"].as_bool()), (Some("samordningsnummer"), Some(true)));
    let v: Value = serde_json::from_slice(&ena(&["id", "parse", "556036-0793"]).stdout).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["normalized"].as_str(), v["group"].as_u64()),
        (Some("organisationsnummer"), Some("165560360793"), Some(5))
    );

    for (input, reason) in [
        ("19121212-1213", "wrong check digit: expected 2, got 3"),
        ("19121312-1212", "impossible date"),
        ("1212", "wrong length"),
        ("556036-0794", "wrong check digit"),
        ("abc", "unexpected character"),
    ] {
        let out = ena(&["id", "parse", input]);
        assert!(!out.status.success(), "{input}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(reason), "{input}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn plan_report_from_a_file_in_every_format() {
    let csv = String::from_utf8(ena(&["plan", "report", "--format", "csv"]).stdout).unwrap();
    assert!(csv.contains("\n17,Totalt,155900,190500,194500,540900\n"), "{csv}");
    let json: Value = serde_json::from_slice(&ena(&["plan", "report", "--format", "json"]).stdout).unwrap();
    assert_eq!(json["schablon"]["value"], 10_000);
    let table = String::from_utf8(ena(&["plan", "report"]).stdout).unwrap();
    assert!(table.contains("Tabell 5") && table.contains("84500"), "{table}");

    // Any input recomputes: raise one block's 2021 cost and the totals follow.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.toml");
    std::fs::write(&file, ena_plan::SHIPPED_PLAN.replacen("amount = 7000", "amount = 8000", 1)).unwrap();
    let csv = String::from_utf8(ena(&["plan", "report", "--format", "csv", "--file", file.to_str().unwrap()]).stdout)
        .unwrap();
    assert!(csv.contains("\n1,Totalt,156900,170500,154500,481900\n"), "{csv}");

    std::fs::write(&file, ena_plan::SHIPPED_PLAN.replacen("amount = 7000", "amount = -1", 1)).unwrap();
    let out = ena(&["plan", "report", "--file", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("blocks[0].lines[0].costs[0].amount: must not be negative"), "{stderr}");
    let out = ena(&["plan", "report", "--file", "/nonexistent.toml"]);
    assert!(String::from_utf8(out.stderr).unwrap().contains("cannot read plan file /nonexistent.toml"));
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

#[test]
fn serve_guards_its_data_dir_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start_serve(&data, &[], &[]);
    assert!(data.join("ena.db").exists(), "SQLite database created in the data dir");
    assert_eq!(get(&served.addr, "/readyz").0, 200);
    assert_eq!(get(&served.addr, "/plan/v1/blocks/mina-ombud").0, 200, "seeded with the plan");

    // A second serve on the same data dir refuses, naming the directory.
    let out = Command::new(ENA)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("is in use by another ena process"), "{stderr}");
    assert_eq!(get(&served.addr, "/readyz").0, 200, "the first server is unharmed");

    let (status, lines) = sigterm_and_wait(served);
    assert!(status.success(), "graceful shutdown exits 0: {status}");
    assert!(lines.iter().any(|l| l.contains("ena stopped")), "{lines:?}");

    // The data survives a restart, and the lock is free again.
    let served = start_serve(&data, &[], &[]);
    assert_eq!(get(&served.addr, "/plan/v1/cost-summary").0, 200);
    sigterm_and_wait(served);
}

#[test]
fn serve_refuses_unusable_settings_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(ENA).arg("serve").args(args).env_remove("ENA_DATABASE_URL").output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    };
    let data = dir.path().join("d1");
    let err = run(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "postgres://ena:secret@127.0.0.1:9/ena",
    ]);
    assert!(err.contains("cannot connect to PostgreSQL at postgres://ena:***@127.0.0.1:9/ena"), "{err}");
    assert!(!err.contains("secret"), "passwords are never printed: {err}");

    // A data dir whose parent is a file cannot be created.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = run(&["--data-dir", file.join("data").to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert!(err.contains("cannot create data directory"), "{err}");

    let err = run(&["--listen", "not-an-address", "--data-dir", data.to_str().unwrap()]);
    assert!(err.contains("listen address \"not-an-address\""), "{err}");
    let err = run(&["--database-url", "mysql://x", "--data-dir", data.to_str().unwrap()]);
    assert!(err.contains("not supported"), "{err}");
}

/// A data dir without write permission. Root ignores permission bits, so as root the server runs as
/// `nobody` through setpriv (util-linux); as another user it runs directly.
#[test]
fn serve_refuses_a_read_only_data_dir() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("readonly");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false);
    let mut command = if is_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", ENA]);
        c
    } else {
        Command::new(ENA)
    };
    let out = command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()])
        .current_dir(dir.path())
        .env_remove("ENA_DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("is not writable"), "{stderr}");
    assert!(std::fs::read_dir(&data).unwrap().next().is_none(), "nothing was written");
}

#[test]
fn serve_settings_layer_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ena.toml");
    // The file asks for a port that the environment overrides with 0; the data dir comes from the file.
    let data = dir.path().join("from-file");
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:1\"\ndata_dir = \"{}\"\nlog_format = \"human\"\n", data.display()),
    )
    .unwrap();
    let mut command = Command::new(ENA);
    command
        .args(["serve", "--config", config.to_str().unwrap(), "--log-format", "json"])
        .env("ENA_LISTEN", "127.0.0.1:0")
        .env_remove("ENA_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    // JSON logs (flag beat the file), a port other than 1 (env beat the file), the file's data dir.
    let line = std::iter::once(first).chain(lines.map_while(Result::ok)).find(|l| l.contains("listening on")).unwrap();
    let parsed: Value = serde_json::from_str(&line).expect("json log line");
    assert!(!parsed["message"].as_str().unwrap().contains("127.0.0.1:1 "), "{line}");
    assert!(data.join("ena.db").exists());
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn serve_on_postgres_when_configured() {
    let Ok(base) = std::env::var("ENA_TEST_POSTGRES_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must set ENA_TEST_POSTGRES_URL");
        eprintln!("ENA_TEST_POSTGRES_URL not set: the PostgreSQL half of this test did not run");
        return;
    };
    let url = ena_testkit::postgres_schema_url(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let served = start_serve(dir.path(), &["--database-url", &url], &[]);
    let (status, body) = get(&served.addr, "/readyz");
    assert_eq!(status, 200);
    assert!(body.contains("\"database\":\"postgres\""), "{body}");
    assert!(!dir.path().join("ena.db").exists(), "no SQLite file when PostgreSQL is used");
    let (status, lines) = sigterm_and_wait(served);
    assert!(status.success(), "{lines:?}");
}

// ---------------------------------------------------------------- tidy

/// Every Rust file says what it is for on its first line (rust-analyzer's habit).
#[test]
fn tidy_every_rust_file_starts_with_a_doc_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut missing = Vec::new();
    let mut stack = vec![root.join("crates")];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("target") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                seen += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                if !text.starts_with("//!") {
                    missing.push(path.display().to_string());
                }
            }
        }
    }
    assert!(seen > 10, "found only {seen} files; is the walk wrong?");
    assert!(missing.is_empty(), "files without a leading //! line: {missing:?}");
}

/// Every write transaction begins with `BeginWrite::begin_write` (`BEGIN IMMEDIATE` on SQLite): a
/// deferred `BEGIN` that reads and then writes fails with "database is locked" under load.
#[test]
fn tidy_no_deferred_write_transactions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (mut offending, mut seen) = (Vec::new(), 0);
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("target") && !path.ends_with("tests") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.starts_with(root.join("crates/store")) {
                seen += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for pattern in [".begin().await", ".begin_with("] {
                    if text.contains(pattern) {
                        offending.push(format!("{}: {pattern}", path.display()));
                    }
                }
            }
        }
    }
    assert!(seen > 10, "found only {seen} files; is the walk wrong?");
    assert!(offending.is_empty(), "write transactions must begin with begin_write: {offending:?}");
}

// ---------------------------------------------------------------- audit (Spårbarhet)

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

#[tokio::test]
async fn audit_api_on_each_database() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use ena_audit::merkle;
    use ena_audit::note::{NoteVerifier, verify_checkpoint};

    for server in TestServer::each().await {
        let label = server.label.clone();
        let token = server.operator_token();
        let vkey = server.get("/audit/v1/verifier-key").await.text().await.unwrap();
        let verifier = NoteVerifier::parse(&vkey).unwrap();
        let checkpoint = server.get("/audit/v1/checkpoint").await;
        assert!(checkpoint.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        verify_checkpoint(&checkpoint.text().await.unwrap(), &verifier).unwrap();

        // Without the token: 401, and the attempt itself is logged.
        let anonymous = server
            .client
            .post(server.url("/audit/v1/events"))
            .json(&audit_event("case.read", None))
            .send()
            .await
            .unwrap();
        check_problem(anonymous, 401, "authentication-required").await;

        let post =
            |body: Value| server.client.post(server.url("/audit/v1/events")).bearer_auth(&token).json(&body).send();
        let one = post(audit_event("case.read", Some("19121212-1212"))).await.unwrap();
        assert_eq!(one.status(), 201, "{label}");
        let one: Value = one.json().await.unwrap();
        let batch: Value = post(json!([audit_event("case.update", None), audit_event("case.close", None)]))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(batch["count"], 2);
        assert_eq!(batch["firstIndex"].as_u64().unwrap(), one["firstIndex"].as_u64().unwrap() + 1);
        let signed = verify_checkpoint(batch["checkpoint"].as_str().unwrap(), &verifier).unwrap();
        assert_eq!(signed.size, batch["treeSize"].as_u64().unwrap());

        // Bad events name their fields and append nothing.
        let size_before = signed.size;
        let mut bad = audit_event("", Some("19121212-1213"));
        bad["time"] = json!("yesterday");
        let problem = check_problem(post(bad).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&problem), ["time", "action", "dataSubjects[0]"]);
        assert!(!problem.to_string().contains("19121212-1213"), "identity numbers are not echoed: {problem}");
        let problem = check_problem(post(json!({"time": 1})).await.unwrap(), 400, "invalid-body").await;
        assert!(!invalid_properties(&problem).is_empty());

        // Every entry carries its exact leaf bytes; the proofs verify against a signed root.
        let index = one["firstIndex"].as_u64().unwrap();
        let entry = json_of(
            server
                .client
                .get(server.url(&format!("/audit/v1/entries/{index}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let data = STANDARD.decode(entry["data"].as_str().unwrap()).unwrap();
        assert_eq!(STANDARD.encode(merkle::leaf_hash(&data)), entry["leafHash"]);
        assert_eq!(entry["event"]["dataSubjects"][0], "191212121212", "normalised to 12 digits");
        let proof =
            json_of(server.get(&format!("/audit/v1/proofs/inclusion?index={index}&treeSize={size_before}")).await)
                .await;
        let hashes: Vec<merkle::Hash> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| STANDARD.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
            .collect();
        merkle::verify_inclusion(index, size_before, &merkle::leaf_hash(&data), &hashes, &signed.root).unwrap();
        // The consistency proof from the first checkpoint to this one verifies (RFC 9162 §2.1.4.2).
        let first = json_of(server.get("/audit/v1/proofs/inclusion?index=0&treeSize=1").await).await;
        assert_eq!(first["proof"], json!([]), "a one-leaf tree needs no inclusion proof");
        let consistency =
            json_of(server.get(&format!("/audit/v1/proofs/consistency?from=1&to={size_before}")).await).await;
        assert_eq!(consistency["to"], size_before);
        let path: Vec<merkle::Hash> = consistency["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| STANDARD.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
            .collect();
        let entry0 =
            json_of(server.client.get(server.url("/audit/v1/entries/0")).bearer_auth(&token).send().await.unwrap())
                .await;
        let root1 = merkle::leaf_hash(&STANDARD.decode(entry0["data"].as_str().unwrap()).unwrap());
        merkle::verify_consistency(1, size_before, &path, &root1, &signed.root).unwrap();

        for (path, param) in [
            (format!("/audit/v1/proofs/inclusion?index={size_before}&treeSize={size_before}"), "index"),
            (format!("/audit/v1/proofs/inclusion?index=0&treeSize={}", size_before + 1), "treeSize"),
            ("/audit/v1/proofs/inclusion?index=x&treeSize=1".to_owned(), "index"),
            ("/audit/v1/proofs/inclusion?treeSize=1".to_owned(), "index"),
            ("/audit/v1/proofs/consistency?from=0&to=1".to_owned(), "from"),
            ("/audit/v1/proofs/consistency?from=3&to=2".to_owned(), "from"),
            (format!("/audit/v1/proofs/consistency?from=1&to={}", size_before + 5), "to"),
        ] {
            let problem = check_problem(server.get(&path).await, 400, "invalid-parameter").await;
            assert_eq!(invalid_properties(&problem), [param], "{path}");
        }
        check_problem(server.get("/audit/v1/entries/999999").await, 404, "resource-not-found").await;

        // Queries (operator): by correlation id, by data subject in a body (RES.02), by outcome.
        let trace = "00-11112222333344445555666677778888-1111222233334444-01";
        let traced = server
            .client
            .post(server.url("/audit/v1/events"))
            .bearer_auth(&token)
            .header("traceparent", trace)
            .json(&audit_event("case.read", None))
            .send()
            .await
            .unwrap();
        assert_eq!(traced.status(), 201);
        let found = json_of(
            server
                .client
                .get(server.url("/audit/v1/events?correlationId=11112222333344445555666677778888"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            found["items"].as_array().unwrap().len(),
            1,
            "{label}: the request's trace id became the correlation id"
        );
        let by_subject = json_of(
            server
                .client
                .post(server.url("/audit/v1/event-searches"))
                .bearer_auth(&token)
                .json(&json!({"dataSubject": "121212-1212"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(by_subject["items"].as_array().unwrap().len(), 0, "121212-1212 is 2012-12-12, another person");
        let by_subject = json_of(
            server
                .client
                .post(server.url("/audit/v1/event-searches"))
                .bearer_auth(&token)
                .json(&json!({"dataSubject": "19121212-1212"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(by_subject["items"].as_array().unwrap().len(), 1, "{label}");
        let denied = json_of(
            server.client.get(server.url("/audit/v1/events?outcome=denied")).bearer_auth(&token).send().await.unwrap(),
        )
        .await;
        assert_eq!(denied["items"][0]["event"]["actor"]["kind"], "anonymous", "the 401 above is in the log");
        let problem = check_problem(
            server
                .client
                .get(server.url("/audit/v1/events?outcome=maybe&limit=0"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(invalid_properties(&problem), ["outcome"]);

        // Five denied attempts within a minute raise the shipped denied-burst alert.
        for _ in 0..5 {
            server.client.get(server.url("/audit/v1/alerts")).bearer_auth("wrong").send().await.unwrap();
        }
        let mut alerts = Value::Null;
        for _ in 0..50 {
            alerts =
                json_of(server.client.get(server.url("/audit/v1/alerts")).bearer_auth(&token).send().await.unwrap())
                    .await;
            if !alerts["items"].as_array().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(alerts["items"][0]["event"]["action"], "alert.denied-burst", "{label}: {alerts}");

        // Plan writes are audited.
        let plan = shipped_plan_json();
        let put = server.client.put(server.url("/plan/v1/plan")).bearer_auth(&token).json(&plan).send().await.unwrap();
        assert_eq!(put.status(), 200, "{label}");
        let replaced = json_of(
            server
                .client
                .get(server.url("/audit/v1/events?action=plan.replace"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(replaced["items"][0]["event"]["outcome"]["result"], "allowed");
        check_problem(
            server.client.put(server.url("/plan/v1/plan")).json(&plan).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
    }
}

#[tokio::test]
async fn witness_cosigns_another_nodes_log_over_http() {
    let member = TestServer::start(ena_store::testing::sqlite().await).await;
    let vkey = member.get("/audit/v1/verifier-key").await.text().await.unwrap();
    // A log outside the federation is witnessed only when configured (security.rs: the unlisted one).
    let config = ServerConfig { witnessed_logs: vec![vkey.trim().to_owned()], ..ServerConfig::default() };
    let central = TestServer::start_with(ena_store::testing::sqlite().await, config).await;
    let token = member.operator_token();
    let append = || {
        member
            .client
            .post(member.url("/audit/v1/events"))
            .bearer_auth(&token)
            .json(&audit_event("case.read", None))
            .send()
    };
    let first: Value = append().await.unwrap().json().await.unwrap();
    let cosign = |checkpoint: &str, proof: Value| {
        central
            .client
            .post(central.url("/audit/v1/witness/cosign"))
            .json(&json!({"checkpoint": checkpoint, "verifierKey": vkey.trim(), "proof": proof}))
            .send()
    };
    let r = json_of(cosign(first["checkpoint"].as_str().unwrap(), json!([])).await.unwrap()).await;
    assert!(r["checkpoint"].as_str().unwrap().ends_with(r["cosignature"].as_str().unwrap()));
    for _ in 0..3 {
        append().await.unwrap();
    }
    let now = member.get("/audit/v1/checkpoint").await.text().await.unwrap();
    let proof = json_of(member.get("/audit/v1/proofs/consistency?from=1&to=4").await).await;
    json_of(cosign(&now, proof["proof"].clone()).await.unwrap()).await;
    // Going back (the first checkpoint again) is a conflict, recorded as an alert at the witness.
    check_problem(cosign(first["checkpoint"].as_str().unwrap(), json!([])).await.unwrap(), 409, "conflict").await;
    let ctoken = central.operator_token();
    let alerts =
        json_of(central.client.get(central.url("/audit/v1/alerts")).bearer_auth(&ctoken).send().await.unwrap()).await;
    assert_eq!(alerts["items"][0]["event"]["action"], "alert.split-view");
    let problem = check_problem(cosign("not a note", json!([])).await.unwrap(), 400, "validation-failed").await;
    assert_eq!(invalid_properties(&problem), ["checkpoint"]);
    let problem = check_problem(cosign(&now, json!(["short"])).await.unwrap(), 400, "invalid-parameter").await;
    assert_eq!(invalid_properties(&problem), ["proof[0]"]);
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

#[test]
fn crash_during_appends_loses_no_acknowledged_event_and_verify_passes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut served = start_serve(&data, &[], &[]);
    let token = String::from_utf8(ena(&["admin", "token", "--data-dir", data.to_str().unwrap()]).stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert!(token.starts_with("ena_op_"), "{token}");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = stream_appends(served.addr.clone(), token.clone(), stop.clone());
    std::thread::sleep(Duration::from_millis(1500));
    // kill -9 in the middle of the stream.
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<(u64, String)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(acked.len() > 20, "only {} appends were acknowledged before the kill", acked.len());

    // Restart: the log verifies, and every acknowledged event is there at its index.
    let served = start_serve(&data, &[], &[]);
    let out = ena(&["audit", "verify", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("ok: "));
    for (index, action) in acked.iter().step_by(7) {
        let (status, body) = get_as(&served.addr, &format!("/audit/v1/entries/{index}"), Some(&token));
        assert_eq!(status, 200, "acknowledged entry {index} is missing");
        assert!(body.contains(action.as_str()), "entry {index} does not hold {action}");
    }
    sigterm_and_wait(served);
}

#[tokio::test]
async fn tampering_with_the_sqlite_file_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start_serve(&data, &[], &[]);
    let token = String::from_utf8(ena(&["admin", "token", "--data-dir", data.to_str().unwrap()]).stdout)
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    for i in 0..12 {
        let r = client
            .post(format!("http://{}/audit/v1/events", served.addr))
            .bearer_auth(&token)
            .json(&audit_event(&format!("t.{i}"), None))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let data_arg = data.to_str().unwrap().to_owned();
    let verify = || ena(&["audit", "verify", "--data-dir", &data_arg]);
    assert!(verify().status.success());

    let show = ena(&["audit", "show", "5", "--data-dir", &data_arg]);
    assert!(String::from_utf8(show.stdout).unwrap().contains("\"action\": \"t.5\""));
    let tail = String::from_utf8(ena(&["audit", "tail", "-n", "3", "--data-dir", &data_arg]).stdout).unwrap();
    assert_eq!(tail.lines().count(), 3, "{tail}");

    // Edit one stored leaf directly in SQLite, as an intruder with file access would.
    let store = ena_store::Store::open_sqlite(&data.join("ena.db")).await.unwrap();
    ena_store::with_pool!(&store, pool => {
        sqlx::query("UPDATE audit_leaves SET data = replace(data, 't.7', 't.X') WHERE action = 't.7'").execute(pool).await.map(|_| ())
    })
    .unwrap();
    store.close().await;
    let out = verify();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let index = stderr.split("tampering found at index ").nth(1).and_then(|s| s.split(':').next()).map(str::to_owned);
    assert!(stderr.contains("was changed"), "{stderr}");
    let (status, body) = get_as(
        &served.addr,
        &format!("/audit/v1/entries/{}", index.clone().expect("verify names an index")),
        Some(&token),
    );
    assert_eq!(status, 200);
    assert!(body.contains("t.X"), "verify named the edited leaf ({index:?}): {body}");
    sigterm_and_wait(served);
}

#[test]
fn verify_proof_reads_transparency_dev_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/merkle/testdata");
    if !root.is_dir() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must have ../shared/testdata");
        eprintln!("!!! {} is missing: verify-proof was NOT tested against the vectors !!!", root.display());
        return;
    }
    for (file, ok) in [
        ("inclusion/1/happy-path.json", true),
        ("inclusion/1/wrong-leaf.json", false),
        ("consistency/1/happy-path.json", true),
        ("consistency/1/swapped-roots.json", false),
    ] {
        let out = ena(&["audit", "verify-proof", "--file", root.join(file).to_str().unwrap()]);
        assert_eq!(out.status.success(), ok, "{file}: {}", String::from_utf8_lossy(&out.stderr));
        if ok {
            assert!(String::from_utf8(out.stdout).unwrap().starts_with("ok"));
        }
    }
    let out = ena(&["audit", "verify-proof", "--file", "/nonexistent.json"]);
    assert!(String::from_utf8(out.stderr).unwrap().contains("cannot read /nonexistent.json"));
}

// ---------------------------------------------------------------- federation (issue 4)

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

fn payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

struct Member {
    id: String,
    /// Federation entity key (signs the entity configuration).
    key: ena_keys::jose::SigningKey,
    tls: rcgen::KeyPair,
    /// `oauth_client` key (private_key_jwt at the token endpoint).
    client_key: ena_keys::jose::SigningKey,
    /// `ena_credential_issuer` key (signs employee credentials).
    credential_key: ena_keys::jose::SigningKey,
    /// Entity types applied for, and metadata beyond ena_node's (by entity type).
    entity_types: Value,
    extra_metadata: Value,
    /// The organisation number applied with.
    organisation: String,
    /// The trust anchor it names in `authority_hints`.
    anchor: String,
}

impl Member {
    /// A member of the federation whose trust anchor is `anchor` (its entity id, the server's base URL).
    fn new(host: &str, anchor: &str) -> Member {
        Member {
            anchor: anchor.trim_end_matches('/').to_owned(),
            id: format!("https://{host}"),
            key: ena_keys::jose::SigningKey::generate().unwrap(),
            tls: rcgen::KeyPair::generate().unwrap(),
            client_key: ena_keys::jose::SigningKey::generate().unwrap(),
            credential_key: ena_keys::jose::SigningKey::generate().unwrap(),
            entity_types: json!(["ena_node", "oauth_client", "ena_credential_issuer"]),
            extra_metadata: json!({}),
            organisation: "212000-0142".into(),
        }
    }
    fn jwks(&self) -> Value {
        json!({"keys": [self.key.public_jwk()]})
    }
    fn configuration(&self) -> String {
        let types: Vec<&str> = self.entity_types.as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        self.configuration_with(&types, 0)
    }
    /// A self-signed entity configuration with metadata for `types`, issued `iat_offset` seconds from now.
    fn configuration_with(&self, types: &[&str], iat_offset: i64) -> String {
        let now = unix_now() + iat_offset;
        let all = json!({
            "ena_node": {"api_endpoint": format!("{}/node/v1", self.id)},
            "oauth_client": {"jwks": {"keys": [self.client_key.public_jwk()]}},
            "ena_credential_issuer": {"jwks": {"keys": [self.credential_key.public_jwk()]}},
        });
        let mut metadata = json!({});
        for t in types {
            if let Some(m) = all.get(*t) {
                metadata[*t] = m.clone();
            }
        }
        for (t, m) in self.extra_metadata.as_object().unwrap() {
            metadata[t] = m.clone();
        }
        self.key.sign(
            "entity-statement+jwt",
            &json!({"iss": self.id, "sub": self.id, "iat": now, "exp": now + 3600, "jwks": self.jwks(),
                    "authority_hints": [self.anchor], "metadata": metadata}),
        )
    }
    fn csr(&self, cn: &str) -> String {
        let mut p = rcgen::CertificateParams::new(vec![cn.to_owned()]).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.serialize_request(&self.tls).unwrap().pem().unwrap()
    }
    fn application(&self, agreement: i64, trust_mark: &str) -> Value {
        json!({
            "organisationNumber": self.organisation, "name": "Exempelkommunen", "contact": "fed@exempel.se",
            "entityId": self.id, "jwks": self.jwks(), "entityTypes": self.entity_types,
            "metadata": {"ena_node": {"api_endpoint": format!("{}/node/v1", self.id)}},
            "trustMarks": [trust_mark], "keyRequest": self.csr(self.id.trim_start_matches("https://")),
            "entityConfiguration": self.configuration(), "acceptAgreement": agreement
        })
    }
}

#[tokio::test]
async fn federation_onboarding_and_resolve_on_each_database() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = &server.client;
        let token = server.operator_token();
        let ta = format!("http://{}", server.addr);

        let ec = c.get(server.url("/.well-known/openid-federation")).send().await.unwrap();
        assert_eq!(ec.headers()["content-type"], "application/entity-statement+jwt", "{label}");
        let ec = ec.text().await.unwrap();
        let anchor_jwks = payload(&ec)["jwks"].clone();
        assert_eq!(
            payload(&ec)["metadata"]["federation_entity"]["federation_resolve_endpoint"],
            format!("{ta}/federation/v1/resolve")
        );
        let agreement = json_of(c.get(server.url("/federation/v1/agreement")).send().await.unwrap()).await["version"]
            .as_i64()
            .unwrap();
        let marks = payload(&ec)["trust_mark_issuers"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let member = Member::new("nod.exempel.se", &ta);
        let body = member.application(agreement, &marks[0]);

        // Bad input: each field named, nothing stored.
        let mut bad = body.clone();
        bad["organisationNumber"] = json!("212000-0143");
        bad["entityTypes"] = json!(["toaster"]);
        bad["keyRequest"] = json!(member.csr("evil.example.se"));
        bad["acceptAgreement"] = json!(agreement + 1);
        let problem = check_problem(
            c.post(server.url("/federation/v1/applications")).json(&bad).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        let fields = invalid_properties(&problem);
        for f in ["organisationNumber", "entityTypes[0]", "keyRequest", "acceptAgreement"] {
            assert!(fields.contains(&f.to_owned()), "{label}: {f} in {fields:?}");
        }
        let mut unknown = body.clone();
        unknown["surprise"] = json!(1);
        check_problem(
            c.post(server.url("/federation/v1/applications")).json(&unknown).send().await.unwrap(),
            400,
            "invalid-body",
        )
        .await;
        check_problem(
            c.post(server.url("/federation/v1/applications"))
                .header("content-type", "application/json")
                .body("{\"name\":")
                .send()
                .await
                .unwrap(),
            400,
            "malformed-json",
        )
        .await;

        let created = c.post(server.url("/federation/v1/applications")).json(&body).send().await.unwrap();
        assert_eq!(created.status(), 201, "{label}");
        let app: Value = created.json().await.unwrap();
        let id = app["id"].as_str().unwrap().to_owned();
        check_problem(
            c.post(server.url("/federation/v1/applications")).json(&body).send().await.unwrap(),
            409,
            "conflict",
        )
        .await;
        check_problem(
            c.get(server.url("/federation/v1/applications")).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        let pending = json_of(
            c.get(server.url("/federation/v1/applications?status=pending")).bearer_auth(&token).send().await.unwrap(),
        )
        .await;
        assert_eq!(pending["items"].as_array().unwrap().len(), 1, "{label}");
        check_problem(
            c.get(server.url("/federation/v1/applications?status=maybe")).bearer_auth(&token).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;

        let approve = format!("/federation/v1/applications/{id}/approve");
        check_problem(c.post(server.url(&approve)).send().await.unwrap(), 401, "authentication-required").await;
        assert_eq!(
            json_of(c.post(server.url(&approve)).bearer_auth(&token).send().await.unwrap()).await["status"],
            "approved"
        );
        check_problem(c.post(server.url(&approve)).bearer_auth(&token).send().await.unwrap(), 409, "conflict").await;

        // The federation endpoints, checked by jwcrypto and PyJWT with only the published keys.
        let list: Vec<String> =
            json_of(c.get(server.url("/federation/v1/list?entity_type=ena_node")).send().await.unwrap())
                .await
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
        assert_eq!(list, vec![member.id.clone()], "{label}");
        let fetch = c.get(server.url(&format!("/federation/v1/fetch?sub={}", member.id))).send().await.unwrap();
        assert_eq!(fetch.headers()["content-type"], "application/entity-statement+jwt");
        let fetch = fetch.text().await.unwrap();
        let resolve = c
            .get(server.url(&format!("/federation/v1/resolve?sub={}&trust_anchor={ta}", member.id)))
            .send()
            .await
            .unwrap();
        assert_eq!(resolve.headers()["content-type"], "application/resolve-response+jwt");
        let resolve = resolve.text().await.unwrap();
        let mark = c
            .get(server.url(&format!("/federation/v1/trust-mark?sub={}&trust_mark_type={}", member.id, marks[0])))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let status = c
            .post(server.url("/federation/v1/trust-mark-status"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("trust_mark={mark}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let historical =
            c.get(server.url("/federation/v1/historical-keys")).send().await.unwrap().text().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens.json");
        std::fs::write(
            &file,
            json!({"jwks": anchor_jwks, "tokens": [
                {"token": ec, "typ": "entity-statement+jwt"},
                {"token": fetch, "typ": "entity-statement+jwt"},
                {"token": resolve, "typ": "resolve-response+jwt"},
                {"token": mark, "typ": "trust-mark+jwt"},
                {"token": status, "typ": "trust-mark-status-response+jwt"},
                {"token": historical, "typ": "jwk-set+jwt"},
                {"token": member.configuration(), "typ": "entity-statement+jwt", "jwks_from": "self"},
            ]})
            .to_string(),
        )
        .unwrap();
        assert_eq!(oidf(&["verify", file.to_str().unwrap()]).lines().count(), 7, "{label}");
        assert_eq!(payload(&status)["status"], "active");
        let resolved = payload(&resolve);
        assert_eq!(resolved["metadata"]["ena_node"]["api_endpoint"], format!("{}/node/v1", member.id));
        assert!(resolved["metadata"]["ena_node"]["tls_client_certificate_sha256"].is_string());
        assert_eq!(resolved["trust_chain"].as_array().unwrap().len(), 3);

        // Spec error codes ride along in the problem.
        let wrong_ta = check_problem(
            c.get(server.url(&format!("/federation/v1/resolve?sub={}&trust_anchor=https://other.example", member.id)))
                .send()
                .await
                .unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(wrong_ta["error"], "invalid_trust_anchor", "{label}");
        let missing =
            check_problem(c.get(server.url("/federation/v1/resolve")).send().await.unwrap(), 400, "invalid-parameter")
                .await;
        assert_eq!(missing["error"], "invalid_request");
        // Updates come only over the member's own certificate (security.rs tests them over mTLS).
        check_problem(
            c.put(server.url("/federation/v1/entity-configuration")).body("e30.e30.c2ln").send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;

        // History with log indices that prove.
        let history = json_of(
            c.get(server.url(&format!("/federation/v1/history?sub={}&limit=50", member.id))).send().await.unwrap(),
        )
        .await;
        let size = json_of(c.get(server.url("/audit/v1/entries/0")).send().await.unwrap()).await;
        assert!(size["index"] == 0);
        for item in history["items"].as_array().unwrap() {
            let index = item["logIndex"].as_i64().expect("every statement is in the log");
            let entry = json_of(c.get(server.url(&format!("/audit/v1/entries/{index}"))).send().await.unwrap()).await;
            assert_eq!(entry["event"]["details"]["sha256"], item["sha256"], "{label}");
        }

        // Suspension: out of list and resolve, certificate on the CRL (read by openssl).
        let member_view = json_of(
            c.get(server.url("/federation/v1/members?status=active")).bearer_auth(&token).send().await.unwrap(),
        )
        .await;
        let cert = member_view["items"][0]["certificate"].as_str().unwrap().to_owned();
        let suspended = c
            .post(server.url("/federation/v1/members/suspend"))
            .bearer_auth(&token)
            .json(&json!({"entityId": member.id, "reason": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(suspended.status(), 200, "{label}");
        assert!(
            json_of(c.get(server.url("/federation/v1/list")).send().await.unwrap())
                .await
                .as_array()
                .unwrap()
                .is_empty()
        );
        let gone = check_problem(
            c.get(server.url(&format!("/federation/v1/resolve?sub={}&trust_anchor={ta}", member.id)))
                .send()
                .await
                .unwrap(),
            404,
            "resource-not-found",
        )
        .await;
        assert_eq!(gone["error"], "not_found");
        let crl = c.get(server.url("/federation/v1/crl")).send().await.unwrap().text().await.unwrap();
        std::fs::write(dir.path().join("crl.pem"), &crl).unwrap();
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
        std::fs::write(
            dir.path().join("ca.pem"),
            c.get(server.url("/federation/v1/ca-certificate")).send().await.unwrap().text().await.unwrap(),
        )
        .unwrap();
        let serial = Command::new("openssl")
            .args(["x509", "-noout", "-serial", "-in"])
            .arg(dir.path().join("cert.pem"))
            .output()
            .unwrap();
        assert!(serial.status.success(), "{label}: openssl x509: {}", String::from_utf8_lossy(&serial.stderr));
        let serial = String::from_utf8_lossy(&serial.stdout).trim().trim_start_matches("serial=").to_owned();
        // A serial is 1–20 bytes of hex: an empty one would make the next check pass on anything.
        assert!(serial.len() >= 2 && serial.chars().all(|c| c.is_ascii_hexdigit()), "{label}: serial {serial:?}");
        let crl_text = Command::new("openssl")
            .args(["crl", "-noout", "-text", "-in"])
            .arg(dir.path().join("crl.pem"))
            .output()
            .unwrap();
        assert!(crl_text.status.success(), "{label}: openssl crl: {}", String::from_utf8_lossy(&crl_text.stderr));
        let revoked: Vec<String> = String::from_utf8_lossy(&crl_text.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Serial Number: ").map(|s| s.trim().to_uppercase()))
            .collect();
        assert!(revoked.contains(&serial.to_uppercase()), "{label}: serial {serial} among the CRL's {revoked:?}");
        let verify = Command::new("openssl")
            .args(["verify", "-crl_check", "-CAfile"])
            .arg(dir.path().join("ca.pem"))
            .arg("-CRLfile")
            .arg(dir.path().join("crl.pem"))
            .arg(dir.path().join("cert.pem"))
            .output()
            .unwrap();
        assert!(!verify.status.success(), "{label}: openssl must refuse the revoked certificate");
        assert!(
            String::from_utf8_lossy(&verify.stdout).contains("revoked")
                || String::from_utf8_lossy(&verify.stderr).contains("revoked")
        );
    }
}

/// A chain made by another implementation (jwcrypto/PyJWT, RSA and EC keys) validates with ena's
/// library, its policies applied; broken variants get the spec's error codes.
#[test]
fn chains_from_another_implementation_validate() {
    use ena_federation::chain::{ErrorCode, validate};
    let made: Value = serde_json::from_str(&oidf(&["make-chain"])).unwrap();
    let chain: Vec<String> = serde_json::from_value(made["chain"].clone()).unwrap();
    let anchor = made["anchor"].as_str().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let resolved = validate(&chain, anchor, &made["anchor_jwks"], now).unwrap();
    let rp = &resolved.metadata["openid_relying_party"];
    assert_eq!(rp["grant_types"], json!(["authorization_code"]));
    assert_eq!(rp["contacts"], json!(["ops@int.python.example"]));
    for (name, reason) in [("expired", "expired"), ("wrong_typ", "header.typ"), ("too_long", "max_path_length")] {
        let bad: Vec<String> = serde_json::from_value(made["bad"][name].clone()).unwrap();
        let e = validate(&bad, anchor, &made["anchor_jwks"], now).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTrustChain, "{name}");
        assert!(e.reason.contains(reason), "{name}: {e}");
    }
    let other = json!({"keys": [ena_keys::jose::SigningKey::generate().unwrap().public_jwk()]});
    assert_eq!(validate(&chain, anchor, &other, now).unwrap_err().code, ErrorCode::InvalidTrustAnchor);
}

/// The CLI as members and operators use it, against a running `ena serve`.
#[test]
fn federation_cli_apply_decide_list_resolve_suspend() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start_serve(&data, &[], &[]);
    let server = format!("http://{}", served.addr);
    let fed = |args: &[&str]| {
        let out = Command::new(ENA)
            .arg("federation")
            .args(args)
            .args(["--server", &server, "--data-dir", data.to_str().unwrap()])
            .env_remove("ENA_OPERATOR_TOKEN")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let member = Member::new("cli.exempel.se", &server);
    let mut application = member.application(0, &format!("{server}/trust-marks/loa3"));
    application.as_object_mut().unwrap().remove("acceptAgreement");
    let file = dir.path().join("application.json");
    std::fs::write(&file, application.to_string()).unwrap();

    // Without accepting the agreement: refused, naming the field.
    let (ok, _, err) = fed(&["apply", file.to_str().unwrap()]);
    assert!(!ok && err.contains("acceptAgreement"), "{err}");
    let (ok, out, err) = fed(&["apply", file.to_str().unwrap(), "--accept-agreement"]);
    assert!(ok, "{err}");
    assert!(err.contains("Anslutningsavtal"), "the agreement is shown: {err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_owned();
    let (_, out, _) = fed(&["applications", "--status", "pending"]);
    assert!(out.contains(&id) && out.contains("cli.exempel.se"), "{out}");
    let (ok, out, err) = fed(&["approve", &id]);
    assert!(ok && out.contains("approved"), "{err}");
    let (ok, _, err) = fed(&["approve", &id]);
    assert!(!ok && err.contains("409"), "approving twice: {err}");
    let (_, out, _) = fed(&["list", "--entity-type", "ena_node"]);
    assert_eq!(out.trim(), member.id);
    let (ok, out, err) = fed(&["resolve", &member.id]);
    assert!(ok, "{err}");
    assert!(err.contains("validated"), "{err}");
    let resolved: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(resolved["metadata"]["ena_node"]["api_endpoint"], format!("{}/node/v1", member.id));
    let (ok, _, _) = fed(&["suspend", &member.id, "--reason", "test"]);
    assert!(ok);
    let (ok, _, err) = fed(&["resolve", &member.id]);
    assert!(!ok && err.contains("404"), "{err}");
    let (ok, out, _) = fed(&["rotate-key"]);
    assert!(ok && out.contains("new federation signing key"));
    sigterm_and_wait(served);
}

/// The operator's portal page decides applications without JavaScript.
#[tokio::test]
async fn operator_portal_decides_applications() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = &server.client;
        let post = |path: &str, body: String| {
            c.post(server.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        let page = c.get(server.url("/anslutning")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("type=\"password\"") && html.contains("Anslutningsavtal"), "{label}");

        let agreement = json_of(c.get(server.url("/federation/v1/agreement")).send().await.unwrap()).await["version"]
            .as_i64()
            .unwrap();
        let ids: Vec<String> = two_applications(&server, agreement).await;
        let token = server.operator_token();

        let denied = post("/anslutning", form(&[("token", "wrong"), ("status", "pending")])).await.unwrap();
        assert_eq!(denied.status(), 401, "{label}");
        let listed = post("/anslutning", form(&[("token", &token), ("status", "pending")])).await.unwrap();
        assert_eq!(listed.headers()["cache-control"], "no-store");
        let html = listed.text().await.unwrap();
        assert!(ids.iter().all(|id| html.contains(id.as_str())), "{label}: both applications listed");

        let no_reason = post(
            "/anslutning/beslut",
            form(&[("token", &token), ("id", &ids[1]), ("decision", "reject"), ("reason", "")]),
        )
        .await
        .unwrap();
        assert_eq!(no_reason.status(), 400, "{label}");
        let approved = post(
            "/anslutning/beslut",
            form(&[("token", &token), ("id", &ids[0]), ("decision", "approve"), ("reason", "")]),
        )
        .await
        .unwrap();
        assert_eq!(approved.status(), 200, "{label}");
        assert!(approved.text().await.unwrap().contains("godkändes"));
        let rejected = post(
            "/anslutning/beslut?lang=en",
            form(&[("token", &token), ("id", &ids[1]), ("decision", "reject"), ("reason", "Wrong organisation")]),
        )
        .await
        .unwrap();
        assert!(rejected.text().await.unwrap().contains("was rejected"), "{label}");
        let again = post(
            "/anslutning/beslut",
            form(&[("token", &token), ("id", &ids[0]), ("decision", "approve"), ("reason", "")]),
        )
        .await
        .unwrap();
        assert_eq!(again.status(), 409, "{label}");
        let app =
            json_of(c.get(server.url(&format!("/federation/v1/applications/{}", ids[1]))).send().await.unwrap()).await;
        assert_eq!((app["status"].as_str(), app["reason"].as_str()), (Some("rejected"), Some("Wrong organisation")));
    }
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

/// Mutual TLS on the node listener, checked with curl and openssl (tools no one here wrote) and with
/// ena's own outbound node client.
#[test]
fn node_listener_requires_a_good_member_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start_serve(&data, &["--node-listen", "127.0.0.1:0"], &[]);
    let node_addr = loop {
        let line = served.log.recv_timeout(Duration::from_secs(30)).expect("node listener line");
        if let Some(rest) = line.split("node mTLS listening on https://").nth(1) {
            break rest.split(' ').next().unwrap().to_owned();
        }
    };
    let base = format!("http://{}", served.addr);
    let token = std::fs::read_to_string(data.join("operator.token")).unwrap().trim().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::new();
    // Not `localhost`: that is the anchor's own node listener's name (one member per host, not the anchor's).
    let member = Member::new("nod.exempel.se", &base);
    let (cert_pem, ca_pem) = rt.block_on(async {
        let agreement = http
            .get(format!("{base}/federation/v1/agreement"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["version"]
            .as_i64()
            .unwrap();
        let mut body = member.application(agreement, "");
        body["trustMarks"] = json!([]);
        let app: Value = http
            .post(format!("{base}/federation/v1/applications"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let approved = http
            .post(format!("{base}/federation/v1/applications/{}/approve", app["id"].as_str().unwrap()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(approved.status(), 200);
        let members: Value = http
            .get(format!("{base}/federation/v1/members"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ca = http.get(format!("{base}/federation/v1/ca-certificate")).send().await.unwrap().text().await.unwrap();
        (members["items"][0]["certificate"].as_str().unwrap().to_owned(), ca)
    });
    let path = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let (ca, cert, key) =
        (path("ca.pem", &ca_pem), path("cert.pem", &cert_pem), path("key.pem", &member.tls.serialize_pem()));
    let url = format!("https://{node_addr}/federation/v1/whoami");
    let curl = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert", &ca])
            .args(extra)
            .arg(&url)
            .output()
            .expect("curl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // A member's certificate: curl and openssl both get through; the handler sees the verified member.
    let (ok, body, err) = curl(&["--cert", &cert, "--key", &key]);
    assert!(ok, "{err}");
    let peer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(peer["entityId"], member.id);
    let s_client = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &node_addr,
            "-cert",
            &cert,
            "-key",
            &key,
            "-CAfile",
            &ca,
            "-verify_return_error",
            "-brief",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let s_err = String::from_utf8_lossy(&s_client.stderr);
    assert!(s_err.contains("Verification: OK"), "{s_err}");

    // ena's own outbound client, trusting only the federation CA.
    let client = ena_federation::client::node_client(&ca_pem, &cert_pem, &member.tls.serialize_pem()).unwrap();
    let who: Value = rt.block_on(async { client.get(&url).send().await.unwrap().json().await.unwrap() });
    assert_eq!(who["entityId"], member.id);

    // No certificate, or a self-signed one: the handshake fails.
    let (ok, _, _) = curl(&[]);
    assert!(!ok, "no client certificate must be refused");
    let own = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    let self_signed = params.self_signed(&own).unwrap();
    let (ss_cert, ss_key) = (path("self.pem", &self_signed.pem()), path("self.key", &own.serialize_pem()));
    let (ok, _, err) = curl(&["--cert", &ss_cert, "--key", &ss_key]);
    assert!(!ok, "a self-signed certificate must be refused: {err}");

    // Suspended: the certificate is revoked, every request is refused.
    rt.block_on(async {
        let r = http
            .post(format!("{base}/federation/v1/members/suspend"))
            .bearer_auth(&token)
            .json(&json!({"entityId": member.id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    let (_, body, _) = curl(&["--cert", &cert, "--key", &key]);
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "permission-denied", "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("revoked"), "{problem}");
    sigterm_and_wait(served);
}

// ---------------------------------------------------------------- identity (issue 5, first part)

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let name = rest.split('"').next().unwrap().to_owned();
            let value = rest
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .replace("&#x2b;", "+")
                .replace("&#43;", "+");
            (name, value)
        })
        .collect()
}

fn form_body(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Log in through the built-in test eID as `person` up to the provider's redirect back: returns the
/// callback URL and the login cookie `/login/start` set in this browser.
async fn test_eid_until_callback(
    server: &TestServer,
    c: &reqwest::Client,
    person: &str,
    loa: u8,
    return_to: &str,
) -> (String, String) {
    let start = c
        .get(server.url(&format!("/login/start?provider=test-eid&loa={loa}&return={return_to}")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303, "start redirects to the provider");
    let login_cookie = start
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .unwrap_or_default();
    let page = c.get(location(&start)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("ENDAST FÖR TEST"), "the test provider says TEST ONLY");
    let mut fields = hidden_fields(&html);
    fields.push(("person".into(), person.into()));
    let picked = c
        .post(server.url("/test-eid/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&fields))
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), 303);
    (location(&picked), login_cookie)
}

/// Log in through the built-in test eID as `person`, asking for `loa`; returns the session cookie or the
/// refusal page's status.
async fn test_eid_login(
    server: &TestServer,
    c: &reqwest::Client,
    person: &str,
    loa: u8,
) -> Result<String, (u16, String)> {
    let (callback, login_cookie) = test_eid_until_callback(server, c, person, loa, "%2Fmina-sidor").await;
    let callback = c.get(callback).header("cookie", login_cookie).send().await.unwrap();
    if callback.status() != 303 {
        let status = callback.status().as_u16();
        return Err((status, callback.text().await.unwrap()));
    }
    assert_eq!(location(&callback), "/mina-sidor");
    let set = session_cookie(&callback);
    Ok(set)
}

fn encode_query(v: &str) -> String {
    ena_core::percent_encode(v)
}

/// The `ena_session` cookie a response sets (checked HttpOnly and SameSite=Lax).
fn session_cookie(r: &reqwest::Response) -> String {
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("ena_session="))
        .expect("a session cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn login_through_the_test_eid_with_loa_step_up_and_logout() {
    for server in TestServer::each().await {
        let label = &server.label;
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let discovery =
            json_of(c.get(server.url("/test-eid/.well-known/openid-configuration")).send().await.unwrap()).await;
        assert_eq!(discovery["issuer"], format!("http://{}/test-eid", server.addr));

        // Not logged in: Mina sidor sends to login at LoA 3.
        let r = c.get(server.url("/mina-sidor")).send().await.unwrap();
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/login?loa=3&return=%2Fmina-sidor".to_owned()));

        let cookie = test_eid_login(&server, &c, "191212121212", 3).await.unwrap();
        let page = c.get(server.url("/mina-sidor")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(page.status(), 200, "{label}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Tolvan Tolvansson") && html.contains("19121212-****") && !html.contains("191212121212"),
            "{label}"
        );

        // LoA 2 session: Mina sidor asks to step up.
        let weak = test_eid_login(&server, &c, "194702289879", 2).await.unwrap();
        let r = c.get(server.url("/mina-sidor")).header("cookie", &weak).send().await.unwrap();
        assert_eq!(r.status(), 303, "{label}: a LoA 2 session must step up");
        // A LoA 2 person cannot be picked when LoA 3 is asked for: the provider answers access_denied.
        let refused = test_eid_login(&server, &c, "194702289879", 3).await.unwrap_err();
        assert_eq!(refused.0, 400, "{label}");
        assert!(
            refused.1.contains("access_denied") && refused.1.contains("\"property\":\"provider\""),
            "{}",
            refused.1
        );

        // A replayed or forged callback is refused, and so is a tampered state.
        let forged = c.get(server.url("/login/callback?code=abc&state=nope")).send().await.unwrap();
        assert_eq!(forged.status(), 400);
        assert!(forged.text().await.unwrap().contains("state"));

        // Logout needs the session's CSRF token.
        let html =
            c.get(server.url("/mina-sidor")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        let csrf = hidden_fields(&html).into_iter().find(|(k, _)| k == "csrf").unwrap().1;
        let bad = c
            .post(server.url("/logout"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("csrf=wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 403, "{label}");
        let out = c
            .post(server.url("/logout"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}"))
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303);
        // RP-initiated logout: on to the provider's end-session endpoint, which sends the browser home.
        let end = location(&out);
        // No ID token (it holds the identity number) in the URL: the client is named by client_id.
        assert!(end.contains("/test-eid/logout?client_id=") && !end.contains("id_token_hint"), "{label}: {end}");
        let home = c.get(&end).send().await.unwrap();
        assert_eq!((home.status().as_u16(), location(&home)), (303, server.url("/")), "{label}");
        let home = encode_query(&server.url("/"));
        for (bad, why) in [
            (format!("id_token_hint=e30.e30.c2ln&post_logout_redirect_uri={home}"), "a forged hint"),
            (
                "client_id=ena-portal&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F".to_owned(),
                "a foreign redirect",
            ),
            (format!("client_id=nobody&post_logout_redirect_uri={home}"), "an unknown client"),
        ] {
            let r = c.get(server.url(&format!("/test-eid/logout?{bad}"))).send().await.unwrap();
            assert_eq!(r.status(), 400, "{label}: {why} is refused");
        }
        let r = c.get(server.url("/mina-sidor")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(r.status(), 303, "{label}: the session ended");

        // Failed logins are audit events.
        let token = server.operator_token();
        let denied = json_of(
            c.get(server.url("/audit/v1/events?action=identity.login&outcome=denied"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(denied["items"].as_array().unwrap().len() >= 2, "{label}: {denied}");
    }
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

/// Agencies' developers test their own e-services against the test eID: the operator registers a
/// client (secret shown once, stored hashed, redirect URIs exact), and panva/openid-client — a
/// certified relying-party library, from npm — logs in through it; bad registrations name the field;
/// a removed client logs in no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_eid_clients_are_registered_and_log_in_with_openid_client() {
    let rp = Path::new(ROOT).join("../../.ci/oidc/rp.mjs");
    assert!(
        Path::new(ROOT).join("../../.ci/oidc/node_modules/openid-client").exists(),
        "openid-client is not installed: run scripts/test (it runs npm ci in .ci/oidc)"
    );
    for server in TestServer::each().await {
        let label = server.label.clone();
        let c = &server.client;
        let token = server.operator_token();
        let clients = server.url("/identity/v1/test-eid-clients");
        let callback = "http://127.0.0.1:9/callback";
        // Bad registrations, each field named; a stranger is refused.
        let bad = json!({"clientId": "x", "name": "", "redirectUris": ["http://evil.example/cb", "https://ok.example/cb#frag", "/relative"]});
        let p = check_problem(
            c.post(&clients).bearer_auth(&token).json(&bad).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(
            invalid_properties(&p),
            ["clientId", "name", "redirectUris[0]", "redirectUris[1]", "redirectUris[2]"],
            "{label}: {p}"
        );
        check_problem(c.post(&clients).json(&bad).send().await.unwrap(), 401, "authentication-required").await;
        let created = c
            .post(&clients)
            .bearer_auth(&token)
            .json(&json!({"clientId": "kommunens-etjanst", "name": "Exempelkommunen, e-tjänst (test)", "redirectUris": [callback]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{label}");
        let created: Value = created.json().await.unwrap();
        let secret = created["clientSecret"].as_str().unwrap().to_owned();
        let listed = json_of(c.get(&clients).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(listed["items"][0]["clientId"], "kommunens-etjanst", "{label}");
        assert!(!listed.to_string().contains(&secret), "{label}: the secret is shown once only");
        let stored = ena_identity::repo::test_client(&server.db.store, "kommunens-etjanst").await.unwrap().unwrap();
        assert_ne!(stored.secret_sha256, secret, "{label}: stored hashed");
        check_problem(
            c.post(&clients)
                .bearer_auth(&token)
                .json(&json!({"clientId": "kommunens-etjanst", "name": "again", "redirectUris": [callback]}))
                .send()
                .await
                .unwrap(),
            409,
            "conflict",
        )
        .await;

        // The relying-party library logs in as Tolvan through the registered client.
        let issuer = server.url("/test-eid");
        let run = |secret: String, redirect: String| {
            let (rp, issuer) = (rp.clone(), issuer.clone());
            tokio::task::spawn_blocking(move || {
                Command::new("node")
                    .arg(&rp)
                    .args([issuer.as_str(), "kommunens-etjanst", secret.as_str(), redirect.as_str(), "191212121212"])
                    .output()
                    .expect("node must be installed")
            })
        };
        let out = run(secret.clone(), callback.to_owned()).await.unwrap();
        assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
        let claims: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(claims["https://id.oidc.se/claim/personalIdentityNumber"], "191212121212", "{label}: {claims}");
        assert_eq!(claims["aud"], "kommunens-etjanst", "{label}");
        // A wrong secret, or a redirect URI that is not exactly a registered one: no login.
        let out = run("wrong".into(), callback.to_owned()).await.unwrap();
        assert!(!out.status.success(), "{label}: a wrong secret logged in");
        let out = run(secret.clone(), format!("{callback}/../other")).await.unwrap();
        assert!(!out.status.success(), "{label}: an unregistered redirect URI logged in");
        // Removed: unknown from then on.
        let gone = c.delete(format!("{clients}/kommunens-etjanst")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(gone.status(), 204, "{label}");
        let out = run(secret, callback.to_owned()).await.unwrap();
        assert!(!out.status.success(), "{label}: a removed client logged in");
        denied_or_logged(&server, "identity.test-eid-client.register").await;
    }
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

/// Interop: ena's portal logs in through panva/node-oidc-provider (a certified OpenID provider, installed
/// from npm by scripts/test into .ci/oidc), not only through its own test eID.
#[tokio::test]
async fn login_through_node_oidc_provider() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let config = ServerConfig {
        oidc_providers: vec![ena_identity::rp::ProviderConfig {
            id: "node-oidc".into(),
            name: "node-oidc-provider".into(),
            issuer: issuer.clone(),
            client_id: "ena".into(),
            client_secret: "interop-secret".into(),
            test_only: true,
            federation_metadata: None,
        }],
        ..ServerConfig::default()
    };
    for server in TestServer::each_with(config).await {
        let label = &server.label;
        let mut op = spawn_op(port, &[&server.url("/login/callback")]);
        let session = op_login(&server, &issuer, "node-oidc").await;
        let page =
            reqwest::Client::new().get(server.url("/mina-sidor")).header("cookie", &session).send().await.unwrap();
        assert_eq!(page.status(), 200, "{label}");
        assert!(page.text().await.unwrap().contains("Tolvan Tolvansson"));
        let _ = op.kill();
        let _ = op.wait();
    }
}

/// The signature service: sign as a LoA 3 person, verify (JWS, log entry, inclusion), refuse a modified
/// document and a weak session; jwcrypto and PyJWT verify the detached JWS with the key the federation
/// publishes.
// Multi-threaded: the test runs the `ena` binary against the in-process server and waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_signed_and_verified_on_each_database() {
    use base64::Engine;
    for server in TestServer::each().await {
        let label = &server.label;
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let doc = base64::engine::general_purpose::STANDARD.encode(b"Beslut om bygglov, diarienummer 2026-1234");
        let unauth = c.post(server.url("/signatures/v1/sign")).json(&json!({"document": doc})).send().await.unwrap();
        check_problem(unauth, 401, "authentication-required").await;

        let weak = test_eid_login(&server, &c, "194702289879", 2).await.unwrap();
        let r = c
            .post(server.url("/signatures/v1/sign"))
            .header("cookie", &weak)
            .json(&json!({"document": doc}))
            .send()
            .await
            .unwrap();
        let p = check_problem(r, 403, "permission-denied").await;
        assert_eq!(invalid_properties(&p), vec!["loa"], "{label}");

        let cookie = test_eid_login(&server, &c, "191212121212", 3).await.unwrap();
        let bad = c
            .post(server.url("/signatures/v1/sign"))
            .header("cookie", &cookie)
            .json(&json!({"sha256": "short"}))
            .send()
            .await
            .unwrap();
        assert_eq!(invalid_properties(&check_problem(bad, 400, "validation-failed").await), vec!["sha256"]);
        let signed = c
            .post(server.url("/signatures/v1/sign"))
            .header("cookie", &cookie)
            .json(&json!({"document": doc}))
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 201, "{label}");
        let signed: Value = signed.json().await.unwrap();
        let sig = signed["signature"].as_str().unwrap().to_owned();
        assert!(sig.contains(".."), "detached payload");

        let ok = json_of(
            c.post(server.url("/signatures/v1/verify"))
                .json(&json!({"document": doc, "signature": sig}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((ok["personalNumber"].as_str(), ok["loa"].as_u64()), (Some("191212121212"), Some(3)), "{label}");
        assert_eq!(ok["logIndex"], signed["logIndex"]);
        let modified = base64::engine::general_purpose::STANDARD.encode(b"Beslut om bygglov, diarienummer 2026-1235");
        let r = c
            .post(server.url("/signatures/v1/verify"))
            .json(&json!({"document": modified, "signature": sig}))
            .send()
            .await
            .unwrap();
        assert_eq!(invalid_properties(&check_problem(r, 400, "validation-failed").await), vec!["signature"], "{label}");

        // Independent check with the key the trust anchor publishes.
        let ec = c.get(server.url("/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
        let jwks = payload(&ec)["metadata"]["ena_signature_service"]["jwks"].clone();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sig.json");
        // The digest is computed here from the document, not taken from the server's answer: the outside
        // tools then check our claim against the document itself.
        let own = {
            use sha2::Digest;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(base64::engine::general_purpose::STANDARD.decode(&doc).unwrap()))
        };
        assert_eq!(signed["sha256"], own.as_str(), "{label}: the server signed the document's SHA-256");
        std::fs::write(&file, json!({"jwks": jwks, "signature": sig, "sha256": own}).to_string()).unwrap();
        let out = oidf(&["verify-detached", file.to_str().unwrap()]);
        assert!(out.contains("191212121212"), "{out}");

        // The CLI: the JWS checked locally with the federation-published key, the log by the server.
        let (doc_path, sig_path) = (dir.path().join("beslut.txt"), dir.path().join("beslut.sig"));
        std::fs::write(&doc_path, b"Beslut om bygglov, diarienummer 2026-1234").unwrap();
        std::fs::write(&sig_path, &sig).unwrap();
        let run = |doc: &Path| {
            Command::new(ENA)
                .args(["signature", "verify"])
                .arg(doc)
                .arg(&sig_path)
                .args(["--server", &server.url("")])
                .output()
                .unwrap()
        };
        let good = run(&doc_path);
        assert!(good.status.success(), "{label}: {}", String::from_utf8_lossy(&good.stderr));
        assert!(
            String::from_utf8_lossy(&good.stdout)
                .starts_with("ok: signed by Tolvan Tolvansson (19121212-****) at LoA 3")
        );
        let changed = dir.path().join("changed.txt");
        std::fs::write(&changed, b"Beslut om bygglov, diarienummer 2026-1235").unwrap();
        let bad = run(&changed);
        assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("does not verify"), "{label}");
    }
}

// ---------------------------------------------------------------- identity (issue 5: tokens, employee credentials)

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Apply and approve `member`; returns its node certificate (PEM).
async fn onboard(server: &TestServer, member: &Member) -> String {
    let c = &server.client;
    let token = server.operator_token();
    let agreement =
        json_of(c.get(server.url("/federation/v1/agreement")).send().await.unwrap()).await["version"].as_i64().unwrap();
    let ec = c.get(server.url("/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
    let mark = payload(&ec)["trust_mark_issuers"].as_object().unwrap().keys().next().unwrap().clone();
    let created = c
        .post(server.url("/federation/v1/applications"))
        .json(&member.application(agreement, &mark))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let app: Value = created.json().await.unwrap();
    let approve = format!("/federation/v1/applications/{}/approve", app["id"].as_str().unwrap());
    assert_eq!(c.post(server.url(&approve)).bearer_auth(&token).send().await.unwrap().status(), 200);
    let members =
        json_of(c.get(server.url("/federation/v1/members?limit=100")).bearer_auth(&token).send().await.unwrap()).await;
    let m = members["items"].as_array().unwrap().iter().find(|m| m["entityId"] == member.id.as_str()).unwrap();
    m["certificate"].as_str().unwrap().to_owned()
}

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

fn form(pairs: &[(&str, &str)]) -> String {
    form_body(&pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>())
}

async fn post_form(c: &reqwest::Client, url: &str, body: String) -> reqwest::Response {
    c.post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap()
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

/// Two onboarded members (A and B) and the server's node listener, with an mTLS client for each.
struct Federated {
    node: std::net::SocketAddr,
    a: Member,
    b: Member,
    cert_a: String,
    tls_a: reqwest::Client,
    tls_b: reqwest::Client,
}

async fn two_members(server: &mut TestServer) -> Federated {
    let node = server.node_listener().await;
    let anchor = server.url("");
    let (a, b) = (Member::new("a.exempel.se", &anchor), Member::new("b.exempel.se", &anchor));
    let (cert_a, cert_b) = (onboard(server, &a).await, onboard(server, &b).await);
    let ca = server.state.federation.ca_certificate().to_owned();
    let tls_a = ena_federation::client::node_client(&ca, &cert_a, &a.tls.serialize_pem()).unwrap();
    let tls_b = ena_federation::client::node_client(&ca, &cert_b, &b.tls.serialize_pem()).unwrap();
    Federated { node, a, b, cert_a, tls_a, tls_b }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_bound_api_tokens_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let Federated { node, a, b, cert_a, tls_a, tls_b } = two_members(&mut server).await;
        let c = &server.client;
        let ta = format!("http://{}", server.addr);
        let (node_token, node_caller) =
            (format!("https://{node}/identity/v1/token"), format!("https://{node}/identity/v1/caller"));
        let public_token = server.url("/identity/v1/token");

        // mTLS client credentials: a short-lived token for one audience, bound to A's certificate.
        let r = post_form(&tls_a, &node_token, form(&[("grant_type", "client_credentials"), ("audience", &ta)])).await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: Value = r.json().await.unwrap();
        let at = body["access_token"].as_str().unwrap().to_owned();
        let claims = payload(&at);
        assert_eq!(claims["aud"], ta.as_str());
        assert_eq!(claims["sub"], a.id.as_str());
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
        let der = rustls_pemfile_der(&cert_a);
        use base64::Engine;
        use sha2::Digest;
        let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der));
        assert_eq!(claims["cnf"]["x5t#S256"], x5t, "{label}: RFC 8705 thumbprint of A's certificate");
        let caller = json_of(tls_a.get(&node_caller).bearer_auth(&at).send().await.unwrap()).await;
        assert_eq!(caller["client"], a.id.as_str(), "{label}: {caller}");
        assert_eq!(caller["certificateBound"], true);

        // The same token from B's certificate, or without one: refused and logged.
        let p = check_problem(
            tls_b.get(&node_caller).bearer_auth(&at).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("another client certificate"), "{label}: {p}");
        assert_eq!(p["error"], "invalid_token");
        check_problem(
            c.get(server.url("/identity/v1/caller")).bearer_auth(&at).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        denied_event_logged(&server, "identity.token.use", "another client certificate").await;
        // Tampered tokens fail on their signature, and on nothing else: one that A sends over its own
        // connection with a later expiry (binding intact), and one made unbound (no cnf) sent with no
        // certificate at all. Only the signature can refuse them.
        let parts: Vec<&str> = at.split('.').collect();
        let encode = |claims: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut longer = payload(&at);
        longer["exp"] = json!(longer["exp"].as_i64().unwrap() + 3600);
        let mut unbound = payload(&at);
        unbound.as_object_mut().unwrap().remove("cnf");
        for (forged, client) in [
            (format!("{}.{}.{}", parts[0], encode(&longer), parts[2]), &tls_a),
            (format!("{}.{}.{}", parts[0], encode(&unbound), parts[2]), c),
        ] {
            let url = if std::ptr::eq(client, c) { server.url("/identity/v1/caller") } else { node_caller.clone() };
            let p = check_problem(
                client.get(&url).bearer_auth(&forged).send().await.unwrap(),
                401,
                "authentication-required",
            )
            .await;
            assert!(p["detail"].as_str().unwrap().contains("signature"), "{label}: refused for its signature: {p}");
        }
        // A token for another audience is refused here.
        let r =
            post_form(&tls_a, &node_token, form(&[("grant_type", "client_credentials"), ("audience", &b.id)])).await;
        let for_b = json_of(r).await["access_token"].as_str().unwrap().to_owned();
        let p = check_problem(
            tls_a.get(&node_caller).bearer_auth(&for_b).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("not for"), "{label}: {p}");

        // private_key_jwt on the public listener: the key comes from A's federation metadata; single use.
        let assertion = |key: &ena_keys::jose::SigningKey, exp: i64, jti: &str| {
            key.sign(
                "JWT",
                &json!({"iss": a.id, "sub": a.id, "aud": public_token, "iat": unix_now(), "exp": exp, "jti": jti}),
            )
        };
        let jwt_form = |assertion: &str| {
            form(&[
                ("grant_type", "client_credentials"),
                ("audience", ta.as_str()),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ])
        };
        let good = assertion(&a.client_key, unix_now() + 60, "j1");
        let r = post_form(c, &public_token, jwt_form(&good)).await;
        assert_eq!(r.status(), 200, "{label}");
        let unbound = json_of(r).await["access_token"].as_str().unwrap().to_owned();
        assert!(payload(&unbound)["cnf"].is_null(), "no certificate, no binding");
        let caller =
            json_of(c.get(server.url("/identity/v1/caller")).bearer_auth(&unbound).send().await.unwrap()).await;
        assert_eq!(caller["client"], a.id.as_str());
        assert_eq!(caller["certificateBound"], false);
        for (bad, needle) in [
            (good.clone(), "replay"),
            (assertion(&a.key, unix_now() + 60, "j2"), "no key"),
            (assertion(&a.client_key, unix_now() - 120, "j3"), "expired"),
            (assertion(&a.client_key, unix_now() + 3600, "j4"), "at most"),
        ] {
            let p =
                check_problem(post_form(c, &public_token, jwt_form(&bad)).await, 401, "authentication-required").await;
            assert_eq!(p["error"], "invalid_client", "{label}: {p}");
            assert!(p["detail"].as_str().unwrap().contains(needle), "{label}: {needle} in {p}");
        }
        denied_event_logged(&server, "identity.token.issue", "replay").await;

        // Bad requests, each naming its field.
        let p = check_problem(
            post_form(c, &public_token, form(&[("grant_type", "client_credentials"), ("audience", &ta)])).await,
            401,
            "authentication-required",
        )
        .await;
        assert_eq!(p["error"], "invalid_client");
        for (body, error, field) in [
            (form(&[("grant_type", "password"), ("audience", &ta)]), "unsupported_grant_type", "grant_type"),
            (form(&[("grant_type", "client_credentials")]), "invalid_request", "audience"),
            (
                form(&[("grant_type", "client_credentials"), ("audience", "https://okand.example.se")]),
                "invalid_target",
                "audience",
            ),
            (
                form(&[("grant_type", "client_credentials"), ("audience", &ta), ("scope", "a\"b")]),
                "invalid_scope",
                "scope",
            ),
            (
                form(&[("grant_type", "client_credentials"), ("audience", &ta), ("client_id", &b.id)]),
                "invalid_client",
                "client_id",
            ),
        ] {
            let r = post_form(&tls_a, &node_token, body).await;
            let status = if error == "invalid_client" { 401 } else { 400 };
            assert_eq!(r.status(), status, "{label}: {error}");
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["error"], error, "{label}: {p}");
            assert_eq!(invalid_properties(&p), vec![field.to_owned()], "{label}: {p}");
        }

        // On behalf of a person: the person (LoA 3 session) gives A a subject token; A exchanges it.
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let cookie = test_eid_login(&server, &browser, "191212121212", 3).await.unwrap();
        let subject = |actor: &str| {
            c.post(server.url("/identity/v1/subject-tokens"))
                .header("cookie", &cookie)
                .json(&json!({"actor": actor, "represents": "212000-0142"}))
                .send()
        };
        let st: Value = subject(&a.id).await.unwrap().json().await.unwrap();
        let exchange = |token: &str| {
            form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
                ("audience", ta.as_str()),
                ("subject_token", token),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ])
        };
        let r = post_form(&tls_a, &node_token, exchange(st["subjectToken"].as_str().unwrap())).await;
        assert_eq!(r.status(), 200, "{label}");
        let obo = json_of(r).await;
        assert_eq!(obo["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");
        let obo = obo["access_token"].as_str().unwrap().to_owned();
        assert_eq!(payload(&obo)["act"]["sub"], a.id.as_str());
        let caller = json_of(tls_a.get(&node_caller).bearer_auth(&obo).send().await.unwrap()).await;
        assert_eq!(caller["person"], "191212121212", "{label}: {caller}");
        assert_eq!(caller["represents"], "162120000142");
        assert_eq!(caller["loa"], 3);
        // Replayed, or exchanged by another member: refused.
        let p = check_problem(
            post_form(&tls_a, &node_token, exchange(st["subjectToken"].as_str().unwrap())).await,
            400,
            "invalid-parameter",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("replay"), "{p}");
        let for_a: Value = subject(&a.id).await.unwrap().json().await.unwrap();
        let p = check_problem(
            post_form(&tls_b, &node_token, exchange(for_a["subjectToken"].as_str().unwrap())).await,
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(p["error"], "invalid_grant");
        // Bad subject-token requests.
        check_problem(subject("https://okand.example.se").await.unwrap(), 400, "invalid-parameter").await;
        check_problem(
            c.post(server.url("/identity/v1/subject-tokens")).json(&json!({"actor": a.id})).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        // The person logs out: the token backed by the session is refused from then on.
        let page =
            c.get(server.url("/mina-sidor")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        let csrf = hidden_fields(&page).into_iter().find(|(k, _)| k == "csrf").unwrap().1;
        let out = browser
            .post(server.url("/logout"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", &csrf)]))
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303);
        let p = check_problem(
            tls_a.get(&node_caller).bearer_auth(&obo).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("session"), "{label}: {p}");

        // Published: RFC 8414 metadata and the federation's oauth_authorization_server.
        let meta = json_of(c.get(server.url("/.well-known/oauth-authorization-server")).send().await.unwrap()).await;
        assert_eq!(meta["token_endpoint"], public_token.as_str());
        assert_eq!(
            payload(&ec_of(&server).await)["metadata"]["oauth_authorization_server"]["tls_client_certificate_bound_access_tokens"],
            true
        );
    }
}

async fn ec_of(server: &TestServer) -> String {
    server.client.get(server.url("/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap()
}

fn rustls_pemfile_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employee_credentials_issue_list_revoke_verify_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let Federated { node, a, tls_a, tls_b, .. } = two_members(&mut server).await;
        let c = &server.client;
        let registry = format!("https://{node}/identity/v1/employee-credentials");
        let verify = server.url("/identity/v1/employee-credentials/verify");
        let credential = |key: &ena_keys::jose::SigningKey, jti: &str, sub: &str, exp: i64| {
            key.sign(
                "ena-employee+jwt",
                &json!({"iss": a.id, "sub": sub, "name": "Tolvan Tolvansson", "jti": jti, "iat": unix_now(),
                        "exp": exp, "ena_roles": ["handläggare", "attestant"]}),
            )
        };
        let year = unix_now() + 365 * 86400;
        let good = credential(&a.credential_key, "anst-1", "191212121212", year);

        // A registers what it signed; anyone verifies it through the federation.
        let r = tls_a.post(&registry).json(&json!({"credential": good})).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let v = json_of(c.post(&verify).json(&json!({"credential": good})).send().await.unwrap()).await;
        assert_eq!(v["personalNumber"], "191212121212", "{label}: {v}");
        assert_eq!(v["roles"], json!(["handläggare", "attestant"]));
        assert_eq!(v["issuerName"], "Exempelkommunen");
        // Twice, by someone else, or off the node listener: refused.
        check_problem(tls_a.post(&registry).json(&json!({"credential": good})).send().await.unwrap(), 409, "conflict")
            .await;
        check_problem(
            tls_b.post(&registry).json(&json!({"credential": good})).send().await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        check_problem(
            c.post(server.url("/identity/v1/employee-credentials"))
                .json(&json!({"credential": good}))
                .send()
                .await
                .unwrap(),
            401,
            "authentication-required",
        )
        .await;
        // Bad credentials, each refused with the reason.
        for (bad, needle) in [
            (credential(&a.key, "anst-2", "191212121212", year), "no key"),
            (credential(&a.credential_key, "anst-3", "191212121213", year), "identity number"),
            (credential(&a.credential_key, "anst-4", "191212121212", unix_now() - 10), "expired"),
            (credential(&a.credential_key, "anst-5", "191212121212", unix_now() + 400 * 86400), "366 days"),
            ("not.a.jwt".to_owned(), "credential"),
        ] {
            let p = check_problem(
                tls_a.post(&registry).json(&json!({"credential": bad})).send().await.unwrap(),
                400,
                "invalid-parameter",
            )
            .await;
            assert!(p["detail"].as_str().unwrap().contains(needle), "{label}: {needle} in {p}");
            assert_eq!(invalid_properties(&p), vec!["credential".to_owned()]);
        }
        // Signed but never registered: verifiers cannot see its status, so it is refused.
        let unregistered = credential(&a.credential_key, "anst-6", "191212121212", year);
        let p = check_problem(
            c.post(&verify).json(&json!({"credential": unregistered})).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("not registered"), "{label}: {p}");

        // Listing is per issuer, paged.
        let second = credential(&a.credential_key, "anst-7", "199001012385", year);
        assert_eq!(tls_a.post(&registry).json(&json!({"credential": second})).send().await.unwrap().status(), 201);
        let page = json_of(tls_a.get(format!("{registry}?limit=1")).send().await.unwrap()).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["hasMore"], true);
        // One person's: the identity number in a body (a URL with one is refused before routing).
        let searches = format!("https://{node}/identity/v1/employee-credential-searches");
        let mine =
            json_of(tls_a.post(&searches).json(&json!({"personalNumber": "191212121212"})).send().await.unwrap()).await;
        assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{label}: {mine}");
        assert_eq!(mine["items"][0]["id"], "anst-1", "{label}: {mine}");
        assert_eq!(json_of(tls_b.get(&registry).send().await.unwrap()).await["items"], json!([]));
        let p = check_problem(
            tls_a.post(&searches).json(&json!({"personalNumber": "12"})).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert!(!p.to_string().contains("191212121212"), "{label}");
        check_problem(
            tls_a.get(format!("{registry}?personalNumber=191212121212")).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        check_problem(tls_a.get(format!("{registry}?limit=0")).send().await.unwrap(), 400, "invalid-parameter").await;

        // Revocation: only by the issuer, with a reason; verifiers then refuse the credential.
        let revoke = format!("{registry}/revoke");
        check_problem(
            tls_b.post(&revoke).json(&json!({"id": "anst-1", "reason": "slutat"})).send().await.unwrap(),
            404,
            "resource-not-found",
        )
        .await;
        check_problem(
            tls_a.post(&revoke).json(&json!({"id": "anst-1", "reason": " "})).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        let r =
            json_of(tls_a.post(&revoke).json(&json!({"id": "anst-1", "reason": "slutat"})).send().await.unwrap()).await;
        assert!(r["revokedAt"].is_i64(), "{label}: {r}");
        let p = check_problem(
            c.post(&verify).json(&json!({"credential": good})).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("revoked"), "{label}: {p}");
        denied_event_logged(&server, "identity.employee-credential.verify", "revoked").await;
        // The issuer leaves the federation: its credentials no longer verify.
        let token = server.operator_token();
        let r = c
            .post(server.url("/federation/v1/members/suspend"))
            .bearer_auth(&token)
            .json(&json!({"entityId": a.id, "reason": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let p = check_problem(
            c.post(&verify).json(&json!({"credential": second})).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("does not resolve"), "{label}: {p}");
    }
}

/// A provider the federation vouches for is offered at /login without any configuration: the portal is
/// its client under ena's entity identifier, authenticating with private_key_jwt (node-oidc-provider
/// checks the assertion against the keys ena publishes as `openid_relying_party` metadata).
#[tokio::test]
async fn login_through_an_openid_provider_found_in_the_federation() {
    for server in TestServer::each().await {
        let label = server.label.clone();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let issuer = format!("http://127.0.0.1:{port}");
        let ec = payload(&ec_of(&server).await);
        let rp = &ec["metadata"]["openid_relying_party"];
        assert_eq!(rp["token_endpoint_auth_method"], "private_key_jwt");
        let client_id = ec["sub"].as_str().unwrap().to_owned();
        let mut op = spawn_op(port, &[&server.url("/login/callback"), &client_id, &rp["jwks"].to_string()]);

        // Not a member yet: not offered.
        let page = server.get("/login").await.text().await.unwrap();
        assert!(!page.contains("provider=op.exempel.se"), "{label}");
        // The provider's operator publishes its endpoints and keys in the federation (read here from
        // its own discovery, as that operator would when writing the metadata).
        let web = reqwest::Client::new();
        let discovery: Value =
            web.get(format!("{issuer}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
        let keys: Value = web.get(discovery["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
        let provider_metadata = |jwks: &Value| {
            json!({"openid_provider": {"issuer": issuer, "authorization_endpoint": discovery["authorization_endpoint"],
                   "token_endpoint": discovery["token_endpoint"], "jwks": jwks}})
        };
        let mut member = Member::new("op.exempel.se", &server.url(""));
        member.entity_types = json!(["ena_node", "openid_provider"]);
        member.extra_metadata = provider_metadata(&keys);
        onboard(&server, &member).await;
        let page = server.get("/login").await.text().await.unwrap();
        assert!(page.contains("provider=op.exempel.se"), "{label}: the federation's provider is offered");
        let session = op_login(&server, &issuer, "op.exempel.se").await;
        let mine =
            reqwest::Client::new().get(server.url("/mina-sidor")).header("cookie", &session).send().await.unwrap();
        assert_eq!(mine.status(), 200, "{label}");

        // Finding 13: the keys are the federation's word, not the web's. A provider member whose
        // federation metadata names other keys than the ones its web discovery serves (a hijacked
        // discovery, or the other way round) gets no login through.
        let other = ena_keys::jose::SigningKey::generate().unwrap();
        let mut hijacked = Member::new("op2.exempel.se", &server.url(""));
        hijacked.entity_types = json!(["ena_node", "openid_provider"]);
        hijacked.extra_metadata = provider_metadata(&json!({"keys": [other.public_jwk()]}));
        onboard(&server, &hijacked).await;
        let refused = op_callback(&server, &issuer, "op2.exempel.se").await;
        assert_eq!(
            refused.status(),
            400,
            "{label}: a token signed with keys the federation does not publish was taken"
        );
        let body = refused.text().await.unwrap();
        assert!(body.contains("signature") || body.contains("key"), "{label}: {body}");
        suspend(&server, &hijacked.id).await;

        // Suspended from the federation: no longer offered, and a login through it is refused.
        let r = server
            .client
            .post(server.url("/federation/v1/members/suspend"))
            .bearer_auth(server.operator_token())
            .json(&json!({"entityId": member.id, "reason": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page = server.get("/login").await.text().await.unwrap();
        assert!(!page.contains("provider=op.exempel.se"), "{label}");
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let refused = c.get(server.url("/login/start?provider=op.exempel.se&loa=3")).send().await.unwrap();
        check_problem(refused, 400, "invalid-parameter").await;
        let _ = op.kill();
        let _ = op.wait();
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_cli_issues_registers_revokes_and_verifies() {
    let mut server = TestServer::each().await.into_iter().next().unwrap();
    let node = server.node_listener().await;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let key = file("issuer.key");
    let (ok, out, err) = ena_off_thread(vec!["credential".into(), "key".into(), "--key".into(), key.clone()]).await;
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["keys"][0]["kty"], "EC");

    // The member publishes that key as its ena_credential_issuer metadata and joins.
    let mut member = Member::new("c.exempel.se", &server.url(""));
    member.credential_key = ena_keys::jose::SigningKey::load_or_create(Path::new(&key)).unwrap();
    let cert = onboard(&server, &member).await;
    std::fs::write(file("ca.pem"), server.state.federation.ca_certificate()).unwrap();
    std::fs::write(file("cert.pem"), &cert).unwrap();
    std::fs::write(file("tls.key"), member.tls.serialize_pem()).unwrap();
    let node_args = |mut args: Vec<String>| {
        args.extend(
            [
                "--node-url".to_owned(),
                format!("https://{node}"),
                "--ca".into(),
                file("ca.pem"),
                "--cert".into(),
                file("cert.pem"),
                "--tls-key".into(),
                file("tls.key"),
            ]
            .into_iter(),
        );
        args
    };
    let issue = |pnr: &str| {
        ["credential", "issue", "--key", &key, "--issuer", &member.id, "--personal-number", pnr]
            .iter()
            .map(|s| s.to_string())
            .chain(
                ["--name", "Tolvan Tolvansson", "--roles", "handläggare,attestant", "--id", "anst-9"].map(String::from),
            )
            .collect::<Vec<_>>()
    };
    let (ok, _, err) = ena_off_thread(issue("191212121213")).await;
    assert!(!ok && err.contains("--personal-number"), "{err}");
    let (ok, jwt, err) = ena_off_thread(issue("191212121212")).await;
    assert!(ok, "{err}");
    std::fs::write(file("credential.jwt"), jwt.trim()).unwrap();

    let (ok, out, err) =
        ena_off_thread(node_args(vec!["credential".into(), "register".into(), file("credential.jwt")])).await;
    assert!(ok && out.contains("anst-9"), "{out}{err}");
    let verify = vec!["credential".into(), "verify".into(), file("credential.jwt"), "--server".into(), server.url("")];
    let (ok, out, err) = ena_off_thread(verify.clone()).await;
    assert!(ok && out.contains("attestant"), "{out}{err}");
    let (ok, out, err) = ena_off_thread(node_args(vec!["credential".into(), "list".into()])).await;
    assert!(ok && out.contains("anst-9"), "{out}{err}");
    let (ok, _, err) = ena_off_thread(node_args(vec![
        "credential".into(),
        "revoke".into(),
        "anst-9".into(),
        "--reason".into(),
        "slutat".into(),
    ]))
    .await;
    assert!(ok, "{err}");
    let (ok, _, err) = ena_off_thread(verify).await;
    assert!(!ok && err.contains("revoked"), "{err}");
}

// ---------------------------------------------------------------- access (issue 6: the decision point)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authzen_decision_point_and_operator_policies_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let two = two_members(&mut server).await;
        let (node, tls_a) = (two.node, two.tls_a.clone());
        let c = &server.client;
        let ta = format!("http://{}", server.addr);
        let token = server.operator_token();
        let r = post_form(
            &tls_a,
            &format!("https://{node}/identity/v1/token"),
            form(&[("grant_type", "client_credentials"), ("audience", &ta)]),
        )
        .await;
        let at = json_of(r).await["access_token"].as_str().unwrap().to_owned();
        let evaluation = format!("https://{node}/access/v1/evaluation");
        let ask =
            |body: Value| tls_a.post(&evaluation).bearer_auth(&at).header("x-request-id", "req-1").json(&body).send();
        let act = |packages: Value| {
            json!({"subject": {"type": "person", "id": "191212121212"}, "action": {"name": "act"},
                   "resource": {"type": "service", "id": "skatteverket/moms", "properties": {"package": "skatt-och-moms"}},
                   "context": {"packages": packages, "self": false}})
        };

        // Discovery, then decisions with their reasons; a deny is 200 too.
        let conf = json_of(c.get(server.url("/.well-known/authzen-configuration")).send().await.unwrap()).await;
        assert_eq!(conf["access_evaluation_endpoint"], format!("{ta}/access/v1/evaluation"));
        let r = ask(act(json!(["skatt-och-moms"]))).await.unwrap();
        assert_eq!(r.headers()["x-request-id"], "req-1");
        let d = json_of(r).await;
        assert_eq!(d["decision"], true, "{label}: {d}");
        assert_eq!(d["context"]["reasons"][0]["policy"], "act-for-a-party");
        let d = json_of(ask(act(json!([]))).await.unwrap()).await;
        assert_eq!(d["decision"], false, "{label}: {d}");
        assert!(d["context"]["reason_admin"]["403"].as_str().unwrap().contains("default deny"));

        // Batch: defaults, per-item overrides, semantics.
        let mut batch = act(json!(["skatt-och-moms"]));
        batch["evaluations"] = json!([{}, {"context": {"packages": [], "self": false}}, {}]);
        let url = format!("https://{node}/access/v1/evaluations");
        let all = json_of(tls_a.post(&url).bearer_auth(&at).json(&batch).send().await.unwrap()).await;
        let decisions: Vec<bool> =
            all["evaluations"].as_array().unwrap().iter().map(|e| e["decision"].as_bool().unwrap()).collect();
        assert_eq!(decisions, vec![true, false, true], "{label}: {all}");
        batch["options"] = json!({"evaluations_semantic": "deny_on_first_deny"});
        let cut = json_of(tls_a.post(&url).bearer_auth(&at).json(&batch).send().await.unwrap()).await;
        assert_eq!(cut["evaluations"].as_array().unwrap().len(), 2, "{label}: {cut}");
        batch["options"] = json!({"evaluations_semantic": "maybe"});
        let p = check_problem(
            tls_a.post(&url).bearer_auth(&at).json(&batch).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), vec!["options.evaluations_semantic".to_owned()]);

        // Bad requests name the field; no token is 401.
        let mut bad = act(json!([]));
        bad["subject"]["type"] = json!("Person!");
        let p = check_problem(ask(bad).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), vec!["subject.type".to_owned()], "{label}: {p}");
        let mut missing = act(json!([]));
        missing.as_object_mut().unwrap().remove("subject");
        let p = check_problem(ask(missing).await.unwrap(), 400, "invalid-body").await;
        assert!(p["detail"].as_str().unwrap().contains("subject"), "{label}: {p}");
        check_problem(
            tls_a.post(&evaluation).json(&act(json!([]))).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;

        // Operator endpoints go through the same decision point: a forbid on api:plan stops plan updates.
        let policies =
            json_of(c.get(server.url("/access/v1/policies?limit=100")).bearer_auth(&token).send().await.unwrap()).await;
        assert!(policies["items"].as_array().unwrap().iter().any(|p| p["id"] == "operator-operates-ena"), "{label}");
        let put = |id: &str, body: Value| {
            c.put(server.url(&format!("/access/v1/policies/{id}"))).bearer_auth(&token).json(&body).send()
        };
        let p = check_problem(
            put(
                "broken",
                json!({"resource": "*", "text": "permit(principal, action, resource) when { resource.colour };"}),
            )
            .await
            .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), vec!["text".to_owned()], "{label}: {p}");
        let r = put("plan-frozen", json!({"resource": "api:plan", "description": "Plan frozen during the audit",
            "text": "@reason(\"the plan is frozen during the audit\") forbid (principal, action == Ena::Action::\"operate\", resource == Ena::Api::\"plan\");"})).await.unwrap();
        assert_eq!(r.status(), 200, "{label}: {}", r.text().await.unwrap());
        let plan = json_of(c.get(server.url("/plan/v1/plan")).send().await.unwrap()).await;
        let refused = c.put(server.url("/plan/v1/plan")).bearer_auth(&token).json(&plan).send().await.unwrap();
        let p = check_problem(refused, 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("frozen"), "{label}: {p}");
        denied_event_logged(&server, "PUT /plan/v1/plan", "frozen").await;
        // Other APIs are untouched by the plan's slice.
        assert_eq!(
            c.get(server.url("/access/v1/policies/plan-frozen")).bearer_auth(&token).send().await.unwrap().status(),
            200
        );
        let r = c.delete(server.url("/access/v1/policies/plan-frozen")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let r = c.put(server.url("/plan/v1/plan")).bearer_auth(&token).json(&plan).send().await.unwrap();
        assert!(r.status().is_success(), "{label}: {}", r.status());
        check_problem(
            c.delete(server.url("/access/v1/policies/plan-frozen")).bearer_auth(&token).send().await.unwrap(),
            404,
            "resource-not-found",
        )
        .await;
        // Member systems' use of ena's APIs is decided there too: shut member A out of the identity API.
        let (member_a, credentials) = (two.a.id.clone(), format!("https://{node}/identity/v1/employee-credentials"));
        assert_eq!(tls_a.get(&credentials).send().await.unwrap().status(), 200, "{label}");
        let text = format!(
            "@reason(\"suspended from the identity API\") forbid (principal == Ena::Member::\"{member_a}\", action == Ena::Action::\"use\", resource == Ena::Api::\"identity\");"
        );
        let r = put("shut-out-a", json!({"resource": "api:identity", "text": text})).await.unwrap();
        assert_eq!(r.status(), 200, "{label}: {}", r.text().await.unwrap());
        let p = check_problem(tls_a.get(&credentials).send().await.unwrap(), 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("suspended from the identity API"), "{label}: {p}");
        assert_eq!(two.tls_b.get(&credentials).send().await.unwrap().status(), 200, "{label}: only A");
    }
}

// ---------------------------------------------------------------- representation (issue 6: Mina ombud)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mina_ombud_over_http_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let Federated { node, tls_a, .. } = two_members(&mut server).await;
        let ta = format!("http://{}", server.addr);
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let anna = test_eid_login(&server, &browser, "199001012385", 4).await.unwrap();
        let bertil = test_eid_login(&server, &browser, "198506151235", 3).await.unwrap();
        let david = test_eid_login(&server, &browser, "200107044562", 3).await.unwrap();
        let cecilia = test_eid_login(&server, &browser, "194702289879", 2).await.unwrap();
        let api = |path: &str| server.url(&format!("/representation/v1{path}"));
        let post =
            |cookie: &str, path: &str, body: Value| browser.post(api(path)).header("cookie", cookie).json(&body).send();
        let valid_to = time::OffsetDateTime::now_utc() + time::Duration::days(60);
        let valid_to = valid_to.format(&time::format_description::well_known::Rfc3339).unwrap();
        let hb_to_david = json!({"principal": "556011-2236", "agent": "200107044562",
                                  "packages": ["anstallda-och-arbetsgivaravgifter"], "validTo": valid_to});

        // The member system's check, through its access token.
        let at = json_of(
            post_form(
                &tls_a,
                &format!("https://{node}/identity/v1/token"),
                form(&[("grant_type", "client_credentials"), ("audience", &ta)]),
            )
            .await,
        )
        .await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let check_url = format!("https://{node}/representation/v1/check");
        let check = |body: Value| tls_a.post(&check_url).bearer_auth(&at).json(&body).send();
        let q = json!({"agent": "200107044562", "principal": "556011-2236", "service": "skatteverket/arbetsgivardeklaration"});
        assert_eq!(json_of(check(q.clone()).await.unwrap()).await["allowed"], false, "{label}");

        // Joint signing over HTTP: Anna initiates, Bertil approves; then the check allows, with the why.
        let r = post(&anna, "/mandates", hb_to_david.clone()).await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let m: Value = r.json().await.unwrap();
        assert_eq!(m["status"], "pending");
        let id = m["id"].as_str().unwrap().to_owned();
        check_problem(post(&anna, &format!("/mandates/{id}/approve"), json!({})).await.unwrap(), 409, "conflict").await;
        check_problem(
            post(&david, &format!("/mandates/{id}/approve"), json!({})).await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        let m = json_of(post(&bertil, &format!("/mandates/{id}/approve"), json!({})).await.unwrap()).await;
        assert_eq!(m["status"], "active", "{label}: {m}");
        let c = json_of(check(q.clone()).await.unwrap()).await;
        assert_eq!(c["allowed"], true, "{label}: {c}");
        assert_eq!(c["basis"][0]["chain"][0], id.as_str());
        let acting = json_of(browser.get(api("/acting-for")).header("cookie", &david).send().await.unwrap()).await;
        assert!(
            acting.as_array().unwrap().iter().any(|a| a["party"] == "165560112236" && a["basis"] == "mandate"),
            "{label}: {acting}"
        );
        let received =
            json_of(browser.get(api("/mandates?view=received")).header("cookie", &david).send().await.unwrap()).await;
        assert_eq!(received["items"][0]["id"], id.as_str());
        let notices = json_of(browser.get(api("/notices")).header("cookie", &david).send().await.unwrap()).await;
        assert!(notices.as_array().unwrap().iter().any(|n| n["kind"] == "granted"), "{label}: {notices}");
        // "May I delegate this?" without storing.
        let dry = json_of(post(&anna, "/mandate-checks", hb_to_david.clone()).await.unwrap()).await;
        assert_eq!(dry["requiredApprovals"], 2);

        // Revoked by the agent: the next check says no.
        let m = json_of(post(&david, &format!("/mandates/{id}/revoke"), json!({})).await.unwrap()).await;
        assert_eq!(m["status"], "revoked");
        assert_eq!(json_of(check(q.clone()).await.unwrap()).await["allowed"], false, "{label}");

        // Bad input: each names the field; nothing changes; denied attempts are logged.
        let mut to_self = hb_to_david.clone();
        to_self["agent"] = json!("556011-2236");
        let p = check_problem(post(&anna, "/mandates", to_self).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), vec!["agent".to_owned()], "{label}");
        let mut backwards = hb_to_david.clone();
        backwards["validFrom"] = json!("2030-01-01T00:00:00Z");
        let p = check_problem(post(&anna, "/mandates", backwards).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), vec!["validTo".to_owned()]);
        let mut unknown = hb_to_david.clone();
        unknown["packages"] = json!(["flyga-drake"]);
        let p = check_problem(post(&anna, "/mandates", unknown).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), vec!["packages[0]".to_owned()]);
        let p = check_problem(post(&david, "/mandates", hb_to_david.clone()).await.unwrap(), 403, "permission-denied")
            .await;
        assert_eq!(
            invalid_properties(&p),
            vec!["principal".to_owned()],
            "{label}: a non-signatory grants for the company"
        );
        let care = json!({"principal": "194702289879", "agent": "200107044562", "packages": ["vard-och-omsorg-anhorig"], "validTo": valid_to});
        let p = check_problem(post(&cecilia, "/mandates", care).await.unwrap(), 403, "permission-denied").await;
        assert_eq!(invalid_properties(&p), vec!["loa".to_owned()], "{label}: LoA 2 cannot grant");
        check_problem(
            browser.post(api("/mandates")).json(&hb_to_david).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;
        let mut nobody = q.clone();
        nobody["principal"] = json!("559999-9990");
        let p = check_problem(check(nobody).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), vec!["principal".to_owned()], "{label}: {p}");
        check_problem(tls_a.post(&check_url).json(&q).send().await.unwrap(), 401, "authentication-required").await;
        denied_event_logged(&server, "representation.grant", "signs for").await;
        denied_event_logged(&server, "representation.check", "165560112236").await;
        let granted =
            json_of(browser.get(api("/mandates?party=556011-2236")).header("cookie", &anna).send().await.unwrap())
                .await;
        assert_eq!(granted["items"].as_array().unwrap().len(), 1, "{label}: only the one grant was stored");
    }
}

/// Mina ombud notices also go to the configured webhook as CloudEvents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_reach_the_webhook_as_cloudevents() {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(Value::Null));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = ServerConfig { notice_webhook: Some(hook), ..ServerConfig::default() };
    let server = TestServer::each_with(config).await.into_iter().next().unwrap();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let eva = test_eid_login(&server, &browser, "197110206542", 3).await.unwrap();
    let valid_to = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = browser
        .post(server.url("/representation/v1/mandates"))
        .header("cookie", &eva)
        .json(&json!({"principal": "559900-1129", "agent": "200107044562", "packages": ["skatt-och-moms"], "validTo": valid_to}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut events = Vec::new();
    for _ in 0..50 {
        events = received.lock().unwrap().clone();
        if events.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(events.len(), 2, "one notice to each party: {events:?}");
    assert_eq!(events[0]["specversion"], "1.0");
    assert_eq!(events[0]["type"], "se.ena.representation.granted");
    let parties: Vec<&str> = events.iter().map(|e| e["data"]["party"].as_str().unwrap()).collect();
    assert!(parties.contains(&"165599001129") && parties.contains(&"200107044562"), "{parties:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_registry_over_http_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let node = server.node_listener().await;
        let kommun = Member::new("kommun.exempel.se", &server.url(""));
        let mut skatt = Member::new("skatt.exempel.se", &server.url(""));
        skatt.organisation = "202100-5448".into();
        let ca = server.state.federation.ca_certificate().to_owned();
        let cert_k = onboard(&server, &kommun).await;
        let cert_s = onboard(&server, &skatt).await;
        let tls_k = ena_federation::client::node_client(&ca, &cert_k, &kommun.tls.serialize_pem()).unwrap();
        let tls_s = ena_federation::client::node_client(&ca, &cert_s, &skatt.tls.serialize_pem()).unwrap();
        let at = |path: &str| format!("https://{node}{path}");
        let c = &server.client;
        let token = server.operator_token();

        // A message type registered by the municipality's node.
        let mt = json!({"title": "Orosanmälan", "classification": {"confidentiality": 3, "integrity": 2, "availability": 1},
            "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["child"],
                       "properties": {"child": {"type": "string"}}}});
        // Registered, then the same content again changes nothing.
        for expected in [201, 200] {
            let r = tls_k
                .put(at("/addresses/v1/message-types/se.kommun.orosanmalan/versions/1.0"))
                .json(&mt)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), expected, "{label}");
        }
        let mut remote = mt.clone();
        remote["schema"]["properties"]["child"] = json!({"$ref": "https://evil.example/x.json"});
        let p = check_problem(
            tls_k
                .put(at("/addresses/v1/message-types/se.kommun.orosanmalan/versions/2.0"))
                .json(&remote)
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["schema"], "{label}: a remote $ref is refused");

        // The municipality's node publishes its social services' address.
        let key =
            json!({"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "k1"});
        let body = json!({"kind": "function", "name": "Socialtjänsten", "node": kommun.id,
            "capabilities": [{"messageType": "se.kommun.orosanmalan", "versions": ["1.0"]}], "encryptionKeys": [key]});
        let r = tls_k.put(at("/addresses/v1/addresses/212000-0142:socialtjanst")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        assert_eq!(r.headers()["etag"], "\"1\"");
        // Lookup by a member with ETags.
        let r = tls_s.get(at("/addresses/v1/addresses/2120000142:socialtjanst")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{label}");
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let a: Value = r.json().await.unwrap();
        assert_eq!(
            (a["address"].as_str(), a["node"].as_str()),
            (Some("162120000142:socialtjanst"), Some(kommun.id.as_str()))
        );
        let r = tls_s
            .get(at("/addresses/v1/addresses/2120000142:socialtjanst"))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304, "{label}");
        let found =
            json_of(tls_s.get(at("/addresses/v1/addresses?messageType=se.kommun.orosanmalan")).send().await.unwrap())
                .await;
        assert_eq!(found["items"].as_array().unwrap().len(), 1, "{label}: {found}");

        // Another organisation's node may not change it; a stale If-Match is refused; both logged.
        let p = check_problem(
            tls_s.put(at("/addresses/v1/addresses/212000-0142:socialtjanst")).json(&body).send().await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("administer"), "{label}: {p}");
        denied_event_logged(&server, "addresses.address.put", "administer").await;
        let p = check_problem(
            tls_k
                .put(at("/addresses/v1/addresses/212000-0142:socialtjanst"))
                .header("if-match", "\"7\"")
                .json(&body)
                .send()
                .await
                .unwrap(),
            412,
            "precondition-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["If-Match"], "{label}");
        let r = tls_k
            .put(at("/addresses/v1/addresses/212000-0142:socialtjanst"))
            .header("if-match", &etag)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!((r.status().as_u16(), r.headers()["etag"].to_str().unwrap()), (200, "\"2\""), "{label}");

        // Bad input names each field; nothing changes.
        let mut bad = body.clone();
        bad["node"] = json!("https://nobody.example");
        bad["capabilities"][0]["versions"] = json!(["9.9"]);
        bad["encryptionKeys"][0]["crv"] = json!("P-256");
        let p = check_problem(
            c.put(server.url("/addresses/v1/addresses/2120000142:socialtjanst"))
                .bearer_auth(&token)
                .json(&bad)
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["node", "capabilities[0].versions[0]", "encryptionKeys[0]"], "{label}");
        let p = check_problem(
            c.get(server.url("/addresses/v1/addresses/12345")).bearer_auth(&token).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["address"], "{label}");
        let p = check_problem(
            c.get(server.url("/addresses/v1/changes?since=-1")).bearer_auth(&token).send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["since"], "{label}");
        check_problem(
            c.get(server.url("/addresses/v1/addresses/2120000142")).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;

        // The operator publishes a person's address; the feed lists every change in order.
        let person = json!({"kind": "person", "name": "Tolvan Tolvansson", "node": skatt.id, "encryptionKeys": [key]});
        let r = c
            .put(server.url("/addresses/v1/person-addresses"))
            .bearer_auth(&token)
            .json(&json!({"personalNumber": "19121212-1212", "address": person}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let feed =
            json_of(c.get(server.url("/addresses/v1/changes?limit=2")).bearer_auth(&token).send().await.unwrap()).await;
        assert_eq!(feed["items"].as_array().unwrap().len(), 2, "{label}");
        assert_eq!(feed["hasMore"], true);
        let rest = json_of(
            c.get(server.url(&format!("/addresses/v1/changes?since={}", feed["next"])))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(rest["items"][0]["address"], "191212121212", "{label}: {rest}");

        // A suspended member's node can no longer serve new addresses.
        suspend(&server, &skatt.id).await;
        let p = check_problem(
            c.put(server.url("/addresses/v1/addresses/2021005448"))
                .bearer_auth(&token)
                .json(&json!({"kind": "organisation", "name": "Skatteverket", "node": skatt.id}))
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("suspended"), "{label}: {p}");
    }
}

// ---------------------------------------------------------------- member nodes (separate processes)

/// A member node running as its own process (`ena node run`), killed on drop.
struct NodeProc {
    dir: tempfile::TempDir,
    child: std::process::Child,
    api: String,
    token: String,
    database: Option<String>,
    entity_id: String,
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProc {
    fn arg(&self) -> String {
        self.dir.path().to_str().unwrap().to_owned()
    }
    async fn store(&self) -> ena_store::Store {
        match &self.database {
            Some(url) => ena_store::Store::connect(url).await.unwrap(),
            None => ena_store::Store::open_sqlite(&self.dir.path().join("node.db")).await.unwrap(),
        }
    }
    /// An mTLS client with the node's own certificate (what the node presents to others; `*.localhost`
    /// resolves to the loopback address).
    fn tls_client_localhost(&self) -> reqwest::Client {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap();
        ena_node::transport::client(&read("ca.crt"), &read("tls.crt"), &read("tls.key")).unwrap()
    }
    fn post(&self, c: &reqwest::Client, path: &str, body: &Value) -> reqwest::RequestBuilder {
        c.post(format!("{}{path}", self.api)).bearer_auth(&self.token).json(body)
    }
    fn get(&self, c: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
        c.get(format!("{}{path}", self.api)).bearer_auth(&self.token)
    }
    /// POST these exact JSON bytes (a test that hashes the request needs them as sent).
    fn post_raw(&self, c: &reqwest::Client, path: &str, json: &'static [u8]) -> reqwest::RequestBuilder {
        c.post(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(json)
    }
}

/// Another message id of the same shape (UUIDv7-like) for a forged envelope.
fn uuid_like(id: &str) -> String {
    let last = id.chars().last().unwrap();
    format!("{}{}", &id[..id.len() - 1], if last == '0' { '1' } else { '0' })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Onboard a node through the real `ena node init`, approve it as the operator, add `extra` to its
/// node.toml and start `ena node run` (on a fresh PostgreSQL schema when the server is on PostgreSQL).
async fn start_node(
    server: &TestServer,
    central_node: std::net::SocketAddr,
    host: &str,
    peer_port: u16,
    org: &str,
    extra: &str,
    files: &[(&str, String)],
) -> NodeProc {
    let dir = tempfile::tempdir().unwrap();
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
        ]
        .map(str::to_owned)
        .to_vec(),
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
async fn spawn_node(dir: &std::path::Path, database: Option<&str>) -> (std::process::Child, String) {
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
    async fn kill_and_restart(&mut self) {
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
async fn tax_agency_and_municipality(
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

const OROSANMALAN: &str = ena_node::samples::MUNICIPALITY_TOML;

async fn wait_status(node: &NodeProc, c: &reqwest::Client, id: &str, status: &str) -> Value {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_exchange_signed_encrypted_messages_with_receipts_on_each_database() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        // The municipality's node owns the message type and serves its social services' address.
        let kommun_dir_schema = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "required": ["child", "concern"],
            "properties": {"child": {"type": "string", "pattern": "^[0-9]{12}$"}, "concern": {"type": "string", "minLength": 1}}});
        // Skatteverket's own service behind its node (a plain HTTP service no one else can reach).
        let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_addr = upstream.local_addr().unwrap();
        // The person is named in the body: identity numbers never go in URLs.
        let service = axum::Router::new().route(
            "/personer",
            axum::routing::post(|headers: axum::http::HeaderMap, axum::Json(asked): axum::Json<Value>| async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                axum::Json(json!({"pnr": asked["personnummer"], "inkomst": 412000, "traceparent": h("traceparent"), "consumer": h("ena-consumer")}))
            }),
        );
        tokio::spawn(async move { axum::serve(upstream, service).await });
        let produces = format!(
            "\n[[service]]\nid = \"inkomster\"\nupstream = \"http://{upstream_addr}\"\nallow = [\"{{kommun}}\"]\n"
        );
        let (skatt, kommun) = tax_agency_and_municipality(&server, central_node, &produces, &kommun_dir_schema).await;
        let c = reqwest::Client::new();
        let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0",
                             "payload": {"child": "201401012383", "concern": "Barnet har inte varit i skolan på tre veckor."},
                             "caseId": "SKV-2026-0042"});

        // Schema rejection before sending: the field named, nothing queued.
        let mut bad = message.clone();
        bad["payload"] = json!({"child": "2014"});
        let p =
            check_problem(skatt.post(&c, "/messages/v1/outbox", &bad).send().await.unwrap(), 400, "validation-failed")
                .await;
        assert_eq!(invalid_properties(&p), ["payload", "payload/child"], "{label}: {p}");
        let mut unknown = message.clone();
        unknown["recipient"] = json!("212000-0142:skola");
        let p = check_problem(
            skatt.post(&c, "/messages/v1/outbox", &unknown).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["recipient"], "{label}");
        check_problem(
            c.post(format!("{}/messages/v1/outbox", skatt.api)).json(&message).send().await.unwrap(),
            401,
            "authentication-required",
        )
        .await;

        // The node's listener has the central instance's edge: security headers, trace context, and
        // problems for what the router refuses.
        let health = c.get(format!("{}/healthz", skatt.api)).send().await.unwrap();
        for header in ["x-content-type-options", "content-security-policy", "x-frame-options", "traceparent"] {
            assert!(health.headers().contains_key(header), "{label}: the node's answer lacks {header}");
        }
        check_problem(c.get(format!("{}/nowhere", skatt.api)).send().await.unwrap(), 404, "route-not-found").await;

        // Delivered; the receipt verifies with the recipient's keys as the federation publishes them.
        let r = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let sent: Value = r.json().await.unwrap();
        let id = sent["id"].as_str().unwrap().to_owned();
        let done = wait_status(&skatt, &c, &id, "delivered").await;
        let meta = server.state.federation.resolved_metadata(&server.state.audit, &kommun.entity_id).await.unwrap();
        let receipt = ena_messaging::receipt::Receipt::verify(
            done["receipt"].as_str().unwrap(),
            &meta["ena_node"]["jwks"],
            meta["ena_node"]["log_verifier_key"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(receipt.message_id, id, "{label}");
        // Independently: jwcrypto and PyJWT verify the receipt and the envelope with only the keys the
        // federation publishes, and the audit verifier checks the receipt's inclusion proof.
        let row = ena_messaging::repo::out(&skatt.store().await, &id).await.unwrap().unwrap();
        let sender_meta =
            server.state.federation.resolved_metadata(&server.state.audit, &skatt.entity_id).await.unwrap();
        let interop = tempfile::tempdir().unwrap();
        let write = |name: &str, v: Value| {
            let path = interop.path().join(name);
            std::fs::write(&path, v.to_string()).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let receipt_file = write(
            "receipt.json",
            json!({"jwks": meta["ena_node"]["jwks"], "tokens": [{"token": done["receipt"], "typ": "ena-receipt+jws"}]}),
        );
        assert!(oidf(&["verify", &receipt_file]).contains("\"ok\": true"), "{label}");
        let envelope_file = write(
            "envelope.json",
            json!({"jwks": sender_meta["ena_node"]["jwks"], "tokens": [{"token": row.envelope, "typ": "ena-envelope+jws"}]}),
        );
        assert!(oidf(&["verify", &envelope_file]).contains("\"ok\": true"), "{label}");
        {
            use base64::Engine;
            use sha2::Digest;
            let std_b64 = base64::engine::general_purpose::STANDARD;
            let leaf = std_b64.decode(&receipt.log.leaf).unwrap();
            let mut h = sha2::Sha256::new();
            h.update([0u8]);
            h.update(&leaf);
            let root = receipt.log.checkpoint.lines().nth(2).unwrap().to_owned();
            let case = write(
                "inclusion.json",
                json!({"leafIdx": receipt.log.index, "treeSize": receipt.log.tree_size, "root": root,
                "leafHash": std_b64.encode(h.finalize()), "proof": receipt.log.inclusion_proof}),
            );
            let (ok, out, err) =
                ena_off_thread(vec!["audit".into(), "verify-proof".into(), "--file".into(), case]).await;
            assert!(ok, "{label}: {out}{err}");
        }
        let inbox = json_of(kommun.get(&c, "/messages/v1/inbox").send().await.unwrap()).await;
        let got = &inbox["items"][0];
        assert_eq!(got["payload"], message["payload"], "{label}");
        assert_eq!((got["sender"].as_str(), got["caseId"].as_str()), (Some("162021005448"), Some("SKV-2026-0042")));

        // What travelled, from the sender's database: a replay gets the same receipt and stores nothing.
        let row = ena_messaging::repo::out(&skatt.store().await, &id).await.unwrap().unwrap();
        let wire = json!({"envelope": row.envelope, "ciphertext": b64.encode(&row.ciphertext)});
        let inbox_url = meta["ena_node"]["inbox_endpoint"].as_str().unwrap().to_owned();
        let as_skatt = skatt.tls_client_localhost();
        let again = json_of(as_skatt.post(&inbox_url).json(&wire).send().await.unwrap()).await;
        assert_eq!(again["receipt"], done["receipt"], "{label}: a replay is answered with the same receipt");
        // A tampered envelope, and the right envelope from the wrong node: refused and logged.
        let mut parts: Vec<String> = row.envelope.split('.').map(str::to_owned).collect();
        let mut env: Value = serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
        env["caseId"] = json!("SKV-2026-9999");
        parts[1] = b64.encode(env.to_string());
        let tampered = json!({"envelope": parts.join("."), "ciphertext": wire["ciphertext"]});
        let p =
            check_problem(as_skatt.post(&inbox_url).json(&tampered).send().await.unwrap(), 403, "permission-denied")
                .await;
        assert!(p["detail"].as_str().unwrap().contains("signature"), "{label}: {p}");
        let as_kommun = kommun.tls_client_localhost();
        let p =
            check_problem(as_kommun.post(&inbox_url).json(&wire).send().await.unwrap(), 403, "permission-denied").await;
        assert!(p["detail"].as_str().unwrap().contains("not that node's"), "{label}: {p}");
        // A node that signs with its own key but names another organisation as sender: refused.
        let own_key = ena_messaging::keys::SigningKey::from_pkcs8(
            &std::fs::read(kommun.dir.path().join("message-signing.key")).unwrap(),
        )
        .unwrap();
        let mut posing: ena_messaging::envelope::Envelope =
            ena_messaging::envelope::Envelope::peek(&row.envelope).unwrap();
        posing.id = uuid_like(&posing.id);
        posing.sender_node = kommun.entity_id.clone();
        let posing = json!({"envelope": posing.sign(&own_key), "ciphertext": wire["ciphertext"]});
        let p = check_problem(as_kommun.post(&inbox_url).json(&posing).send().await.unwrap(), 403, "permission-denied")
            .await;
        assert!(p["detail"].as_str().unwrap().contains("is not served by the sending node"), "{label}: {p}");
        let count = json_of(kommun.get(&c, "/messages/v1/inbox?all=true").send().await.unwrap()).await;
        assert_eq!(count["items"].as_array().unwrap().len(), 1, "{label}: nothing more stored");
        let refused = ena_audit::repo::query(
            &kommun.store().await,
            &ena_audit::repo::EventFilter { action: Some("messages.refused".into()), ..Default::default() },
            10,
            0,
        )
        .await
        .unwrap();
        assert_eq!(refused.len(), 3, "{label}: the three refusals are in the recipient's log");

        // The node's own OpenAPI document covers its API and is valid (openapi-spec-validator).
        let doc = json_of(c.get(format!("{}/openapi.json", kommun.api)).send().await.unwrap()).await;
        for path in [
            "/messages/v1/outbox",
            "/messages/v1/inbox/{id}/ack",
            "/calls/v1/{address}/{service}/{rest}",
            "/subscriptions/v1/events",
            "/messages/v1/attachments",
            "/messages/v1/inbox/{id}/attachments/{n}",
            "/node/v1/inbox",
            "/node/v1/inbox/{id}/attachments/{n}",
        ] {
            assert!(doc["paths"][path].is_object(), "{label}: {path} in the node's OpenAPI document");
        }
        let doc_file = interop.path().join("node-openapi.json");
        std::fs::write(&doc_file, doc.to_string()).unwrap();
        let out =
            Command::new("python3").args(["-m", "openapi_spec_validator"]).arg(&doc_file).output().expect("python3");
        assert!(
            out.status.success(),
            "{label}: openapi-spec-validator (scripts/test installs it): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        // Acknowledged messages leave the unread list.
        assert_eq!(
            kommun.post(&c, &format!("/messages/v1/inbox/{id}/ack"), &json!({})).send().await.unwrap().status(),
            204
        );
        assert!(
            json_of(kommun.get(&c, "/messages/v1/inbox").send().await.unwrap()).await["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );

        // Both nodes' logs verify with the audit verifier.
        for n in [&skatt, &kommun] {
            let mut args = vec!["audit".to_owned(), "verify".into(), "--data-dir".into(), n.arg()];
            if let Some(url) = &n.database {
                args.extend(["--database-url".into(), url.clone()]);
            }
            let (ok, out, err) = ena_off_thread(args).await;
            assert!(ok, "{label}: {out}{err}");
        }

        // A synchronous call through both nodes: the answer is the service's, bound to the request.
        let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let asked = br#"{"personnummer":"201401012383"}"#;
        let r = kommun
            .post_raw(&c, "/calls/v1/202100-5448/inkomster/personer?ar=2026", asked)
            .header("traceparent", trace)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{label}");
        let hash = r.headers()["ena-request-hash"].to_str().unwrap().to_owned();
        let proof = r.headers()["ena-response-proof"].to_str().unwrap().to_owned();
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        let bytes = r.bytes().await.unwrap();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            (answer["pnr"].as_str(), answer["consumer"].as_str()),
            (Some("201401012383"), Some("162120000142")),
            "{label}"
        );
        assert!(
            answer["traceparent"].as_str().unwrap().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{label}: the trace runs through: {answer}"
        );
        assert_eq!(
            hash,
            ena_messaging::calls::request_hash("POST", "/personer?ar=2026", "application/json", "162120000142", asked)
        );
        let producer = server.state.federation.resolved_metadata(&server.state.audit, &skatt.entity_id).await.unwrap();
        let p = ena_messaging::calls::CallProof::verify(&proof, &producer["ena_node"]["jwks"]).unwrap();
        assert_eq!(p.request_sha512, hash, "{label}");
        assert_eq!(p.response_sha512, ena_messaging::calls::response_hash(200, &content_type, &bytes), "{label}");
        // Skatteverket's own node is not on the service's list; an unknown service: refused, logged.
        let p = check_problem(
            skatt.post_raw(&c, "/calls/v1/202100-5448/inkomster/personer", asked).send().await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("decision point"), "{label}: {p}");
        check_problem(
            kommun.get(&c, "/calls/v1/202100-5448/deklarationer/x").send().await.unwrap(),
            404,
            "resource-not-found",
        )
        .await;
        let p = check_problem(
            kommun.get(&c, "/calls/v1/202100-5448/inkomster/personer%2F..%2Fadmin").send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["path"], "{label}: no way out of the service's base path");
        let p = check_problem(
            kommun.get(&c, "/calls/v1/nonsense/inkomster").send().await.unwrap(),
            400,
            "invalid-parameter",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["address"], "{label}");
        let skatt_store = skatt.store().await;
        let filter = |action: &str| ena_audit::repo::EventFilter { action: Some(action.into()), ..Default::default() };
        assert_eq!(
            ena_audit::repo::query(&skatt_store, &filter("calls.served"), 10, 0).await.unwrap().len(),
            1,
            "{label}"
        );
        assert_eq!(
            ena_audit::repo::query(&skatt_store, &filter("calls.refused"), 10, 0).await.unwrap().len(),
            2,
            "{label}"
        );
        assert_eq!(
            ena_audit::repo::query(&kommun.store().await, &filter("calls.made"), 10, 0).await.unwrap().len(),
            2,
            "{label}"
        );

        // Attachments: uploaded to the sender's node, sent with a message (encrypted, streamed to the
        // recipient's node over mTLS before the message), read back decrypted from the recipient's node.
        let file: Vec<u8> = (0..200_003u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let upload = |body: Vec<u8>, media_type: Option<&str>| {
            // A refused upload is answered before its body is read, and the server then closes the
            // connection: no reuse, so the next upload does not race that close.
            let mut r = c
                .post(format!("{}/messages/v1/attachments", skatt.api))
                .bearer_auth(&skatt.token)
                .header("connection", "close")
                .body(body);
            if let Some(t) = media_type {
                r = r.header("content-type", t);
            }
            r.send()
        };
        let p = check_problem(upload(file.clone(), None).await.unwrap(), 400, "validation-failed").await;
        assert_eq!(invalid_properties(&p), ["Content-Type"], "{label}: {p}");
        let r = upload(file.clone(), Some("application/pdf")).await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let up: Value = r.json().await.unwrap();
        assert_eq!(up["size"], 200_003, "{label}");
        let mut with = message.clone();
        with["attachments"] = json!([{"id": uuid_like(up["id"].as_str().unwrap()), "name": "utredning.pdf"}]);
        let p =
            check_problem(skatt.post(&c, "/messages/v1/outbox", &with).send().await.unwrap(), 400, "validation-failed")
                .await;
        assert_eq!(invalid_properties(&p), ["attachments/0/id"], "{label}: {p}");
        with["attachments"] = json!([{"id": up["id"], "name": "../utredning.pdf"}]);
        let p =
            check_problem(skatt.post(&c, "/messages/v1/outbox", &with).send().await.unwrap(), 400, "validation-failed")
                .await;
        assert_eq!(invalid_properties(&p), ["attachments/0/name"], "{label}: {p}");
        with["attachments"] = json!([{"id": up["id"], "name": "Utredning 2026 (slutlig).pdf"}]);
        let r = skatt.post(&c, "/messages/v1/outbox", &with).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let with_id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        wait_status(&skatt, &c, &with_id, "delivered").await;
        let got = json_of(kommun.get(&c, &format!("/messages/v1/inbox/{with_id}")).send().await.unwrap()).await;
        assert_eq!(got["attachments"][0]["size"], 200_003, "{label}: {got}");
        let r = kommun.get(&c, &format!("/messages/v1/inbox/{with_id}/attachments/0")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert_eq!(
            r.headers()["content-disposition"],
            "attachment; filename*=UTF-8''Utredning%202026%20%28slutlig%29.pdf"
        );
        assert!(r.bytes().await.unwrap() == file, "{label}: the attachment reads back as sent");
        check_problem(
            kommun.get(&c, &format!("/messages/v1/inbox/{with_id}/attachments/1")).send().await.unwrap(),
            404,
            "resource-not-found",
        )
        .await;
        // Files on another node's disk: only from the node the federation says holds the certificate, and
        // only under a message id (no path escapes).
        let put = |client: &reqwest::Client, id: &str, sender: &str| {
            client.put(format!("{inbox_url}/{id}/attachments/0")).header("ena-sender-node", sender).body("x").send()
        };
        let p = check_problem(
            put(&as_kommun, &uuid_like(&with_id), &skatt.entity_id).await.unwrap(),
            403,
            "permission-denied",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("certificate"), "{label}: {p}");
        let p = check_problem(
            put(&as_skatt, "..%2F..%2Fnode.db", &skatt.entity_id).await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("not an id"), "{label}: {p}");

        // A suspended recipient: refused at once, nothing queued.
        suspend(&server, &kommun.entity_id).await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let p = check_problem(
            skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["recipient"], "{label}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("not an active member"), "{label}: {p}");
    }
}

/// Submit `n` messages with `clients` concurrent clients. Returns the ids the sender acknowledged (201);
/// a submission to a node that is down is simply not acknowledged.
async fn stream_messages(api: String, token: String, n: usize, clients: usize) -> Vec<String> {
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
async fn all_delivered_exactly_once(label: &str, sender: &NodeProc, recipient: &NodeProc, ids: &[String]) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_either_node_mid_stream_loses_and_duplicates_nothing_on_each_database() {
    // 2 000 messages a round: enough for each kill to land mid-stream, which the test asserts
    // (0 < delivered < N at the moment of the kill) instead of hoping for it.
    const N: usize = 2_000;
    let delivered = |store: ena_store::Store| async move {
        ena_messaging::repo::counts(&store).await.unwrap().iter().find(|(s, _)| s == "delivered").map_or(0, |(_, n)| *n)
            as usize
    };
    // Wait (at most a minute, then fail) until at least `from` messages are delivered; returns the count.
    let wait_for = |store: ena_store::Store, from: usize| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let n = delivered(store.clone()).await;
            if n >= from {
                return n;
            }
            assert!(std::time::Instant::now() < deadline, "only {n} of {from} delivered after a minute");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let (mut skatt, mut kommun) =
            tax_agency_and_municipality(&server, central_node, "", &json!({"type": "object", "required": ["child"]}))
                .await;

        // The recipient is killed (-9) while the stream is being delivered, and restarted.
        let streaming = stream_messages(skatt.api.clone(), skatt.token.clone(), N, 16);
        let killing = async {
            let at_kill = wait_for(skatt.store().await, N / 10).await;
            kommun.kill_and_restart().await;
            at_kill
        };
        let (ids, at_kill) = tokio::join!(streaming, killing);
        assert!(at_kill < N, "{label}: the recipient was killed mid-stream ({at_kill} of {N} delivered)");
        assert_eq!(ids.len(), N, "{label}: the sender acknowledged every submission");
        all_delivered_exactly_once(&format!("{label}, recipient killed"), &skatt, &kommun, &ids).await;

        // The sender is killed (-9) mid-stream: what it acknowledged before is delivered after its restart.
        let streaming = stream_messages(skatt.api.clone(), skatt.token.clone(), N, 16);
        let killing = async {
            let at_kill = wait_for(skatt.store().await, N + N / 10).await - N;
            skatt.kill_and_restart().await;
            at_kill
        };
        let (mut second, at_kill) = tokio::join!(streaming, killing);
        assert!(at_kill < N, "{label}: the sender was killed mid-stream ({at_kill} of {N} delivered)");
        // Submissions refused while it was down are sent again, as a system would.
        let rest = stream_messages(skatt.api.clone(), skatt.token.clone(), N - second.len(), 16).await;
        second.extend(rest);
        let mut all = ids.clone();
        all.extend(second);
        all_delivered_exactly_once(&format!("{label}, sender killed"), &skatt, &kommun, &all).await;
    }
}

/// Any OpenID Federation implementation can resolve our members: spid-cie-oidc (PyPI, installed by
/// scripts/test in .ci/oidf-venv) starts at the trust anchor, fetches each real node's own entity
/// configuration from its entity id (`https://<host>:<port>/.well-known/openid-federation`), follows its
/// `authority_hints` to the anchor's fetch endpoint and validates the chain; a node not in the
/// federation, or an anchor key it does not hold, gets no chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openid_federation_client_walks_each_members_chain() {
    let python = Path::new(ROOT).join("../../.ci/oidf-venv/bin/python");
    assert!(python.exists(), "spid-cie-oidc is not installed: run scripts/test (it makes .ci/oidf-venv)");
    let script = Path::new(ROOT).join("../../scripts/interop/oidf_chain.py");
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let (skatt, kommun) = tax_agency_and_municipality(&server, central_node, "", &json!({"type": "object"})).await;
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, server.state.federation.ca_certificate()).unwrap();
        let anchor = server.url("");
        let walk = |leaf: String, pin: Option<std::path::PathBuf>| {
            let (python, script, ca, anchor) = (python.clone(), script.clone(), ca.clone(), anchor.clone());
            tokio::task::spawn_blocking(move || {
                let mut cmd = Command::new(python);
                cmd.arg(script).arg(&anchor).arg(&leaf).env("OIDF_CA", ca);
                if let Some(p) = pin {
                    cmd.arg(p);
                }
                cmd.output().unwrap()
            })
        };
        // The member serves its own configuration, naming the anchor.
        let own = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(server.state.federation.ca_certificate().as_bytes()).unwrap(),
            )
            .resolve(
                &kommun.entity_id.trim_start_matches("https://").split(':').next().unwrap().to_owned(),
                format!("127.0.0.1:{}", kommun.entity_id.rsplit(':').next().unwrap()).parse().unwrap(),
            )
            .build()
            .unwrap()
            .get(format!("{}/.well-known/openid-federation", kommun.entity_id))
            .send()
            .await
            .unwrap();
        assert_eq!(own.headers()["content-type"], "application/entity-statement+jwt", "{label}");
        assert_eq!(payload(&own.text().await.unwrap())["authority_hints"], json!([anchor.trim_end_matches('/')]));
        for node in [&skatt, &kommun] {
            let out = walk(node.entity_id.clone(), None).await.unwrap();
            assert!(out.status.success(), "{label}: {}: {}", node.entity_id, String::from_utf8_lossy(&out.stderr));
            let resolved: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(resolved["chain_length"], 3, "{label}: {resolved}");
            let published = &resolved["metadata"]["ena_node"];
            assert!(
                published["tls_client_certificate_sha256"].is_string(),
                "{label}: the anchor's override: {resolved}"
            );
            assert!(published["inbox_endpoint"].as_str().unwrap().starts_with(&node.entity_id), "{label}: {resolved}");
        }
        // The anchor reads the configuration from there too (and takes pushes): what the node serves is
        // the one in force, so nothing changes; a member that serves nothing is named.
        assert!(!server.state.federation.refresh_configuration(&kommun.entity_id).await.unwrap(), "{label}");
        // Not a member (nothing answers there), and an anchor key the client does not trust: no chain.
        let out = walk("https://stranger.localhost:9".into(), None).await.unwrap();
        assert!(!out.status.success(), "{label}: a stranger got a chain");
        let other = dir.path().join("other-anchor.json");
        std::fs::write(
            &other,
            json!({"keys": [ena_keys::jose::SigningKey::generate().unwrap().public_jwk()]}).to_string(),
        )
        .unwrap();
        let out = walk(kommun.entity_id.clone(), Some(other)).await.unwrap();
        assert!(!out.status.success(), "{label}: a chain validated against keys that are not the anchor's");
    }
}

/// The `.part` files of attachment transfers in progress under a node's data directory.
fn transfers_in_progress(node: &NodeProc) -> usize {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_survives_the_recipient_killed_mid_transfer_on_each_database() {
    use sha2::Digest;
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let (skatt, mut kommun) =
            tax_agency_and_municipality(&server, central_node, "", &json!({"type": "object", "required": ["child"]}))
                .await;
        let c = reqwest::Client::new();
        // 64 MiB of pseudo-random bytes: long enough in a debug build to catch the transfer under way.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let file: Vec<u8> = (0..64 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let up: Value = c
            .post(format!("{}/messages/v1/attachments", skatt.api))
            .bearer_auth(&skatt.token)
            .header("content-type", "application/octet-stream")
            .body(file.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0",
            "payload": {"child": "201401012383"}, "attachments": [{"id": up["id"], "name": "stor.bin"}]});
        let r = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap();
        assert_eq!(r.status(), 201, "{label}");
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

        // The recipient is killed (-9) while the encrypted file is arriving, and restarted.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while transfers_in_progress(&kommun) == 0 {
            let status = json_of(skatt.get(&c, &format!("/messages/v1/outbox/{id}")).send().await.unwrap()).await;
            assert_ne!(status["status"], "delivered", "{label}: the transfer ended before it was caught under way");
            assert!(std::time::Instant::now() < deadline, "{label}: no transfer under way: {status}");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        kommun.kill_and_restart().await;

        // The sender tries again; the message arrives once, with the whole file.
        let done = wait_status(&skatt, &c, &id, "delivered").await;
        assert!(done["attempts"].as_i64().unwrap() >= 2, "{label}: {done}");
        let got = kommun.get(&c, &format!("/messages/v1/inbox/{id}/attachments/0")).send().await.unwrap();
        assert_eq!(got.status(), 200, "{label}");
        let bytes = got.bytes().await.unwrap();
        assert_eq!(bytes.len(), file.len(), "{label}");
        assert_eq!(sha2::Sha256::digest(&bytes), sha2::Sha256::digest(&file), "{label}: the same file");
        let inbox = json_of(kommun.get(&c, "/messages/v1/inbox?all=true").send().await.unwrap()).await;
        assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{label}: received once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_events_reach_webhooks_and_server_sent_events_on_each_database() {
    use base64::Engine;
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let (skatt, mut kommun) =
            tax_agency_and_municipality(&server, central_node, "", &json!({"type": "object", "required": ["child"]}))
                .await;
        let c = reqwest::Client::new();

        // The municipality's system takes events by webhook.
        // While `refusing` is set it answers 503 (and counts the refusals).
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        let refusing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook_url = format!("http://{}/events", hook.local_addr().unwrap());
        let (refusing_, refused_) = (refusing.clone(), refused.clone());
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (tx, refusing, refused) = (tx.clone(), refusing_.clone(), refused_.clone());
                async move {
                    if refusing.load(std::sync::atomic::Ordering::SeqCst) {
                        refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let sig = headers.get("ena-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    let _ = tx.send((sig, body));
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        tokio::spawn(async move { axum::serve(hook, app).await });
        let bad = check_problem(
            kommun
                .post(&c, "/subscriptions/v1", &json!({"types": ["se.ena.nothing"], "webhook": "ftp://x"}))
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&bad), ["types[0]", "webhook"], "{label}");
        let r = kommun
            .post(
                &c,
                "/subscriptions/v1",
                &json!({"types": ["se.ena.message.received", "se.ena.address.changed"], "webhook": hook_url}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{label}");

        // The tax agency's system listens to its node's events as Server-Sent Events.
        let mut sse = skatt.get(&c, "/subscriptions/v1/events").send().await.unwrap();
        assert_eq!(sse.headers()["content-type"], "text/event-stream", "{label}");

        let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0", "payload": {"child": "201401012383"}});
        let sent: Value = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap().json().await.unwrap();
        let id = sent["id"].as_str().unwrap().to_owned();

        // SSE: queued, then delivered.
        let mut seen = String::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !seen.contains("\"delivered\"") && std::time::Instant::now() < deadline {
            if let Ok(Ok(Some(chunk))) = tokio::time::timeout(std::time::Duration::from_secs(1), sse.chunk()).await {
                seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        }
        assert!(
            seen.contains("event: se.ena.message.status")
                && seen.contains(&id)
                && seen.contains("\"queued\"")
                && seen.contains("\"delivered\""),
            "{label}: {seen}"
        );

        // Webhook: the arrival, as a CloudEvent the node signed.
        let (sig, body) =
            tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await.expect("a webhook call").unwrap();
        let event: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (event["specversion"].as_str(), event["type"].as_str()),
            (Some("1.0"), Some("se.ena.message.received")),
            "{label}: {event}"
        );
        assert_eq!(event["data"]["id"], id.as_str());
        let meta = server.state.federation.resolved_metadata(&server.state.audit, &kommun.entity_id).await.unwrap();
        let signed: Value = {
            let parts: Vec<&str> = sig.split('.').collect();
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
        };
        ena_messaging::jws::Unverified::parse(&sig, "ena-event+jws")
            .unwrap()
            .verify::<Value>(&meta["ena_node"]["jwks"])
            .unwrap();
        assert_eq!(
            signed["sha256"],
            ena_messaging::envelope::sha256_b64(body.as_bytes()),
            "{label}: the signature covers this body"
        );

        // The subscription outlives a restart of the node (kill -9).
        kommun.kill_and_restart().await;
        let subs = json_of(kommun.get(&c, "/subscriptions/v1").send().await.unwrap()).await;
        assert_eq!(subs[0]["webhook"], hook_url.as_str(), "{label}: {subs}");

        // An address change in the registry reaches the subscriber too.
        let current = json_of(
            server
                .client
                .get(server.url("/addresses/v1/addresses/2120000142:socialtjanst"))
                .bearer_auth(server.operator_token())
                .send()
                .await
                .unwrap(),
        )
        .await;
        let mut renamed = json!({"kind": current["kind"], "name": "Socialtjänsten (ny)", "node": current["node"],
            "capabilities": current["capabilities"], "encryptionKeys": current["encryptionKeys"]});
        renamed["status"] = json!("active");
        let r = server
            .client
            .put(server.url("/addresses/v1/addresses/2120000142:socialtjanst"))
            .bearer_auth(server.operator_token())
            .json(&renamed)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{label}");
        let mut found = false;
        while let Ok(Some((_, body))) = tokio::time::timeout(std::time::Duration::from_secs(15), rx.recv()).await {
            let e: Value = serde_json::from_str(&body).unwrap();
            if e["type"] == "se.ena.address.changed" && e["subject"] == "162120000142:socialtjanst" {
                assert_eq!(e["data"]["change"], "updated", "{label}: {e}");
                found = true;
                break;
            }
        }
        assert!(found, "{label}: the address change arrived by webhook");

        // A webhook that is down when an event happens: the event is queued in the node's database and
        // still arrives after the node is killed (-9) and restarted.
        refusing.store(true, std::sync::atomic::Ordering::SeqCst);
        let sent: Value = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap().json().await.unwrap();
        let second = sent["id"].as_str().unwrap().to_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while refused.load(std::sync::atomic::Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(refused.load(std::sync::atomic::Ordering::SeqCst) > 0, "{label}: the webhook was tried");
        let store = kommun.store().await;
        while ena_messaging::repo::queued_webhooks(&store).await.unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "{label}: the refused event is queued");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        kommun.kill_and_restart().await;
        refusing.store(false, std::sync::atomic::Ordering::SeqCst);
        let mut arrived = false;
        while let Ok(Some((_, body))) = tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await {
            let e: Value = serde_json::from_str(&body).unwrap();
            if e["type"] == "se.ena.message.received" && e["data"]["id"] == second.as_str() {
                arrived = true;
                break;
            }
        }
        assert!(arrived, "{label}: the queued event arrived after the restart");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ena_demo_runs_a_federation_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let mut child = Command::new(ENA)
        .args(["demo", "--data-dir", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--node-listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    // Read everything the demo prints (to its end, so it never writes into a closed pipe); go on once it
    // says it is ready.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(120)) {
            let done = line.contains("Ctrl-C stops it all");
            seen.push(line);
            if done {
                break;
            }
        }
        seen
    })
    .await
    .unwrap();
    let text = lines.join("\n");
    assert!(text.contains("ena demo ready"), "{text}");
    let info: Value = serde_json::from_str(&std::fs::read_to_string(data.join("demo.json")).unwrap()).unwrap();
    assert_eq!(info["nodes"].as_array().unwrap().len(), 3);
    let c = reqwest::Client::new();
    // The sample messages were delivered with receipts, and the municipality has its orosanmälan.
    let kommun = info["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["entityId"].as_str().unwrap().starts_with("https://kommun.localhost:"))
        .unwrap();
    let inbox = json_of(
        c.get(format!("{}/messages/v1/inbox", kommun["api"].as_str().unwrap()))
            .bearer_auth(kommun["token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(inbox["items"][0]["messageType"], "se.kommun.orosanmalan", "{inbox}");
    let fk = info["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["entityId"].as_str().unwrap().starts_with("https://forsakringskassan.localhost:"))
        .unwrap();
    let sent = json_of(
        c.get(format!("{}/messages/v1/outbox/{}", fk["api"].as_str().unwrap(), info["messages"][0].as_str().unwrap()))
            .bearer_auth(fk["token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(sent["status"], "delivered", "{sent}");
    // Its attachment reads back decrypted on the municipality's node.
    let file = c
        .get(format!(
            "{}/messages/v1/inbox/{}/attachments/0",
            kommun["api"].as_str().unwrap(),
            info["messages"][0].as_str().unwrap()
        ))
        .bearer_auth(kommun["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(file.text().await.unwrap().starts_with("Utredning: barnet"));
    assert!(text.contains("answered 200 OK"), "the sample synchronous call: {text}");
    // Ctrl-C (SIGINT) stops everything and the process exits cleanly.
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "exit status {status}");
}

/// With `--features nats`, a node started with `--nats-url` publishes the same events to JetStream.
#[cfg(feature = "nats")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_events_go_to_nats_jetstream() {
    use ena_node::async_nats;
    let Ok(nats_url) = std::env::var("ENA_TEST_NATS_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must set ENA_TEST_NATS_URL");
        eprintln!("ENA_TEST_NATS_URL not set: the NATS test did not run");
        return;
    };
    let mut server = TestServer::each().await.into_iter().next().unwrap();
    let central_node = server.node_listener().await;
    let (mut skatt, _kommun) = tax_agency_and_municipality(&server, central_node, "", &json!({"type": "object"})).await;
    // Restart the sender with NATS.
    skatt.child.kill().unwrap();
    skatt.child.wait().unwrap();
    let mut cmd = Command::new(ENA);
    cmd.args([
        "node",
        "run",
        "--data-dir",
        &skatt.arg(),
        "--directory-ttl",
        "1",
        "--log",
        "warn",
        "--nats-url",
        &nats_url,
    ]);
    let _ = std::fs::remove_file(skatt.dir.path().join("node.ready.json"));
    skatt.child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
    for _ in 0..200 {
        if skatt.dir.path().join("node.ready.json").exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let client = async_nats::connect(&nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream("ENA").await.expect("the node created the ENA stream");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: "ena.message.status".into(),
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .unwrap();
    let c = reqwest::Client::new();
    let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0", "payload": {}});
    let sent: Value = skatt.post(&c, "/messages/v1/outbox", &message).send().await.unwrap().json().await.unwrap();
    let id = sent["id"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !statuses.contains(&"delivered".to_owned()) && std::time::Instant::now() < deadline {
        use futures_util::StreamExt;
        let mut batch =
            consumer.fetch().max_messages(100).expires(std::time::Duration::from_secs(1)).messages().await.unwrap();
        while let Some(Ok(m)) = batch.next().await {
            let e: Value = serde_json::from_slice(&m.payload).unwrap();
            if e["subject"] == id.as_str() {
                statuses.push(e["data"]["status"].as_str().unwrap().to_owned());
            }
            m.ack().await.unwrap();
        }
    }
    assert_eq!(statuses, ["queued", "delivered"], "the message's status events in JetStream");
}
