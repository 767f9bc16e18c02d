//! `/representation/v1`: Mina ombud — the check for member systems (access token), and for logged-in
//! persons (portal session; changes need LoA ≥ 3): whom they can act for, their mandates, grants,
//! approvals, requests, answers, revocations and notices.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ena_core::{ErrorCode, FieldError};
use ena_identity::loa::Loa;
use ena_representation::{ActingFor, CheckInput, CheckResult, GrantInput, Mandate, Notice, ReprError};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::AppState;
use crate::apis::{ApiInfo, REPRESENTATION_API};
use crate::auth::{ApiCaller, Person};
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::paging::ListPage;
use crate::problem::ApiError;
use utoipa_axum::routes;

/// Changing mandates is an e-ID-authenticated act at this level or higher.
pub const CHANGE_LOA: Loa = Loa(3);

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Public, routes!(packages))
        .api(Caller::MemberSystem, routes!(check))
        .api(Caller::Person(2), routes!(acting_for))
        .api(Caller::Person(2), routes!(list))
        .api(Caller::Person(3), routes!(grant))
        .api(Caller::Person(2), routes!(may_grant))
        .api(Caller::Person(3), routes!(request))
        .api(Caller::Person(2), routes!(one))
        .api(Caller::Person(3), routes!(step))
        .api(Caller::Person(2), routes!(notices))
}

impl From<ReprError> for ApiError {
    fn from(e: ReprError) -> ApiError {
        let fields = |f: &str, r: &str| vec![FieldError::new(f, "(given)", r)];
        match e {
            ReprError::Invalid(f, r) => {
                ApiError::invalid(ErrorCode::ValidationFailed, format!("{f}: {r}."), fields(&f, &r))
            }
            ReprError::Forbidden(f, r) => {
                ApiError::invalid(ErrorCode::PermissionDenied, format!("{f}: {r}."), fields(&f, &r))
            }
            ReprError::Conflict(f, r) => ApiError::invalid(ErrorCode::Conflict, format!("{f}: {r}."), fields(&f, &r)),
            ReprError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
            ReprError::Internal(m) => ApiError::internal(&m),
        }
    }
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/representation/v1/api-info", tag = "representation", operation_id = "representationApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(REPRESENTATION_API.info())
}

/// The packages (mandate themes) and the services that need them.
#[utoipa::path(get, path = "/representation/v1/packages", tag = "representation", operation_id = "listPackages",
    responses((status = 200, description = "packages (with the register roles that hold them, assignable, delegable) and services", body = Object)))]
pub async fn packages(State(state): State<AppState>) -> Json<Value> {
    Json(ena_representation::catalog_json(state.representation.catalog()))
}

/// May the agent act for the principal on the service at the time? Answered by the decision point with
/// the basis (register role, or the chain of mandates); every check is logged with the principal as data
/// subject. For member systems with an access token.
#[utoipa::path(post, path = "/representation/v1/check", tag = "representation", operation_id = "checkRepresentation",
    request_body(content = CheckInput, content_type = "application/json"),
    responses(
        (status = 200, description = "allowed, the package the service needs, the basis and the deciding policies", body = CheckResult),
        (status = 400, description = "An unknown party, service or action, or a bad time; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "No policy lets this member check representation", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn check(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<CheckInput>,
) -> Result<Json<CheckResult>, ApiError> {
    crate::blocks::access::api::member_may(&state, &caller, "representation").await?;
    Ok(Json(state.representation.check(&caller.client, &body).await?))
}

/// Whom the logged-in person can act for: themselves, their companies (register roles), and those who
/// gave them mandates in force.
#[utoipa::path(get, path = "/representation/v1/acting-for", tag = "representation", operation_id = "actingFor",
    responses(
        (status = 200, description = "Parties with the basis and the packages held", body = Vec<ActingFor>),
    ))]
pub async fn acting_for(State(state): State<AppState>, Person(s): Person) -> Result<Json<Vec<ActingFor>>, ApiError> {
    Ok(Json(state.representation.acting_for(&s.person).await?))
}

/// Mandates of a party the person speaks for or has a role in: `view=granted` (the party is principal),
/// `received` (agent) or `expired` (ended within 15 months).
#[utoipa::path(get, path = "/representation/v1/mandates", tag = "representation", operation_id = "listMandates",
    params(
        ("party" = Option<String>, Query, description = "Organisation number of a company the person has a role in; the person themself when left out (identity numbers never go in URLs)"),
        ("view" = Option<String>, Query, description = "granted (default), received or expired"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of mandates with status, approvals and why", body = ListPage<Mandate>),
        (status = 400, description = "Bad view, party or paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Not the person's own party or company", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Person(s): Person,
    query: ApiQuery,
) -> Result<Json<ListPage<Mandate>>, ApiError> {
    let p = query.page(Vec::new())?;
    let party = query.str("party").unwrap_or(s.person.as_str()).to_owned();
    let view = query.str("view").unwrap_or("granted");
    Ok(Json(ListPage::of(p, state.representation.list(&s.person, &party, view, p.limit + 1, p.offset()).await?)))
}

/// One mandate (a party's side only).
#[utoipa::path(get, path = "/representation/v1/mandates/{id}", tag = "representation", operation_id = "getMandate",
    params(("id" = String, Path, description = "Mandate id")),
    responses(
        (status = 200, description = "The mandate with its approvals and why", body = Mandate),
        (status = 404, description = "No such mandate among the person's", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn one(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
) -> Result<Json<Mandate>, ApiError> {
    Ok(Json(state.representation.view_for(&s.person, &id).await?))
}

/// Grant a mandate (LoA ≥ 3). From the person, from a company the person signs for (active when the
/// signing rule is met; the others approve), or pass on a mandate (`parent`) within what it holds.
#[utoipa::path(post, path = "/representation/v1/mandates", tag = "representation", operation_id = "grantMandate",
    request_body(content = GrantInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Granted: active, or pending further signatures", body = Mandate),
        (status = 400, description = "A mandate to oneself, validTo before validFrom or missing, unknown or non-assignable or non-delegable packages; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Below LoA 3, not a signatory of the company, or granting more than is held", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn grant(
    State(state): State<AppState>,
    Person(s): Person,
    ApiJson(body): ApiJson<GrantInput>,
) -> Result<Response, ApiError> {
    let m = state.representation.grant(&s.person, &body).await?;
    Ok((StatusCode::CREATED, Json(m)).into_response())
}

/// "May I delegate this?": the same checks as a grant, nothing stored.
#[utoipa::path(post, path = "/representation/v1/mandate-checks", tag = "representation", operation_id = "checkGrant",
    request_body(content = GrantInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The grant is possible: who the grantor is and how many signatures it needs", body = Object),
        (status = 400, description = "Why not (invalid input); invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Why not (no authority, or more than is held)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn may_grant(
    State(state): State<AppState>,
    Person(s): Person,
    ApiJson(body): ApiJson<GrantInput>,
) -> Result<Json<Value>, ApiError> {
    let m = state.representation.may_grant(&s.person, &body).await?;
    Ok(Json(json!({"allowed": true, "grantor": m.grantor, "requiredApprovals": m.required_approvals})))
}

/// Ask a principal for a mandate (LoA ≥ 3), for oneself or a company one signs for.
#[utoipa::path(post, path = "/representation/v1/requests", tag = "representation", operation_id = "requestMandate",
    request_body(content = GrantInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Requested; the principal's side is told", body = Mandate),
        (status = 400, description = "Invalid input; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Below LoA 3, or requesting for someone else", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn request(
    State(state): State<AppState>,
    Person(s): Person,
    ApiJson(body): ApiJson<GrantInput>,
) -> Result<Response, ApiError> {
    let m = state.representation.request(&s.person, &body).await?;
    Ok((StatusCode::CREATED, Json(m)).into_response())
}

/// The body of a step (JSON, so that a cross-site form cannot send it).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepIn {}

/// A step on a mandate (LoA ≥ 3): `approve` (a signatory of the grantor), `accept` or `decline` (a
/// request, by the principal's side), `revoke` (the principal's, grantor's or agent's side).
#[utoipa::path(post, path = "/representation/v1/mandates/{id}/{step}", tag = "representation", operation_id = "mandateStep",
    params(("id" = String, Path, description = "Mandate id"), ("step" = String, Path, description = "approve, accept, decline or revoke")),
    request_body(content = StepIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The mandate after the step", body = Mandate),
        (status = 403, description = "Below LoA 3, or not a party who may take this step", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such mandate or step", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Already approved by this person, or not in a state for this step", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn step(
    State(state): State<AppState>,
    Person(s): Person,
    Path((id, step)): Path<(String, String)>,
    ApiJson(_body): ApiJson<StepIn>,
) -> Result<Json<Mandate>, ApiError> {
    let r = &state.representation;
    let m = match step.as_str() {
        "approve" => r.approve(&s.person, &id).await?,
        "accept" => r.respond(&s.person, &id, true).await?,
        "decline" => r.respond(&s.person, &id, false).await?,
        "revoke" => r.revoke(&s.person, &id).await?,
        other => {
            return Err(ApiError::new(
                ErrorCode::ResourceNotFound,
                format!("no step {other:?}: approve, accept, decline or revoke"),
            ));
        }
    };
    Ok(Json(m))
}

/// Notices to the person or a company they have a role in, newest first.
#[utoipa::path(get, path = "/representation/v1/notices", tag = "representation", operation_id = "listNotices",
    params(
        ("party" = Option<String>, Query, description = "Organisation number of a company the person has a role in; the person themself when left out (identity numbers never go in URLs)"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "Notices", body = Vec<Notice>),
        (status = 403, description = "Not the person's notices", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn notices(
    State(state): State<AppState>,
    Person(s): Person,
    query: ApiQuery,
) -> Result<Json<Vec<Notice>>, ApiError> {
    let p = query.page(Vec::new())?;
    let party = query.str("party").unwrap_or(s.person.as_str()).to_owned();
    let offset = p.offset();
    Ok(Json(state.representation.notices(&s.person, &party, p.limit, offset).await?))
}
