//! `ena bench index`: Indexering at scale. Times batches of 1 000 engagements registered through the
//! service (checked item by item, objects hashed, one transaction and one audit event a batch), fills the
//! index to `--engagements` rows (three holders' engagements per person), then times finds by a member
//! system the decision point lets learn of the categories — the object hashed, its rows read, each
//! category decided, the audit event written — and reports the table's size per million engagements.
//! Reports; never fails on timing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use ena_audit::Context;
use ena_index::{BatchItem, FindInput, Finder, Object, ObjectType};
use ena_server::{AppState, ServerConfig};
use rand::Rng;

use crate::bench_mail::person_number;

#[derive(Debug, clap::Args)]
pub struct IndexBench {
    /// Engagements in the index when finds are timed (three per person).
    #[arg(long, default_value_t = 10_000_000)]
    engagements: usize,
    /// Batches of 1 000 engagements registered through the service, timed.
    #[arg(long, default_value_t = 50)]
    batches: usize,
    /// Finds timed.
    #[arg(long, default_value_t = 2_000)]
    finds: usize,
    /// An empty PostgreSQL database or schema to use instead of a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Where the temporary SQLite database goes [default: a new temp directory].
    #[arg(long)]
    dir: Option<PathBuf>,
}

const FINDER: &str = "https://finder.bench.example";
const HOLDERS: [&str; 3] = ["162021005448", "162021005521", "162120000142"];
const CATEGORIES: [&str; 3] = ["se.skatteverket.inkomst", "se.forsakringskassan.ersattning", "se.kommun.bygglov"];

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    ms(sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)])
}

pub fn run(args: IndexBench) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench(args))
}

async fn bench(args: IndexBench) -> anyhow::Result<()> {
    if args.engagements < 3 || args.finds == 0 {
        bail!("--engagements: at least 3; --finds: at least 1");
    }
    let temp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let store = match &args.database_url {
        Some(url) => ena_store::Store::connect_postgres(url, None).await?,
        None => ena_store::Store::open_sqlite(&dir.join("bench.db")).await?,
    };
    let db = if args.database_url.is_some() { "postgres" } else { "sqlite" };
    ena_server::prepare_store(&store).await.map_err(|e| anyhow!("{e}"))?;
    if ena_index::repo::count(&store).await? != 0 {
        bail!("this database has engagements already; give an empty database or schema");
    }
    let config = ServerConfig { federation_entity_id: "http://127.0.0.1:1".into(), ..ServerConfig::default() };
    let state = AppState::open(store.clone(), config, &dir).await.map_err(|e| anyhow!("{e}"))?;
    state
        .access
        .put_configured_policy(ena_access::PolicyRecord {
            id: "bench-finder".into(),
            resource: "category".into(),
            description: "The bench's finder learns of every category".into(),
            text: format!("permit (principal == Ena::Member::\"{FINDER}\", action == Ena::Action::\"find\", resource is Ena::Category);"),
            updated_at: String::new(),
        })
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let ctx = Context::system("bench");
    let persons = args.engagements / 3;

    // Batches through the service: the first persons, one holder a batch.
    let mut next = 0;
    let mut batch_times = Vec::with_capacity(args.batches);
    for b in 0..args.batches {
        let k = b % 3;
        let items: Vec<BatchItem> = (0..1000)
            .map(|i| BatchItem {
                delete: false,
                object_type: ObjectType::Person,
                object_id: person_number((next + i) % persons.max(1)),
                category: CATEGORIES[k].into(),
                address: Some(format!("{}:{}", HOLDERS[k], "uppgifter")),
                updated_at: None,
                source: Some("bench".into()),
            })
            .collect();
        let t = Instant::now();
        let out = state.index.register(&ctx, HOLDERS[k], &items).await.map_err(|e| anyhow!("{e}"))?;
        batch_times.push(t.elapsed());
        if out.iter().any(|o| o.status != "accepted") {
            bail!("a generated engagement was refused: {:?}", out.iter().find(|o| o.status != "accepted"));
        }
        if k == 2 {
            next += 1000;
        }
    }
    batch_times.sort();
    let per_second = 1000.0 / batch_times[batch_times.len() / 2].as_secs_f64();

    // Fill: three holders' engagements for every person, hashed as the service hashes them.
    let started = Instant::now();
    let bar = indicatif::ProgressBar::new(persons as u64);
    let now = ena_core::time::unix_now();
    for start in (0..persons).step_by(10_000) {
        let mut rows = Vec::with_capacity(30_000);
        for i in start..(start + 10_000).min(persons) {
            let object =
                Object::parse("objectId", ObjectType::Person, &person_number(i)).map_err(|e| anyhow!("{e:?}"))?;
            let key = state.index.pseudonym(&object);
            for k in 0..3 {
                rows.push(ena_index::repo::Row {
                    object_key: key.clone(),
                    category: CATEGORIES[k].into(),
                    holder: HOLDERS[k].into(),
                    address: format!("{}:uppgifter", HOLDERS[k]),
                    updated_at: now,
                    source: Some("bench".into()),
                    registered_at: now,
                });
            }
        }
        ena_index::repo::fill(&store, &rows).await?;
        bar.inc(10_000);
    }
    bar.finish_and_clear();
    let settle = if args.database_url.is_some() { "VACUUM ANALYZE index_engagements" } else { "ANALYZE" };
    ena_store::with_pool!(&store, pool => sqlx::query(settle).execute(pool).await.map(|_| ()))?;
    let rows = ena_index::repo::count(&store).await?;
    let bytes: i64 = match &args.database_url {
        Some(_) => {
            ena_store::with_pool!(&store, pool => sqlx::query_as::<_, (i64,)>(
            "SELECT pg_total_relation_size('index_engagements')").fetch_one(pool).await)?
            .0
        }
        None => std::fs::metadata(dir.join("bench.db"))?.len() as i64,
    };
    println!(
        "{db}: {rows} engagements in {:.0} s; {:.1} MB per million ({})",
        started.elapsed().as_secs_f64(),
        bytes as f64 / 1e6 / (rows as f64 / 1e6),
        if args.database_url.is_some() { "table and its indexes" } else { "the whole database file" }
    );
    println!(
        "registration through the service, batches of 1 000: p50 {:.1} ms, p95 {:.1} ms a batch ({per_second:.0} engagements/s)",
        percentile(&batch_times, 0.5),
        percentile(&batch_times, 0.95)
    );

    // Finds: random persons, every category decided.
    let finder = Finder { member: FINDER, organisation: "162021005555" };
    let mut rng = rand::rng();
    let mut times = Vec::with_capacity(args.finds);
    let mut found = 0;
    for _ in 0..args.finds {
        let input = FindInput {
            object_type: ObjectType::Person,
            object_id: person_number(rng.random_range(0..persons)),
            category: None,
            holder: None,
        };
        let t = Instant::now();
        found += state.index.find(&ctx, &finder, &input).await.map_err(|e| anyhow!("{e}"))?.len();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "find by person (three engagements each, every category decided, audit event): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms ({} found in {} finds)",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        percentile(&times, 0.99),
        found,
        args.finds
    );
    Ok(())
}
