//! SQL of the recipient registry (`mail_recipients`, `mail_blocked_senders`, `mail_changes`); the
//! mailbox's is in `mailbox_repo.rs`. Lists of ids are asked in chunks of [`CHUNK`], so one
//! reachability call of 10 000 ids is ten indexed queries whatever the registry's size.

use std::collections::{HashMap, HashSet};

use ena_store::{BeginWrite, Store, with_pool};

use crate::model::Change;

/// The error of every read and write here (the database's own).
pub type DbError = sqlx::Error;

/// Ids per `IN (…)` list (well under SQLite's 32 766 and PostgreSQL's 65 535 bound parameters).
pub const CHUNK: usize = 1000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecipientRow {
    pub id: String,
    pub kind: String,
    pub operator: String,
    pub status: String,
    pub registered_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, kind, operator, status, registered_at, updated_at";

pub async fn get(store: &Store, id: &str) -> Result<Option<RecipientRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM mail_recipients WHERE id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(pool).await)
}

/// Run `query` over `ids` in chunks of [`CHUNK`], each chunk on its own connection at once (one call's
/// probes spread over the cores and the pool), and gather the rows.
async fn chunked<T, F, Fut>(ids: &[&str], query: F) -> Result<Vec<T>, sqlx::Error>
where
    T: Send + 'static,
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, sqlx::Error>> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in ids.chunks(CHUNK) {
        tasks.spawn(query(chunk.iter().map(|id| (*id).to_owned()).collect()));
    }
    let mut out = Vec::with_capacity(ids.len());
    while let Some(done) = tasks.join_next().await {
        out.extend(done.map_err(|e| sqlx::Error::Protocol(format!("a chunk's lookup task: {e}")))??);
    }
    Ok(out)
}

/// The registered among `ids`, by id.
pub async fn among(store: &Store, ids: &[&str]) -> Result<HashMap<String, RecipientRow>, sqlx::Error> {
    let rows = chunked(ids, |chunk| {
        let store = store.clone();
        async move {
            let list = ena_store::placeholders(1, chunk.len());
            match &store {
                // SQLite hands rows one by one from its worker thread (microseconds each): the chunk's
                // rows come back as one JSON array in one row instead, about half the time.
                Store::Sqlite(pool, _) => {
                    let sql = format!(
                        "SELECT json_group_array(json_array({COLUMNS})) FROM mail_recipients WHERE id IN ({list})"
                    );
                    let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql));
                    for id in &chunk {
                        q = q.bind(id);
                    }
                    let (json,) = q.fetch_one(pool).await?;
                    let rows: Vec<(String, String, String, String, i64, i64)> =
                        serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                    Ok(rows
                        .into_iter()
                        .map(|(id, kind, operator, status, registered_at, updated_at)| RecipientRow {
                            id,
                            kind,
                            operator,
                            status,
                            registered_at,
                            updated_at,
                        })
                        .collect())
                }
                Store::Postgres(pool) => {
                    let sql = format!("SELECT {COLUMNS} FROM mail_recipients WHERE id IN ({list})");
                    let mut q = sqlx::query_as::<_, RecipientRow>(sqlx::AssertSqlSafe(sql));
                    for id in &chunk {
                        q = q.bind(id);
                    }
                    q.fetch_all(pool).await
                }
            }
        }
    })
    .await?;
    Ok(rows.into_iter().map(|r| (r.id.clone(), r)).collect())
}

/// Which of `ids` block `sender`.
pub async fn blocking(store: &Store, sender: &str, ids: &[&str]) -> Result<HashSet<String>, sqlx::Error> {
    let rows = chunked(ids, |chunk| {
        let (store, sender) = (store.clone(), sender.to_owned());
        async move {
            let list = ena_store::placeholders(2, chunk.len());
            match &store {
                // One row for the chunk on SQLite, as in `among`.
                Store::Sqlite(pool, _) => {
                    let sql = format!(
                        "SELECT group_concat(recipient) FROM mail_blocked_senders WHERE sender = $1 AND recipient IN ({list})"
                    );
                    let mut q = sqlx::query_as::<_, (Option<String>,)>(sqlx::AssertSqlSafe(sql)).bind(&sender);
                    for id in &chunk {
                        q = q.bind(id);
                    }
                    let (joined,) = q.fetch_one(pool).await?;
                    Ok(joined.map(|j| j.split(',').map(|r| (r.to_owned(),)).collect()).unwrap_or_default())
                }
                Store::Postgres(pool) => {
                    let sql = format!(
                        "SELECT recipient FROM mail_blocked_senders WHERE sender = $1 AND recipient IN ({list})"
                    );
                    let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql)).bind(&sender);
                    for id in &chunk {
                        q = q.bind(id);
                    }
                    q.fetch_all(pool).await
                }
            }
        }
    })
    .await?;
    Ok(rows.into_iter().map(|(r,)| r).collect())
}

/// The senders `recipient` blocks, in order.
pub async fn blocked_by(store: &Store, recipient: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT sender FROM mail_blocked_senders WHERE recipient = $1 ORDER BY sender")
        .bind(recipient).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|(s,)| s).collect())
}

/// One signature of a change.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangeRow {
    pub id: String,
    pub recipient: String,
    pub change_key: String,
    pub signer: String,
    pub statement: String,
    pub signature: String,
    pub signed_at: i64,
    pub applied_at: Option<i64>,
}

const CHANGE_COLUMNS: &str = "id, recipient, change_key, signer, statement, signature, signed_at, applied_at";

/// The changes of `recipient` signed after `since` that wait for more signatures.
pub async fn pending(store: &Store, recipient: &str, since: i64) -> Result<Vec<ChangeRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CHANGE_COLUMNS} FROM mail_changes WHERE recipient = $1 AND applied_at IS NULL AND signed_at > $2 \
         ORDER BY signed_at, id"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(recipient).bind(since).fetch_all(pool).await)
}

/// The signed changes of `recipient`, newest first.
pub async fn changes(store: &Store, recipient: &str, limit: u32, offset: u64) -> Result<Vec<ChangeRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CHANGE_COLUMNS} FROM mail_changes WHERE recipient = $1 ORDER BY signed_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(recipient).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

/// Record a signature that does not yet complete its change.
pub async fn add_signature(store: &Store, c: &ChangeRow) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => {
        sqlx::query("INSERT INTO mail_changes (id, recipient, change_key, signer, statement, signature, signed_at, applied_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)")
            .bind(&c.id).bind(&c.recipient).bind(&c.change_key).bind(&c.signer).bind(&c.statement).bind(&c.signature)
            .bind(c.signed_at).execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// Apply `change` to `recipient` (of `kind`) with its last signature `c`, marking the signatures it
/// waited for (`completes`, ids) applied — one transaction, so a change is in effect exactly when its
/// signatures say so.
pub async fn apply(
    store: &Store,
    kind: &str,
    change: &Change,
    c: &ChangeRow,
    completes: &[String],
) -> Result<(), sqlx::Error> {
    let now = c.signed_at;
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        match change {
            Change::Register { operator } => {
                sqlx::query("INSERT INTO mail_recipients (id, kind, operator, status, registered_at, updated_at) \
                             VALUES ($1, $2, $3, 'active', $4, $4) \
                             ON CONFLICT (id) DO UPDATE SET operator = excluded.operator, updated_at = excluded.updated_at")
                    .bind(&c.recipient).bind(kind).bind(operator).bind(now).execute(&mut *tx).await?;
            }
            Change::Deregister => {
                sqlx::query("DELETE FROM mail_recipients WHERE id = $1").bind(&c.recipient).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM mail_blocked_senders WHERE recipient = $1").bind(&c.recipient).execute(&mut *tx).await?;
            }
            Change::Block { sender } => {
                sqlx::query("INSERT INTO mail_blocked_senders (recipient, sender, blocked_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (sender, recipient) DO NOTHING")
                    .bind(&c.recipient).bind(sender).bind(now).execute(&mut *tx).await?;
                sqlx::query("UPDATE mail_recipients SET updated_at = $2 WHERE id = $1").bind(&c.recipient).bind(now).execute(&mut *tx).await?;
            }
            Change::Unblock { sender } => {
                sqlx::query("DELETE FROM mail_blocked_senders WHERE recipient = $1 AND sender = $2")
                    .bind(&c.recipient).bind(sender).execute(&mut *tx).await?;
                sqlx::query("UPDATE mail_recipients SET updated_at = $2 WHERE id = $1").bind(&c.recipient).bind(now).execute(&mut *tx).await?;
            }
        }
        sqlx::query("INSERT INTO mail_changes (id, recipient, change_key, signer, statement, signature, signed_at, applied_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
            .bind(&c.id).bind(&c.recipient).bind(&c.change_key).bind(&c.signer).bind(&c.statement).bind(&c.signature)
            .bind(now).execute(&mut *tx).await?;
        for id in completes {
            sqlx::query("UPDATE mail_changes SET applied_at = $2 WHERE id = $1").bind(id).bind(now).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok::<(), sqlx::Error>(())
    })
}

/// Register `ids` in bulk at `operator` (for `ena bench mail`): rows only, no signatures; one
/// transaction, 500 rows a statement.
pub async fn fill(store: &Store, ids: &[String], operator: &str, now: i64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        for chunk in ids.chunks(500) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, $1, 'active', $2, $2)", 3 + 2 * i, 4 + 2 * i))
                .collect();
            let sql = format!(
                "INSERT INTO mail_recipients (id, kind, operator, status, registered_at, updated_at) VALUES {} \
                 ON CONFLICT (id) DO NOTHING",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(operator).bind(now);
            for id in chunk {
                q = q.bind(id).bind(if id.starts_with("16") { "organisation" } else { "person" });
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await
    })
}

/// `recipients` block `sender` (bulk, for `ena bench mail`).
pub async fn fill_blocks(store: &Store, sender: &str, recipients: &[String], now: i64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        for r in recipients {
            sqlx::query("INSERT INTO mail_blocked_senders (recipient, sender, blocked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(r).bind(sender).bind(now).execute(&mut *tx).await?;
        }
        tx.commit().await
    })
}

// ---- The built-in mailbox ----

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: String,
    pub recipient: String,
    pub sender: String,
    pub sender_name: String,
    pub subject: String,
    pub case_id: Option<String>,
    pub recipient_only: i64,
    pub reply_allowed: i64,
    pub receipt: String,
    pub content: String,
    pub delivery_ref: String,
    pub in_reply_to: Option<String>,
    pub received_at: i64,
    pub expires_at: Option<i64>,
    pub first_opened_at: Option<i64>,
}

const MESSAGE_COLUMNS: &str = "m.id, m.recipient, m.sender, m.sender_name, m.subject, m.case_id, m.recipient_only, \
    m.reply_allowed, m.receipt, m.content, m.delivery_ref, m.in_reply_to, m.received_at, m.expires_at, m.first_opened_at";

/// Store a delivered message; false when its delivery was stored before.
pub async fn insert_message(store: &Store, r: &MessageRow) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query(
        "INSERT INTO mail_messages (id, recipient, sender, sender_name, subject, case_id, recipient_only, reply_allowed, \
         receipt, content, delivery_ref, in_reply_to, received_at, expires_at, first_opened_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL) ON CONFLICT (delivery_ref) DO NOTHING")
        .bind(&r.id).bind(&r.recipient).bind(&r.sender).bind(&r.sender_name).bind(&r.subject).bind(&r.case_id)
        .bind(r.recipient_only).bind(r.reply_allowed).bind(&r.receipt).bind(&r.content).bind(&r.delivery_ref)
        .bind(&r.in_reply_to).bind(r.received_at).bind(r.expires_at)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Store messages in bulk (for `ena bench mail`), one transaction.
pub async fn insert_messages(store: &Store, rows: &[MessageRow]) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO mail_messages (id, recipient, sender, sender_name, subject, case_id, recipient_only, reply_allowed, \
                 receipt, content, delivery_ref, in_reply_to, received_at, expires_at, first_opened_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL)")
                .bind(&r.id).bind(&r.recipient).bind(&r.sender).bind(&r.sender_name).bind(&r.subject).bind(&r.case_id)
                .bind(r.recipient_only).bind(r.reply_allowed).bind(&r.receipt).bind(&r.content).bind(&r.delivery_ref)
                .bind(&r.in_reply_to).bind(r.received_at).bind(r.expires_at)
                .execute(&mut *tx).await?;
        }
        tx.commit().await
    })
}

pub async fn message(store: &Store, id: &str) -> Result<Option<MessageRow>, sqlx::Error> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM mail_messages m WHERE m.id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(pool).await)
}

/// The messages of `ids` (at most a few hundred), by id: one query.
pub async fn messages(store: &Store, ids: &[String]) -> Result<HashMap<String, MessageRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM mail_messages m WHERE m.id IN ({})",
        ena_store::placeholders(1, ids.len())
    );
    let rows: Vec<MessageRow> = with_pool!(store, pool => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(|r| (r.id.clone(), r)).collect())
}

pub async fn message_by_reference(store: &Store, reference: &str) -> Result<Option<MessageRow>, sqlx::Error> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM mail_messages m WHERE m.delivery_ref = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(reference).fetch_optional(pool).await)
}

#[derive(sqlx::FromRow)]
struct Listed {
    #[sqlx(flatten)]
    row: MessageRow,
    read_at: Option<i64>,
    folder: Option<String>,
}

/// A page of the messages of `own` (all) and `others` (not recipient-only) in `viewer`'s `folder`,
/// newest first, with the viewer's read time and folder.
#[allow(clippy::too_many_arguments)]
pub async fn list(
    store: &Store,
    viewer: &str,
    own: &[&str],
    others: &[&str],
    folder: &str,
    unread_only: bool,
    now: i64,
    limit: u32,
    offset: u64,
) -> Result<Vec<(MessageRow, Option<i64>, Option<String>)>, sqlx::Error> {
    if own.is_empty() && others.is_empty() {
        return Ok(Vec::new());
    }
    // $1 viewer, $2 folder, $3 now, $4 limit, $5 offset, then the parties.
    let mut n = 6;
    let mut branches = Vec::new();
    if !own.is_empty() {
        branches.push(format!("m.recipient IN ({})", ena_store::placeholders(n, own.len())));
        n += own.len();
    }
    if !others.is_empty() {
        branches
            .push(format!("(m.recipient IN ({}) AND m.recipient_only = 0)", ena_store::placeholders(n, others.len())));
    }
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS}, k.read_at, k.folder FROM mail_messages m \
         LEFT JOIN mail_marks k ON k.message_id = m.id AND k.viewer = $1 \
         WHERE ({}) AND COALESCE(k.folder, 'inbox') = $2 AND (m.expires_at IS NULL OR m.expires_at > $3){} \
         ORDER BY m.received_at DESC, m.id DESC LIMIT $4 OFFSET $5",
        branches.join(" OR "),
        if unread_only { " AND k.read_at IS NULL" } else { "" }
    );
    let rows: Vec<Listed> = with_pool!(store, pool => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(viewer).bind(folder).bind(now).bind(i64::from(limit)).bind(offset as i64);
        for p in own.iter().chain(others) {
            q = q.bind(*p);
        }
        q.fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(|l| (l.row, l.read_at, l.folder)).collect())
}

/// Set `viewer`'s marks on `ids`: `read` (Some(None) unread, Some(Some(t)) read at t) and/or `folder`.
pub async fn mark(
    store: &Store,
    viewer: &str,
    ids: &[&str],
    read: Option<Option<i64>>,
    folder: Option<&str>,
) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        for id in ids {
            sqlx::query("INSERT INTO mail_marks (message_id, viewer, read_at, folder) VALUES ($1, $2, NULL, 'inbox') \
                         ON CONFLICT (message_id, viewer) DO NOTHING")
                .bind(*id).bind(viewer).execute(&mut *tx).await?;
            if let Some(read) = read {
                sqlx::query("UPDATE mail_marks SET read_at = $3 WHERE message_id = $1 AND viewer = $2")
                    .bind(*id).bind(viewer).bind(read).execute(&mut *tx).await?;
            }
            if let Some(folder) = folder {
                sqlx::query("UPDATE mail_marks SET folder = $3 WHERE message_id = $1 AND viewer = $2")
                    .bind(*id).bind(viewer).bind(folder).execute(&mut *tx).await?;
            }
        }
        tx.commit().await
    })
}

pub async fn mark_of(store: &Store, id: &str, viewer: &str) -> Result<Option<(Option<i64>, String)>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT read_at, folder FROM mail_marks WHERE message_id = $1 AND viewer = $2")
        .bind(id).bind(viewer).fetch_optional(pool).await)
}

/// Note the first opening; true for the one call that did.
pub async fn first_open(store: &Store, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query(
        "UPDATE mail_messages SET first_opened_at = $2 WHERE id = $1 AND first_opened_at IS NULL")
        .bind(id).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn add_receipt(store: &Store, id: &str, kind: &str, at: i64, receipt: &str) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO mail_receipts (message_id, kind, at, receipt) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (message_id, kind) DO NOTHING")
        .bind(id).bind(kind).bind(at).bind(receipt).execute(pool).await.map(|_| ()))
}

/// First openings whose signed receipt is due at `now`: (message id, the carrying message id, when,
/// attempts so far), longest waiting first.
pub async fn pending_receipts(
    store: &Store,
    now: i64,
    limit: u32,
) -> Result<Vec<(String, String, i64, i64)>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT r.message_id, m.delivery_ref, r.at, r.attempts FROM mail_receipts r JOIN mail_messages m ON m.id = r.message_id \
         WHERE r.receipt = '{}' AND r.next_at <= $1 AND r.kind = 'opened' ORDER BY r.next_at, r.at LIMIT $2")
        .bind(now).bind(i64::from(limit)).fetch_all(pool).await)
}

/// Ask again for a receipt not made this time, at `next_at`.
pub async fn receipt_later(store: &Store, id: &str, kind: &str, next_at: i64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query(
        "UPDATE mail_receipts SET attempts = attempts + 1, next_at = $3 WHERE message_id = $1 AND kind = $2")
        .bind(id).bind(kind).bind(next_at).execute(pool).await.map(|_| ()))
}

/// What the operator's node answered for a receipt it made and sent.
pub async fn receipt_made(store: &Store, id: &str, kind: &str, receipt: &str) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("UPDATE mail_receipts SET receipt = $3 WHERE message_id = $1 AND kind = $2")
        .bind(id).bind(kind).bind(receipt).execute(pool).await.map(|_| ()))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplyRow {
    pub id: String,
    /// The letter replied to.
    pub message_id: String,
    /// The person who wrote it (the recipient, or a representative writing for them).
    pub author: String,
    pub body: String,
    pub created_at: i64,
    pub sent_message: Option<String>,
    pub attempts: i64,
}

pub async fn insert_reply(store: &Store, r: &ReplyRow) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO mail_replies (id, message_id, author, body, created_at, sent_message) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&r.id).bind(&r.message_id).bind(&r.author).bind(&r.body).bind(r.created_at).bind(&r.sent_message)
        .execute(pool).await.map(|_| ()))
}

/// The replies to a letter, oldest first.
pub async fn replies(store: &Store, message_id: &str) -> Result<Vec<ReplyRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT id, message_id, author, body, created_at, sent_message, attempts FROM mail_replies WHERE message_id = $1 \
         ORDER BY created_at, id LIMIT 100")
        .bind(message_id).fetch_all(pool).await)
}

/// Replies due at `now` not yet handed to the operator's node, longest waiting first.
pub async fn pending_replies(store: &Store, now: i64, limit: u32) -> Result<Vec<ReplyRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT id, message_id, author, body, created_at, sent_message, attempts FROM mail_replies \
         WHERE sent_message IS NULL AND next_at <= $1 ORDER BY next_at, created_at LIMIT $2")
        .bind(now).bind(i64::from(limit)).fetch_all(pool).await)
}

/// Hand a reply over again at `next_at`.
pub async fn reply_later(store: &Store, id: &str, next_at: i64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("UPDATE mail_replies SET attempts = attempts + 1, next_at = $2 WHERE id = $1")
        .bind(id).bind(next_at).execute(pool).await.map(|_| ()))
}

/// `sent_message` of a reply the operator's node refused for good.
pub const REPLY_REFUSED: &str = "refused";

pub async fn reply_sent(store: &Store, id: &str, message: &str) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("UPDATE mail_replies SET sent_message = $2 WHERE id = $1")
        .bind(id).bind(message).execute(pool).await.map(|_| ()))
}

/// Delete messages past their expiry or received before `received_before`, with their marks.
pub async fn purge(store: &Store, now: i64, received_before: i64) -> Result<u64, sqlx::Error> {
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        let gone = "SELECT id FROM mail_messages WHERE (expires_at IS NOT NULL AND expires_at <= $1) OR received_at < $2";
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM mail_marks WHERE message_id IN ({gone})")))
            .bind(now).bind(received_before).execute(&mut *tx).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM mail_receipts WHERE message_id IN ({gone})")))
            .bind(now).bind(received_before).execute(&mut *tx).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM mail_replies WHERE message_id IN ({gone})")))
            .bind(now).bind(received_before).execute(&mut *tx).await?;
        let n = sqlx::query("DELETE FROM mail_messages WHERE (expires_at IS NOT NULL AND expires_at <= $1) OR received_at < $2")
            .bind(now).bind(received_before).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok::<u64, sqlx::Error>(n)
    })
}

// ---- A sending node's letters ----

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SentRow {
    pub id: String,
    pub idempotency_key: Option<String>,
    /// The messaging message carrying it; `None` on paper (or while it is being sent).
    pub message_id: Option<String>,
    pub recipient: String,
    pub subject: String,
    pub operator: Option<String>,
    pub read_by_representatives: i64,
    pub paper_reason: Option<String>,
    pub created_at: i64,
}

const SENT_COLUMNS: &str =
    "id, idempotency_key, message_id, recipient, subject, operator, read_by_representatives, paper_reason, created_at";

/// Claim a letter's row; false when its idempotency key is taken (the first letter with it stands).
pub async fn claim_sent(store: &Store, r: &SentRow) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query(
        "INSERT INTO mail_sent (id, idempotency_key, message_id, recipient, subject, operator, read_by_representatives, paper_reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING")
        .bind(&r.id).bind(&r.idempotency_key).bind(&r.message_id).bind(&r.recipient).bind(&r.subject).bind(&r.operator)
        .bind(r.read_by_representatives).bind(&r.paper_reason).bind(r.created_at)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Record where a claimed letter went: the carrying message and operator, or paper with the reason.
pub async fn settle_sent(
    store: &Store,
    id: &str,
    message_id: Option<&str>,
    operator: Option<&str>,
    paper_reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query(
        "UPDATE mail_sent SET message_id = $2, operator = $3, paper_reason = $4 WHERE id = $1")
        .bind(id).bind(message_id).bind(operator).bind(paper_reason).execute(pool).await.map(|_| ()))
}

/// Give up a claim whose letter could not be sent (a bad letter, FaR not answering): the key is free again.
pub async fn release_sent(store: &Store, id: &str) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("DELETE FROM mail_sent WHERE id = $1 AND message_id IS NULL AND paper_reason IS NULL")
        .bind(id).execute(pool).await.map(|_| ()))
}

pub async fn sent_by_key(store: &Store, key: &str) -> Result<Option<SentRow>, sqlx::Error> {
    let sql = format!("SELECT {SENT_COLUMNS} FROM mail_sent WHERE idempotency_key = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(key).fetch_optional(pool).await)
}

pub async fn sent(store: &Store, id: &str) -> Result<Option<SentRow>, sqlx::Error> {
    let sql = format!("SELECT {SENT_COLUMNS} FROM mail_sent WHERE id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(pool).await)
}

/// Newest first.
pub async fn sent_page(store: &Store, limit: u32, offset: u64) -> Result<Vec<SentRow>, sqlx::Error> {
    let sql = format!("SELECT {SENT_COLUMNS} FROM mail_sent ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

// ---- A mailbox operator's node: the receipts it signs ----
//
// A receipt (or a reply) is claimed before it is made: the claim's `created_at` is its owner's token. A
// claim whose maker gave up is freed at once (`created_at` 0); one left by a crash is taken over after a
// minute (longer than any request may run). The signed receipt is kept as soon as it is made, so a retry
// sends the same receipt again and logs nothing twice.

/// Claim the receipt of `kind` for `letter` with `token` (the time now); false when it was sent already
/// or another request holds it.
pub async fn claim_operator_receipt(store: &Store, letter: &str, kind: &str, token: i64) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query(
        "INSERT INTO mail_operator_receipts (letter_id, kind, receipt, message_id, created_at) VALUES ($1, $2, '', '', $3) \
         ON CONFLICT (letter_id, kind) DO UPDATE SET created_at = excluded.created_at \
         WHERE mail_operator_receipts.message_id = '' AND mail_operator_receipts.created_at < excluded.created_at - 60")
        .bind(letter).bind(kind).bind(token).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The receipt made for `letter` ('' until made) and the message that carried it ('' until sent).
pub async fn operator_receipt(
    store: &Store,
    letter: &str,
    kind: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT receipt, message_id FROM mail_operator_receipts WHERE letter_id = $1 AND kind = $2")
        .bind(letter).bind(kind).fetch_optional(pool).await)
}

/// Keep the signed receipt (`message` empty) or the message that carried it, if `token` still holds
/// the claim; false when it does not.
pub async fn settle_operator_receipt(
    store: &Store,
    letter: &str,
    kind: &str,
    token: i64,
    receipt: &str,
    message: &str,
) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query(
        "UPDATE mail_operator_receipts SET receipt = $4, message_id = $5 WHERE letter_id = $1 AND kind = $2 AND created_at = $3")
        .bind(letter).bind(kind).bind(token).bind(receipt).bind(message).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Give up a claim whose receipt could not be sent: the next request takes it at once (and sends the
/// receipt kept, if one was made).
pub async fn release_operator_receipt(store: &Store, letter: &str, kind: &str, token: i64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query(
        "UPDATE mail_operator_receipts SET created_at = 0 WHERE letter_id = $1 AND kind = $2 AND created_at = $3 AND message_id = ''")
        .bind(letter).bind(kind).bind(token).execute(pool).await.map(|_| ()))
}
