//! The `ena` binary as a user runs it: serve, settings, the data directory, signals, the CLI commands.

use super::*;

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

/// `ena apis lint` and `ena apis diff` as an agency's CI pipeline runs them: exit 0 for a clean document
/// and a compatible version, 1 for rule errors and breaking changes, and an unreadable file named with
/// the parser's line and column.
#[test]
fn apis_lint_and_diff_exit_codes_for_pipelines() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../apis/corpus");
    let base: Value = serde_json::from_str(&std::fs::read_to_string(corpus.join("base.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let good = write("good.json", &base.to_string());
    let out = ena(&["apis", "lint", &good]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 errors, 0 warnings"));

    // The same as YAML, without an operation's description: an error with its rule, place and hint.
    let mut bad = base.clone();
    bad["paths"]["/orders/v1/orders"]["get"].as_object_mut().unwrap().remove("description");
    let yaml = write("bad.yaml", &yaml_of(&bad));
    let out = ena(&["apis", "lint", &yaml, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], 1, "{report}");
    assert_eq!(report["findings"][0]["rule"], "DOK.19");
    assert_eq!(report["findings"][0]["pointer"], "/paths/~1orders~1v1~1orders/get");

    let broken = write("broken.yaml", "openapi: 3.1.0\ninfo:\n  title: [unclosed\n");
    let out = ena(&["apis", "lint", &broken]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line ") && stderr.contains("column "), "{stderr}");
    assert!(out.stdout.is_empty());

    // A new version that only adds is compatible; one that removes an operation breaks, and says where.
    let mut added = base.clone();
    added["info"]["version"] = json!("1.3.0");
    added["components"]["schemas"]["Order"]["properties"]["note"] = json!({"type": "string"});
    let added = write("added.json", &added.to_string());
    assert!(ena(&["apis", "diff", &good, &added]).status.success());
    let mut removed = base.clone();
    removed["paths"].as_object_mut().unwrap().remove("/orders/v1/orders/{orderId}");
    let removed = write("removed.json", &removed.to_string());
    let out = ena(&["apis", "diff", &good, &removed]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("breaking") && text.contains("/paths/~1orders~1v1~1orders~1{orderId}/get"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("without a new major version"));
}

/// A JSON value as YAML (JSON is YAML; one flow mapping per line keeps it readable enough).
fn yaml_of(v: &Value) -> String {
    format!("# the document as YAML\n{}\n", serde_json::to_string_pretty(v).unwrap())
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

#[test]
fn serve_guards_its_data_dir_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start_serve(&data, &[], &[]);
    assert!(data.join("ena.db").exists(), "SQLite database created in the data dir");
    assert_eq!(get(&served.addr, "/readyz").0, 200);
    assert_eq!(get(&served.addr, "/plan/v1/blocks/mina-ombud").0, 200, "seeded with the plan");

    // A second serve on the same data dir refuses, naming the directory.
    let out = output_within(
        Command::new(ENA).args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()]),
        Duration::from_secs(30),
    );
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
        let out = output_within(
            Command::new(ENA).arg("serve").args(args).env_remove("ENA_DATABASE_URL"),
            Duration::from_secs(30),
        );
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
    let out = output_within(
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()])
            .current_dir(dir.path())
            .env_remove("ENA_DATABASE_URL"),
        Duration::from_secs(30),
    );
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

/// Send `head` and the first part of a body on a raw connection (the rest is sent later or never).
fn begin_request(addr: &str, path: &str, body_length: usize, first: &[u8]) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {body_length}\r\nConnection: close\r\n\r\n"
    );
    std::io::Write::write_all(&mut stream, head.as_bytes()).unwrap();
    std::io::Write::write_all(&mut stream, first).unwrap();
    stream
}

/// The status of the answer on `stream` (0 if the connection closed without one).
fn status_of(stream: &mut std::net::TcpStream) -> (u16, String) {
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut response = String::new();
    let _ = std::io::Read::read_to_string(stream, &mut response);
    (response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), response)
}

/// What `ena serve --help` promises about running it: `--request-timeout-secs` answers a request that
/// takes longer with 408; `--production true` takes the test eID off the web; SIGTERM lets a request
/// that is in flight finish before the process exits 0.
#[test]
fn serve_times_out_slow_requests_runs_without_the_test_eid_in_production_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let served = start_serve(&dir.path().join("data"), &["--request-timeout-secs", "1", "--production", "true"], &[]);
    let addr = served.addr.clone();

    // A body that stops arriving: 408 once the second has passed, as a problem.
    let started = Instant::now();
    let mut slow = begin_request(&addr, "/federation/v1/applications", 100, b"{\"name\":");
    let (status, response) = status_of(&mut slow);
    assert_eq!(status, 408, "{response}");
    assert!(response.contains("application/problem+json") && response.contains("request-timeout"), "{response}");
    assert!(started.elapsed() >= Duration::from_millis(900), "answered after the timeout, not before");

    // Production: no test eID provider, neither its endpoints nor its button on the login page.
    assert_eq!(get(&addr, "/test-eid/.well-known/openid-configuration").0, 404);
    assert_eq!(get(&addr, "/test-eid/authorize").0, 404);
    let (status, login) = get(&addr, "/login");
    assert_eq!(status, 200);
    assert!(!login.contains("test-eid"), "the login page offers no test eID: {login}");

    // SIGTERM while a request is in flight: it is answered (here: its body is not an application), then
    // the process stops cleanly.
    let body = b"{}";
    let mut in_flight = begin_request(&addr, "/federation/v1/applications", body.len(), &body[..1]);
    std::thread::sleep(Duration::from_millis(100));
    Command::new("kill").args(["-TERM", &served.child.id().to_string()]).status().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    std::io::Write::write_all(&mut in_flight, &body[1..]).unwrap();
    let (status, response) = status_of(&mut in_flight);
    assert_eq!(status, 400, "the in-flight request got its answer: {response}");
    let mut served = served;
    let exit = served.child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0: {exit}");
    // After the stop nothing listens.
    assert!(std::net::TcpStream::connect(&addr).is_err(), "stopped");
}

/// `/readyz` says 503 when the database stops answering and 200 again when it is back; `/healthz` stays
/// 200 (the process is alive). PostgreSQL is reached through a proxy this test cuts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_the_database_is_down() {
    let Ok(base) = std::env::var("ENA_TEST_POSTGRES_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must set ENA_TEST_POSTGRES_URL");
        eprintln!("ENA_TEST_POSTGRES_URL not set: the database-down test did not run");
        return;
    };
    let url = ena_testkit::postgres_schema_url(&base).await;
    let target = url.split('@').nth(1).unwrap().split('/').next().unwrap().to_owned();
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (cut_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let cut = cut_tx.clone();
    let open = up.clone();
    tokio::spawn(async move {
        loop {
            let (mut client, _) = proxy.accept().await.unwrap();
            if !open.load(std::sync::atomic::Ordering::SeqCst) {
                continue; // dropped: the database "does not answer"
            }
            let target = target.clone();
            let mut cut = cut.subscribe();
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(&target).await.unwrap();
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    _ = cut.recv() => {}
                }
            });
        }
    });
    let proxied =
        url.replacen(&url.split('@').nth(1).unwrap().split('/').next().unwrap().to_owned(), &proxy_addr.to_string(), 1);
    let dir = tempfile::tempdir().unwrap();
    let served = start_serve(dir.path(), &["--database-url", &proxied], &[]);
    let addr = served.addr.clone();
    let ask = |path: &'static str| {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || get(&addr, path))
    };
    assert_eq!(ask("/readyz").await.unwrap().0, 200);

    up.store(false, std::sync::atomic::Ordering::SeqCst);
    let _ = cut_tx.send(());
    let (status, body) = ask("/readyz").await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("service-unavailable") && body.contains("database"), "{body}");
    assert_eq!(ask("/healthz").await.unwrap().0, 200, "alive while the database is down");

    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(20);
    while ask("/readyz").await.unwrap().0 != 200 {
        assert!(Instant::now() < deadline, "ready again within 20 s of the database coming back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, lines) = sigterm_and_wait(served);
    assert!(status.success(), "{lines:?}");
}
