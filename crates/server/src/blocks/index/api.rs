//! `/index/v1`: engagements registered by their holders, and finds.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ena_core::ErrorCode;
use ena_index::{
    BatchItem, ChangeItem, Engagement, EngagementInput, EngagementKey, FindInput, Finder, IndexError, ItemOutcome,
    Subscription, SubscriptionInput,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::AppState;
use crate::apis::{ApiInfo, INDEX_API};
use crate::auth::MemberOrganisation;
use crate::callers::{Caller, Routes};
use crate::extract::ApiJson;
use crate::problem::ApiError;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Member, routes!(register_engagement))
        .api(Caller::Member, routes!(register_engagements))
        .api(Caller::Member, routes!(delete_engagement))
        .api(Caller::Member, routes!(find_engagements))
        .api(Caller::Member, routes!(list_subscriptions, subscribe))
        .api(Caller::Member, routes!(unsubscribe))
        .api(Caller::Member, routes!(list_changes))
        .api(Caller::Person(3), routes!(list_my_engagements))
}

/// Who holds information about me: every organisation the index names, with the kind of information and
/// where (my own data: no policy is asked; the reading is recorded).
#[utoipa::path(get, path = "/index/v1/my/engagements", tag = "index", operation_id = "listMyEngagements",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of the engagements about me", body = Object),
        (status = 401, description = "Not logged in", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The session's level of assurance is below 3", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_my_engagements(
    State(state): State<AppState>,
    crate::auth::Person(s): crate::auth::Person,
    query: crate::extract::ApiQuery,
) -> Result<Json<crate::paging::ListPage<Engagement>>, ApiError> {
    let p = query.page(Vec::new())?;
    let ctx = crate::blocks::cases::person_context(&s);
    let rows = state.index.holdings(&ctx, s.person.as_str(), p.limit + 1, p.offset()).await?;
    Ok(Json(crate::paging::ListPage::of(p, rows)))
}

impl From<IndexError> for ApiError {
    fn from(e: IndexError) -> ApiError {
        match e {
            IndexError::Invalid(fields) => ApiError::invalid(
                ErrorCode::ValidationFailed,
                "The request is invalid; invalid-parameters says where.",
                fields,
            ),
            IndexError::Forbidden(m) => ApiError::new(ErrorCode::PermissionDenied, m),
            IndexError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
            IndexError::Internal(m) => ApiError::internal(&m),
        }
    }
}

/// The index API's version and status (REST API profile).
#[utoipa::path(get, path = "/index/v1/api-info", tag = "index", operation_id = "indexApiInfo",
    responses((status = 200, description = "The API's name, version and status", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(INDEX_API.info())
}

/// What a batch did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchOutcome {
    pub accepted: usize,
    pub refused: usize,
    /// One per item, in order.
    pub items: Vec<ItemOutcome>,
}

/// A batch of engagements.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Batch {
    /// 1 to 1 000 items: each an engagement to register (or change), or with `delete: true` to remove.
    pub items: Vec<BatchItem>,
}

/// Register (or update) one engagement of my organisation: that it holds information of a category about
/// an object, and where to ask.
#[utoipa::path(post, path = "/index/v1/engagements", tag = "index", operation_id = "registerEngagement",
    request_body(content = EngagementInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Registered (or updated)", body = ItemOutcome),
        (status = 400, description = "A bad engagement, named by field", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn register_engagement(
    State(state): State<AppState>,
    m: MemberOrganisation,
    ApiJson(body): ApiJson<EngagementInput>,
) -> Result<Json<ItemOutcome>, ApiError> {
    let item = BatchItem {
        delete: false,
        object_type: body.object_type,
        object_id: body.object_id,
        category: body.category,
        address: Some(body.address),
        updated_at: body.updated_at,
        source: body.source,
    };
    let mut out = state.index.register(&m.ctx, &m.organisation, &[item]).await?;
    let one = out.pop().ok_or_else(|| ApiError::internal(&"a batch of one answered nothing"))?;
    if !one.errors.is_empty() {
        let fields = one
            .errors
            .into_iter()
            .map(|mut f| {
                f.property = f.property.trim_start_matches("items/0/").to_owned();
                f
            })
            .collect();
        return Err(IndexError::Invalid(fields).into());
    }
    Ok(Json(one))
}

/// Register, change and remove many engagements of my organisation: each item is taken or refused on
/// its own (with the fields named), the taken ones in one transaction.
#[utoipa::path(post, path = "/index/v1/engagement-batches", tag = "index", operation_id = "registerEngagements",
    request_body(content = Batch, content_type = "application/json"),
    responses(
        (status = 200, description = "Each item's outcome", body = BatchOutcome),
        (status = 400, description = "No items or too many", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn register_engagements(
    State(state): State<AppState>,
    m: MemberOrganisation,
    ApiJson(body): ApiJson<Batch>,
) -> Result<Json<BatchOutcome>, ApiError> {
    let items = state.index.register(&m.ctx, &m.organisation, &body.items).await?;
    let accepted = items.iter().filter(|i| i.status == "accepted").count();
    Ok(Json(BatchOutcome { accepted, refused: items.len() - accepted, items }))
}

/// Remove one engagement of my organisation.
#[utoipa::path(post, path = "/index/v1/engagement-deletions", tag = "index", operation_id = "deleteEngagement",
    request_body(content = EngagementKey, content_type = "application/json"),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "A bad key, named by field", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "My organisation has no such engagement", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn delete_engagement(
    State(state): State<AppState>,
    m: MemberOrganisation,
    ApiJson(body): ApiJson<EngagementKey>,
) -> Result<Response, ApiError> {
    state.index.delete(&m.ctx, &m.organisation, &body).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Found engagements.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    pub items: Vec<Engagement>,
}

/// Who holds information about an object — only of the categories my system may learn of. Asking for a
/// category it may not is refused, the same way whether or not anything is held.
#[utoipa::path(post, path = "/index/v1/searches", tag = "index", operation_id = "findEngagements",
    request_body(content = FindInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The holders, of the categories the caller may learn of", body = Found),
        (status = 400, description = "A bad object id, category or holder, named", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "No policy lets the caller learn of the category asked", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn find_engagements(
    State(state): State<AppState>,
    m: MemberOrganisation,
    ApiJson(body): ApiJson<FindInput>,
) -> Result<Json<Found>, ApiError> {
    let finder = Finder { member: &m.ctx.actor.id, organisation: &m.organisation };
    Ok(Json(Found { items: state.index.find(&m.ctx, &finder, &body).await? }))
}

fn finder(m: &MemberOrganisation) -> Finder<'_> {
    Finder { member: &m.ctx.actor.id, organisation: &m.organisation }
}

/// Follow the changes of a category my system may learn of (refused like a find otherwise); one
/// subscription per category and system.
#[utoipa::path(post, path = "/index/v1/subscriptions", tag = "index", operation_id = "subscribeToCategory",
    request_body(content = SubscriptionInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Subscribed (or the subscription already there)", body = Subscription),
        (status = 400, description = "A bad category, named", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "No policy lets the caller learn of the category", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn subscribe(
    State(state): State<AppState>,
    m: MemberOrganisation,
    ApiJson(body): ApiJson<SubscriptionInput>,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.index.subscribe(&m.ctx, &finder(&m), &body.category).await?)))
}

/// My system's subscriptions.
#[utoipa::path(get, path = "/index/v1/subscriptions", tag = "index", operation_id = "listSubscriptions",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of my system's subscriptions", body = Object),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    m: MemberOrganisation,
    query: crate::extract::ApiQuery,
) -> Result<Json<crate::paging::ListPage<Subscription>>, ApiError> {
    let p = query.page(Vec::new())?;
    let rows = state.index.subscriptions(&m.ctx.actor.id, p.limit + 1, p.offset()).await?;
    Ok(Json(crate::paging::ListPage::of(p, rows)))
}

/// Stop following a category.
#[utoipa::path(delete, path = "/index/v1/subscriptions/{subscriptionId}", tag = "index", operation_id = "unsubscribe",
    params(("subscriptionId" = String, Path, description = "The subscription's id")),
    responses(
        (status = 204, description = "Gone"),
        (status = 404, description = "Not a subscription of my system", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    m: MemberOrganisation,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    state.index.unsubscribe(&m.ctx, &m.ctx.actor.id, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A page of changes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    pub items: Vec<ChangeItem>,
    /// Ask with `after` = this next time (the last `seq` read, or the one asked with).
    pub next: i64,
}

/// The changes in a subscribed category after `after` (a `seq`), oldest first, each with its object
/// (changes are kept 30 days) — only while a policy still lets my system learn of the category.
#[utoipa::path(get, path = "/index/v1/subscriptions/{subscriptionId}/changes", tag = "index", operation_id = "listCategoryChanges",
    params(("subscriptionId" = String, Path, description = "The subscription's id"),
           ("after" = Option<i64>, Query, description = "The last seq read (default 0: from the oldest kept)"),
           ("limit" = Option<u32>, Query, description = "1–1000, default 100")),
    responses(
        (status = 200, description = "The changes", body = Changes),
        (status = 400, description = "A bad after or limit, named", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "No policy lets my system learn of the category any more", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "Not a subscription of my system", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_changes(
    State(state): State<AppState>,
    m: MemberOrganisation,
    axum::extract::Path(id): axum::extract::Path<String>,
    query: crate::extract::ApiQuery,
) -> Result<Json<Changes>, ApiError> {
    let mut errors = Vec::new();
    let after = query.int("after", &mut errors).unwrap_or(0);
    let limit = query.int("limit", &mut errors).unwrap_or(100);
    if after < 0 {
        errors.push(ena_core::FieldError::new("after", after, "0 or more"));
    }
    if !(1..=1000).contains(&limit) {
        errors.push(ena_core::FieldError::new("limit", limit, "between 1 and 1000"));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(
            ErrorCode::InvalidParameter,
            "Some query parameters are invalid; see invalid-parameters.",
            errors,
        ));
    }
    let items = state.index.changes(&m.ctx, &finder(&m), &id, after, limit as u32).await?;
    let next = items.last().map_or(after, |c| c.seq);
    Ok(Json(Changes { items, next }))
}
