//! `ena bench mail`: Mina meddelanden at scale. Registers generated recipients in FaR (10 M by default,
//! one in a hundred blocking the asking sender, one in a hundred persons with a representative through
//! Mina ombud) at a mailbox operator onboarded in process, then times reachability for 10 000 ids —
//! through the service, and over HTTP with a member system's token — and the inbox page of a person with
//! 10 000 letters. With `--letters N` it also starts a federation in process (the central instance with
//! its built-in mailbox, the operator's node and an agency's node) and sends N letters through the
//! agency's node to the mailbox, beside N plain messages to the same node: the mail layer's cost as a
//! ratio of the same run's messaging. Reports; never fails on timing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use ena_audit::Context;
use ena_federation::anchor::ApplicationInput;
use ena_keys::jose::SigningKey;
use ena_server::{AppState, ServerConfig};
use rand::Rng;
use serde_json::{Value, json};

use crate::bench_representation::mandate_row;

#[derive(Debug, clap::Args)]
pub struct MailBench {
    /// Recipients registered in FaR.
    #[arg(long, default_value_t = 10_000_000)]
    recipients: usize,
    /// Ids per reachability call (at most 10 000).
    #[arg(long, default_value_t = 10_000)]
    ids: usize,
    /// Reachability calls timed (each way).
    #[arg(long, default_value_t = 30)]
    calls: usize,
    /// Letters in the timed person's mailbox (and ten times as many for others).
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Inbox pages timed.
    #[arg(long, default_value_t = 200)]
    pages: usize,
    /// Letters sent through an agency's node to the built-in mailbox (0: skip the federation part).
    #[arg(long, default_value_t = 0)]
    letters: usize,
    /// Concurrent senders for the letters.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// An empty PostgreSQL database or schema to use instead of a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Where the temporary SQLite database goes [default: a new temp directory].
    #[arg(long)]
    dir: Option<PathBuf>,
}

use crate::bench_kit::percentile;

const DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// The `i`th generated personnummer (distinct for i below 32 million): born 1930–2019, serial `i % 1000`,
/// Luhn check digit computed.
pub(crate) fn person_number(i: usize) -> String {
    let serial = i % 1000;
    let mut day = (i / 1000) % 365;
    let year = 1930 + (i / 365_000) % 90;
    let mut month = 0;
    while day >= DAYS[month] as usize {
        day -= DAYS[month] as usize;
        month += 1;
    }
    let ten = format!("{:02}{:02}{:02}{serial:03}", year % 100, month + 1, day + 1);
    let sum: u32 = ten
        .bytes()
        .enumerate()
        .map(|(k, b)| {
            let d = u32::from(b - b'0') * if k % 2 == 0 { 2 } else { 1 };
            d / 10 + d % 10
        })
        .sum();
    format!("{}{ten}{}", year / 100, (10 - sum % 10) % 10)
}

pub fn run(args: MailBench) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench(args))
}

async fn bench(args: MailBench) -> anyhow::Result<()> {
    if args.ids == 0 || args.ids > ena_mail::MAX_REACHABILITY {
        bail!("--ids: 1 to {} ids per call", ena_mail::MAX_REACHABILITY);
    }
    if args.recipients < args.ids {
        bail!("--recipients: at least as many as --ids ({})", args.ids);
    }
    let bench = crate::bench_kit::open_store(args.database_url.as_deref(), args.dir.as_deref()).await?;
    let (store, dir, db) = (bench.store.clone(), bench.dir.clone(), bench.db);
    let (existing,): (i64,) = ena_store::with_pool!(&store, pool => sqlx::query_as("SELECT COUNT(*) FROM mail_recipients").fetch_one(pool).await)?;
    if existing != 0 {
        bail!("this database has FaR registrations already; give an empty database or schema");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = ServerConfig { federation_entity_id: format!("http://{addr}"), ..ServerConfig::default() };
    let state = AppState::open(store.clone(), config, &dir).await.map_err(|e| anyhow!("{e}"))?;
    let (_stop_tx, mut stop) = tokio::sync::watch::channel(false);
    tokio::spawn(ena_server::serve(listener, state.clone(), async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    let (operator, sender, client_key) = onboard_operator(&state).await?;

    // FaR: the recipients, blocks by the sender, representatives.
    let now = ena_core::time::unix_now();
    let started = Instant::now();
    let bar = indicatif::ProgressBar::new(args.recipients as u64);
    let mut rng = rand::rng();
    let (mut blocks, mut mandates) = (Vec::new(), Vec::new());
    for start in (0..args.recipients).step_by(20_000) {
        let ids: Vec<String> = (start..(start + 20_000).min(args.recipients)).map(person_number).collect();
        for id in &ids {
            match rng.random_range(0..100) {
                0 => blocks.push(id.clone()),
                1 => mandates.push(mandate_row(
                    id,
                    &person_number(31_000_000 + mandates.len() % 1000),
                    &json!(["post-och-arenden"]),
                    now,
                )),
                _ => {}
            }
        }
        ena_mail::repo::fill(&store, &ids, &operator, now).await?;
        bar.inc(ids.len() as u64);
    }
    bar.finish_and_clear();
    ena_mail::repo::fill_blocks(&store, &sender, &blocks, now).await?;
    for chunk in mandates.chunks(10_000) {
        ena_representation::repo::insert_many(&store, chunk).await?;
    }
    // As a database that has lived with its rows would have: statistics for the planner and, on
    // PostgreSQL, the visibility map index-only scans need (what autovacuum does after inserts since
    // PostgreSQL 13); SQLite's statistics are gathered by ANALYZE alone.
    let settle = if args.database_url.is_some() { "VACUUM ANALYZE" } else { "ANALYZE" };
    ena_store::with_pool!(&store, pool => sqlx::query(settle).execute(pool).await.map(|_| ()))?;
    println!(
        "{db}: {} recipients registered in {:.0} s; {} block the sender; {} with a representative",
        args.recipients,
        started.elapsed().as_secs_f64(),
        blocks.len(),
        mandates.len()
    );

    // Reachability: ids drawn from the registry, one in twenty not registered.
    let ctx = Context::system("bench");
    let draw = |rng: &mut rand::rngs::ThreadRng| -> Vec<String> {
        (0..args.ids)
            .map(|_| {
                if rng.random_range(0..20) == 0 {
                    person_number(args.recipients + rng.random_range(0..1_000_000))
                } else {
                    person_number(rng.random_range(0..args.recipients))
                }
            })
            .collect()
    };
    let mut service = Vec::with_capacity(args.calls);
    let mut reachable = 0;
    for _ in 0..args.calls {
        let ids = draw(&mut rng);
        let t = Instant::now();
        let answer = state.mail.reachability(&ctx, &sender, &ids).await.map_err(|e| anyhow!("{e}"))?;
        service.push(t.elapsed());
        reachable = answer.iter().filter(|r| r.reachable).count();
    }
    service.sort();
    // Where a call's time goes: each step of it alone, on fresh draws (medians of 10).
    let mut steps: [Vec<Duration>; 5] = Default::default();
    for _ in 0..10 {
        let ids = draw(&mut rng);
        let t = Instant::now();
        let parsed: Vec<ena_mail::Recipient> =
            ids.iter().filter_map(|id| ena_mail::Recipient::canonical("ids", id).ok()).collect();
        steps[0].push(t.elapsed());
        let mut unique: Vec<&str> = parsed.iter().map(ena_mail::Recipient::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        let t = Instant::now();
        let registered = ena_mail::repo::among(&store, &unique).await?;
        steps[1].push(t.elapsed());
        let t = Instant::now();
        ena_mail::repo::blocking(&store, &sender, &unique).await?;
        steps[2].push(t.elapsed());
        let persons: Vec<String> = registered.keys().cloned().collect();
        let t = Instant::now();
        state.representation.represented_among(&persons, ena_mail::PERSON_RIGHTS).await.map_err(|e| anyhow!("{e}"))?;
        steps[3].push(t.elapsed());
        let t = Instant::now();
        state.mail.operators().await.map_err(|e| anyhow!("{e}"))?;
        steps[4].push(t.elapsed());
    }
    for s in &mut steps {
        s.sort();
    }
    let breakdown = format!(
        "  of which, each alone (p50): parsing {:.1} ms, registered {:.1} ms, blocks {:.1} ms, representatives {:.1} ms, the operator's standing {:.1} ms",
        percentile(&steps[0], 0.5),
        percentile(&steps[1], 0.5),
        percentile(&steps[2], 0.5),
        percentile(&steps[3], 0.5),
        percentile(&steps[4], 0.5)
    );
    let token = token(&state, &client_key).await?;
    let http = reqwest::Client::new();
    let mut over_http = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let body = json!({"ids": draw(&mut rng)});
        let t = Instant::now();
        let r = http.post(format!("http://{addr}/mail/v1/reachability")).bearer_auth(&token).json(&body).send().await?;
        anyhow::ensure!(r.status().is_success(), "reachability over HTTP: {}", r.text().await?);
        let _: Value = r.json().await?;
        over_http.push(t.elapsed());
    }
    over_http.sort();
    println!(
        "reachability for {} ids at {} registered ({reachable} reachable in the last answer): through the service p50 {:.1} ms, p95 {:.1} ms; over HTTP (token, JSON both ways) p50 {:.1} ms, p95 {:.1} ms",
        args.ids,
        args.recipients,
        percentile(&service, 0.5),
        percentile(&service, 0.95),
        percentile(&over_http, 0.5),
        percentile(&over_http, 0.95)
    );
    println!("{breakdown}");

    // The inbox of a person with --messages letters, among ten times as many for others.
    let person = person_number(0);
    let template = letter_row(&person, 0, now);
    let mut have = 0;
    let total = args.messages * 11;
    while have < total {
        let n = (total - have).min(5_000);
        let rows: Vec<_> = (have..have + n)
            .map(|i| {
                let to = if i % 11 == 0 { person.clone() } else { person_number(1 + i % 100_000) };
                let mut r = template.clone();
                r.id = uuid::Uuid::now_v7().to_string();
                r.recipient = to;
                r.delivery_ref = r.id.clone();
                r.received_at = now - (total - i) as i64;
                r
            })
            .collect();
        ena_mail::repo::insert_messages(&store, &rows).await?;
        have += n;
    }
    let viewer = ena_core::PersonId::parse(&person)?;
    let mut pages = Vec::with_capacity(args.pages);
    for i in 0..args.pages {
        let t = Instant::now();
        let scopes = ena_server::blocks::mail::scopes(&state, &viewer).await.map_err(|e| anyhow!("{}", e.0.detail))?;
        let page = state
            .mail
            .list(&person, &scopes, ena_mail::Folder::Inbox, i % 2 == 1, 21, (i % 5 * 20) as u64)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        pages.push(t.elapsed());
        anyhow::ensure!(page.len() == 21 || args.messages < 121, "a full page");
    }
    pages.sort();
    println!(
        "inbox page (21 letters, scopes from Mina ombud, the first five pages, all and unread) for a person with {} letters among {total}: p50 {:.2} ms, p95 {:.2} ms",
        args.messages,
        percentile(&pages, 0.5),
        percentile(&pages, 0.95)
    );
    if args.letters > 0 {
        letters(&args).await?;
    }
    Ok(())
}

/// A stored letter as the bulk fill copies it.
fn letter_row(recipient: &str, i: usize, now: i64) -> ena_mail::repo::MessageRow {
    let input = json!({"recipient": recipient, "subject": format!("Beslut {i}"), "body": "Hej! Här är ditt beslut.",
        "receipt": "simple"});
    ena_mail::repo::MessageRow {
        id: uuid::Uuid::now_v7().to_string(),
        recipient: recipient.to_owned(),
        sender: "162021005448".into(),
        sender_name: "Skatteverket".into(),
        subject: format!("Beslut {i}"),
        case_id: None,
        recipient_only: 0,
        reply_allowed: 0,
        receipt: "simple".into(),
        content: json!({"input": input, "evidence": {}}).to_string(),
        delivery_ref: String::new(),
        in_reply_to: None,
        received_at: now,
        expires_at: None,
        first_opened_at: None,
    }
}

/// A member in process approved as a mailbox operator (and as a member system, for a token), holding the
/// trust mark: (operator id, its organisation as the reachability sender, its client key).
async fn onboard_operator(state: &AppState) -> anyhow::Result<(String, String, SigningKey)> {
    let ta = state.federation.clone();
    let (fed_key, client_key) = (SigningKey::generate()?, SigningKey::generate()?);
    let id = "https://brevlada.bench.example".to_owned();
    let jwks = json!({"keys": [fed_key.public_jwk()]});
    let now = ena_core::time::unix_now();
    let metadata = json!({
        "oauth_client": {"jwks": {"keys": [client_key.public_jwk()]}},
        "ena_mailbox_operator": {"name": "Bench-brevlådan", "service_address": "162120000142:brevlada"}
    });
    let ec = fed_key.sign(
        ena_federation::chain::ENTITY_STATEMENT_TYP,
        &json!({"iss": id, "sub": id, "iat": now, "exp": now + 86_400, "jwks": jwks, "authority_hints": [ta.entity_id()],
                "metadata": metadata}),
    );
    let input = ApplicationInput {
        organisation_number: "212000-0142".into(),
        name: "Bench mailbox".into(),
        contact: "bench@example.se".into(),
        entity_id: id.clone(),
        jwks,
        entity_types: vec!["ena_node".into(), "oauth_client".into(), "ena_mailbox_operator".into()],
        metadata: Some(metadata),
        trust_marks: vec![format!("{}/trust-marks/{}", ta.entity_id(), ena_mail::OPERATOR_TRUST_MARK)],
        key_request: None,
        entity_configuration: Some(ec),
        accept_agreement: Some(ta.agreement().await?.version),
    };
    let ctx = Context::system("bench");
    let app = ta.apply(&ctx, &input).await.map_err(|e| anyhow!("{e}"))?;
    ta.approve(&ctx, &app.id).await.map_err(|e| anyhow!("{e}"))?;
    state
        .mail
        .operators()
        .await
        .map_err(|e| anyhow!("{e}"))?
        .iter()
        .find(|o| o.id == id)
        .context("the operator in good standing")?;
    Ok((id, "162120000142".into(), client_key))
}

/// An access token for the member (private_key_jwt).
async fn token(state: &AppState, key: &SigningKey) -> anyhow::Result<String> {
    let id = "https://brevlada.bench.example";
    let endpoint = state.tokens.token_endpoint().to_owned();
    let now = ena_core::time::unix_now();
    let assertion = key.sign(
        "JWT",
        &json!({"iss": id, "sub": id, "aud": endpoint, "iat": now, "exp": now + 60, "jti": uuid::Uuid::now_v7().to_string()}),
    );
    let form: std::collections::HashMap<String, String> = [
        ("grant_type", "client_credentials"),
        ("audience", state.federation.entity_id()),
        ("client_assertion_type", ena_identity::token::CLIENT_ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let body = state.tokens.token(None, &form).await.map_err(|e| anyhow!("{e}"))?;
    Ok(body["access_token"].as_str().unwrap_or_default().to_owned())
}

/// Letters through an agency's node to the built-in mailbox, beside plain messages to the operator's
/// node, in one federation in process.
async fn letters(args: &MailBench) -> anyhow::Result<()> {
    use crate::local_federation::{node_dir, peer_port, start_central, start_mailbox_node, start_node};
    let temp = tempfile::tempdir()?;
    let (_stop, stop) = tokio::sync::watch::channel(false);
    let central_dir = temp.path().join("central");
    let central = start_central(
        &central_dir,
        "127.0.0.1:0",
        "127.0.0.1:0",
        Some(node_dir(&central_dir, "brevlada.localhost")),
        stop.clone(),
    )
    .await?;
    let mailbox = start_mailbox_node(
        &central,
        "brevlada.localhost",
        peer_port()?,
        "202100-6255",
        "DIGG",
        "Min myndighetspost",
        stop.clone(),
    )
    .await?;
    let skatt = start_node(
        &central,
        "skatteverket.localhost",
        peer_port()?,
        "202100-5448",
        "Skatteverket",
        "",
        &[],
        stop.clone(),
    )
    .await?;
    // The recipients: registered at the mailbox (rows, as the FaR fill above).
    let recipients: Vec<String> = (0..1000).map(person_number).collect();
    ena_mail::repo::fill(&central.state.store, &recipients, &mailbox.entity_id, ena_core::time::unix_now()).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).build()?;
    // The same payload size both ways: a letter, and a plain message of the mail type's shape (unsealed
    // letters would be refused by the mailbox, so the plain messages go to a type it does not read).
    let run = |path: &'static str, body: Arc<dyn Fn(usize) -> Value + Send + Sync>| {
        let (http, api, token) = (http.clone(), skatt.api.clone(), skatt.token.clone());
        let n = args.letters;
        let concurrency = args.concurrency;
        async move {
            let next = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            let started = Instant::now();
            for _ in 0..concurrency {
                let (http, api, token, next, body) =
                    (http.clone(), api.clone(), token.clone(), next.clone(), body.clone());
                tasks.push(tokio::spawn(async move {
                    let mut ids = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok::<Vec<String>, anyhow::Error>(ids);
                        }
                        let v: Value = http
                            .post(format!("{api}{path}"))
                            .bearer_auth(&token)
                            .json(&body(i))
                            .send()
                            .await?
                            .error_for_status()?
                            .json()
                            .await?;
                        ids.push(v["id"].as_str().unwrap_or_default().to_owned());
                    }
                }));
            }
            let mut ids = Vec::new();
            for t in tasks {
                ids.extend(t.await??);
            }
            Ok::<(Vec<String>, Instant), anyhow::Error>((ids, started))
        }
    };
    let messaging = skatt.state.messaging.clone();
    let delivered = |want: usize| {
        let messaging = messaging.clone();
        async move {
            for _ in 0..30_000 {
                let counts = messaging.counts().await.map_err(|e| anyhow!("{e}"))?;
                let n = counts.iter().find(|(s, _)| s == "delivered").map_or(0, |(_, n)| *n) as usize;
                if n >= want {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            bail!("not all delivered")
        }
    };
    // Plain messages first, of the letter's type and size but without a sender signature or seal: the
    // same messaging path (address, schema, HPKE, signed envelope, receipt with inclusion proof); the
    // mailbox refuses each afterwards (logged), which loads the letters' phase, not this one.
    let recipients = Arc::new(recipients);
    let r1 = recipients.clone();
    let (_, plain_started) = run(
        "/messages/v1/outbox",
        Arc::new(move |i| json!({"recipient": "202100-6255:brevlada", "messageType": ena_mail::wire::MAIL_TYPE, "version": ena_mail::wire::VERSION,
            "payload": {"mail": {"recipient": r1[i % r1.len()], "subject": format!("Beslut {i}"), "body": "Hej! Här är ditt beslut.", "receipt": "simple"},
                        "signature": "x".repeat(260), "seal": "x".repeat(330)}})),
    )
    .await?;
    delivered(args.letters).await?;
    let plain = plain_started.elapsed();
    let r2 = recipients.clone();
    let (_, letters_started) = run(
        "/mail/v1/outbox",
        Arc::new(move |i| json!({"mail": {"recipient": r2[i % r2.len()], "subject": format!("Beslut {i}"), "body": "Hej! Här är ditt beslut.", "receipt": "simple"}})),
    )
    .await?;
    delivered(args.letters * 2).await?;
    let letters_delivered = letters_started.elapsed();
    let store = central.state.store.clone();
    for _ in 0..3000 {
        let (n,): (i64,) = ena_store::with_pool!(&store, pool => sqlx::query_as("SELECT COUNT(*) FROM mail_messages").fetch_one(pool).await)?;
        if n as usize >= args.letters {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let letters_stored = letters_started.elapsed();
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "letters: {} through the agency's node to the built-in mailbox ({} senders): {:.0}/s delivered with the operator node's signed receipts, {:.0}/s stored in the mailbox; plain messages to the same node {:.0}/s delivered — letters at {:.0} % of messaging",
        args.letters,
        args.concurrency,
        rate(args.letters, letters_delivered),
        rate(args.letters, letters_stored),
        rate(args.letters, plain),
        100.0 * rate(args.letters, letters_delivered) / rate(args.letters, plain)
    );
    drop(mailbox);
    Ok(())
}
