//! The node's two HTTP faces. The **local API** (`/messages/v1`) is for the organisation's own systems,
//! authenticated with the node token (`DATA_DIR/node.token`). The **peer API** (`/node/v1/inbox`) is for
//! other nodes, on the mTLS listener: the connection's certificate thumbprint goes with every request.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ena_audit::{Actor, ActorKind, Context};
use ena_core::{ErrorCode, FieldError};
use ena_messaging::attachments::{AttachmentError, Sink};
use ena_messaging::{Messaging, MsgError, OutgoingInput, Wire};
use ena_server::auth::OperatorToken;
use ena_server::callers::{Authorizer, Caller, Routes};
use ena_server::extract::{ApiJson, ApiQuery};
use ena_server::problem::ApiError;
use futures_util::StreamExt;
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
    /// The gateway in front of the services that serve catalog APIs (`api` in node.toml), and this
    /// process's id for its usage counts.
    pub gateway: Arc<ena_apis::gateway::Gateway>,
    pub boot: Arc<String>,
    /// The node's entity configuration as the federation took it, served at
    /// `/.well-known/openid-federation` on the peer listener.
    pub entity_configuration: Arc<String>,
}

/// The SHA-256 (base64url) of the client certificate of an mTLS connection.
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Option<String>);

/// The node checks a peer's standing per request through the federation (the sender's resolved
/// metadata names its certificate), so the connection itself never goes bad.
impl ena_server::mtls::Standing for PeerCertificate {
    fn in_good_standing(&self) -> bool {
        true
    }
}

pub fn problem(e: MsgError) -> ApiError {
    match e {
        MsgError::Invalid(fields) => {
            let detail = MsgError::Invalid(fields.clone()).to_string();
            ApiError::invalid(ErrorCode::ValidationFailed, detail, fields)
        }
        MsgError::Refused(why) => ApiError::new(ErrorCode::PermissionDenied, format!("Refused: {why}.")),
        MsgError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
        MsgError::Busy(m) => ApiError::new(ErrorCode::ServiceUnavailable, m),
        MsgError::Internal(m) => ApiError::internal(&m),
    }
}

/// One of the organisation's own systems (holder of the node token).
#[derive(Clone)]
pub struct LocalSystem(pub Context);

impl FromRequestParts<NodeState> for LocalSystem {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &NodeState) -> Result<Self, Self::Rejection> {
        // `authorize` checked it already on a route declared `Caller::LocalSystem`.
        if let Some(checked) = ena_server::callers::checked::<LocalSystem>(parts) {
            return Ok(checked);
        }
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

/// The node decides its routes' callers here: its own systems by the node token on the local API, and
/// other member nodes by the federation certificate of their mTLS connection on the peer listener
/// (whose sender each handler then checks against that certificate).
impl Authorizer for NodeState {
    async fn check(&self, caller: Caller, parts: &mut Parts) -> Result<(), Response> {
        let checked = match caller {
            Caller::LocalSystem => ena_server::callers::remember::<LocalSystem, _>(parts, self).await,
            Caller::MemberNode => match parts.extensions.get::<PeerCertificate>() {
                Some(PeerCertificate(Some(_))) => Ok(()),
                _ => Err(ApiError::new(
                    ErrorCode::AuthenticationRequired,
                    "This is the node-to-node API: call it over mutual TLS with your node's federation certificate.",
                )),
            },
            Caller::Public => Ok(()),
            other => Err(ApiError::internal(&format!("{other:?} is not a caller a node serves"))),
        };
        match checked {
            Ok(()) => Ok(()),
            Err(refusal) => {
                // Recorded in the node's own log, as every refusal of the central edge is in its log.
                let attempted = ena_server::auth::attempted_action(parts);
                let actor = Actor { kind: ActorKind::System, id: "unauthenticated".into(), organisation: None };
                let ctx = ena_server::auth::context(parts, actor);
                let event =
                    ctx.event(&attempted, None, ena_audit::event::Result::Denied, Some(refusal.0.detail.clone()));
                if let Err(e) = self.messaging.audit().append(vec![event]).await {
                    tracing::error!(error = %e, "could not record a refused request in the node's log");
                }
                Err(refusal.into_response())
            }
        }
    }
}

/// How long a request to a node may take (streamed attachment uploads are not timed: their size has
/// no limit but the node's quota).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The local API's routes, each with its caller; the documented ones with `Routes::api`, so the node's
/// OpenAPI document is collected from them (`openapi::document`).
pub fn local_routes() -> (Routes<NodeState>, Routes<NodeState>) {
    use crate::events;
    use utoipa_axum::routes;
    let timed = Routes::new()
        .get("/healthz", Caller::Public, || async { Json(json!({"status": "ok"})) })
        .get("/openapi.json", Caller::Public, || async { Json(crate::openapi::DOCUMENT.clone()) })
        // The node's API reference, where its problems' `type` links point (`/docs#error-…`).
        .get("/docs", Caller::Public, docs)
        .get("/static/ena.css", Caller::Public, ena_server::site::portal::stylesheet)
        .api(Caller::Public, routes!(crate::info::messages_info))
        .api(Caller::Public, routes!(crate::info::calls_info))
        .api(Caller::Public, routes!(crate::info::mail_info))
        .api(Caller::Public, routes!(crate::info::subscriptions_info))
        .api(Caller::LocalSystem, routes!(send))
        .api(Caller::LocalSystem, routes!(outbox))
        .api(Caller::LocalSystem, routes!(outgoing))
        .api(Caller::LocalSystem, routes!(inbox))
        .api(Caller::LocalSystem, routes!(incoming))
        .api(Caller::LocalSystem, routes!(ack))
        .api(Caller::LocalSystem, routes!(attachment))
        .api(Caller::LocalSystem, routes!(uploaded))
        .api(Caller::LocalSystem, routes!(events::subscribe))
        .api(Caller::LocalSystem, routes!(events::list))
        .api(Caller::LocalSystem, routes!(events::stream))
        .api(Caller::LocalSystem, routes!(events::unsubscribe))
        .api(Caller::LocalSystem, routes!(crate::mail::send_letter))
        .api(Caller::LocalSystem, routes!(crate::mail::get_letter))
        .api(Caller::LocalSystem, routes!(crate::mail::list_letters))
        .api(Caller::LocalSystem, routes!(crate::mail_operator::make_receipt))
        .api(Caller::LocalSystem, routes!(crate::mail_operator::send_reply))
        // Any method, to the producer's service: documented by `calls::call_out_doc`.
        .any("/calls/v1/{address}/{service}", Caller::LocalSystem, crate::calls::call_out)
        .any("/calls/v1/{address}/{service}/{*rest}", Caller::LocalSystem, crate::calls::call_out);
    let untimed = Routes::new().api(Caller::LocalSystem, routes!(upload));
    (timed, untimed)
}

/// The node's API reference page, rendered once from its OpenAPI document.
async fn docs() -> Result<axum::response::Html<String>, ApiError> {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(page) = PAGE.get() {
        return Ok(axum::response::Html(page.clone()));
    }
    let page = ena_server::site::docs::render(&crate::openapi::DOCUMENT)?;
    Ok(axum::response::Html(PAGE.get_or_init(|| page).clone()))
}

/// The peer API's routes (the mTLS listener), each with its caller.
pub fn peer_routes() -> (Routes<NodeState>, Routes<NodeState>) {
    use utoipa_axum::routes;
    let timed = Routes::new()
        .get("/.well-known/openid-federation", Caller::Public, entity_configuration)
        .get("/docs", Caller::Public, docs)
        .get("/static/ena.css", Caller::Public, ena_server::site::portal::stylesheet)
        .api(Caller::MemberNode, routes!(crate::info::node_info))
        .api(Caller::MemberNode, routes!(receive))
        // Any method, to this node's service: documented by `calls::call_in_doc`.
        .any("/node/v1/calls/{service}", Caller::MemberNode, crate::calls::call_in)
        .any("/node/v1/calls/{service}/{*rest}", Caller::MemberNode, crate::calls::call_in);
    let untimed = Routes::new().api(Caller::MemberNode, routes!(receive_attachment));
    (timed, untimed)
}

/// One listener's router: `authorize` before every handler, the timeout on all but the streamed
/// uploads, and the same edge as the central server.
fn router(state: NodeState, (timed, untimed): (Routes<NodeState>, Routes<NodeState>)) -> ena_server::edge::Edge {
    let router = timed
        .into_router(&state)
        .route_layer(ena_server::edge::Timeout(REQUEST_TIMEOUT))
        .merge(untimed.into_router(&state))
        .layer(axum::extract::DefaultBodyLimit::max(crate::calls::MAX_BODY));
    ena_server::edge::finish(router.with_state(state), None)
}

pub fn local_router(state: NodeState) -> ena_server::edge::Edge {
    router(state, local_routes())
}

pub fn peer_router(state: NodeState) -> ena_server::edge::Edge {
    router(state, peer_routes())
}

/// The node's entity configuration (OpenID Federation 1.0 §9): anyone may read it, with or without a
/// client certificate, so a client that knows nothing of ena can walk from the trust anchor to the node.
async fn entity_configuration(State(s): State<NodeState>) -> Response {
    ([(header::CONTENT_TYPE, "application/entity-statement+jwt")], s.entity_configuration.as_str().to_owned())
        .into_response()
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
    let all = match query.str("all") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(problem(MsgError::Invalid(vec![FieldError::new("all", other, "must be true or false")])));
        }
    };
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

fn attachment_problem(e: AttachmentError) -> ApiError {
    match e {
        AttachmentError::TooLarge(max) => {
            ApiError::new(ErrorCode::PayloadTooLarge, format!("An attachment is at most {max} bytes."))
        }
        AttachmentError::Invalid(why) => problem(MsgError::Invalid(vec![FieldError::new("body", "", why)])),
        e => ApiError::internal(&e.to_string()),
    }
}

/// Write a request body into `sink` as it arrives. A body that breaks off is a timeout (408): the
/// sender may try again.
async fn stream_into(sink: &mut Sink, body: Body) -> Result<(), ApiError> {
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(ErrorCode::RequestTimeout, format!("The body broke off: {e}.")))?;
        sink.write(&chunk).await.map_err(attachment_problem)?;
    }
    Ok(())
}

/// Upload a file to send with a message: the body is the file, `Content-Type` its media type. Streamed to
/// disk (no size limit but the node's, 64 GiB); name the answer's id in a message's `attachments`.
#[utoipa::path(post, path = "/messages/v1/attachments", tag = "messages", operation_id = "uploadAttachment",
    security(("nodeToken" = [])),
    params(("Content-Type" = String, Header, description = "The file's media type, e.g. application/pdf")),
    request_body(content = Vec<u8>, content_type = "*/*", description = "The file"),
    responses(
        (status = 201, description = "Stored; Location is its description", body = ena_messaging::attachments::Upload),
        (status = 400, description = "No or a bad Content-Type", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 413, description = "Larger than an attachment may be", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn upload(
    State(s): State<NodeState>,
    LocalSystem(ctx): LocalSystem,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let media_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut sink = s.messaging.begin_upload(media_type).await.map_err(problem)?;
    if let Err(e) = stream_into(&mut sink, body).await {
        sink.abandon().await;
        return Err(e);
    }
    let upload = s.messaging.finish_upload(&ctx, sink).await.map_err(problem)?;
    let location = format!("/messages/v1/attachments/{}", upload.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(upload)).into_response())
}

/// An upload not yet sent.
#[utoipa::path(get, path = "/messages/v1/attachments/{id}", tag = "messages", operation_id = "getUpload",
    security(("nodeToken" = [])), params(("id" = String, Path, description = "Upload id")),
    responses((status = 200, description = "The upload", body = ena_messaging::attachments::Upload), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 404, description = "No such upload (or already sent)", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn uploaded(
    State(s): State<NodeState>,
    _l: LocalSystem,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.messaging.upload(&id).await.map_err(problem)?).into_response())
}

/// A received attachment, decrypted while it streams (every chunk authenticated before it is sent).
#[utoipa::path(get, path = "/messages/v1/inbox/{id}/attachments/{n}", tag = "messages", operation_id = "getAttachment",
    security(("nodeToken" = [])),
    params(("id" = String, Path, description = "Message id"), ("n" = u32, Path, description = "Attachment index, from 0")),
    responses((status = 200, description = "The file, with its media type and name (Content-Disposition)", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such message or attachment", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn attachment(
    State(s): State<NodeState>,
    _l: LocalSystem,
    Path((id, n)): Path<(String, usize)>,
) -> Result<Response, ApiError> {
    let (meta, reader) = s.messaging.attachment(&id, n).await.map_err(problem)?;
    let body = crate::transport::blocking_body(Some(meta.size), move |send| {
        reader.read(|chunk| send(bytes::Bytes::copy_from_slice(chunk))).map_err(|e| format!("attachment: {e}"))
    });
    // `filename` for clients that read only it (curl -OJ), `filename*` (RFC 8187) for the exact name.
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_fallback(&meta.name),
        percent_encode(&meta.name)
    );
    Ok((
        [
            (header::CONTENT_TYPE, meta.media_type),
            (header::CONTENT_LENGTH, meta.size.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::new(body),
    )
        .into_response())
}

/// The name as a plain quoted-string: non-ASCII, quotes, backslashes and controls become `_` (the exact
/// name is in `filename*`).
fn ascii_fallback(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect()
}

/// RFC 8187 value characters: everything but unreserved ASCII is %-encoded (UTF-8).
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Another node streams an attachment of a message it is about to deliver (mTLS). Kept under the
/// sending certificate until the message arrives and names it.
#[utoipa::path(put, path = "/node/v1/inbox/{id}/attachments/{n}", tag = "node-to-node", operation_id = "deliverAttachment",
    security(("nodeCertificate" = [])),
    params(("id" = String, Path, description = "Message id"), ("n" = u32, Path, description = "Attachment index, from 0"),
           ("Content-Length" = u64, Header, description = "The ciphertext's length"),
           ("ena-sender-node" = String, Header, description = "The sending node's entity id: the connection's certificate must be the one the federation publishes for it")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The encrypted attachment"),
    responses((status = 204, description = "Stored until the message arrives"),
        (status = 400, description = "A bad id, index or length", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No client certificate", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is not the named node's, or the node is not a member in good standing", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 413, description = "Larger than an attachment may be", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn receive_attachment(
    State(s): State<NodeState>,
    Extension(PeerCertificate(cert)): Extension<PeerCertificate>,
    Path((id, n)): Path<(String, usize)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let Some(cert) = cert else {
        return Err(ApiError::new(
            ErrorCode::AuthenticationRequired,
            "Deliveries need the sending node's federation certificate.",
        ));
    };
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            problem(MsgError::Invalid(vec![FieldError::new("Content-Length", "", "the ciphertext's length in bytes")]))
        })?;
    let sender = headers.get(crate::transport::SENDER_NODE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut sink = s.messaging.begin_incoming(&cert, sender, &id, n, length).await.map_err(problem)?;
    if let Err(e) = stream_into(&mut sink, body).await {
        sink.abandon().await;
        return Err(e);
    }
    sink.finish().await.map_err(attachment_problem)?;
    Ok(StatusCode::NO_CONTENT)
}
