//! `/audit/v1`: the transparency log — checkpoint, verifier key, entries, proofs, events, alerts, witness.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ena_audit::event::Result as AuditResult;
use ena_audit::log::b64;
use ena_audit::merkle::Hash;
use ena_audit::repo::EventFilter;
use ena_audit::{AuditEvent, Entry, LogError};
use ena_core::{ErrorCode, FieldError, PersonId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::apis::{AUDIT_API, ApiInfo};
use crate::auth::{MaybeOperator, Operator};
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::paging::ListPage;
use crate::problem::ApiError;
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Public, routes!(checkpoint))
        .api(Caller::Public, routes!(verifier_key))
        .api(Caller::PublicOrOperator, routes!(entry))
        .api(Caller::Public, routes!(inclusion))
        .api(Caller::Public, routes!(consistency))
        .api(Caller::Operator, routes!(append))
        .api(Caller::Operator, routes!(list_events))
        .api(Caller::Operator, routes!(search_events))
        .api(Caller::Operator, routes!(alerts))
        .api(Caller::Person(3), routes!(list_my_events))
        .api(Caller::Public, routes!(cosign))
        .api(Caller::MemberNode, routes!(take_over))
}

impl From<LogError> for ApiError {
    fn from(error: LogError) -> ApiError {
        match error {
            LogError::BadParameter { name, value, reason } => ApiError::invalid(
                ErrorCode::InvalidParameter,
                format!("{name}: {reason}."),
                vec![FieldError::new(name, value, reason)],
            ),
            LogError::NoEntry(index) => {
                ApiError::new(ErrorCode::ResourceNotFound, format!("The log has no entry {index}."))
            }
            other => ApiError::internal(&other),
        }
    }
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/audit/v1/api-info", tag = "audit", operation_id = "auditApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(AUDIT_API.info())
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// The latest signed checkpoint (C2SP tlog-checkpoint signed note).
#[utoipa::path(get, path = "/audit/v1/checkpoint", tag = "audit", operation_id = "getCheckpoint",
    responses((status = 200, description = "Origin, tree size and base64 root hash, then an Ed25519 note signature line", body = String, content_type = "text/plain")))]
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(text(state.audit.checkpoint().await?))
}

/// The log's verifier key (C2SP signed-note vkey).
#[utoipa::path(get, path = "/audit/v1/verifier-key", tag = "audit", operation_id = "getVerifierKey",
    responses((status = 200, description = "`<name>+<key id>+<base64(0x01 ‖ Ed25519 public key)>`", body = String, content_type = "text/plain")))]
pub async fn verifier_key(State(state): State<AppState>) -> Response {
    text(format!("{}\n", state.audit.verifier_key()))
}

/// One entry: its leaf hash, and — for the operator, or for anyone when the event names no person (what
/// the federation issues about organisations) — the exact leaf bytes and the parsed event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    pub index: u64,
    /// Base64 of `SHA-256(0x00 ‖ data)`: with an inclusion proof and the public checkpoint, anyone can
    /// check that a leaf they hold is in the log.
    pub leaf_hash: String,
    /// Base64 of the leaf bytes: the RFC 8785 canonical JSON of `event`. Absent unless the caller may
    /// read the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<AuditEvent>,
}

impl EntryView {
    fn new(e: Entry, readable: bool) -> EntryView {
        let readable = readable || e.event.is_public();
        EntryView {
            index: e.index,
            leaf_hash: b64(&e.leaf_hash),
            data: readable.then(|| STANDARD.encode(&e.data)),
            event: readable.then_some(e.event),
        }
    }
}

fn parse_index(raw: &str, name: &'static str) -> Result<u64, ApiError> {
    raw.parse::<u64>().map_err(|_| {
        ApiError::invalid(
            ErrorCode::InvalidParameter,
            format!("{name} must be a non-negative integer."),
            vec![FieldError::new(name, raw, "must be a non-negative integer")],
        )
    })
}

/// Read one entry by index.
#[utoipa::path(get, path = "/audit/v1/entries/{index}", tag = "audit", operation_id = "getEntry",
    params(("index" = u64, Path, description = "Leaf index, from 0")),
    responses(
        (status = 200, description = "The entry: the leaf hash for anyone; the event too for the operator, or when it names no person", body = EntryView),
        (status = 400, description = "The index is not a non-negative integer", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "A bearer token was sent and is not the operator's", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No entry has this index yet", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn entry(
    State(state): State<AppState>,
    operator: MaybeOperator,
    Path(index): Path<String>,
) -> Result<Json<EntryView>, ApiError> {
    let index = parse_index(&index, "index")?;
    Ok(Json(EntryView::new(state.audit.entry(index).await?, operator.0.is_some())))
}

fn required(query: &ApiQuery, name: &'static str) -> Result<u64, ApiError> {
    match query.str(name) {
        Some(raw) => parse_index(raw, name),
        None => Err(ApiError::invalid(
            ErrorCode::InvalidParameter,
            format!("The query parameter {name} is required."),
            vec![FieldError::missing(name, "required")],
        )),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    /// Base64 hashes, leaf to root (RFC 9162 §2.1.3).
    pub proof: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// Base64 hashes (RFC 9162 §2.1.4).
    pub proof: Vec<String>,
}

fn hashes(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(b64).collect()
}

/// Inclusion proof of entry `index` in the tree of `treeSize` entries.
#[utoipa::path(get, path = "/audit/v1/proofs/inclusion", tag = "audit", operation_id = "getInclusionProof",
    params(("index" = u64, Query, description = "Leaf index"), ("treeSize" = u64, Query, description = "Tree size, at most the current size")),
    responses(
        (status = 200, description = "The proof", body = InclusionProof),
        (status = 400, description = "A parameter is missing, not an integer, index ≥ treeSize, or treeSize beyond the current size; invalid-parameters names it", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn inclusion(State(state): State<AppState>, query: ApiQuery) -> Result<Json<InclusionProof>, ApiError> {
    let (index, tree_size) = (required(&query, "index")?, required(&query, "treeSize")?);
    let proof = state.audit.inclusion_proof(index, tree_size).await?;
    Ok(Json(InclusionProof { index, tree_size, proof: hashes(&proof) }))
}

/// Consistency proof between tree sizes `from` and `to`.
#[utoipa::path(get, path = "/audit/v1/proofs/consistency", tag = "audit", operation_id = "getConsistencyProof",
    params(("from" = u64, Query, description = "Earlier tree size, at least 1"), ("to" = u64, Query, description = "Later tree size, at most the current size")),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProof),
        (status = 400, description = "A parameter is missing, not an integer, from = 0, from > to, or to beyond the current size; invalid-parameters names it", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn consistency(State(state): State<AppState>, query: ApiQuery) -> Result<Json<ConsistencyProof>, ApiError> {
    let (from, to) = (required(&query, "from")?, required(&query, "to")?);
    let proof = state.audit.consistency_proof(from, to).await?;
    Ok(Json(ConsistencyProof { from, to, proof: hashes(&proof) }))
}

/// One event or a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EventsIn {
    One(AuditEvent),
    Many(Vec<AuditEvent>),
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppendedView {
    pub first_index: u64,
    pub count: u64,
    pub tree_size: u64,
    /// The signed checkpoint that covers the appended events.
    pub checkpoint: String,
}

/// Append events of an authorised system (the operator: a person with the role, or the operator token).
#[utoipa::path(post, path = "/audit/v1/events", tag = "audit", operation_id = "appendEvents",
    request_body(content = EventsIn, description = "One event or an array of up to 1000", content_type = "application/json"),
    responses(
        (status = 201, description = "Durable and covered by the returned signed checkpoint", body = AppendedView),
        (status = 400, description = "Malformed JSON, a body that does not match the event schema, or an invalid event (time, action, data subject); invalid-parameters names each field", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn append(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<EventsIn>,
) -> Result<Response, ApiError> {
    let mut events = match body {
        EventsIn::One(e) => vec![e],
        EventsIn::Many(v) => v,
    };
    ena_audit::event::check_submitted(&mut events, operator.ctx.correlation_id.as_deref()).map_err(|errors| {
        ApiError::invalid(ErrorCode::ValidationFailed, "Some events are invalid; see invalid-parameters.", errors)
    })?;
    let a = state.audit.append(events).await?;
    let view =
        AppendedView { first_index: a.first_index, count: a.count, tree_size: a.tree_size, checkpoint: a.checkpoint };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// What a member node hands over: events of its own log that name data subjects.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeEventsIn {
    /// The node's log: its origin (`<node host>/log`, the name in its checkpoints).
    pub log: String,
    /// Up to 500 events, each at its index in that log.
    pub events: Vec<ena_audit::forward::ForwardedEvent>,
}

/// A member node hands over the events of its own log that name data subjects (messages it sent or
/// received about a person, calls it served under a consent), so Min profil shows them. Only over the
/// node's own certificate and only its own log; each event is added once however often it is sent (a
/// repeat is counted, not added), or refused with its reason. The copies point back to the node's log.
#[utoipa::path(post, path = "/audit/v1/node-events", tag = "audit", operation_id = "takeOverNodeEvents",
    request_body(content = NodeEventsIn, content_type = "application/json"),
    responses(
        (status = 200, description = "What was added, already held or refused (with why)", body = ena_audit::forward::TakenOver),
        (status = 400, description = "Malformed JSON, more than 500 events, or another log than the node's own (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "Not called on the node listener with a member's certificate", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is not a member's in good standing", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn take_over(
    State(state): State<AppState>,
    crate::mtls::Node(peer): crate::mtls::Node,
    ApiJson(body): ApiJson<NodeEventsIn>,
) -> Result<Json<ena_audit::forward::TakenOver>, ApiError> {
    // A node speaks for its own log only: the origin is its host's (without the port), as its checkpoints
    // name it; the federation has one member per host.
    let authority = peer.entity_id.strip_prefix("https://").unwrap_or(&peer.entity_id);
    let host = authority.split(['/', ':']).next().unwrap_or_default();
    let own = format!("{host}/log");
    if body.log != own {
        let why = format!("a node hands over its own log only ({own})");
        return Err(ApiError::invalid(
            ErrorCode::InvalidParameter,
            format!("log: {why}."),
            vec![FieldError::new("log", &body.log, why)],
        ));
    }
    Ok(Json(state.audit.take_over(&own, &peer.organisation_number, body.events).await?))
}

/// Filters for a search; all optional. Identity numbers go in a body, never in a URL (RES.02).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSearch {
    pub correlation_id: Option<String>,
    pub actor: Option<String>,
    /// The id of the object the events are about (e.g. a federation entity id).
    pub object_id: Option<String>,
    pub data_subject: Option<String>,
    pub action: Option<String>,
    /// `allowed`, `denied` or `failed`.
    pub outcome: Option<AuditResult>,
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub page: Option<i64>,
}

fn rfc3339_utc(name: &str, raw: &Option<String>, errors: &mut Vec<FieldError>) -> Option<String> {
    let raw = raw.as_ref()?;
    match time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339) {
        Ok(t) => t.to_offset(time::UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).ok(),
        Err(_) => {
            errors.push(FieldError::new(name, raw, "must be an RFC 3339 date-time"));
            None
        }
    }
}

async fn run_search(
    state: &AppState,
    search: EventSearch,
    action_prefix: Option<&str>,
) -> Result<Json<ListPage<EntryView>>, ApiError> {
    let mut errors = Vec::new();
    let from = rfc3339_utc("from", &search.from, &mut errors);
    let to = rfc3339_utc("to", &search.to, &mut errors);
    let subject = match &search.data_subject {
        Some(raw) => match PersonId::parse(raw) {
            Ok(id) => Some(id.as_str().to_owned()),
            Err(e) => {
                errors.push(FieldError::new("dataSubject", "(hidden)", e.to_string()));
                None
            }
        },
        None => None,
    };
    let page = match ena_core::Page::new(search.limit, search.page) {
        Ok(page) if errors.is_empty() => page,
        Ok(_) => return Err(ApiError::invalid(ErrorCode::InvalidParameter, "Some filters are invalid.", errors)),
        Err(more) => {
            errors.extend(more);
            return Err(ApiError::invalid(ErrorCode::InvalidParameter, "Some filters are invalid.", errors));
        }
    };
    let filter = EventFilter {
        correlation_id: search.correlation_id,
        actor_id: search.actor,
        object_id: search.object_id,
        subject,
        action: search.action,
        action_prefix: action_prefix.map(str::to_owned),
        result: search.outcome.map(|o| format!("{o:?}").to_lowercase()),
        from_time: from,
        to_time: to,
    };
    let entries = state.audit.query(&filter, page.limit + 1, page.offset()).await?;
    let (entries, has_more) = page.trim(entries);
    Ok(Json(ListPage {
        items: entries.into_iter().map(|e| EntryView::new(e, true)).collect(),
        page: page.page,
        limit: page.limit,
        has_more,
    }))
}

fn search_from_query(query: &ApiQuery) -> Result<EventSearch, ApiError> {
    let mut errors = Vec::new();
    let outcome = match query.str("outcome") {
        None => None,
        Some("allowed") => Some(AuditResult::Allowed),
        Some("denied") => Some(AuditResult::Denied),
        Some("failed") => Some(AuditResult::Failed),
        Some(other) => {
            errors.push(FieldError::new("outcome", other, "must be allowed, denied or failed"));
            None
        }
    };
    let search = EventSearch {
        correlation_id: query.str("correlationId").map(str::to_owned),
        actor: query.str("actor").map(str::to_owned),
        object_id: query.str("objectId").map(str::to_owned),
        // A data subject is an identity number: only in the body of POST /audit/v1/event-searches.
        data_subject: None,
        action: query.str("action").map(str::to_owned),
        outcome,
        from: query.str("from").map(str::to_owned),
        to: query.str("to").map(str::to_owned),
        limit: query.int("limit", &mut errors),
        page: query.int("page", &mut errors),
    };
    if errors.is_empty() {
        Ok(search)
    } else {
        Err(ApiError::invalid(ErrorCode::InvalidParameter, "Some filters are invalid.", errors))
    }
}

/// Query events (operator). Prefer `POST /audit/v1/event-searches` for a data subject: identity numbers
/// do not belong in URLs (RES.02).
#[utoipa::path(get, path = "/audit/v1/events", tag = "audit", operation_id = "listEvents",
    params(
        ("correlationId" = Option<String>, Query, description = "Trace id of the causing request"),
        ("actor" = Option<String>, Query, description = "Actor id"),
        ("objectId" = Option<String>, Query, description = "Id of the object the events are about, e.g. a federation entity id"),
        ("action" = Option<String>, Query, description = "Exact action, e.g. plan.replace"),
        ("outcome" = Option<String>, Query, description = "allowed, denied or failed"),
        ("from" = Option<String>, Query, description = "RFC 3339, inclusive"),
        ("to" = Option<String>, Query, description = "RFC 3339, exclusive"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "Matching events, newest first", body = ListPage<EntryView>),
        (status = 400, description = "A filter is invalid; invalid-parameters names it", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_events(
    State(state): State<AppState>,
    _operator: Operator,
    query: ApiQuery,
) -> Result<Json<ListPage<EntryView>>, ApiError> {
    run_search(&state, search_from_query(&query)?, None).await
}

/// Query events with the filters in the body (operator).
#[utoipa::path(post, path = "/audit/v1/event-searches", tag = "audit", operation_id = "searchEvents",
    request_body(content = EventSearch, content_type = "application/json"),
    responses(
        (status = 200, description = "Matching events, newest first", body = ListPage<EntryView>),
        (status = 400, description = "A filter is invalid; invalid-parameters names it", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn search_events(
    State(state): State<AppState>,
    _operator: Operator,
    ApiJson(search): ApiJson<EventSearch>,
) -> Result<Json<ListPage<EntryView>>, ApiError> {
    run_search(&state, search, None).await
}

/// Alerts raised by the follow-up rules and the witness, newest first (operator).
#[utoipa::path(get, path = "/audit/v1/alerts", tag = "audit", operation_id = "listAlerts",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "Alert events", body = ListPage<EntryView>),
        (status = 400, description = "limit or page is invalid", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn alerts(
    State(state): State<AppState>,
    _operator: Operator,
    query: ApiQuery,
) -> Result<Json<ListPage<EntryView>>, ApiError> {
    let mut errors = Vec::new();
    let search = EventSearch {
        limit: query.int("limit", &mut errors),
        page: query.int("page", &mut errors),
        ..EventSearch::default()
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid(ErrorCode::InvalidParameter, "Some parameters are invalid.", errors));
    }
    run_search(&state, search, Some("alert.")).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CosignRequest {
    /// The other log's signed checkpoint note.
    pub checkpoint: String,
    /// The other log's verifier key (vkey).
    pub verifier_key: String,
    /// Base64 consistency proof from the size this witness last cosigned for that origin (empty the first time).
    #[serde(default)]
    pub proof: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CosignResponse {
    /// The `cosignature/v1` note signature line.
    pub cosignature: String,
    /// The checkpoint with the cosignature appended.
    pub checkpoint: String,
    /// This witness's cosigner key (vkey, type 0x04).
    pub cosigner_key: String,
}

/// Cosign another log's checkpoint if it is consistent with the last one cosigned for its origin.
#[utoipa::path(post, path = "/audit/v1/witness/cosign", tag = "audit", operation_id = "cosignCheckpoint",
    request_body(content = CosignRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The cosignature", body = CosignResponse),
        (status = 400, description = "Unparseable key, note or proof, or a bad log signature; invalid-parameters names the field", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Not a log this witness cosigns: neither a member node's published log key nor configured in witnessed_logs", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Inconsistent with what this witness cosigned before (split view or rollback); recorded as an alert", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn cosign(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CosignRequest>,
) -> Result<Json<CosignResponse>, ApiError> {
    let mut proof = Vec::with_capacity(req.proof.len());
    for (i, p) in req.proof.iter().enumerate() {
        let hash: Option<Hash> = STANDARD.decode(p).ok().and_then(|b| b.try_into().ok());
        proof.push(hash.ok_or_else(|| {
            ApiError::invalid(
                ErrorCode::InvalidParameter,
                "A proof hash is not 32 bytes of base64.",
                vec![FieldError::new(format!("proof[{i}]"), p, "must be base64 of 32 bytes")],
            )
        })?);
    }
    // Only logs on the allow-list are witnessed: the configured ones and the federation's member nodes'
    // published log keys. Otherwise the first caller to name an origin would pin a key for it.
    let key = req.verifier_key.trim();
    let listed = state.config.witnessed_logs.iter().any(|k| k.trim() == key);
    if !listed && state.federation.member_with_log_key(key).await?.is_none() {
        return Err(ApiError::invalid(
            ErrorCode::PermissionDenied,
            "This witness cosigns only the logs of the federation's member nodes (their published log_verifier_key) and the logs its operator configured (witnessed_logs).",
            vec![FieldError::new("verifierKey", key, "not a log this witness cosigns")],
        ));
    }
    use ena_audit::witness::{WitnessError, cosign};
    match cosign(&state.audit, &state.witness, &req.checkpoint, &req.verifier_key, &proof).await {
        Ok(c) => Ok(Json(CosignResponse {
            cosignature: c.cosignature,
            checkpoint: c.note,
            cosigner_key: state.witness.cosigner_key(),
        })),
        Err(WitnessError::Invalid { field, reason }) => Err(ApiError::invalid(
            ErrorCode::ValidationFailed,
            format!("{field}: {reason}."),
            vec![FieldError::missing(field, reason)],
        )),
        Err(WitnessError::Inconsistent(why)) => Err(ApiError::new(ErrorCode::Conflict, why)),
        Err(other) => Err(ApiError::internal(&other)),
    }
}

/// An event about me, as I may see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyEvent {
    /// RFC 3339.
    pub time: String,
    /// The organisation that acted (or, for a system, its id; another person masked).
    pub who: String,
    pub action: String,
    /// `allowed`, `denied` or `failed`.
    pub outcome: String,
    /// What for, where the event says (a consent's purpose).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The service used, where the event says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The organisation the data went to, when not the one that acted (a consent's recipient).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// The acting employee's organisational unit, where their system said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// For an event from a member node's own log: the organisation whose node logged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_by: Option<String>,
}

impl MyEvent {
    /// An event about a person as that person (or one acting for them) may see it.
    pub fn of(event: ena_audit::AuditEvent, system: &str) -> MyEvent {
        let detail = |k: &str| event.details.as_ref().and_then(|d| d.get(k)).filter(|v| !v.is_empty()).cloned();
        MyEvent {
            who: super::portal::who(&event, system),
            outcome: format!("{:?}", event.outcome.result).to_lowercase(),
            purpose: detail("purpose"),
            service: detail("service"),
            recipient: detail("recipient").map(|r| crate::site::portal::org_display(&r)),
            unit: detail("unit"),
            reported_by: detail("reportedBy").map(|r| crate::site::portal::org_display(&r)),
            time: event.time,
            action: event.action,
        }
    }
}

/// Put the member's name before each organisation number a person is shown ("Skatteverket
/// (202100-5448)"): one look-up per organisation on the page, in the federation's member register.
pub async fn name_organisations(state: &AppState, items: &mut [MyEvent]) {
    let mut names: std::collections::HashMap<String, Option<String>> = std::collections::HashMap::new();
    for m in items.iter_mut() {
        for field in [Some(&mut m.who), m.recipient.as_mut(), m.reported_by.as_mut()].into_iter().flatten() {
            let Ok(org) = ena_core::Organisationsnummer::parse(field) else { continue };
            if !names.contains_key(org.as_str()) {
                let name = ena_federation::repo::active_member_of(&state.store, org.as_str()).await.ok().flatten();
                names.insert(org.as_str().to_owned(), name.map(|m| m.name));
            }
            if let Some(Some(name)) = names.get(org.as_str()) {
                *field = format!("{name} ({field})");
            }
        }
    }
}

/// Whose events to show: the person's own, or (`party`, the position of a party in the list of those
/// they act for, from 1) a party's for whom they hold the insight package (`insyn` for a person,
/// `insyn-foretag` for an organisation). Positions, not numbers: an identity number never goes in a URL.
pub async fn subject_of(
    state: &AppState,
    s: &ena_identity::session::Session,
    party: Option<&str>,
) -> Result<String, ApiError> {
    let Some(n) = party.filter(|p| !p.is_empty()) else { return Ok(s.person.as_str().to_owned()) };
    let bad = |why: &str| {
        ApiError::invalid(
            ena_core::ErrorCode::InvalidParameter,
            format!("party: {why}."),
            vec![ena_core::FieldError::new("party", n, why)],
        )
    };
    let position: usize = n.parse().map_err(|_| bad("the position of a party you act for, from 1"))?;
    let parties = insight_parties(state, s).await;
    parties.into_iter().nth(position.wrapping_sub(1)).map(|(p, _)| p).ok_or_else(|| {
        ApiError::new(
            ena_core::ErrorCode::PermissionDenied,
            "You hold no insight package (insyn, insyn-foretag) for a party at that position.",
        )
    })
}

/// The parties (other than the person) whose events the person may see, with their names, in the order
/// `party` positions count.
pub async fn insight_parties(state: &AppState, s: &ena_identity::session::Session) -> Vec<(String, String)> {
    state
        .representation
        .acting_for(&s.person)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.party != s.person.as_str())
        .filter(|a| a.packages.iter().any(|p| p == "insyn" || p == "insyn-foretag"))
        .map(|a| {
            let name = a.name.clone().unwrap_or_else(|| crate::site::portal::org_display(&a.party));
            (a.party, name)
        })
        .collect()
}

/// Who read my data: the log's events naming me as data subject, done by someone else, newest first —
/// restricted ones only once their reveal date has passed. A page may hold fewer than `limit` (what is
/// not mine to see is left out).
#[utoipa::path(get, path = "/audit/v1/my/events", tag = "audit", operation_id = "listMyEvents",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1"),
           ("party" = Option<u32>, Query, description = "A party I act for with an insight package: its position among them, from 1 (default: me)")),
    responses(
        (status = 200, description = "A page of the events about me", body = Object),
        (status = 401, description = "Not logged in", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The session's level of assurance is below 3", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_my_events(
    State(state): State<AppState>,
    crate::auth::Person(s): crate::auth::Person,
    query: ApiQuery,
) -> Result<Json<ListPage<MyEvent>>, ApiError> {
    let p = query.page(Vec::new())?;
    let subject = subject_of(&state, &s, query.str("party")).await?;
    let entries = state.audit.about(&subject, ena_core::time::unix_now(), p.limit + 1, p.offset()).await?;
    let more = entries.len() > p.limit as usize;
    let mut items: Vec<MyEvent> =
        entries.into_iter().take(p.limit as usize).map(|e| MyEvent::of(e.event, "system")).collect();
    name_organisations(&state, &mut items).await;
    Ok(Json(ListPage { items, page: p.page, limit: p.limit, has_more: more }))
}
