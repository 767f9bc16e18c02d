//! `/access/v1`: the decision point — OpenID AuthZEN evaluation (single and batch) for member systems
//! with an access token, discovery at `/.well-known/authzen-configuration`, and the stored Cedar
//! policies (operator).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ena_access::{AccessError, AccessRequest, Action, PolicyRecord, Thing};
use ena_core::{ErrorCode, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::AppState;
use crate::apis::{ACCESS_API, ApiInfo};
use crate::auth::{ApiCaller, Operator};
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::paging::ListPage;
use crate::problem::ApiError;
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Public, routes!(configuration))
        .api(Caller::MemberSystem, routes!(evaluation))
        .api(Caller::MemberSystem, routes!(evaluations))
        .api(Caller::Operator, routes!(list_policies))
        .api(Caller::Operator, routes!(get_policy))
        .api(Caller::Operator, routes!(put_policy))
        .api(Caller::Operator, routes!(delete_policy))
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> ApiError {
        match e {
            AccessError::Invalid(field, reason) => ApiError::invalid(
                ErrorCode::ValidationFailed,
                format!("{field}: {reason}."),
                vec![FieldError::new(field, "(given)", reason)],
            ),
            AccessError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
            AccessError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            AccessError::Database(e) => ApiError::internal(&e),
            AccessError::Internal(e) => ApiError::internal(&e),
        }
    }
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/access/v1/api-info", tag = "access", operation_id = "accessApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(ACCESS_API.info())
}

/// AuthZEN metadata: where the evaluation endpoints are.
#[utoipa::path(get, path = "/.well-known/authzen-configuration", tag = "access", operation_id = "authzenConfiguration",
    responses((status = 200, description = "policy_decision_point, access_evaluation_endpoint, access_evaluations_endpoint", body = Object)))]
pub async fn configuration(State(state): State<AppState>) -> Json<Value> {
    let base = &state.identity.base_url;
    Json(json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
    }))
}

/// May the member system that called `evaluate` on ena's API `api`? The decision point says.
pub(crate) async fn member_may(
    state: &AppState,
    caller: &ena_identity::token::Caller,
    api: &str,
) -> Result<(), ApiError> {
    let decision = state
        .access
        .decide_simple(
            ("member", &caller.client),
            &[("organisationNumber", &caller.organisation_number)],
            "evaluate",
            ("api", api),
        )
        .await?;
    if decision.allowed {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::PermissionDenied,
            format!("No policy lets this member system call the {api} API."),
        ))
    }
}

/// Echo `X-Request-ID` as AuthZEN requires.
fn with_request_id(headers: &HeaderMap, body: Value) -> Response {
    let mut response = Json(body).into_response();
    if let Some(id) =
        headers.get("x-request-id").and_then(|v| v.to_str().ok()).and_then(|v| HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

/// Decide one access request (AuthZEN Access Evaluation): `decision`, and in `context` the policies that
/// determined it with their reasons.
#[utoipa::path(post, path = "/access/v1/evaluation", tag = "access", operation_id = "evaluateAccess",
    request_body(content = AccessRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision (a deny is also 200) with its reasons", body = Object),
        (status = 400, description = "A missing or invalid subject, action or resource; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "No policy lets this member ask", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn evaluation(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AccessRequest>,
) -> Result<Response, ApiError> {
    member_may(&state, &caller, "access").await?;
    Ok(with_request_id(&headers, state.access.decide(&body).await?.authzen()))
}

/// The batch request: top-level subject, action, resource and context are defaults for each item.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EvaluationsIn {
    pub subject: Option<Thing>,
    pub action: Option<Action>,
    pub resource: Option<Thing>,
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub evaluations: Vec<Value>,
    #[schema(value_type = Option<Object>)]
    pub options: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationsOut {
    #[schema(value_type = Vec<Object>)]
    pub evaluations: Vec<Value>,
}

/// One AuthZEN decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct SingleDecision {
    pub decision: bool,
    #[schema(value_type = Object)]
    pub context: Value,
}

/// What the batch endpoint answers: one decision per item, or — without items — a single decision
/// (AuthZEN Access Evaluations API). For the document only; handlers build the JSON.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EvaluationsAnswer {
    Batch(EvaluationsOut),
    Single(SingleDecision),
}

/// Fill an item from the batch defaults and parse it.
fn item(defaults: &EvaluationsIn, raw: &Value, index: usize) -> Result<AccessRequest, ApiError> {
    let mut v = json!({
        "subject": defaults.subject, "action": defaults.action, "resource": defaults.resource, "context": defaults.context,
    });
    if let Some(o) = raw.as_object() {
        for (k, val) in o {
            v[k] = val.clone();
        }
    } else {
        return Err(ApiError::invalid(
            ErrorCode::ValidationFailed,
            format!("evaluations[{index}] must be an object."),
            vec![FieldError::new(format!("evaluations[{index}]"), raw, "must be an object")],
        ));
    }
    if v["context"].is_null() {
        v.as_object_mut().map(|o| o.remove("context"));
    }
    serde_json::from_value(v).map_err(|e| {
        ApiError::invalid(
            ErrorCode::ValidationFailed,
            format!("evaluations[{index}]: {e}."),
            vec![FieldError::new(format!("evaluations[{index}]"), "(item)", e.to_string())],
        )
    })
}

/// Decide several access requests (AuthZEN Access Evaluations), in order; `options.evaluations_semantic`
/// is `execute_all` (default), `deny_on_first_deny` or `permit_on_first_permit`.
#[utoipa::path(post, path = "/access/v1/evaluations", tag = "access", operation_id = "evaluateAccessBatch",
    request_body(content = EvaluationsIn, content_type = "application/json"),
    responses(
        (status = 200, description = "One decision per item in request order (cut short by a short-circuit semantic); without items, a single decision", body = EvaluationsAnswer),
        (status = 400, description = "An item lacks subject, action or resource, or an unknown semantic", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn evaluations(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EvaluationsIn>,
) -> Result<Response, ApiError> {
    member_may(&state, &caller, "access").await?;
    let semantic = body
        .options
        .as_ref()
        .and_then(|o| o.get("evaluations_semantic"))
        .and_then(Value::as_str)
        .map_or(Ok(ena_access::Semantic::default()), ena_access::Semantic::parse)?;
    if body.evaluations.is_empty() {
        let single = item(&body, &json!({}), 0)?;
        return Ok(with_request_id(&headers, state.access.decide(&single).await?.authzen()));
    }
    let requests: Vec<AccessRequest> =
        body.evaluations.iter().enumerate().map(|(i, raw)| item(&body, raw, i)).collect::<Result<_, _>>()?;
    let out: Vec<Value> = state
        .access
        .decide_batch(&requests, semantic)
        .await
        .into_iter()
        .map(|result| match result {
            Ok(decision) => decision.authzen(),
            Err(e) => json!({"decision": false, "context": {"error": {"status": 400, "message": e.to_string()}}}),
        })
        .collect();
    Ok(with_request_id(&headers, json!(EvaluationsOut { evaluations: out })))
}

/// The stored policies, by id (operator).
#[utoipa::path(get, path = "/access/v1/policies", tag = "access", operation_id = "listPolicies",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of policies", body = ListPage<PolicyRecord>),
        (status = 400, description = "Bad paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_policies(
    State(state): State<AppState>,
    _operator: Operator,
    query: ApiQuery,
) -> Result<Json<ListPage<PolicyRecord>>, ApiError> {
    let p = query.page(Vec::new())?;
    Ok(Json(ListPage::of(p, state.access.policies(p.limit + 1, p.offset()).await?)))
}

/// One policy (operator).
#[utoipa::path(get, path = "/access/v1/policies/{id}", tag = "access", operation_id = "getPolicy",
    params(("id" = String, Path, description = "Policy id")),
    responses(
        (status = 200, description = "The policy", body = PolicyRecord),
        (status = 404, description = "No such policy", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_policy(
    State(state): State<AppState>,
    _operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<PolicyRecord>, ApiError> {
    Ok(Json(state.access.policy(&id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyIn {
    /// `*`, a resource type, or `type:id`.
    pub resource: String,
    #[serde(default)]
    pub description: String,
    /// One Cedar policy, valid against ena's schema.
    pub text: String,
}

/// Create or replace a policy (operator); it is validated against ena's Cedar schema and takes effect
/// for the next decision. Logged.
#[utoipa::path(put, path = "/access/v1/policies/{id}", tag = "access", operation_id = "putPolicy",
    params(("id" = String, Path, description = "Policy id")),
    request_body(content = PolicyIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored", body = PolicyRecord),
        (status = 400, description = "Not Cedar, not valid against the schema, or a bad resource key; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn put_policy(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PolicyIn>,
) -> Result<Json<PolicyRecord>, ApiError> {
    let stored = state
        .access
        .put_policy(
            &operator.ctx,
            PolicyRecord {
                id: id.clone(),
                resource: body.resource,
                description: body.description,
                text: body.text,
                updated_at: String::new(),
            },
        )
        .await?;
    Ok(Json(stored))
}

/// Delete a policy (operator). Logged.
#[utoipa::path(delete, path = "/access/v1/policies/{id}", tag = "access", operation_id = "deletePolicy",
    params(("id" = String, Path, description = "Policy id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such policy", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn delete_policy(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.access.delete_policy(&operator.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
