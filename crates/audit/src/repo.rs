//! Log storage: leaves, perfect-subtree nodes, checkpoints and the head row, in both SQL dialects.

use ena_store::{Store, with_pool};
use sqlx::FromRow;
use sqlx::pool::PoolConnection;

use crate::merkle::{Hash, NodeKey};

/// A leaf ready to be stored: its bytes and the columns queries filter on.
#[derive(Clone, Debug)]
pub struct LeafRow {
    pub data: Vec<u8>,
    pub time: String,
    pub action: String,
    pub actor_id: String,
    pub result: String,
    pub correlation_id: Option<String>,
    pub object_id: Option<String>,
    pub subjects: Vec<String>,
}

/// Everything one appending transaction writes.
#[derive(Debug)]
pub struct Batch<'a> {
    pub old_size: u64,
    pub leaves: &'a [&'a LeafRow],
    pub nodes: &'a [(NodeKey, Hash)],
    pub root: Hash,
    pub note: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("another writer appended first (the head moved from size {0})")]
    HeadMoved(u64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Rows per multi-row INSERT; keeps the bind count under SQLite's and PostgreSQL's limits.
const CHUNK: usize = 500;

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A connection the appender keeps for itself: a commit is then one round trip, with no pool hand-over
/// (and no liveness ping) in front of it.
pub enum Writer {
    Sqlite(PoolConnection<sqlx::Sqlite>),
    Postgres(PoolConnection<sqlx::Postgres>),
}

impl Writer {
    pub async fn acquire(store: &Store) -> Result<Writer, sqlx::Error> {
        Ok(match store {
            Store::Sqlite(pool, _) => Writer::Sqlite(pool.acquire().await?),
            Store::Postgres(pool) => Writer::Postgres(pool.acquire().await?),
        })
    }

    /// Close the connection instead of returning it to the pool (after an error it may hold an open
    /// transaction).
    pub async fn discard(self) {
        let _ = match self {
            Writer::Sqlite(c) => c.close().await,
            Writer::Postgres(c) => c.close().await,
        };
    }
}

/// Write a batch in one transaction, in one round trip to the database: a crash before commit leaves
/// nothing, so no checkpoint can ever cover a leaf that is not stored.
///
/// The primary keys are the compare-and-set: a writer whose idea of the size is stale inserts a leaf
/// index another writer already stored (sizes only grow, and every batch writes the leaf at its old
/// size), so the unique violation aborts the whole transaction and is reported as [`RepoError::HeadMoved`].
pub async fn append(writer: &mut Writer, batch: &Batch<'_>) -> Result<(), RepoError> {
    let result = match writer {
        Writer::Sqlite(conn) => append_sqlite(conn, batch).await,
        Writer::Postgres(conn) => append_postgres(conn, batch).await,
    };
    match result {
        Ok(()) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(RepoError::HeadMoved(batch.old_size)),
        Err(e) => Err(e.into()),
    }
}

/// SQLite: one script — `BEGIN IMMEDIATE`, a multi-row insert per table, `COMMIT` — sent as one command;
/// unnumbered parameters bind in order across its statements.
async fn append_sqlite(conn: &mut sqlx::SqliteConnection, batch: &Batch<'_>) -> Result<(), sqlx::Error> {
    let new_size = batch.old_size + batch.leaves.len() as u64;
    let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("BEGIN IMMEDIATE;");
    for (c, chunk) in batch.leaves.chunks(CHUNK).enumerate() {
        q.push(" INSERT INTO audit_leaves (idx, data, time, action, actor_id, result, correlation_id, object_id) ");
        q.push_values(chunk.iter().enumerate(), |mut b, (i, leaf)| {
            b.push_bind(to_i64(batch.old_size + (c * CHUNK + i) as u64))
                .push_bind(&leaf.data)
                .push_bind(&leaf.time)
                .push_bind(&leaf.action)
                .push_bind(&leaf.actor_id)
                .push_bind(&leaf.result)
                .push_bind(&leaf.correlation_id)
                .push_bind(&leaf.object_id);
        });
        q.push(";");
    }
    let subjects = subject_rows(batch);
    for chunk in subjects.chunks(CHUNK) {
        q.push(" INSERT INTO audit_subjects (idx, subject, by_self) ");
        q.push_values(chunk, |mut b, (idx, subject, by_self)| {
            b.push_bind(*idx).push_bind(*subject).push_bind(*by_self);
        });
        q.push(" ON CONFLICT DO NOTHING;");
    }
    for chunk in batch.nodes.chunks(CHUNK) {
        q.push(" INSERT INTO audit_nodes (level, idx, hash) ");
        q.push_values(chunk, |mut b, (key, hash)| {
            b.push_bind(i64::from(key.level)).push_bind(to_i64(key.index)).push_bind(hash.as_slice());
        });
        q.push(";");
    }
    q.push(" INSERT INTO audit_checkpoints (size, root, note) VALUES (")
        .push_bind(to_i64(new_size))
        .push(", ")
        .push_bind(batch.root.as_slice())
        .push(", ")
        .push_bind(batch.note)
        .push(");");
    q.push(" INSERT INTO audit_head (id, size) VALUES (1, ")
        .push_bind(to_i64(new_size))
        .push(") ON CONFLICT (id) DO UPDATE SET size = excluded.size; COMMIT;");
    let result = q.build().execute(&mut *conn).await;
    if result.is_err() {
        // A failed statement leaves the script's transaction open on this connection.
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
    }
    result.map(drop)
}

/// PostgreSQL: one statement of data-modifying CTEs over arrays — a fixed text, prepared once, run as
/// one implicit transaction.
async fn append_postgres(conn: &mut sqlx::PgConnection, batch: &Batch<'_>) -> Result<(), sqlx::Error> {
    let new_size = batch.old_size + batch.leaves.len() as u64;
    let idx: Vec<i64> = (0..batch.leaves.len()).map(|i| to_i64(batch.old_size + i as u64)).collect();
    let leaves = batch.leaves;
    let subjects = subject_rows(batch);
    sqlx::query(
        "WITH leaves AS (INSERT INTO audit_leaves (idx, data, time, action, actor_id, result, correlation_id, object_id) \
            SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $16::TEXT[])), \
         subjects AS (INSERT INTO audit_subjects (idx, subject, by_self) SELECT * FROM UNNEST($8::BIGINT[], $9::TEXT[], $17::BOOLEAN[]) \
            ON CONFLICT DO NOTHING), \
         nodes AS (INSERT INTO audit_nodes (level, idx, hash) SELECT * FROM UNNEST($10::BIGINT[], $11::BIGINT[], $12::BYTEA[])), \
         checkpoint AS (INSERT INTO audit_checkpoints (size, root, note) VALUES ($13, $14, $15)) \
         INSERT INTO audit_head (id, size) VALUES (1, $13) ON CONFLICT (id) DO UPDATE SET size = excluded.size",
    )
    .bind(idx)
    .bind(leaves.iter().map(|l| l.data.as_slice()).collect::<Vec<_>>())
    .bind(leaves.iter().map(|l| l.time.as_str()).collect::<Vec<_>>())
    .bind(leaves.iter().map(|l| l.action.as_str()).collect::<Vec<_>>())
    .bind(leaves.iter().map(|l| l.actor_id.as_str()).collect::<Vec<_>>())
    .bind(leaves.iter().map(|l| l.result.as_str()).collect::<Vec<_>>())
    .bind(leaves.iter().map(|l| l.correlation_id.as_deref()).collect::<Vec<_>>())
    .bind(subjects.iter().map(|(i, _, _)| *i).collect::<Vec<_>>())
    .bind(subjects.iter().map(|(_, s, _)| s.as_str()).collect::<Vec<_>>())
    .bind(batch.nodes.iter().map(|(k, _)| i64::from(k.level)).collect::<Vec<_>>())
    .bind(batch.nodes.iter().map(|(k, _)| to_i64(k.index)).collect::<Vec<_>>())
    .bind(batch.nodes.iter().map(|(_, h)| h.as_slice()).collect::<Vec<_>>())
    .bind(to_i64(new_size))
    .bind(batch.root.as_slice())
    .bind(batch.note)
    .bind(leaves.iter().map(|l| l.object_id.as_deref()).collect::<Vec<_>>())
    .bind(subjects.iter().map(|(_, _, by_self)| *by_self).collect::<Vec<_>>())
    .execute(conn)
    .await
    .map(drop)
}

/// (leaf index, data subject, whether the subject is the event's actor) rows of a batch.
fn subject_rows<'a>(batch: &'a Batch<'_>) -> Vec<(i64, &'a String, bool)> {
    batch
        .leaves
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.subjects.iter().map(move |s| (to_i64(batch.old_size + i as u64), s, *s == l.actor_id)))
        .collect()
}

/// The committed tree size.
pub async fn size(store: &Store) -> Result<u64, sqlx::Error> {
    let row: Option<(i64,)> = with_pool!(store, pool => sqlx::query_as("SELECT size FROM audit_head WHERE id = 1").fetch_optional(pool).await)?;
    Ok(row.map_or(0, |r| r.0 as u64))
}

/// Stored hashes for `keys` (one query; missing keys are simply absent).
pub async fn nodes(store: &Store, keys: &[NodeKey]) -> Result<Vec<(NodeKey, Hash)>, sqlx::Error> {
    let mut out = Vec::with_capacity(keys.len());
    // Two binds per key; chunks keep a query under SQLite's 32 766 and PostgreSQL's 65 535 binds.
    for chunk in keys.chunks(CHUNK * 10) {
        let rows: Vec<(i64, i64, Vec<u8>)> = match store {
            Store::Sqlite(pool, _) => {
                let mut q = sqlx::QueryBuilder::new("SELECT level, idx, hash FROM audit_nodes WHERE (level, idx) IN ");
                q.push_tuples(chunk, |mut b, key| {
                    b.push_bind(i64::from(key.level)).push_bind(to_i64(key.index));
                });
                q.build_query_as().fetch_all(pool).await?
            }
            // PostgreSQL: one statement text for any number of keys, so it is prepared once and planned as
            // a join on the primary key rather than a long OR.
            Store::Postgres(pool) => {
                let levels: Vec<i64> = chunk.iter().map(|k| i64::from(k.level)).collect();
                let indexes: Vec<i64> = chunk.iter().map(|k| to_i64(k.index)).collect();
                sqlx::query_as(
                    "SELECT n.level, n.idx, n.hash FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS k(level, idx) \
                     JOIN audit_nodes n ON n.level = k.level AND n.idx = k.idx",
                )
                .bind(levels)
                .bind(indexes)
                .fetch_all(pool)
                .await?
            }
        };
        out.extend(rows.into_iter().filter_map(|(level, idx, hash)| {
            Some((NodeKey { level: level as u32, index: idx as u64 }, hash.try_into().ok()?))
        }));
    }
    Ok(out)
}

#[derive(Debug, FromRow)]
pub struct StoredLeaf {
    pub idx: i64,
    pub data: Vec<u8>,
}

/// Leaves `[from, to)` in order.
pub async fn leaves(store: &Store, from: u64, to: u64) -> Result<Vec<StoredLeaf>, sqlx::Error> {
    with_pool!(store, pool => {
        sqlx::query_as("SELECT idx, data FROM audit_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx")
            .bind(to_i64(from)).bind(to_i64(to)).fetch_all(pool).await
    })
}

#[derive(Debug, FromRow)]
pub struct StoredCheckpoint {
    pub size: i64,
    pub root: Vec<u8>,
    pub note: String,
}

/// The latest checkpoint.
pub async fn latest_checkpoint(store: &Store) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    with_pool!(store, pool => {
        sqlx::query_as("SELECT size, root, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1").fetch_optional(pool).await
    })
}

/// Checkpoints with size in `(after, upto]`, ascending.
pub async fn checkpoints(
    store: &Store,
    after: u64,
    upto: u64,
    limit: i64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    with_pool!(store, pool => {
        sqlx::query_as("SELECT size, root, note FROM audit_checkpoints WHERE size > $1 AND size <= $2 ORDER BY size LIMIT $3")
            .bind(to_i64(after)).bind(to_i64(upto)).bind(limit).fetch_all(pool).await
    })
}

/// Filters of the event query; every one optional.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub correlation_id: Option<String>,
    pub actor_id: Option<String>,
    /// The event's object id (e.g. a federation entity id).
    pub object_id: Option<String>,
    pub subject: Option<String>,
    pub action: Option<String>,
    /// Actions starting with this prefix (e.g. `alert.`).
    pub action_prefix: Option<String>,
    pub result: Option<String>,
    pub from_time: Option<String>,
    pub to_time: Option<String>,
}

/// Matching leaves, newest first, `limit` from `offset`; and whether more follow.
pub async fn query(
    store: &Store,
    filter: &EventFilter,
    limit: u32,
    offset: u64,
) -> Result<Vec<StoredLeaf>, sqlx::Error> {
    with_pool!(store, pool => {
        let mut q = sqlx::QueryBuilder::new("SELECT l.idx, l.data FROM audit_leaves l");
        if filter.subject.is_some() {
            q.push(" JOIN audit_subjects s ON s.idx = l.idx");
        }
        q.push(" WHERE 1 = 1");
        if let Some(v) = &filter.subject { q.push(" AND s.subject = ").push_bind(v.clone()); }
        if let Some(v) = &filter.correlation_id { q.push(" AND l.correlation_id = ").push_bind(v.clone()); }
        if let Some(v) = &filter.actor_id { q.push(" AND l.actor_id = ").push_bind(v.clone()); }
        if let Some(v) = &filter.object_id { q.push(" AND l.object_id = ").push_bind(v.clone()); }
        if let Some(v) = &filter.action { q.push(" AND l.action = ").push_bind(v.clone()); }
        if let Some(v) = &filter.action_prefix {
            // A prefix match without LIKE (no escaping, no collation surprises); the length is a number we computed.
            q.push(format!(" AND substr(l.action, 1, {}) = ", v.chars().count())).push_bind(v.clone());
        }
        if let Some(v) = &filter.result { q.push(" AND l.result = ").push_bind(v.clone()); }
        if let Some(v) = &filter.from_time { q.push(" AND l.time >= ").push_bind(v.clone()); }
        if let Some(v) = &filter.to_time { q.push(" AND l.time < ").push_bind(v.clone()); }
        // By a subject: walk that subject's index entries newest first (the same order, `s.idx = l.idx`),
        // so a page reads its rows and stops instead of sorting all of the subject's events.
        let order = if filter.subject.is_some() { "s.idx" } else { "l.idx" };
        q.push(format!(" ORDER BY {order} DESC LIMIT ")).push_bind(i64::from(limit)).push(" OFFSET ").push_bind(to_i64(offset));
        q.build_query_as().fetch_all(pool).await
    })
}

/// Others' events about `subject`, newest first, `limit` from `offset`: the page is cut from the subject
/// index alone (its partial index of others' events), and only its own leaves are read — paging deep
/// into a person's thousands of events reads no leaf it skips.
pub async fn about(store: &Store, subject: &str, limit: u32, offset: u64) -> Result<Vec<StoredLeaf>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT l.idx, l.data FROM (SELECT idx FROM audit_subjects WHERE subject = $1 AND by_self = FALSE \
         ORDER BY idx DESC LIMIT $2 OFFSET $3) s JOIN audit_leaves l ON l.idx = s.idx ORDER BY s.idx DESC")
        .bind(subject).bind(i64::from(limit)).bind(to_i64(offset)).fetch_all(pool).await)
}

/// The last checkpoint cosigned for `origin` (witnessing).
pub async fn witnessed(store: &Store, origin: &str) -> Result<Option<(u64, Vec<u8>, String)>, sqlx::Error> {
    let row: Option<(i64, Vec<u8>, String)> = with_pool!(store, pool => {
        sqlx::query_as("SELECT size, root, vkey FROM audit_witnessed WHERE origin = $1").bind(origin).fetch_optional(pool).await
    })?;
    Ok(row.map(|(s, r, v)| (s as u64, r, v)))
}

/// Record that `origin` was cosigned at `size`/`root`, only if it moves forward from `previous`.
pub async fn set_witnessed(
    store: &Store,
    origin: &str,
    previous: Option<u64>,
    size: u64,
    root: &Hash,
    vkey: &str,
) -> Result<bool, sqlx::Error> {
    let affected = with_pool!(store, pool => {
        match previous {
            None => sqlx::query("INSERT INTO audit_witnessed (origin, size, root, vkey) VALUES ($1, $2, $3, $4) ON CONFLICT (origin) DO NOTHING")
                .bind(origin).bind(to_i64(size)).bind(root.as_slice()).bind(vkey).execute(pool).await.map(|r| r.rows_affected()),
            Some(prev) => sqlx::query("UPDATE audit_witnessed SET size = $2, root = $3 WHERE origin = $1 AND size = $4")
                .bind(origin).bind(to_i64(size)).bind(root.as_slice()).bind(to_i64(prev)).execute(pool).await.map(|r| r.rows_affected()),
        }
    })?;
    Ok(affected == 1)
}

/// How far this log has handed its events over to the central log: the first index not yet accepted.
pub async fn forward_cursor(store: &Store) -> Result<u64, sqlx::Error> {
    let next: Option<i64> = with_pool!(store, pool => {
        sqlx::query_scalar("SELECT next FROM audit_forward_cursor WHERE id = 1").fetch_optional(pool).await
    })?;
    Ok(next.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

/// Move the cursor forward to `next` (never back: a slower writer cannot undo a faster one).
pub async fn set_forward_cursor(store: &Store, next: u64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => {
        sqlx::query(
            "INSERT INTO audit_forward_cursor (id, next) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET next = excluded.next WHERE audit_forward_cursor.next < excluded.next",
        )
        .bind(to_i64(next))
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// Which of the object ids `ids` some stored leaf already has (one indexed look-up) — on PostgreSQL in
/// the transaction that holds the source's lock, so a hand-over needs no second connection.
pub async fn objects_present(
    store: &Store,
    tx: Option<&mut sqlx::Transaction<'static, sqlx::Postgres>>,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    const PG: &str = "SELECT DISTINCT object_id FROM audit_leaves WHERE object_id = ANY($1)";
    match (store, tx) {
        (_, Some(tx)) => sqlx::query_scalar(PG).bind(ids).fetch_all(&mut **tx).await,
        (Store::Postgres(pool), None) => sqlx::query_scalar(PG).bind(ids).fetch_all(pool).await,
        (Store::Sqlite(pool, _), None) => {
            let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
            sqlx::query_scalar(
                "SELECT DISTINCT object_id FROM audit_leaves WHERE object_id IN (SELECT value FROM json_each($1))",
            )
            .bind(list)
            .fetch_all(pool)
            .await
        }
    }
}

/// Serialise the taking over of one source log's events across central instances: on PostgreSQL a
/// transaction holding an advisory lock on `key` until it ends (dropped or committed); on SQLite, whose
/// database one process owns, nothing (the log's in-process lock is enough).
pub async fn lock_source(
    store: &Store,
    key: &str,
) -> Result<Option<sqlx::Transaction<'static, sqlx::Postgres>>, sqlx::Error> {
    match store {
        Store::Sqlite(..) => Ok(None),
        Store::Postgres(pool) => {
            let mut tx = ena_store::BeginWrite::begin_write(pool).await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("audit-source:{key}"))
                .execute(&mut *tx)
                .await?;
            Ok(Some(tx))
        }
    }
}
