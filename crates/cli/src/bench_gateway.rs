//! `ena bench apis`' gateway figures: what Skatteverket's node costs per call to a catalog API it serves
//! — the whole node process (TLS, the consumer node's identity, the gateway's version, subscription,
//! rate and quota checks, the decision point, forwarding, the response proof, the call logged) — and the
//! latency it adds to calling the service directly.
//!
//! The central instance and Kommunen's node run in this process; Skatteverket's node runs as its own
//! process (`ena node run`), so its CPU time is its own: utime + stime from `/proc/<pid>/stat` (what
//! getrusage reports for it) before and after the load, divided by the calls. The load is Kommunen's
//! node's side of a call made here (its certificate, its request hash), so Kommunen's node's own work is
//! not counted.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use serde_json::json;

use crate::bench_kit::percentile;

/// Clock ticks per second in `/proc/<pid>/stat` (USER_HZ: 100 on Linux).
const USER_HZ: f64 = 100.0;

fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("/proc (Linux only)")?;
    // Fields after the command name (which may hold spaces, so after the last ')'): utime is the 12th,
    // stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    Ok((tick(11) + tick(12)) / USER_HZ)
}

/// Kill the node process when the bench ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(calls: usize, concurrency: usize) -> anyhow::Result<()> {
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
    // The agency's own service: a small JSON answer at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let upstream = listener.local_addr()?;
    let service = axum::Router::new().route(
        "/orders/v1/orders",
        axum::routing::get(|| async {
            axum::Json(json!({"items": [{"id": "1", "status": "placed"}], "hasMore": false}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, service).await });

    let (skatt_stop_tx, skatt_stop) = tokio::sync::watch::channel(false);
    let (skatt_port, kommun_port) = (crate::local_federation::peer_port()?, crate::local_federation::peer_port()?);
    let produces =
        format!("\n[[service]]\nid = \"orders\"\nupstream = \"http://{upstream}\"\napi = \"bestallningar\"\n");
    let skatt = crate::local_federation::start_node(
        &central,
        "skatteverket.localhost",
        skatt_port,
        "202100-5448",
        "Skatteverket",
        &produces,
        &[],
        skatt_stop,
    )
    .await?;
    let kommun = crate::local_federation::start_node(
        &central,
        "kommun.localhost",
        kommun_port,
        "212000-0142",
        "Exempelkommunen",
        "",
        &[],
        stop.clone(),
    )
    .await?;

    // The API in the catalog, published, with a plan no load here reaches and Kommunen subscribed.
    let catalog = &central.state.catalog;
    let ctx = ena_audit::Context::system("bench");
    let api: ena_apis::catalog::ApiInput =
        serde_json::from_value(json!({"id": "bestallningar", "name": "Beställningar",
        "contact": "api@skatteverket.se", "node": skatt.entity_id, "service": "orders"}))?;
    let fail = |e: ena_apis::catalog::CatalogError| anyhow!("{e:?}");
    catalog.register(&ctx, "162021005448", api).await.map_err(fail)?;
    catalog
        .add_version(&ctx, "162021005448", "bestallningar", crate::bench_apis::BASE.as_bytes())
        .await
        .map_err(fail)?;
    catalog.publish(&ctx, "162021005448", "bestallningar", "1.2.0").await.map_err(fail)?;
    let plan: ena_apis::plans::PlanInput =
        serde_json::from_value(json!({"id": "bench", "name": "Bench", "ratePerSecond": 100_000, "burst": 1_000_000}))?;
    catalog.add_plan(&ctx, "162021005448", "bestallningar", plan).await.map_err(fail)?;
    let sub: ena_apis::plans::SubscriptionInput =
        serde_json::from_value(json!({"plan": "bench", "application": "212000-0142"}))?;
    catalog.subscribe(&ctx, "162120000142", &[], "bestallningar", sub).await.map_err(fail)?;

    // Skatteverket's node again, now as its own process on the same data directory.
    let _ = skatt_stop_tx.send(true);
    skatt.task.await??;
    let exe = std::env::current_exe()?;
    let child = Child(
        std::process::Command::new(exe)
            .args(["node", "run", "--data-dir"])
            .arg(&skatt.dir)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()?,
    );
    let pid = child.0.id();
    let ready = skatt.dir.join(ena_node::READY_FILE);
    for _ in 0..400 {
        if ready.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::ensure!(ready.exists(), "Skatteverket's node process did not start");

    // Kommunen's node's side of a call: its certificate, its headers, its request hash.
    let read = |f: &str| std::fs::read_to_string(kommun.dir.join(f));
    let client = ena_node::transport::client(&read("ca.crt")?, &read("tls.crt")?, &read("tls.key")?)
        .map_err(|e| anyhow!("{e}"))?;
    let url = format!("https://skatteverket.localhost:{skatt_port}/node/v1/calls/orders/orders/v1/orders");
    let hash = ena_messaging::calls::request_hash("GET", "/orders/v1/orders", "", "162120000142", b"");
    let node = kommun.entity_id.clone();
    let call = move |client: reqwest::Client| {
        let (url, hash, node) = (url.clone(), hash.clone(), node.clone());
        async move {
            client
                .get(url)
                .header("ena-call-id", uuid::Uuid::now_v7().to_string())
                .header("ena-consumer", "162120000142")
                .header("ena-consumer-node", node)
                .header("ena-request-hash", hash)
                .send()
                .await
        }
    };
    // Until the node has the catalog's terms (every 2 s), then warm connections and caches.
    let mut up = false;
    for _ in 0..100 {
        if call(client.clone()).await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(up, "the gateway never let the subscribed call through");
    for _ in 0..200 {
        call(client.clone()).await?.error_for_status()?;
    }

    // Latency, one call at a time: through the gateway and straight to the service, interleaved.
    let direct = reqwest::Client::new();
    let direct_url = format!("http://{upstream}/orders/v1/orders");
    let samples = (calls / 10).clamp(200, 5_000);
    let (mut via, mut straight, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..samples {
        let t = Instant::now();
        let r = call(client.clone()).await?.error_for_status()?;
        via.push(t.elapsed());
        let timing = r.headers().get("server-timing").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let dur = timing.split("dur=").nth(1).and_then(|d| d.parse::<f64>().ok()).unwrap_or_default();
        added.push(Duration::from_secs_f64(dur / 1000.0));
        r.bytes().await?;
        let t = Instant::now();
        direct.get(&direct_url).send().await?.error_for_status()?.bytes().await?;
        straight.push(t.elapsed());
    }
    for v in [&mut via, &mut straight, &mut added] {
        v.sort_unstable();
    }
    let (p_via, p_direct) = (percentile(&via, 0.5), percentile(&straight, 0.5));

    // CPU per call under load: `concurrency` calls in flight, the node process's CPU before and after.
    let before = cpu_seconds(pid)?;
    let started = Instant::now();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, client, call) = (next.clone(), client.clone(), call.clone());
        tasks.push(tokio::spawn(async move {
            let mut failed = 0usize;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < calls {
                match call(client.clone()).await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                    }
                    _ => failed += 1,
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += t.await?;
    }
    let wall = started.elapsed();
    let cpu = cpu_seconds(pid)? - before;
    anyhow::ensure!(failed == 0, "{failed} of {calls} calls under load were not answered 200");
    let per_call = cpu / calls as f64 * 1e6;
    println!(
        "gateway (Skatteverket's node as its own process; subscription, plan, token bucket, decision point, proof, call logged):"
    );
    println!(
        "  CPU per call: {per_call:.1} µs ({cpu:.2} s CPU for {calls} calls, {concurrency} in flight, {:.0} calls/s) → {:.0} calls/s per vCPU (goal ≤ 125 µs; Kong ≈ 6 075/s per vCPU)",
        calls as f64 / wall.as_secs_f64(),
        1e6 / per_call
    );
    println!(
        "  latency p50: {p_via:.3} ms through the gateway (mTLS) vs {p_direct:.3} ms straight to the service → adds {:.3} ms (goal ≤ 1 ms); the node's own Server-Timing p50 {:.3} ms, p95 {:.3} ms ({samples} calls each)",
        p_via - p_direct,
        percentile(&added, 0.5),
        percentile(&added, 0.95)
    );
    drop(child);
    Ok(())
}
