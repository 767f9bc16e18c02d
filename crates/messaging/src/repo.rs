//! SQL of the outbox and the inbox (both dialects).

use ena_store::BeginWrite;
use ena_store::{Store, with_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutRow {
    pub id: String,
    pub recipient: String,
    pub recipient_node: String,
    pub message_type: String,
    pub version: String,
    pub conversation_id: String,
    pub envelope: String,
    pub ciphertext: Vec<u8>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub expires_at: i64,
    pub last_error: Option<String>,
    pub receipt: Option<String>,
    /// Unix milliseconds (delivery latency is read from these two).
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

const OUT_COLUMNS: &str = "id, recipient, recipient_node, message_type, version, conversation_id, envelope, ciphertext, status, \
     attempts, next_attempt_at, expires_at, last_error, receipt, created_at_ms, updated_at_ms";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InRow {
    pub id: String,
    pub sender: String,
    pub sender_node: String,
    pub recipient: String,
    pub message_type: String,
    pub version: String,
    pub conversation_id: String,
    pub case_id: Option<String>,
    pub envelope: String,
    pub payload: String,
    pub receipt: String,
    pub received_at: i64,
    pub acked_at: Option<i64>,
    pub seq: i64,
}

const IN_COLUMNS: &str = "id, sender, sender_node, recipient, message_type, version, conversation_id, case_id, envelope, payload, \
     receipt, received_at, acked_at, seq";

pub async fn out(store: &Store, id: &str) -> Result<Option<OutRow>, sqlx::Error> {
    let sql = format!("SELECT {OUT_COLUMNS} FROM msg_outbox WHERE id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)
}

pub async fn outs(store: &Store, status: Option<&str>, limit: u32, offset: u64) -> Result<Vec<OutRow>, sqlx::Error> {
    let sql =
        format!("SELECT {OUT_COLUMNS} FROM msg_outbox WHERE ($1 = '' OR status = $1) ORDER BY id LIMIT $2 OFFSET $3");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(status.unwrap_or_default())
        .bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

/// Claim up to `limit` messages due at `now` (queued, or sent long enough ago that the attempt must have
/// died with a crash): they become `sent` with the next attempt at `lease_until`, so a second worker or a
/// restart does not send them at the same time.
pub async fn claim_due(store: &Store, now: i64, lease_until: i64, limit: u32) -> Result<Vec<OutRow>, sqlx::Error> {
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM msg_outbox WHERE status IN ('queued', 'sent') AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2")
            .bind(now).bind(i64::from(limit)).fetch_all(&mut *tx).await?;
        let mut rows = Vec::with_capacity(ids.len());
        let sql = format!("UPDATE msg_outbox SET status = 'sent', next_attempt_at = $2, attempts = attempts + 1 \
                           WHERE id = $1 AND status IN ('queued', 'sent') AND next_attempt_at <= $3 RETURNING {OUT_COLUMNS}");
        for (id,) in ids {
            let row: Option<OutRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(&id).bind(lease_until).bind(now)
                .fetch_optional(&mut *tx).await?;
            rows.extend(row);
        }
        tx.commit().await?;
        Ok(rows)
    })
}

/// Make messages claimed by a worker that is gone (`sent`) due again at once. For a node's start: its
/// one worker is the only one that claims, so whatever is `sent` was in flight when it stopped.
pub async fn release_claims(store: &Store) -> Result<u64, sqlx::Error> {
    with_pool!(store, pool => sqlx::query("UPDATE msg_outbox SET status = 'queued', next_attempt_at = 0 WHERE status = 'sent'")
        .execute(pool).await.map(|r| r.rows_affected()))
}

/// Keep claim `attempts` of message `id` until `until` (a long transfer); false if it is not that claim.
pub async fn extend_claim(store: &Store, id: &str, attempts: i64, until: i64) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query(
        "UPDATE msg_outbox SET next_attempt_at = $3 WHERE id = $1 AND status = 'sent' AND attempts = $2")
        .bind(id).bind(attempts).bind(until).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn counts(store: &Store) -> Result<Vec<(String, i64)>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT status, COUNT(*) FROM msg_outbox GROUP BY status ORDER BY status").fetch_all(pool).await)
}

pub async fn inbound(store: &Store, id: &str) -> Result<Option<InRow>, sqlx::Error> {
    let sql = format!("SELECT {IN_COLUMNS} FROM msg_inbox WHERE id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)
}

/// Received messages of `message_type` in conversation `conversation`, oldest first (at most 100).
pub async fn inbound_in_conversation(
    store: &Store,
    conversation: &str,
    message_type: &str,
) -> Result<Vec<InRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {IN_COLUMNS} FROM msg_inbox WHERE conversation_id = $1 AND message_type = $2 ORDER BY seq, id LIMIT 100"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(conversation).bind(message_type).fetch_all(pool).await)
}

/// Received messages, oldest first; only unacknowledged ones unless `all`.
pub async fn inbox(store: &Store, all: bool, limit: u32, offset: u64) -> Result<Vec<InRow>, sqlx::Error> {
    let filter = if all { "" } else { "WHERE acked_at IS NULL" };
    let sql = format!("SELECT {IN_COLUMNS} FROM msg_inbox {filter} ORDER BY seq, id LIMIT $1 OFFSET $2");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

pub async fn ack(store: &Store, id: &str, at: i64) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("UPDATE msg_inbox SET acked_at = COALESCE(acked_at, $2) WHERE id = $1")
        .bind(id).bind(at).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn inbox_count(store: &Store) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        with_pool!(store, pool => sqlx::query_as("SELECT COUNT(*) FROM msg_inbox").fetch_one(pool).await)?;
    Ok(n)
}

/// Apply `ops` in one transaction; for each, whether it changed a row (inserts: whether the row was new).
pub async fn apply(store: &Store, ops: &[crate::writer::Op]) -> Result<Vec<bool>, sqlx::Error> {
    use crate::writer::Op;
    let insert_out = format!(
        "INSERT INTO msg_outbox ({OUT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    let insert_in = format!(
        "INSERT INTO msg_inbox ({IN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING"
    );
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        let mut done = Vec::with_capacity(ops.len());
        for op in ops {
            let n = match op {
                Op::InsertOut(r) => sqlx::query(sqlx::AssertSqlSafe(insert_out.clone()))
                    .bind(&r.id).bind(&r.recipient).bind(&r.recipient_node).bind(&r.message_type).bind(&r.version)
                    .bind(&r.conversation_id).bind(&r.envelope).bind(&r.ciphertext).bind(&r.status).bind(r.attempts)
                    .bind(r.next_attempt_at).bind(r.expires_at).bind(&r.last_error).bind(&r.receipt).bind(r.created_at_ms).bind(r.updated_at_ms)
                    .execute(&mut *tx).await?.rows_affected(),
                Op::InsertIn(r) => sqlx::query(sqlx::AssertSqlSafe(insert_in.clone()))
                    .bind(&r.id).bind(&r.sender).bind(&r.sender_node).bind(&r.recipient).bind(&r.message_type).bind(&r.version)
                    .bind(&r.conversation_id).bind(&r.case_id).bind(&r.envelope).bind(&r.payload).bind(&r.receipt)
                    .bind(r.received_at).bind(r.acked_at).bind(r.seq)
                    .execute(&mut *tx).await?.rows_affected(),
                Op::Settle { id, claim, status, next, error, receipt, at } => sqlx::query(
                    "UPDATE msg_outbox SET status = $2, next_attempt_at = $3, last_error = $4, receipt = COALESCE($5, receipt), updated_at_ms = $6 \
                     WHERE id = $1 AND ($7 < 0 OR (status = 'sent' AND attempts = $7))")
                    .bind(id).bind(*status).bind(*next).bind(error).bind(receipt).bind(at).bind(claim.unwrap_or(-1))
                    .execute(&mut *tx).await?.rows_affected(),
            };
            done.push(n == 1);
        }
        tx.commit().await?;
        Ok(done)
    })
}

/// A stored webhook subscription: (id, event types as a JSON array, webhook URL).
pub type SubscriptionRow = (String, String, String);

pub async fn insert_subscription(
    store: &Store,
    id: &str,
    types: &str,
    webhook: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("INSERT INTO node_subscriptions (id, types, webhook, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id).bind(types).bind(webhook).bind(at).execute(pool).await.map(|_| ()))
}

pub async fn subscriptions(store: &Store) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT id, types, webhook FROM node_subscriptions ORDER BY id").fetch_all(pool).await)
}

pub async fn delete_subscription(store: &Store, id: &str) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("DELETE FROM node_subscriptions WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A webhook event waiting for another attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingWebhook {
    pub id: String,
    pub webhook: String,
    pub body: String,
    pub signature: String,
    pub attempts: i64,
}

pub async fn queue_webhook(store: &Store, p: &PendingWebhook, at: i64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO node_webhook_queue (id, webhook, body, signature, attempts, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&p.id).bind(&p.webhook).bind(&p.body).bind(&p.signature).bind(p.attempts).bind(at)
        .execute(pool).await.map(|_| ()))
}

pub async fn webhook_attempted(store: &Store, id: &str, attempts: i64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("UPDATE node_webhook_queue SET attempts = $2 WHERE id = $1")
        .bind(id).bind(attempts).execute(pool).await.map(|_| ()))
}

pub async fn unqueue_webhook(store: &Store, id: &str) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("DELETE FROM node_webhook_queue WHERE id = $1").bind(id).execute(pool).await.map(|_| ()))
}

pub async fn queued_webhooks(store: &Store) -> Result<Vec<PendingWebhook>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT id, webhook, body, signature, attempts FROM node_webhook_queue ORDER BY created_at, id").fetch_all(pool).await)
}
