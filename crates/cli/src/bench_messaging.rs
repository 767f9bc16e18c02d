//! `ena bench messaging`: a central instance and two member nodes (`ena node`'s own code, in this
//! process, each with its own database and log) on loopback. Measures, in one run: the crypto-only bound
//! per message (sign + encrypt + decrypt + verify), async messages sustained end to end (submitted over
//! the sender's local API, delivered over mTLS, receipts verified and stored, every step durable and
//! logged), and cached address lookups. Reports; never fails on timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ena_messaging::envelope::{Encryption, Envelope, sha256_b64};
use ena_messaging::keys::{EncryptionKey, SigningKey};
use ena_server::{AppState, ServerConfig};
use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub struct MessagingBench {
    /// Messages sent end to end.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Concurrent submitting clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds per in-process measurement (crypto bound, lookups).
    #[arg(long, default_value_t = 3)]
    seconds: u64,
}

pub fn run(args: MessagingBench) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench(args))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or(0.0)
}

/// The sample message: an orosanmälan of realistic size (~1 KiB of JSON).
fn payload(i: usize) -> Value {
    json!({"child": "201401012383", "concern": format!("Ärende {i}: {}", "Barnet har inte varit i skolan på tre veckor. ".repeat(18))})
}

/// One message's crypto on both sides, as the nodes do it.
fn crypto_once(sender: &SigningKey, recipient: &EncryptionKey, jwks: &Value, plaintext: &[u8]) -> anyhow::Result<()> {
    let id = uuid::Uuid::now_v7().to_string();
    let (enc, ct) = ena_messaging::seal::seal(&recipient.public_bytes(), &id, plaintext)?;
    let envelope = Envelope {
        id: id.clone(),
        sender: "162021005448".into(),
        sender_node: "https://skatteverket.localhost".into(),
        recipient: "162120000142:socialtjanst".into(),
        recipient_node: "https://kommun.localhost".into(),
        message_type: "se.kommun.orosanmalan".into(),
        version: "1.0".into(),
        conversation_id: id.clone(),
        case_id: None,
        created: String::new(),
        expires: String::new(),
        encryption: Encryption {
            suite: ena_messaging::seal::SUITE.into(),
            kid: recipient.kid().into(),
            enc: URL_SAFE_NO_PAD.encode(enc),
        },
        ciphertext_sha256: sha256_b64(&ct),
        ciphertext_length: ct.len() as u64,
    };
    let token = envelope.sign(sender);
    let verified = Envelope::verify(&token, jwks)?;
    let enc = URL_SAFE_NO_PAD.decode(&verified.encryption.enc)?;
    let opened = ena_messaging::seal::open(recipient, &enc, &verified.id, &ct)?;
    anyhow::ensure!(opened == plaintext && sha256_b64(&ct) == verified.ciphertext_sha256);
    Ok(())
}

async fn bench(args: MessagingBench) -> anyhow::Result<()> {
    println!(
        "ena bench messaging — {} messages, {} submitting clients, SQLite everywhere",
        args.messages, args.concurrency
    );

    // Crypto-only bound: what one message costs in signatures and encryption alone.
    let sender = SigningKey::generate();
    let recipient = EncryptionKey::generate();
    let jwks = json!({"keys": [sender.public_jwk()]});
    let plaintext = serde_json::to_vec(&payload(0))?;
    let mut n = 0u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(args.seconds) {
        crypto_once(&sender, &recipient, &jwks, &plaintext)?;
        n += 1;
    }
    let crypto_one = n as f64 / started.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let count = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cores {
            let (count, sender, recipient, jwks, plaintext) = (&count, &sender, &recipient, &jwks, &plaintext);
            s.spawn(move || {
                while started.elapsed() < Duration::from_secs(args.seconds) {
                    if crypto_once(sender, recipient, jwks, plaintext).is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let crypto_all = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "crypto only (sign + encrypt + verify + decrypt, {} B payload): {:.0}/s on one core ({:.1} µs each), {:.0}/s on {cores} cores",
        plaintext.len(),
        crypto_one,
        1e6 / crypto_one,
        crypto_all
    );

    // The federation: a central instance with its node listener, and two onboarded nodes.
    let temp = tempfile::tempdir()?;
    let central_dir = temp.path().join("central");
    std::fs::create_dir_all(&central_dir)?;
    let store = ena_store::Store::open_sqlite(&central_dir.join("ena.db")).await?;
    ena_server::prepare_store(&store).await.map_err(|e| anyhow!("{e}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = ServerConfig { federation_entity_id: format!("http://{addr}"), ..ServerConfig::default() };
    let state = AppState::open(store.clone(), config, &central_dir).await.map_err(|e| anyhow!("{e}"))?;
    tokio::spawn(ena_server::serve(listener, state.clone(), std::future::pending()));
    let node_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let central_node = node_listener.local_addr()?;
    let (cert, key) =
        state.federation.server_certificate(&["localhost".into(), "127.0.0.1".into()]).map_err(|e| anyhow!("{e}"))?;
    let tls =
        ena_server::mtls::server_config(state.federation.ca_certificate(), &cert, &key).map_err(|e| anyhow!(e))?;
    tokio::spawn(ena_server::mtls::serve(
        node_listener,
        tls,
        state.clone(),
        ena_server::app(state.clone()),
        std::future::pending(),
    ));
    let operator = std::fs::read_to_string(ena_server::auth::token_path(&central_dir))?.trim().to_owned();
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).build()?;

    let schema = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["child", "concern"],
        "properties": {"child": {"type": "string", "pattern": "^[0-9]{12}$"}, "concern": {"type": "string", "minLength": 1}}});
    let extra = r#"
[[address]]
address = "212000-0142:socialtjanst"
kind = "function"
name = "Socialtjänsten"
accepts = ["se.kommun.orosanmalan@1.0"]

[[message_type]]
id = "se.kommun.orosanmalan"
version = "1.0"
title = "Orosanmälan"
schema = "orosanmalan.json"
classification = { confidentiality = 3, integrity = 2, availability = 1 }
"#;
    let mut nodes = Vec::new();
    for (host, org, extra) in
        [("skatteverket.localhost", "202100-5448", ""), ("kommun.localhost", "212000-0142", extra)]
    {
        let dir = temp.path().join(host);
        let peer = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let options = ena_node::InitOptions {
            data_dir: dir.clone(),
            federation: format!("http://{addr}"),
            federation_node: format!("https://{central_node}"),
            entity_id: format!("https://{host}"),
            organisation: org.into(),
            name: host.into(),
            contact: "bench@example.se".into(),
            listen: "127.0.0.1:0".into(),
            peer_listen: peer.to_string(),
        };
        let application = ena_node::init(&options).await?;
        http.post(format!("http://{addr}/federation/v1/applications/{application}/approve"))
            .bearer_auth(&operator)
            .send()
            .await?
            .error_for_status()?;
        std::fs::write(dir.join("orosanmalan.json"), schema.to_string())?;
        let mut text = std::fs::read_to_string(dir.join(ena_node::NODE_FILE))?;
        text.push_str(extra);
        std::fs::write(dir.join(ena_node::NODE_FILE), text)?;
        let node = ena_node::open(&dir, None, ena_node::directory::DEFAULT_TTL).await?;
        let directory = node.state.directory.clone();
        let messaging = node.state.messaging.clone();
        let run_dir = dir.clone();
        tokio::spawn(async move { ena_node::run(node, &run_dir, std::future::pending()).await });
        let ready = dir.join(ena_node::READY_FILE);
        for _ in 0..100 {
            if ready.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let info: Value = serde_json::from_str(&std::fs::read_to_string(&ready).context("node ready")?)?;
        let token = std::fs::read_to_string(dir.join(ena_node::TOKEN_FILE))?.trim().to_owned();
        nodes.push((info["api"].as_str().unwrap_or_default().to_owned(), token, directory, messaging));
    }
    let (api, token, directory, sender_messaging) = nodes[0].clone();
    let receiver_messaging = nodes[1].3.clone();

    // Async messages end to end.
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..args.concurrency {
        let (http, api, token, next, total) = (http.clone(), api.clone(), token.clone(), next.clone(), args.messages);
        clients.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                let body = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0", "payload": payload(i)});
                http.post(format!("{api}/messages/v1/outbox")).bearer_auth(&token).json(&body).send().await?.error_for_status()?;
            }
        }));
    }
    for c in clients {
        c.await??;
    }
    let submitted = started.elapsed();
    loop {
        let counts = sender_messaging.counts().await.map_err(|e| anyhow!("{e}"))?;
        let delivered = counts.iter().find(|(s, _)| s == "delivered").map_or(0, |(_, n)| *n);
        let failed: i64 = counts.iter().filter(|(s, _)| s == "failed" || s == "expired").map(|(_, n)| *n).sum();
        anyhow::ensure!(failed == 0, "messages failed: {counts:?}");
        if delivered as usize >= args.messages {
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(900), "not all delivered after 15 minutes: {counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = started.elapsed();
    let received = receiver_messaging.inbox_count().await.map_err(|e| anyhow!("{e}"))?;
    let rows = sender_messaging.outbox(Some("delivered"), u32::MAX, 0).await.map_err(|e| anyhow!("{e}"))?;
    let parse = |s: &str| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok();
    let mut latencies: Vec<f64> = rows
        .iter()
        .filter_map(|r| Some((parse(&r.updated_at)? - parse(&r.created_at)?).as_seconds_f64() * 1e3))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let rate = args.messages as f64 / all.as_secs_f64();
    println!(
        "async messages end to end: {} submitted in {:.2} s ({:.0}/s), all delivered with verified receipts in {:.2} s: {:.0} messages/s sustained; queued → delivered p50 {:.1} ms, p99 {:.1} ms; {} in the recipient's inbox",
        args.messages,
        submitted.as_secs_f64(),
        args.messages as f64 / submitted.as_secs_f64(),
        all.as_secs_f64(),
        rate,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        received
    );
    println!("ratio to the crypto-only bound on {cores} cores: {:.1} %", 100.0 * rate / crypto_all);

    // Cached address lookups (the sender's directory, as the outbox uses it).
    let address = "162120000142:socialtjanst";
    anyhow::ensure!(directory.cached_address(address).is_some(), "the address is cached after sending");
    let mut n = 0u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(args.seconds) {
        for _ in 0..1000 {
            std::hint::black_box(directory.cached_address(address));
        }
        n += 1000;
    }
    println!("cached address lookups: {:.0}/s on one core", n as f64 / started.elapsed().as_secs_f64());
    Ok(())
}
