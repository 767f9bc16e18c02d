//! SQL of the recipient registry (`mail_recipients`, `mail_blocked_senders`, `mail_changes`); the
//! mailbox's is in `mailbox_repo.rs`. Lists of ids are asked in chunks of [`CHUNK`], so one
//! reachability call of 10 000 ids is ten indexed queries whatever the registry's size.

use std::collections::{HashMap, HashSet};

use ena_store::{BeginWrite, Store, with_pool};

use crate::model::Change;

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

/// The registered among `ids`, by id.
pub async fn among(store: &Store, ids: &[&str]) -> Result<HashMap<String, RecipientRow>, sqlx::Error> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let sql =
            format!("SELECT {COLUMNS} FROM mail_recipients WHERE id IN ({})", ena_store::placeholders(1, chunk.len()));
        let rows: Vec<RecipientRow> = with_pool!(store, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await
        })?;
        out.extend(rows.into_iter().map(|r| (r.id.clone(), r)));
    }
    Ok(out)
}

/// Which of `ids` block `sender`.
pub async fn blocking(store: &Store, sender: &str, ids: &[&str]) -> Result<HashSet<String>, sqlx::Error> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT recipient FROM mail_blocked_senders WHERE sender = $1 AND recipient IN ({})",
            ena_store::placeholders(2, chunk.len())
        );
        let rows: Vec<(String,)> = with_pool!(store, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(sender);
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await
        })?;
        out.extend(rows.into_iter().map(|(r,)| r));
    }
    Ok(out)
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

/// Register `n` recipients in bulk at `operator` (for `ena bench mail`): rows only, no signatures.
pub async fn fill(store: &Store, ids: &[String], operator: &str, now: i64) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(CHUNK / 4) {
        let values: Vec<String> =
            (0..chunk.len()).map(|i| format!("(${}, ${}, $1, 'active', $2, $2)", 3 + 2 * i, 4 + 2 * i)).collect();
        let sql = format!(
            "INSERT INTO mail_recipients (id, kind, operator, status, registered_at, updated_at) VALUES {} \
             ON CONFLICT (id) DO NOTHING",
            values.join(", ")
        );
        with_pool!(store, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(operator).bind(now);
            for id in chunk {
                q = q.bind(id).bind(if id.starts_with("16") { "organisation" } else { "person" });
            }
            q.execute(pool).await.map(|_| ())
        })?;
    }
    Ok(())
}
