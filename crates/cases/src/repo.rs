//! SQL of Mina ärenden (both dialects): a case and its history are written in one transaction.

use ena_store::{BeginWrite, Store, with_pool};

use crate::{Activity, DecisionDate, Filter, Scope, Seen, Sort, Transmission};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseRow {
    pub id: String,
    pub party: String,
    pub party_kind: String,
    pub organisation: String,
    pub service: String,
    pub status: String,
    pub life_event: Option<String>,
    pub process: Option<String>,
    pub external_ref: Option<String>,
    pub idempotency_key: Option<String>,
    pub visible_from: Option<i64>,
    pub due_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub expected_decision_at: Option<i64>,
    pub decided_at: Option<i64>,
    pub search_text: String,
    pub body: String,
    pub revision: i64,
    pub created_at: i64,
    pub content_updated_at: i64,
}

const COLUMNS: &str = "id, party, party_kind, organisation, service, status, life_event, process, external_ref, \
    idempotency_key, visible_from, due_at, expires_at, expected_decision_at, decided_at, search_text, body, revision, \
    created_at, content_updated_at";

pub async fn get(store: &Store, id: &str) -> Result<Option<CaseRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM cases WHERE id = $1");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)
}

pub async fn by_idempotency(store: &Store, organisation: &str, key: &str) -> Result<Option<CaseRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM cases WHERE organisation = $1 AND idempotency_key = $2");
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(organisation).bind(key).fetch_optional(pool).await)
}

fn activity_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The event a change raises, written in the change's transaction (the outbox `events.rs` dispatches):
/// it waits for the case's `visibleFrom` when that is later.
const EVENT: &str = "INSERT INTO case_events (id, case_id, type, detail, created_at, visible_at) \
    SELECT $1, id, $2, $3, $4, CASE WHEN visible_from > $4 THEN visible_from ELSE $4 END FROM cases WHERE id = $5";

/// Insert a case with its first activity and decision date. False when the idempotency key is taken.
pub async fn insert(store: &Store, r: &CaseRow, date: Option<(i64, String)>, by: &str) -> Result<bool, sqlx::Error> {
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        let n = sqlx::query(
            "INSERT INTO cases (id, party, party_kind, organisation, service, status, life_event, process, external_ref, \
             idempotency_key, visible_from, due_at, expires_at, expected_decision_at, decided_at, search_text, body, revision, \
             created_at, content_updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
             ON CONFLICT (organisation, idempotency_key) DO NOTHING")
            .bind(&r.id).bind(&r.party).bind(&r.party_kind).bind(&r.organisation).bind(&r.service).bind(&r.status)
            .bind(&r.life_event).bind(&r.process).bind(&r.external_ref).bind(&r.idempotency_key).bind(r.visible_from)
            .bind(r.due_at).bind(r.expires_at).bind(r.expected_decision_at).bind(r.decided_at).bind(&r.search_text)
            .bind(&r.body).bind(r.revision).bind(r.created_at).bind(r.content_updated_at)
            .execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("INSERT INTO case_activities (id, case_id, kind, body, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(activity_id()).bind(&r.id).bind("case-created").bind("The case was created.").bind(r.created_at)
            .execute(&mut *tx).await?;
        sqlx::query(EVENT).bind(activity_id()).bind(crate::events::CREATED).bind("{}").bind(r.created_at).bind(&r.id)
            .execute(&mut *tx).await?;
        if let Some((at, reason)) = date {
            sqlx::query("INSERT INTO case_decision_dates (case_id, seq, expected_at, reason, set_at, set_by) VALUES ($1, 1, $2, $3, $4, $5)")
                .bind(&r.id).bind(at).bind(reason).bind(r.created_at).bind(by).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// Write a changed case if it is still at `if_match`, with its activity and any new decision date.
pub async fn update(
    store: &Store,
    r: &CaseRow,
    if_match: i64,
    date: Option<(i64, String)>,
    by: &str,
    (kind, description): (&str, String),
) -> Result<bool, sqlx::Error> {
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        let n = sqlx::query(
            "UPDATE cases SET status = $3, due_at = $4, expires_at = $5, expected_decision_at = $6, search_text = $7, \
             body = $8, revision = $9, content_updated_at = $10, \
             overdue_flagged_at = CASE WHEN expected_decision_at = $6 THEN overdue_flagged_at ELSE NULL END \
             WHERE id = $1 AND revision = $2")
            .bind(&r.id).bind(if_match).bind(&r.status).bind(r.due_at).bind(r.expires_at).bind(r.expected_decision_at)
            .bind(&r.search_text).bind(&r.body).bind(r.revision).bind(r.content_updated_at)
            .execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("INSERT INTO case_activities (id, case_id, kind, body, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(activity_id()).bind(&r.id).bind(kind).bind(description).bind(r.content_updated_at)
            .execute(&mut *tx).await?;
        sqlx::query(EVENT).bind(activity_id()).bind(crate::events::UPDATED).bind("{}").bind(r.content_updated_at).bind(&r.id)
            .execute(&mut *tx).await?;
        if let Some((at, reason)) = date {
            sqlx::query(
                "INSERT INTO case_decision_dates (case_id, seq, expected_at, reason, set_at, set_by) \
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM case_decision_dates WHERE case_id = $1")
                .bind(&r.id).bind(at).bind(reason).bind(r.content_updated_at).bind(by).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// Add a transmission (a decision also decides the case); the case's revision and content time move.
/// False when the message is in the case already.
pub async fn insert_transmission(
    store: &Store,
    case: &str,
    t: &Transmission,
    at: i64,
    decides: bool,
) -> Result<bool, sqlx::Error> {
    let body = serde_json::json!({"kind": t.kind, "relatedTransmissionId": t.related_transmission_id,
        "title": t.title, "summary": t.summary, "attachments": t.attachments})
    .to_string();
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        let n = sqlx::query(
            "INSERT INTO case_transmissions (id, case_id, kind, related_id, message_id, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (case_id, message_id) DO NOTHING")
            .bind(&t.id).bind(case).bind(t.kind.as_str()).bind(&t.related_transmission_id).bind(&t.message_id)
            .bind(body).bind(at).execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let decided = if decides { "COALESCE(decided_at, $2)" } else { "decided_at" };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE cases SET revision = revision + 1, content_updated_at = $2, decided_at = {decided} WHERE id = $1")))
            .bind(case).bind(at).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO case_activities (id, case_id, kind, body, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(activity_id()).bind(case).bind("transmission-added")
            .bind(format!("A {} was added.", t.kind)).bind(at).execute(&mut *tx).await?;
        let detail = serde_json::json!({"transmissionId": t.id, "kind": t.kind}).to_string();
        sqlx::query(EVENT).bind(activity_id()).bind(crate::events::TRANSMISSION).bind(detail).bind(at).bind(case)
            .execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    })
}

pub async fn transmission_exists(store: &Store, case: &str, id: &str) -> Result<bool, sqlx::Error> {
    let n: Option<(String,)> = with_pool!(store, pool => sqlx::query_as("SELECT id FROM case_transmissions WHERE case_id = $1 AND id = $2")
        .bind(case).bind(id).fetch_optional(pool).await)?;
    Ok(n.is_some())
}

pub async fn transmissions(store: &Store, case: &str) -> Result<Vec<Transmission>, sqlx::Error> {
    let rows: Vec<(String, Option<String>, String, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT id, message_id, body, created_at FROM case_transmissions WHERE case_id = $1 ORDER BY created_at, id")
        .bind(case).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, message_id, body, at)| {
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            Some(Transmission {
                id,
                kind: serde_json::from_value(v["kind"].clone()).ok()?,
                related_transmission_id: v["relatedTransmissionId"].as_str().map(str::to_owned),
                message_id,
                title: serde_json::from_value(v["title"].clone()).unwrap_or_default(),
                summary: serde_json::from_value(v["summary"].clone()).unwrap_or_default(),
                attachments: serde_json::from_value(v["attachments"].clone()).unwrap_or_default(),
                created_at: ena_core::time::rfc3339_of(at),
            })
        })
        .collect())
}

pub async fn activities(store: &Store, case: &str) -> Result<Vec<Activity>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT kind, body, at FROM case_activities WHERE case_id = $1 ORDER BY at, id").bind(case).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .map(|(kind, description, at)| Activity { kind, description, at: ena_core::time::rfc3339_of(at) })
        .collect())
}

pub async fn decision_dates(store: &Store, case: &str) -> Result<Vec<DecisionDate>, sqlx::Error> {
    let rows: Vec<(i64, String, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT expected_at, reason, set_at FROM case_decision_dates WHERE case_id = $1 ORDER BY seq").bind(case).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .map(|(at, reason, set_at)| DecisionDate {
            at: ena_core::time::rfc3339_of(at),
            reason,
            set_at: ena_core::time::rfc3339_of(set_at),
        })
        .collect())
}

pub async fn seen(store: &Store, case: &str) -> Result<Vec<Seen>, sqlx::Error> {
    let rows: Vec<(String, Option<String>, i64, i64, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT s.person, s.on_behalf_of, s.revision, c.revision, s.at FROM case_seen s JOIN cases c ON c.id = s.case_id \
         WHERE s.case_id = $1 ORDER BY s.at").bind(case).fetch_all(pool).await)?;
    let mask =
        |id: &str| if id.starts_with("16") && id.len() == 12 { id[2..].to_owned() } else { ena_audit::event::mask(id) };
    Ok(rows
        .into_iter()
        .map(|(person, on_behalf_of, seen, current, at)| Seen {
            person: mask(&person),
            on_behalf_of: on_behalf_of.as_deref().map(mask),
            current: seen >= current,
            at: ena_core::time::rfc3339_of(at),
        })
        .collect())
}

pub async fn mark_seen(
    store: &Store,
    case: &str,
    person: &str,
    on_behalf_of: Option<&str>,
    revision: i64,
    at: i64,
) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO case_seen (case_id, person, on_behalf_of, revision, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (case_id, person) DO UPDATE SET on_behalf_of = $3, revision = $4, at = $5")
        .bind(case).bind(person).bind(on_behalf_of).bind(revision).bind(at).execute(pool).await.map(|_| ()))
}

pub async fn unmark_seen(store: &Store, case: &str, person: &str) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => sqlx::query("DELETE FROM case_seen WHERE case_id = $1 AND person = $2")
        .bind(case).bind(person).execute(pool).await.map(|_| ()))
}

pub async fn set_label(store: &Store, case: &str, person: &str, label: &str, on: bool) -> Result<u64, sqlx::Error> {
    let r = with_pool!(store, pool => if on {
        sqlx::query("INSERT INTO case_labels (case_id, person, label) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(case).bind(person).bind(label).execute(pool).await.map(|r| r.rows_affected())
    } else {
        sqlx::query("DELETE FROM case_labels WHERE case_id = $1 AND person = $2 AND label = $3")
            .bind(case).bind(person).bind(label).execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(r)
}

/// A value bound to a numbered parameter of a query built at run time.
enum Arg {
    Text(String),
    Int(i64),
}

/// The party view's SQL and its arguments (`$1`, `$2`, … in order), in two steps.
///
/// First the page's ids: the parties in scope are grouped by the services they are seen in, and each
/// group is one branch of a `UNION ALL` — `party IN (…) AND service IN (…)` — that the index on
/// (party, service, content_updated_at, id, visible_from) answers alone (a covering index scan: no
/// table row is read to find the page). The database so reads only the index entries of the parties in
/// scope, however large the table, and keeps the newest `limit` — no "too broad" refusal. A handful of
/// branches however many parties (one per combination of packages), where a term per party nested a
/// thousand ORs past SQLite's expression depth of 1 000. Then the page's rows, and the viewer's
/// seen-marks for them only. `ena bench cases` prints the plan.
fn list_sql(dialect: ena_store::Dialect, l: &Listing) -> (String, Vec<Arg>) {
    let (viewer, f, sort, now) = (l.viewer, l.filter, l.sort, l.now);
    let mut args = Vec::new();
    let mut bind = |a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    let viewer_arg = bind(Arg::Text(viewer.to_owned()));
    // What every branch asks besides its parties and services; its arguments are bound once.
    let mut rest = format!(" AND (c.visible_from IS NULL OR c.visible_from <= {})", bind(Arg::Int(now)));
    if !f.status.is_empty() {
        let list: Vec<String> = f.status.iter().map(|s| bind(Arg::Text(s.as_str().to_owned()))).collect();
        rest += &format!(" AND c.status IN ({})", list.join(", "));
    }
    for (column, value) in [("organisation", &f.organisation), ("service", &f.service), ("life_event", &f.life_event)] {
        if let Some(v) = value {
            rest += &format!(" AND c.{column} = {}", bind(Arg::Text(v.clone())));
        }
    }
    if let Some(v) = f.updated_from {
        rest += &format!(" AND c.content_updated_at >= {}", bind(Arg::Int(v)));
    }
    if let Some(v) = f.updated_to {
        rest += &format!(" AND c.content_updated_at < {}", bind(Arg::Int(v)));
    }
    if f.unseen {
        rest += &format!(
            " AND NOT EXISTS (SELECT 1 FROM case_seen s WHERE s.case_id = c.id AND s.person = {viewer_arg} \
             AND s.revision >= c.revision)"
        );
    }
    if let Some((at, id)) = &f.after {
        // The cursor: strictly after the last case of the previous page, in (content_updated_at, id) order.
        let (at, id) = (bind(Arg::Int(*at)), bind(Arg::Text(id.clone())));
        rest += &format!(" AND (c.content_updated_at < {at} OR (c.content_updated_at = {at} AND c.id < {id}))");
    }
    if f.overdue {
        rest += &format!(" AND c.decided_at IS NULL AND c.expected_decision_at < {}", bind(Arg::Int(now)));
    }
    if let Some(l) = &f.label {
        let label = bind(Arg::Text(l.clone()));
        rest += &format!(
            " AND EXISTS (SELECT 1 FROM case_labels l WHERE l.case_id = c.id AND l.person = {viewer_arg} AND l.label = {label})"
        );
    }
    if let Some(t) = &f.text {
        // A substring match without LIKE's wildcards: the text is what the person typed.
        let t = bind(Arg::Text(t.to_lowercase()));
        rest += &match dialect {
            ena_store::Dialect::Postgres => format!(" AND 0 < strpos(c.search_text, {t})"),
            _ => format!(" AND 0 < instr(c.search_text, {t})"),
        };
    }
    let mut groups: Vec<(Option<&Vec<String>>, Vec<&str>)> = Vec::new();
    for s in l.scopes.iter().filter(|s| s.services.as_ref().is_none_or(|v| !v.is_empty())) {
        match groups.iter_mut().find(|(services, _)| *services == s.services.as_ref()) {
            Some((_, parties)) => parties.push(&s.party),
            None => groups.push((s.services.as_ref(), vec![&s.party])),
        }
    }
    // The sort keys each branch selects, and the order of the page and then of its rows by them.
    let (key, order, outer) = match sort {
        Sort::ContentUpdated => {
            ("c.content_updated_at AS k1, 0 AS k2", "k1 DESC, id DESC", "page.k1 DESC, page.id DESC")
        }
        Sort::Due => (
            "CASE WHEN c.due_at IS NULL THEN 1 ELSE 0 END AS k1, c.due_at AS k2",
            "k1, k2, id",
            "page.k1, page.k2, page.id",
        ),
        Sort::Created => ("c.created_at AS k1, 0 AS k2", "k1 DESC, id DESC", "page.k1 DESC, page.id DESC"),
    };
    let mut branches = Vec::new();
    for (services, parties) in &groups {
        let list: Vec<String> = parties.iter().map(|p| bind(Arg::Text((*p).to_owned()))).collect();
        let mut branch = format!("SELECT c.id AS id, {key} FROM cases c WHERE c.party IN ({})", list.join(", "));
        if let Some(services) = services {
            let list: Vec<String> = services.iter().map(|svc| bind(Arg::Text(svc.clone()))).collect();
            branch += &format!(" AND c.service IN ({})", list.join(", "));
        }
        branch += &rest;
        branches.push(branch);
    }
    if branches.is_empty() {
        branches.push(format!("SELECT c.id AS id, {key} FROM cases c WHERE 1 = 0"));
    }
    let (limit, offset) =
        (bind(Arg::Int(i64::from(l.limit))), bind(Arg::Int(i64::try_from(l.offset).unwrap_or(i64::MAX))));
    let cols: String = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
    let q = format!(
        "SELECT {cols}, CAST(CASE WHEN s.revision >= c.revision THEN 1 ELSE 0 END AS BIGINT) AS seen_now \
         FROM (SELECT id, k1, k2 FROM ({}) u ORDER BY {order} LIMIT {limit} OFFSET {offset}) page \
         JOIN cases c ON c.id = page.id \
         LEFT JOIN case_seen s ON s.case_id = c.id AND s.person = {viewer_arg} ORDER BY {outer}",
        branches.join(" UNION ALL ")
    );
    (q, args)
}

/// Bind `args` in order to a query of either dialect.
macro_rules! bound {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                Arg::Text(v) => q.bind(v.clone()),
                Arg::Int(v) => q.bind(*v),
            };
        }
        q
    }};
}

/// What the party view is asked: whose list, over which parties, filtered and sorted how, which page.
#[derive(Debug, Clone, Copy)]
pub struct Listing<'a> {
    pub viewer: &'a str,
    pub scopes: &'a [Scope],
    pub filter: &'a Filter,
    pub sort: Sort,
    /// Cases not yet visible at `now` are left out.
    pub now: i64,
    pub limit: u32,
    pub offset: u64,
}

/// The party view: a page of the cases of every party in `scopes` (see [`list_sql`]).
pub async fn list(store: &Store, l: &Listing<'_>) -> Result<Vec<(CaseRow, bool)>, sqlx::Error> {
    if l.scopes.is_empty() {
        return Ok(Vec::new());
    }
    let (sql, args) = list_sql(store.dialect(), l);
    let rows: Vec<CaseWithSeen> = with_pool!(store, pool =>
        bound!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &args).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| (r.case, r.seen_now == 1)).collect())
}

/// The database's plan for the party view's query, a line a step (`ena bench cases` prints it).
pub async fn explain_list(store: &Store, l: &Listing<'_>) -> Result<Vec<String>, sqlx::Error> {
    let (sql, args) = list_sql(store.dialect(), l);
    match store {
        Store::Sqlite(pool, _) => {
            let rows: Vec<(i64, i64, i64, String)> =
                bound!(sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"))), &args)
                    .fetch_all(pool)
                    .await?;
            Ok(rows.into_iter().map(|(_, _, _, detail)| detail).collect())
        }
        Store::Postgres(pool) => {
            let rows: Vec<(String,)> =
                bound!(sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"))), &args)
                    .fetch_all(pool)
                    .await?;
            Ok(rows.into_iter().map(|(line,)| line).collect())
        }
    }
}

#[derive(sqlx::FromRow)]
struct CaseWithSeen {
    #[sqlx(flatten)]
    case: CaseRow,
    seen_now: i64,
}

/// The labels `person` put on each of `ids`.
pub async fn labels_of(store: &Store, person: &str, ids: &[String]) -> Result<Vec<(String, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    with_pool!(store, pool => {
        let mut q = sqlx::QueryBuilder::new("SELECT case_id, label FROM case_labels WHERE person = ");
        q.push_bind(person.to_owned()).push(" AND case_id IN (");
        let mut sep = q.separated(", ");
        for id in ids {
            sep.push_bind(id.clone());
        }
        q.push(") ORDER BY label");
        q.build_query_as().fetch_all(pool).await
    })
}

/// An organisation's own cases (its follow-up): newest change first, optionally only the overdue ones.
pub async fn of_organisation(
    store: &Store,
    organisation: &str,
    overdue_at: Option<i64>,
    limit: u32,
    offset: u64,
) -> Result<Vec<CaseRow>, sqlx::Error> {
    let overdue = if overdue_at.is_some() { " AND decided_at IS NULL AND expected_decision_at < $4" } else { "" };
    let sql = format!(
        "SELECT {COLUMNS} FROM cases WHERE organisation = $1{overdue} ORDER BY content_updated_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    with_pool!(store, pool => {
        let q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(organisation).bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX));
        let q = match overdue_at { Some(at) => q.bind(at), None => q };
        q.fetch_all(pool).await
    })
}

/// Cases past their expected-decision date without a decision and not yet flagged (at most `limit`).
pub async fn overdue_unflagged(store: &Store, now: i64, limit: u32) -> Result<Vec<CaseRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM cases WHERE decided_at IS NULL AND expected_decision_at < $1 AND overdue_flagged_at IS NULL \
         ORDER BY expected_decision_at LIMIT $2"
    );
    with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now).bind(i64::from(limit)).fetch_all(pool).await)
}

/// Claim the overdue alert of a case: true for the one instance whose claim took.
pub async fn claim_overdue(store: &Store, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        let n = sqlx::query("UPDATE cases SET overdue_flagged_at = $2 WHERE id = $1 AND overdue_flagged_at IS NULL")
            .bind(id).bind(now).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            sqlx::query(EVENT).bind(activity_id()).bind(crate::events::OVERDUE).bind("{}").bind(now).bind(id)
                .execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    })
}

/// Insert many case rows at once, without activities or events (`ena bench cases` fills a database
/// with them; nothing else uses it).
pub async fn insert_many(store: &Store, rows: &[CaseRow]) -> Result<(), sqlx::Error> {
    // 20 columns a row: 500 rows stay under both databases' limit of bound parameters.
    for chunk in rows.chunks(500) {
        with_pool!(store, pool => {
            let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO cases ({COLUMNS}) "));
            q.push_values(chunk, |mut b, r| {
                b.push_bind(&r.id).push_bind(&r.party).push_bind(&r.party_kind).push_bind(&r.organisation)
                    .push_bind(&r.service).push_bind(&r.status).push_bind(&r.life_event).push_bind(&r.process)
                    .push_bind(&r.external_ref).push_bind(&r.idempotency_key).push_bind(r.visible_from)
                    .push_bind(r.due_at).push_bind(r.expires_at).push_bind(r.expected_decision_at)
                    .push_bind(r.decided_at).push_bind(&r.search_text).push_bind(&r.body).push_bind(r.revision)
                    .push_bind(r.created_at).push_bind(r.content_updated_at);
            });
            q.build().execute(pool).await.map(|_| ())
        })?;
    }
    Ok(())
}
