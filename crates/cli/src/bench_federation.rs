//! `ena bench federation`: resolve throughput (uncached and cached) through the service and over HTTP,
//! 3-level chain validation time, and the node listener's mTLS handshake rate and request rate over one
//! kept-alive connection. A benchmark reports; it never fails on timing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ena_audit::Context;
use ena_federation::anchor::{ApplicationInput, ENA_NODE};
use ena_federation::chain::ENTITY_STATEMENT_TYP;
use ena_keys::jose::SigningKey;
use ena_server::{AppState, ServerConfig};
use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub struct FederationBench {
    /// Members to onboard before measuring.
    #[arg(long, default_value_t = 200)]
    members: usize,
    /// Seconds per throughput measurement.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Concurrent callers for throughput.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// An empty PostgreSQL database or schema instead of a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort_unstable();
    v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// Run `op` from `concurrency` tasks for `seconds`; operations per second.
async fn throughput<F, Fut>(seconds: u64, concurrency: usize, op: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < deadline {
                op(worker * 1_000_003 + n).await?;
                n += 1;
            }
            Ok::<usize, anyhow::Error>(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

pub fn run(args: FederationBench) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run_async(args))
}

async fn run_async(args: FederationBench) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let store = match &args.database_url {
        Some(url) => ena_store::Store::connect_postgres(url, None).await?,
        None => ena_store::Store::open_sqlite(&temp.path().join("bench.db")).await?,
    };
    ena_server::prepare_store(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_addr = http_listener.local_addr()?;
    let config = ServerConfig { federation_entity_id: format!("http://{http_addr}"), ..ServerConfig::default() };
    let state = AppState::open(store.clone(), config, temp.path()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let ta = state.federation.clone();
    let db = if args.database_url.is_some() { "postgres" } else { "sqlite" };

    // Onboard members, each with its own keys and entity configuration.
    let ctx = Context::system("bench");
    let version = ta.agreement().await?.version;
    let started = Instant::now();
    let mut ids = Vec::new();
    let tls_key = rcgen::KeyPair::generate()?;
    for i in 0..args.members {
        let id = format!("https://node{i}.bench.example");
        let key = SigningKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
        let jwks = json!({"keys": [key.public_jwk()]});
        let now = ena_core::time::unix_now();
        let ec = key.sign(
            ENTITY_STATEMENT_TYP,
            &json!({"iss": id, "sub": id, "iat": now, "exp": now + 86_400, "jwks": jwks,
            "authority_hints": [ta.entity_id()], "metadata": {ENA_NODE: {"api_endpoint": format!("{id}/node/v1")}}}),
        );
        let input = ApplicationInput {
            organisation_number: "212000-0142".into(),
            name: format!("Bench member {i}"),
            contact: "bench@example.se".into(),
            entity_id: id.clone(),
            jwks,
            entity_types: vec![ENA_NODE.into()],
            metadata: None,
            trust_marks: vec![],
            key_request: Some(tls_key.public_key_pem()),
            entity_configuration: Some(ec),
            accept_agreement: Some(version),
        };
        let app = ta.apply(&ctx, &input).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        ta.approve(&ctx, &app.id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        ids.push(id);
    }
    println!("{db}: onboarded {} members in {:.1} s", args.members, started.elapsed().as_secs_f64());
    let ids = Arc::new(ids);
    let anchor = ta.entity_id().to_owned();

    // Resolve through the service: uncached (cache cleared before every call) and cached.
    let service_resolve = |clear: bool| {
        let (t, i, a) = (ta.clone(), ids.clone(), anchor.clone());
        throughput(args.seconds, args.concurrency, move |n| {
            let (t, i, a) = (t.clone(), i.clone(), a.clone());
            async move {
                if clear {
                    t.clear_resolve_cache();
                }
                t.resolve(&i[n % i.len()], &a).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok(())
            }
        })
    };
    let uncached = service_resolve(true).await?;
    let cached = service_resolve(false).await?;
    println!(
        "{db}: resolve through the service, {} callers: uncached {uncached:.0}/s, cached {cached:.0}/s",
        args.concurrency
    );

    // The same over HTTP (reqwest on the same two cores).
    let app = ena_server::app(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(http_listener, app.into_make_service()).await;
    });
    let client = reqwest::Client::new();
    let base = format!("http://{http_addr}");
    let healthz = {
        let (c, b) = (client.clone(), base.clone());
        throughput(args.seconds, args.concurrency, move |_| {
            let (c, b) = (c.clone(), b.clone());
            async move {
                c.get(format!("{b}/healthz")).send().await?.error_for_status()?;
                Ok(())
            }
        })
        .await?
    };
    // Resolve over HTTP; `clear` empties the anchor's cache before each call (uncached).
    let http_resolve = |clear: bool| {
        let (c, b, i, a, t) = (client.clone(), base.clone(), ids.clone(), anchor.clone(), ta.clone());
        throughput(args.seconds, args.concurrency, move |n| {
            let (c, b, i, a, t) = (c.clone(), b.clone(), i.clone(), a.clone(), t.clone());
            async move {
                if clear {
                    t.clear_resolve_cache();
                }
                let url = format!("{b}/federation/v1/resolve?sub={}&trust_anchor={a}", i[n % i.len()]);
                c.get(url).send().await?.error_for_status()?;
                Ok(())
            }
        })
    };
    let http_cached = http_resolve(false).await?;
    let http_uncached = http_resolve(true).await?;
    println!(
        "{db}: over HTTP, {} connections: resolve uncached {http_uncached:.0}/s, cached {http_cached:.0}/s; /healthz {healthz:.0}/s (cached = {:.2}× healthz)",
        args.concurrency,
        http_cached / healthz
    );

    // Chain validation of a 3-level chain (leaf, intermediate, anchor).
    let keys: Vec<SigningKey> =
        (0..3).map(|_| SigningKey::generate()).collect::<Result<_, _>>().map_err(|e| anyhow::anyhow!("{e}"))?;
    let (ta_id, int_id, leaf_id) = ("https://ta.bench", "https://int.bench", "https://leaf.bench");
    let now = ena_core::time::unix_now();
    let jwks = |k: &SigningKey| json!({"keys": [k.public_jwk()]});
    let st = |k: &SigningKey, iss: &str, sub: &str, sub_jwks: Value, extra: Value| {
        let mut c = json!({"iss": iss, "sub": sub, "iat": now, "exp": now + 3600, "jwks": sub_jwks});
        for (k2, v) in extra.as_object().cloned().unwrap_or_default() {
            c[k2] = v;
        }
        k.sign(ENTITY_STATEMENT_TYP, &c)
    };
    let chain = vec![
        st(
            &keys[2],
            leaf_id,
            leaf_id,
            jwks(&keys[2]),
            json!({"metadata": {"openid_relying_party": {"grant_types": ["authorization_code"]}}}),
        ),
        st(
            &keys[1],
            int_id,
            leaf_id,
            jwks(&keys[2]),
            json!({"metadata_policy": {"openid_relying_party": {"contacts": {"add": ["a@b.se"]}}}}),
        ),
        st(
            &keys[0],
            ta_id,
            int_id,
            jwks(&keys[1]),
            json!({"metadata_policy": {"openid_relying_party": {"grant_types": {"subset_of": ["authorization_code", "refresh_token"]}}}}),
        ),
        st(&keys[0], ta_id, ta_id, jwks(&keys[0]), json!({})),
    ];
    let anchor_jwks = jwks(&keys[0]);
    let mut times = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        ena_federation::chain::validate(&chain, ta_id, &anchor_jwks, now).map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed());
    }
    println!("chain validation, 3 levels (4 statements, ES256): median {:.3} ms", median(times));

    // mTLS: handshakes/s (a new connection per request) and requests/s over one kept-alive connection.
    let node_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let node_addr = node_listener.local_addr()?;
    let (cert, key) =
        ta.server_certificate(&["localhost".into(), "127.0.0.1".into()]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tls = ena_server::mtls::server_config(ta.ca_certificate(), &cert, &key).map_err(|e| anyhow::anyhow!(e))?;
    tokio::spawn(ena_server::mtls::serve(
        node_listener,
        tls,
        state.clone(),
        ena_server::app(state.clone()),
        std::future::pending(),
    ));
    let member = ta.member(&ids[0]).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let member_cert = member.certificate.context("bench member certificate")?;
    let url = format!("https://{node_addr}/federation/v1/whoami");
    let builder = || {
        ena_federation::client::node_client_builder(ta.ca_certificate(), &member_cert, &tls_key.serialize_pem())
            .map_err(|e| anyhow::anyhow!(e))
    };
    // Handshakes: a client that keeps no idle connection, so every request connects and handshakes anew.
    let fresh = builder()?.pool_max_idle_per_host(0).build()?;
    let mut handshake_times = Vec::new();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        let t = Instant::now();
        fresh.get(&url).send().await?.error_for_status()?;
        handshake_times.push(t.elapsed());
        n += 1;
    }
    let handshakes = n as f64 / started.elapsed().as_secs_f64();
    let kept = builder()?.build()?;
    kept.get(&url).send().await?.error_for_status()?;
    let started = Instant::now();
    let mut m = 0;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        kept.get(&url).send().await?.error_for_status()?;
        m += 1;
    }
    let kept_rate = m as f64 / started.elapsed().as_secs_f64();
    println!(
        "mTLS node listener: {handshakes:.0} new connections/s (handshake + request, one at a time, median {:.2} ms); {kept_rate:.0} requests/s over one kept-alive connection (one at a time)",
        median(handshake_times)
    );
    store.close().await;
    Ok(())
}
