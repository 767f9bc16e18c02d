//! Handing this node's events about persons over to the central log, so Min profil shows each message
//! and call about a person however many nodes it passed (`ena_audit::forward` is the central side).
//!
//! The node reads its own log from where it last stopped (`audit_forward_cursor`), sends the events that
//! name data subjects in batches, and moves the cursor only once the central log has answered. A batch
//! whose answer was lost is sent again; the central log recognises what it already holds. Nothing is
//! lost across restarts or outages: the cursor waits where it is.

use std::time::Duration;

use ena_audit::AuditLog;
use ena_audit::forward::{ForwardedEvent, MAX_FORWARDED};
use ena_audit::repo;

use crate::directory::HttpDirectory;

/// Most bytes of entries in one hand-over.
const MAX_BATCH_BYTES: usize = 512 * 1024;

/// How often the node looks for new events when it has handed everything over.
pub const INTERVAL: Duration = Duration::from_secs(2);

/// Hand over what is new, one batch: the number of the node's log entries read (0 when there was
/// nothing new).
pub async fn hand_over_once(log: &AuditLog, directory: &HttpDirectory) -> Result<u64, String> {
    let store = log.store();
    let next = repo::forward_cursor(store).await.map_err(|e| e.to_string())?;
    let size = log.size().await.map_err(|e| e.to_string())?;
    if next >= size {
        return Ok(0);
    }
    let mut to = size.min(next + MAX_FORWARDED as u64);
    let mut events = Vec::new();
    let mut bytes = 0;
    for leaf in repo::leaves(store, next, to).await.map_err(|e| e.to_string())? {
        // A batch stays well below the central's body limit (1 MiB by default): it stops before the entry
        // that would pass MAX_BATCH_BYTES, which goes first in the next.
        if bytes + leaf.data.len() > MAX_BATCH_BYTES && !events.is_empty() {
            to = leaf.idx as u64;
            break;
        }
        let event: ena_audit::AuditEvent =
            serde_json::from_slice(&leaf.data).map_err(|e| format!("leaf {}: {e}", leaf.idx))?;
        if !event.data_subjects.is_empty() {
            bytes += leaf.data.len() + 32;
            events.push(ForwardedEvent { index: leaf.idx as u64, event });
        }
    }
    if !events.is_empty() {
        let answer = directory.hand_over(log.origin(), &events).await?;
        for r in &answer.refused {
            tracing::warn!(index = r.index, reason = %r.reason, "the central log refused an event of this node's log");
        }
        tracing::debug!(accepted = answer.accepted, repeated = answer.repeated, "events handed over");
    }
    repo::set_forward_cursor(store, to).await.map_err(|e| e.to_string())?;
    Ok(to - next)
}

/// Hand over until `stop`: at once while there is more, then every [`INTERVAL`].
pub async fn hand_over_forever(
    log: AuditLog,
    directory: std::sync::Arc<HttpDirectory>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let wait = match hand_over_once(&log, &directory).await {
            Ok(0) => INTERVAL,
            Ok(_) => Duration::ZERO,
            Err(e) => {
                tracing::warn!(error = %e, "handing events over to the central log failed; trying again");
                INTERVAL
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
