//! Subscriptions: what happens on a node, as CloudEvents 1.0 — a message's status (`queued`,
//! `delivered`, `failed`, `expired`), a message received, an address changed in the registry — to the
//! organisation's systems by webhook (signed by the node, retried with backoff) or Server-Sent Events,
//! and, built with `--features nats` and given `--nats-url`, to NATS JetStream subjects as well.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ena_core::{ErrorCode, FieldError};
use ena_messaging::NodeIdentity;
use ena_server::extract::ApiJson;
use ena_server::problem::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Mutex, broadcast};

use crate::api::{LocalSystem, NodeState};

/// The JetStream stream node events are published in, and the subjects it holds (`ena.<type>` of each
/// of [`TYPES`]).
pub const NATS_STREAM: &str = "ENA";
pub const NATS_SUBJECTS: [&str; 2] = ["ena.message.>", "ena.address.>"];

/// The event types a system can subscribe to.
pub const TYPES: [&str; 3] = ["se.ena.message.status", "se.ena.message.received", "se.ena.address.changed"];
/// Webhook attempts before an event is given up (¼ s, ½ s, 1 s … between them, with jitter). An event
/// that fails its first attempt is queued in the node's database, so its retries outlive a restart.
const WEBHOOK_ATTEMPTS: i64 = 8;

/// A webhook subscription.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionInput {
    /// Event types (see [`TYPES`]); all if empty.
    #[serde(default)]
    pub types: Vec<String>,
    /// Where to POST the events (http or https).
    pub webhook: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub types: Vec<String>,
    pub webhook: String,
}

/// Where the node's events go: live listeners (SSE), webhooks, and NATS if configured. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventBus(Arc<Inner>);

struct Inner {
    source: String,
    live: broadcast::Sender<Value>,
    subscriptions: Mutex<Vec<Subscription>>,
    client: reqwest::Client,
    me: Arc<NodeIdentity>,
    /// Where subscriptions and queued webhook retries are kept.
    store: ena_store::Store,
    /// The central instance (its mTLS client and URL): a delivered message with a case id joins that
    /// case's history in Mina ärenden.
    cases: std::sync::OnceLock<(reqwest::Client, String)>,
    #[cfg(feature = "nats")]
    nats: Option<async_nats::jetstream::Context>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").field("source", &self.source).finish()
    }
}

impl EventBus {
    pub fn new(me: Arc<NodeIdentity>, store: ena_store::Store) -> EventBus {
        EventBus(Arc::new(Inner {
            source: me.entity_id.clone(),
            live: broadcast::channel(4096).0,
            subscriptions: Mutex::default(),
            client: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
            me,
            store,
            cases: std::sync::OnceLock::new(),
            #[cfg(feature = "nats")]
            nats: None,
        }))
    }

    /// Also publish to NATS JetStream (stream `ENA`, subjects `ena.<type>`), created if missing.
    ///
    /// The stream names exactly the node's own subject families, never `ena.>`: JetStream refuses two
    /// streams whose subjects overlap, and the central instance's case events live in `ENA_CASES`
    /// (`ena.cases.>`) on the same server. A stream left by an older node with `ena.>` is narrowed here.
    #[cfg(feature = "nats")]
    pub async fn with_nats(self, url: &str) -> anyhow::Result<EventBus> {
        let client = async_nats::connect(url).await?;
        let js = async_nats::jetstream::new(client);
        js.create_or_update_stream(async_nats::jetstream::stream::Config {
            name: NATS_STREAM.into(),
            subjects: NATS_SUBJECTS.iter().map(|s| (*s).into()).collect(),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("JetStream stream ENA: {e}"))?;
        let mut inner =
            Arc::try_unwrap(self.0).map_err(|_| anyhow::anyhow!("NATS must be set up before the bus is shared"))?;
        inner.nats = Some(js);
        Ok(EventBus(Arc::new(inner)))
    }

    /// Emit an event of `kind` about `subject` with `data`.
    pub fn emit(&self, kind: &str, subject: &str, data: Value) {
        let event = json!({
            "specversion": "1.0", "id": uuid::Uuid::now_v7().to_string(), "source": self.0.source, "type": kind,
            "subject": subject, "time": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "datacontenttype": "application/json", "data": data,
        });
        let _ = self.0.live.send(event.clone());
        let inner = self.0.clone();
        tokio::spawn(inner.deliver(event));
    }

    pub fn listen(&self) -> broadcast::Receiver<Value> {
        self.0.live.subscribe()
    }

    /// Add a subscription (stored in `store`, so it outlives a restart).
    pub async fn subscribe(&self, store: &ena_store::Store, s: Subscription) -> Result<(), String> {
        let types = serde_json::to_string(&s.types).unwrap_or_default();
        ena_messaging::repo::insert_subscription(store, &s.id, &types, &s.webhook, ena_core::time::unix_now())
            .await
            .map_err(|e| e.to_string())?;
        self.0.subscriptions.lock().await.push(s);
        Ok(())
    }

    /// Load the stored subscriptions and take up the queued webhook retries (at start).
    pub async fn load(&self) -> Result<(), String> {
        let store = &self.0.store;
        let rows = ena_messaging::repo::subscriptions(store).await.map_err(|e| e.to_string())?;
        let mut subs = self.0.subscriptions.lock().await;
        for (id, types, webhook) in rows {
            subs.push(Subscription { id, types: serde_json::from_str(&types).unwrap_or_default(), webhook });
        }
        let queued = ena_messaging::repo::queued_webhooks(store).await.map_err(|e| e.to_string())?;
        if !queued.is_empty() {
            tracing::info!(queued = queued.len(), "webhook events queued at the last stop are retried");
        }
        for pending in queued {
            tokio::spawn(retry(self.0.clone(), pending));
        }
        Ok(())
    }

    pub async fn subscriptions(&self) -> Vec<Subscription> {
        self.0.subscriptions.lock().await.clone()
    }

    pub async fn unsubscribe(&self, store: &ena_store::Store, id: &str) -> bool {
        let _ = ena_messaging::repo::delete_subscription(store, id).await;
        let mut subs = self.0.subscriptions.lock().await;
        let before = subs.len();
        subs.retain(|s| s.id != id);
        subs.len() != before
    }
}

impl Inner {
    async fn post(&self, url: &str, body: &str, signature: &str) -> Result<(), String> {
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/cloudevents+json")
            .header("ena-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("HTTP {}", r.status())),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn deliver(self: Arc<Self>, event: Value) {
        let kind = event["type"].as_str().unwrap_or_default().to_owned();
        #[cfg(feature = "nats")]
        if let Some(js) = &self.nats {
            let subject = format!("ena.{}", kind.trim_start_matches("se.ena."));
            match js.publish(subject, event.to_string().into()).await {
                Ok(ack) => {
                    if let Err(e) = ack.await {
                        tracing::warn!(error = %e, "NATS did not acknowledge an event");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not publish an event to NATS"),
            }
        }
        let targets: Vec<String> = self
            .subscriptions
            .lock()
            .await
            .iter()
            .filter(|s| s.types.is_empty() || s.types.contains(&kind))
            .map(|s| s.webhook.clone())
            .collect();
        let body = event.to_string();
        // The node signs what it sends: a JWS over the body's SHA-256, checkable with its published keys.
        let signature = ena_messaging::jws::sign(
            &self.me.signing,
            "ena-event+jws",
            &json!({"sha256": ena_messaging::envelope::sha256_b64(body.as_bytes())}),
        );
        for url in targets {
            let (inner, body, signature) = (self.clone(), body.clone(), signature.clone());
            tokio::spawn(async move {
                let Err(why) = inner.post(&url, &body, &signature).await else { return };
                tracing::info!(%url, error = %why, "webhook did not take an event; queued for retries");
                let pending = ena_messaging::repo::PendingWebhook {
                    id: uuid::Uuid::now_v7().to_string(),
                    webhook: url,
                    body,
                    signature,
                    attempts: 1,
                };
                let at = ena_core::time::unix_now();
                if let Err(e) = ena_messaging::repo::queue_webhook(&inner.store, &pending, at).await {
                    tracing::warn!(error = %e, "a webhook retry could not be queued; retrying in memory only");
                }
                retry(inner, pending).await;
            });
        }
    }
}

/// Try a queued webhook event again with backoff until it gets through or has had its attempts; it leaves
/// the queue either way.
async fn retry(inner: Arc<Inner>, mut pending: ena_messaging::repo::PendingWebhook) {
    while pending.attempts < WEBHOOK_ATTEMPTS {
        tokio::time::sleep(Duration::from_millis(ena_messaging::backoff(pending.attempts - 1) as u64 * 1000 / 4)).await;
        pending.attempts += 1;
        match inner.post(&pending.webhook, &pending.body, &pending.signature).await {
            Ok(()) => break,
            Err(why) => {
                tracing::info!(url = %pending.webhook, error = %why, attempt = pending.attempts, "webhook did not take an event");
                let _ = ena_messaging::repo::webhook_attempted(&inner.store, &pending.id, pending.attempts).await;
                if pending.attempts >= WEBHOOK_ATTEMPTS {
                    tracing::warn!(url = %pending.webhook, "webhook event given up after {WEBHOOK_ATTEMPTS} attempts");
                }
            }
        }
    }
    if let Err(e) = ena_messaging::repo::unqueue_webhook(&inner.store, &pending.id).await {
        tracing::warn!(error = %e, "a settled webhook event could not leave the queue");
    }
}

impl EventBus {
    /// Link delivered messages that carry a case id to that case at the central instance.
    pub fn link_cases(&self, central: reqwest::Client, url: &str) {
        let _ = self.0.cases.set((central, url.trim_end_matches('/').to_owned()));
    }

    /// Add the delivered message to its case's history (a transmission of kind `message`, once per
    /// message). A case id that is not a case of this organisation in Mina ärenden is left alone.
    fn link_to_case(&self, id: &str, detail: &Value) {
        let (Some((client, base)), Some(case)) = (self.0.cases.get(), detail["caseId"].as_str()) else { return };
        if uuid::Uuid::parse_str(case).is_err() {
            return;
        }
        let kind = detail["messageType"].as_str().unwrap_or("message").to_owned();
        let body = json!({"kind": "message", "messageId": id,
            "title": {"sv": format!("Meddelande levererat ({kind})"), "en": format!("Message delivered ({kind})")}});
        let url = format!("{base}/cases/v1/cases/{}/transmissions", ena_core::percent_encode(case));
        let (client, id) = (client.clone(), id.to_owned());
        tokio::spawn(async move {
            match client.post(&url).json(&body).send().await {
                Ok(r) if r.status().is_success() || r.status() == StatusCode::CONFLICT => {
                    tracing::info!(message = %id, "the delivered message joined its case in Mina ärenden");
                }
                Ok(r) => {
                    tracing::debug!(message = %id, status = %r.status(), "the case id is not a case of ours in Mina ärenden")
                }
                Err(e) => tracing::warn!(message = %id, error = %e, "Mina ärenden did not answer"),
            }
        });
    }
}

impl ena_messaging::Events for EventBus {
    fn message_status(&self, id: &str, status: &str, detail: Value) {
        if status == "delivered" {
            self.link_to_case(id, &detail);
        }
        self.emit("se.ena.message.status", id, json!({"id": id, "status": status, "detail": detail}));
    }
    fn message_received(&self, id: &str, detail: Value) {
        self.emit("se.ena.message.received", id, detail);
    }
}

/// `POST /subscriptions/v1`: a webhook subscription (stored; it outlives restarts).
#[utoipa::path(post, path = "/subscriptions/v1", tag = "subscriptions", operation_id = "subscribe",
    security(("nodeToken" = [])), request_body(content = SubscriptionInput, content_type = "application/json"),
    responses((status = 201, description = "Subscribed", body = Subscription), (status = 400, description = "Unknown types or a bad webhook URL", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn subscribe(
    State(s): State<NodeState>,
    _l: LocalSystem,
    ApiJson(input): ApiJson<SubscriptionInput>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    for (i, t) in input.types.iter().enumerate() {
        if !TYPES.contains(&t.as_str()) {
            errors.push(FieldError::new(format!("types[{i}]"), t, format!("one of {}", TYPES.join(", "))));
        }
    }
    match reqwest::Url::parse(&input.webhook) {
        Ok(u) if ["http", "https"].contains(&u.scheme()) && u.host().is_some() => {}
        _ => errors.push(FieldError::new("webhook", &input.webhook, "an http or https URL")),
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(ErrorCode::ValidationFailed, "The subscription is not valid.", errors));
    }
    let sub = Subscription { id: uuid::Uuid::now_v7().to_string(), types: input.types, webhook: input.webhook };
    s.events.subscribe(s.messaging.store(), sub.clone()).await.map_err(|e| ApiError::internal(&e))?;
    Ok((StatusCode::CREATED, Json(sub)).into_response())
}

/// `GET /subscriptions/v1`: the webhook subscriptions.
#[utoipa::path(get, path = "/subscriptions/v1", tag = "subscriptions", operation_id = "listSubscriptions",
    security(("nodeToken" = [])), responses((status = 200, description = "The subscriptions", body = Vec<Subscription>), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn list(State(s): State<NodeState>, _l: LocalSystem) -> Json<Vec<Subscription>> {
    Json(s.events.subscriptions().await)
}

/// `DELETE /subscriptions/v1/{id}`.
#[utoipa::path(delete, path = "/subscriptions/v1/{id}", tag = "subscriptions", operation_id = "unsubscribe",
    security(("nodeToken" = [])), params(("id" = String, Path, description = "Subscription id")),
    responses((status = 204, description = "Removed"), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 404, description = "No such subscription", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn unsubscribe(
    State(s): State<NodeState>,
    _l: LocalSystem,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    if s.events.unsubscribe(s.messaging.store(), &id).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(ErrorCode::ResourceNotFound, format!("no subscription {id}")))
    }
}

/// `GET /subscriptions/v1/events`: the node's events as Server-Sent Events, live (`event:` is the type).
#[utoipa::path(get, path = "/subscriptions/v1/events", tag = "subscriptions", operation_id = "eventStream",
    security(("nodeToken" = [])),
    responses((status = 200, description = "text/event-stream of CloudEvents", content_type = "text/event-stream", body = String), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn stream(
    State(s): State<NodeState>,
    _l: LocalSystem,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let stream = futures_util::stream::unfold(s.events.listen(), |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(v) => {
                    let event = Event::default()
                        .event(v["type"].as_str().unwrap_or("event"))
                        .id(v["id"].as_str().unwrap_or_default())
                        .data(v.to_string());
                    return Some((Ok(event), rx));
                }
                // A listener too slow to keep up skips what it missed rather than holding the node back.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
