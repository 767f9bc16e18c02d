//! SQL of API tokens and employee credentials (both dialects). Sessions and logins are in `session`.

use ena_store::{Store, with_pool};
use sqlx::FromRow;

use crate::sha256_b64;

/// Record the use of the single-use JWT id `key` (issuer and jti) valid until `expires_at`; false if it
/// was used before (a replay). Expired ids are swept first, so the table stays as small as the number of
/// tokens alive.
pub async fn use_once(store: &Store, key: &str, expires_at: i64) -> Result<bool, sqlx::Error> {
    let now = ena_core::time::unix_now();
    with_pool!(store, pool => sqlx::query("DELETE FROM identity_used_jtis WHERE expires_at < $1").bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    let inserted = with_pool!(store, pool => sqlx::query("INSERT INTO identity_used_jtis (jti_hash, expires_at) VALUES ($1, $2) ON CONFLICT (jti_hash) DO NOTHING")
        .bind(sha256_b64(key)).bind(expires_at).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

/// A registered employee credential.
#[derive(Clone, Debug, FromRow)]
pub struct CredentialRow {
    pub issuer: String,
    pub jti: String,
    pub person_id: String,
    pub name: String,
    /// JSON array of role names.
    pub roles: String,
    pub token: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
}

const COLUMNS: &str =
    "issuer, jti, person_id, name, roles, token, issued_at, expires_at, revoked_at, revocation_reason";

/// Store a credential; false if the issuer already registered this jti.
pub async fn insert_credential(store: &Store, c: &CredentialRow) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "INSERT INTO identity_employee_credentials ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL) ON CONFLICT (issuer, jti) DO NOTHING"
    );
    let n = with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(&c.issuer).bind(&c.jti).bind(&c.person_id).bind(&c.name).bind(&c.roles).bind(&c.token).bind(c.issued_at).bind(c.expires_at)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn credential(store: &Store, issuer: &str, jti: &str) -> Result<Option<CredentialRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM identity_employee_credentials WHERE issuer = $1 AND jti = $2");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(issuer).bind(jti).fetch_optional(pool).await)
}

/// An issuer's credentials, newest first; optionally only one person's.
pub async fn credentials(
    store: &Store,
    issuer: &str,
    person: Option<&str>,
    limit: u32,
    offset: u64,
) -> Result<Vec<CredentialRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM identity_employee_credentials WHERE issuer = $1 AND ($2 = '' OR person_id = $2) ORDER BY issued_at DESC, jti LIMIT $3 OFFSET $4"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(issuer).bind(person.unwrap_or_default()).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

/// Revoke a credential (idempotent: a second revocation keeps the first time and reason); false if the
/// issuer has no such credential.
pub async fn revoke_credential(store: &Store, issuer: &str, jti: &str, reason: &str) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("UPDATE identity_employee_credentials SET revoked_at = COALESCE(revoked_at, $3), revocation_reason = COALESCE(revocation_reason, $4) WHERE issuer = $1 AND jti = $2")
        .bind(issuer).bind(jti).bind(ena_core::time::unix_now()).bind(reason).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A client of the test eID that the operator registered.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct TestClientRow {
    pub client_id: String,
    pub name: String,
    pub secret_sha256: String,
    /// JSON array of exact redirect URIs.
    pub redirect_uris: String,
    pub created_at: i64,
}

const TEST_CLIENT_COLUMNS: &str = "client_id, name, secret_sha256, redirect_uris, created_at";

/// Insert a test client; false if the client id is taken.
pub async fn insert_test_client(store: &Store, c: &TestClientRow) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "INSERT INTO identity_test_clients ({TEST_CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id) DO NOTHING"
    );
    let n = with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&c.client_id).bind(&c.name).bind(&c.secret_sha256)
        .bind(&c.redirect_uris).bind(c.created_at).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn test_client(store: &Store, client_id: &str) -> Result<Option<TestClientRow>, sqlx::Error> {
    let sql = format!("SELECT {TEST_CLIENT_COLUMNS} FROM identity_test_clients WHERE client_id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(client_id).fetch_optional(pool).await)
}

pub async fn test_clients(store: &Store, limit: u32, offset: u64) -> Result<Vec<TestClientRow>, sqlx::Error> {
    let sql = format!("SELECT {TEST_CLIENT_COLUMNS} FROM identity_test_clients ORDER BY client_id LIMIT $1 OFFSET $2");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

/// Remove a test client; false if there was none.
pub async fn delete_test_client(store: &Store, client_id: &str) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("DELETE FROM identity_test_clients WHERE client_id = $1").bind(client_id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
