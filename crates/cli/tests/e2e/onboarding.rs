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
