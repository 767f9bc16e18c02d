//! `ena bench index`: Indexering at scale. Times batches of 1 000 engagements registered through the
//! service (checked item by item, objects hashed, one transaction and one audit event a batch), fills the
//! index to `--engagements` rows (three holders' engagements per person), then times finds by a member
//! system the decision point lets learn of the categories — the object hashed, its rows read, each
//! category decided, the audit event written — and reports the table's size per million engagements.
//! Reports; never fails on timing.

use std::path::PathBuf;
use std::time::Instant;

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
    /// PostgreSQL only: let the database make the engagements itself (pgcrypto's HMAC under the bench's
    /// own pseudonym key, case objects `BENCH-<n>`, the keys rebuilt after the load) — how 100 M fit in
    /// an hour; finds then go through an `Index` with that key.
    #[arg(long)]
    server_fill: bool,
}

const FINDER: &str = "https://finder.bench.example";
const HOLDERS: [&str; 3] = ["162021005448", "162021005521", "162120000142"];
const CATEGORIES: [&str; 3] = ["se.skatteverket.inkomst", "se.forsakringskassan.ersattning", "se.kommun.bygglov"];

use crate::bench_kit::percentile;

pub fn run(args: IndexBench) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench(args))
}

async fn bench(args: IndexBench) -> anyhow::Result<()> {
    if args.engagements < 3 || args.finds == 0 {
        bail!("--engagements: at least 3; --finds: at least 1");
    }
    let bench = crate::bench_kit::open_store(args.database_url.as_deref(), args.dir.as_deref()).await?;
    let (store, dir, db) = (bench.store.clone(), bench.dir.clone(), bench.db);
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
    let now = ena_core::time::unix_now();
    let secret: [u8; 32] = rand::random();
    let server_index = ena_index::Index::new(store.clone(), state.audit.clone(), state.access.clone(), &secret);
    if args.server_fill {
        if args.database_url.is_none() {
            bail!("--server-fill needs --database-url (PostgreSQL)");
        }
        server_fill(&store, &secret, persons as i64, now).await?;
    }
    let bar = indicatif::ProgressBar::new(if args.server_fill { 0 } else { persons as u64 });
    for start in (0..if args.server_fill { 0 } else { persons }).step_by(10_000) {
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
        let (object_type, object_id, index) = if args.server_fill {
            (ObjectType::Case, format!("BENCH-{}", rng.random_range(0..persons)), &server_index)
        } else {
            (ObjectType::Person, person_number(rng.random_range(0..persons)), &state.index)
        };
        let input = FindInput { object_type, object_id, category: None, holder: None };
        let t = Instant::now();
        found += index.find(&ctx, &finder, &input).await.map_err(|e| anyhow!("{e}"))?.len();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "find by object (three engagements each, every category decided, audit event): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms ({} found in {} finds)",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        percentile(&times, 0.99),
        found,
        args.finds
    );
    Ok(())
}

/// PostgreSQL makes `objects` × 3 engagements itself: case objects `BENCH-<n>`, keyed as `Index` keys
/// them (HMAC-SHA256 of `case:<id>` under `secret`, by pgcrypto), in chunks with progress; the primary key
/// and the holder index are dropped for the load and built again after it (as the migration defines
/// them), which is how a bulk load of this size is done.
async fn server_fill(store: &ena_store::Store, secret: &[u8], objects: i64, now: i64) -> anyhow::Result<()> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let exec = async |sql: String| -> anyhow::Result<()> {
        ena_store::with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(|_| ()))?;
        Ok(())
    };
    exec("CREATE EXTENSION IF NOT EXISTS pgcrypto".into()).await?;
    exec("ALTER TABLE index_engagements DROP CONSTRAINT index_engagements_pkey".into()).await?;
    exec("DROP INDEX index_engagements_holder".into()).await?;
    let values: Vec<String> = (0..3).map(|k| format!("('{}', '{}')", CATEGORIES[k], HOLDERS[k])).collect();
    let chunk = 2_000_000i64;
    let bar = indicatif::ProgressBar::new(objects as u64);
    let mut from = 0i64;
    while from < objects {
        let to = (from + chunk).min(objects) - 1;
        exec(format!(
            "INSERT INTO index_engagements (object_key, category, holder, address, updated_at, source, registered_at) \
             SELECT hmac(convert_to('case:BENCH-' || i, 'UTF8'), decode('{hex}', 'hex'), 'sha256'), c.category, c.holder, \
             c.holder || ':uppgifter', {now}, 'bench', {now} FROM generate_series({from}, {to}) AS i CROSS JOIN (VALUES {}) AS c(category, holder)",
            values.join(", ")
        ))
        .await?;
        bar.inc((to - from + 1) as u64);
        from = to + 1;
    }
    bar.finish_and_clear();
    println!("loaded; building the keys …");
    exec("ALTER TABLE index_engagements ADD PRIMARY KEY (object_key, category, holder)".into()).await?;
    exec("CREATE INDEX index_engagements_holder ON index_engagements (holder, category)".into()).await?;
    Ok(())
}
