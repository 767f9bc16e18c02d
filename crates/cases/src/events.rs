//! Events into the party's own software: every change to a case is written to an outbox
//! (`case_events`) in the change's own transaction, and waits there until the case is visible
//! (`visibleFrom`). Organisations' systems subscribe for a party; whether they may follow that party is
//! decided at the edge (Mina ombud and the decision point), when subscribing and again for each event.
//!
//! Several instances share the work through the database: one at a time holds the dispatch lease and
//! turns due events into one delivery per subscription (so a stream's order is the order deliveries were
//! made); any instance sends a due webhook or NATS delivery after claiming it, so each is sent once per
//! attempt however many instances run.

use ena_store::{Store, with_pool};
use serde::{Deserialize, Serialize};

use crate::model::{CaseError, PartyRef, invalid};

pub const CREATED: &str = "se.ena.cases.case.created.v1";
pub const UPDATED: &str = "se.ena.cases.case.updated.v1";
pub const TRANSMISSION: &str = "se.ena.cases.transmission.created.v1";
pub const OVERDUE: &str = "se.ena.cases.case.overdue.v1";
/// Every event type a subscription can ask for.
pub const TYPES: [&str; 4] = [CREATED, UPDATED, TRANSMISSION, OVERDUE];
/// Webhook and NATS attempts before a delivery is given up (1 s, 2 s, 4 s … between them).
pub const ATTEMPTS: i64 = 8;

/// How a subscriber receives its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// POSTed to the subscription's https URL, signed by the central services.
    Webhook,
    /// Read as Server-Sent Events from the subscription's stream (resumable with `Last-Event-ID`).
    Sse,
    /// Published to NATS JetStream, subject `ena.cases.<subscription id>` in stream `ENA_CASES`.
    Nats,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Webhook => "webhook",
            Delivery::Sse => "sse",
            Delivery::Nats => "nats",
        }
    }

    fn parse(s: &str) -> Delivery {
        match s {
            "webhook" => Delivery::Webhook,
            "nats" => Delivery::Nats,
            _ => Delivery::Sse,
        }
    }
}

/// A subscription to a party's case events.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CaseSubscriptionInput)]
pub struct SubscriptionInput {
    /// The party whose cases to follow: the subscriber itself, or a party it may act for.
    pub party: Option<PartyRef>,
    /// Event types; every type when empty.
    #[serde(default)]
    pub types: Vec<String>,
    pub delivery: Option<Delivery>,
    /// For `webhook`: where to POST the events (https).
    pub webhook: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CaseSubscription)]
pub struct Subscription {
    pub id: String,
    pub party: PartyRef,
    pub types: Vec<String>,
    pub delivery: Delivery,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    pub created_at: String,
    /// The subscribing organisation.
    #[serde(skip)]
    pub owner: String,
}

impl Subscription {
    /// Check an input for `owner`; `allow_http` lets a webhook use plain http (a test or demo set-up).
    pub fn check(owner: &str, input: SubscriptionInput, allow_http: bool) -> Result<Subscription, CaseError> {
        let mut errors = Vec::new();
        let party = match &input.party {
            Some(p) => match p.canonical("party") {
                Ok(id) => Some(PartyRef { kind: p.kind.clone(), id }),
                Err(CaseError::Invalid(e)) => {
                    errors.extend(e);
                    None
                }
                Err(e) => return Err(e),
            },
            None => {
                errors.push(ena_core::FieldError::new("party", "(missing)", "{kind: person|organisation, id}"));
                None
            }
        };
        for (i, t) in input.types.iter().enumerate() {
            if !TYPES.contains(&t.as_str()) {
                errors.push(ena_core::FieldError::new(
                    &format!("types/{i}"),
                    t,
                    format!("one of {}", TYPES.join(", ")),
                ));
            }
        }
        match (input.delivery, &input.webhook) {
            (None, _) => errors.push(ena_core::FieldError::new("delivery", "(missing)", "webhook, sse or nats")),
            (Some(Delivery::Webhook), None) => {
                errors.push(ena_core::FieldError::new("webhook", "(missing)", "the https URL to POST events to"))
            }
            (Some(Delivery::Webhook), Some(url)) => {
                let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://").filter(|_| allow_http));
                let ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace));
                if !ok || url.len() > 2000 {
                    errors.push(ena_core::FieldError::new("webhook", url, "an absolute https URL"));
                }
            }
            (Some(_), Some(url)) => {
                errors.push(ena_core::FieldError::new("webhook", url, "only for delivery webhook"));
            }
            (Some(_), None) => {}
        }
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        let mut types = input.types;
        types.sort();
        types.dedup();
        Ok(Subscription {
            id: uuid::Uuid::now_v7().to_string(),
            party: party.expect("checked"),
            types,
            delivery: input.delivery.expect("checked"),
            webhook: input.webhook,
            created_at: ena_core::time::rfc3339_of(ena_core::time::unix_now()),
            owner: owner.to_owned(),
        })
    }
}

type SubscriptionRow = (String, String, String, String, String, String, Option<String>, i64);

fn subscription_of((id, owner, party, party_kind, types, delivery, webhook, at): SubscriptionRow) -> Subscription {
    Subscription {
        id,
        party: PartyRef { kind: party_kind, id: party },
        types: serde_json::from_str(&types).unwrap_or_default(),
        delivery: Delivery::parse(&delivery),
        webhook,
        created_at: ena_core::time::rfc3339_of(at),
        owner,
    }
}

const SUBSCRIPTION: &str =
    "SELECT id, owner, party, party_kind, types, delivery, webhook, created_at FROM case_subscriptions";

pub async fn insert_subscription(store: &Store, s: &Subscription) -> Result<(), CaseError> {
    let at = ena_core::Timestamp::parse_rfc3339(&s.created_at).map_or(0, |t| t.unix());
    let types = serde_json::to_string(&s.types).unwrap_or_default();
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO case_subscriptions (id, owner, party, party_kind, types, delivery, webhook, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&s.id).bind(&s.owner).bind(&s.party.id).bind(&s.party.kind).bind(types).bind(s.delivery.as_str())
        .bind(&s.webhook).bind(at).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A subscription of `owner` (another organisation's is not found).
pub async fn subscription(store: &Store, owner: &str, id: &str) -> Result<Subscription, CaseError> {
    let sql = format!("{SUBSCRIPTION} WHERE id = $1 AND owner = $2");
    let row: Option<SubscriptionRow> = with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(owner).fetch_optional(pool).await)?;
    row.map(subscription_of).ok_or_else(|| CaseError::NotFound(format!("no subscription {id} of yours")))
}

pub async fn subscriptions(
    store: &Store,
    owner: &str,
    limit: u32,
    offset: u64,
) -> Result<Vec<Subscription>, CaseError> {
    let sql = format!("{SUBSCRIPTION} WHERE owner = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3");
    let rows: Vec<SubscriptionRow> = with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(owner).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(subscription_of).collect())
}

/// End a subscription of `owner`; its deliveries go with it.
pub async fn delete_subscription(store: &Store, owner: &str, id: &str) -> Result<(), CaseError> {
    let n = with_pool!(store, pool => sqlx::query("DELETE FROM case_subscriptions WHERE id = $1 AND owner = $2")
        .bind(id).bind(owner).execute(pool).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(CaseError::NotFound(format!("no subscription {id} of yours")));
    }
    with_pool!(store, pool => sqlx::query("DELETE FROM case_deliveries WHERE subscription_id = $1")
        .bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Take (or keep) the dispatch lease for `ttl` seconds: true for the one instance holding it.
pub async fn take_lease(store: &Store, holder: &str, now: i64, ttl: i64) -> Result<bool, CaseError> {
    let n = with_pool!(store, pool => sqlx::query(
        "UPDATE case_dispatch_lease SET holder = $1, until_at = $2 WHERE name = 'events' AND (holder = $1 OR until_at < $3)")
        .bind(holder).bind(now + ttl).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// An event due for dispatch, with what its case says now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueEvent {
    pub id: String,
    pub case_id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub detail: String,
    pub created_at: i64,
    pub party: String,
    pub party_kind: String,
    pub organisation: String,
    pub service: String,
    pub status: String,
    pub revision: i64,
}

/// Events whose time has come (the case visible), oldest first.
pub async fn due_events(store: &Store, now: i64, limit: u32) -> Result<Vec<DueEvent>, CaseError> {
    Ok(with_pool!(store, pool => sqlx::query_as(
        "SELECT e.id, e.case_id, e.type, e.detail, e.created_at, c.party, c.party_kind, c.organisation, c.service, \
         c.status, c.revision FROM case_events e JOIN cases c ON c.id = e.case_id \
         WHERE e.dispatched_at IS NULL AND e.visible_at <= $1 ORDER BY e.seq LIMIT $2")
        .bind(now).bind(i64::from(limit)).fetch_all(pool).await)?)
}

/// The subscriptions following any of `parties` (one read for a batch of events).
pub async fn following(store: &Store, parties: &[&str]) -> Result<Vec<Subscription>, CaseError> {
    if parties.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{SUBSCRIPTION} WHERE party IN ({})", ena_store::placeholders(1, parties.len()));
    let rows: Vec<SubscriptionRow> = with_pool!(store, pool => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for p in parties {
            q = q.bind(*p);
        }
        q.fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(subscription_of).collect())
}

/// Queue `body` (a CloudEvent) for a subscription; once per event and subscription.
pub async fn queue(store: &Store, s: &Subscription, event: &str, body: &str, now: i64) -> Result<(), CaseError> {
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO case_deliveries (subscription_id, event_id, delivery, body, attempts, next_at, delivered_at, created_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $6, $5) ON CONFLICT (subscription_id, event_id) DO NOTHING")
        .bind(&s.id).bind(event).bind(s.delivery.as_str()).bind(body).bind(now)
        // A stream's deliveries are read, not sent: they never wait in the send queue.
        .bind((s.delivery == Delivery::Sse).then_some(now)).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Mark a batch of events dispatched (their deliveries are queued).
pub async fn mark_dispatched(store: &Store, events: &[&str], now: i64) -> Result<(), CaseError> {
    if events.is_empty() {
        return Ok(());
    }
    let sql =
        format!("UPDATE case_events SET dispatched_at = $1 WHERE id IN ({})", ena_store::placeholders(2, events.len()));
    with_pool!(store, pool => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for e in events {
            q = q.bind(*e);
        }
        q.execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A webhook or NATS delivery to send.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Outgoing {
    pub seq: i64,
    pub subscription_id: String,
    pub delivery: String,
    pub body: String,
    pub attempts: i64,
    pub next_at: i64,
    pub webhook: Option<String>,
}

/// Claim up to `limit` due webhook and NATS deliveries for `hold` seconds (another instance skips them
/// meanwhile); each claim counts as an attempt.
pub async fn claim_outgoing(store: &Store, now: i64, hold: i64, limit: u32) -> Result<Vec<Outgoing>, CaseError> {
    let due: Vec<Outgoing> = with_pool!(store, pool => sqlx::query_as(
        "SELECT d.seq, d.subscription_id, d.delivery, d.body, d.attempts, d.next_at, s.webhook FROM case_deliveries d \
         JOIN case_subscriptions s ON s.id = d.subscription_id \
         WHERE d.delivered_at IS NULL AND d.next_at <= $1 ORDER BY d.next_at, d.seq LIMIT $2")
        .bind(now).bind(i64::from(limit)).fetch_all(pool).await)?;
    let mut claimed = Vec::with_capacity(due.len());
    for mut d in due {
        let n = with_pool!(store, pool => sqlx::query(
            "UPDATE case_deliveries SET next_at = $3, attempts = attempts + 1 WHERE seq = $1 AND next_at = $2 AND delivered_at IS NULL")
            .bind(d.seq).bind(d.next_at).bind(now + hold).execute(pool).await.map(|r| r.rows_affected()))?;
        if n == 1 {
            d.attempts += 1;
            claimed.push(d);
        }
    }
    Ok(claimed)
}

/// Record how a sent delivery went: delivered, retried later with backoff, or given up.
pub async fn settle(store: &Store, d: &Outgoing, outcome: Result<(), String>, now: i64) -> Result<(), CaseError> {
    match outcome {
        Ok(()) => {
            with_pool!(store, pool => sqlx::query("UPDATE case_deliveries SET delivered_at = $2, failure = NULL WHERE seq = $1")
            .bind(d.seq).bind(now).execute(pool).await.map(|r| r.rows_affected()))?
        }
        Err(why) => {
            // Given up: marked delivered-with-failure so it leaves the queue but the reason stays.
            let (next, done) =
                if d.attempts >= ATTEMPTS { (now, Some(now)) } else { (now + (1 << d.attempts.min(12)), None) };
            with_pool!(store, pool => sqlx::query("UPDATE case_deliveries SET next_at = $2, delivered_at = $3, failure = $4 WHERE seq = $1")
                .bind(d.seq).bind(next).bind(done).bind(why).execute(pool).await.map(|r| r.rows_affected()))?
        }
    };
    Ok(())
}

/// A subscription's deliveries after `after` (its stream; the seq is the SSE event id).
pub async fn stream(
    store: &Store,
    subscription: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<(i64, String)>, CaseError> {
    Ok(with_pool!(store, pool => sqlx::query_as(
        "SELECT seq, body FROM case_deliveries WHERE subscription_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
        .bind(subscription).bind(after).bind(i64::from(limit)).fetch_all(pool).await)?)
}

/// Check a subscription id from a path.
pub fn subscription_id(raw: &str) -> Result<String, CaseError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| invalid("subscriptionId", raw, "a subscription id (UUID)"))
}
