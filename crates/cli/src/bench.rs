//! `ena bench audit`: the transparency log's figures — appends/s and latency with concurrent writers
//! through the service API, proof times at large tree sizes, verification time and storage per million
//! entries. A benchmark reports; it never fails on timing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ena_audit::event::{Actor, ActorKind, ObjectRef, Outcome, Result as Res};
use ena_audit::{AuditEvent, AuditLog, NoteSigner, RuleSet};
use ena_store::Store;

#[derive(Debug, clap::Args)]
pub struct AuditBench {
    /// Concurrent writers for the append test.
    #[arg(long, default_value_t = 64)]
    writers: usize,
    /// Events appended in the concurrent append test.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Tree sizes at which to time proofs and verification (filled with batched appends), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000000")]
    sizes: Vec<u64>,
    /// Proofs timed at each size.
    #[arg(long, default_value_t = 2000)]
    proofs: usize,
    /// An empty PostgreSQL database or schema to use instead of a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Where the temporary SQLite database goes [default: a new temp directory].
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        time: "2026-11-29T08:00:00Z".into(),
        actor: Actor {
            kind: ActorKind::Employee,
            id: "199001012384".into(),
            organisation: Some("162021006255".into()),
        },
        on_behalf_of: None,
        action: "case.read".into(),
        object: Some(ObjectRef { kind: "case".into(), id: format!("case-{i}") }),
        data_subjects: vec!["191212121212".into()],
        outcome: Outcome { result: Res::Allowed, reason: None },
        correlation_id: Some(format!("{i:032x}")),
        restricted: false,
        reveal_at: None,
        details: None,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path).map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

pub fn audit(args: AuditBench) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(args))
}

async fn run(args: AuditBench) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let store = match &args.database_url {
        Some(url) => Store::connect_postgres(url, None).await?,
        None => Store::open_sqlite(&dir.join("bench.db")).await?,
    };
    store.migrate().await?;
    if ena_audit::repo::size(&store).await? != 0 {
        bail!("the log in this database is not empty; give an empty database or schema");
    }
    let log =
        AuditLog::open(store.clone(), NoteSigner::ephemeral("bench.example/audit")?, RuleSet { rules: vec![] }).await?;
    let db = if args.database_url.is_some() { "postgres" } else { "sqlite" };

    // 1. Concurrent single-event appends through the service API.
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.writers {
        let (log, next, total) = (log.clone(), next.clone(), args.events);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                log.append(vec![event(i)]).await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, ena_audit::LogError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.context("writer task")??);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    println!(
        "{db}: {} appends by {} concurrent writers: {:.0} appends/s, latency p50 {:.2} ms, p99 {:.2} ms",
        args.events,
        args.writers,
        args.events as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );

    // 2. Fill to each size with batched appends, then time proofs and verification there.
    for &target in &args.sizes {
        let have = log.size().await?;
        if target > have {
            let started = Instant::now();
            let bar = indicatif::ProgressBar::new(target - have);
            let mut i = have;
            while i < target {
                let n = (target - i).min(4096);
                log.append((i..i + n).map(event).collect()).await?;
                i += n;
                bar.inc(n);
            }
            bar.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{db}: filled to {target} entries in {secs:.1} s ({:.0} appends/s in batches of 4096)",
                (target - have) as f64 / secs
            );
        }
        let size = log.size().await?;
        let mut inclusion = Vec::with_capacity(args.proofs);
        let mut consistency = Vec::with_capacity(args.proofs);
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..args.proofs {
            let index = rand() % size;
            let t = Instant::now();
            log.inclusion_proof(index, size).await?;
            inclusion.push(t.elapsed());
            let from = 1 + rand() % size;
            let t = Instant::now();
            log.consistency_proof(from, size).await?;
            consistency.push(t.elapsed());
        }
        inclusion.sort_unstable();
        consistency.sort_unstable();
        println!(
            "{db}: at {size} entries: inclusion proof p50 {:.3} ms p99 {:.3} ms; consistency proof p50 {:.3} ms p99 {:.3} ms ({} each)",
            percentile(&inclusion, 0.5),
            percentile(&inclusion, 0.99),
            percentile(&consistency, 0.5),
            percentile(&consistency, 0.99),
            args.proofs
        );
        let verifier = ena_audit::NoteVerifier::parse(&log.verifier_key())?;
        let started = Instant::now();
        let report = ena_audit::verify::verify_log(&store, &verifier, |_, _| {}).await?;
        let secs = started.elapsed().as_secs_f64();
        if let Err(finding) = report {
            bail!("verification failed: {finding}");
        }
        println!("{db}: verify of {size} entries: {secs:.1} s ({:.1} s per million)", secs / size as f64 * 1e6);
        if args.database_url.is_none() {
            // Checkpoint the WAL into the main file first, so the size is the database's own.
            ena_store::with_pool!(&store, pool => sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await.map(|_| ()))?;
            let bytes = dir_size(&dir);
            println!(
                "{db}: database size {:.1} MB for {size} entries ({:.0} MB per million)",
                bytes as f64 / 1e6,
                bytes as f64 / size as f64
            );
        } else {
            let (bytes,): (i64,) = ena_store::with_pool!(&store, pool => sqlx::query_as(
                "SELECT CAST(SUM(pg_total_relation_size(c.oid)) AS BIGINT) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind = 'r' AND c.relname LIKE 'audit_%' AND n.nspname = current_schema()"
            ).fetch_one(pool).await)?;
            println!(
                "{db}: database size {:.1} MB for {size} entries ({:.0} MB per million)",
                bytes as f64 / 1e6,
                bytes as f64 / size as f64
            );
        }
    }
    store.close().await;
    Ok(())
}
