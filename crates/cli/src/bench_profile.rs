//! `ena bench profile`: Min profil's two figures.
//!
//! 1. **Who read my data** at scale: a log of `--events` events (default 10 M), one in a thousand about the
//!    measured person (10 000 of them), written straight into the log's tables (leaves and data subjects,
//!    no Merkle nodes: reading never touches them) — then `AuditLog::about`, what the API and the portal
//!    call, timed for the first page and for pages spread over all 10 000.
//! 2. **The consent check's cost on a synchronous call**: a central instance and two nodes onboarded the
//!    real way; the municipality calls Skatteverket's plain service and its consent-bound twin (same
//!    upstream) in turn, so both see the same noise; the difference of the medians is what the consent
//!    check adds (the producer node asking Min profil over mTLS, the decision with the consent in the
//!    context, the logged use). Also the check alone, in process.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct ProfileBench {
    /// Events in the log when "who read my data" is timed (one in a thousand about the person).
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Pages of "who read my data" timed.
    #[arg(long, default_value_t = 500)]
    pages: usize,
    /// Calls of each kind timed (plain and consent-bound, alternating).
    #[arg(long, default_value_t = 1_000)]
    calls: usize,
    /// An empty PostgreSQL database for the log part instead of a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Where the temporary SQLite database goes [default: a new temp directory].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Skip the log part (only the consent cost).
    #[arg(long)]
    calls_only: bool,
    /// Skip the consent part (only the log).
    #[arg(long)]
    log_only: bool,
}

const PERSON: &str = "191212121212";

use crate::bench_kit::percentile as pct;

pub fn run(args: ProfileBench) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench(args))
}

async fn bench(args: ProfileBench) -> anyhow::Result<()> {
    if !args.calls_only {
        who_read(&args).await?;
    }
    if !args.log_only {
        consent_cost(&args).await?;
    }
    Ok(())
}

/// The event bytes of leaf `i` as SQL (the same text on both databases): a node of one of 97 agencies
/// reading the data of a person — the measured one every thousandth leaf.
fn event_sql(i: &str, subject: &str) -> String {
    format!(
        "'{{\"action\":\"bench.read\",\"actor\":{{\"id\":\"https://node-' || ({i} % 97) || '.bench.example\",\"kind\":\"node\",\"organisation\":\"162021005448\"}},\"dataSubjects\":[\"' || {subject} || '\"],\"details\":{{\"purpose\":\"bench\",\"service\":\"inkomst\"}},\"outcome\":{{\"result\":\"allowed\"}},\"time\":\"2026-12-01T00:00:00Z\"}}'"
    )
}

async fn who_read(args: &ProfileBench) -> anyhow::Result<()> {
    let bench = crate::bench_kit::open_store(args.database_url.as_deref(), args.dir.as_deref()).await?;
    let (store, db) = (bench.store.clone(), bench.db);
    let n = args.events;
    println!("ena bench profile — who read my data: {n} events, {} about the person, {db}", n / 1000);
    let started = Instant::now();
    // Subject of leaf i: the person every thousandth leaf, else one of five million others.
    let postgres = args.database_url.is_some();
    let other =
        if postgres { "'19' || lpad((i % 5000000)::text, 10, '0')" } else { "'19' || printf('%010d', i % 5000000)" };
    let subject = format!("(CASE WHEN i % 1000 = 0 THEN '{PERSON}' ELSE {other} END)");
    let leaves = if postgres {
        format!(
            "INSERT INTO audit_leaves (idx, data, time, action, actor_id, result) SELECT i, convert_to({}, 'UTF8'), \
             '2026-12-01T00:00:00Z', 'bench.read', 'https://node-' || (i % 97) || '.bench.example', 'allowed' \
             FROM generate_series(1, {n}) AS i",
            event_sql("i", &subject)
        )
    } else {
        format!(
            "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n}) \
             INSERT INTO audit_leaves (idx, data, time, action, actor_id, result) SELECT i, CAST({} AS BLOB), \
             '2026-12-01T00:00:00Z', 'bench.read', 'https://node-' || (i % 97) || '.bench.example', 'allowed' FROM g",
            event_sql("i", &subject)
        )
    };
    let subjects = if postgres {
        format!("INSERT INTO audit_subjects (subject, idx) SELECT {subject}, i FROM generate_series(1, {n}) AS i")
    } else {
        format!(
            "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n}) \
             INSERT INTO audit_subjects (subject, idx) SELECT {subject}, i FROM g"
        )
    };
    for sql in [leaves, subjects] {
        ena_store::with_pool!(&store, pool => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(|_| ()))?;
    }
    if postgres {
        ena_store::with_pool!(&store, pool => sqlx::query("ANALYZE").execute(pool).await.map(|_| ()))?;
    }
    println!("filled in {:.0} s", started.elapsed().as_secs_f64());
    let signer = ena_audit::NoteSigner::ephemeral("bench/profile").map_err(|e| anyhow!("{e}"))?;
    let log = ena_audit::AuditLog::open(store.clone(), signer, ena_audit::RuleSet::shipped())
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let now = ena_core::time::unix_now();
    let about = n / 1000;
    if about == 0 {
        bail!("--events: at least 1000");
    }
    let page = 20u32;
    let mut first = Vec::new();
    let mut spread = Vec::new();
    for k in 0..args.pages {
        let t = Instant::now();
        let got = log.about(PERSON, now, page, 0).await.map_err(|e| anyhow!("{e}"))?;
        first.push(t.elapsed());
        if got.len() != page as usize {
            bail!("the first page held {} events", got.len());
        }
        let offset = (k as u64 * 7919) % about.saturating_sub(u64::from(page)).max(1);
        let t = Instant::now();
        let got = log.about(PERSON, now, page, offset).await.map_err(|e| anyhow!("{e}"))?;
        spread.push(t.elapsed());
        if got.is_empty() {
            bail!("page at {offset} was empty");
        }
    }
    first.sort();
    spread.sort();
    println!(
        "who read my data, {page} a page, person with {about} events among {n}: first page p50 {:.2} ms, p95 {:.2} ms; pages anywhere in them p50 {:.2} ms, p95 {:.2} ms (goal p95 ≤ 50 ms)",
        pct(&first, 0.5),
        pct(&first, 0.95),
        pct(&spread, 0.5),
        pct(&spread, 0.95)
    );
    store.close().await;
    Ok(())
}

async fn consent_cost(args: &ProfileBench) -> anyhow::Result<()> {
    println!("ena bench profile — the consent check on a synchronous call through two nodes (SQLite everywhere)");
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
    let upstream = crate::local_federation::start_income_register(stop.clone()).await?;
    let produces = |kommun: &str| {
        format!(
            "\n[[service]]\nid = \"inkomster\"\nupstream = \"http://{upstream}\"\nallow = [\"{kommun}\"]\n\
             \n[[service]]\nid = \"inkomst-samtycke\"\nupstream = \"http://{upstream}\"\nallow = [\"{kommun}\"]\nconsent = \"se.skatteverket.inkomst\"\n"
        )
    };
    let (skatt, kommun) =
        crate::local_federation::tax_agency_and_municipality(&central, produces, "", &[], stop.clone()).await?;
    let system = ena_audit::Context::system("bench");
    let item = ena_index::BatchItem {
        delete: false,
        object_type: ena_index::ObjectType::Person,
        object_id: PERSON.into(),
        category: "se.skatteverket.inkomst".into(),
        address: Some("202100-5448:inkomst".into()),
        updated_at: None,
        source: None,
    };
    central.state.index.register(&system, "162021005448", &[item]).await.map_err(|e| anyhow!("{e}"))?;
    let input = ena_profile::ConsentInput {
        recipient: "212000-0142".into(),
        holder: "202100-5448".into(),
        category: "se.skatteverket.inkomst".into(),
        purpose: "bench".into(),
        expires_at: None,
    };
    let consent = central.state.profile.give(&system, PERSON, &input).await.map_err(|e| anyhow!("{e}"))?;

    // The check alone, in process (what Min profil does per call).
    let check = ena_profile::ConsentCheckInput {
        consent_id: consent.id.clone(),
        recipient: "212000-0142".into(),
        category: "se.skatteverket.inkomst".into(),
        service: Some("inkomst-samtycke".into()),
        unit: None,
    };
    let mut alone = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let t = Instant::now();
        central.state.profile.check(&system, "162021005448", &check).await.map_err(|e| anyhow!("{e}"))?;
        alone.push(t.elapsed());
    }
    alone.sort();

    // The check as the producing node makes it: over its mTLS connection to the central node listener
    // (member authentication, the decision point's `use`, the check, the logged use).
    let mut hop = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let t = Instant::now();
        let answer = skatt
            .state
            .directory
            .check_consent(&consent.id, "162120000142", "se.skatteverket.inkomst", "inkomst-samtycke", "")
            .await
            .map_err(|e| anyhow!("{e}"))?;
        hop.push(t.elapsed());
        answer.map_err(|e| anyhow!("{e}"))?;
    }
    hop.sort();

    let http = reqwest::Client::new();
    let call = |service: &'static str, consent: Option<String>| {
        let mut r = http
            .post(format!("{}/calls/v1/202100-5448/{service}/personer", kommun.api))
            .bearer_auth(&kommun.token)
            .json(&json!({"personnummer": PERSON}));
        if let Some(id) = consent {
            r = r.header("ena-consent", id);
        }
        r.send()
    };
    // Warm both paths (connections, caches of addresses and federation metadata).
    for _ in 0..50 {
        call("inkomster", None).await?.error_for_status()?;
        call("inkomst-samtycke", Some(consent.id.clone())).await?.error_for_status()?;
    }
    let (mut plain, mut bound) = (Vec::with_capacity(args.calls), Vec::with_capacity(args.calls));
    for _ in 0..args.calls {
        let t = Instant::now();
        call("inkomster", None).await?.error_for_status()?;
        plain.push(t.elapsed());
        let t = Instant::now();
        call("inkomst-samtycke", Some(consent.id.clone())).await?.error_for_status()?;
        bound.push(t.elapsed());
    }
    plain.sort();
    bound.sort();
    println!(
        "consent check alone (Min profil, in process, the use logged): p50 {:.3} ms, p95 {:.3} ms",
        pct(&alone, 0.5),
        pct(&alone, 0.95)
    );
    println!(
        "consent check as the node asks it (mTLS to the central node listener, member check, the check): p50 {:.3} ms, p95 {:.3} ms",
        pct(&hop, 0.5),
        pct(&hop, 0.95)
    );
    println!(
        "sync call through both nodes, one client, {} each alternating: plain p50 {:.2} ms (p95 {:.2}); under a consent p50 {:.2} ms (p95 {:.2}); the check adds {:.2} ms at the median (goal ≤ 1 ms); ratio {:.2}",
        args.calls,
        pct(&plain, 0.5),
        pct(&plain, 0.95),
        pct(&bound, 0.5),
        pct(&bound, 0.95),
        pct(&bound, 0.5) - pct(&plain, 0.5),
        pct(&bound, 0.5) / pct(&plain, 0.5)
    );
    Ok(())
}
