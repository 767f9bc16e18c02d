//! `ena bench cases`: Mina ärenden at scale. Fills the database with generated cases over a pool of
//! parties (in stages: 50 k, 500 k, 5 M by default), and at each stage times the party view — what
//! `GET /cases/v1/my/cases` does behind the HTTP layer: the person's scopes from Mina ombud, the one
//! query over every party in scope, the labels and the audit event — for representatives who act for
//! 10, 100 and 1 000 parties. At the largest size it also times a case read, creates and updates
//! with their audit events, and the event latency from an update to the webhook. Reports; never fails
//! on timing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ena_audit::{Actor, ActorKind, Context};
use ena_cases::repo::CaseRow;
use ena_cases::{Agency, CaseInput, CaseUpdate, Filter, Scope, Sort};
use ena_core::PersonId;
use ena_representation::repo::MandateRow;
use ena_server::{AppState, ServerConfig};
use rand::Rng;
use serde_json::{Value, json};

use crate::bench_representation::{mandate_row, organisation, person};

#[derive(Debug, clap::Args)]
pub struct CasesBench {
    /// Case counts to fill to, in turn (comma-separated); the party view is timed at each.
    #[arg(long, value_delimiter = ',', default_value = "50000,500000,5000000")]
    sizes: Vec<usize>,
    /// Parties the cases are spread over (seven in ten organisations, the rest persons).
    #[arg(long, default_value_t = 1_000_000)]
    parties: usize,
    /// How many parties each timed representative acts for through Mina ombud (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000")]
    acting_for: Vec<usize>,
    /// Party-view searches timed for each representative at each size.
    #[arg(long, default_value_t = 200)]
    searches: usize,
    /// Seconds for each throughput measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent writers for the create and update throughput.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// An empty PostgreSQL database or schema to use instead of a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Where the temporary SQLite database goes [default: a new temp directory].
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The agencies keeping the generated cases, and the services each keeps.
const AGENCIES: [(&str, &str, &[&str]); 4] = [
    (
        "162021005448",
        "Skatteverket",
        &["skatteverket/moms", "skatteverket/skattekonto", "skatteverket/arbetsgivardeklaration"],
    ),
    ("162021005489", "Bolagsverket", &["bolagsverket/arsredovisning", "bolagsverket/andringsanmalan"]),
    ("162212000142", "Exempelkommunen", &["kommun/mina-arenden"]),
    ("162321000016", "Exempelregionen", &["region/vardarenden"]),
];
const ORGANISATION_SERVICES: [&str; 5] = [
    "skatteverket/moms",
    "skatteverket/skattekonto",
    "skatteverket/arbetsgivardeklaration",
    "bolagsverket/arsredovisning",
    "bolagsverket/andringsanmalan",
];
const PERSON_SERVICES: [&str; 2] = ["kommun/mina-arenden", "region/vardarenden"];
const STATUSES: [&str; 5] = ["in-progress", "awaiting", "requires-attention", "completed", "draft"];
const WORDS: [&str; 12] = [
    "momsdeklaration",
    "skattekonto",
    "arbetsgivardeklaration",
    "årsredovisning",
    "ändringsanmälan",
    "bygglov",
    "förskoleplats",
    "färdtjänst",
    "remiss",
    "ansökan",
    "komplettering",
    "omprövning",
];
/// A page as the API asks for it: the default limit and one more (to know whether there is a next).
const PAGE: u32 = 21;

use crate::bench_kit::percentile;

fn agency_of(service: &str) -> (&'static str, &'static str) {
    AGENCIES.iter().find(|(_, _, s)| s.contains(&service)).map_or(("162021005448", "Skatteverket"), |(o, n, _)| (o, n))
}

/// A generated party: (stored id, kind).
struct Party {
    id: String,
    organisation: bool,
}

pub fn run(args: CasesBench) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench(args))
}

async fn bench(args: CasesBench) -> anyhow::Result<()> {
    if args.sizes.is_empty() || args.sizes.windows(2).any(|w| w[0] >= w[1]) {
        bail!("--sizes: give rising case counts, e.g. 50000,500000,5000000");
    }
    let largest_k = args.acting_for.iter().copied().max().unwrap_or(0);
    if args.parties < largest_k.max(1) {
        bail!("--parties: at least as many parties as the largest --acting-for ({largest_k})");
    }
    let bench = crate::bench_kit::open_store(args.database_url.as_deref(), args.dir.as_deref()).await?;
    let (store, dir, db) = (bench.store.clone(), bench.dir.clone(), bench.db);
    let (existing,): (i64,) =
        ena_store::with_pool!(&store, pool => sqlx::query_as("SELECT COUNT(*) FROM cases").fetch_one(pool).await)?;
    if existing != 0 {
        bail!("this database has cases already; give an empty database or schema");
    }
    let hooks = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_addr = hooks.local_addr()?;
    let config = ServerConfig { federation_entity_id: "http://127.0.0.1:8080".into(), ..ServerConfig::default() };
    let state = AppState::open(store.clone(), config, &dir).await.map_err(|e| anyhow::anyhow!("{e}"))?;

    // The parties, and a representative for each --acting-for with mandates from that many of them.
    let mut rng = rand::rng();
    let parties: Vec<Party> = (0..args.parties)
        .map(|_| {
            let is_organisation = rng.random_bool(0.7);
            let id = if is_organisation { organisation(&mut rng) } else { person(&mut rng) };
            Party { id, organisation: is_organisation }
        })
        .collect();
    let now = ena_core::time::unix_now();
    let mut representatives = Vec::new();
    let mut mandates = Vec::new();
    for &k in &args.acting_for {
        let agent = loop {
            let p = person(&mut rng);
            if PersonId::parse(&p).is_ok() {
                break p;
            }
        };
        let chosen = rand::seq::index::sample(&mut rng, parties.len(), k);
        for i in chosen.iter() {
            mandates.push(mandate(&parties[i], &agent, now));
        }
        representatives.push((k, PersonId::parse(&agent)?));
    }
    ena_representation::repo::insert_many(&store, &mandates).await?;
    println!(
        "{db}: {} parties; representatives acting for {:?} parties through {} mandates",
        args.parties,
        args.acting_for,
        mandates.len()
    );

    // One case made through the block gives the stored shape every generated case copies.
    let skatteverket = Agency { organisation: "162021005448".into(), name: Some("Skatteverket".into()) };
    let agency_ctx = Context {
        actor: Actor { kind: ActorKind::System, id: "bench".into(), organisation: Some("162021005448".into()) },
        on_behalf_of: None,
        correlation_id: None,
    };
    let template_party = parties.iter().find(|p| p.organisation).map_or("5560000000", |p| &p.id[2..]);
    let (template, _) = state
        .cases
        .create(&state.audit, &agency_ctx, &skatteverket, case_input(template_party, "bench-template"))
        .await
        .map_err(|e| anyhow::anyhow!("creating the template case: {e}"))?;
    let template = ena_cases::repo::get(&store, &template.id).await?.context("the template case")?;

    // Fill in stages; time the party view at each.
    let mut table: Vec<(usize, Vec<(f64, f64, usize)>)> = Vec::new();
    let mut have = 1usize;
    for &target in &args.sizes {
        let started = Instant::now();
        let bar = indicatif::ProgressBar::new((target - have) as u64);
        while have < target {
            let n = (target - have).min(10_000);
            let rows: Vec<CaseRow> = (0..n).map(|_| generated(&template, &parties, &mut rng, now)).collect();
            ena_cases::repo::insert_many(&store, &rows).await?;
            have += n;
            bar.inc(n as u64);
        }
        bar.finish_and_clear();
        let fill = started.elapsed().as_secs_f64();
        analyze(&store).await?;
        println!(
            "{db}: filled to {target} cases in {fill:.1} s, statistics updated in {:.1} s",
            started.elapsed().as_secs_f64() - fill
        );
        let mut row = Vec::new();
        for (k, rep) in &representatives {
            let v = party_view(&state, rep, &Filter::default(), args.searches).await?;
            row.push((percentile(&v.total, 0.5), percentile(&v.total, 0.95), v.seen));
            println!(
                "{db}: {target} cases, acting for {k} parties: party view {} — {} cases on the first page",
                v.summary(),
                v.seen
            );
        }
        table.push((target, row));
    }

    // The table the issue asks for: rows by case count, columns by parties acted for.
    println!();
    println!("{db}: party view (scopes from Mina ombud + the one query + labels + audit event), p95 ms (p50):");
    print!("| cases |");
    for k in &args.acting_for {
        print!(" {k} parties |");
    }
    println!();
    print!("|---|");
    for _ in &args.acting_for {
        print!("---|");
    }
    println!();
    for (size, row) in &table {
        print!("| {size} |");
        for (p50, p95, _) in row {
            print!(" {p95:.1} ({p50:.1}) |");
        }
        println!();
    }
    println!();

    // At the largest size: the other searches, and the plan of the widest one.
    let widest = representatives.last().map(|(_, p)| p.clone()).context("no --acting-for")?;
    let k = args.acting_for.last().copied().unwrap_or(0);
    for (what, filter) in [
        ("free text \"moms\"", Filter { text: Some("moms".into()), ..Filter::default() }),
        (
            "status awaiting or requires-attention",
            Filter {
                status: vec![ena_cases::CaseStatus::Awaiting, ena_cases::CaseStatus::RequiresAttention],
                ..Filter::default()
            },
        ),
        ("only unseen", Filter { unseen: true, ..Filter::default() }),
    ] {
        let v = party_view(&state, &widest, &filter, args.searches).await?;
        println!("{db}: acting for {k} parties, {what}: {} — {} on the first page", v.summary(), v.seen);
    }
    let scopes = ena_server::blocks::cases::scopes(&state, &widest).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let first = ena_cases::repo::list(&store, &listing(widest.as_str(), &scopes, &Filter::default(), now)).await?;
    if let Some((last, _)) = first.get(first.len().saturating_sub(2)) {
        let next = Filter { after: Some((last.content_updated_at, last.id.clone())), ..Filter::default() };
        let v = party_view(&state, &widest, &next, args.searches).await?;
        println!("{db}: acting for {k} parties, the next page by cursor: {} — {} on it", v.summary(), v.seen);
    }
    println!("{db}: the plan of the party view for {k} parties:");
    for line in plan(&store, widest.as_str(), &scopes, now).await? {
        println!("    {line}");
    }

    // A case read by its agency (with its audit event), on random cases.
    let ids: Vec<(String, String)> = ena_store::with_pool!(&store, pool => sqlx::query_as(
        "SELECT id, organisation FROM cases WHERE id >= $1 ORDER BY id LIMIT 2000")
        .bind(uuid::Uuid::now_v7().to_string()[..4].to_owned()).fetch_all(pool).await)?;
    let mut times = Vec::with_capacity(ids.len());
    for (id, organisation) in &ids {
        let agency = Agency { organisation: organisation.clone(), name: None };
        let t = Instant::now();
        state.cases.get(&state.audit, &agency_ctx, &agency, id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed());
    }
    times.sort_unstable();
    println!(
        "{db}: case read by its agency (incl. the audit event): p50 {:.2} ms, p95 {:.2} ms over {} reads",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.len()
    );

    // Creates, then updates of what was created, each with its activity, outbox event and audit event.
    let created = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    let targets: Arc<Vec<String>> =
        Arc::new(parties.iter().filter(|p| p.organisation).take(10_000).map(|p| p.id[2..].to_owned()).collect());
    for w in 0..args.concurrency {
        let (state, ctx, agency, created, count, targets) =
            (state.clone(), agency_ctx.clone(), skatteverket.clone(), created.clone(), count.clone(), targets.clone());
        let (seconds, step) = (args.seconds, args.concurrency);
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while started.elapsed() < Duration::from_secs(seconds) {
                let key = format!("bench-{w}-{i}");
                let (case, _) = state
                    .cases
                    .create(&state.audit, &ctx, &agency, case_input(&targets[i % targets.len()], &key))
                    .await
                    .map_err(|e| anyhow::anyhow!("create: {e}"))?;
                created.lock().await.push((case.id, case.revision));
                i += step;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let creates = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let created: Vec<(String, i64)> = std::mem::take(&mut *created.lock().await);
    let shares: Vec<Vec<(String, i64)>> =
        (0..args.concurrency).map(|w| created.iter().skip(w).step_by(args.concurrency).cloned().collect()).collect();
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for share in shares {
        let (state, ctx, agency, count) = (state.clone(), agency_ctx.clone(), skatteverket.clone(), count.clone());
        let seconds = args.seconds;
        tasks.push(tokio::spawn(async move {
            for (id, revision) in share {
                if started.elapsed() >= Duration::from_secs(seconds) {
                    break;
                }
                state
                    .cases
                    .update(&state.audit, &ctx, &agency, &id, revision, awaiting())
                    .await
                    .map_err(|e| anyhow::anyhow!("update: {e}"))?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let updates = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "{db}: with {} concurrent writers: {creates:.0} creates/s, {updates:.0} updates/s (each with its activity, outbox event and audit event)",
        args.concurrency
    );

    // Event latency: a webhook subscription for one party, the dispatcher running as `ena serve` runs
    // it (every 200 ms), an update, and the time until the webhook has the event.
    let latency = event_latency(&state, hooks, hook_addr, &agency_ctx, &skatteverket, &targets[0]).await?;
    println!(
        "{db}: event latency from an update's commit to the webhook receiving it (dispatcher every 200 ms, as in serve): p50 {:.0} ms, p95 {:.0} ms over {} events",
        percentile(&latency, 0.5),
        percentile(&latency, 0.95),
        latency.len()
    );
    if args.database_url.is_none() {
        ena_store::with_pool!(&store, pool => sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await.map(|_| ()))?;
        let bytes = std::fs::metadata(dir.join("bench.db")).map(|m| m.len()).unwrap_or(0);
        println!("{db}: database file {:.0} MB", bytes as f64 / 1e6);
    }
    store.close().await;
    Ok(())
}

fn mandate(principal: &Party, agent: &str, now: i64) -> MandateRow {
    let packages = if principal.organisation {
        json!(["skatt-och-moms", "anstallda-och-arbetsgivaravgifter"])
    } else {
        json!(["post-och-arenden"])
    };
    mandate_row(&principal.id, agent, &packages, now)
}

fn case_input(organisation: &str, key: &str) -> CaseInput {
    serde_json::from_value(json!({
        "party": {"kind": "organisation", "id": organisation},
        "service": "skatteverket/moms",
        "status": "in-progress",
        "title": {"sv": "Momsdeklaration", "en": "VAT return"},
        "summary": {"sv": "Vi har tagit emot din deklaration.", "en": "We have received your return."},
        "idempotencyKey": key,
        "expectedDecision": {"at": "2031-01-31T12:00:00Z", "reason": "Handläggningstiden är åtta veckor."},
        "guiActions": [{"action": "open", "priority": "primary", "title": {"sv": "Öppna", "en": "Open"}, "url": "https://skatteverket.example/moms"}]
    }))
    .expect("a valid case input")
}

fn awaiting() -> CaseUpdate {
    serde_json::from_value(json!({"status": "awaiting", "extendedStatus": "Komplettering begärd"})).expect("an update")
}

/// A generated case for a random party, shaped like `template` (its body with a new title).
fn generated(template: &CaseRow, parties: &[Party], rng: &mut impl Rng, now: i64) -> CaseRow {
    let party = &parties[rng.random_range(0..parties.len())];
    let service = if party.organisation {
        ORGANISATION_SERVICES[rng.random_range(0..ORGANISATION_SERVICES.len())]
    } else {
        PERSON_SERVICES[rng.random_range(0..PERSON_SERVICES.len())]
    };
    let (organisation, name) = agency_of(service);
    let word = WORDS[rng.random_range(0..WORDS.len())];
    let status = STATUSES[rng.random_range(0..STATUSES.len())];
    let created = now - rng.random_range(0..2 * 365 * 86_400);
    let updated = created + rng.random_range(0..(now - created).max(1));
    let title = format!("{word} {}", rng.random_range(1000..10_000));
    let mut body: Value = serde_json::from_str(&template.body).unwrap_or_default();
    body["title"] = json!({"sv": title});
    body["organisationName"] = json!(name);
    CaseRow {
        id: uuid::Uuid::now_v7().to_string(),
        party: party.id.clone(),
        party_kind: if party.organisation { "organisation" } else { "person" }.into(),
        organisation: organisation.into(),
        service: service.into(),
        status: status.into(),
        life_event: None,
        process: None,
        external_ref: None,
        idempotency_key: None,
        // One in a hundred not yet visible: the view must leave them out.
        visible_from: rng.random_bool(0.01).then(|| now + 86_400),
        due_at: None,
        expires_at: None,
        expected_decision_at: Some(created + 60 * 86_400),
        decided_at: (status == "completed").then_some(updated),
        search_text: title.to_lowercase(),
        body: body.to_string(),
        revision: 1,
        created_at: created,
        content_updated_at: updated,
    }
}

/// What the database's own upkeep does after a bulk load: statistics, and on PostgreSQL the visibility
/// map too (autovacuum runs after inserts since PostgreSQL 13), without which no index-only scan skips
/// the table.
async fn analyze(store: &ena_store::Store) -> anyhow::Result<()> {
    match store {
        ena_store::Store::Postgres(pool) => sqlx::query("VACUUM ANALYZE").execute(pool).await.map(|_| ())?,
        ena_store::Store::Sqlite(pool, _) => sqlx::query("ANALYZE").execute(pool).await.map(|_| ())?,
    }
    Ok(())
}

/// What a run of party views took: the whole, and its two parts, each sorted.
struct Views {
    total: Vec<Duration>,
    scopes: Vec<Duration>,
    list: Vec<Duration>,
    /// Cases on the (last) page.
    seen: usize,
}

impl Views {
    /// "p50 …, p95 … (of which scopes p50 …, list p50 …)".
    fn summary(&self) -> String {
        format!(
            "p50 {:.2} ms, p95 {:.2} ms (of the p50s: scopes from Mina ombud {:.2} ms, the list with labels and audit {:.2} ms)",
            percentile(&self.total, 0.5),
            percentile(&self.total, 0.95),
            percentile(&self.scopes, 0.5),
            percentile(&self.list, 0.5)
        )
    }
}

/// Time `searches` party views of `rep` with `filter`, as the API's list does them.
async fn party_view(state: &AppState, rep: &PersonId, filter: &Filter, searches: usize) -> anyhow::Result<Views> {
    let ctx = Context {
        actor: Actor { kind: ActorKind::Person, id: rep.as_str().to_owned(), organisation: None },
        on_behalf_of: None,
        correlation_id: None,
    };
    let mut v = Views { total: Vec::new(), scopes: Vec::new(), list: Vec::new(), seen: 0 };
    for _ in 0..searches {
        let t = Instant::now();
        let scopes = ena_server::blocks::cases::scopes(state, rep).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let scoped = t.elapsed();
        let page = state
            .cases
            .list(&state.audit, &ctx, rep.as_str(), &scopes, filter, Sort::ContentUpdated, PAGE, 0)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        v.total.push(t.elapsed());
        v.scopes.push(scoped);
        v.list.push(t.elapsed() - scoped);
        v.seen = page.len();
    }
    v.total.sort_unstable();
    v.scopes.sort_unstable();
    v.list.sort_unstable();
    Ok(v)
}

/// The first page, newest first, as the API asks for it.
fn listing<'a>(viewer: &'a str, scopes: &'a [Scope], filter: &'a Filter, now: i64) -> ena_cases::repo::Listing<'a> {
    ena_cases::repo::Listing { viewer, scopes, filter, sort: Sort::ContentUpdated, now, limit: PAGE, offset: 0 }
}

/// The database's plan for the party view over `scopes` (the query `ena_cases::repo::list` runs).
async fn plan(store: &ena_store::Store, viewer: &str, scopes: &[Scope], now: i64) -> anyhow::Result<Vec<String>> {
    let lines = ena_cases::repo::explain_list(store, &listing(viewer, scopes, &Filter::default(), now)).await?;
    // SQLite names each term of the OR ("INDEX 7", then its search): one line with a count says it.
    let mut out: Vec<(String, usize)> = Vec::new();
    for line in lines {
        let trimmed = line.trim_start();
        if trimmed.strip_prefix("INDEX ").is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())) {
            continue;
        }
        match out.last_mut() {
            Some((last, n)) if *last == line => *n += 1,
            _ => out.push((line, 1)),
        }
    }
    Ok(out.into_iter().map(|(line, n)| if n > 1 { format!("{line}   × {n}") } else { shorten(&line) }).collect())
}

/// PostgreSQL writes every bound party into its plan: `'{a,b,…}'` lists longer than a few are cut to
/// their count.
fn shorten(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("'{") {
        let Some(len) = rest[start..].find("}'") else { break };
        let list = &rest[start + 2..start + len];
        out.push_str(&rest[..start]);
        if list.len() > 60 {
            out.push_str(&format!("'{{… {} values}}'", list.split(',').count()));
        } else {
            out.push_str(&rest[start..start + len + 2]);
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

async fn event_latency(
    state: &AppState,
    hooks: tokio::net::TcpListener,
    hook_addr: std::net::SocketAddr,
    ctx: &Context,
    agency: &Agency,
    party: &str,
) -> anyhow::Result<Vec<Duration>> {
    use ena_cases::events as outbox;
    let arrived: Arc<tokio::sync::Mutex<HashMap<(String, i64), Instant>>> = Arc::default();
    let got = arrived.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let got = got.clone();
            async move {
                let at = Instant::now();
                if let Ok(v) = serde_json::from_str::<Value>(&body)
                    && let (Some(case), Some(revision)) = (v["data"]["caseId"].as_str(), v["data"]["revision"].as_i64())
                {
                    got.lock().await.insert((case.to_owned(), revision), at);
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(hooks, app).await;
    });
    // An accounting firm's system follows the party's cases on a mandate from the party (the decision
    // point decides at each event, as in serve).
    let firm = organisation(&mut rand::rng());
    let principal = Party { id: format!("16{party}"), organisation: true };
    ena_representation::repo::insert_many(&state.store, &[mandate(&principal, &firm, ena_core::time::unix_now())])
        .await?;
    let input: outbox::SubscriptionInput = serde_json::from_value(json!({
        "party": {"kind": "organisation", "id": party},
        "types": [outbox::UPDATED],
        "delivery": "webhook",
        "webhook": format!("http://{hook_addr}/hook"),
    }))?;
    let sub = outbox::Subscription::check(&firm, input, true).map_err(|e| anyhow::anyhow!("{e}"))?;
    outbox::insert_subscription(&state.store, &sub).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let dispatcher = {
        let state = state.clone();
        tokio::spawn(async move {
            let holder = uuid::Uuid::now_v7().to_string();
            loop {
                let _ = ena_server::blocks::cases::events::dispatch(&state, &holder).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    // What the writers above left in the outbox is fanned out first: how fast is a figure of its own.
    let waiting = || async {
        let (n,): (i64,) = ena_store::with_pool!(&state.store, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM case_events WHERE dispatched_at IS NULL").fetch_one(pool).await)?;
        Ok::<i64, anyhow::Error>(n)
    };
    let backlog = waiting().await?;
    let started = Instant::now();
    while waiting().await? > 0 {
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the dispatcher did not drain {backlog} events in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "dispatcher fan-out of the writers' backlog: {backlog} events in {secs:.1} s ({:.0} events/s; one subscription among them)",
        backlog as f64 / secs
    );
    let mut latencies = Vec::new();
    for i in 0..40 {
        let (case, _) = state
            .cases
            .create(&state.audit, ctx, agency, case_input(party, &format!("bench-latency-{i}")))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let updated = state
            .cases
            .update(&state.audit, ctx, agency, &case.id, case.revision, awaiting())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let committed = Instant::now();
        let key = (case.id.clone(), updated.revision);
        let deadline = committed + Duration::from_secs(10);
        loop {
            if let Some(at) = arrived.lock().await.get(&key) {
                latencies.push(at.saturating_duration_since(committed));
                break;
            }
            if Instant::now() > deadline {
                bail!("the webhook did not receive the update of {} within 10 s", case.id);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Spread the updates over the dispatcher's period rather than right after a round.
        tokio::time::sleep(Duration::from_millis(37)).await;
    }
    dispatcher.abort();
    latencies.sort_unstable();
    Ok(latencies)
}
