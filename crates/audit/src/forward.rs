//! Member nodes' events in the central log. A node keeps its own log (messages it sent and received,
//! calls it served); the events of it that name data subjects are handed over to the central log, so
//! Min profil → Vem har läst mina uppgifter shows them without any register opting in.
//!
//! The hand-over is exactly-once without a shared transaction: the central copy of a node's event has
//! the object `node-log-entry` / `<origin>#<index>` (the leaves' indexed object column), so a batch sent
//! again — the node did not hear the answer — finds what it already gave and adds only the rest. Batches
//! from one source are taken one at a time (on SQLite a lock in the process, on PostgreSQL an advisory lock across instances), so
//! two central instances cannot both add the same event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::event::{AuditEvent, ObjectRef};
use crate::log::{AuditLog, LogError};
use crate::repo;

/// Most events one hand-over takes.
pub const MAX_FORWARDED: usize = 500;

/// Held while a hand-over is taken on SQLite, whose database one process owns (on PostgreSQL each
/// instance's log has its own, `AuditLog::source_lock`, and the advisory lock orders the instances).
static TAKING_OVER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The object type of a node event's central copy.
pub const OBJECT_KIND: &str = "node-log-entry";

/// One event of a node's log, at its index there.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForwardedEvent {
    pub index: u64,
    pub event: AuditEvent,
}

/// What the central log did with a hand-over.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TakenOver {
    /// Events added to the central log now.
    pub accepted: u64,
    /// Events it already held from an earlier hand-over (not added again).
    pub repeated: u64,
    /// Events it will not hold, each with why (not added; the node should not send them again).
    pub refused: Vec<RefusedEvent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefusedEvent {
    pub index: u64,
    pub reason: String,
}

/// The central log's copy of event `index` of the log `origin`, handed over by organisation `reporter`:
/// the event as the node logged it, its object replaced by the pointer back (the original object and the
/// reporter in `details`), so anyone can look the original up in the node's log and check its proof.
pub fn central_copy(origin: &str, reporter: &str, index: u64, mut event: AuditEvent) -> AuditEvent {
    let id = entry_id(origin, index, &event);
    let mut details = event.details.take().unwrap_or_default();
    if let Some(o) = event.object.take() {
        details.insert("object".into(), format!("{}:{}", o.kind, o.id));
    }
    details.insert("sourceLog".into(), origin.to_owned());
    details.insert("sourceIndex".into(), index.to_string());
    details.insert("reportedBy".into(), reporter.to_owned());
    event.details = Some(details);
    // A node's own systems act for its organisation: the person sees which one.
    event.actor.organisation.get_or_insert_with(|| reporter.to_owned());
    event.object = Some(ObjectRef { kind: OBJECT_KIND.into(), id });
    event
}

/// The central copy's object id: the source log, the index there, and the start of the entry's leaf
/// hash — the same entry sent again has the same id; another entry at that index (a node reinstalled
/// with a new log, a host taken over by a new member) does not, so it is not mistaken for a repeat.
fn entry_id(origin: &str, index: u64, event: &AuditEvent) -> String {
    let hash = crate::merkle::leaf_hash(&event.canonical_bytes());
    format!("{origin}#{index}:{}", ena_core::hex(&hash[..8]))
}

/// Actions in which a node names another organisation as the actor: one it verified itself — the consumer
/// of a call it served (by the caller's federation certificate) or the sender of a message it received (by
/// the envelope's signature). Any other event of a node is its own organisation's doing.
const COUNTERPART_ACTIONS: [&str; 3] = ["calls.served", "calls.refused", "messages.received"];

/// Why an event of a node cannot go into the central log, if it cannot; its data subjects normalised.
fn check(event: &mut AuditEvent, reporter: &str) -> Option<String> {
    if let Some(o) = &event.actor.organisation
        && o != reporter
        && !COUNTERPART_ACTIONS.contains(&event.action.as_str())
    {
        return Some(format!(
            "actor.organisation: a node reports its own organisation's doings ({reporter}), or a counterpart it verified in {}",
            COUNTERPART_ACTIONS.join(", ")
        ));
    }
    if event.data_subjects.is_empty() {
        return Some("names no data subject (only events about persons are handed over)".into());
    }
    if event.action.trim().is_empty() || event.action.starts_with("alert.") {
        return Some("action: must be non-empty and not an alert".into());
    }
    if ena_core::Timestamp::parse_rfc3339(&event.time).is_none() {
        return Some("time: must be an RFC 3339 date-time".into());
    }
    if event
        .details
        .as_ref()
        .is_some_and(|d| ["sourceLog", "sourceIndex", "reportedBy"].iter().any(|k| d.contains_key(*k)))
    {
        return Some("details: sourceLog, sourceIndex and reportedBy are set by the central log".into());
    }
    for subject in &mut event.data_subjects {
        match ena_core::PersonId::parse(subject) {
            Ok(id) => *subject = id.as_str().to_owned(),
            // The number itself is not repeated: an answer may be logged.
            Err(e) => return Some(format!("dataSubjects: {e}")),
        }
    }
    None
}

impl AuditLog {
    /// Take over `events` of the log `origin`, handed over by `reporter` (the organisation whose node
    /// keeps that log): each event is added once, refused with its reason, or recognised as already held.
    pub async fn take_over(
        &self,
        origin: &str,
        reporter: &str,
        events: Vec<ForwardedEvent>,
    ) -> Result<TakenOver, LogError> {
        if events.len() > MAX_FORWARDED {
            return Err(LogError::BadParameter {
                name: "events",
                value: events.len().to_string(),
                reason: format!("at most {MAX_FORWARDED} events at once"),
            });
        }
        let mut out = TakenOver::default();
        let mut fresh: BTreeMap<u64, AuditEvent> = BTreeMap::new();
        for ForwardedEvent { index, mut event } in events {
            match check(&mut event, reporter) {
                Some(reason) => out.refused.push(RefusedEvent { index, reason }),
                None if fresh.contains_key(&index) => {
                    out.refused.push(RefusedEvent { index, reason: "index: given twice in this batch".into() })
                }
                None => {
                    fresh.insert(index, event);
                }
            }
        }
        if fresh.is_empty() {
            return Ok(out);
        }
        // The locked part runs as its own task: if the caller goes away (a timeout), the appends it queued
        // still finish under the lock, so a retry cannot find them missing and add them again.
        let (log, origin, reporter) = (self.clone(), origin.to_owned(), reporter.to_owned());
        let (accepted, repeated) = tokio::spawn(async move { log.take_over_locked(&origin, &reporter, fresh).await })
            .await
            .map_err(|e| LogError::Corrupt(format!("taking over: {e}")))??;
        (out.accepted, out.repeated) = (accepted, repeated);
        Ok(out)
    }

    /// Add what of `fresh` is not held yet, one source at a time: (added, already held).
    async fn take_over_locked(
        &self,
        origin: &str,
        reporter: &str,
        fresh: BTreeMap<u64, AuditEvent>,
    ) -> Result<(u64, u64), LogError> {
        // One hand-over at a time per instance (so waiting costs at most one connection each), and on
        // PostgreSQL one per source across instances (the advisory lock, held until the transaction ends).
        let _one_at_a_time = match self.store() {
            ena_store::Store::Sqlite(..) => TAKING_OVER.lock().await,
            ena_store::Store::Postgres(_) => self.source_lock().lock().await,
        };
        let mut lock = repo::lock_source(self.store(), origin).await?;
        let ids: Vec<String> = fresh.iter().map(|(i, e)| entry_id(origin, *i, e)).collect();
        let held = repo::objects_present(self.store(), lock.as_mut(), &ids).await?;
        let copies: Vec<AuditEvent> = fresh
            .into_iter()
            .filter(|(i, e)| !held.contains(&entry_id(origin, *i, e)))
            .map(|(i, e)| central_copy(origin, reporter, i, e))
            .collect();
        let added = copies.len() as u64;
        if !copies.is_empty() {
            self.append(copies).await?;
        }
        if let Some(tx) = lock {
            tx.commit().await?;
        }
        Ok((added, held.len() as u64))
    }
}
