//! `/federation/v1` and `/.well-known/openid-federation`: the trust anchor (OpenID Federation 1.0
//! endpoints), onboarding (applications, decisions), members, the CA's certificate and CRL, history.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use ena_audit::{Actor, ActorKind, Context};
use ena_core::{ErrorCode, FieldError};
use ena_federation::anchor::{Agreement, Application, ApplicationInput, HistoryItem, Member};
use ena_federation::chain::ErrorCode as FedCode;
use ena_federation::{FederationError, TrustAnchor};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::apis::{ApiInfo, FEDERATION_API};
use crate::auth::Operator;
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::paging::ListPage;
use crate::problem::ApiError;
use crate::trace::TraceContext;
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(entity_configuration))
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Public, routes!(fetch))
        .api(Caller::Public, routes!(list))
        .api(Caller::Public, routes!(resolve))
        .api(Caller::Public, routes!(trust_mark))
        .api(Caller::Public, routes!(trust_mark_status))
        .api(Caller::Public, routes!(historical_keys))
        .api(Caller::Public, routes!(ca_certificate))
        .api(Caller::Public, routes!(crl))
        .api(Caller::Public, routes!(agreement))
        .api(Caller::Public, routes!(apply))
        .api(Caller::Operator, routes!(list_applications))
        .api(Caller::Public, routes!(get_application))
        .api(Caller::Operator, routes!(approve))
        .api(Caller::Operator, routes!(reject))
        .api(Caller::Operator, routes!(list_members))
        .api(Caller::Operator, routes!(suspend))
        .api(Caller::Operator, routes!(revoke))
        .api(Caller::MemberNode, routes!(update_configuration))
        .api(Caller::Public, routes!(history))
        .api(Caller::MemberNode, routes!(whoami))
        .api(Caller::MemberNode, routes!(own_membership))
}

fn spec_error(code: FedCode, status: ErrorCode, description: String) -> ApiError {
    let mut e = ApiError::new(status, description.clone());
    e.0.error = Some(code.as_str());
    e.0.error_description = Some(description);
    e
}

impl From<FederationError> for ApiError {
    fn from(error: FederationError) -> ApiError {
        match error {
            FederationError::Invalid(fields) => {
                let mut e = ApiError::invalid(
                    ErrorCode::ValidationFailed,
                    "The request is invalid; see invalid-parameters.",
                    fields,
                );
                e.0.error = Some(FedCode::InvalidRequest.as_str());
                e
            }
            FederationError::NotFound(m) => spec_error(FedCode::NotFound, ErrorCode::ResourceNotFound, m),
            FederationError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            FederationError::Forbidden(m) => ApiError::new(ErrorCode::PermissionDenied, m),
            FederationError::Chain(c) => {
                let status =
                    if c.code == FedCode::NotFound { ErrorCode::ResourceNotFound } else { ErrorCode::InvalidParameter };
                spec_error(c.code, status, c.to_string())
            }
            other => ApiError::internal(&other),
        }
    }
}

fn typed(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn required<'a>(query: &'a ApiQuery, name: &'static str) -> Result<&'a str, ApiError> {
    query.str(name).filter(|v| !v.is_empty()).ok_or_else(|| {
        let mut e = ApiError::invalid(
            ErrorCode::InvalidParameter,
            format!("{name} is required."),
            vec![FieldError::missing(name, "required")],
        );
        e.0.error = Some(FedCode::InvalidRequest.as_str());
        e.0.error_description = Some(format!("{name} is required"));
        e
    })
}

/// The caller of a public endpoint: not authenticated; the trace id correlates its events.
fn public_context(trace: Option<axum::Extension<TraceContext>>, id: &str) -> Context {
    Context {
        actor: Actor { kind: ActorKind::Anonymous, id: id.into(), organisation: None },
        on_behalf_of: None,
        correlation_id: trace.map(|t| t.trace_id().to_owned()),
    }
}

fn anchor(state: &AppState) -> &TrustAnchor {
    &state.federation
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/federation/v1/api-info", tag = "federation", operation_id = "federationApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(FEDERATION_API.info())
}

/// The trust anchor's entity configuration (self-signed `entity-statement+jwt`).
#[utoipa::path(get, path = "/.well-known/openid-federation", tag = "federation", operation_id = "getEntityConfiguration",
    responses((status = 200, description = "Self-signed entity configuration with jwks, federation endpoints and trust mark issuers", body = String, content_type = "application/entity-statement+jwt")))]
pub async fn entity_configuration(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(typed("application/entity-statement+jwt", anchor(&state).entity_configuration().await?))
}

/// The subordinate statement about a member (OpenID Federation fetch endpoint).
#[utoipa::path(get, path = "/federation/v1/fetch", tag = "federation", operation_id = "fetchStatement",
    params(("sub" = String, Query, description = "Entity identifier of the member")),
    responses(
        (status = 200, description = "Subordinate statement signed by the trust anchor", body = String, content_type = "application/entity-statement+jwt"),
        (status = 400, description = "sub missing, or the anchor itself", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No active member with that identifier (error not_found)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn fetch(State(state): State<AppState>, query: ApiQuery) -> Result<Response, ApiError> {
    let sub = required(&query, "sub")?;
    Ok(typed("application/entity-statement+jwt", anchor(&state).fetch(sub).await?))
}

/// Entity identifiers of active members (OpenID Federation list endpoint).
#[utoipa::path(get, path = "/federation/v1/list", tag = "federation", operation_id = "listEntities",
    params(
        ("entity_type" = Option<String>, Query, description = "Only members of this entity type"),
        ("trust_mark_type" = Option<String>, Query, description = "Only members holding this trust mark"),
    ),
    responses(
        (status = 200, description = "JSON array of entity identifiers", body = Vec<String>),
        (status = 400, description = "Unknown entity type", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list(State(state): State<AppState>, query: ApiQuery) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(anchor(&state).list(query.str("entity_type"), query.str("trust_mark_type")).await?))
}

/// Resolve an entity: its validated trust chain and resolved metadata, signed (resolve endpoint).
#[utoipa::path(get, path = "/federation/v1/resolve", tag = "federation", operation_id = "resolveEntity",
    params(
        ("sub" = String, Query, description = "Entity to resolve"),
        ("trust_anchor" = String, Query, description = "Trust anchor to resolve under (this instance's entity id)"),
    ),
    responses(
        (status = 200, description = "Signed resolve response with metadata, trust_marks and trust_chain", body = String, content_type = "application/resolve-response+jwt"),
        (status = 400, description = "Missing parameter, another trust anchor (invalid_trust_anchor), an invalid chain (invalid_trust_chain) or metadata breaking the policy (invalid_metadata)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "Not an active member, or its entity configuration is unknown (not_found)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn resolve(State(state): State<AppState>, query: ApiQuery) -> Result<Response, ApiError> {
    let (sub, ta) = (required(&query, "sub")?, required(&query, "trust_anchor")?);
    Ok(typed("application/resolve-response+jwt", anchor(&state).resolve(sub, ta).await?))
}

/// A trust mark held by a member (trust mark endpoint).
#[utoipa::path(get, path = "/federation/v1/trust-mark", tag = "federation", operation_id = "getTrustMark",
    params(("trust_mark_type" = String, Query, description = "Trust mark type"), ("sub" = String, Query, description = "Member")),
    responses(
        (status = 200, description = "The trust mark", body = String, content_type = "application/trust-mark+jwt"),
        (status = 404, description = "The member holds no such trust mark", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn trust_mark(State(state): State<AppState>, query: ApiQuery) -> Result<Response, ApiError> {
    let (t, sub) = (required(&query, "trust_mark_type")?, required(&query, "sub")?);
    Ok(typed("application/trust-mark+jwt", anchor(&state).trust_mark(sub, t).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TrustMarkStatusForm {
    /// The trust mark JWT.
    pub trust_mark: String,
}

/// Whether a trust mark is active, revoked, expired or invalid (signed answer).
#[utoipa::path(post, path = "/federation/v1/trust-mark-status", tag = "federation", operation_id = "trustMarkStatus",
    request_body(content = TrustMarkStatusForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Signed status response", body = String, content_type = "application/trust-mark-status-response+jwt"),
        (status = 400, description = "trust_mark missing or not a JWT", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn trust_mark_status(
    State(state): State<AppState>,
    form: Result<Form<TrustMarkStatusForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let Ok(Form(form)) = form else {
        return Err(ApiError::invalid(
            ErrorCode::InvalidBody,
            "Send trust_mark as a form field.",
            vec![FieldError::missing("trust_mark", "required")],
        ));
    };
    Ok(typed("application/trust-mark-status-response+jwt", anchor(&state).trust_mark_status(&form.trust_mark).await?))
}

/// Every key the anchor has used, with validity (signed JWK Set).
#[utoipa::path(get, path = "/federation/v1/historical-keys", tag = "federation", operation_id = "historicalKeys",
    responses((status = 200, description = "Signed JWK Set of current and retired keys", body = String, content_type = "application/jwk-set+jwt")))]
pub async fn historical_keys(State(state): State<AppState>) -> Response {
    typed("application/jwk-set+jwt", anchor(&state).historical_keys())
}

/// The federation CA's certificate (PEM): the only root node certificates chain to.
#[utoipa::path(get, path = "/federation/v1/ca-certificate", tag = "federation", operation_id = "caCertificate",
    responses((status = 200, description = "PEM certificate", body = String, content_type = "application/x-pem-file")))]
pub async fn ca_certificate(State(state): State<AppState>) -> Response {
    typed("application/x-pem-file", anchor(&state).ca_certificate().to_owned())
}

/// The CRL of revoked node certificates (PEM).
#[utoipa::path(get, path = "/federation/v1/crl", tag = "federation", operation_id = "getCrl",
    responses((status = 200, description = "PEM certificate revocation list, valid a day", body = String, content_type = "application/x-pem-file")))]
pub async fn crl(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(typed("application/x-pem-file", anchor(&state).crl().await?))
}

/// The agreement (anslutningsavtal) an applicant must accept.
#[utoipa::path(get, path = "/federation/v1/agreement", tag = "federation", operation_id = "getAgreement",
    responses((status = 200, description = "The agreement in force", body = Agreement)))]
pub async fn agreement(State(state): State<AppState>) -> Result<Json<Agreement>, ApiError> {
    Ok(Json(anchor(&state).agreement().await?))
}

/// Apply to join the federation.
#[utoipa::path(post, path = "/federation/v1/applications", tag = "federation", operation_id = "applyForMembership",
    request_body(content = ApplicationInput, content_type = "application/json"),
    responses(
        (status = 201, description = "The pending application", body = Application),
        (status = 400, description = "Invalid fields (organisation number, entity id, JWKS, entity types, key request, entity configuration, agreement); invalid-parameters names each", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "A pending application for this entity exists, or it is already an active member", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn apply(
    State(state): State<AppState>,
    trace: Option<axum::Extension<TraceContext>>,
    ApiJson(input): ApiJson<ApplicationInput>,
) -> Result<Response, ApiError> {
    let ctx = public_context(trace, &input.entity_id);
    let app = anchor(&state).apply(&ctx, &input).await?;
    Ok((StatusCode::CREATED, Json(app)).into_response())
}

/// Applications, newest first (operator).
#[utoipa::path(get, path = "/federation/v1/applications", tag = "federation", operation_id = "listApplications",
    params(
        ("status" = Option<String>, Query, description = "pending, approved or rejected"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of applications", body = ListPage<Application>),
        (status = 400, description = "Bad status or paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_applications(
    State(state): State<AppState>,
    _operator: Operator,
    query: ApiQuery,
) -> Result<Json<ListPage<Application>>, ApiError> {
    let p = query.page(Vec::new())?;
    Ok(Json(ListPage::of(p, anchor(&state).applications(query.str("status"), p.limit + 1, p.offset()).await?)))
}

/// One application (its id is the applicant's receipt). Anyone holding the id reads it, so a person who
/// decided it is named only by role (`operator`): not even a masked number (which shows a birth date).
#[utoipa::path(get, path = "/federation/v1/applications/{id}", tag = "federation", operation_id = "getApplication",
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The application (decidedBy is `operator` when a person decided)", body = Application),
        (status = 404, description = "No such application", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_application(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Application>, ApiError> {
    let mut app = anchor(&state).application(&id).await?;
    // Public: who holds the receipt learns that an operator decided, not which person.
    app.decided_by =
        app.decided_by.map(|who| if who == crate::auth::OPERATOR_TOKEN_ACTOR { who } else { "operator".to_owned() });
    Ok(Json(app))
}

/// Approve an application: publishes the member, issues its certificate and trust marks (operator).
#[utoipa::path(post, path = "/federation/v1/applications/{id}/approve", tag = "federation", operation_id = "approveApplication",
    params(("id" = String, Path, description = "Application id")),
    responses(
        (status = 200, description = "The approved application", body = Application),
        (status = 404, description = "No such application", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn approve(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(anchor(&state).approve(&operator.ctx, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DecisionReason)]
pub struct Reason {
    /// Why (shown to the applicant and logged).
    pub reason: String,
}

/// Reject an application with a reason (operator).
#[utoipa::path(post, path = "/federation/v1/applications/{id}/reject", tag = "federation", operation_id = "rejectApplication",
    params(("id" = String, Path, description = "Application id")),
    request_body(content = Reason, content_type = "application/json"),
    responses(
        (status = 200, description = "The rejected application", body = Application),
        (status = 400, description = "No reason", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn reject(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(anchor(&state).reject(&operator.ctx, &id, &body.reason).await?))
}

/// Members, by entity id (operator).
#[utoipa::path(get, path = "/federation/v1/members", tag = "federation", operation_id = "listMembers",
    params(
        ("status" = Option<String>, Query, description = "active, suspended or revoked"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of members", body = ListPage<Member>),
        (status = 400, description = "Bad status or paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_members(
    State(state): State<AppState>,
    _operator: Operator,
    query: ApiQuery,
) -> Result<Json<ListPage<Member>>, ApiError> {
    let p = query.page(Vec::new())?;
    let status = query.str("status");
    if let Some(s) = status
        && !["active", "suspended", "revoked"].contains(&s)
    {
        return Err(ApiError::invalid(
            ErrorCode::InvalidParameter,
            "Unknown status.",
            vec![FieldError::new("status", s, "must be active, suspended or revoked")],
        ));
    }
    Ok(Json(ListPage::of(p, anchor(&state).members(status, p.limit + 1, p.offset()).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Removal {
    pub entity_id: String,
    #[serde(default)]
    pub reason: String,
}

/// Suspend a member: gone from list and resolve, certificate and trust marks revoked (operator).
#[utoipa::path(post, path = "/federation/v1/members/suspend", tag = "federation", operation_id = "suspendMember",
    request_body(content = Removal, content_type = "application/json"),
    responses(
        (status = 200, description = "The member after suspension", body = Member),
        (status = 404, description = "No such member", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Already suspended or revoked", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn suspend(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<Removal>,
) -> Result<Json<Member>, ApiError> {
    Ok(Json(anchor(&state).remove(&operator.ctx, &body.entity_id, false, &body.reason).await?))
}

/// Revoke a member for good (operator).
#[utoipa::path(post, path = "/federation/v1/members/revoke", tag = "federation", operation_id = "revokeMember",
    request_body(content = Removal, content_type = "application/json"),
    responses(
        (status = 200, description = "The member after revocation", body = Member),
        (status = 404, description = "No such member", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Already revoked", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<Removal>,
) -> Result<Json<Member>, ApiError> {
    Ok(Json(anchor(&state).remove(&operator.ctx, &body.entity_id, true, &body.reason).await?))
}

/// A member publishes its new entity configuration to the federation, over its own node certificate
/// (node listener). The body is the JWT itself, signed with the member's registered keys, with metadata
/// only for the approved entity types and an `iat` newer than the configuration in force.
#[utoipa::path(put, path = "/federation/v1/entity-configuration", tag = "federation", operation_id = "putEntityConfiguration",
    request_body(content = String, content_type = "application/entity-statement+jwt"),
    responses(
        (status = 204, description = "Stored; resolve uses it from now on (or it is the one in force already)"),
        (status = 400, description = "Not a valid self-signed entity configuration of a member, or metadata for a type not approved", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is another member's, revoked, or its member is suspended", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "Not an active member", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Its iat is not newer than the configuration in force", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn update_configuration(
    State(state): State<AppState>,
    crate::mtls::Node(peer): crate::mtls::Node,
    body: String,
) -> Result<StatusCode, ApiError> {
    ena_keys::jose::Unverified::parse(body.trim()).map_err(|e| {
        ApiError::invalid(
            ErrorCode::InvalidBody,
            "The body is not a compact JWS.",
            vec![FieldError::new(e.field, "(JWT)", e.reason)],
        )
    })?;
    anchor(&state).update_configuration(&peer.entity_id, body.trim()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the federation has said about an entity: statements, trust marks, certificates — each with the
/// index of its transparency-log entry.
#[utoipa::path(get, path = "/federation/v1/history", tag = "federation", operation_id = "entityHistory",
    params(
        ("sub" = String, Query, description = "Entity identifier"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "Newest first", body = ListPage<HistoryItem>),
        (status = 400, description = "sub missing or bad paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn history(State(state): State<AppState>, query: ApiQuery) -> Result<Json<ListPage<HistoryItem>>, ApiError> {
    let sub = required(&query, "sub")?;
    let p = query.page(Vec::new())?;
    Ok(Json(ListPage::of(p, anchor(&state).history(sub, p.limit + 1, p.offset()).await?)))
}

/// The member node calling, as its federation certificate proves (node mTLS listener only).
#[utoipa::path(get, path = "/federation/v1/whoami", tag = "federation", operation_id = "whoAmI",
    responses(
        (status = 200, description = "The verified member", body = ena_federation::NodePeer),
        (status = 401, description = "Not called over the node listener with a client certificate", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is revoked or the member is suspended", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn whoami(node: crate::mtls::Node) -> Json<ena_federation::NodePeer> {
    Json(node.0)
}

/// The calling member's own entry in the federation's registry: its standing, approved entity types,
/// the agreement version it accepted and its certificate in force (`ena node status` shows it).
#[utoipa::path(get, path = "/federation/v1/membership", tag = "federation", operation_id = "getOwnMembership",
    responses(
        (status = 200, description = "The calling member's entry", body = Member),
        (status = 401, description = "Not called over the node listener with a client certificate", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is revoked or the member is suspended", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn own_membership(State(state): State<AppState>, node: crate::mtls::Node) -> Result<Json<Member>, ApiError> {
    Ok(Json(anchor(&state).member(&node.0.entity_id).await?))
}
