//! SQL of the address registry (both dialects).

use ena_store::BeginWrite;
use ena_store::{Store, with_pool};

/// A stored message type version.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TypeRow {
    pub id: String,
    pub version: String,
    pub title: String,
    pub owner: String,
    pub schema_json: String,
    pub confidentiality: i64,
    pub integrity: i64,
    pub availability: i64,
    pub created_at: i64,
}

const TYPE_COLUMNS: &str =
    "id, version, title, owner, schema_json, confidentiality, integrity, availability, created_at";

/// A stored address: the query columns and the whole entry as JSON.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AddressRow {
    pub address: String,
    pub kind: String,
    pub identifier: String,
    pub function_name: Option<String>,
    pub organisation: String,
    pub name: String,
    pub node: String,
    pub body: String,
    pub status: String,
    pub revision: i64,
    pub updated_at: i64,
}

const ADDRESS_COLUMNS: &str =
    "address, kind, identifier, function_name, organisation, name, node, body, status, revision, updated_at";

/// One change in the feed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangeRow {
    pub seq: i64,
    pub address: String,
    pub change: String,
    pub revision: i64,
    pub at: i64,
}

pub async fn message_type(store: &Store, id: &str, version: &str) -> Result<Option<TypeRow>, sqlx::Error> {
    let sql = format!("SELECT {TYPE_COLUMNS} FROM addr_message_types WHERE id = $1 AND version = $2");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(version).fetch_optional(pool).await)
}

/// What inserting a message type version came to.
#[derive(Debug, PartialEq, Eq)]
pub enum TypeInsert {
    Inserted,
    /// (id, version) exists already.
    Exists,
    /// Another owner has versions of this id (only checked when the insert is `exclusive`).
    OwnedBy(String),
}

/// Insert a new message type version. `exclusive`: only if no other owner has versions of the id — checked
/// and inserted in one transaction that, on PostgreSQL, holds the table's write lock, so two members
/// naming one new type at the same moment cannot both own it (SQLite has one writer anyway).
pub async fn insert_message_type(store: &Store, t: &TypeRow, exclusive: bool) -> Result<TypeInsert, sqlx::Error> {
    let postgres = store.dialect() == ena_store::Dialect::Postgres;
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        if exclusive && postgres {
            sqlx::query("LOCK TABLE addr_message_types IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        // The insert first: on SQLite it takes the write lock before anything is read.
        let n = sqlx::query(
            "INSERT INTO addr_message_types (id, version, title, owner, schema_json, confidentiality, integrity, availability, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id, version) DO NOTHING")
            .bind(&t.id).bind(&t.version).bind(&t.title).bind(&t.owner).bind(&t.schema_json)
            .bind(t.confidentiality).bind(t.integrity).bind(t.availability).bind(t.created_at)
            .execute(&mut *tx).await?.rows_affected();
        if exclusive {
            let other: Option<(String,)> = sqlx::query_as("SELECT owner FROM addr_message_types WHERE id = $1 AND owner <> $2 LIMIT 1")
                .bind(&t.id).bind(&t.owner).fetch_optional(&mut *tx).await?;
            if let Some((owner,)) = other {
                tx.rollback().await?;
                return Ok(TypeInsert::OwnedBy(owner));
            }
        }
        tx.commit().await?;
        Ok(if n == 1 { TypeInsert::Inserted } else { TypeInsert::Exists })
    })
}

pub async fn message_types(store: &Store, limit: u32, offset: u64) -> Result<Vec<TypeRow>, sqlx::Error> {
    let sql = format!("SELECT {TYPE_COLUMNS} FROM addr_message_types ORDER BY id, version LIMIT $1 OFFSET $2");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

pub async fn address(store: &Store, address: &str) -> Result<Option<AddressRow>, sqlx::Error> {
    let sql = format!("SELECT {ADDRESS_COLUMNS} FROM addr_addresses WHERE address = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(address).fetch_optional(pool).await)
}

/// Addresses, optionally of one identifier and/or accepting one message type, in address order.
pub async fn addresses(
    store: &Store,
    identifier: Option<&str>,
    message_type: Option<&str>,
    limit: u32,
    offset: u64,
) -> Result<Vec<AddressRow>, sqlx::Error> {
    let columns = ADDRESS_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
    // Unused filters compare a parameter with itself, so one statement serves every combination.
    let sql = format!(
        "SELECT {columns} FROM addr_addresses a \
         WHERE a.status <> 'removed' AND ($1 = '' OR a.identifier = $1) \
         AND ($2 = '' OR EXISTS (SELECT 1 FROM addr_capabilities c WHERE c.message_type = $2 AND c.address = a.address)) \
         ORDER BY a.address LIMIT $3 OFFSET $4"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(identifier.unwrap_or_default()).bind(message_type.unwrap_or_default())
        .bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

/// What a write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Stored with this revision; `created` or `updated`.
    Revision(i64, &'static str),
    /// The stored revision was not the expected one.
    Stale(Option<i64>),
}

/// Create or replace `row` (its revision is ignored: a new address gets 1, a replacement the stored one
/// plus one) with its capabilities, and append the change — one transaction. With `expected`, only if the
/// stored revision is that one (0: only if absent).
pub async fn put_address(
    store: &Store,
    row: &AddressRow,
    message_types: &[String],
    expected: Option<i64>,
) -> Result<Written, sqlx::Error> {
    let postgres = store.dialect() == ena_store::Dialect::Postgres;
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        // On PostgreSQL, writers of the change feed commit one at a time, so `seq` order is commit order
        // and a reader paging with `seq > since` never skips a change that commits late (SQLite has one
        // writer anyway). Address changes are rare; the wait is short.
        if postgres {
            sqlx::query("LOCK TABLE addr_changes IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        let stored: Option<(i64, String)> = sqlx::query_as("SELECT revision, status FROM addr_addresses WHERE address = $1")
            .bind(&row.address).fetch_optional(&mut *tx).await?;
        let current = stored.as_ref().map(|r| r.0);
        let existed = stored.is_some_and(|r| r.1 != "removed");
        if let Some(e) = expected && current.unwrap_or(0) != e {
            return Ok(Written::Stale(current));
        }
        let revision = current.unwrap_or(0) + 1;
        // The conditional update keeps two concurrent writers from both taking the same revision.
        let n = if current.is_some() {
            sqlx::query("UPDATE addr_addresses SET kind = $2, identifier = $3, function_name = $4, organisation = $5, name = $6, \
                         node = $7, body = $8, status = $9, revision = $10, updated_at = $11 WHERE address = $1 AND revision = $12")
                .bind(&row.address).bind(&row.kind).bind(&row.identifier).bind(&row.function_name).bind(&row.organisation)
                .bind(&row.name).bind(&row.node).bind(&row.body).bind(&row.status).bind(revision).bind(row.updated_at)
                .bind(revision - 1).execute(&mut *tx).await?.rows_affected()
        } else {
            sqlx::query("INSERT INTO addr_addresses (address, kind, identifier, function_name, organisation, name, node, body, status, revision, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (address) DO NOTHING")
                .bind(&row.address).bind(&row.kind).bind(&row.identifier).bind(&row.function_name).bind(&row.organisation)
                .bind(&row.name).bind(&row.node).bind(&row.body).bind(&row.status).bind(revision).bind(row.updated_at)
                .execute(&mut *tx).await?.rows_affected()
        };
        if n != 1 {
            return Ok(Written::Stale(current));
        }
        sqlx::query("DELETE FROM addr_capabilities WHERE address = $1").bind(&row.address).execute(&mut *tx).await?;
        for t in message_types {
            sqlx::query("INSERT INTO addr_capabilities (address, message_type) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&row.address).bind(t).execute(&mut *tx).await?;
        }
        let change = if existed { "updated" } else { "created" };
        sqlx::query("INSERT INTO addr_changes (address, change, revision, at) VALUES ($1, $2, $3, $4)")
            .bind(&row.address).bind(change).bind(revision).bind(row.updated_at).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Written::Revision(revision, change))
    })
}

/// Remove an address — a tombstone keeps its revision counting, so an ETag is never reused — and append
/// the change; the new revision, or None if there was no address.
pub async fn delete_address(store: &Store, address: &str, at: i64) -> Result<Option<i64>, sqlx::Error> {
    let postgres = store.dialect() == ena_store::Dialect::Postgres;
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        // On PostgreSQL, writers of the change feed commit one at a time, so `seq` order is commit order
        // and a reader paging with `seq > since` never skips a change that commits late (SQLite has one
        // writer anyway). Address changes are rare; the wait is short.
        if postgres {
            sqlx::query("LOCK TABLE addr_changes IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        let current: Option<(i64,)> = sqlx::query_as(
            "UPDATE addr_addresses SET status = 'removed', revision = revision + 1, updated_at = $2 \
             WHERE address = $1 AND status <> 'removed' RETURNING revision")
            .bind(address).bind(at).fetch_optional(&mut *tx).await?;
        let Some((revision,)) = current else { return Ok(None) };
        sqlx::query("DELETE FROM addr_capabilities WHERE address = $1").bind(address).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO addr_changes (address, change, revision, at) VALUES ($1, 'deleted', $2, $3)")
            .bind(address).bind(revision).bind(at).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(revision))
    })
}

pub async fn changes(store: &Store, since: i64, limit: u32) -> Result<Vec<ChangeRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT seq, address, change, revision, at FROM addr_changes WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(since).bind(i64::from(limit)).fetch_all(pool).await)
}

/// The owner of a message type's existing versions, if any.
pub async fn message_types_owner(store: &Store, id: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = with_pool!(store, pool => sqlx::query_as("SELECT owner FROM addr_message_types WHERE id = $1 LIMIT 1")
        .bind(id).fetch_optional(pool).await)?;
    Ok(row.map(|r| r.0))
}

/// The sequence number of the newest change of `address`.
pub async fn last_change(store: &Store, address: &str) -> Result<Option<i64>, sqlx::Error> {
    let row: (Option<i64>,) = with_pool!(store, pool => sqlx::query_as("SELECT MAX(seq) FROM addr_changes WHERE address = $1")
        .bind(address).fetch_one(pool).await)?;
    Ok(row.0)
}
