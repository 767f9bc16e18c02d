//! `ena bench representation`: a generated company register and mandates in the database, then the
//! sliced decision in process, the whole check in process, and `POST /representation/v1/check` over HTTP
//! with keep-alive (against `/healthz` on the same server in the same run). Reports; never fails on timing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ena_representation::catalog::Catalog;
use ena_representation::register::{Company, FixtureRegister, SigningRule};
use ena_representation::repo::MandateRow;
use ena_representation::{CheckInput, Party, Representation};
use ena_server::{AppState, ServerConfig};
use rand::Rng;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct RepresentationBench {
    /// Mandates in the database.
    #[arg(long, default_value_t = 1_000_000)]
    mandates: usize,
    /// Companies in the (generated) register.
    #[arg(long, default_value_t = 100_000)]
    companies: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// A PostgreSQL URL (a fresh database is best); SQLite in a temporary directory if not given.
    #[arg(long)]
    database_url: Option<String>,
}

fn luhn_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let v = if i % 2 == 0 { u32::from(d) * 2 } else { u32::from(d) };
            if v > 9 { v - 9 } else { v }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

fn with_check(nine: [u8; 9]) -> String {
    let mut s: String = nine.iter().map(|d| char::from(b'0' + d)).collect();
    s.push(char::from(b'0' + luhn_digit(&nine)));
    s
}

/// A valid personnummer (12 digits) born 1940–2005.
pub(crate) fn person(rng: &mut impl Rng) -> String {
    let year = rng.random_range(1940..2006u32);
    let (month, day) = (rng.random_range(1..13u32), rng.random_range(1..29u32));
    let serial = rng.random_range(0..1000u32);
    let d = |v: u32, i: u32| (v / 10u32.pow(i) % 10) as u8;
    let yy = year % 100;
    let ten = with_check([
        d(yy, 1),
        d(yy, 0),
        d(month, 1),
        d(month, 0),
        d(day, 1),
        d(day, 0),
        d(serial, 2),
        d(serial, 1),
        d(serial, 0),
    ]);
    format!("{}{ten}", year / 100)
}

/// A valid organisationsnummer (12 digits, 16 prefix) of an aktiebolag.
pub(crate) fn organisation(rng: &mut impl Rng) -> String {
    let mut nine = [5u8, 5, 0, 0, 0, 0, 0, 0, 0];
    for d in nine.iter_mut().skip(3) {
        *d = rng.random_range(0..10);
    }
    // An organisation number's third digit is 2 or more (it is what tells it from a date).
    nine[2] = rng.random_range(2..10);
    format!("16{}", with_check(nine))
}

/// An active mandate from `principal` to `agent` with `packages` (a JSON list), valid for a year.
pub(crate) fn mandate_row(principal: &str, agent: &str, packages: &serde_json::Value, now: i64) -> MandateRow {
    MandateRow {
        id: uuid::Uuid::now_v7().to_string(),
        grantor: principal.to_owned(),
        principal: principal.to_owned(),
        agent: agent.to_owned(),
        packages: packages.to_string(),
        valid_from: now - 86_400,
        valid_to: Some(now + 365 * 86_400),
        may_delegate: 0,
        parent_id: None,
        status: "active".into(),
        required_approvals: 1,
        created_by: "bench".into(),
        created_at: now,
        pending_until: None,
        activated_at: Some(now),
        ended_at: None,
        ended_by: None,
    }
}

use crate::bench_kit::percentile;

pub fn run(args: RepresentationBench) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench(args))
}

async fn bench(args: RepresentationBench) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let store = match &args.database_url {
        Some(url) => ena_store::Store::connect_postgres(url, None).await?,
        None => ena_store::Store::open_sqlite(&temp.path().join("bench.db")).await?,
    };
    let db = if args.database_url.is_some() { "postgres" } else { "sqlite" };
    ena_server::prepare_store(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = ServerConfig { federation_entity_id: format!("http://{addr}"), ..ServerConfig::default() };
    let state = AppState::open(store.clone(), config, temp.path()).await.map_err(|e| anyhow::anyhow!("{e}"))?;

    // The register: generated companies with 1–3 signatories from a pool of persons.
    let mut rng = rand::rng();
    let persons: Vec<String> = (0..(args.companies * 2).max(1000)).map(|_| person(&mut rng)).collect();
    let mut register = FixtureRegister::default();
    let mut orgs = Vec::with_capacity(args.companies);
    for _ in 0..args.companies {
        let org = organisation(&mut rng);
        let n = rng.random_range(1..4usize);
        let signatories: Vec<String> = (0..n).map(|_| persons[rng.random_range(0..persons.len())].clone()).collect();
        register.insert(Company {
            organisation_number: org.clone(),
            name: format!("Bolag {org}"),
            signing_rule: if n == 1 { SigningRule::Sole } else { SigningRule::Joint },
            board: signatories.clone(),
            ceo: signatories.first().cloned(),
            signatories,
        });
        orgs.push(org);
    }
    let representation = Arc::new(Representation::new(
        store.clone(),
        Arc::new(register),
        Catalog::shipped(),
        state.access.clone(),
        state.audit.clone(),
    ));
    let state = state.configure(|s| s.representation = representation.clone());

    // Mandates, in bulk; active, valid for a year.
    let started = Instant::now();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut pairs = Vec::with_capacity(10_000);
    let mut done = 0usize;
    while done < args.mandates {
        let n = (args.mandates - done).min(20_000);
        let rows: Vec<MandateRow> = (0..n)
            .map(|_| {
                let company = rng.random_bool(0.7);
                let principal = if company {
                    orgs[rng.random_range(0..orgs.len())].clone()
                } else {
                    persons[rng.random_range(0..persons.len())].clone()
                };
                let agent = persons[rng.random_range(0..persons.len())].clone();
                let packages = if company {
                    json!(["skatt-och-moms", "anstallda-och-arbetsgivaravgifter"])
                } else {
                    json!(["post-och-arenden"])
                };
                if pairs.len() < 10_000 {
                    pairs.push((agent.clone(), principal.clone(), company));
                }
                mandate_row(&principal, &agent, &packages, now)
            })
            .collect();
        ena_representation::repo::insert_many(&store, &rows).await?;
        done += n;
        eprint!("\r{db}: {done}/{} mandates inserted", args.mandates);
    }
    eprintln!();
    println!(
        "{db}: {} companies in the register, {} mandates inserted in {:.1} s",
        args.companies,
        args.mandates,
        started.elapsed().as_secs_f64()
    );

    // 1. The sliced decision alone (what the decision point adds to a check), in process.
    let catalog = Catalog::shipped();
    let moms = catalog.service("skatteverket/moms").ok_or_else(|| anyhow::anyhow!("no service"))?.clone();
    let mut times = Vec::with_capacity(200_000);
    let held = vec!["skatt-och-moms".to_owned(), "anstallda-och-arbetsgivaravgifter".to_owned()];
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    while Instant::now() < deadline {
        let (agent, _, _) = &pairs[times.len() % pairs.len()];
        let t = Instant::now();
        let d = representation.decide(&Party::Person(agent.clone()), "act", &moms, &held, false).await?;
        times.push(t.elapsed());
        anyhow::ensure!(d.allowed, "the decision should allow");
    }
    times.sort_unstable();
    println!(
        "decision point, sliced (service policies only, with its policy-revision read), in process: p50 {:.1} µs, p99 {:.1} µs over {} decisions",
        percentile(&times, 0.5) * 1e3,
        percentile(&times, 0.99) * 1e3,
        times.len()
    );

    // 1b. Cedar's own floor for the same slice: the request, entities and policies built once, only
    // `is_authorized` timed — what no code around Cedar can go below.
    {
        use cedar_policy::{
            Authorizer, Context, Entities, Entity, Policy, PolicyId, PolicySet, Request, RestrictedExpression,
        };
        #[derive(serde::Deserialize)]
        struct Shipped {
            policy: Vec<ena_access::PolicyRecord>,
        }
        let shipped: Shipped = toml::from_str(include_str!("../../../data/access/policies.toml"))?;
        let mut set = PolicySet::new();
        for p in shipped.policy.iter().filter(|p| p.resource == "service" || p.resource == "*") {
            set.add(Policy::parse(Some(PolicyId::new(&p.id)), &p.text)?)?;
        }
        let principal = ena_access::uid("person", &pairs[0].0, "agent")?;
        let resource = ena_access::uid("service", &moms.id, "service")?;
        let entity = Entity::new(
            resource.clone(),
            HashMap::from([
                ("package".to_owned(), RestrictedExpression::new_string(moms.package.clone())),
                ("right".to_owned(), RestrictedExpression::new_string(format!("service:{}", moms.id))),
            ]),
            std::collections::HashSet::new(),
        )?;
        let entities = Entities::from_entities([entity], None)?;
        let context = Context::from_pairs([
            (
                "packages".to_owned(),
                RestrictedExpression::new_set(held.iter().map(|p| RestrictedExpression::new_string(p.clone()))),
            ),
            ("self".to_owned(), RestrictedExpression::new_bool(false)),
        ])?;
        let request = Request::new(principal, ena_access::action_uid("act")?, resource, context, None)?;
        let authorizer = Authorizer::new();
        let mut times = Vec::with_capacity(300_000);
        let deadline = Instant::now() + Duration::from_secs(args.seconds);
        while Instant::now() < deadline {
            let t = Instant::now();
            let r = authorizer.is_authorized(&request, &set, &entities);
            times.push(t.elapsed());
            anyhow::ensure!(r.decision() == cedar_policy::Decision::Allow, "Cedar should allow");
        }
        times.sort_unstable();
        println!(
            "Cedar is_authorized alone on the same {}-policy slice (everything prebuilt): p50 {:.1} µs, p99 {:.1} µs",
            set.policies().count(),
            percentile(&times, 0.5) * 1e3,
            percentile(&times, 0.99) * 1e3
        );
    }

    // 2. The whole check in process, one at a time: mandate read, chain, decision, audit append.
    let input = |i: usize| {
        let (agent, principal, company) = &pairs[i % pairs.len()];
        CheckInput {
            agent: agent.clone(),
            principal: principal.clone(),
            service: if *company { "skatteverket/moms".into() } else { "kommun/mina-arenden".into() },
            action: None,
            at: None,
        }
    };
    let mut times = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    while Instant::now() < deadline {
        let t = Instant::now();
        let r = representation.check("bench", &input(times.len())).await?;
        times.push(t.elapsed());
        anyhow::ensure!(r.allowed, "a generated mandate should allow: {r:?}");
    }
    let rate = times.len() as f64 / args.seconds as f64;
    times.sort_unstable();
    println!(
        "check in process, one at a time (incl. a durable audit append): {rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );

    // 2b. The same, N at once (audit appends share group commits).
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let (r, count, inputs) =
            (representation.clone(), count.clone(), (0..64).map(|i| input(w * 64 + i)).collect::<Vec<_>>());
        let seconds = args.seconds;
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while started.elapsed() < Duration::from_secs(seconds) {
                r.check("bench", &inputs[i % inputs.len()]).await?;
                i += 1;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "check in process, {} at once: {:.0}/s",
        args.concurrency,
        count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    );

    // 3. Over HTTP with keep-alive: a member's access token (private_key_jwt), N clients.
    let (member, key) = crate::bench_identity::onboard_member(&state).await?;
    let endpoint = state.tokens.token_endpoint().to_owned();
    let assertion = key.sign(
        "JWT",
        &json!({"iss": member, "sub": member, "aud": endpoint, "iat": now, "exp": now + 300, "jti": ena_identity::random_token(12)}),
    );
    let form: HashMap<String, String> = [
        ("grant_type", "client_credentials"),
        ("audience", state.federation.entity_id()),
        ("client_assertion_type", ena_identity::token::CLIENT_ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let token = state.tokens.token(None, &form).await.map_err(|e| anyhow::anyhow!("{e}"))?["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    tokio::spawn(async move {
        let _ = axum::serve(listener, ena_server::app(state).into_make_service()).await;
    });
    let base = format!("http://{addr}");
    let pairs = Arc::new(pairs);
    let load = |path: &'static str, post: bool| {
        let (base, token, pairs) = (base.clone(), token.clone(), pairs.clone());
        let concurrency = args.concurrency;
        let seconds = args.seconds;
        async move {
            let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
            let count = Arc::new(AtomicU64::new(0));
            let started = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..concurrency {
                let (client, base, token, pairs, count) =
                    (client.clone(), base.clone(), token.clone(), pairs.clone(), count.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut i = w * 997;
                    while started.elapsed() < Duration::from_secs(seconds) {
                        let (agent, principal, company) = &pairs[i % pairs.len()];
                        i += 1;
                        let t = Instant::now();
                        let r = if post {
                            let service = if *company { "skatteverket/moms" } else { "kommun/mina-arenden" };
                            client
                                .post(format!("{base}{path}"))
                                .bearer_auth(&token)
                                .json(&json!({"agent": agent, "principal": principal, "service": service}))
                                .send()
                                .await?
                        } else {
                            client.get(format!("{base}{path}")).send().await?
                        };
                        anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
                        let _ = r.bytes().await?;
                        lat.push(t.elapsed());
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok::<_, anyhow::Error>(lat)
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await??);
            }
            all.sort_unstable();
            let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
            Ok::<_, anyhow::Error>((rate, percentile(&all, 0.5), percentile(&all, 0.99)))
        }
    };
    let (healthz, h50, h99) = load("/healthz", false).await?;
    let (checks, c50, c99) = load("/representation/v1/check", true).await?;
    println!(
        "HTTP, {} keep-alive clients: POST /representation/v1/check {checks:.0}/s (p50 {c50:.2} ms, p99 {c99:.2} ms) vs GET /healthz {healthz:.0}/s (p50 {h50:.2} ms, p99 {h99:.2} ms) — {:.0} % of the no-op endpoint",
        args.concurrency,
        checks / healthz * 100.0
    );
    Ok(())
}
