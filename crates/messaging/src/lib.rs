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
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ena_addresses::{Address, Schema};
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{AuditLog, Context};
use ena_core::FieldError;
use ena_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::attachments::{Attachment, AttachmentError, AttachmentInput, AttachmentReader, Files, Upload};
use crate::envelope::{Encryption, Envelope, sha256_b64};
use crate::keys::{EncryptionKey, SigningKey};
use crate::receipt::{LogProof, Receipt};

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

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
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

/// Now, RFC 3339 with sub-second digits (status times; delivery latency is read from them).
fn precise_now() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

fn parse_time(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(OffsetDateTime::unix_timestamp)
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

    /// Validate, seal, sign and queue a message. Nothing is stored unless all of it holds.
    pub async fn submit(&self, ctx: &Context, input: OutgoingInput) -> Result<Outgoing, MsgError> {
        let uploads = input.attachments.clone();
        let result = self.build(input).await;
        let (event_result, reason, object) = match &result {
            Ok(row) => (AuditResult::Allowed, None, row.id.clone()),
            Err(MsgError::Internal(_)) => return result.map(to_outgoing),
            Err(e) => (AuditResult::Denied, Some(e.to_string()), String::new()),
        };
        if let Ok(row) = &result {
            if let Err(e) = self.writer.write(writer::Op::InsertOut(Box::new(row.clone()))).await {
                self.files.remove_outbox(&row.id).await;
                return Err(MsgError::Internal(e));
            }
            // Each upload is sent once: it is in the outbox now, encrypted.
            for a in &uploads {
                if let Err(e) = self.files.remove_upload(&a.id).await {
                    tracing::warn!(upload = %a.id, error = %e, "a sent upload could not be removed");
                }
            }
            self.queued.notify_one();
            if let Some(events) = &self.events {
                let detail = serde_json::json!({"recipient": row.recipient, "messageType": row.message_type});
                events.message_status(&row.id, "queued", detail);
            }
        }
        let object = (!object.is_empty()).then(|| ObjectRef { kind: "message".into(), id: object });
        let event = ctx.event("messages.queued", object, event_result, reason);
        self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
        result.map(to_outgoing)
    }

    async fn build(&self, input: OutgoingInput) -> Result<repo::OutRow, MsgError> {
        let recipient = ena_addresses::canonical(&input.recipient)
            .map_err(|e| MsgError::Invalid(vec![FieldError { property: "recipient".into(), ..e }]))?;
        let ttl = input.ttl_seconds.unwrap_or(DEFAULT_TTL_SECS);
        if !(1..=MAX_TTL_SECS).contains(&ttl) {
            return Err(invalid("ttlSeconds", ttl, format!("from 1 to {MAX_TTL_SECS}")));
        }
        for (field, v) in [("conversationId", &input.conversation_id), ("caseId", &input.case_id)] {
            if v.as_ref().is_some_and(|v| v.is_empty() || v.len() > 200) {
                return Err(invalid(field, v.as_deref().unwrap_or_default(), "1–200 characters"));
            }
        }
        let uploads = self.uploads(&input.attachments).await?;
        let address = self.directory.address(&recipient).await.map_err(|why| invalid("recipient", &recipient, why))?;
        let at = now();
        address
            .accepts(&input.message_type, &input.version, at)
            .map_err(|why| invalid("messageType", &input.message_type, why))?;
        // A recipient whose node is not a member in good standing (suspended, revoked) is refused now,
        // not retried until the message expires.
        self.directory.node(&address.node).await.map_err(|why| {
            invalid(
                "recipient",
                &recipient,
                format!("its node {} is not reachable through the federation: {why}", address.node),
            )
        })?;
        let schema = self
            .directory
            .schema(&input.message_type, &input.version)
            .await
            .map_err(|why| invalid("version", &input.version, why))?;
        schema.check(&input.payload, "payload").map_err(MsgError::Invalid)?;
        let plaintext = serde_json::to_vec(&input.payload).map_err(|e| MsgError::Internal(e.to_string()))?;
        if plaintext.len() > MAX_PAYLOAD {
            return Err(invalid("payload", plaintext.len(), format!("at most {MAX_PAYLOAD} bytes of JSON")));
        }
        let key = address
            .encryption_keys
            .first()
            .ok_or_else(|| invalid("recipient", &recipient, "the address has no encryption key"))?;
        let public = URL_SAFE_NO_PAD
            .decode(&key.x)
            .map_err(|_| invalid("recipient", &recipient, "the address's key is malformed"))?;
        let id = uuid::Uuid::now_v7().to_string();
        let sealed =
            seal::seal(&public, &id, &plaintext).map_err(|e| invalid("recipient", &recipient, e.to_string()))?;
        let (enc, ciphertext) = (sealed.enc, sealed.ciphertext);
        let attachments = self.encrypt_attachments(&id, uploads, sealed.attachment_key).await?;
        let envelope = Envelope {
            id: id.clone(),
            sender: self.me.address.clone(),
            sender_node: self.me.entity_id.clone(),
            recipient: recipient.clone(),
            recipient_node: address.node.clone(),
            message_type: input.message_type.clone(),
            version: input.version.clone(),
            conversation_id: input.conversation_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            case_id: input.case_id,
            created: rfc3339(at),
            expires: rfc3339(at + ttl),
            encryption: Encryption {
                suite: seal::SUITE.into(),
                kid: key.kid.clone(),
                enc: URL_SAFE_NO_PAD.encode(enc),
            },
            ciphertext_sha256: sha256_b64(&ciphertext),
            ciphertext_length: ciphertext.len() as u64,
            attachments,
        };
        let stamp = precise_now();
        Ok(repo::OutRow {
            id,
            recipient,
            recipient_node: address.node,
            message_type: input.message_type,
            version: input.version,
            conversation_id: envelope.conversation_id.clone(),
            envelope: envelope.sign(&self.me.signing),
            ciphertext,
            status: "queued".into(),
            attempts: 0,
            next_attempt_at: at,
            expires_at: at + ttl,
            last_error: None,
            receipt: None,
            created_at: stamp.clone(),
            updated_at: stamp,
        })
    }

    /// The named uploads, checked: each exists, once, with a name a recipient can save.
    async fn uploads(&self, inputs: &[AttachmentInput]) -> Result<Vec<(Upload, String)>, MsgError> {
        if inputs.len() > attachments::MAX_ATTACHMENTS {
            return Err(invalid("attachments", inputs.len(), format!("at most {}", attachments::MAX_ATTACHMENTS)));
        }
        let mut found = Vec::with_capacity(inputs.len());
        for (i, a) in inputs.iter().enumerate() {
            attachments::valid_name(&a.name).map_err(|why| invalid(&format!("attachments/{i}/name"), &a.name, why))?;
            if inputs[..i].iter().any(|b| b.id == a.id) {
                return Err(invalid(&format!("attachments/{i}/id"), &a.id, "named twice"));
            }
            let upload = match self.files.upload(&a.id).await {
                Ok(Some(u)) => u,
                Ok(None) | Err(AttachmentError::Invalid(_)) => {
                    return Err(invalid(
                        &format!("attachments/{i}/id"),
                        &a.id,
                        "no such upload (POST /messages/v1/attachments first; each is sent once)",
                    ));
                }
                Err(e) => return Err(MsgError::Internal(e.to_string())),
            };
            found.push((upload, a.name.clone()));
        }
        Ok(found)
    }

    /// Encrypt the uploads into the outbox as message `id`'s attachments (on the blocking pool: a chunk
    /// at a time, whatever the size).
    async fn encrypt_attachments(
        &self,
        id: &str,
        uploads: Vec<(Upload, String)>,
        key: [u8; 32],
    ) -> Result<Vec<Attachment>, MsgError> {
        if uploads.is_empty() {
            return Ok(Vec::new());
        }
        let (files, message) = (self.files.clone(), id.to_owned());
        let result = tokio::task::spawn_blocking(move || {
            uploads
                .iter()
                .enumerate()
                .map(|(n, (upload, name))| files.encrypt_upload(upload, name, &message, n, &key))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| MsgError::Internal(e.to_string()))?;
        match result {
            Ok(list) => Ok(list),
            Err(e) => {
                self.files.remove_outbox(id).await;
                Err(MsgError::Internal(format!("attachments: {e}")))
            }
        }
    }

    /// Store an upload from a local system: start it here, write its bytes, finish it.
    pub async fn begin_upload(&self, media_type: &str) -> Result<attachments::Sink, MsgError> {
        self.files.begin_upload(media_type).await.map_err(|e| match e {
            AttachmentError::Invalid(why) => invalid("Content-Type", media_type, why),
            e => MsgError::Internal(e.to_string()),
        })
    }

    /// Finish an upload started with [`Messaging::begin_upload`]; logged.
    pub async fn finish_upload(&self, ctx: &Context, sink: attachments::Sink) -> Result<Upload, MsgError> {
        let upload = match sink.finish().await {
            Ok(Some(u)) => u,
            Ok(None) => return Err(MsgError::Internal("not an upload".into())),
            Err(e) => return Err(MsgError::Internal(e.to_string())),
        };
        let object = Some(ObjectRef { kind: "upload".into(), id: upload.id.clone() });
        let mut event = ctx.event("messages.uploaded", object, AuditResult::Allowed, None);
        event.details = Some(
            [
                ("size", upload.size.to_string()),
                ("sha256", upload.sha256.clone()),
                ("mediaType", upload.media_type.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        );
        self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
        Ok(upload)
    }

    pub async fn upload(&self, id: &str) -> Result<Upload, MsgError> {
        match self.files.upload(id).await {
            Ok(Some(u)) => Ok(u),
            Ok(None) | Err(AttachmentError::Invalid(_)) => Err(MsgError::NotFound(format!("no upload {id}"))),
            Err(e) => Err(MsgError::Internal(e.to_string())),
        }
    }

    /// Node `sender` starts delivering attachment `n` of `message` over a connection whose certificate
    /// has the thumbprint `certificate`: it must be a member in good standing and the certificate its own,
    /// so only members can put files on this node's disk.
    pub async fn begin_incoming(
        &self,
        certificate: &str,
        sender: &str,
        message: &str,
        n: usize,
        length: u64,
    ) -> Result<attachments::Sink, MsgError> {
        let peer = self
            .directory
            .node(sender)
            .await
            .map_err(|why| MsgError::Refused(format!("sender node {}: {why}", clean(sender))))?;
        if peer.certificate_sha256 != certificate {
            return Err(MsgError::Refused(format!(
                "the connection's certificate is not the one the federation publishes for {}",
                clean(sender)
            )));
        }
        self.files.begin_incoming(certificate, message, n, length).await.map_err(|e| match e {
            AttachmentError::Invalid(why) => MsgError::Invalid(vec![FieldError::new("path", message, why)]),
            AttachmentError::TooLarge(max) => MsgError::Invalid(vec![FieldError::new(
                "Content-Length",
                length,
                format!("at most {max} bytes for one attachment and for all of one message's"),
            )]),
            AttachmentError::Quota(why) => MsgError::Busy(why),
            e => MsgError::Internal(e.to_string()),
        })
    }

    /// Received attachment `n` of message `id`: its description and a reader of its plaintext.
    pub async fn attachment(&self, id: &str, n: usize) -> Result<(Attachment, AttachmentReader), MsgError> {
        let row = repo::inbound(&self.store, id)
            .await?
            .ok_or_else(|| MsgError::NotFound(format!("no message {id} in the inbox")))?;
        let envelope = Envelope::peek(&row.envelope).map_err(|e| MsgError::Internal(e.to_string()))?;
        let attachment = envelope
            .attachments
            .get(n)
            .cloned()
            .ok_or_else(|| MsgError::NotFound(format!("message {id} has no attachment {n}")))?;
        let enc = URL_SAFE_NO_PAD.decode(&envelope.encryption.enc).map_err(|e| MsgError::Internal(e.to_string()))?;
        let key = seal::attachment_key(&self.me.encryption, &enc).map_err(|e| MsgError::Internal(e.to_string()))?;
        let reader = self.files.reader(id, n, &attachment, key).map_err(|e| MsgError::Internal(e.to_string()))?;
        Ok((attachment, reader))
    }

    /// At a node's start and every hour: remove stale uploads and unfinished transfers. Returns how many
    /// files went.
    pub async fn sweep_files(&self) -> u64 {
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || files.sweep()).await.unwrap_or(0)
    }

    pub async fn outgoing(&self, id: &str) -> Result<Outgoing, MsgError> {
        repo::out(&self.store, id)
            .await?
            .map(to_outgoing)
            .ok_or_else(|| MsgError::NotFound(format!("no message {id} in the outbox")))
    }

    pub async fn outbox(&self, status: Option<&str>, limit: u32, offset: u64) -> Result<Vec<Outgoing>, MsgError> {
        Ok(repo::outs(&self.store, status, limit, offset).await?.into_iter().map(to_outgoing).collect())
    }

    /// Messages per status.
    pub async fn counts(&self) -> Result<Vec<(String, i64)>, MsgError> {
        Ok(repo::counts(&self.store).await?)
    }

    /// At a node's start: deliveries that were in flight when it last stopped are due again now (the
    /// receiver's duplicate check makes a second delivery harmless). Returns how many.
    pub async fn recover(&self) -> Result<u64, MsgError> {
        Ok(repo::release_claims(&self.store).await?)
    }

    /// Claim up to `limit` due messages for delivery (each then needs [`Messaging::attempt`]).
    pub async fn claim(&self, limit: u32) -> Result<Vec<repo::OutRow>, MsgError> {
        let at = now();
        Ok(repo::claim_due(&self.store, at, at + LEASE_SECS, limit).await?)
    }

    /// Notified whenever a message is queued, so a waiting delivery worker starts at once.
    pub fn queued(&self) -> &tokio::sync::Notify {
        &self.queued
    }

    /// One round of delivery: claim up to `limit` due messages and try each (at most `parallel` at once).
    /// Returns how many were claimed.
    pub async fn deliver_due(&self, transport: &dyn Transport, limit: u32, parallel: usize) -> Result<usize, MsgError> {
        let at = now();
        let rows = repo::claim_due(&self.store, at, at + LEASE_SECS, limit).await?;
        let n = rows.len();
        let mut pending = rows.into_iter();
        let mut running = Vec::new();
        loop {
            while running.len() < parallel.max(1) {
                let Some(row) = pending.next() else { break };
                running.push(Box::pin(self.attempt(transport, row)));
            }
            if running.is_empty() {
                break;
            }
            let (result, _, rest) = futures_select_all(running).await;
            running = rest;
            result?;
        }
        Ok(n)
    }

    /// Try to deliver one claimed message and settle it: delivered, queued for a retry, failed or expired.
    pub async fn attempt(&self, transport: &dyn Transport, row: repo::OutRow) -> Result<(), MsgError> {
        let at = now();
        let stamp = precise_now();
        if row.expires_at <= at {
            self.settle(&row, "expired", at, Some("expired before delivery"), None, stamp.clone()).await?;
            return self
                .log_outcome(&row.id, "messages.expired", AuditResult::Failed, Some("expired before delivery".into()))
                .await;
        }
        let peer = match self.directory.node(&row.recipient_node).await {
            Ok(p) => p,
            Err(why) => return self.retry_or_fail(&row, &format!("recipient node: {why}"), at).await,
        };
        let delivery = match self.send_attachments(transport, &peer, &row).await {
            Some(failed) => failed,
            None => {
                let wire = Wire { envelope: row.envelope.clone(), ciphertext: URL_SAFE_NO_PAD.encode(&row.ciphertext) };
                transport.deliver(&peer.inbox, &wire).await
            }
        };
        match delivery {
            Delivery::Receipt(token) => match self.check_receipt(&row, &peer, &token) {
                Ok(()) => {
                    // Two independent durable writes (the outbox row, the log): in parallel.
                    let (settled, logged) = tokio::join!(
                        self.settle(&row, "delivered", at, None, Some(&token), stamp.clone()),
                        self.log_outcome(&row.id, "messages.delivered", AuditResult::Allowed, None)
                    );
                    settled.and(logged)
                }
                Err(why) => self.retry_or_fail(&row, &format!("receipt refused: {why}"), at).await,
            },
            Delivery::Refused(why) => {
                self.settle(&row, "failed", at, Some(&why), None, stamp.clone()).await?;
                self.log_outcome(&row.id, "messages.failed", AuditResult::Failed, Some(why)).await
            }
            Delivery::Retry(why) => self.retry_or_fail(&row, &why, at).await,
        }
    }

    /// Stream the message's attachments (if any) to the recipient node: `None` when all arrived.
    async fn send_attachments(
        &self,
        transport: &dyn Transport,
        peer: &PeerNode,
        row: &repo::OutRow,
    ) -> Option<Delivery> {
        let list = Envelope::peek(&row.envelope).map(|e| e.attachments).unwrap_or_default();
        if list.is_empty() {
            return None;
        }
        // A large transfer may outlast the claim's lease: keep the claim for as long as it may take at
        // 1 MiB/s, so that no second attempt starts beside this one.
        let bytes: u64 = list.iter().map(|a| a.ciphertext_length).sum();
        let until = now() + LEASE_SECS + (bytes >> 20) as i64;
        if let Err(e) = repo::extend_claim(&self.store, &row.id, row.attempts, until).await {
            return Some(Delivery::Retry(format!("outbox: {e}")));
        }
        for (n, a) in list.iter().enumerate() {
            let path = match self.files.outbox_file(&row.id, n) {
                Ok(p) => p,
                Err(e) => return Some(Delivery::Refused(format!("attachment {n}: {e}"))),
            };
            if let Some(failed) = transport.upload(&peer.inbox, &row.id, n, &path, a.ciphertext_length).await {
                return Some(failed);
            }
        }
        None
    }

    fn check_receipt(&self, row: &repo::OutRow, peer: &PeerNode, token: &str) -> Result<(), String> {
        let r = Receipt::verify(token, &peer.jwks, &peer.log_key).map_err(|e| e.to_string())?;
        let ok = r.message_id == row.id
            && r.envelope_sha256 == sha256_b64(row.envelope.as_bytes())
            && r.ciphertext_sha256 == sha256_b64(&row.ciphertext)
            && r.recipient_node == row.recipient_node;
        if ok { Ok(()) } else { Err("it does not describe what was sent".into()) }
    }

    /// Settle the attempt on claimed `row` — only if the row is still that claim (`sent`, same attempt
    /// count): an attempt that outlived its lease must not overwrite a later attempt's outcome.
    async fn settle(
        &self,
        row: &repo::OutRow,
        status: &'static str,
        next: i64,
        error: Option<&str>,
        receipt: Option<&str>,
        at: String,
    ) -> Result<(), MsgError> {
        let id = row.id.as_str();
        let op = writer::Op::Settle {
            id: id.to_owned(),
            claim: Some(row.attempts),
            status,
            next,
            error: error.map(clean),
            receipt: receipt.map(str::to_owned),
            at,
        };
        let applied = self.writer.write(op).await.map_err(MsgError::Internal)?;
        if applied && status != "queued" {
            // Delivered, failed or expired: the encrypted attachments are not needed any more.
            self.files.remove_outbox(id).await;
        }
        if let Some(events) = &self.events
            && status != "queued"
        {
            events.message_status(id, status, serde_json::json!({"error": error}));
        }
        Ok(())
    }

    async fn retry_or_fail(&self, row: &repo::OutRow, why: &str, at: i64) -> Result<(), MsgError> {
        let next = at + backoff(row.attempts);
        let stamp = precise_now();
        if next >= row.expires_at {
            self.settle(&row, "expired", at, Some(why), None, stamp).await?;
            return self.log_outcome(&row.id, "messages.expired", AuditResult::Failed, Some(why.to_owned())).await;
        }
        tracing::info!(message = %row.id, attempts = row.attempts, retry_in = next - at, reason = %why, "delivery will be retried");
        self.settle(&row, "queued", next, Some(why), None, stamp.clone()).await
    }

    async fn log_outcome(
        &self,
        id: &str,
        action: &str,
        result: AuditResult,
        reason: Option<String>,
    ) -> Result<(), MsgError> {
        let event = Context::system(&self.me.entity_id).event(
            action,
            Some(ObjectRef { kind: "message".into(), id: id.into() }),
            result,
            reason,
        );
        self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
        Ok(())
    }

    /// Receive a delivery over a connection whose client certificate has the SHA-256 `certificate`
    /// (base64url). Returns the signed receipt — the same one again for a repeated delivery.
    pub async fn receive(&self, certificate: &str, wire: &Wire) -> Result<String, MsgError> {
        match self.accept(certificate, wire).await {
            Ok(receipt) => Ok(receipt),
            Err(e @ (MsgError::Internal(_) | MsgError::Busy(_))) => Err(e),
            Err(e) => {
                // What the refused envelope claims is untrusted: cleaned and shortened before it is logged.
                let claimed = Envelope::peek(&wire.envelope).ok();
                let id = claimed.as_ref().map(|e| clean(&e.id)).unwrap_or_default();
                let peer =
                    claimed.map_or_else(|| format!("certificate {}", clean(certificate)), |e| clean(&e.sender_node));
                let ctx = Context::system(&peer);
                let object = (!id.is_empty()).then(|| ObjectRef { kind: "message".into(), id });
                let event = ctx.event("messages.refused", object, AuditResult::Denied, Some(clean(&e.to_string())));
                self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
                Err(e)
            }
        }
    }

    async fn accept(&self, certificate: &str, wire: &Wire) -> Result<String, MsgError> {
        let refused = |why: String| MsgError::Refused(why);
        let claimed = Envelope::peek(&wire.envelope).map_err(|e| refused(format!("envelope: {e}")))?;
        let peer = claimed.sender_node.as_str();
        // The federation says whose certificate this is: it must be the node the envelope names.
        let sender = self.directory.node(peer).await.map_err(|why| refused(format!("sender node {peer}: {why}")))?;
        if sender.certificate_sha256 != certificate {
            return Err(refused(format!(
                "the envelope names {peer} as sender node, but the connection's certificate is not that node's"
            )));
        }
        let envelope =
            Envelope::verify(&wire.envelope, &sender.jwks).map_err(|e| refused(format!("envelope signature: {e}")))?;
        if envelope.recipient_node != self.me.entity_id {
            return Err(refused(format!("the message is for {}, not this node", envelope.recipient_node)));
        }
        let fields = serde_json::to_value(&envelope).unwrap_or(Value::Null);
        if fields.as_object().is_some_and(|o| {
            o.values().any(|v| v.as_str().is_some_and(|s| s.chars().any(char::is_control) || s.len() > 512))
        }) {
            return Err(refused("an envelope field holds control characters or is too long".into()));
        }
        if envelope.attachments.len() > attachments::MAX_ATTACHMENTS {
            return Err(refused(format!("more than {} attachments", attachments::MAX_ATTACHMENTS)));
        }
        for (n, a) in envelope.attachments.iter().enumerate() {
            let sane = attachments::valid_name(&a.name).is_ok()
                && attachments::valid_media_type(&a.media_type).is_ok()
                && a.size <= attachments::MAX_SIZE
                && a.ciphertext_length == attachments::ciphertext_length(a.size);
            if !sane {
                return Err(refused(format!("attachment {n}: a bad name, media type or length")));
            }
        }
        require_canonical("sender", &envelope.sender).map_err(refused)?;
        require_canonical("recipient", &envelope.recipient).map_err(refused)?;
        // The sender organisation is the node's: its address must be served by the node that signed.
        let sender_address = self
            .directory
            .address(&envelope.sender)
            .await
            .map_err(|why| refused(format!("sender {}: {why}", envelope.sender)))?;
        if sender_address.node != envelope.sender_node {
            return Err(refused(format!(
                "{} is not served by the sending node {}",
                envelope.sender, envelope.sender_node
            )));
        }
        // The recipient address is one this node serves, and it accepts this type and version now.
        let recipient = self
            .directory
            .address(&envelope.recipient)
            .await
            .map_err(|why| refused(format!("recipient {}: {why}", envelope.recipient)))?;
        if recipient.node != self.me.entity_id {
            return Err(refused(format!("{} is not served by this node", envelope.recipient)));
        }
        recipient.accepts(&envelope.message_type, &envelope.version, now()).map_err(refused)?;
        let fresh =
            self.receiving.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(envelope.id.clone());
        if !fresh {
            return Err(MsgError::Busy(format!("message {} is being received on another connection", envelope.id)));
        }
        let _receiving = Receiving(self, envelope.id.clone());
        // A repeat: the same receipt, nothing else happens (exactly-once effect).
        if let Some(stored) = repo::inbound(&self.store, &envelope.id).await? {
            self.files.remove_incoming(certificate, &envelope.id).await;
            if stored.envelope != wire.envelope {
                return Err(refused(format!("message id {} was already received with another envelope", envelope.id)));
            }
            return Ok(stored.receipt);
        }
        let at = now();
        if parse_time(&envelope.expires).is_none_or(|e| e <= at) {
            return Err(refused("the message has expired".into()));
        }
        let ciphertext =
            URL_SAFE_NO_PAD.decode(&wire.ciphertext).map_err(|_| refused("ciphertext: not base64url".into()))?;
        if sha256_b64(&ciphertext) != envelope.ciphertext_sha256
            || ciphertext.len() as u64 != envelope.ciphertext_length
        {
            return Err(refused("the ciphertext is not the one the envelope was signed for".into()));
        }
        if envelope.encryption.suite != seal::SUITE || envelope.encryption.kid != self.me.encryption.kid() {
            return Err(refused("encrypted with another suite or key than this node's".into()));
        }
        let enc = URL_SAFE_NO_PAD
            .decode(&envelope.encryption.enc)
            .map_err(|_| refused("encryption.enc: not base64url".into()))?;
        let (plaintext, attachment_key) =
            seal::open(&self.me.encryption, &enc, &envelope.id, &ciphertext).map_err(|e| refused(e.to_string()))?;
        let payload: Value =
            serde_json::from_slice(&plaintext).map_err(|_| refused("the payload is not JSON".into()))?;
        let schema = self
            .directory
            .schema(&envelope.message_type, &envelope.version)
            .await
            .map_err(|why| refused(format!("message type: {why}")))?;
        if let Err(errors) = schema.check(&payload, "payload") {
            let list = errors.iter().map(|e| format!("{}: {}", e.property, e.reason)).collect::<Vec<_>>().join("; ");
            return Err(refused(format!("the payload does not fit the schema: {list}")));
        }
        // Each attachment arrived from this node as signed, and every chunk opens.
        let attachment_digests = self.check_attachments(certificate, &envelope, attachment_key).await?;

        // Log the receipt event first: the receipt carries its place in the log.
        let mut event = Context::system(peer).event(
            "messages.received",
            Some(ObjectRef { kind: "message".into(), id: envelope.id.clone() }),
            AuditResult::Allowed,
            None,
        );
        event.details = Some(
            [
                ("envelopeSha256", sha256_b64(wire.envelope.as_bytes())),
                ("ciphertextSha256", envelope.ciphertext_sha256.clone()),
                ("payloadSha256", sha256_b64(&plaintext)),
                ("sender", envelope.sender.clone()),
                ("recipient", envelope.recipient.clone()),
                ("messageType", envelope.message_type.clone()),
            ]
            .into_iter()
            .chain((!attachment_digests.is_empty()).then(|| ("attachmentsSha256", attachment_digests.join(" "))))
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        );
        // The leaf is the event's canonical bytes: what the receipt carries, with no read back.
        let leaf = event.canonical_bytes();
        let appended = self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
        let index = appended.first_index;
        let proof = self
            .audit
            .inclusion_proof(index, appended.tree_size)
            .await
            .map_err(|e| MsgError::Internal(e.to_string()))?;
        let receipt = Receipt {
            message_id: envelope.id.clone(),
            sender_node: envelope.sender_node.clone(),
            recipient_node: self.me.entity_id.clone(),
            envelope_sha256: sha256_b64(wire.envelope.as_bytes()),
            ciphertext_sha256: envelope.ciphertext_sha256.clone(),
            payload_sha256: sha256_b64(&plaintext),
            received_at: rfc3339(at),
            log: LogProof {
                index,
                tree_size: appended.tree_size,
                leaf: STANDARD.encode(&leaf),
                checkpoint: appended.checkpoint.clone(),
                inclusion_proof: proof.iter().map(|h| STANDARD.encode(h)).collect(),
            },
        }
        .sign(&self.me.signing);
        // The files go into the inbox before the message row: a stored message always has them.
        let moved = {
            let (files, cert, envelope) = (self.files.clone(), certificate.to_owned(), envelope.clone());
            tokio::task::spawn_blocking(move || {
                envelope
                    .attachments
                    .iter()
                    .enumerate()
                    .try_for_each(|(n, a)| files.accept_incoming(&cert, &envelope.id, n, a))
            })
            .await
        };
        match moved {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(MsgError::Internal(format!("attachments: {e}"))),
            Err(e) => return Err(MsgError::Internal(e.to_string())),
        }
        if !envelope.attachments.is_empty() {
            self.files.remove_incoming(certificate, &envelope.id).await;
        }
        let row = repo::InRow {
            id: envelope.id.clone(),
            sender: envelope.sender,
            sender_node: envelope.sender_node,
            recipient: envelope.recipient,
            message_type: envelope.message_type,
            version: envelope.version,
            conversation_id: envelope.conversation_id,
            case_id: envelope.case_id,
            envelope: wire.envelope.clone(),
            payload: String::from_utf8_lossy(&plaintext).into_owned(),
            receipt: receipt.clone(),
            received_at: rfc3339(at),
            acked_at: None,
            seq: OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1000,
        };
        if !self.writer.write(writer::Op::InsertIn(Box::new(row.clone()))).await.map_err(MsgError::Internal)? {
            // Two deliveries of one message raced in two processes sharing the database; the first
            // one's receipt stands.
            let stored =
                repo::inbound(&self.store, &row.id).await?.ok_or_else(|| MsgError::Internal("inbox race".into()))?;
            if stored.envelope != wire.envelope {
                return Err(refused(format!("message id {} was already received with another envelope", row.id)));
            }
            return Ok(stored.receipt);
        }
        if let Some(events) = &self.events {
            events.message_received(
                &row.id,
                serde_json::json!({"id": row.id, "sender": row.sender, "senderNode": row.sender_node, "recipient": row.recipient,
                    "messageType": row.message_type, "version": row.version, "conversationId": row.conversation_id, "caseId": row.case_id}),
            );
        }
        Ok(receipt)
    }

    /// Check each attachment the envelope lists arrived from `certificate` with the signed length and
    /// hash, and open every chunk once: the plaintexts' SHA-256 (base64url), in order.
    async fn check_attachments(
        &self,
        certificate: &str,
        envelope: &Envelope,
        key: [u8; 32],
    ) -> Result<Vec<String>, MsgError> {
        if envelope.attachments.is_empty() {
            return Ok(Vec::new());
        }
        let (files, cert, envelope) = (self.files.clone(), certificate.to_owned(), envelope.clone());
        let checked = tokio::task::spawn_blocking(move || {
            envelope
                .attachments
                .iter()
                .enumerate()
                .map(|(n, a)| {
                    files.verify_incoming(&cert, &envelope.id, n, a, &key).map_err(|e| match e {
                        AttachmentError::Io(e) => MsgError::Internal(format!("attachment {n}: {e}")),
                        e => MsgError::Refused(format!("attachment {n}: {e}")),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| MsgError::Internal(e.to_string()))?;
        checked
    }

    pub async fn incoming(&self, id: &str) -> Result<Incoming, MsgError> {
        repo::inbound(&self.store, id)
            .await?
            .map(to_incoming)
            .ok_or_else(|| MsgError::NotFound(format!("no message {id} in the inbox")))
    }

    pub async fn inbox(&self, all: bool, limit: u32, offset: u64) -> Result<Vec<Incoming>, MsgError> {
        Ok(repo::inbox(&self.store, all, limit, offset).await?.into_iter().map(to_incoming).collect())
    }

    /// The local system has taken the message (idempotent).
    pub async fn ack(&self, ctx: &Context, id: &str) -> Result<(), MsgError> {
        if !repo::ack(&self.store, id, &rfc3339(now())).await? {
            return Err(MsgError::NotFound(format!("no message {id} in the inbox")));
        }
        let event = ctx.event(
            "messages.acknowledged",
            Some(ObjectRef { kind: "message".into(), id: id.into() }),
            AuditResult::Allowed,
            None,
        );
        self.audit.append(vec![event]).await.map_err(|e| MsgError::Internal(e.to_string()))?;
        Ok(())
    }

    /// The node's store (for the node's own small tables, such as its subscriptions).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn inbox_count(&self) -> Result<i64, MsgError> {
        Ok(repo::inbox_count(&self.store).await?)
    }
}

/// Wait for the first of `futures` to finish: (its output, its index, the others).
async fn futures_select_all<F: Future + Unpin>(mut futures: Vec<F>) -> (F::Output, usize, Vec<F>) {
    let (out, i) = std::future::poll_fn(|cx| {
        for (i, f) in futures.iter_mut().enumerate() {
            if let std::task::Poll::Ready(out) = Pin::new(f).poll(cx) {
                return std::task::Poll::Ready((out, i));
            }
        }
        std::task::Poll::Pending
    })
    .await;
    drop(futures.swap_remove(i));
    (out, i, futures)
}

fn to_outgoing(r: repo::OutRow) -> Outgoing {
    Outgoing {
        id: r.id,
        recipient: r.recipient,
        recipient_node: r.recipient_node,
        message_type: r.message_type,
        version: r.version,
        conversation_id: r.conversation_id,
        status: r.status,
        attempts: r.attempts,
        last_error: r.last_error,
        attachments: Envelope::peek(&r.envelope).map(|e| e.attachments).unwrap_or_default(),
        receipt: r.receipt,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

fn to_incoming(r: repo::InRow) -> Incoming {
    Incoming {
        payload: serde_json::from_str(&r.payload).unwrap_or(Value::Null),
        id: r.id,
        sender: r.sender,
        sender_node: r.sender_node,
        recipient: r.recipient,
        message_type: r.message_type,
        version: r.version,
        conversation_id: r.conversation_id,
        case_id: r.case_id,
        attachments: Envelope::peek(&r.envelope).map(|e| e.attachments).unwrap_or_default(),
        envelope: r.envelope,
        receipt: r.receipt,
        received_at: r.received_at,
        acked_at: r.acked_at,
    }
}
