//! `/cases/v1/subscriptions`: an organisation's system follows a party's cases — its own, or those of
//! a party that gave it a mandate in Mina ombud — and receives CloudEvents by webhook (signed by the
//! central services), as Server-Sent Events or on NATS JetStream.
//!
//! Who may follow what is decided here, at subscribing and again for every event (a mandate revoked
//! since stops the next event; nothing is cached). The outbox and its queue are in `ena_cases::events`;
//! the dispatcher below runs on every instance (`ena_server::serve`): the one holding the lease fans
//! events out, any instance sends what it claims.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ena_audit::AuditSink;
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_cases::PartyRef;
use ena_cases::events::{self as outbox, Delivery, DueEvent, Outgoing, Subscription, SubscriptionInput};
use ena_core::{ErrorCode, FieldError};
use ena_representation::Party;
use serde_json::{Value, json};
use utoipa_axum::routes;

use super::api::Keeper;
use crate::AppState;
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::paging::ListPage;
use crate::problem::ApiError;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Member, routes!(create_subscription))
        .api(Caller::Member, routes!(list_subscriptions))
        .api(Caller::Member, routes!(get_subscription))
        .api(Caller::Member, routes!(delete_subscription))
        .api(Caller::Member, routes!(subscription_events))
}

fn principal(p: &PartyRef) -> Party {
    if p.kind == "person" { Party::Person(p.id.clone()) } else { Party::Organisation(p.id.clone()) }
}

/// May organisation `owner` follow `party`'s cases in `service`? Its own always; another party's when
/// the packages that party gave it in Mina ombud let it `read` the service (the decision point decides).
pub async fn may_follow(
    state: &AppState,
    owner: &str,
    party: &PartyRef,
    service: &str,
) -> Result<bool, ena_representation::ReprError> {
    if party.kind == "organisation" && party.id == owner {
        return Ok(true);
    }
    let Some(service) = state.representation.catalog().service(service).cloned() else { return Ok(false) };
    let agent = Party::Organisation(owner.to_owned());
    let held = state.representation.holdings(&agent, &principal(party), ena_core::time::unix_now()).await?;
    let packages: Vec<String> = held.into_keys().collect();
    Ok(state.representation.decide(&agent, "read", &service, &packages, false).await?.allowed)
}

/// The services of `party` that `owner` may follow now.
async fn followable(state: &AppState, owner: &str, party: &PartyRef) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for s in &state.representation.catalog().services {
        if may_follow(state, owner, party, &s.id).await? {
            out.push(s.id.clone());
        }
    }
    Ok(out)
}

fn subject_of(party: &PartyRef) -> Vec<String> {
    if party.kind == "person" { vec![party.id.clone()] } else { Vec::new() }
}

/// Follow a party's cases. The subscriber is the calling organisation; the party is itself or one whose
/// mandate in Mina ombud covers at least one service (else 403). Events come for the services the
/// mandate covers at the time of each event.
#[utoipa::path(post, path = "/cases/v1/subscriptions", tag = "cases", operation_id = "createCaseSubscription",
    request_body(content = SubscriptionInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Subscribed; Location is the subscription", body = Subscription),
        (status = 400, description = "Bad party, types, delivery or webhook; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The party has not let this organisation follow any of its cases", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn create_subscription(
    State(state): State<AppState>,
    who: Keeper,
    ApiJson(body): ApiJson<SubscriptionInput>,
) -> Result<Response, ApiError> {
    let allow_http = state.config.federation_entity_id.starts_with("http://");
    let sub = Subscription::check(&who.agency.organisation, body, allow_http)?;
    if sub.delivery == Delivery::Nats && !state.case_events.has_nats() {
        return Err(ApiError::invalid(
            ErrorCode::ValidationFailed,
            "this installation does not publish to NATS",
            vec![FieldError::new("delivery", "nats", "webhook or sse here (no NATS configured)")],
        ));
    }
    let services = followable(&state, &who.agency.organisation, &sub.party).await?;
    let object = Some(ObjectRef { kind: "case-subscription".into(), id: sub.id.clone() });
    let allowed = !services.is_empty();
    let mut event = who.ctx.event(
        "cases.subscription.create",
        object,
        if allowed { AuditResult::Allowed } else { AuditResult::Denied },
        (!allowed).then(|| "no mandate lets this organisation follow the party".to_owned()),
    );
    event.data_subjects = subject_of(&sub.party);
    state.audit.record(vec![event]).await.map_err(|e| ApiError::internal(&e.to_string()))?;
    if !allowed {
        return Err(ApiError::new(
            ErrorCode::PermissionDenied,
            "the party has not given your organisation a mandate that covers any of its cases",
        ));
    }
    outbox::insert_subscription(&state.store, &sub).await?;
    let location = format!("/cases/v1/subscriptions/{}", sub.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(sub)).into_response())
}

/// The calling organisation's subscriptions, oldest first.
#[utoipa::path(get, path = "/cases/v1/subscriptions", tag = "cases", operation_id = "listCaseSubscriptions",
    params(
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of subscriptions", body = ListPage<Subscription>),
        (status = 400, description = "Bad paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    who: Keeper,
    q: ApiQuery,
) -> Result<Json<ListPage<Subscription>>, ApiError> {
    let page = q.page(Vec::new())?;
    let rows = outbox::subscriptions(&state.store, &who.agency.organisation, page.limit + 1, page.offset()).await?;
    Ok(Json(ListPage::of(page, rows)))
}

/// One of the calling organisation's subscriptions.
#[utoipa::path(get, path = "/cases/v1/subscriptions/{subscriptionId}", tag = "cases", operation_id = "getCaseSubscription",
    params(("subscriptionId" = String, Path, description = "The subscription's id")),
    responses(
        (status = 200, description = "The subscription", body = Subscription),
        (status = 400, description = "Not a subscription id", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription of yours", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_subscription(
    State(state): State<AppState>,
    who: Keeper,
    Path(id): Path<String>,
) -> Result<Json<Subscription>, ApiError> {
    let id = outbox::subscription_id(&id)?;
    Ok(Json(outbox::subscription(&state.store, &who.agency.organisation, &id).await?))
}

/// End a subscription; what was queued for it goes too.
#[utoipa::path(delete, path = "/cases/v1/subscriptions/{subscriptionId}", tag = "cases", operation_id = "deleteCaseSubscription",
    params(("subscriptionId" = String, Path, description = "The subscription's id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 400, description = "Not a subscription id", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription of yours", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn delete_subscription(
    State(state): State<AppState>,
    who: Keeper,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = outbox::subscription_id(&id)?;
    outbox::delete_subscription(&state.store, &who.agency.organisation, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A subscription's events as Server-Sent Events (`delivery: sse`): what was queued after
/// `Last-Event-ID` (everything kept when absent), then live. The SSE id is the delivery's sequence number.
#[utoipa::path(get, path = "/cases/v1/subscriptions/{subscriptionId}/events", tag = "cases", operation_id = "caseSubscriptionEvents",
    params(
        ("subscriptionId" = String, Path, description = "The subscription's id"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event"),
    ),
    responses(
        (status = 200, description = "text/event-stream of CloudEvents", content_type = "text/event-stream", body = String),
        (status = 400, description = "Not a subscription id, not an SSE subscription, or a bad Last-Event-ID", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription of yours", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn subscription_events(
    State(state): State<AppState>,
    who: Keeper,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = outbox::subscription_id(&id)?;
    let sub = outbox::subscription(&state.store, &who.agency.organisation, &id).await?;
    if sub.delivery != Delivery::Sse {
        let field = FieldError::new("subscriptionId", &id, "a subscription with delivery sse");
        return Err(ApiError::invalid(
            ErrorCode::ValidationFailed,
            "this subscription is not read as a stream",
            vec![field],
        ));
    }
    let after = match headers.get("last-event-id").map(|v| v.to_str().ok().and_then(|s| s.trim().parse::<i64>().ok())) {
        None => 0,
        Some(Some(n)) if n >= 0 => n,
        Some(_) => {
            let field = FieldError::new("Last-Event-ID", "(given)", "an event id this stream sent");
            return Err(ApiError::invalid(ErrorCode::ValidationFailed, "bad Last-Event-ID", vec![field]));
        }
    };
    // Polled from the database, so an event queued by whichever instance dispatched it is seen here.
    let stream = futures_util::stream::unfold(
        (state, id, after, Vec::<(i64, String)>::new()),
        |(state, id, mut after, mut ready)| async move {
            loop {
                if let Some((seq, body)) = ready.pop() {
                    return Some((
                        Ok::<_, Infallible>(Event::default().id(seq.to_string()).data(body)),
                        (state, id, after, ready),
                    ));
                }
                match outbox::stream(&state.store, &id, after, 100).await {
                    Ok(rows) if !rows.is_empty() => {
                        after = rows.last().map_or(after, |r| r.0);
                        ready = rows.into_iter().rev().collect();
                    }
                    Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
                    // The subscription ended or the database is away: the client reconnects with its last id.
                    Err(_) => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// Where a webhook or NATS delivery goes, and with what: one per instance.
pub struct Outlet {
    http: reqwest::Client,
    #[cfg(feature = "nats")]
    nats: Option<async_nats::jetstream::Context>,
}

/// The JetStream stream case events are published in, and its subjects.
pub const NATS_STREAM: &str = "ENA_CASES";

impl Outlet {
    /// An outlet; with `nats_url`, also to NATS JetStream (the stream is made when missing).
    pub async fn open(nats_url: Option<&str>) -> Result<Outlet, String> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
        #[cfg(feature = "nats")]
        {
            let nats = match nats_url {
                None => None,
                Some(url) => {
                    let client = async_nats::connect(url).await.map_err(|e| format!("NATS at {url}: {e}"))?;
                    let js = async_nats::jetstream::new(client);
                    js.get_or_create_stream(async_nats::jetstream::stream::Config {
                        name: NATS_STREAM.into(),
                        subjects: vec!["ena.cases.>".into()],
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| format!("NATS stream {NATS_STREAM}: {e}"))?;
                    Some(js)
                }
            };
            Ok(Outlet { http, nats })
        }
        #[cfg(not(feature = "nats"))]
        match nats_url {
            Some(_) => Err("this ena was built without NATS (cargo feature nats)".into()),
            None => Ok(Outlet { http }),
        }
    }

    pub fn has_nats(&self) -> bool {
        #[cfg(feature = "nats")]
        return self.nats.is_some();
        #[cfg(not(feature = "nats"))]
        false
    }

    async fn send(&self, state: &AppState, d: &Outgoing) -> Result<(), String> {
        match d.delivery.as_str() {
            "webhook" => {
                let url = d.webhook.as_deref().ok_or("no webhook")?;
                let digest = <sha2::Sha256 as sha2::Digest>::digest(d.body.as_bytes());
                let digest = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, digest);
                let signature = state.federation.sign_answer("ena-event+jws", json!({"sha256": digest}));
                let r = self
                    .http
                    .post(url)
                    .header("content-type", "application/cloudevents+json")
                    .header("ena-signature", signature)
                    .body(d.body.clone())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if r.status().is_success() { Ok(()) } else { Err(format!("the webhook answered {}", r.status())) }
            }
            #[cfg(feature = "nats")]
            "nats" => {
                let js = self.nats.as_ref().ok_or("NATS is not configured on this instance")?;
                let mut headers = async_nats::HeaderMap::new();
                // JetStream drops a second publish with the same id (a retry after a lost ack).
                headers.insert("Nats-Msg-Id", format!("{}-{}", d.subscription_id, d.seq).as_str());
                let subject = format!("ena.cases.{}", d.subscription_id);
                let ack = js
                    .publish_with_headers(subject, headers, d.body.clone().into())
                    .await
                    .map_err(|e| e.to_string())?;
                ack.await.map(|_| ()).map_err(|e| e.to_string())
            }
            other => Err(format!("cannot send a {other} delivery")),
        }
    }
}

/// The CloudEvent for `e` (what the case says now; its detail beside).
fn cloud_event(state: &AppState, e: &DueEvent) -> Value {
    let mut data = json!({
        "caseId": e.case_id, "party": {"kind": e.party_kind, "id": e.party}, "organisation": e.organisation,
        "service": e.service, "status": e.status, "revision": e.revision,
    });
    if let Ok(Value::Object(detail)) = serde_json::from_str::<Value>(&e.detail) {
        for (k, v) in detail {
            data[k] = v;
        }
    }
    json!({
        "specversion": "1.0", "id": e.id, "source": format!("{}/cases/v1", state.config.federation_entity_id),
        "type": e.kind, "subject": e.case_id, "time": ena_core::time::rfc3339_of(e.created_at),
        "datacontenttype": "application/json", "data": data,
    })
}

/// One round of the dispatcher on this instance: with the lease, turn due events into deliveries for
/// each subscription whose organisation may follow them (an audit event each, the party as data
/// subject); then send the webhook and NATS deliveries this instance claims.
pub async fn dispatch(state: &AppState, holder: &str) -> Result<Option<String>, String> {
    let now = ena_core::time::unix_now();
    // A full batch means more are waiting: go on at once (the lease renewed each batch) rather than
    // wait for the next round, up to a bound so that sending below still gets its turn. Without this
    // the fan-out stopped at one batch a round (1 000 events/s), below what writers produce.
    for _ in 0..DRAIN_BATCHES {
        if !outbox::take_lease(&state.store, holder, ena_core::time::unix_now(), 5).await.map_err(|e| e.to_string())? {
            break;
        }
        if fan_out(state, now).await? < FAN_OUT_BATCH {
            break;
        }
    }
    // Held for 30 s: a send (10 s timeout) finishes before another instance may claim it again.
    let mut failed = 0;
    for d in outbox::claim_outgoing(&state.store, now, 30, 100).await.map_err(|e| e.to_string())? {
        let outcome = state.case_events.send(state, &d).await;
        if let Err(why) = &outcome {
            failed += 1;
            tracing::info!(subscription = %d.subscription_id, attempt = d.attempts, error = %why, "a case event was not taken");
        }
        outbox::settle(&state.store, &d, outcome, ena_core::time::unix_now()).await.map_err(|e| e.to_string())?;
    }
    // Queued events are the normal flow (the audit log has each); only failures are news.
    Ok((failed > 0).then(|| format!("case events: {failed} sends failed this round; retried with backoff")))
}

/// Due events taken per batch, and batches at most per round of the dispatcher.
const FAN_OUT_BATCH: usize = 200;
const DRAIN_BATCHES: usize = 20;

/// Turn one batch of due events into deliveries; how many events it took.
async fn fan_out(state: &AppState, now: i64) -> Result<usize, String> {
    let due = outbox::due_events(&state.store, now, FAN_OUT_BATCH as u32).await.map_err(|e| e.to_string())?;
    let taken = due.len();
    // One read of the subscriptions for the whole batch; most parties have none.
    let parties: Vec<&str> = due.iter().map(|e| e.party.as_str()).collect();
    let following = outbox::following(&state.store, &parties).await.map_err(|e| e.to_string())?;
    for e in &due {
        let party = PartyRef { kind: e.party_kind.clone(), id: e.party.clone() };
        let body = cloud_event(state, e).to_string();
        let mut audit = Vec::new();
        for sub in following.iter().filter(|s| s.party.id == e.party) {
            if !(sub.types.is_empty() || sub.types.contains(&e.kind)) {
                continue;
            }
            if !may_follow(state, &sub.owner, &party, &e.service).await.map_err(|e| e.to_string())? {
                continue;
            }
            outbox::queue(&state.store, sub, &e.id, &body, now).await.map_err(|e| e.to_string())?;
            let ctx = ena_audit::Context::system("ena-cases");
            let mut event = ctx.event(
                "cases.event.deliver",
                Some(ObjectRef { kind: "case".into(), id: e.case_id.clone() }),
                AuditResult::Allowed,
                Some(format!("{} to {} (subscription {})", e.kind, sub.owner, sub.id)),
            );
            event.data_subjects = subject_of(&party);
            audit.push(event);
        }
        if !audit.is_empty() {
            state.audit.record(audit).await.map_err(|e| e.to_string())?;
        }
    }
    // Marked once the batch is queued: a crash before this repeats the batch, and `queue` takes each
    // (subscription, event) once.
    let ids: Vec<&str> = due.iter().map(|e| e.id.as_str()).collect();
    outbox::mark_dispatched(&state.store, &ids, now).await.map_err(|e| e.to_string())?;
    Ok(taken)
}
