//! Keeping the node's gateway (`ena_apis::gateway`) in step with the API catalog: the node fetches the
//! terms for the APIs it serves (revalidated by ETag) and reports what the gateway counted, every
//! [`INTERVAL`]. A subscription suspended or a version retired in the catalog takes effect here within
//! that interval; until the first answer the gateway refuses calls to catalog APIs (503) rather than
//! guess.

use std::time::Duration;

use crate::api::NodeState;

/// How often the node asks the catalog for its terms and reports usage.
pub const INTERVAL: Duration = Duration::from_secs(2);

/// One round: fetch the table (unless unchanged since `etag`) and report the usage counted since the
/// last report (sent again next round when the catalog does not take it).
pub async fn step_once(state: &NodeState, etag: &mut Option<String>) -> Result<(), String> {
    if let Some((table, tag)) = state.directory.gateway_table(etag.as_deref()).await? {
        state.gateway.set_table(table);
        *etag = Some(tag);
    }
    // In reports of at most the catalog's 1 000 rows. Rows it refuses (an API it no longer lists for this
    // node) are dropped; rows it could not take now go again next round.
    let rows = state.gateway.usage();
    let mut failed = None;
    for chunk in rows.chunks(1000) {
        match state.directory.report_usage(&state.boot, chunk).await {
            Ok(()) => {}
            Err((why, true)) => {
                tracing::warn!(error = %why, rows = chunk.len(), "the API catalog refused usage rows; dropped")
            }
            Err((why, false)) => {
                state.gateway.unsent(chunk);
                failed = Some(why);
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Run until `stop` when a service of this node serves a catalog API.
pub async fn run_forever(state: NodeState, mut stop: tokio::sync::watch::Receiver<bool>) {
    if !state.services.iter().any(|s| s.api.is_some()) {
        return;
    }
    let mut etag = None;
    loop {
        if let Err(e) = step_once(&state, &mut etag).await {
            tracing::warn!(error = %e, "the gateway could not reach the API catalog; trying again");
        }
        tokio::select! {
            () = tokio::time::sleep(INTERVAL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
