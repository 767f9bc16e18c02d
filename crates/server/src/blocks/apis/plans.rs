//! `/apis/v1` plans, subscriptions, the gateways' table and usage, notices, and the operator's recorded
//! exceptions. The rules are `ena_apis::plans`; who may call what is in [`router`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ena_apis::catalog::Version;
use ena_apis::gateway::{Table, UsageRow};
use ena_apis::plans::{Notice, Plan, PlanInput, Step, Subscription, SubscriptionInput, Usage};
use ena_core::{ErrorCode, FieldError};
use serde::Deserialize;
use sha2::Digest;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{MemberOrganisation, Operator};
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::paging::ListPage;
use crate::problem::ApiError;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(list_plans))
        .api(Caller::Member, routes!(add_plan))
        .api(Caller::Member, routes!(subscribe))
        .api(Caller::Member, routes!(list_subscriptions))
        .api(Caller::Member, routes!(get_subscription))
        .api(Caller::Member, routes!(approve_subscription))
        .api(Caller::Member, routes!(suspend_subscription))
        .api(Caller::Member, routes!(revoke_subscription))
        .api(Caller::Member, routes!(api_usage))
        .api(Caller::Member, routes!(list_notices))
        .api(Caller::MemberNode, routes!(gateway_table))
        .api(Caller::MemberNode, routes!(report_usage))
        .api(Caller::Operator, routes!(grant_exception))
        .api(Caller::Operator, routes!(override_retirement))
}

/// The plans of an API.
#[utoipa::path(get, path = "/apis/v1/apis/{apiId}/plans", tag = "apis", operation_id = "listApiPlans",
    params(("apiId" = String, Path, description = "The API's id")),
    responses(
        (status = 200, description = "Its plans (at most 100)", body = Object),
        (status = 404, description = "No such API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_plans(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let items = state.catalog.plans(&id).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// Offer a plan on one of the calling organisation's APIs.
#[utoipa::path(post, path = "/apis/v1/apis/{apiId}/plans", tag = "apis", operation_id = "addApiPlan",
    params(("apiId" = String, Path, description = "The API's id")),
    request_body(content = PlanInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Offered", body = Plan),
        (status = 400, description = "A bad id, name, rate, burst, quota, organisation, trust mark, LoA or size (each named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Another organisation's API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The plan id is taken", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn add_plan(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<PlanInput>,
) -> Result<Response, ApiError> {
    let plan = state.catalog.add_plan(&m.ctx, &m.organisation, &id, input).await?;
    Ok((StatusCode::CREATED, Json(plan)).into_response())
}

/// Subscribe one of the calling organisation's applications (one of its addresses) to a plan: active
/// at once, or pending until the producer approves when the plan says so.
#[utoipa::path(post, path = "/apis/v1/apis/{apiId}/subscriptions", tag = "apis", operation_id = "subscribeToApi",
    params(("apiId" = String, Path, description = "The API's id")),
    request_body(content = SubscriptionInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Subscribed (active or pending)", body = Subscription),
        (status = 400, description = "No such plan, or an application that is not the organisation's address (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The plan is not open to the organisation, or needs a trust mark it lacks", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The application already has a subscription to the API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn subscribe(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SubscriptionInput>,
) -> Result<Response, ApiError> {
    let held = state.federation.organisation_trust_marks(&m.organisation).await.map_err(|e| ApiError::internal(&e))?;
    let s = state.catalog.subscribe(&m.ctx, &m.organisation, &held, &id, input).await?;
    Ok((StatusCode::CREATED, Json(s)).into_response())
}

/// The calling organisation's subscriptions, and those to its APIs, newest first.
#[utoipa::path(get, path = "/apis/v1/subscriptions", tag = "apis", operation_id = "listApiSubscriptions",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of subscriptions", body = Object),
        (status = 400, description = "A bad limit or page (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    m: MemberOrganisation,
    query: ApiQuery,
) -> Result<Json<ListPage<Subscription>>, ApiError> {
    let p = query.page(Vec::new())?;
    let found = state.catalog.subscriptions(&m.organisation, p.limit + 1, p.offset()).await?;
    Ok(Json(ListPage::of(p, found)))
}

async fn visible(state: &AppState, organisation: &str, id: &str) -> Result<Subscription, ApiError> {
    let s = state.catalog.subscription(id).await?;
    let owner = state.catalog.api(&s.api_id).await?.owner;
    if s.organisation != organisation && owner != organisation {
        return Err(ApiError::new(ErrorCode::ResourceNotFound, format!("No subscription {id}.")));
    }
    Ok(s)
}

/// One subscription (the subscriber's or the producer's).
#[utoipa::path(get, path = "/apis/v1/subscriptions/{subscriptionId}", tag = "apis", operation_id = "getApiSubscription",
    params(("subscriptionId" = String, Path, description = "The subscription's id")),
    responses(
        (status = 200, description = "The subscription", body = Subscription),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription of or to the organisation", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_subscription(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path(id): Path<String>,
) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(visible(&state, &m.organisation, &id).await?))
}

/// Why a subscription is suspended or revoked.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReasonInput {
    /// At most 500 characters.
    #[schema(example = "Calls beyond the agreed purpose")]
    pub reason: Option<String>,
}

async fn step(
    state: &AppState,
    m: &MemberOrganisation,
    id: &str,
    step: Step,
    reason: Option<&str>,
) -> Result<Json<Subscription>, ApiError> {
    visible(state, &m.organisation, id).await?;
    Ok(Json(state.catalog.step(&m.ctx, &m.organisation, id, step, reason).await?))
}

/// Approve a pending subscription to one of the calling organisation's APIs, or resume a suspended one.
#[utoipa::path(post, path = "/apis/v1/subscriptions/{subscriptionId}/approvals", tag = "apis", operation_id = "approveApiSubscription",
    params(("subscriptionId" = String, Path, description = "The subscription's id")),
    responses(
        (status = 200, description = "Active", body = Subscription),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Not the API's owner", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Neither pending nor suspended", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn approve_subscription(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path(id): Path<String>,
) -> Result<Json<Subscription>, ApiError> {
    step(&state, &m, &id, Step::Approve, None).await
}

/// Suspend an active subscription to one of the calling organisation's APIs (its calls are refused).
#[utoipa::path(post, path = "/apis/v1/subscriptions/{subscriptionId}/suspensions", tag = "apis", operation_id = "suspendApiSubscription",
    params(("subscriptionId" = String, Path, description = "The subscription's id")),
    request_body(content = ReasonInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Suspended", body = Subscription),
        (status = 400, description = "A reason over 500 characters", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Not the API's owner", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Not active", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn suspend_subscription(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ReasonInput>,
) -> Result<Json<Subscription>, ApiError> {
    step(&state, &m, &id, Step::Suspend, input.reason.as_deref()).await
}

/// Revoke a subscription: the API's owner, or the subscriber its own. It stays as history.
#[utoipa::path(post, path = "/apis/v1/subscriptions/{subscriptionId}/revocations", tag = "apis", operation_id = "revokeApiSubscription",
    params(("subscriptionId" = String, Path, description = "The subscription's id")),
    request_body(content = ReasonInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Revoked", body = Subscription),
        (status = 400, description = "A reason over 500 characters", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Already revoked", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn revoke_subscription(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ReasonInput>,
) -> Result<Json<Subscription>, ApiError> {
    step(&state, &m, &id, Step::Revoke, input.reason.as_deref()).await
}

/// Use of an API per major version and application over the last `days` days (1–90, default 30), as its
/// gateways counted: all of it for the owner, the organisation's own applications for a subscriber.
#[utoipa::path(get, path = "/apis/v1/apis/{apiId}/usage", tag = "apis", operation_id = "getApiUsage",
    params(("apiId" = String, Path, description = "The API's id"), ("days" = Option<u32>, Query, description = "1–90, default 30")),
    responses(
        (status = 200, description = "Calls, errors, refusals and calls to deprecated versions or operations", body = Object),
        (status = 400, description = "A bad days (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn api_usage(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path(id): Path<String>,
    query: ApiQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let days = match query.str("days") {
        None => 30,
        Some(d) => d.parse::<i64>().ok().filter(|d| (1..=90).contains(d)).ok_or_else(|| {
            ApiError::invalid(ErrorCode::InvalidParameter, "days: 1–90.", vec![FieldError::new("days", d, "1–90")])
        })?,
    };
    let items: Vec<Usage> = state.catalog.usage(&id, &m.organisation, days).await?;
    Ok(Json(serde_json::json!({ "days": days, "items": items })))
}

/// Notices to the calling organisation of new versions and deprecations of APIs it subscribes to.
#[utoipa::path(get, path = "/apis/v1/notices", tag = "apis", operation_id = "listApiNotices",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of notices, newest first", body = Object),
        (status = 400, description = "A bad limit or page (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_notices(
    State(state): State<AppState>,
    m: MemberOrganisation,
    query: ApiQuery,
) -> Result<Json<ListPage<Notice>>, ApiError> {
    let p = query.page(Vec::new())?;
    let found = state.catalog.notices(&m.organisation, p.limit + 1, p.offset()).await?;
    Ok(Json(ListPage::of(p, found)))
}

/// What the calling node's gateway enforces: the APIs the catalog says it serves, each major's
/// lifecycle, the plans and the subscriptions. With `If-None-Match`, 304 while nothing changed.
#[utoipa::path(get, path = "/apis/v1/gateway", tag = "apis", operation_id = "getGatewayTable",
    security(("nodeCertificate" = [])),
    responses(
        (status = 200, description = "The table, with an ETag", body = Table),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 401, description = "Not called on the node listener with a member's certificate", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn gateway_table(
    State(state): State<AppState>,
    crate::mtls::Node(peer): crate::mtls::Node,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let table = state.catalog.gateway_table(&peer.entity_id, &peer.organisation_number).await?;
    let body = serde_json::to_vec(&table).map_err(|e| ApiError::internal(&e))?;
    // The tag is the content's hash, so every instance gives the same one for the same table.
    let etag = format!("\"{}\"", ena_core::hex(&sha2::Sha256::digest(&body)[..16]));
    let unchanged = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str());
    let mut r = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    if let Ok(v) = etag.parse() {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

/// A gateway's usage report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageReport {
    /// The node process's id for its counts (a restart starts new ones).
    #[schema(example = "0193f5e2-7a00-7000-8000-000000000000")]
    pub boot: String,
    /// At most 1000 rows, absolute counts since `boot`.
    pub rows: Vec<UsageRow>,
}

/// A member node reports what its gateway counted for the APIs it serves (absolute since its process
/// started, so a report sent twice changes nothing).
#[utoipa::path(post, path = "/apis/v1/usage", tag = "apis", operation_id = "reportApiUsage",
    security(("nodeCertificate" = [])),
    request_body(content = UsageReport, content_type = "application/json"),
    responses(
        (status = 200, description = "How many rows were taken", body = Object),
        (status = 400, description = "Malformed, over 1000 rows, or an API the node does not serve (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "Not called on the node listener with a member's certificate", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn report_usage(
    State(state): State<AppState>,
    crate::mtls::Node(peer): crate::mtls::Node,
    ApiJson(report): ApiJson<UsageReport>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let taken =
        state.catalog.report_usage(&peer.entity_id, &peer.organisation_number, &report.boot, &report.rows).await?;
    Ok(Json(serde_json::json!({ "taken": taken })))
}

/// The operator's exception: SKALL rules a draft may be published with, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExceptionInput {
    #[schema(example = json!(["DOK.15"]))]
    pub rules: Vec<String>,
    /// 10–500 characters.
    #[schema(example = "Examples follow in 1.2.1; the consumers have the document meanwhile")]
    pub reason: String,
}

/// Record an exception (operator): the named SKALL rules, which the draft breaks, do not block its
/// publication. An audit event names who and why.
#[utoipa::path(post, path = "/apis/v1/apis/{apiId}/versions/{version}/exceptions", tag = "apis", operation_id = "grantLintException",
    params(("apiId" = String, Path, description = "The API's id"), ("version" = String, Path, description = "The version (info.version)")),
    request_body(content = ExceptionInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded", body = Version),
        (status = 400, description = "No rules, a rule the draft does not break, or a reason not 10–500 characters (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "Not the operator", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such API or version", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn grant_exception(
    State(state): State<AppState>,
    op: Operator,
    Path((id, version)): Path<(String, String)>,
    ApiJson(input): ApiJson<ExceptionInput>,
) -> Result<Json<Version>, ApiError> {
    Ok(Json(state.catalog.grant_exception(&op.ctx, &id, &version, &input.rules, &input.reason).await?))
}

/// Why a version may be retired although applications still call it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverrideInput {
    /// 10–500 characters.
    #[schema(example = "The remaining caller has confirmed it moves before the sunset")]
    pub reason: String,
}

/// Record an override (operator): the deprecated version may be retired although subscribed
/// applications called it within the last 30 days.
#[utoipa::path(post, path = "/apis/v1/apis/{apiId}/versions/{version}/retirement-overrides", tag = "apis", operation_id = "overrideRetirement",
    params(("apiId" = String, Path, description = "The API's id"), ("version" = String, Path, description = "The version (info.version)")),
    request_body(content = OverrideInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded", body = Version),
        (status = 400, description = "A reason not 10–500 characters", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "Not the operator", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such API or version", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Not deprecated", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn override_retirement(
    State(state): State<AppState>,
    op: Operator,
    Path((id, version)): Path<(String, String)>,
    ApiJson(input): ApiJson<OverrideInput>,
) -> Result<Json<Version>, ApiError> {
    Ok(Json(state.catalog.override_retirement(&op.ctx, &id, &version, &input.reason).await?))
}
