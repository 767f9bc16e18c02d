//! `ena bench apis`: what API-hantering costs. So far the lint and the change report of a large OpenAPI
//! document (about 1 MB by default): the corpus's base API with as many resources added as the size
//! asks, each with its operations, parameters, responses and schema; then the gateway's CPU per call and
//! added latency (`bench_gateway.rs`).

use std::time::Instant;

use serde_json::{Value, json};

use crate::bench_kit::{ms, percentile};

#[derive(Debug, clap::Args)]
pub struct ApisBench {
    /// The document's size in bytes (JSON), about.
    #[arg(long, default_value_t = 1_000_000)]
    pub bytes: usize,
    /// Timed runs of each (the median is the figure).
    #[arg(long, default_value_t = 21)]
    pub runs: usize,
    /// Calls through the gateway for its CPU figure (0: no gateway figures).
    #[arg(long, default_value_t = 20_000)]
    pub gateway_calls: usize,
    /// Calls in flight at once for the CPU figure.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
}

pub(crate) const BASE: &str = include_str!("../../apis/corpus/base.json");

/// The base API grown to about `bytes`: resource `r{n}` copies the orders resource (list, place, read).
fn large_document(bytes: usize) -> anyhow::Result<Value> {
    let mut doc: Value = serde_json::from_str(BASE)?;
    let list = doc["paths"]["/orders/v1/orders"].clone();
    let one = doc["paths"]["/orders/v1/orders/{orderId}"].clone();
    let order = doc["components"]["schemas"]["Order"].clone();
    let mut n = 0;
    while serde_json::to_vec(&doc)?.len() < bytes {
        for _ in 0..50 {
            n += 1;
            let name = format!("resource-{n}");
            let schema = format!("Resource{n}");
            let text = |v: &Value| {
                v.to_string().replace("#/components/schemas/Order\"", &format!("#/components/schemas/{schema}\""))
            };
            doc["paths"][format!("/orders/v1/{name}")] = serde_json::from_str(&text(&list))?;
            doc["paths"][format!("/orders/v1/{name}/{{orderId}}")] = serde_json::from_str(&text(&one))?;
            let mut s = order.clone();
            s["properties"][format!("field{n}")] =
                json!({"type": "string", "maxLength": 200, "description": "A field of this resource"});
            doc["components"]["schemas"][schema] = s;
        }
    }
    Ok(doc)
}

pub fn run(args: ApisBench) -> anyhow::Result<()> {
    let doc = large_document(args.bytes)?;
    let text = serde_json::to_vec(&doc)?;
    let yaml = yaml_serde::to_string(&doc)?;
    let operations = ena_apis::document::operations(&doc).len();
    println!(
        "ena bench apis — a {:.2} MB OpenAPI document ({operations} operations; {:.2} MB as YAML), {} runs each",
        text.len() as f64 / 1e6,
        yaml.len() as f64 / 1e6,
        args.runs
    );
    let mut next = doc.clone();
    next["info"]["version"] = json!("1.3.0");
    next["paths"].as_object_mut().map(|p| p.remove("/orders/v1/orders/{orderId}"));
    let timed = |f: &dyn Fn() -> usize| {
        let mut times = Vec::with_capacity(args.runs);
        let mut last = 0;
        for _ in 0..args.runs {
            let t = Instant::now();
            last = f();
            times.push(t.elapsed());
        }
        times.sort_unstable();
        (percentile(&times, 0.5), percentile(&times, 0.95), ms(times[0]), last)
    };
    let report = |what: &str, (p50, p95, min, n): (f64, f64, f64, usize), unit: &str| {
        println!("{what}: p50 {p50:.1} ms, p95 {p95:.1} ms, min {min:.1} ms ({n} {unit})");
    };
    report(
        "parse (JSON)",
        timed(&|| ena_apis::parse(&text).map_or(0, |(d, _)| d["paths"].as_object().map_or(0, |p| p.len()))),
        "paths",
    );
    report(
        "parse (YAML)",
        timed(&|| ena_apis::parse(yaml.as_bytes()).map_or(0, |(d, _)| d["paths"].as_object().map_or(0, |p| p.len()))),
        "paths",
    );
    report("lint", timed(&|| ena_apis::lint(&doc).findings.len()), "findings");
    report(
        "parse + lint (what POST /apis/v1/lint does)",
        timed(&|| ena_apis::parse(&text).map_or(0, |(d, _)| ena_apis::lint(&d).findings.len())),
        "findings",
    );
    report("diff against a next version", timed(&|| ena_apis::diff(&doc, &next).changes.len()), "changes");
    if args.gateway_calls > 0 {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(crate::bench_gateway::run(args.gateway_calls, args.concurrency.max(1)))?;
    }
    Ok(())
}
