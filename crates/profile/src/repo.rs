//! Min profil's tables: contacts (with their pending code), preferences, consents.

use ena_store::{Store, with_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub id: String,
    pub person: String,
    pub channel: String,
    pub address: String,
    pub organisation: String,
    pub verified_at: Option<i64>,
    pub created_at: i64,
}

const CONTACT: &str = "id, person, channel, address, organisation, verified_at, created_at";

/// Add a contact; `false` if the person already has this one (for the same organisation).
pub async fn insert_contact(store: &Store, c: &ContactRow) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query(
        "INSERT INTO profile_contacts (id, person, channel, address, organisation, verified_at, code_attempts, codes_sent, codes_window, created_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, 0, 0, 0, $6) ON CONFLICT (person, channel, address, organisation) DO NOTHING")
        .bind(&c.id).bind(&c.person).bind(&c.channel).bind(&c.address).bind(&c.organisation).bind(c.created_at)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn contact(store: &Store, person: &str, id: &str) -> Result<Option<ContactRow>, sqlx::Error> {
    let sql = format!("SELECT {CONTACT} FROM profile_contacts WHERE id = $1 AND person = $2");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(person).fetch_optional(pool).await)
}

pub async fn contacts(store: &Store, person: &str, limit: u32, offset: u64) -> Result<Vec<ContactRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CONTACT} FROM profile_contacts WHERE person = $1 ORDER BY organisation, channel, created_at, id LIMIT $2 OFFSET $3"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(person).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

pub async fn delete_contact(store: &Store, person: &str, id: &str) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("DELETE FROM profile_contacts WHERE id = $1 AND person = $2")
        .bind(id).bind(person).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The limits on codes.
pub struct CodeLimits {
    /// Seconds a code is valid.
    pub lifetime: i64,
    /// Wrong tries allowed per code.
    pub attempts: i64,
    /// Seconds between two codes.
    pub resend_after: i64,
    /// Codes per window, and the window in seconds.
    pub per_window: i64,
    pub window: i64,
}

pub const LIMITS: CodeLimits =
    CodeLimits { lifetime: 600, attempts: 5, resend_after: 30, per_window: 5, window: 86_400 };

/// Set a new code for an unverified contact if the limits allow; `false` if they do not (or the contact
/// is verified or not the person's). One statement, so two instances cannot both send past a limit.
pub async fn set_code(store: &Store, person: &str, id: &str, hash: &[u8], now: i64) -> Result<bool, sqlx::Error> {
    let window_start = now - LIMITS.window;
    let n = with_pool!(store, pool => sqlx::query(
        "UPDATE profile_contacts SET code_hash = $3, code_expires_at = $4, code_attempts = 0, last_sent_at = $5, \
         codes_sent = CASE WHEN codes_window < $6 THEN 1 ELSE codes_sent + 1 END, \
         codes_window = CASE WHEN codes_window < $6 THEN $5 ELSE codes_window END \
         WHERE id = $1 AND person = $2 AND verified_at IS NULL \
         AND (last_sent_at IS NULL OR last_sent_at <= $7) AND (codes_window < $6 OR codes_sent < $8)")
        .bind(id).bind(person).bind(hash).bind(now + LIMITS.lifetime).bind(now).bind(window_start)
        .bind(now - LIMITS.resend_after).bind(LIMITS.per_window)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Count one try at the contact's code and return the code's hash, if a try is still allowed (a code
/// is pending, unexpired, with tries left). The try is counted before the code is compared.
pub async fn take_try(store: &Store, person: &str, id: &str, now: i64) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let row: Option<(Option<Vec<u8>>,)> = with_pool!(store, pool => sqlx::query_as(
        "UPDATE profile_contacts SET code_attempts = code_attempts + 1 \
         WHERE id = $1 AND person = $2 AND verified_at IS NULL AND code_hash IS NOT NULL \
         AND code_expires_at > $3 AND code_attempts < $4 RETURNING code_hash")
        .bind(id).bind(person).bind(now).bind(LIMITS.attempts).fetch_optional(pool).await)?;
    Ok(row.and_then(|r| r.0))
}

/// Mark verified if the code is still the one compared (not replaced meanwhile).
pub async fn mark_verified(store: &Store, id: &str, hash: &[u8], now: i64) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query(
        "UPDATE profile_contacts SET verified_at = $3, code_hash = NULL, code_expires_at = NULL WHERE id = $1 AND code_hash = $2")
        .bind(id).bind(hash).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The verified contacts of `person` on `channel` for `organisation` ('' = themselves), oldest first.
pub async fn verified(
    store: &Store,
    person: &str,
    channel: &str,
    organisation: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT address FROM profile_contacts WHERE person = $1 AND channel = $2 AND organisation = $3 AND verified_at IS NOT NULL \
         ORDER BY verified_at, id LIMIT 10")
        .bind(person).bind(channel).bind(organisation).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The verified contacts people gave for notices about `organisation`: (person, channel, address).
pub async fn for_organisation(store: &Store, organisation: &str) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as(
        "SELECT person, channel, address FROM profile_contacts WHERE organisation = $1 AND verified_at IS NOT NULL \
         ORDER BY person, channel, id LIMIT 100")
        .bind(organisation).fetch_all(pool).await)
}

pub async fn preferences(store: &Store, person: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT language, channel FROM profile_preferences WHERE person = $1")
        .bind(person).fetch_optional(pool).await)
}

pub async fn put_preferences(
    store: &Store,
    person: &str,
    language: &str,
    channel: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO profile_preferences (person, language, channel, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (person) DO UPDATE SET language = excluded.language, channel = excluded.channel, updated_at = excluded.updated_at")
        .bind(person).bind(language).bind(channel).bind(now).execute(pool).await.map(|_| ()))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRow {
    pub id: String,
    pub person: String,
    pub recipient: String,
    pub holder: String,
    pub category: String,
    pub purpose: String,
    pub given_at: i64,
    pub expires_at: i64,
    pub withdrawn_at: Option<i64>,
}

const CONSENT: &str = "id, person, recipient, holder, category, purpose, given_at, expires_at, withdrawn_at";

pub async fn insert_consent(store: &Store, c: &ConsentRow) -> Result<(), sqlx::Error> {
    let sql = format!("INSERT INTO profile_consents ({CONSENT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)");
    with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&c.id).bind(&c.person).bind(&c.recipient).bind(&c.holder).bind(&c.category).bind(&c.purpose)
        .bind(c.given_at).bind(c.expires_at).execute(pool).await.map(|_| ()))
}

pub async fn consent(store: &Store, id: &str) -> Result<Option<ConsentRow>, sqlx::Error> {
    let sql = format!("SELECT {CONSENT} FROM profile_consents WHERE id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)
}

pub async fn consents(store: &Store, person: &str, limit: u32, offset: u64) -> Result<Vec<ConsentRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CONSENT} FROM profile_consents WHERE person = $1 ORDER BY given_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(person).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

/// Withdraw a consent in force; `false` if it is not the person's, or already withdrawn.
pub async fn withdraw(store: &Store, person: &str, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query(
        "UPDATE profile_consents SET withdrawn_at = $3 WHERE id = $1 AND person = $2 AND withdrawn_at IS NULL")
        .bind(id).bind(person).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
