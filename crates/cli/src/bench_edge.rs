//! `ena bench bare-healthz`: the baseline of the edge's cost. A bare axum server — no middleware, no
//! state — answering `GET /healthz` with the same JSON as `ena serve`, built with the same compiler,
//! flags and dependency versions (it is this binary). `scripts/bench` runs it and `ena serve` side by
//! side under wrk and reports ena's `/healthz` as a ratio to it.

use anyhow::Context;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct BareHealthz {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
    /// Also send the headers ena sends on every answer (the security headers and a `traceparent`), as
    /// constants: a baseline with the same bytes on the wire, so what is left is the edge's own work.
    #[arg(long)]
    same_headers: bool,
}

pub fn run(args: BareHealthz) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        // The same bytes on the wire as ena's answer, written by the handler with no middleware.
        const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let app = if args.same_headers {
            Router::new().route(
                "/healthz",
                get(|| async {
                    let [a, b, c, d] = ena_server::edge::SECURITY_HEADERS;
                    ([a, b, c, d, ("traceparent", TRACEPARENT)], Json(json!({"status": "ok"})))
                }),
            )
        } else {
            Router::new().route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        };
        eprintln!("bare axum /healthz on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
