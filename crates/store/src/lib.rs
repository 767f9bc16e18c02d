//! Storage: one `Store` over a native SQLite or PostgreSQL pool, with migrations per dialect.
//!
//! Block crates write one SQL text that both databases accept (`$n` parameters, `RETURNING`,
//! `ON CONFLICT`) and run it through [`with_pool!`], which expands the same expression once per dialect
//! so each arm is type-checked against its own driver. sqlx's `Any` driver is deliberately not used: it
//! loses type information in 0.9. All migrations live here, one folder per dialect, prefixed by block.

#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// The database behind a running ena. An embedded SQLite database belongs to one process (it lives in
/// the data directory, which `ena serve` locks), so every write to it goes through a clone of one
/// `Store`; the [`Revisions`] it carries rely on that.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool, std::sync::Arc<Revisions>),
    Postgres(PgPool),
}

/// The revision counters of an embedded database as this process last wrote or read them. Readers of
/// a counter (the decision point before every decision, the resolve cache before every resolve) get it
/// here instead of from a single-row read: on SQLite only this process writes, through
/// [`Store::raise_revision`], which keeps the copy. PostgreSQL is shared by instances, so there the
/// row is read every time.
#[derive(Debug, Default)]
pub struct Revisions(std::sync::Mutex<std::collections::HashMap<&'static str, i64>>);

impl Revisions {
    fn get(&self, table: &str) -> Option<i64> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(table).copied()
    }

    /// Keep `n` for `table` unless a newer value is kept already (two raises finishing out of order
    /// never move it back); returns what is kept.
    fn keep(&self, table: &'static str, n: i64) -> i64 {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = map.entry(table).or_insert(n);
        *kept = (*kept).max(n);
        *kept
    }
}

/// Which SQL dialect a store speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Connection counts, for the `/metrics` gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the SQLite database at {path}: {source}")]
    OpenSqlite { path: String, source: sqlx::Error },
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    ConnectPostgres { url: String, source: sqlx::Error },
    #[error("unsupported database URL {url:?}: use postgres://… (or leave it out for the embedded SQLite database)")]
    UnsupportedUrl { url: String },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Query(#[from] sqlx::Error),
}

/// Run `$body` against the pool inside `$store`, binding it to `$pool` in each dialect's arm.
///
/// The body is compiled twice, once per driver; write SQL both accept.
#[macro_export]
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::Store::Sqlite($pool, _) => $body,
            $crate::Store::Postgres($pool) => $body,
        }
    };
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// How long start-up waits for a database before giving up with a clear message.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Store {
    /// Open (creating if missing) the embedded SQLite database at `path`.
    ///
    /// WAL mode lets readers run beside the single writer. `synchronous=FULL` is chosen on purpose:
    /// a transaction that has returned is on disk even after a power cut (NORMAL in WAL mode may lose
    /// the last transactions), and durability is a promise of this system. Batched writers (the log,
    /// the outbox) win back the fsync cost by committing many rows per transaction.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        // The database holds personal data and (on a node) decrypted messages: create it owner-only,
        // before SQLite would create it with the process umask. Its -wal and -shm files take its mode.
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
            if let Err(e) = created
                && e.kind() != std::io::ErrorKind::AlreadyExists
            {
                return Err(StoreError::OpenSqlite { path: path.display().to_string(), source: sqlx::Error::Io(e) });
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Statement journals and sorts in memory: on disk each was a temporary file created, written
            // and unlinked (about one per commit of the log under load — a third of a node's syscalls
            // besides the network, strace during `ena bench apis`).
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::OpenSqlite { path: path.display().to_string(), source })?;
        Ok(Store::Sqlite(pool, std::sync::Arc::default()))
    }

    /// Connect to PostgreSQL. `search_path`, when given, pins every connection to one schema (tests).
    pub async fn connect_postgres(url: &str, search_path: Option<&str>) -> Result<Store, StoreError> {
        let redacted = redact_url(url);
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|source| StoreError::ConnectPostgres { url: redacted.clone(), source })?;
        if let Some(schema) = search_path {
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::ConnectPostgres { url: redacted, source })?;
        Ok(Store::Postgres(pool))
    }

    /// Open the database a URL names: `postgres://…`/`postgresql://…`, or `sqlite:PATH`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::connect_postgres(url, None).await
        } else if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            Store::open_sqlite(Path::new(path)).await
        } else {
            Err(StoreError::UnsupportedUrl { url: redact_url(url) })
        }
    }

    /// Bring the schema up to date; safe to run at every start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool, _) => SQLITE_MIGRATIONS.run(pool).await?,
            Store::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// A round trip to the database (readiness probe).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Store::Sqlite(..) => Dialect::Sqlite,
            Store::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The revision of counter `table` (a single-row table with a `revision` column, raised on every
    /// change of what it guards), so a cache can tell whether another instance changed the data.
    pub async fn revision(&self, table: &'static str) -> Result<i64, sqlx::Error> {
        // Built only when the row is read: the kept copy answers without any work (every decision asks).
        let read = || sqlx::AssertSqlSafe(format!("SELECT revision FROM {table} WHERE id = 1"));
        match self {
            Store::Sqlite(pool, revisions) => {
                if let Some(n) = revisions.get(table) {
                    return Ok(n);
                }
                let (n,): (i64,) = sqlx::query_as(read()).fetch_one(pool).await?;
                Ok(revisions.keep(table, n))
            }
            Store::Postgres(pool) => {
                let (n,): (i64,) = sqlx::query_as(read()).fetch_one(pool).await?;
                Ok(n)
            }
        }
    }

    /// Raise counter `table` by one (after the change it guards is committed).
    pub async fn raise_revision(&self, table: &'static str) -> Result<(), sqlx::Error> {
        let raise = format!("UPDATE {table} SET revision = revision + 1 WHERE id = 1 RETURNING revision");
        let (n,): (i64,) = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(raise)).fetch_one(pool).await)?;
        if let Store::Sqlite(_, revisions) = self {
            revisions.keep(table, n);
        }
        Ok(())
    }

    pub fn pool_stats(&self) -> PoolStats {
        with_pool!(self, pool => PoolStats {
            size: pool.size(),
            idle: pool.num_idle() as u32,
            max: pool.options().get_max_connections(),
        })
    }

    /// Close every connection (graceful shutdown; SQLite checkpoints its WAL on the last close).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// How every write transaction begins: `pool.begin_write()` instead of `pool.begin()`.
///
/// SQLite's plain `BEGIN` is deferred: a transaction that reads first and writes later holds a read
/// snapshot, and if another connection commits a write in between, its upgrade to a writer fails at once
/// with "database is locked" (the busy timeout does not help: waiting cannot make the snapshot current).
/// `BEGIN IMMEDIATE` takes the write lock at the start, so writers queue behind each other for the busy
/// timeout and never fail that way. PostgreSQL's `BEGIN` has no such upgrade; its row and table locks do
/// the queueing.
pub trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for messages and logs.
/// `n` numbered parameters from `$first` on, comma-separated (`$2, $3, $4`), for an `IN (…)` list;
/// both dialects bind `$n` by number.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &userinfo[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_stores;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://ena:hunter2@db:5432/ena"), "postgres://ena:***@db:5432/ena");
        assert_eq!(redact_url("postgres://ena@db/ena"), "postgres://ena@db/ena");
        assert_eq!(redact_url("postgres://db/ena"), "postgres://db/ena");
    }

    #[tokio::test]
    async fn unsupported_url_is_refused() {
        let err = Store::connect("mysql://localhost/ena").await.unwrap_err();
        assert!(err.to_string().contains("unsupported database URL"), "{err}");
    }

    #[tokio::test]
    async fn unreachable_postgres_fails_with_the_url() {
        // Port 9 (discard) on loopback: nothing listens there, so the connect is refused at once.
        let err = Store::connect("postgres://ena:pw@127.0.0.1:9/ena").await.unwrap_err();
        let message = err.to_string();
        assert!(message.contains("cannot connect to PostgreSQL at postgres://ena:***@127.0.0.1:9/ena"), "{message}");
    }

    /// sqlx binds `$n` by number on SQLite too: out-of-order and repeated placeholders must bind right on
    /// both dialects, or SQL written once for both would silently swap values.
    #[tokio::test]
    async fn numbered_parameters_bind_by_number_on_both_dialects() {
        for db in test_stores().await {
            let row: (String, String, String) = with_pool!(&db.store, pool => {
                sqlx::query_as("SELECT CAST($2 AS TEXT), CAST($1 AS TEXT), CAST($2 AS TEXT)")
                    .bind("first")
                    .bind("second")
                    .fetch_one(pool)
                    .await
            })
            .unwrap();
            assert_eq!(row, ("second".into(), "first".into(), "second".into()), "{}", db.label);

            with_pool!(&db.store, pool => {
                sqlx::query("CREATE TABLE param_order (a TEXT NOT NULL, b TEXT NOT NULL)").execute(pool).await.unwrap();
                sqlx::query("INSERT INTO param_order (b, a) VALUES ($2, $1)").bind("A").bind("B").execute(pool).await.unwrap();
                let (a, b): (String, String) = sqlx::query_as("SELECT a, b FROM param_order WHERE b = $2 AND a = $1")
                    .bind("A")
                    .bind("B")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                assert_eq!((a.as_str(), b.as_str()), ("A", "B"), "{}", db.label);
            });
        }
    }

    /// Two writers that each read, then write, in one transaction, at the same time: with a deferred
    /// `BEGIN` one of them fails on SQLite with "database is locked" as soon as the other commits
    /// between its read and its write; with `begin_write` every one of them commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_read_then_write_transactions_all_commit_on_both_dialects() {
        for db in test_stores().await {
            with_pool!(&db.store, pool => {
                sqlx::query("CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)").execute(pool).await.unwrap();
                sqlx::query("INSERT INTO counter (id, n) VALUES (1, 0)").execute(pool).await.unwrap();
            });
            const EACH: i64 = 100;
            let writers: Vec<_> = (0..4)
                .map(|_| {
                    let store = db.store.clone();
                    tokio::spawn(async move {
                        for _ in 0..EACH {
                            with_pool!(&store, pool => {
                                let mut tx = pool.begin_write().await?;
                                let (n,): (i64,) = sqlx::query_as("SELECT n FROM counter WHERE id = 1").fetch_one(&mut *tx).await?;
                                tokio::task::yield_now().await;
                                sqlx::query("UPDATE counter SET n = $1 WHERE id = 1").bind(n + 1).execute(&mut *tx).await?;
                                tx.commit().await?;
                            });
                        }
                        Ok::<(), sqlx::Error>(())
                    })
                })
                .collect();
            for w in writers {
                w.await.unwrap().unwrap_or_else(|e| panic!("{}: a writer failed: {e}", db.label));
            }
            let (n,): (i64,) = with_pool!(&db.store, pool => sqlx::query_as("SELECT n FROM counter WHERE id = 1").fetch_one(pool).await).unwrap();
            // On PostgreSQL read-committed lets two writers read the same n (lost updates are its
            // isolation's business, not this test's); on SQLite the writers are serialised.
            if db.store.dialect() == Dialect::Sqlite {
                assert_eq!(n, 4 * EACH, "{}", db.label);
            }
        }
    }

    #[tokio::test]
    async fn migrations_run_twice_and_ping_answers() {
        for db in test_stores().await {
            db.store.migrate().await.unwrap();
            db.store.ping().await.unwrap();
            assert!(db.store.pool_stats().max > 0, "{}", db.label);
        }
    }

    /// Migration 0019 keeps every stored time: rows written the old way (RFC 3339 text, sub-second
    /// digits, the plan seed's `@seconds`, NULL) read back as the same instant in the integer columns.
    #[tokio::test]
    async fn the_integer_times_migration_keeps_every_stored_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut stores = vec![Store::open_sqlite(&dir.path().join("ena.db")).await.unwrap()];
        match std::env::var(testing::POSTGRES_URL_VAR) {
            Ok(url) => {
                let schema = testing::create_schema(&url, "migration").await;
                stores.push(Store::connect_postgres(&url, Some(&schema)).await.unwrap());
            }
            Err(_) => {
                eprintln!("{} is not set: the PostgreSQL half of this test did not run", testing::POSTGRES_URL_VAR)
            }
        }
        for store in stores {
            let dialect = store.dialect();
            let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(if dialect == Dialect::Sqlite {
                "sqlite"
            } else {
                "postgres"
            });
            let mut files: Vec<_> = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            let run = |sql: String| {
                let store = store.clone();
                async move {
                    with_pool!(&store, pool => sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(|_| ()))
                        .unwrap()
                }
            };
            let (before, after): (Vec<_>, Vec<_>) =
                files.iter().partition(|f| f.file_name().unwrap().to_string_lossy().as_ref() < "0019");
            for f in &before {
                run(std::fs::read_to_string(f).unwrap()).await;
            }
            run("INSERT INTO plan_settings (id, revision, title_sv, title_en, unit, years, schablon_rounding, schablon_split, updated_at) \
                 VALUES (1, 1, 't', 't', 'u', '[]', 0, '[]', '@1795910400')".into()).await;
            run("INSERT INTO federation_agreements (version, title, body, published_at) VALUES (1, 'a', 'b', '2026-11-29T08:00:00Z')".into()).await;
            run("INSERT INTO msg_outbox (id, recipient, recipient_node, message_type, version, conversation_id, envelope, ciphertext, status, \
                 attempts, next_attempt_at, expires_at, created_at, updated_at) VALUES ('m', 'r', 'n', 't', '1', 'c', 'e', '', 'queued', 0, 0, 0, \
                 '2026-11-29T08:00:00.250Z', '2026-11-29T09:00:00+01:00')".into()).await;
            run("INSERT INTO msg_inbox (id, sender, sender_node, recipient, message_type, version, conversation_id, envelope, payload, receipt, \
                 received_at, seq) VALUES ('m', 's', 'n', 'r', 't', '1', 'c', 'e', '{}', 'x', '2026-11-29T08:00:00Z', 1)".into()).await;
            assert_eq!(after.len(), files.len() - before.len());
            for f in &after {
                run(std::fs::read_to_string(f).unwrap()).await;
            }
            let one = |sql: &'static str| {
                let store = store.clone();
                async move {
                    let (n,): (Option<i64>,) =
                        with_pool!(&store, pool => sqlx::query_as(sql).fetch_one(pool).await).unwrap();
                    n
                }
            };
            assert_eq!(one("SELECT updated_at FROM plan_settings").await, Some(1_795_910_400), "{dialect:?}");
            assert_eq!(one("SELECT published_at FROM federation_agreements").await, Some(1_795_939_200), "{dialect:?}");
            assert_eq!(one("SELECT created_at_ms FROM msg_outbox").await, Some(1_795_939_200_250), "{dialect:?}");
            assert_eq!(
                one("SELECT updated_at_ms FROM msg_outbox").await,
                Some(1_795_939_200_000),
                "{dialect:?}: +01:00"
            );
            assert_eq!(one("SELECT received_at FROM msg_inbox").await, Some(1_795_939_200), "{dialect:?}");
            assert_eq!(one("SELECT acked_at FROM msg_inbox").await, None, "{dialect:?}: NULL stays NULL");
        }
    }

    /// A raise through one clone of the store is the revision every clone reads (on SQLite from the
    /// copy the raise kept, on PostgreSQL from the row), and a revision never goes back.
    #[tokio::test]
    async fn revisions_raised_by_one_clone_are_read_by_every_clone() {
        for db in test_stores().await {
            let (a, b) = (db.store.clone(), db.store.clone());
            let start = b.revision("access_revision").await.unwrap();
            a.raise_revision("access_revision").await.unwrap();
            a.raise_revision("access_revision").await.unwrap();
            assert_eq!(b.revision("access_revision").await.unwrap(), start + 2, "{}", db.label);
            // The row agrees with what is read.
            let (row,): (i64,) = with_pool!(&b, pool => sqlx::query_as("SELECT revision FROM access_revision WHERE id = 1").fetch_one(pool).await).unwrap();
            assert_eq!(row, start + 2, "{}", db.label);
            assert_eq!(b.revision("federation_revision").await.unwrap(), 0, "{}: counters are separate", db.label);
        }
    }
}
