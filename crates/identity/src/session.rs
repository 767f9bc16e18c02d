//! Server-side sessions and logins in progress, in the database (both dialects). A session is found by
//! the SHA-256 of its cookie value; it ends after `idle` seconds without use or `absolute` seconds after
//! login, whichever comes first. A login in progress is taken once (state is single-use) and lives ten
//! minutes.

use ena_core::PersonId;
use ena_store::{Store, with_pool};
use sqlx::FromRow;

use crate::loa::Loa;
use crate::rp::{LoggedIn, Pending};
use crate::{random_token, sha256_b64};

/// How long a login may take between the redirect and the callback.
pub const LOGIN_SECS: i64 = 600;

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub idle: i64,
    pub absolute: i64,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts { idle: 30 * 60, absolute: 8 * 3600 }
    }
}

#[derive(Clone, Debug, FromRow)]
struct Row {
    person_id: String,
    name: String,
    loa: i64,
    provider: String,
    csrf: String,
    created_at: i64,
    last_seen_at: i64,
}

/// A logged-in person's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub person: PersonId,
    pub name: String,
    pub loa: Loa,
    pub provider: String,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// The session's id: SHA-256 of the cookie value (what tokens backed by the session name).
    pub sid: String,
    /// Unix time of the login (the absolute timeout counts from it).
    pub created_at: i64,
}

/// Start a session; returns the cookie value (shown to the browser once, stored only hashed).
pub async fn create(store: &Store, who: &LoggedIn) -> Result<(String, Session), sqlx::Error> {
    let token = random_token(32);
    let csrf = random_token(24);
    let now = ena_core::time::unix_now();
    with_pool!(store, pool => sqlx::query("INSERT INTO identity_sessions (id_hash, person_id, name, loa, provider, csrf, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
        .bind(sha256_b64(&token)).bind(who.person.as_str()).bind(&who.name).bind(i64::from(who.loa.0)).bind(&who.provider).bind(&csrf).bind(now)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    let sid = sha256_b64(&token);
    Ok((
        token,
        Session {
            person: who.person.clone(),
            name: who.name.clone(),
            loa: who.loa,
            provider: who.provider.clone(),
            csrf,
            sid,
            created_at: now,
        },
    ))
}

/// The live session for a cookie value, touched; `None` if unknown or timed out (a timed-out one is removed).
pub async fn find(store: &Store, token: &str, t: Timeouts) -> Result<Option<Session>, sqlx::Error> {
    let id = sha256_b64(token);
    let Some(session) = by_id(store, &id, t).await? else { return Ok(None) };
    with_pool!(store, pool => sqlx::query("UPDATE identity_sessions SET last_seen_at = $2 WHERE id_hash = $1").bind(&id).bind(ena_core::time::unix_now()).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(Some(session))
}

/// The live session with id `sid` (not touched: a token backed by a session does not keep it alive);
/// `None` if ended or timed out (a timed-out one is removed).
pub async fn by_id(store: &Store, sid: &str, t: Timeouts) -> Result<Option<Session>, sqlx::Error> {
    let row: Option<Row> = with_pool!(store, pool => sqlx::query_as("SELECT person_id, name, loa, provider, csrf, created_at, last_seen_at FROM identity_sessions WHERE id_hash = $1")
        .bind(sid).fetch_optional(pool).await)?;
    let Some(row) = row else { return Ok(None) };
    let now = ena_core::time::unix_now();
    if now - row.last_seen_at > t.idle || now - row.created_at > t.absolute {
        with_pool!(store, pool => sqlx::query("DELETE FROM identity_sessions WHERE id_hash = $1").bind(sid).execute(pool).await.map(|r| r.rows_affected()))?;
        return Ok(None);
    }
    let Ok(person) = PersonId::parse(&row.person_id) else { return Ok(None) };
    Ok(Some(Session {
        person,
        name: row.name,
        loa: Loa(row.loa as u8),
        provider: row.provider,
        csrf: row.csrf,
        sid: sid.to_owned(),
        created_at: row.created_at,
    }))
}

/// End a session (logout).
pub async fn end(store: &Store, token: &str) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("DELETE FROM identity_sessions WHERE id_hash = $1").bind(sha256_b64(token)).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Keep a login in progress until its callback.
pub async fn save_login(store: &Store, p: &Pending) -> Result<(), sqlx::Error> {
    let now = ena_core::time::unix_now();
    with_pool!(store, pool => sqlx::query("DELETE FROM identity_logins WHERE created_at < $1").bind(now - LOGIN_SECS).execute(pool).await.map(|r| r.rows_affected()))?;
    with_pool!(store, pool => sqlx::query("INSERT INTO identity_logins (state, nonce, verifier, provider, return_to, min_loa, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&p.state).bind(&p.nonce).bind(&p.verifier).bind(&p.provider).bind(&p.return_to).bind(i64::from(p.min_loa.0)).bind(now)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Take the login in progress for `state` (once); `None` if unknown, used or older than ten minutes.
pub async fn take_login(store: &Store, state: &str) -> Result<Option<Pending>, sqlx::Error> {
    type LoginRow = (String, String, String, String, i64, i64);
    let row: Option<LoginRow> = with_pool!(store, pool => sqlx::query_as("DELETE FROM identity_logins WHERE state = $1 RETURNING nonce, verifier, provider, return_to, min_loa, created_at")
        .bind(state).fetch_optional(pool).await)?;
    Ok(row.filter(|r| ena_core::time::unix_now() - r.5 <= LOGIN_SECS).map(
        |(nonce, verifier, provider, return_to, min_loa, _)| Pending {
            state: state.to_owned(),
            nonce,
            verifier,
            provider,
            return_to,
            min_loa: Loa(min_loa as u8),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ena_store::testing::test_stores;

    #[tokio::test]
    async fn sessions_and_single_use_logins_on_both_databases() {
        for db in test_stores().await {
            let store = &db.store;
            let who = LoggedIn {
                person: PersonId::parse("191212121212").unwrap(),
                name: "Tolvan".into(),
                loa: Loa(3),
                provider: "test-eid".into(),
            };
            let (cookie, s) = create(store, &who).await.unwrap();
            assert_eq!(find(store, &cookie, Timeouts::default()).await.unwrap(), Some(s.clone()), "{}", db.label);
            assert!(find(store, "forged", Timeouts::default()).await.unwrap().is_none());
            // Idle timeout of zero seconds: the session is gone (and removed).
            assert!(
                find(store, &cookie, Timeouts { idle: -1, absolute: 3600 }).await.unwrap().is_none(),
                "{}",
                db.label
            );
            assert!(find(store, &cookie, Timeouts::default()).await.unwrap().is_none());
            let (cookie, _) = create(store, &who).await.unwrap();
            end(store, &cookie).await.unwrap();
            assert!(find(store, &cookie, Timeouts::default()).await.unwrap().is_none(), "logout ends it");

            let p = Pending {
                state: "st".into(),
                nonce: "n".into(),
                verifier: "v".into(),
                provider: "test-eid".into(),
                return_to: "/mina-sidor".into(),
                min_loa: Loa(3),
            };
            save_login(store, &p).await.unwrap();
            assert_eq!(take_login(store, "st").await.unwrap(), Some(p), "{}", db.label);
            assert_eq!(take_login(store, "st").await.unwrap(), None, "state is single-use");
        }
    }
}
