//! `/plan/v1`: building blocks and the cost model (seed chapters 2–4).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ena_plan::{BlockView, CostReport, Plan};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::apis::{ApiInfo, PLAN_API};
use crate::auth::Operator;
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::problem::ApiError;
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Public, routes!(list_blocks))
        .api(Caller::Public, routes!(get_block))
        .api(Caller::Public, routes!(cost_summary))
        .api(Caller::Public, routes!(calculate))
        .api(Caller::Public, routes!(get_plan))
        .api(Caller::Operator, routes!(replace_plan))
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/plan/v1/api-info", tag = "plan", operation_id = "planApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(PLAN_API.info())
}

/// One page of building blocks.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockPage {
    pub items: Vec<BlockView>,
    /// The page shown, starting at 1.
    pub page: u32,
    pub limit: u32,
    /// Number of blocks matching the filter, over all pages.
    pub total: u64,
}

/// List the building blocks with their dependencies and computed yearly costs.
#[utoipa::path(get, path = "/plan/v1/blocks", tag = "plan", operation_id = "listBlocks",
    params(
        ("category" = Option<String>, Query, description = "Only blocks of this category id, e.g. `tillit-och-sakerhet`"),
        ("limit" = Option<u32>, Query, description = "Blocks per page, 1–100 (default 20)"),
        ("page" = Option<u32>, Query, description = "Page number, starting at 1 (default 1)"),
    ),
    responses(
        (status = 200, description = "One page of building blocks in plan order", body = BlockPage),
        (status = 400, description = "A query parameter is invalid (limit, page or an unknown category)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_blocks(State(state): State<AppState>, query: ApiQuery) -> Result<Json<BlockPage>, ApiError> {
    let page = query.page(Vec::new())?;
    let paged = state.plans.list_blocks(query.str("category"), page).await?;
    Ok(Json(BlockPage { items: paged.items, page: paged.page, limit: paged.limit, total: paged.total }))
}

/// One building block.
#[utoipa::path(get, path = "/plan/v1/blocks/{id}", tag = "plan", operation_id = "getBlock",
    params(("id" = String, Path, description = "Block id, e.g. `mina-ombud`")),
    responses(
        (status = 200, description = "The block with its dependencies, dependents, cost lines and computed costs", body = BlockView),
        (status = 404, description = "No block has this id", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_block(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<BlockView>, ApiError> {
    Ok(Json(state.plans.get_block(&id).await?))
}

/// The cost tables of the stored plan: per year identified blocks, governance lines, additional blocks
/// and totals; development vs operations; the schablon with the average it came from.
#[utoipa::path(get, path = "/plan/v1/cost-summary", tag = "plan", operation_id = "getCostSummary",
    responses((status = 200, description = "The cost model's result for the stored plan", body = CostReport)))]
pub async fn cost_summary(State(state): State<AppState>) -> Result<Response, ApiError> {
    let snapshot = state.plans.cost_summary().await?;
    Ok(Json(&snapshot.report).into_response())
}

/// Run the cost model on a plan sent in the body (what-if); nothing is stored.
#[utoipa::path(post, path = "/plan/v1/cost-calculations", tag = "plan", operation_id = "calculateCosts",
    request_body(content = Plan, description = "A whole plan, in the same shape as the shipped data/plan/plan.toml", content_type = "application/json"),
    responses(
        (status = 200, description = "The cost model's result for the plan sent", body = CostReport),
        (status = 400, description = "Malformed JSON, a body that does not match the schema (wrong type, missing or unknown field), or a plan that breaks a rule; invalid-parameters names each field", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than the server's limit", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as application/json", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn calculate(ApiJson(plan): ApiJson<Plan>) -> Result<Json<CostReport>, ApiError> {
    Ok(Json(ena_plan::calculate(&plan)?))
}

/// The stored plan, in the shape `PUT` takes.
#[utoipa::path(get, path = "/plan/v1/plan", tag = "plan", operation_id = "getPlan",
    responses((status = 200, description = "The whole stored plan", body = Plan)))]
pub async fn get_plan(State(state): State<AppState>) -> Result<Response, ApiError> {
    let snapshot = state.plans.snapshot().await?;
    Ok(Json(&snapshot.plan).into_response())
}

/// Replace the stored plan (operator). Every attempt, valid or not, is an audit event.
#[utoipa::path(put, path = "/plan/v1/plan", tag = "plan", operation_id = "replacePlan",
    request_body(content = Plan, description = "A whole plan, as returned by GET", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored; the cost model's result for the new plan", body = CostReport),
        (status = 400, description = "Malformed JSON, a body that does not match the schema, or a plan that breaks a rule; invalid-parameters names each field; nothing is stored", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn replace_plan(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(plan): ApiJson<Plan>,
) -> Result<Response, ApiError> {
    state.plans.replace_plan(&state.audit, &operator.ctx, &plan).await?;
    let snapshot = state.plans.cost_summary().await?;
    Ok(Json(&snapshot.report).into_response())
}
