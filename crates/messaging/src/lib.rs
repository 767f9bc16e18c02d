//! Meddelandehantering on a member node: what it takes to send a message (resolve the address, check
//! the payload against the type's schema, build and sign the envelope, encrypt the payload to the
//! recipient, store it durably in the outbox), to deliver it (with retries, backoff and expiry; a verified
//! receipt ends it), and to receive one (the sender is a member, the signature is the sender node's, the
//! payload opens and fits the schema, a repeat changes nothing; the receipt event goes to this node's
//! log and the signed receipt carries its inclusion proof).
//!
//! HTTP is not here: the node gives this block a [`Directory`] (addresses, schemas and other nodes' keys,
//! from the central services) and a [`Transport`] (the mTLS call to another node).

pub mod attachments;
pub mod calls;
pub mod envelope;
pub mod jws;
pub mod keys;
pub mod receipt;
pub mod repo;
pub mod seal;
#[cfg(test)]
mod tests;
pub mod writer;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ena_addresses::{Address, Schema};
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{AuditLog, Context};
use ena_core::FieldError;
use ena_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::attachments::{Attachment, AttachmentError, AttachmentInput, AttachmentReader, Files, Upload};
use crate::envelope::{Encryption, Envelope, sha256_b64};
use crate::keys::{EncryptionKey, SigningKey};
use crate::receipt::{LogProof, Receipt};

mod deliver;
mod receive;
mod send;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Default and longest time a message may wait for delivery.
pub const DEFAULT_TTL_SECS: i64 = 7 * 86_400;
pub const MAX_TTL_SECS: i64 = 30 * 86_400;
/// Largest structured payload (bytes of JSON); attachments are for more.
pub const MAX_PAYLOAD: usize = 4 * 1024 * 1024;
/// How long a claimed delivery may take before another attempt may start.
const LEASE_SECS: i64 = 60;

/// What a node knows of another node: its message signing keys, its log's verifier key, its inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerNode {
    pub entity_id: String,
    /// base64url SHA-256 of the node's current TLS certificate (the federation publishes it).
    pub certificate_sha256: String,
    pub jwks: Value,
    pub log_key: String,
    pub inbox: String,
}

/// The central services, as a node sees them.
pub trait Directory: Send + Sync {
    /// The address (current; cached by the implementation).
    fn address<'a>(&'a self, address: &'a str) -> BoxFuture<'a, Result<Address, String>>;
    /// The compiled schema of a message type version.
    fn schema<'a>(&'a self, message_type: &'a str, version: &'a str) -> BoxFuture<'a, Result<Schema, String>>;
    /// A member node in good standing, from its resolved federation metadata; an error if it is not one.
    fn node<'a>(&'a self, entity_id: &'a str) -> BoxFuture<'a, Result<PeerNode, String>>;
}

/// What a delivery attempt to another node's inbox came to.
#[derive(Debug)]
pub enum Delivery {
    /// The signed receipt.
    Receipt(String),
    /// Refused for good (a problem answer): the reason.
    Refused(String),
    /// Try again later: the reason.
    Retry(String),
}

/// Told about what happens to messages, after it is durable (subscriptions hang off this).
pub trait Events: Send + Sync {
    /// A message in the outbox changed status (`queued`, `delivered`, `failed`, `expired`).
    fn message_status(&self, id: &str, status: &str, detail: Value);
    /// A message arrived in the inbox.
    fn message_received(&self, id: &str, detail: Value);
}

/// The call to another node's inbox.
pub trait Transport: Send + Sync {
    fn deliver<'a>(&'a self, inbox: &'a str, wire: &'a Wire) -> BoxFuture<'a, Delivery>;
    /// Stream attachment `n` of `message` (the encrypted file at `path`, `length` bytes) to the node
    /// whose inbox is `inbox`, before the message itself. `None` when it arrived; else what the failed
    /// attempt comes to.
    fn upload<'a>(
        &'a self,
        inbox: &'a str,
        message: &'a str,
        n: usize,
        path: &'a std::path::Path,
        length: u64,
    ) -> BoxFuture<'a, Option<Delivery>>;
}

/// What travels from node to node: the signed envelope and the encrypted payload.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Wire {
    /// Compact JWS (EdDSA, typ ena-envelope+jws).
    pub envelope: String,
    /// base64url ciphertext (HPKE).
    pub ciphertext: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MsgError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.property, e.reason)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// A delivery refused (wrong signer, tampered, not a member, …): the reason; logged.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    /// The same message is being received on another connection right now: try again shortly.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for MsgError {
    fn from(e: sqlx::Error) -> MsgError {
        MsgError::Internal(e.to_string())
    }
}

fn invalid(field: &str, value: impl ToString, reason: impl Into<String>) -> MsgError {
    MsgError::Invalid(vec![FieldError::new(field, value, reason)])
}

/// A message to send (`POST /messages/v1/outbox`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutgoingInput {
    /// The recipient's address.
    #[schema(example = "212000-0142:socialtjanst")]
    pub recipient: String,
    #[schema(example = "se.kommun.orosanmalan")]
    pub message_type: String,
    #[schema(example = "1.0")]
    pub version: String,
    /// The structured payload; checked against the type's schema before anything is sent.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Groups messages of one exchange; a new one is made if absent.
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub case_id: Option<String>,
    /// Seconds the message may wait for delivery (default 7 days, at most 30).
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
    /// Uploaded files to send with the message (`POST /messages/v1/attachments` first); each upload is
    /// used once.
    #[serde(default)]
    pub attachments: Vec<AttachmentInput>,
}

/// Where an outgoing message is: `queued` (due for an attempt), `sent` (an attempt is under way),
/// then one of the final `delivered`, `failed` (refused by the recipient) or `expired`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    Queued,
    Sent,
    Delivered,
    Failed,
    Expired,
}
ena_core::text_enum!(OutboxStatus {
    Queued = "queued",
    Sent = "sent",
    Delivered = "delivered",
    Failed = "failed",
    Expired = "expired",
});

/// A message in the outbox, as its sender sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outgoing {
    pub id: String,
    pub recipient: String,
    pub recipient_node: String,
    pub message_type: String,
    pub version: String,
    pub conversation_id: String,
    /// queued, sent, delivered, failed or expired.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The recipient's signed receipt (verified before it was stored).
    pub receipt: Option<String>,
    pub attachments: Vec<Attachment>,
    pub created_at: String,
    pub updated_at: String,
}

/// A received message, as the recipient's systems see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Incoming {
    pub id: String,
    pub sender: String,
    pub sender_node: String,
    pub recipient: String,
    pub message_type: String,
    pub version: String,
    pub conversation_id: String,
    pub case_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Value,
    /// The signed envelope as received.
    pub envelope: String,
    /// The receipt this node gave.
    pub receipt: String,
    /// Files sent with it: read each at `/messages/v1/inbox/{id}/attachments/{n}` (n from 0).
    pub attachments: Vec<Attachment>,
    pub received_at: String,
    pub acked_at: Option<String>,
}

/// This node: who it is and its keys.
#[derive(Debug)]
pub struct NodeIdentity {
    pub entity_id: String,
    /// The address messages from this node are sent as (its organisation).
    pub address: String,
    pub signing: SigningKey,
    pub encryption: EncryptionKey,
}

/// The messaging service of one node.
pub struct Messaging {
    store: Store,
    writer: writer::Writer,
    audit: AuditLog,
    me: Arc<NodeIdentity>,
    directory: Arc<dyn Directory>,
    files: Files,
    events: Option<Arc<dyn Events>>,
    queued: tokio::sync::Notify,
    /// Ids of messages being received now: a second delivery of one of them waits for the first to
    /// settle (answered 503, retried) instead of logging a second `messages.received`.
    receiving: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Holds a message id in [`Messaging::receiving`] until dropped.
struct Receiving<'a>(&'a Messaging, String);

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.0.receiving.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.1);
    }
}

impl std::fmt::Debug for Messaging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messaging").field("node", &self.me.entity_id).finish()
    }
}

/// Whether `raw` is an address exactly as the registry writes it (12-digit numbers, `:function`). An
/// address from another node that is not already canonical is refused, never normalised: a lookup that
/// normalised `2120000142/../5599001129` to `5599001129` would check one address while the raw string
/// is stored and passed on.
pub fn require_canonical(field: &str, raw: &str) -> Result<(), String> {
    match ena_addresses::canonical(raw) {
        Ok(c) if c == raw => Ok(()),
        Ok(c) => Err(format!("{field} {:?} is not a canonical address (that would be {c})", clean(raw))),
        Err(e) => Err(format!("{field} {:?} is not a canonical address: {}", clean(raw), e.reason)),
    }
}

/// Untrusted text made safe to store and log: no control characters (PostgreSQL refuses NUL in text,
/// and one bad row would fail a whole group commit), at most 300 characters.
pub fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// Retry delay after `attempts` failed attempts: exponential from 1 s, capped at 10 minutes, with up to
/// 50 % random jitter so that many messages to one recovering node do not all return at once.
pub fn backoff(attempts: i64) -> i64 {
    let base = 1_i64 << attempts.clamp(0, 10) as u32;
    let base = base.min(600);
    base + rand::random_range(0..=base / 2)
}

impl Messaging {
    /// `files`: where attachments are kept (`DATA_DIR/attachments`).
    pub fn new(
        store: Store,
        audit: AuditLog,
        me: Arc<NodeIdentity>,
        directory: Arc<dyn Directory>,
        files: Files,
    ) -> Messaging {
        Messaging {
            writer: writer::Writer::start(store.clone()),
            store,
            audit,
            me,
            directory,
            files,
            events: None,
            queued: tokio::sync::Notify::new(),
            receiving: std::sync::Mutex::default(),
        }
    }

    /// Tell `events` about status changes and arrivals.
    pub fn with_events(mut self, events: Arc<dyn Events>) -> Messaging {
        self.events = Some(events);
        self
    }

    pub fn identity(&self) -> &NodeIdentity {
        &self.me
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// At a node's start and every hour: remove stale uploads and unfinished transfers. Returns how many
    /// files went.
    pub async fn sweep_files(&self) -> u64 {
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || files.sweep()).await.unwrap_or(0)
    }

    /// The node's store (for the node's own small tables, such as its subscriptions).
    pub fn store(&self) -> &Store {
        &self.store
    }
}
