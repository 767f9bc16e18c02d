//! SQL of mandates, approvals and notices (both dialects).

use crate::MandateStatus;
use ena_store::{Store, with_pool};
use sqlx::FromRow;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct MandateRow {
    pub id: String,
    pub principal: String,
    pub agent: String,
    pub packages: String,
    pub valid_from: i64,
    pub valid_to: Option<i64>,
    pub may_delegate: i64,
    pub parent_id: Option<String>,
    pub grantor: String,
    pub status: String,
    pub required_approvals: i64,
    pub created_by: String,
    pub created_at: i64,
    pub pending_until: Option<i64>,
    pub activated_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub ended_by: Option<String>,
}

const COLUMNS: &str = "id, principal, agent, packages, valid_from, valid_to, may_delegate, parent_id, grantor, status, required_approvals, created_by, created_at, pending_until, activated_at, ended_at, ended_by";

pub async fn insert(store: &Store, m: &MandateRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO repr_mandates ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    );
    with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(&m.id).bind(&m.principal).bind(&m.agent).bind(&m.packages).bind(m.valid_from).bind(m.valid_to)
        .bind(m.may_delegate).bind(&m.parent_id).bind(&m.grantor).bind(&m.status).bind(m.required_approvals)
        .bind(&m.created_by).bind(m.created_at).bind(m.pending_until).bind(m.activated_at).bind(m.ended_at).bind(&m.ended_by)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn get(store: &Store, id: &str) -> Result<Option<MandateRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM repr_mandates WHERE id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(pool).await)
}

/// Active mandates from `principal` to `agent` (the check's one indexed read).
pub async fn active_between(store: &Store, agent: &str, principal: &str) -> Result<Vec<MandateRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM repr_mandates WHERE agent = $1 AND principal = $2 AND status = 'active'");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(agent).bind(principal).fetch_all(pool).await)
}

/// The mandates `agent` holds in force at `t`, newest first: (id, principal, packages as JSON, whether
/// it was passed on — its chain is the caller's to check). What `in_force` checks, in SQL.
pub async fn in_force_of_agent(
    store: &Store,
    agent: &str,
    t: i64,
) -> Result<Vec<(String, String, String, bool)>, sqlx::Error> {
    let rows: Vec<(String, String, String, Option<String>)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT id, principal, packages, parent_id FROM repr_mandates WHERE agent = $1 AND status = 'active' \
         AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2) ORDER BY created_at DESC, id")
        .bind(agent).bind(t).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|(id, principal, packages, parent)| (id, principal, packages, parent.is_some())).collect())
}

/// Mandates where any of `parties` is the principal (`as_principal`) or the agent, newest first.
pub async fn of_parties(
    store: &Store,
    parties: &[String],
    as_principal: bool,
    limit: u32,
    offset: u64,
) -> Result<Vec<MandateRow>, sqlx::Error> {
    let column = if as_principal { "principal" } else { "agent" };
    let n = parties.len();
    let sql = format!(
        "SELECT {COLUMNS} FROM repr_mandates WHERE {column} IN ({}) ORDER BY created_at DESC, id LIMIT ${} OFFSET ${}",
        ena_store::placeholders(1, n),
        n + 1,
        n + 2
    );
    with_pool!(store, pool => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for p in parties {
            q = q.bind(p);
        }
        q.bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await
    })
}

/// Set a mandate's status (and when/by whom it ended, or when it became active) if it is still `from`;
/// false if someone else changed it first.
pub async fn transition(
    store: &Store,
    id: &str,
    from: MandateStatus,
    to: MandateStatus,
    at: i64,
    by: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let (from, to) = (from.as_str(), to.as_str());
    let n = if to == MandateStatus::Active.as_str() {
        with_pool!(store, pool => sqlx::query("UPDATE repr_mandates SET status = $3, activated_at = $4 WHERE id = $1 AND status = $2")
            .bind(id).bind(from).bind(to).bind(at).execute(pool).await.map(|r| r.rows_affected()))?
    } else {
        with_pool!(store, pool => sqlx::query("UPDATE repr_mandates SET status = $3, ended_at = $4, ended_by = $5 WHERE id = $1 AND status = $2")
            .bind(id).bind(from).bind(to).bind(at).bind(by).execute(pool).await.map(|r| r.rows_affected()))?
    };
    Ok(n == 1)
}

/// Turn a request into a pending grant needing `required` approvals.
pub async fn accept_request(store: &Store, id: &str, required: i64, pending_until: i64) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("UPDATE repr_mandates SET status = 'pending', required_approvals = $2, pending_until = $3 WHERE id = $1 AND status = 'requested'")
        .bind(id).bind(required).bind(pending_until).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Record `person`'s approval; false if they approved before.
pub async fn approve(store: &Store, id: &str, person: &str, at: i64) -> Result<bool, sqlx::Error> {
    let n = with_pool!(store, pool => sqlx::query("INSERT INTO repr_approvals (mandate_id, person, approved_at) VALUES ($1, $2, $3) ON CONFLICT (mandate_id, person) DO NOTHING")
        .bind(id).bind(person).bind(at).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn approvals(store: &Store, id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT person, approved_at FROM repr_approvals WHERE mandate_id = $1 ORDER BY approved_at, person").bind(id).fetch_all(pool).await)
}

pub async fn notice(
    store: &Store,
    id: &str,
    party: &str,
    kind: &str,
    mandate: &str,
    text: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("INSERT INTO repr_notices (id, party, kind, mandate_id, text, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id).bind(party).bind(kind).bind(mandate).bind(text).bind(at).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub type NoticeRow = (String, String, String, String, String, i64);

pub async fn notices(store: &Store, party: &str, limit: u32, offset: u64) -> Result<Vec<NoticeRow>, sqlx::Error> {
    with_pool!(store, pool => sqlx::query_as("SELECT id, party, kind, mandate_id, text, created_at FROM repr_notices WHERE party = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3")
        .bind(party).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)
}

/// Active mandates ending within (now, until] whose parties have not been told yet; marks them told.
pub async fn take_expiring(store: &Store, now: i64, until: i64) -> Result<Vec<MandateRow>, sqlx::Error> {
    let sql = format!(
        "UPDATE repr_mandates SET expiry_noticed = 1 WHERE status = 'active' AND expiry_noticed = 0 AND valid_to > $1 AND valid_to <= $2 RETURNING {COLUMNS}"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(now).bind(until).fetch_all(pool).await)
}

/// Insert many mandates at once (imports and benchmarks): multi-row statements of at most 400 rows, each
/// chunk in one transaction.
pub async fn insert_many(store: &Store, rows: &[MandateRow]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(400) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 17;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9,
                    b + 10,
                    b + 11,
                    b + 12,
                    b + 13,
                    b + 14,
                    b + 15,
                    b + 16,
                    b + 17
                )
            })
            .collect();
        let sql = format!("INSERT INTO repr_mandates ({COLUMNS}) VALUES {}", values.join(", "));
        with_pool!(store, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for m in chunk {
                q = q.bind(&m.id).bind(&m.principal).bind(&m.agent).bind(&m.packages).bind(m.valid_from).bind(m.valid_to)
                    .bind(m.may_delegate).bind(&m.parent_id).bind(&m.grantor).bind(&m.status).bind(m.required_approvals)
                    .bind(&m.created_by).bind(m.created_at).bind(m.pending_until).bind(m.activated_at).bind(m.ended_at).bind(&m.ended_by);
            }
            q.execute(pool).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Which of `principals` have a mandate in force at `t` holding one of `rights` (package ids or
/// `service:<id>`), a query per 500 principals, asked at once on as many connections: Mina meddelanden's
/// reachability asks this for up to 10 000 recipients. Packages are stored as a JSON array of strings,
/// so a right is matched with its quotes.
pub async fn principals_holding(
    store: &Store,
    principals: &[String],
    rights: &[&str],
    t: i64,
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in principals.chunks(500) {
        let (store, chunk) = (store.clone(), chunk.to_vec());
        let rights: Vec<String> = rights.iter().map(|r| format!("%\"{r}\"%")).collect();
        tasks.spawn(async move {
            let n = chunk.len();
            let likes: Vec<String> = (0..rights.len()).map(|i| format!("packages LIKE ${}", n + 2 + i)).collect();
            let sql = format!(
                "SELECT DISTINCT principal FROM repr_mandates WHERE principal IN ({}) AND status = 'active' \
                 AND valid_from <= ${} AND (valid_to IS NULL OR valid_to > ${}) AND ({})",
                ena_store::placeholders(1, n),
                n + 1,
                n + 1,
                likes.join(" OR ")
            );
            let rows: Result<Vec<(String,)>, sqlx::Error> = with_pool!(&store, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for p in &chunk {
                    q = q.bind(p);
                }
                q = q.bind(t);
                for r in &rights {
                    q = q.bind(r);
                }
                q.fetch_all(pool).await
            });
            rows
        });
    }
    let mut out = std::collections::HashSet::new();
    while let Some(done) = tasks.join_next().await {
        let rows = done.map_err(|e| sqlx::Error::Protocol(format!("a mandate lookup task: {e}")))??;
        out.extend(rows.into_iter().map(|(p,)| p));
    }
    Ok(out)
}
