//! `ena bench messaging`: a central instance and two member nodes (`ena node`'s own code, in this
//! process, each with its own database and log) on loopback. Measures, in one run: the crypto-only bound
//! per message (sign + encrypt + decrypt + verify), async messages sustained end to end (submitted over
//! the sender's local API, delivered over mTLS, receipts verified and stored, every step durable and
//! logged), and cached address lookups. Reports; never fails on timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ena_messaging::envelope::{Encryption, Envelope, sha256_b64};
use ena_messaging::keys::{EncryptionKey, SigningKey};
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
    /// Messages per second offered in the steady-load phase (latency at a sustainable rate).
    #[arg(long, default_value_t = 400)]
    rate: u64,
    /// Instead of the message phases: send one attachment of this many MiB end to end (upload, encrypt,
    /// deliver over mTLS, verify, download decrypted) and report the process's peak RSS.
    #[arg(long, default_value_t = 0)]
    attachment_mib: u64,
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
    let sealed = ena_messaging::seal::seal(&recipient.public_bytes(), &id, plaintext)?;
    let (enc, ct) = (sealed.enc, sealed.ciphertext);
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
        attachments: Vec::new(),
    };
    let token = envelope.sign(sender);
    let verified = Envelope::verify(&token, jwks)?;
    let enc = URL_SAFE_NO_PAD.decode(&verified.encryption.enc)?;
    let (opened, _) = ena_messaging::seal::open(recipient, &enc, &verified.id, &ct)?;
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

    // The federation: a central instance with its node listener, and two nodes onboarded the real way.
    let temp = tempfile::tempdir()?;
    let (_stop, stop) = tokio::sync::watch::channel(false);
    let central = crate::local_federation::start_central(
        &temp.path().join("central"),
        "127.0.0.1:0",
        "127.0.0.1:0",
        None,
        stop.clone(),
    )
    .await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).build()?;
    let schema = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["child", "concern"],
        "properties": {"child": {"type": "string", "pattern": "^[0-9]{12}$"}, "concern": {"type": "string", "minLength": 1}}});
    let extra = ena_node::samples::MUNICIPALITY_TOML;
    // Skatteverket's own service, which its node produces for synchronous calls.
    let upstream_addr = crate::local_federation::start_income_register(stop.clone()).await?;
    let produces = |kommun: &str| {
        format!("\n[[service]]\nid = \"inkomster\"\nupstream = \"http://{upstream_addr}\"\nallow = [\"{kommun}\"]\n")
    };
    let files = [("orosanmalan.json", schema.to_string())];
    let (skatt, kommun) =
        crate::local_federation::tax_agency_and_municipality(&central, produces, extra, &files, stop.clone()).await?;
    let (api, token, directory, sender_messaging) =
        (skatt.api.clone(), skatt.token.clone(), skatt.state.directory.clone(), skatt.state.messaging.clone());
    let (consumer_api, consumer_token) = (kommun.api.clone(), kommun.token.clone());
    let receiver_messaging = kommun.state.messaging.clone();

    if args.attachment_mib > 0 {
        let kommun_api = kommun.api.clone();
        return attachment(&http, (&api, &token), (&kommun_api, &kommun.token), args.attachment_mib).await;
    }

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

    // Steady load: messages offered at a fixed rate for a while (open loop), then how long each took
    // from queued to delivered with a verified receipt.
    let offered = (args.rate * args.seconds.max(5)) as usize;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate.max(1) as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut submits = Vec::with_capacity(offered);
    let steady_started = Instant::now();
    for i in 0..offered {
        tick.tick().await;
        let (http, api, token) = (http.clone(), api.clone(), token.clone());
        submits.push(tokio::spawn(async move {
            let body = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0", "payload": payload(i)});
            let v: Value = http.post(format!("{api}/messages/v1/outbox")).bearer_auth(&token).json(&body).send().await?.error_for_status()?.json().await?;
            Ok::<String, anyhow::Error>(v["id"].as_str().unwrap_or_default().to_owned())
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in submits {
        ids.insert(t.await??);
    }
    let offered_for = steady_started.elapsed();
    loop {
        let counts = sender_messaging.counts().await.map_err(|e| anyhow!("{e}"))?;
        let delivered = counts.iter().find(|(s, _)| s == "delivered").map_or(0, |(_, n)| *n) as usize;
        if delivered >= args.messages + offered {
            break;
        }
        anyhow::ensure!(steady_started.elapsed() < Duration::from_secs(900), "steady phase not delivered: {counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rows = sender_messaging.outbox(Some("delivered"), u32::MAX, 0).await.map_err(|e| anyhow!("{e}"))?;
    let mut steady: Vec<f64> = rows
        .iter()
        .filter(|r| ids.contains(&r.id))
        .filter_map(|r| Some((parse(&r.updated_at)? - parse(&r.created_at)?).as_seconds_f64() * 1e3))
        .collect();
    steady.sort_by(f64::total_cmp);
    println!(
        "steady load: {offered} messages offered at {}/s (achieved {:.0}/s) — queued → delivered with verified receipt p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        args.rate,
        offered as f64 / offered_for.as_secs_f64(),
        percentile(&steady, 0.5),
        percentile(&steady, 0.99),
        steady.last().copied().unwrap_or(0.0)
    );

    // Synchronous calls: directly to the service, then the same calls through both nodes — to a service
    // that answers at once, and to one that takes 10 ms.
    for (route, what) in [("personer", "a service answering at once"), ("slow", "a service taking 10 ms")] {
        let direct = format!("http://{upstream_addr}/{route}");
        let through = format!("{consumer_api}/calls/v1/202100-5448/inkomster/{route}");
        let (direct_rate, direct_lat) = closed_loop(&http, &direct, None, args.concurrency, args.seconds).await?;
        let (node_rate, node_lat) =
            closed_loop(&http, &through, Some(&consumer_token), args.concurrency, args.seconds).await?;
        println!(
            "sync calls to {what}, {} clients: direct {:.0}/s (p50 {:.2} ms, p99 {:.2} ms); through both nodes (mTLS, request hash, decision, signed proof, both logs) {:.0}/s (p50 {:.2} ms, p99 {:.2} ms): {:.0} % of direct",
            args.concurrency,
            direct_rate,
            percentile(&direct_lat, 0.5),
            percentile(&direct_lat, 0.99),
            node_rate,
            percentile(&node_lat, 0.5),
            percentile(&node_lat, 0.99),
            100.0 * node_rate / direct_rate
        );
    }

    // Cached address lookups (the sender's directory, as the outbox uses it).
    let address = "162120000142:socialtjanst";
    // Fetched again first: on a slow run the entry from the send phases may have outlived its TTL.
    ena_messaging::Directory::address(directory.as_ref(), address).await.map_err(|e| anyhow!("{e}"))?;
    anyhow::ensure!(directory.cached_address(address).is_some(), "the address is cached after a lookup");
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

/// A `/proc/self/status` figure in MiB (Linux).
fn proc_status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?.trim_start_matches(':').trim().strip_suffix("kB")?.trim().parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One `mib`-MiB attachment from the sender's system to the recipient's: uploaded, sent, delivered with
/// a receipt, downloaded decrypted and compared by SHA-256 — with the whole process's peak RSS (both
/// nodes, the central services and the clients) measured from a reset just before.
async fn attachment(
    http: &reqwest::Client,
    (api, token): (&str, &str),
    (kommun_api, kommun_token): (&str, &str),
    mib: u64,
) -> anyhow::Result<()> {
    use sha2::Digest;
    let size = mib << 20;
    // Linux: writing 5 resets the peak RSS (VmHWM) to the current RSS.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = proc_status_mib("VmRSS");
    let digest = Arc::new(std::sync::Mutex::new(None));
    let body = {
        let digest = digest.clone();
        ena_node::transport::blocking_body(Some(size), move |send| {
            let mut hash = sha2::Sha256::new();
            let mut state = 0x9e37_79b9_7f4a_7c15_u64;
            let mut left = size;
            while left > 0 {
                let n = left.min(256 * 1024) as usize;
                let mut chunk = Vec::with_capacity(n);
                while chunk.len() < n {
                    // xorshift: incompressible enough, and cheap.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    chunk.extend_from_slice(&state.to_le_bytes()[..(n - chunk.len()).min(8)]);
                }
                hash.update(&chunk);
                left -= n as u64;
                if !send(bytes::Bytes::from(chunk)) {
                    return Err("the upload stopped".into());
                }
            }
            *digest.lock().unwrap() = Some(hash.finalize().to_vec());
            Ok(())
        })
    };
    let started = Instant::now();
    let upload: Value = http
        .post(format!("{api}/messages/v1/attachments"))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .header("content-length", size)
        .body(reqwest::Body::wrap(body))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let uploaded = started.elapsed();
    let started = Instant::now();
    let body = json!({"recipient": "212000-0142:socialtjanst", "messageType": "se.kommun.orosanmalan", "version": "1.0",
        "payload": payload(0), "attachments": [{"id": upload["id"], "name": "stor-fil.bin"}]});
    let sent: Value = http
        .post(format!("{api}/messages/v1/outbox"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let encrypted = started.elapsed();
    let id = sent["id"].as_str().unwrap_or_default().to_owned();
    loop {
        let m: Value =
            http.get(format!("{api}/messages/v1/outbox/{id}")).bearer_auth(token).send().await?.json().await?;
        match m["status"].as_str() {
            Some("delivered") => break,
            Some("queued" | "sent") => {}
            other => anyhow::bail!("the attachment's message is {other:?}: {}", m["lastError"]),
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(1800), "not delivered after 30 minutes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = started.elapsed();
    let started = Instant::now();
    let mut response = http
        .get(format!("{kommun_api}/messages/v1/inbox/{id}/attachments/0"))
        .bearer_auth(kommun_token)
        .send()
        .await?
        .error_for_status()?;
    let mut hash = sha2::Sha256::new();
    let mut read = 0u64;
    while let Some(chunk) = response.chunk().await? {
        read += chunk.len() as u64;
        hash.update(&chunk);
    }
    let downloaded = started.elapsed();
    let expected = digest.lock().unwrap().take();
    anyhow::ensure!(read == size, "{read} bytes came back, {size} were sent");
    anyhow::ensure!(expected.as_deref() == Some(&hash.finalize()[..]), "the attachment came back different");
    let peak = proc_status_mib("VmHWM");
    let rate = |d: Duration| mib as f64 / d.as_secs_f64();
    println!(
        "attachment of {mib} MiB: uploaded {:.1} s ({:.0} MiB/s); encrypted into the outbox {:.1} s ({:.0} MiB/s); sent + delivered (streamed over mTLS, every chunk opened by the recipient, receipt verified) {:.1} s after that; downloaded decrypted {:.1} s ({:.0} MiB/s); SHA-256 equal",
        uploaded.as_secs_f64(),
        rate(uploaded),
        encrypted.as_secs_f64(),
        rate(encrypted),
        (delivered - encrypted).as_secs_f64(),
        downloaded.as_secs_f64(),
        rate(downloaded),
    );
    println!(
        "peak RSS of the whole process (central, both nodes, clients){}: {:.0} MiB, {:.0} MiB before the transfer — {:.0} MiB more while {mib} MiB streamed through",
        if reset { ", reset just before" } else { " (could not reset: since the start)" },
        peak,
        before,
        peak - before
    );
    Ok(())
}

/// `clients` keep-alive clients GET `url` for `seconds`: (requests/s, sorted latencies in ms).
async fn closed_loop(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, token) = (http.clone(), url.to_owned(), token.map(str::to_owned));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while started.elapsed() < Duration::from_secs(seconds) {
                let t = Instant::now();
                // The person is named in the body: identity numbers never go in URLs.
                let mut r = http.post(&url).json(&serde_json::json!({"personnummer": "201401012383"}));
                if let Some(token) = &token {
                    r = r.bearer_auth(token);
                }
                r.send().await?.error_for_status()?.bytes().await?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Ok((rate, all))
}
