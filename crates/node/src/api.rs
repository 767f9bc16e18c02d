//! The node's two HTTP faces. The **local API** (`/messages/v1`) is for the organisation's own systems,
//! authenticated with the node token (`DATA_DIR/node.token`). The **peer API** (`/node/v1/inbox`) is for
//! other nodes, on the mTLS listener: the connection's certificate thumbprint goes with every request.

use std::sync::Arc;

use axum::extract::{Extension, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router, middleware};
use ena_audit::{Actor, ActorKind, Context};
use ena_core::ErrorCode;
use ena_messaging::{Messaging, MsgError, OutgoingInput, Wire};
use ena_server::auth::OperatorToken;
use ena_server::extract::{ApiJson, ApiQuery};
use ena_server::problem::ApiError;
use serde_json::json;

use crate::directory::HttpDirectory;

#[derive(Clone)]
pub struct NodeState {
    pub messaging: Arc<Messaging>,
    pub directory: Arc<HttpDirectory>,
    pub token: Arc<OperatorToken>,
    /// This node's decision point (who may call its services).
    pub access: Arc<ena_access::DecisionPoint>,
    /// The services this node produces.
    pub services: Arc<Vec<crate::calls::ServiceSpec>>,
    /// mTLS client towards other nodes.
    pub calls_client: reqwest::Client,
    /// Client towards this node's own services.
    pub upstream: reqwest::Client,
    /// Subscriptions: webhooks, SSE, NATS.
    pub events: crate::events::EventBus,
}

/// The SHA-256 (base64url) of the client certificate of an mTLS connection.
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Option<String>);

pub fn problem(e: MsgError) -> ApiError {
    match e {
        MsgError::Invalid(fields) => {
            let detail = MsgError::Invalid(fields.clone()).to_string();
            ApiError::invalid(ErrorCode::ValidationFailed, detail, fields)
        }
        MsgError::Refused(why) => ApiError::new(ErrorCode::PermissionDenied, format!("Refused: {why}.")),
        MsgError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
        MsgError::Internal(m) => ApiError::internal(&m),
    }
}

/// One of the organisation's own systems (holder of the node token).
pub struct LocalSystem(pub Context);

impl FromRequestParts<NodeState> for LocalSystem {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &NodeState) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match bearer {
            Some(t) if state.token.matches(t) => {
                let actor = Actor { kind: ActorKind::System, id: "local-system".into(), organisation: None };
                Ok(LocalSystem(ena_server::auth::context(parts, actor)))
            }
            _ => Err(ApiError::new(
                ErrorCode::AuthenticationRequired,
                "The node's local API needs the node token (DATA_DIR/node.token) as `Authorization: Bearer …`.",
            )),
        }
    }
}

pub fn local_router(state: NodeState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/openapi.json", get(|| async { Json(crate::openapi::document()) }))
        .route("/messages/v1/outbox", post(send).get(outbox))
        .route("/messages/v1/outbox/{id}", get(outgoing))
        .route("/messages/v1/inbox", get(inbox))
        .route("/messages/v1/inbox/{id}", get(incoming))
        .route("/messages/v1/inbox/{id}/ack", post(ack))
        .route("/subscriptions/v1", post(crate::events::subscribe).get(crate::events::list))
        .route("/subscriptions/v1/events", get(crate::events::stream))
        .route("/subscriptions/v1/{id}", axum::routing::delete(crate::events::unsubscribe))
        .route("/calls/v1/{address}/{service}", any(crate::calls::call_out))
        .route("/calls/v1/{address}/{service}/{*rest}", any(crate::calls::call_out))
        .layer(axum::extract::DefaultBodyLimit::max(crate::calls::MAX_BODY))
        .with_state(state)
        .layer(middleware::from_fn(ena_server::problem::finish_problems))
        .layer(middleware::from_fn(ena_server::trace::observe))
}

pub fn peer_router(state: NodeState) -> Router {
    Router::new()
        .route("/node/v1/inbox", post(receive))
        .route("/node/v1/calls/{service}", any(crate::calls::call_in))
        .route("/node/v1/calls/{service}/{*rest}", any(crate::calls::call_in))
        .layer(axum::extract::DefaultBodyLimit::max(crate::calls::MAX_BODY))
        .with_state(state)
        .layer(middleware::from_fn(ena_server::problem::finish_problems))
        .layer(middleware::from_fn(ena_server::trace::observe))
}

/// Send a message: checked (address, recipient node, schema), sealed, signed and queued.
#[utoipa::path(post, path = "/messages/v1/outbox", tag = "messages", operation_id = "sendMessage",
    security(("nodeToken" = [])),
    request_body(content = OutgoingInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Queued; Location is its status resource", body = ena_messaging::Outgoing),
        (status = 400, description = "A bad recipient, type, version, payload (named by JSON pointer), ttlSeconds or id", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn send(
    State(s): State<NodeState>,
    LocalSystem(ctx): LocalSystem,
    ApiJson(body): ApiJson<OutgoingInput>,
) -> Result<Response, ApiError> {
    let m = s.messaging.submit(&ctx, body).await.map_err(problem)?;
    let location = format!("/messages/v1/outbox/{}", m.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(m)).into_response())
}

/// The outbox, optionally of one status.
#[utoipa::path(get, path = "/messages/v1/outbox", tag = "messages", operation_id = "listOutbox",
    security(("nodeToken" = [])),
    params(("status" = Option<String>, Query, description = "queued, sent, delivered, failed or expired"),
           ("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses((status = 200, description = "A page of messages with status and receipts", body = Object), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn outbox(State(s): State<NodeState>, _l: LocalSystem, query: ApiQuery) -> Result<Response, ApiError> {
    let p = query.page(Vec::new())?;
    let items = s.messaging.outbox(query.str("status"), p.limit + 1, p.offset()).await.map_err(problem)?;
    let (items, has_more) = p.trim(items);
    Ok(Json(json!({"items": items, "page": p.page, "limit": p.limit, "hasMore": has_more})).into_response())
}

/// One sent message: status, attempts, last error, the verified receipt.
#[utoipa::path(get, path = "/messages/v1/outbox/{id}", tag = "messages", operation_id = "getOutgoing",
    security(("nodeToken" = [])), params(("id" = String, Path, description = "Message id")),
    responses((status = 200, description = "The message", body = ena_messaging::Outgoing), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 404, description = "No such message", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn outgoing(
    State(s): State<NodeState>,
    _l: LocalSystem,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.messaging.outgoing(&id).await.map_err(problem)?).into_response())
}

/// Received messages, unacknowledged first (all with `all=true`).
#[utoipa::path(get, path = "/messages/v1/inbox", tag = "messages", operation_id = "listInbox",
    security(("nodeToken" = [])),
    params(("all" = Option<bool>, Query, description = "Include acknowledged messages"),
           ("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses((status = 200, description = "A page of received messages", body = Object), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn inbox(State(s): State<NodeState>, _l: LocalSystem, query: ApiQuery) -> Result<Response, ApiError> {
    let p = query.page(Vec::new())?;
    let all = query.str("all") == Some("true");
    let items = s.messaging.inbox(all, p.limit + 1, p.offset()).await.map_err(problem)?;
    let (items, has_more) = p.trim(items);
    Ok(Json(json!({"items": items, "page": p.page, "limit": p.limit, "hasMore": has_more})).into_response())
}

/// One received message: the decrypted payload, the signed envelope, the receipt given.
#[utoipa::path(get, path = "/messages/v1/inbox/{id}", tag = "messages", operation_id = "getIncoming",
    security(("nodeToken" = [])), params(("id" = String, Path, description = "Message id")),
    responses((status = 200, description = "The message", body = ena_messaging::Incoming), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 404, description = "No such message", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn incoming(
    State(s): State<NodeState>,
    _l: LocalSystem,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.messaging.incoming(&id).await.map_err(problem)?).into_response())
}

/// The system has taken the message.
#[utoipa::path(post, path = "/messages/v1/inbox/{id}/ack", tag = "messages", operation_id = "ackMessage",
    security(("nodeToken" = [])), params(("id" = String, Path, description = "Message id")),
    responses((status = 204, description = "Acknowledged"), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 404, description = "No such message", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn ack(
    State(s): State<NodeState>,
    LocalSystem(ctx): LocalSystem,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.messaging.ack(&ctx, &id).await.map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Another node delivers a message; the answer is the signed receipt.
/// Another node delivers a message (mTLS, the sending node's federation certificate).
#[utoipa::path(post, path = "/node/v1/inbox", tag = "node-to-node", operation_id = "deliverMessage",
    security(("nodeCertificate" = [])),
    request_body(content = Wire, content_type = "application/json"),
    responses((status = 200, description = "{receipt}: the signed receipt (the same again for a repeat)", body = Object),
        (status = 401, description = "No client certificate", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 403, description = "Refused: wrong sender certificate, bad signature, tampered, expired, not for this node, schema", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn receive(
    State(s): State<NodeState>,
    Extension(PeerCertificate(cert)): Extension<PeerCertificate>,
    ApiJson(wire): ApiJson<Wire>,
) -> Result<Response, ApiError> {
    let Some(cert) = cert else {
        return Err(ApiError::new(
            ErrorCode::AuthenticationRequired,
            "Deliveries need the sending node's federation certificate.",
        ));
    };
    let receipt = s.messaging.receive(&cert, &wire).await.map_err(problem)?;
    Ok(Json(json!({"receipt": receipt})).into_response())
}
