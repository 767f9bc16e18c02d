//! The index's table: one row per (object, category, holder), the object only as its keyed hash.

use ena_store::{BeginWrite, Store, with_pool};

/// At most this many items in one batch.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    /// HMAC-SHA256 of the object under the deployment's pseudonym key.
    pub object_key: Vec<u8>,
    pub category: String,
    pub holder: String,
    pub address: String,
    pub updated_at: i64,
    pub source: Option<String>,
    pub registered_at: i64,
}

/// One change of a batch.
#[derive(Debug, Clone)]
pub enum Change {
    Upsert(Row),
    Delete { object_key: Vec<u8>, category: String, holder: String },
}

/// A change as subscribers of its category read it (the object sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangeRow {
    pub seq: i64,
    pub category: String,
    /// registered or deleted.
    pub kind: String,
    pub object_type: String,
    pub object_sealed: Vec<u8>,
    pub holder: String,
    pub address: String,
    pub at: i64,
}

/// Apply `changes` in one transaction: all of them or none; with them, `feed` (the changes of subscribed
/// categories) into the change feed.
pub async fn apply(store: &Store, changes: &[Change], feed: &[ChangeRow]) -> Result<(), sqlx::Error> {
    let postgres = store.dialect() == ena_store::Dialect::Postgres;
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        // On PostgreSQL, writers of the change feed commit one at a time, so `seq` order is commit order
        // and a subscriber paging with `seq > after` never skips a change that commits late (SQLite has
        // one writer anyway). Only batches that feed a subscription wait.
        if postgres && !feed.is_empty() {
            sqlx::query("LOCK TABLE index_changes IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        for f in feed {
            sqlx::query("INSERT INTO index_changes (category, kind, object_type, object_sealed, holder, address, at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&f.category).bind(&f.kind).bind(&f.object_type).bind(&f.object_sealed).bind(&f.holder)
                .bind(&f.address).bind(f.at).execute(&mut *tx).await?;
        }
        for c in changes {
            match c {
                Change::Upsert(r) => {
                    sqlx::query(
                        "INSERT INTO index_engagements (object_key, category, holder, address, updated_at, source, registered_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (object_key, category, holder) DO UPDATE SET \
                         address = excluded.address, updated_at = excluded.updated_at, source = excluded.source")
                        .bind(&r.object_key).bind(&r.category).bind(&r.holder).bind(&r.address).bind(r.updated_at)
                        .bind(&r.source).bind(r.registered_at).execute(&mut *tx).await?;
                }
                Change::Delete { object_key, category, holder } => {
                    sqlx::query("DELETE FROM index_engagements WHERE object_key = $1 AND category = $2 AND holder = $3")
                        .bind(object_key).bind(category).bind(holder).execute(&mut *tx).await?;
                }
            }
        }
        tx.commit().await
    })
}

/// The categories that have subscribers.
pub async fn subscribed(store: &Store) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT DISTINCT category FROM index_subscriptions").fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub member: String,
    pub organisation: String,
    pub category: String,
    pub created_at: i64,
}

/// Subscribe `member` to a category; the subscription it has (new or already there).
pub async fn subscribe(store: &Store, s: &SubscriptionRow) -> Result<SubscriptionRow, sqlx::Error> {
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO index_subscriptions (id, member, organisation, category, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (member, category) DO NOTHING")
        .bind(&s.id).bind(&s.member).bind(&s.organisation).bind(&s.category).bind(s.created_at).execute(pool).await.map(|_| ()))?;
    with_pool!(store, pool => sqlx::query_as(
        "SELECT id, member, organisation, category, created_at FROM index_subscriptions WHERE member = $1 AND category = $2")
        .bind(&s.member).bind(&s.category).fetch_one(pool).await)
}

pub async fn subscription(store: &Store, member: &str, id: &str) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT id, member, organisation, category, created_at FROM index_subscriptions WHERE id = $1 AND member = $2")
        .bind(id).bind(member).fetch_optional(pool).await)
}

pub async fn subscriptions(
    store: &Store,
    member: &str,
    limit: u32,
    offset: u64,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT id, member, organisation, category, created_at FROM index_subscriptions WHERE member = $1 \
         ORDER BY category LIMIT $2 OFFSET $3")
        .bind(member).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

pub async fn unsubscribe(store: &Store, member: &str, id: &str) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("DELETE FROM index_subscriptions WHERE id = $1 AND member = $2")
        .bind(id).bind(member).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The changes of `category` after `after`, oldest first.
pub async fn changes(store: &Store, category: &str, after: i64, limit: u32) -> Result<Vec<ChangeRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT seq, category, kind, object_type, object_sealed, holder, address, at FROM index_changes \
         WHERE category = $1 AND seq > $2 ORDER BY seq LIMIT $3")
        .bind(category).bind(after).bind(i64::from(limit)).fetch_all(pool).await)
}

/// Forget changes older than `before` (unix seconds).
pub async fn prune_changes(store: &Store, before: i64) -> Result<u64, sqlx::Error> {
    with_pool!(store, pool => sqlx::query("DELETE FROM index_changes WHERE at < $1").bind(before).execute(pool).await.map(|r| r.rows_affected()))
}

/// Whether `holder` keeps any engagement of `category` (one probe of the holder index).
pub async fn holds(store: &Store, holder: &str, category: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT CAST(1 AS BIGINT) FROM index_engagements WHERE holder = $1 AND category = $2 LIMIT 1")
        .bind(holder).bind(category).fetch_optional(pool).await)?;
    Ok(row.is_some())
}

/// Remove one engagement; whether there was one.
pub async fn delete(store: &Store, object_key: &[u8], category: &str, holder: &str) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query(
        "DELETE FROM index_engagements WHERE object_key = $1 AND category = $2 AND holder = $3")
        .bind(object_key).bind(category).bind(holder).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The engagements of an object, optionally of one category and/or holder (at most 1 000).
pub async fn find(
    store: &Store,
    object_key: &[u8],
    category: Option<&str>,
    holder: Option<&str>,
) -> Result<Vec<Row>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT object_key, category, holder, address, updated_at, source, registered_at FROM index_engagements \
         WHERE object_key = $1 AND ($2 = '' OR category = $2) AND ($3 = '' OR holder = $3) \
         ORDER BY category, holder LIMIT 1000")
        .bind(object_key).bind(category.unwrap_or_default()).bind(holder.unwrap_or_default()).fetch_all(pool).await)
}

/// Every engagement of an object, a page at a time (by category, then holder).
pub async fn of_object(store: &Store, object_key: &[u8], limit: u32, offset: u64) -> Result<Vec<Row>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT object_key, category, holder, address, updated_at, source, registered_at FROM index_engagements \
         WHERE object_key = $1 ORDER BY category, holder LIMIT $2 OFFSET $3")
        .bind(object_key).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

pub async fn count(store: &Store) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        with_pool!(store, pool => sqlx::query_as("SELECT COUNT(*) FROM index_engagements").fetch_one(pool).await)?;
    Ok(n)
}

/// Insert `rows` as they are, 500 a statement (the bench's fill; the service writes through [`apply`]).
pub async fn fill(store: &Store, rows: &[Row]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(500) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 7;
                format!("(${}, ${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7)
            })
            .collect();
        let sql = format!(
            "INSERT INTO index_engagements (object_key, category, holder, address, updated_at, source, registered_at) \
             VALUES {} ON CONFLICT (object_key, category, holder) DO NOTHING",
            values.join(", ")
        );
        with_pool!(store, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for r in chunk {
                q = q.bind(&r.object_key).bind(&r.category).bind(&r.holder).bind(&r.address).bind(r.updated_at)
                    .bind(&r.source).bind(r.registered_at);
            }
            q.execute(pool).await.map(|_| ())
        })?;
    }
    Ok(())
}
