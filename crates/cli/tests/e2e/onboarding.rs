//! A new agency's first hour: the quickstart of docs/quickstart.md run exactly as written, the usual
//! mistakes answered with what to do, and the documented field names checked against the OpenAPI
//! documents.

use super::*;

/// The repository's root (the e2e tests live in crates/cli).
fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The `sh` blocks of a Markdown page, in order, with the info string after `sh` (e.g. `setup`).
fn shell_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        match &mut current {
            None => {
                if let Some(info) = line.strip_prefix("```sh") {
                    current = Some((info.trim().to_owned(), String::new()));
                }
            }
            Some(_) if line == "```" => blocks.push(current.take().unwrap()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```sh block");
    blocks
}

/// The quickstart's ports, as the page's table lists them.
const QUICKSTART_PORTS: [u16; 7] = [8080, 8443, 9080, 9081, 9443, 9444, 7000];

#[test]
fn the_quickstart_runs_exactly_as_written() {
    let page = std::fs::read_to_string(repo().join("docs/quickstart.md")).unwrap();
    let blocks = shell_blocks(&page);
    // The one `setup` block builds ena and puts it on PATH; this test puts the ena it was built with
    // there instead. Every other block runs as written, in order, in one shell.
    assert_eq!(blocks.iter().filter(|(info, _)| info == "setup").count(), 1, "one setup block");
    let setup = &blocks.iter().find(|(i, _)| i == "setup").unwrap().1;
    assert!(setup.contains("cd quickstart"), "the setup block ends in ./quickstart: {setup}");
    let runnable: Vec<&str> = blocks.iter().filter(|(i, _)| i.is_empty()).map(|(_, b)| b.as_str()).collect();
    assert!(runnable.len() >= 8, "the quickstart's steps: {}", runnable.len());
    for port in QUICKSTART_PORTS {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is in use: the quickstart's ports must be free for this test (stop what listens there)"
        );
    }
    // The layout the page assumes: ./quickstart beside ./docs of a clone.
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo().join("docs"), root.path().join("docs")).unwrap();
    let work = root.path().join("quickstart");
    std::fs::create_dir(&work).unwrap();
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{}",
        runnable.iter().map(|b| format!("echo '+++ step'\n{b}")).collect::<Vec<_>>().join("\n")
    );
    let bin = Path::new(ENA).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    use std::os::unix::process::CommandExt;
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env_remove("ENA_SERVER")
        .env_remove("ENA_DATA_DIR")
        .env_remove("ENA_DATABASE_URL")
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (out_tx, out_rx) = std::sync::mpsc::channel();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        let t = std::thread::spawn(move || {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut e);
            e
        });
        let _ = std::io::Read::read_to_string(&mut stdout, &mut o);
        let _ = out_tx.send((o, t.join().unwrap_or_default()));
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-9", &format!("-{pid}")]).status();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = out_rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let logs: String = ["central.log", "kommun.log", "skatteverket.log"]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(work.join(f)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
            format!("--- {f}\n{}\n", tail.join("\n"))
        })
        .collect();
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}\n{logs}");
    let status = status.unwrap_or_else(|| panic!("the quickstart did not finish within 300 s\n{context}"));
    assert!(status.success(), "the quickstart failed ({status})\n{context}");
    // Shown with --nocapture: what a newcomer sees.
    println!("{stdout}\n{stderr}");
    // What each step shows a newcomer.
    assert!(stdout.contains(r#""database":"sqlite""#), "readyz: {context}");
    assert!(stdout.contains("Exempelkommunen") && stdout.contains("Skatteverket"), "applications listed: {context}");
    assert!(stdout.contains("membership   active"), "node status shows the standing: {context}");
    assert!(stdout.contains("212000-0142:socialtjanst") && stdout.contains("se.kommun.orosanmalan@1.0"), "{context}");
    assert!(stdout.contains(": delivered"), "the message was delivered: {context}");
    assert!(stdout.contains("Barnet har inte varit i skolan"), "the inbox shows the payload: {context}");
    assert!(stdout.contains("receipt verified: message"), "the receipt verified offline: {context}");
    assert!(stdout.contains(r#""inkomst": 412000"#), "the synchronous call answered: {context}");
    assert!(stderr.contains("server: http://127.0.0.1:8080 (from"), "the CLI names its server: {context}");
    assert!(stderr.contains("accepting version"), "init showed and accepted the agreement: {context}");
    // Every step ran: the stop block too.
    assert_eq!(stdout.matches("+++ step").count(), runnable.len(), "{context}");
}

/// The 400 `validation-failed` problem a request is answered with.
async fn refused(request: reqwest::RequestBuilder) -> Value {
    check_problem(request.send().await.unwrap(), 400, "validation-failed").await
}

/// `ena …` off the async runtime: (success, stdout, stderr).
async fn ena_says(args: &[&str]) -> (bool, String, String) {
    ena_off_thread(args.iter().map(|a| (*a).to_owned()).collect()).await
}

/// The arguments of a complete `ena node init` for `host` in `dir`, before the flag under test.
fn init_args(dir: &str, server: &TestServer, central_node: std::net::SocketAddr, host: &str, org: &str) -> Vec<String> {
    let peer = nodekit::free_port();
    [
        "node",
        "init",
        "--data-dir",
        dir,
        "--federation",
        &server.url(""),
        "--federation-node",
        &format!("https://{central_node}"),
        "--entity-id",
        &format!("https://{host}:{peer}"),
        "--organisation",
        org,
        "--name",
        "Nybyggarkommunen",
        "--listen",
        &format!("127.0.0.1:{}", nodekit::free_port()),
        "--peer-listen",
        &format!("127.0.0.1:{peer}"),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn with(mut args: Vec<String>, more: &[&str]) -> Vec<String> {
    args.extend(more.iter().map(|s| (*s).to_owned()));
    args
}

/// Run `ena node run` on `dir`, expected to refuse: its stderr.
fn node_run_refuses(dir: &Path) -> String {
    let out = output_within(
        Command::new(ENA).args(["node", "run", "--data-dir", dir.to_str().unwrap(), "--log", "warn"]),
        Duration::from_secs(30),
    );
    assert!(!out.status.success(), "node run should have refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomers_mistakes_are_answered_with_what_to_do_on_each_database() {
    for mut server in TestServer::each().await {
        let label = server.label.clone();
        let central_node = server.node_listener().await;
        let (skatt, kommun) = nodekit::tax_agency_and_municipality(
            &server,
            central_node,
            "",
            &json!({"type": "object", "required": ["child", "concern"], "properties": {"child": {"type": "string"}, "concern": {"type": "string"}}}),
        )
        .await;
        let c = reqwest::Client::new();
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("ny");
        let d = dir.to_str().unwrap().to_owned();
        let base = init_args(&d, &server, central_node, "ny.localhost", "212000-1355");

        // --- node init: the agreement must be accepted, the contact real, both listeners answer;
        // nothing is written until then.
        let (ok, _, err) = ena_off_thread(with(base.clone(), &["--contact", "registrator@ny.example"])).await;
        assert!(!ok && err.contains("Anslutningsavtal") && err.contains("--accept-agreement"), "{label}: {err}");
        assert!(!dir.exists(), "{label}: nothing written without accepting");
        let (ok, _, err) = ena_off_thread(with(base.clone(), &["--accept-agreement"])).await;
        assert!(!ok && err.contains("--contact"), "{label}: the contact is required: {err}");
        let (ok, _, err) = ena_off_thread(with(base.clone(), &["--accept-agreement", "--contact", "nobody"])).await;
        assert!(!ok && err.contains("is not an e-mail address"), "{label}: {err}");
        let mut unreachable = base.clone();
        unreachable[5] = "http://127.0.0.1:1".into();
        let (ok, _, err) =
            ena_off_thread(with(unreachable, &["--accept-agreement", "--contact", "registrator@ny.example"])).await;
        assert!(!ok && err.contains("does not answer") && err.contains("--federation"), "{label}: {err}");
        assert!(!dir.exists(), "{label}: nothing written for an unreachable federation");
        let mut no_listener = base.clone();
        no_listener[7] = "https://127.0.0.1:1".into();
        let (ok, _, err) =
            ena_off_thread(with(no_listener, &["--accept-agreement", "--contact", "registrator@ny.example"])).await;
        assert!(
            !ok && err.contains("--node-listen 127.0.0.1:1"),
            "{label}: says how to start the central instance: {err}"
        );
        assert!(!dir.exists(), "{label}");
        // Refused by the federation (the host is another member's): the directory is removed again.
        let taken = init_args(&d, &server, central_node, "skatteverket.localhost", "212000-1355");
        let mut taken = with(taken, &["--accept-agreement", "--contact", "registrator@ny.example"]);
        let skatt_port = skatt.entity_id.rsplit(':').next().unwrap().to_owned();
        taken[9] = format!("https://skatteverket.localhost:{skatt_port}");
        taken[17] = format!("127.0.0.1:{skatt_port}");
        let (ok, _, err) = ena_off_thread(taken).await;
        assert!(
            !ok && err.contains("refused the application") && err.contains("already an active member"),
            "{label}: {err}"
        );
        assert!(!dir.exists(), "{label}: a refused application leaves no half-made directory");

        // --- applied; a rejection shows its reason and one command reapplies.
        let (ok, id, err) =
            ena_off_thread(with(base.clone(), &["--accept-agreement", "--contact", "fel@ny.example"])).await;
        assert!(ok, "{label}: {err}");
        let id = id.trim().to_owned();
        let pending = node_run_refuses(&dir);
        assert!(
            pending.contains("awaiting the operator's decision") && pending.contains("ena federation approve"),
            "{label}: {pending}"
        );
        let r = c
            .post(server.url(&format!("/federation/v1/applications/{id}/reject")))
            .bearer_auth(server.operator_token())
            .json(&json!({"reason": "Kontaktadressen går inte fram"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{label}");
        let rejected = node_run_refuses(&dir);
        assert!(
            rejected.contains("rejected")
                && rejected.contains("Kontaktadressen går inte fram")
                && rejected.contains("ena node reapply"),
            "{label}: the reason and the command: {rejected}"
        );
        assert!(!rejected.contains("approves it with"), "{label}: no impossible advice: {rejected}");
        let (ok, status, _) = ena_says(&["node", "status", "--data-dir", &d]).await;
        assert!(ok && status.contains("Kontaktadressen går inte fram"), "{label}: status shows the reason: {status}");
        let (ok, again, err) = ena_says(&[
            "node",
            "reapply",
            "--data-dir",
            &d,
            "--accept-agreement",
            "--contact",
            "registrator@ny.example",
        ])
        .await;
        assert!(ok, "{label}: {err}");
        let again = again.trim().to_owned();
        assert_ne!(again, id, "{label}: a new application");
        let app =
            json_of(c.get(server.url(&format!("/federation/v1/applications/{again}"))).send().await.unwrap()).await;
        assert_eq!(
            (app["status"].as_str(), app["contact"].as_str()),
            (Some("pending"), Some("registrator@ny.example")),
            "{label}: {app}"
        );

        // --- the CLI learns its server from a node's directory, and says where the operator token is.
        let (ok, _, err) = ena_says(&["federation", "approve", &again, "--data-dir", &d]).await;
        assert!(!ok && err.contains("member node's data directory") && err.contains("--data-dir"), "{label}: {err}");
        assert!(err.contains(&format!("server: {} (from", server.url(""))), "{label}: names its server: {err}");
        let (ok, _, err) = ena_says(&["admin", "token", "--data-dir", &d]).await;
        assert!(!ok && err.contains("member node's data directory") && err.contains("node.token"), "{label}: {err}");
        let (ok, _, err) = ena_says(&[
            "federation",
            "approve",
            &again,
            "--server",
            &server.url(""),
            "--token",
            &server.operator_token(),
        ])
        .await;
        assert!(ok, "{label}: {err}");

        // --- a broken or missing schema file names the file and the message type.
        let toml = dir.join("node.toml");
        let original = std::fs::read_to_string(&toml).unwrap();
        let typed = format!(
            "{original}\n[[message_type]]\nid = \"se.ny.anmalan\"\nversion = \"1\"\ntitle = \"Anmälan\"\nschema = \"anmalan.json\"\nclassification = {{ confidentiality = 1, integrity = 1, availability = 1 }}\n"
        );
        std::fs::write(&toml, &typed).unwrap();
        let missing = node_run_refuses(&dir);
        assert!(
            missing.contains("se.ny.anmalan@1") && missing.contains("anmalan.json") && missing.contains("cannot read"),
            "{label}: {missing}"
        );
        std::fs::write(dir.join("anmalan.json"), "{\"type\": \"object\",\n").unwrap();
        let broken = node_run_refuses(&dir);
        assert!(
            broken.contains("se.ny.anmalan@1") && broken.contains("anmalan.json") && broken.contains("is not JSON"),
            "{label}: {broken}"
        );
        // A central instance without its node listener: said so, with the flag.
        std::fs::write(&toml, original.replace(&format!("https://{central_node}"), "https://127.0.0.1:1")).unwrap();
        let down = node_run_refuses(&dir);
        assert!(down.contains("--node-listen 127.0.0.1:1") && down.contains("federation_node"), "{label}: {down}");
        std::fs::write(&toml, &original).unwrap();

        // --- the node's API: unknown types, refusing addresses, missing fields, bad filters.
        let message = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0",
                             "payload": {"child": "201401012383", "concern": "oro"}});
        let mut unknown = message.clone();
        unknown["messageType"] = json!("se.kommun.okand");
        let p = refused(skatt.post(&c, "/messages/v1/outbox", &unknown)).await;
        assert_eq!(invalid_properties(&p), ["messageType"], "{label}");
        assert!(p.to_string().contains("no message type se.kommun.okand version 1.0 is registered"), "{label}: {p}");
        let mut refusing = message.clone();
        refusing["recipient"] = json!("202100-5448");
        let p = refused(skatt.post(&c, "/messages/v1/outbox", &refusing)).await;
        assert!(
            // An organisation's own address takes only what comes back for its letters (Mina meddelanden).
            p.to_string().contains(
                "does not accept se.kommun.orosanmalan version 1.0 (it accepts: se.ena.mail-receipt@1.0, se.ena.mail-reply@1.0)"
            ),
            "{label}: {p}"
        );
        let mut lacking = message.clone();
        lacking["payload"] = json!({"child": "201401012383"});
        let p = refused(skatt.post(&c, "/messages/v1/outbox", &lacking)).await;
        assert_eq!(invalid_properties(&p), ["payload/concern"], "{label}: the missing field by name");
        let p = refused(skatt.get(&c, "/messages/v1/outbox?status=bogus")).await;
        assert_eq!(invalid_properties(&p), ["status"], "{label}");
        assert!(p.to_string().contains("queued, sent, delivered, failed or expired"), "{label}: {p}");
        let p = refused(skatt.get(&c, "/messages/v1/inbox?all=maybe")).await;
        assert_eq!(invalid_properties(&p), ["all"], "{label}");
        // Its problems link to the node's own reference page, which answers.
        let link = p["type"].as_str().unwrap().to_owned();
        assert!(link.starts_with("/docs#error-"), "{label}: {link}");
        let docs = c.get(format!("{}/docs", skatt.api)).send().await.unwrap();
        assert_eq!(docs.status(), 200, "{label}: the node serves /docs");
        let page = docs.text().await.unwrap();
        assert!(
            page.contains(&format!("id=\"{}\"", link.trim_start_matches("/docs#"))),
            "{label}: the anchor is there"
        );
        assert!(page.contains("/messages/v1/outbox"), "{label}: the node's own operations");
        // A producer's refusal passed on names the consumer's request, not the producer's internals.
        let path = "/calls/v1/202100-5448/saknas/x";
        let r = kommun.get(&c, path).send().await.unwrap();
        assert!(r.status().is_client_error(), "{label}: {}", r.status());
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["instance"], path, "{label}: {p}");
        assert!(!p.to_string().contains("/node/v1"), "{label}: no producer path: {p}");

        // --- the central instance: every missing field in one answer; an unknown status filter refused.
        let p = refused(c.post(server.url("/federation/v1/applications")).json(&json!({}))).await;
        let named = invalid_properties(&p);
        for field in ["organisationNumber", "name", "contact", "entityId", "jwks", "entityTypes", "acceptAgreement"] {
            assert!(named.iter().any(|n| n == field), "{label}: {field} named: {named:?}");
        }
        let p = check_problem(
            c.get(server.url("/federation/v1/applications?status=bogus"))
                .bearer_auth(server.operator_token())
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        )
        .await;
        assert_eq!(invalid_properties(&p), ["status"], "{label}");
        // A member reads its own registry entry over its certificate (ena node status shows it).
        let (ok, status, err) = ena_says(&["node", "status", "--data-dir", kommun.dir.path().to_str().unwrap()]).await;
        assert!(
            ok && status.contains("membership   active") && status.contains("212000-0142:socialtjanst"),
            "{label}: {status}{err}"
        );
    }
}

#[test]
fn serve_on_a_busy_port_writes_nothing() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let out = output_within(
        Command::new(ENA).args([
            "serve",
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            &busy.local_addr().unwrap().to_string(),
        ]),
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--listen") && err.contains("choose another port"), "{err}");
    assert!(!dir.exists(), "a start that cannot listen makes no data directory");
}

/// The properties of an operation's request or response body schema (`$ref`s followed), and those it
/// requires.
fn body_fields(doc: &Value, operation: &str, side: &str) -> Option<(Vec<String>, Vec<String>)> {
    let op = doc["paths"]
        .as_object()?
        .values()
        .flat_map(|item| item.as_object().into_iter().flatten())
        .find_map(|(_, op)| (op["operationId"] == operation).then_some(op))?;
    let content = match side {
        "request" => &op["requestBody"]["content"],
        _ => {
            let responses = &op["responses"];
            if responses["200"].is_object() { &responses["200"]["content"] } else { &responses["201"]["content"] }
        }
    };
    let mut schema = content.as_object()?.values().next()?["schema"].clone();
    while let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next()?;
        schema = doc["components"]["schemas"][name].clone();
    }
    let names = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
    };
    let properties = schema["properties"].as_object()?.keys().cloned().collect();
    Some((properties, names(&schema["required"])))
}

/// Where the docs name an operation's body fields (between `<!-- fields: OPERATION request|response -->`
/// and `<!-- /fields -->`), each named field is in the OpenAPI document, and a request's list names every
/// required one — so the documented field names cannot drift from the code.
#[test]
fn documented_field_names_match_the_openapi_documents() {
    let central = ena_server::openapi::document();
    let node = ena_node::openapi::DOCUMENT.clone();
    let mut checked = 0;
    for page in [
        "docs/federation.md",
        "docs/messaging.md",
        "docs/addresses.md",
        "docs/identity.md",
        "docs/representation.md",
        "docs/mail.md",
        "docs/index.md",
    ] {
        let text = std::fs::read_to_string(repo().join(page)).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("<!-- fields: ") {
            let after = &rest[at + "<!-- fields: ".len()..];
            let (head, body) = after.split_once("-->").unwrap();
            let (body, next) = body.split_once("<!-- /fields -->").unwrap_or_else(|| panic!("{page}: unclosed fields"));
            rest = next;
            let mut words = head.split_whitespace();
            let (operation, side) = (words.next().unwrap(), words.next().unwrap_or("request"));
            let (properties, required) = body_fields(&central, operation, side)
                .or_else(|| body_fields(&node, operation, side))
                .unwrap_or_else(|| panic!("{page}: no {side} body schema for operation {operation}"));
            let named: Vec<&str> = body
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|w| {
                    w.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && w.chars().all(|c| c.is_ascii_alphanumeric())
                })
                .collect();
            assert!(!named.is_empty(), "{page}: {operation} names no fields");
            for field in &named {
                assert!(
                    properties.iter().any(|p| p == field),
                    "{page}: {operation} has no field `{field}` (it has {properties:?})"
                );
            }
            if side == "request" {
                for field in &required {
                    assert!(named.contains(&field.as_str()), "{page}: {operation}'s required `{field}` is not named");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "the documented field lists: {checked}");
}
