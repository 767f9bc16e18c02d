//! Test databases: a fresh SQLite file always, and a fresh PostgreSQL schema when `ENA_TEST_POSTGRES_URL`
//! is set, so every repository test runs on both dialects without the tests knowing which.

use crate::Store;

/// A migrated, empty store for one test, with a label for assertion messages.
#[derive(Debug)]
pub struct TestStore {
    pub store: Store,
    pub label: String,
    /// Keeps the SQLite file's directory alive for as long as the store is used.
    _dir: Option<tempfile::TempDir>,
}

impl TestStore {
    /// Another handle on the same database (for a second server instance); the original must outlive
    /// it, since it owns the SQLite file's directory.
    pub fn shared(&self) -> TestStore {
        TestStore { store: self.store.clone(), label: self.label.clone(), _dir: None }
    }
}

/// The environment variable that turns on the PostgreSQL half of every repository test.
pub const POSTGRES_URL_VAR: &str = "ENA_TEST_POSTGRES_URL";

/// One migrated store per available dialect: SQLite always, PostgreSQL when configured.
///
/// Under `CI=true` a missing `ENA_TEST_POSTGRES_URL` is a failure: CI must test both databases.
pub async fn test_stores() -> Vec<TestStore> {
    let mut stores = vec![sqlite().await];
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => stores.push(postgres(&url).await),
        _ => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI must set {POSTGRES_URL_VAR}");
        }
    }
    stores
}

/// A migrated store on a fresh SQLite file in a temp directory.
pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_sqlite(&dir.path().join("ena.db")).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TestStore { store, label: "sqlite".into(), _dir: Some(dir) }
}

/// A migrated store in a new schema of the PostgreSQL database at `url`; schemas are never shared.
pub async fn postgres(url: &str) -> TestStore {
    let schema = format!("test_{}", uuid::Uuid::now_v7().simple());
    let admin = Store::connect_postgres(url, None).await.expect("connect to ENA_TEST_POSTGRES_URL");
    with_pool_admin(&admin, &format!("CREATE SCHEMA {schema}")).await;
    admin.close().await;
    let store = Store::connect_postgres(url, Some(&schema)).await.expect("connect to test schema");
    store.migrate().await.expect("migrate postgres");
    TestStore { store, label: format!("postgres ({schema})"), _dir: None }
}

/// Create a new, empty schema named `{prefix}_{uuid}` in the database at `url` and return its name.
pub async fn create_schema(url: &str, prefix: &str) -> String {
    let schema = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    let admin = Store::connect_postgres(url, None).await.expect("connect to ENA_TEST_POSTGRES_URL");
    with_pool_admin(&admin, &format!("CREATE SCHEMA {schema}")).await;
    admin.close().await;
    schema
}

async fn with_pool_admin(store: &Store, sql: &str) {
    // The schema name is ours (a UUID), not input, so building the statement from it is safe.
    crate::with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(pool).await.map(|_| ()))
        .expect(sql);
}
