//! The transparency log: one appender task per log commits batches of events (group commit), each batch
//! in one transaction — one round trip on its own connection — with its leaves, new subtree nodes and a
//! signed checkpoint; readers build proofs from stored nodes with one query.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ena_store::Store;
use tokio::sync::{mpsc, oneshot};

use crate::event::AuditEvent;
use crate::merkle::{self, Hash, NodeKey};
use crate::note::{Checkpoint, NoteSigner};
use crate::repo::{self, Batch, EventFilter, LeafRow, RepoError};
use crate::rules::{Evaluator, RuleSet};

/// Most events committed in one transaction.
const MAX_BATCH: usize = 4096;
/// How often the appender yields to let ready writers enqueue before it commits a batch.
const GATHER_YIELDS: usize = 4;
/// Longest the appender waits for a batch to fill to the size of the last one.
const LINGER: std::time::Duration = std::time::Duration::from_millis(1);
/// Commit attempts before an append fails because other processes keep appending first.
const MAX_ATTEMPTS: u32 = 100;
/// How long the appender keeps its own database connection with nothing to append.
const IDLE: std::time::Duration = std::time::Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A request parameter is out of range; `name` is the parameter.
    #[error("{name}: {reason}")]
    BadParameter { name: &'static str, value: String, reason: String },
    #[error("no entry at index {0}")]
    NoEntry(u64),
    #[error("the log is shutting down")]
    Closed,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn bad(name: &'static str, value: impl ToString, reason: impl Into<String>) -> LogError {
    LogError::BadParameter { name, value: value.to_string(), reason: reason.into() }
}

/// What an append returns: where the events went and the checkpoint that covers them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub first_index: u64,
    pub count: u64,
    pub tree_size: u64,
    pub checkpoint: String,
}

/// Where every block's service functions send their audit events.
pub trait AuditSink: Send + Sync {
    /// Append `events`; resolves once they are durable and covered by a signed checkpoint.
    fn record(&self, events: Vec<AuditEvent>) -> Pin<Box<dyn Future<Output = Result<Appended, LogError>> + Send + '_>>;
}

struct Request {
    events: Vec<AuditEvent>,
    /// The events' leaf rows, prepared by the caller (canonical bytes and hashes in parallel, not in the
    /// single appender task).
    leaves: Vec<(LeafRow, Hash)>,
    reply: Option<oneshot::Sender<Result<Appended, LogError>>>,
}

fn prepare(events: &[AuditEvent]) -> Vec<(LeafRow, Hash)> {
    events
        .iter()
        .map(|e| {
            let row = leaf_row(e);
            let hash = merkle::leaf_hash(&row.data);
            (row, hash)
        })
        .collect()
}

/// A handle on the log; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    store: Store,
    signer: Arc<NoteSigner>,
    queue: mpsc::Sender<Request>,
    /// The size this process last committed or read; a request beyond it asks the database.
    known_size: Arc<std::sync::atomic::AtomicU64>,
    /// Held while another log's entries are taken over on PostgreSQL (`forward.rs`): one hand-over at a
    /// time per instance, so waiting for the advisory lock holds at most one connection.
    source_lock: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("origin", &self.signer.name()).finish()
    }
}

impl AuditSink for AuditLog {
    fn record(&self, events: Vec<AuditEvent>) -> Pin<Box<dyn Future<Output = Result<Appended, LogError>> + Send + '_>> {
        Box::pin(self.append(events))
    }
}

/// One stored entry, with its exact leaf bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub index: u64,
    pub data: Vec<u8>,
    pub event: AuditEvent,
    pub leaf_hash: Hash,
}

impl AuditLog {
    /// Open the log on `store` (migrated), signing with `signer` (whose name is the log's origin), and
    /// start its appender task.
    pub async fn open(store: Store, signer: NoteSigner, rules: RuleSet) -> Result<AuditLog, LogError> {
        let state = Appender::load(&store).await?;
        let signer = Arc::new(signer);
        let known_size = Arc::new(std::sync::atomic::AtomicU64::new(state.size));
        let (queue, rx) = mpsc::channel(16 * 1024);
        let appender = Appender {
            store: store.clone(),
            signer: signer.clone(),
            state,
            rules: Evaluator::new(rules),
            known_size: known_size.clone(),
            writer: None,
        };
        tokio::spawn(appender.run(rx));
        Ok(AuditLog { store, signer, queue, known_size, source_lock: Arc::default() })
    }

    pub(crate) fn source_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.source_lock
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Sign an arbitrary checkpoint with this log's key: a misbehaving log, for witness tests.
    #[cfg(test)]
    pub(crate) fn sign_foreign_checkpoint(&self, size: u64, root: Hash) -> String {
        self.signer.sign_note(&Checkpoint { origin: self.origin().into(), size, root }.body())
    }

    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    pub fn verifier_key(&self) -> String {
        self.signer.verifier_key()
    }

    /// Append events; returns once they are committed with a checkpoint covering them.
    pub async fn append(&self, events: Vec<AuditEvent>) -> Result<Appended, LogError> {
        if events.is_empty() {
            return Err(bad("events", 0, "at least one event is needed"));
        }
        let (tx, rx) = oneshot::channel();
        let leaves = prepare(&events);
        self.queue.send(Request { events, leaves, reply: Some(tx) }).await.map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    pub async fn size(&self) -> Result<u64, LogError> {
        let size = repo::size(&self.store).await?;
        self.known_size.fetch_max(size, std::sync::atomic::Ordering::Relaxed);
        Ok(size)
    }

    /// A size at least `wanted` if the log has one: the cached size when it suffices (sizes only grow),
    /// else the database's (another process may have appended).
    async fn size_for(&self, wanted: u64) -> Result<u64, LogError> {
        let known = self.known_size.load(std::sync::atomic::Ordering::Relaxed);
        if wanted <= known { Ok(known) } else { self.size().await }
    }

    /// The latest signed checkpoint (a checkpoint of the empty tree before the first append).
    pub async fn checkpoint(&self) -> Result<String, LogError> {
        match repo::latest_checkpoint(&self.store).await? {
            Some(c) => Ok(c.note),
            None => Ok(self
                .signer
                .sign_note(&Checkpoint { origin: self.origin().into(), size: 0, root: merkle::empty_root() }.body())),
        }
    }

    pub async fn entry(&self, index: u64) -> Result<Entry, LogError> {
        let leaf =
            repo::leaves(&self.store, index, index.saturating_add(1)).await?.pop().ok_or(LogError::NoEntry(index))?;
        to_entry(leaf)
    }

    async fn fetch(&self, plan: &merkle::ProofPlan) -> Result<Vec<Hash>, LogError> {
        let found: HashMap<NodeKey, Hash> = repo::nodes(&self.store, &plan.keys()).await?.into_iter().collect();
        merkle::assemble(plan, |k| found.get(&k).copied()).map_err(|e| LogError::Corrupt(e.to_string()))
    }

    /// Inclusion proof of `index` in the tree of `tree_size` (which must not exceed the current size).
    pub async fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, LogError> {
        let size = self.size_for(tree_size).await?;
        if tree_size == 0 || tree_size > size {
            return Err(bad("treeSize", tree_size, format!("must be between 1 and the current tree size {size}")));
        }
        if index >= tree_size {
            return Err(bad("index", index, format!("must be below treeSize {tree_size}")));
        }
        let plan = merkle::inclusion_plan(index, tree_size).map_err(|e| bad("index", index, e.to_string()))?;
        self.fetch(&plan).await
    }

    /// Consistency proof between tree sizes `from` and `to`.
    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, LogError> {
        let size = self.size_for(to).await?;
        if from == 0 {
            return Err(bad("from", from, "must be at least 1 (nothing is proven about the empty tree)"));
        }
        if to > size {
            return Err(bad("to", to, format!("must not exceed the current tree size {size}")));
        }
        if from > to {
            return Err(bad("from", from, format!("must not exceed to ({to})")));
        }
        let plan = merkle::consistency_plan(from, to).map_err(|e| bad("from", from, e.to_string()))?;
        self.fetch(&plan).await
    }

    /// The root of the tree of `size` leaves (from its stored frontier).
    pub async fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        if size == 0 {
            return Ok(merkle::empty_root());
        }
        let keys = merkle::frontier(size);
        let found: HashMap<NodeKey, Hash> = repo::nodes(&self.store, &keys).await?.into_iter().collect();
        let hashes: Option<Vec<Hash>> = keys.iter().map(|k| found.get(k).copied()).collect();
        merkle::fold(&hashes.ok_or_else(|| LogError::Corrupt(format!("frontier of size {size} incomplete")))?)
            .ok_or_else(|| LogError::Corrupt("empty frontier".into()))
    }

    /// Events matching `filter`, newest first.
    pub async fn query(&self, filter: &EventFilter, limit: u32, offset: u64) -> Result<Vec<Entry>, LogError> {
        repo::query(&self.store, filter, limit, offset).await?.into_iter().map(to_entry).collect()
    }

    /// What a person may see of the events about them ("who read my data"): those naming `subject` as
    /// data subject, done by someone else, and not restricted — or restricted with a reveal date that has
    /// passed (`now`, unix seconds). Newest first; `limit` entries are read from `offset` and those shown
    /// kept, so a page may hold fewer.
    pub async fn about(&self, subject: &str, now: i64, limit: u32, offset: u64) -> Result<Vec<Entry>, LogError> {
        let entries: Vec<Entry> = repo::about(&self.store, subject, limit, offset)
            .await?
            .into_iter()
            .map(to_entry)
            .collect::<Result<_, _>>()?;
        Ok(entries
            .into_iter()
            .filter(|e| {
                !e.event.restricted
                    || e.event
                        .reveal_at
                        .as_deref()
                        .and_then(ena_core::Timestamp::parse_rfc3339)
                        .is_some_and(|r| r.unix() <= now)
            })
            .collect())
    }
}

fn to_entry(leaf: repo::StoredLeaf) -> Result<Entry, LogError> {
    let event = serde_json::from_slice(&leaf.data).map_err(|e| LogError::Corrupt(format!("leaf {}: {e}", leaf.idx)))?;
    Ok(Entry { index: leaf.idx as u64, leaf_hash: merkle::leaf_hash(&leaf.data), data: leaf.data, event })
}

/// The committed state the appender extends: size and the right edge of the tree.
struct State {
    size: u64,
    frontier: Vec<(NodeKey, Hash)>,
}

struct Appender {
    store: Store,
    signer: Arc<NoteSigner>,
    state: State,
    rules: Evaluator,
    known_size: Arc<std::sync::atomic::AtomicU64>,
    /// The appender's own connection, taken on first use and replaced after a database error.
    writer: Option<repo::Writer>,
}

impl Appender {
    async fn load(store: &Store) -> Result<State, LogError> {
        let size = repo::size(store).await?;
        let keys = merkle::frontier(size);
        let found: HashMap<NodeKey, Hash> = repo::nodes(store, &keys).await?.into_iter().collect();
        let frontier = keys
            .into_iter()
            .map(|k| {
                found
                    .get(&k)
                    .map(|h| (k, *h))
                    .ok_or_else(|| LogError::Corrupt(format!("missing node {k:?} of the frontier")))
            })
            .collect::<Result<_, _>>()?;
        Ok(State { size, frontier })
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut pending_alerts: Vec<AuditEvent> = Vec::new();
        let mut gather_target = 1;
        loop {
            let mut batch: Vec<Request> = Vec::new();
            if !pending_alerts.is_empty() {
                let events = std::mem::take(&mut pending_alerts);
                batch.push(Request { leaves: prepare(&events), events, reply: None });
            } else {
                // Keep the writer connection while busy; give it back to the pool when idle, so that
                // closing the pool (shutdown) does not wait for it.
                let next = match tokio::time::timeout(IDLE, rx.recv()).await {
                    Ok(next) => next,
                    Err(_) => {
                        drop(self.writer.take());
                        rx.recv().await
                    }
                };
                match next {
                    Some(first) => batch.push(first),
                    None => return,
                }
            }
            // Group commit: take whatever else is waiting, up to the batch limit. Writers just answered by
            // the previous commit are about to send their next event; yielding a few times lets them run
            // first, so a batch holds every ready writer instead of the few that were quickest. When no
            // one else is runnable, a yield returns at once: a lone writer pays nothing.
            let mut count: usize = batch.iter().map(|r| r.events.len()).sum();
            let mut yields = 0;
            while count < MAX_BATCH {
                match rx.try_recv() {
                    Ok(more) => {
                        count += more.events.len();
                        batch.push(more);
                    }
                    Err(_) if yields < GATHER_YIELDS => {
                        yields += 1;
                        tokio::task::yield_now().await;
                    }
                    Err(_) => break,
                }
            }
            // Under load, writers answered together come back spread over a round trip (HTTP clients);
            // wait up to LINGER for as many requests as the last batch had, so the batch does not shrink
            // into many small commits. A lone writer's last batch had one request: no wait.
            if batch.len() < gather_target {
                let deadline = tokio::time::Instant::now() + LINGER;
                while batch.len() < gather_target && count < MAX_BATCH {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(more)) => {
                            count += more.events.len();
                            batch.push(more);
                        }
                        _ => break,
                    }
                }
            }
            gather_target = batch.iter().filter(|r| r.reply.is_some()).count();
            tracing::trace!(requests = gather_target, events = count, "committing a batch");
            match self.commit(&batch).await {
                Ok(appended) => {
                    // Answer the writers first: the rules cannot change what was committed.
                    for (request, result) in batch.iter_mut().zip(appended) {
                        if let Some(reply) = request.reply.take() {
                            let _ = reply.send(Ok(result));
                        }
                    }
                    pending_alerts = self.rules.observe(batch.iter().flat_map(|r| r.events.iter()));
                    for alert in &pending_alerts {
                        tracing::warn!(alert = %alert.log_summary(), "audit follow-up rule raised an alert");
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "audit append failed; reloading the log head");
                    let message = error.to_string();
                    for request in batch {
                        if let Some(reply) = request.reply {
                            let _ = reply.send(Err(LogError::Corrupt(format!("append failed: {message}"))));
                        }
                    }
                    match Appender::load(&self.store).await {
                        Ok(state) => self.state = state,
                        Err(e) => tracing::error!(error = %e, "cannot reload the audit log head"),
                    }
                }
            }
        }
    }

    /// Commit one batch; on a moved head (another process appended) reload and retry.
    async fn commit(&mut self, batch: &[Request]) -> Result<Vec<Appended>, LogError> {
        let leaves: Vec<&LeafRow> = batch.iter().flat_map(|r| r.leaves.iter().map(|(row, _)| row)).collect();
        let hashes: Vec<Hash> = batch.iter().flat_map(|r| r.leaves.iter().map(|(_, h)| *h)).collect();
        for attempt in 0..MAX_ATTEMPTS {
            let old_size = self.state.size;
            let mut frontier = self.state.frontier.clone();
            let mut nodes = Vec::with_capacity(leaves.len() * 2);
            for (i, hash) in hashes.iter().enumerate() {
                push_leaf(&mut frontier, old_size + i as u64, *hash, &mut nodes);
            }
            let new_size = old_size + leaves.len() as u64;
            let edge: Vec<Hash> = frontier.iter().map(|(_, h)| *h).collect();
            let root = merkle::fold(&edge).unwrap_or_else(merkle::empty_root);
            let note =
                self.signer.sign_note(&Checkpoint { origin: self.signer.name().into(), size: new_size, root }.body());
            let writer = match &mut self.writer {
                Some(w) => w,
                None => self.writer.insert(repo::Writer::acquire(&self.store).await?),
            };
            match repo::append(writer, &Batch { old_size, leaves: &leaves, nodes: &nodes, root, note: &note }).await {
                Ok(()) => {
                    self.state = State { size: new_size, frontier };
                    self.known_size.fetch_max(new_size, std::sync::atomic::Ordering::Relaxed);
                    let mut next = old_size;
                    return Ok(batch
                        .iter()
                        .map(|r| {
                            let first = next;
                            next += r.events.len() as u64;
                            Appended {
                                first_index: first,
                                count: r.events.len() as u64,
                                tree_size: new_size,
                                checkpoint: note.clone(),
                            }
                        })
                        .collect());
                }
                Err(RepoError::HeadMoved(_)) => {
                    // Another process appended. Back off a random while, growing with the attempts, so
                    // two busy appenders on one database take turns instead of colliding in step.
                    let mut r = [0u8; 1];
                    let _ = aws_lc_rs::rand::fill(&mut r);
                    let pause = u64::from(r[0] % 4 + 1) * u64::from(attempt.min(8) + 1);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    self.state = Appender::load(&self.store).await?;
                }
                Err(RepoError::Database(e)) => {
                    // The connection may be what failed; the next attempt takes a fresh one.
                    if let Some(w) = self.writer.take() {
                        w.discard().await;
                    }
                    return Err(e.into());
                }
            }
        }
        Err(LogError::Corrupt("the log head kept moving; too many concurrent writers".into()))
    }
}

/// Add leaf `index` to the right edge, recording every perfect subtree it completes.
pub(crate) fn push_leaf(frontier: &mut Vec<(NodeKey, Hash)>, index: u64, hash: Hash, nodes: &mut Vec<(NodeKey, Hash)>) {
    let (mut key, mut hash) = (NodeKey { level: 0, index }, hash);
    nodes.push((key, hash));
    while let Some(&(left_key, left_hash)) = frontier.last() {
        if left_key.level != key.level {
            break;
        }
        frontier.pop();
        hash = merkle::node_hash(&left_hash, &hash);
        key = NodeKey { level: key.level + 1, index: left_key.index / 2 };
        nodes.push((key, hash));
    }
    frontier.push((key, hash));
}

fn leaf_row(event: &AuditEvent) -> LeafRow {
    LeafRow {
        data: event.canonical_bytes(),
        time: event.time.clone(),
        action: event.action.clone(),
        actor_id: event.actor.id.clone(),
        result: format!("{:?}", event.outcome.result).to_lowercase(),
        correlation_id: event.correlation_id.clone(),
        object_id: event.object.as_ref().map(|o| o.id.clone()),
        subjects: event.data_subjects.clone(),
    }
}

/// Base64 of a hash, as the API shows hashes.
pub fn b64(hash: &Hash) -> String {
    STANDARD.encode(hash)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::{Actor, ActorKind, ObjectRef, Outcome, Result as Res};
    use crate::note::{NoteVerifier, verify_checkpoint};
    use ena_store::testing::test_stores;

    pub(crate) fn event(i: usize, result: Res) -> AuditEvent {
        AuditEvent {
            time: format!("2026-11-29T07:{:02}:{:02}Z", (i / 60) % 60, i % 60),
            actor: Actor { kind: ActorKind::System, id: format!("system-{}", i % 3), organisation: None },
            on_behalf_of: None,
            action: "test.write".into(),
            object: None,
            data_subjects: if i % 2 == 0 { vec!["191212121212".into()] } else { vec![] },
            outcome: Outcome { result, reason: None },
            correlation_id: Some(format!("trace-{}", i % 5)),
            restricted: false,
            reveal_at: None,
            details: None,
        }
    }

    async fn open(store: &Store, signer: NoteSigner) -> AuditLog {
        AuditLog::open(store.clone(), signer, RuleSet { rules: vec![] }).await.unwrap()
    }

    /// Who read my data, on both databases: others' events about the person, newest first, in whole pages
    /// (the person's own doings left out by the subject index itself), restricted ones only once revealed.
    #[tokio::test]
    async fn about_a_person_shows_others_events_in_whole_pages() {
        for db in test_stores().await {
            let log = open(&db.store, NoteSigner::ephemeral("test/about").unwrap()).await;
            let person = "191212121212";
            let mut events = Vec::new();
            for i in 0..30 {
                let mut e = event(i, Res::Allowed);
                e.data_subjects = vec![person.into()];
                if i % 3 == 0 {
                    // The person's own doing.
                    e.actor = Actor { kind: ActorKind::Person, id: person.into(), organisation: None };
                }
                e.action = format!("test.read-{i}");
                events.push(e);
            }
            let mut hidden = event(30, Res::Allowed);
            (hidden.data_subjects, hidden.restricted, hidden.reveal_at) =
                (vec![person.into()], true, Some("2099-01-01T00:00:00Z".into()));
            let mut revealed = hidden.clone();
            revealed.reveal_at = Some("2020-01-01T00:00:00Z".into());
            events.extend([hidden, revealed]);
            log.append(events).await.unwrap();
            let now = ena_core::time::unix_now();
            // The still-hidden event is among the newest five: it is left out after reading, so that page
            // holds four (the person's own are left out by the query, so they never shorten a page).
            let first = log.about(person, now, 5, 0).await.unwrap();
            assert_eq!(first.len(), 4, "{}", db.label);
            assert_eq!(first[0].event.action, "test.write", "{}: the revealed one, newest", db.label);
            let all = log.about(person, now, 100, 0).await.unwrap();
            assert_eq!(all.len(), 21, "{}: 20 by others and the revealed one", db.label);
            assert!(all.iter().all(|e| e.event.actor.id != person), "{}", db.label);
            let second = log.about(person, now, 5, 5).await.unwrap();
            assert_eq!(second.len(), 5, "{}: a whole page of others' events", db.label);
            assert_eq!(second[0].event.action, all[4].event.action, "{}: pages continue", db.label);
        }
    }

    /// A node's events handed over to the central log: each added once, even when two central instances
    /// get the same batch at the same time and it is sent again; bad ones refused with their reason; the
    /// person sees the copies, which point back to the node's log.
    #[tokio::test]
    async fn a_nodes_events_are_taken_over_once_by_two_instances() {
        use crate::forward::ForwardedEvent;
        for db in test_stores().await {
            let (label, person) = (&db.label, "191212121212");
            let one = open(&db.store, NoteSigner::ephemeral("central.example/log").unwrap()).await;
            let two = open(&db.store, NoteSigner::ephemeral("central.example/log").unwrap()).await;
            let origin = "node.skatteverket.example/log";
            let batch: Vec<ForwardedEvent> = (0..40)
                .map(|i| {
                    let mut e = event(i, Res::Allowed);
                    e.data_subjects = vec!["19121212-1212".into()];
                    e.object = Some(ObjectRef { kind: "message".into(), id: format!("m-{i}") });
                    ForwardedEvent { index: 100 + i as u64, event: e }
                })
                .collect();
            let (a, b) = tokio::join!(
                one.take_over(origin, "202100-5448", batch.clone()),
                two.take_over(origin, "202100-5448", batch.clone())
            );
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_eq!(a.accepted + b.accepted, 40, "{label}: each event once between the two instances");
            assert_eq!(a.repeated + b.repeated, 40, "{label}: the other saw them as held");
            let again = one.take_over(origin, "202100-5448", batch[30..].to_vec()).await.unwrap();
            assert_eq!((again.accepted, again.repeated), (0, 10), "{label}: a batch sent again adds nothing");
            assert_eq!(one.size().await.unwrap(), 40, "{label}");

            let mut bad = vec![
                event(0, Res::Allowed),
                event(2, Res::Allowed),
                event(4, Res::Allowed),
                event(6, Res::Allowed),
                event(8, Res::Allowed),
            ];
            bad[0].data_subjects.clear();
            bad[1].data_subjects = vec!["191212121213".into()];
            bad[2].action = "alert.forged".into();
            let details = [("reportedBy".to_owned(), "someone else".to_owned())];
            bad[3].details = Some(details.into_iter().collect());
            // A node may not name another organisation as the actor of its own doings …
            bad[4].actor.organisation = Some("212000-0142".into());
            let mut items: Vec<ForwardedEvent> =
                bad.into_iter().enumerate().map(|(i, event)| ForwardedEvent { index: i as u64, event }).collect();
            items.push(ForwardedEvent { index: 7, event: batch[0].event.clone() });
            items.push(ForwardedEvent { index: 7, event: batch[1].event.clone() });
            // … but names the consumer of a call it served (it checked that consumer's certificate).
            let mut served = batch[2].event.clone();
            (served.action, served.actor.organisation) = ("calls.served".into(), Some("212000-0142".into()));
            items.push(ForwardedEvent { index: 8, event: served });
            let r = two.take_over(origin, "202100-5448", items).await.unwrap();
            assert_eq!(r.accepted, 2, "{label}: {r:?}");
            let reasons: Vec<&str> = r.refused.iter().map(|x| x.reason.as_str()).collect();
            assert_eq!(r.refused.iter().map(|x| x.index).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 7], "{label}");
            assert!(reasons[4].starts_with("actor.organisation"), "{reasons:?}");
            assert!(reasons[0].contains("no data subject") && reasons[1].starts_with("dataSubjects"), "{reasons:?}");
            assert!(reasons[2].starts_with("action") && reasons[3].starts_with("details"), "{reasons:?}");
            assert!(!reasons.iter().any(|r| r.contains("191212121213")), "{label}: no number echoed");

            let mine = one.about(person, ena_core::time::unix_now(), 100, 0).await.unwrap();
            assert_eq!(mine.len(), 42, "{label}");
            let newest = &mine[0].event;
            let d = newest.details.as_ref().unwrap();
            assert_eq!((d["sourceLog"].as_str(), d["reportedBy"].as_str()), (origin, "202100-5448"), "{label}");
            assert!(newest.object.as_ref().unwrap().id.starts_with(&format!("{origin}#8:")), "{label}");
            assert_eq!(newest.actor.organisation.as_deref(), Some("212000-0142"), "{label}: the verified consumer");
            // The node's own system acted for the node's organisation.
            assert_eq!(mine[1].event.actor.organisation.as_deref(), Some("202100-5448"), "{label}");
            assert_eq!(mine[2].event.details.as_ref().unwrap()["object"], "message:m-39", "{label}");
        }
    }

    #[tokio::test]
    async fn appends_prove_and_survive_reopening_on_both_databases() {
        for db in test_stores().await {
            let label = &db.label;
            let dir = tempfile::tempdir().unwrap();
            let key = dir.path().join("audit.key");
            let log = open(&db.store, NoteSigner::load_or_create(&key, "test.example/log").unwrap()).await;
            let verifier = NoteVerifier::parse(&log.verifier_key()).unwrap();
            assert!(verify_checkpoint(&log.checkpoint().await.unwrap(), &verifier).is_ok(), "empty-tree checkpoint");

            // 64 concurrent writers, 5 events each.
            let mut tasks = Vec::new();
            for w in 0..64 {
                let log = log.clone();
                tasks.push(tokio::spawn(async move {
                    let mut firsts = Vec::new();
                    for j in 0..5 {
                        let a = log.append(vec![event(w * 5 + j, Res::Allowed)]).await.unwrap();
                        firsts.push(a.first_index);
                    }
                    firsts
                }));
            }
            let mut indices: Vec<u64> = Vec::new();
            for t in tasks {
                indices.extend(t.await.unwrap());
            }
            indices.sort_unstable();
            assert_eq!(indices, (0..320).collect::<Vec<_>>(), "{label}: every event got its own index");
            assert_eq!(log.size().await.unwrap(), 320);

            let note = log.checkpoint().await.unwrap();
            let checkpoint = verify_checkpoint(&note, &verifier).unwrap();
            assert_eq!(checkpoint.size, 320, "{label}");
            let all: Vec<Hash> = {
                let mut v = Vec::new();
                for i in 0..320 {
                    v.push(log.entry(i).await.unwrap().leaf_hash);
                }
                v
            };
            assert_eq!(merkle::root_of(&all), checkpoint.root, "{label}: stored nodes agree with the leaves");
            for (index, size) in [(0, 1), (5, 17), (100, 320), (319, 320)] {
                let proof = log.inclusion_proof(index, size).await.unwrap();
                let root = merkle::root_of(&all[..size as usize]);
                merkle::verify_inclusion(index, size, &all[index as usize], &proof, &root).unwrap();
            }
            for (from, to) in [(1, 320), (7, 8), (100, 319), (320, 320)] {
                let proof = log.consistency_proof(from, to).await.unwrap();
                merkle::verify_consistency(
                    from,
                    to,
                    &proof,
                    &merkle::root_of(&all[..from as usize]),
                    &merkle::root_of(&all[..to as usize]),
                )
                .unwrap();
            }
            assert_eq!(log.root_at(17).await.unwrap(), merkle::root_of(&all[..17]));

            // Bad parameters name themselves.
            let name = |e: LogError| match e {
                LogError::BadParameter { name, .. } => name,
                other => panic!("{other}"),
            };
            assert_eq!(name(log.inclusion_proof(5, 5).await.unwrap_err()), "index");
            assert_eq!(name(log.inclusion_proof(0, 321).await.unwrap_err()), "treeSize");
            assert_eq!(name(log.consistency_proof(0, 5).await.unwrap_err()), "from");
            assert_eq!(name(log.consistency_proof(6, 5).await.unwrap_err()), "from");
            assert_eq!(name(log.consistency_proof(1, 999).await.unwrap_err()), "to");

            // Queries.
            let by_trace = log
                .query(&EventFilter { correlation_id: Some("trace-3".into()), ..EventFilter::default() }, 100, 0)
                .await
                .unwrap();
            assert_eq!(by_trace.len(), 64, "{label}");
            assert!(by_trace.windows(2).all(|w| w[0].index > w[1].index), "newest first");
            let by_subject = log
                .query(&EventFilter { subject: Some("191212121212".into()), ..EventFilter::default() }, 500, 0)
                .await
                .unwrap();
            assert_eq!(by_subject.len(), 160, "{label}");

            // Reopen (a restart): the log continues from its stored state with the same key.
            drop(log);
            let log = open(&db.store, NoteSigner::load_or_create(&key, "test.example/log").unwrap()).await;
            let a = log.append(vec![event(999, Res::Denied)]).await.unwrap();
            assert_eq!((a.first_index, a.tree_size), (320, 321), "{label}");
            let checkpoint = verify_checkpoint(&a.checkpoint, &verifier).unwrap();
            let mut all = all;
            all.push(log.entry(320).await.unwrap().leaf_hash);
            assert_eq!(checkpoint.root, merkle::root_of(&all), "{label}");
        }
    }

    /// Two appenders on one database (two processes sharing it): a stale head is caught by the primary
    /// keys, the loser reloads and retries, and every event lands exactly once in one valid tree.
    #[tokio::test]
    async fn two_appenders_on_one_database_never_fork_the_tree() {
        for db in test_stores().await {
            let label = &db.label;
            let key = tempfile::tempdir().unwrap();
            let key = key.path().join("audit.key");
            let a = open(&db.store, NoteSigner::load_or_create(&key, "test.example/log").unwrap()).await;
            let b = open(&db.store, NoteSigner::load_or_create(&key, "test.example/log").unwrap()).await;
            let mut tasks = Vec::new();
            for w in 0..16 {
                let log = if w % 2 == 0 { a.clone() } else { b.clone() };
                tasks.push(tokio::spawn(async move {
                    let mut firsts = Vec::new();
                    for j in 0..10 {
                        firsts.push(log.append(vec![event(w * 10 + j, Res::Allowed)]).await.unwrap().first_index);
                    }
                    firsts
                }));
            }
            let mut indices: Vec<u64> = Vec::new();
            for t in tasks {
                indices.extend(t.await.unwrap());
            }
            indices.sort_unstable();
            assert_eq!(indices, (0..160).collect::<Vec<_>>(), "{label}: every event got its own index");
            let verifier = NoteVerifier::parse(&a.verifier_key()).unwrap();
            let report = crate::verify::verify_log(&db.store, &verifier, |_, _| {}).await.unwrap();
            assert!(report.is_ok(), "{label}: {report:?}");
        }
    }

    #[tokio::test]
    async fn rules_raise_alerts_into_the_same_log() {
        let db = ena_store::testing::sqlite().await;
        let rules =
            RuleSet::parse("[[rules]]\nid = \"burst\"\nkind = \"denied-burst\"\nthreshold = 3\nwindow_secs = 60\n")
                .unwrap();
        let log =
            AuditLog::open(db.store.clone(), NoteSigner::ephemeral("test.example/log").unwrap(), rules).await.unwrap();
        let mut denied: Vec<AuditEvent> = (0..3).map(|i| event(i * 3, Res::Denied)).collect();
        denied.iter_mut().for_each(|e| e.actor.id = "intruder".into());
        log.append(denied).await.unwrap();
        // The alert is committed by the appender right after the batch that raised it.
        let _ = log.append(vec![event(100, Res::Allowed)]).await.unwrap();
        let alerts = log
            .query(&EventFilter { action: Some("alert.burst".into()), ..EventFilter::default() }, 10, 0)
            .await
            .unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event.object.as_ref().unwrap().id, "intruder");
    }
}
