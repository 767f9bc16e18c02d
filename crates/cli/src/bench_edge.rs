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
}

pub fn run(args: BareHealthz) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let app = Router::new().route("/healthz", get(|| async { Json(json!({"status": "ok"})) }));
        eprintln!("bare axum /healthz on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
