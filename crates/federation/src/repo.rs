//! Federation storage in both SQL dialects: agreements, applications, members, issued statements and
//! certificates.

use ena_store::{Store, with_pool};
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct AgreementRow {
    pub version: i64,
    pub title: String,
    pub body: String,
    pub published_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct ApplicationRow {
    pub id: String,
    pub entity_id: String,
    pub organisation_number: String,
    pub name: String,
    pub contact: String,
    pub jwks: String,
    pub entity_types: String,
    pub metadata: String,
    pub trust_marks: String,
    pub key_request: Option<String>,
    pub entity_configuration: Option<String>,
    pub agreement_version: i64,
    pub status: String,
    pub reason: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    /// The audit actor id of whoever decided (a person's identity number, or `operator-token`).
    pub decided_by: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct MemberRow {
    pub entity_id: String,
    pub organisation_number: String,
    pub name: String,
    pub contact: String,
    pub jwks: String,
    pub entity_types: String,
    pub metadata: String,
    pub entity_configuration: Option<String>,
    pub status: String,
    pub application_id: String,
    pub agreement_version: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct StatementRow {
    pub id: String,
    pub sub: String,
    pub kind: String,
    pub token: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub log_index: Option<i64>,
}

#[derive(Debug, Clone, FromRow)]
pub struct CertificateRow {
    pub serial: String,
    pub entity_id: String,
    pub pem: String,
    pub thumbprint: String,
    pub not_after: i64,
    pub revoked_at: Option<i64>,
}

pub async fn current_agreement(store: &Store) -> Result<Option<AgreementRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT version, title, body, published_at FROM federation_agreements ORDER BY version DESC LIMIT 1").fetch_optional(pool).await)
}

pub async fn publish_agreement(store: &Store, title: &str, body: &str, now: i64) -> Result<i64, sqlx::Error> {
    let next: (i64,) = with_pool!(store, pool => sqlx::query_as("SELECT COALESCE(MAX(version), 0) + 1 FROM federation_agreements").fetch_one(pool).await)?;
    with_pool!(store, pool => sqlx::query("INSERT INTO federation_agreements (version, title, body, published_at) VALUES ($1, $2, $3, $4)")
        .bind(next.0).bind(title).bind(body).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(next.0)
}

const APPLICATION_COLUMNS: &str = "id, entity_id, organisation_number, name, contact, jwks, entity_types, metadata, trust_marks, key_request, entity_configuration, agreement_version, status, reason, created_at, decided_at, decided_by";

/// Insert a pending application; `false` if the entity already has one pending (unique index).
pub async fn insert_application(store: &Store, a: &ApplicationRow) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "INSERT INTO federation_applications ({APPLICATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    );
    let result = with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&a.id).bind(&a.entity_id).bind(&a.organisation_number).bind(&a.name).bind(&a.contact).bind(&a.jwks)
        .bind(&a.entity_types).bind(&a.metadata).bind(&a.trust_marks).bind(&a.key_request).bind(&a.entity_configuration)
        .bind(a.agreement_version).bind(&a.status).bind(&a.reason).bind(a.created_at).bind(a.decided_at).bind(&a.decided_by)
        .execute(pool).await.map(|r| r.rows_affected()));
    match result {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn application(store: &Store, id: &str) -> Result<Option<ApplicationRow>, sqlx::Error> {
    let sql = format!("SELECT {APPLICATION_COLUMNS} FROM federation_applications WHERE id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)
}

/// Applications, newest first, optionally only one status.
pub async fn applications(
    store: &Store,
    status: Option<&str>,
    limit: u32,
    offset: u64,
) -> Result<Vec<ApplicationRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM federation_applications WHERE ($1 IS NULL OR status = $1) ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(status).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

/// Mark a pending application decided by `decided_by` (an audit actor id); `false` if it was not
/// pending (decided already).
pub async fn decide_application(
    store: &Store,
    id: &str,
    status: &str,
    reason: Option<&str>,
    decided_by: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("UPDATE federation_applications SET status = $2, reason = $3, decided_at = $4, decided_by = $5 WHERE id = $1 AND status = 'pending'")
        .bind(id).bind(status).bind(reason).bind(now).bind(decided_by).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

const MEMBER_COLUMNS: &str = "entity_id, organisation_number, name, contact, jwks, entity_types, metadata, entity_configuration, status, application_id, agreement_version, updated_at";

pub async fn upsert_member(store: &Store, m: &MemberRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO federation_members ({MEMBER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (entity_id) DO UPDATE SET organisation_number = excluded.organisation_number, name = excluded.name, \
         contact = excluded.contact, jwks = excluded.jwks, entity_types = excluded.entity_types, metadata = excluded.metadata, \
         entity_configuration = excluded.entity_configuration, status = excluded.status, application_id = excluded.application_id, \
         agreement_version = excluded.agreement_version, updated_at = excluded.updated_at"
    );
    with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&m.entity_id).bind(&m.organisation_number).bind(&m.name).bind(&m.contact).bind(&m.jwks).bind(&m.entity_types)
        .bind(&m.metadata).bind(&m.entity_configuration).bind(&m.status).bind(&m.application_id).bind(m.agreement_version).bind(m.updated_at)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn member(store: &Store, entity_id: &str) -> Result<Option<MemberRow>, sqlx::Error> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM federation_members WHERE entity_id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(entity_id).fetch_optional(pool).await)
}

/// The first active member of an organisation (by entity id).
pub async fn active_member_of(store: &Store, organisation: &str) -> Result<Option<MemberRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM federation_members WHERE organisation_number = $1 AND status = 'active' ORDER BY entity_id LIMIT 1"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(organisation).fetch_optional(pool).await)
}

/// Members in `status` (all when `None`), by entity id.
pub async fn members(
    store: &Store,
    status: Option<&str>,
    limit: u32,
    offset: u64,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM federation_members WHERE ($1 IS NULL OR status = $1) ORDER BY entity_id LIMIT $2 OFFSET $3"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(status).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

/// Change a member's status; `false` if there is no such member or it already had that status.
pub async fn set_member_status(store: &Store, entity_id: &str, status: &str, now: i64) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("UPDATE federation_members SET status = $2, updated_at = $3 WHERE entity_id = $1 AND status <> $2")
        .bind(entity_id).bind(status).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn set_member_configuration(
    store: &Store,
    entity_id: &str,
    token: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("UPDATE federation_members SET entity_configuration = $2, updated_at = $3 WHERE entity_id = $1")
        .bind(entity_id).bind(token).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn insert_statement(store: &Store, s: &StatementRow) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("INSERT INTO federation_statements (id, sub, kind, token, issued_at, expires_at, revoked_at, log_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&s.id).bind(&s.sub).bind(&s.kind).bind(&s.token).bind(s.issued_at).bind(s.expires_at).bind(s.revoked_at).bind(s.log_index)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The newest statement of `kind` about `sub` that is not revoked.
pub async fn latest_statement(store: &Store, sub: &str, kind: &str) -> Result<Option<StatementRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT id, sub, kind, token, issued_at, expires_at, revoked_at, log_index FROM federation_statements WHERE sub = $1 AND kind = $2 AND revoked_at IS NULL ORDER BY issued_at DESC, id DESC LIMIT 1")
        .bind(sub).bind(kind).fetch_optional(pool).await)
}

pub async fn statement_by_token(store: &Store, token: &str) -> Result<Option<StatementRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT id, sub, kind, token, issued_at, expires_at, revoked_at, log_index FROM federation_statements WHERE token = $1")
        .bind(token).fetch_optional(pool).await)
}

/// Everything issued about `sub`, newest first.
pub async fn statements_about(
    store: &Store,
    sub: &str,
    limit: u32,
    offset: u64,
) -> Result<Vec<StatementRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT id, sub, kind, token, issued_at, expires_at, revoked_at, log_index FROM federation_statements WHERE sub = $1 ORDER BY issued_at DESC, id DESC LIMIT $2 OFFSET $3")
        .bind(sub).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

/// Revoke every unrevoked statement of `kind` about `sub`.
pub async fn revoke_statements(store: &Store, sub: &str, kind: &str, now: i64) -> Result<u64, sqlx::Error> {
    with_pool!(store, pool => sqlx::query("UPDATE federation_statements SET revoked_at = $3 WHERE sub = $1 AND kind = $2 AND revoked_at IS NULL")
        .bind(sub).bind(kind).bind(now).execute(pool).await.map(|r| r.rows_affected()))
}

pub async fn set_log_index(store: &Store, id: &str, index: u64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("UPDATE federation_statements SET log_index = $2 WHERE id = $1")
        .bind(id).bind(index as i64).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn insert_certificate(store: &Store, c: &CertificateRow) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("INSERT INTO federation_certificates (serial, entity_id, pem, thumbprint, not_after, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&c.serial).bind(&c.entity_id).bind(&c.pem).bind(&c.thumbprint).bind(c.not_after).bind(c.revoked_at)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn certificates_of(store: &Store, entity_id: &str) -> Result<Vec<CertificateRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT serial, entity_id, pem, thumbprint, not_after, revoked_at FROM federation_certificates WHERE entity_id = $1 ORDER BY not_after DESC")
        .bind(entity_id).fetch_all(pool).await)
}

/// Revoke the entity's unrevoked certificates; returns their serials.
pub async fn revoke_certificates(store: &Store, entity_id: &str, now: i64) -> Result<Vec<String>, sqlx::Error> {
    let open: Vec<(String,)> = with_pool!(store, pool => sqlx::query_as("SELECT serial FROM federation_certificates WHERE entity_id = $1 AND revoked_at IS NULL")
        .bind(entity_id).fetch_all(pool).await)?;
    with_pool!(store, pool => sqlx::query("UPDATE federation_certificates SET revoked_at = $2 WHERE entity_id = $1 AND revoked_at IS NULL")
        .bind(entity_id).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(open.into_iter().map(|r| r.0).collect())
}

/// Every revoked certificate: (serial, revoked at).
pub async fn revoked_certificates(store: &Store) -> Result<Vec<(String, i64)>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT serial, revoked_at FROM federation_certificates WHERE revoked_at IS NOT NULL ORDER BY serial")
        .fetch_all(pool).await)
}

pub async fn certificate_by_thumbprint(store: &Store, thumbprint: &str) -> Result<Option<CertificateRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT serial, entity_id, pem, thumbprint, not_after, revoked_at FROM federation_certificates WHERE thumbprint = $1")
        .bind(thumbprint).fetch_optional(pool).await)
}

/// The federation's revision (raised by every membership change, by any instance).
/// The revision every change raises (`Store::revision`: on SQLite kept in memory, on PostgreSQL read).
pub async fn revision(store: &Store) -> Result<i64, sqlx::Error> {
    store.revision("federation_revision").await
}

pub async fn raise_revision(store: &Store) -> Result<(), sqlx::Error> {
    store.raise_revision("federation_revision").await
}
