//! `/cases/v1`: Mina ärenden. An organisation's member system (identity-bound access token) creates and
//! changes its cases and adds transmissions; a person with a portal session reads their own cases and
//! those of every party they act for (`/cases/v1/my/…`), with their own labels and read marks.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ena_audit::Context;
use ena_cases::{
    Agency, Case, CaseError, CaseInput, CaseUpdate, History, Listed, Sort, Transmission, TransmissionInput,
};
use ena_core::{ErrorCode, FieldError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::AppState;
use crate::apis::{ApiInfo, CASES_API};
use crate::auth::Person;
use crate::blocks::addresses::api::{etag, revision_header};
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::paging::ListPage;
use crate::problem::ApiError;

/// Changes and reads of a person's own view need LoA 3 (cases can be sensitive), as Mina sidor does.
pub const MY_LOA: u8 = 3;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Member, routes!(create_case))
        .api(Caller::Member, routes!(list_own_cases))
        .api(Caller::Member, routes!(get_case))
        .api(Caller::Member, routes!(update_case))
        .api(Caller::Member, routes!(get_case_history))
        .api(Caller::Member, routes!(add_transmission))
        .api(Caller::Member, routes!(get_transmission))
        .api(Caller::Person(MY_LOA), routes!(list_my_cases))
        .api(Caller::Person(MY_LOA), routes!(get_my_case))
        .api(Caller::Person(MY_LOA), routes!(change_labels))
        .api(Caller::Person(MY_LOA), routes!(mark_read))
}

impl From<CaseError> for ApiError {
    fn from(e: CaseError) -> ApiError {
        match e {
            CaseError::Invalid(fields) => {
                ApiError::invalid(ErrorCode::ValidationFailed, CaseError::Invalid(fields.clone()).to_string(), fields)
            }
            CaseError::Forbidden(m) => ApiError::new(ErrorCode::PermissionDenied, m),
            CaseError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
            e @ CaseError::Stale { .. } => ApiError::invalid(
                ErrorCode::PreconditionFailed,
                format!("{e}; read it again and retry."),
                vec![FieldError::new("If-Match", "(given)", e.to_string())],
            ),
            CaseError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            CaseError::Internal(m) => ApiError::internal(&m),
        }
    }
}

/// The organisation calling (`auth::MemberOrganisation`) as the keeper of its cases: only the
/// organisation that keeps a case may read or change it.
#[derive(Debug, Clone)]
pub struct Keeper {
    pub agency: Agency,
    pub ctx: Context,
}

impl FromRequestParts<AppState> for Keeper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let who = crate::auth::MemberOrganisation::from_request_parts(parts, state).await?;
        // The member's name goes on the cases it keeps (only this block needs it: one query, here).
        let name = ena_federation::repo::member(&state.store, &who.client).await.ok().flatten().map(|m| m.name);
        Ok(Keeper { agency: Agency { organisation: who.organisation, name }, ctx: who.ctx })
    }
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/cases/v1/api-info", tag = "cases", operation_id = "casesApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(CASES_API.info())
}

fn with_etag(status: StatusCode, case: Case) -> Response {
    (status, [(header::ETAG, etag(case.revision))], Json(case)).into_response()
}

/// Create a case for a party. The same `idempotencyKey` again answers 200 with the case made the first time.
#[utoipa::path(post, path = "/cases/v1/cases", tag = "cases", operation_id = "createCase",
    request_body(content = CaseInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; ETag is its revision", body = Case),
        (status = 200, description = "Made before with this idempotency key", body = Case),
        (status = 400, description = "Bad party, service, status, texts, dates, decision date or actions; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn create_case(
    State(state): State<AppState>,
    who: Keeper,
    ApiJson(body): ApiJson<CaseInput>,
) -> Result<Response, ApiError> {
    let (case, created) = state.cases.create(&state.audit, &who.ctx, &who.agency, body).await?;
    Ok(with_etag(if created { StatusCode::CREATED } else { StatusCode::OK }, case))
}

/// The organisation's own cases, newest change first; `overdue=true` for its follow-up of cases past
/// their committed decision date without a decision.
#[utoipa::path(get, path = "/cases/v1/cases", tag = "cases", operation_id = "listOwnCases",
    params(
        ("overdue" = Option<bool>, Query, description = "Only cases past their expected-decision date without a decision"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of the organisation's cases", body = ListPage<Case>),
        (status = 400, description = "Bad overdue or paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_own_cases(
    State(state): State<AppState>,
    who: Keeper,
    query: ApiQuery,
) -> Result<Json<ListPage<Case>>, ApiError> {
    let mut errors = Vec::new();
    let overdue = flag(&query, "overdue", &mut errors);
    let p = query.page(errors)?;
    Ok(Json(ListPage::of(p, state.cases.of_organisation(&who.agency, overdue, p.limit + 1, p.offset()).await?)))
}

/// One case of the organisation's (a read, recorded with the party as data subject).
#[utoipa::path(get, path = "/cases/v1/cases/{caseId}", tag = "cases", operation_id = "getCase",
    params(("caseId" = String, Path, description = "The case id")),
    responses(
        (status = 200, description = "The case; ETag is its revision", body = Case),
        (status = 403, description = "Another organisation keeps the case", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_case(
    State(state): State<AppState>,
    who: Keeper,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(with_etag(StatusCode::OK, state.cases.get(&state.audit, &who.ctx, &who.agency, &id).await?))
}

/// Change a case: only the fields given; `If-Match` (its ETag) is required. Only allowed status
/// transitions; a moved expected-decision date needs a reason and joins its history.
#[utoipa::path(patch, path = "/cases/v1/cases/{caseId}", tag = "cases", operation_id = "updateCase",
    params(
        ("caseId" = String, Path, description = "The case id"),
        ("If-Match" = String, Header, description = "The ETag this change builds on"),
    ),
    request_body(content = CaseUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed; ETag is the new revision", body = Case),
        (status = 400, description = "A transition not allowed, a date moved without a reason or into the past, bad texts or actions, no If-Match; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Another organisation keeps the case", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is not the case's revision: read it again", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn update_case(
    State(state): State<AppState>,
    who: Keeper,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CaseUpdate>,
) -> Result<Response, ApiError> {
    let Some(if_match) = revision_header(&headers, header::IF_MATCH)? else {
        return Err(ApiError::invalid(
            ErrorCode::InvalidParameter,
            "A change needs If-Match with the case's ETag (read the case first).",
            vec![FieldError::new("If-Match", "(missing)", "the ETag of the case, like \"3\"")],
        ));
    };
    let case = state.cases.update(&state.audit, &who.ctx, &who.agency, &id, if_match, body).await?;
    Ok(with_etag(StatusCode::OK, case))
}

/// A case's transmissions, activities, seen-log (masked) and the history of its decision date.
#[utoipa::path(get, path = "/cases/v1/cases/{caseId}/history", tag = "cases", operation_id = "getCaseHistory",
    params(("caseId" = String, Path, description = "The case id")),
    responses(
        (status = 200, description = "The history, oldest first", body = History),
        (status = 403, description = "Another organisation keeps the case", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_case_history(
    State(state): State<AppState>,
    who: Keeper,
    Path(id): Path<String>,
) -> Result<Json<History>, ApiError> {
    state.cases.get(&state.audit, &who.ctx, &who.agency, &id).await?;
    Ok(Json(state.cases.history(&id).await?))
}

/// Add an immutable transmission (information, request, decision, …; a correction is a new one that
/// names the one it corrects). A `decision` decides the case.
#[utoipa::path(post, path = "/cases/v1/cases/{caseId}/transmissions", tag = "cases", operation_id = "addTransmission",
    params(("caseId" = String, Path, description = "The case id")),
    request_body(content = TransmissionInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Added", body = Transmission),
        (status = 400, description = "Bad kind, texts, attachments or related transmission; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Another organisation keeps the case", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The message is in the case already", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn add_transmission(
    State(state): State<AppState>,
    who: Keeper,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransmissionInput>,
) -> Result<Response, ApiError> {
    let message = body.message_id.clone();
    let t = state.cases.transmit(&state.audit, &who.ctx, &who.agency, &id, body, message).await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

/// One transmission. Transmissions never change: PUT, PATCH and DELETE answer 405 (send a correction).
#[utoipa::path(get, path = "/cases/v1/cases/{caseId}/transmissions/{transmissionId}", tag = "cases", operation_id = "getTransmission",
    params(("caseId" = String, Path, description = "The case id"), ("transmissionId" = String, Path, description = "The transmission id")),
    responses(
        (status = 200, description = "The transmission", body = Transmission),
        (status = 403, description = "Another organisation keeps the case", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such case or transmission", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_transmission(
    State(state): State<AppState>,
    who: Keeper,
    Path((id, transmission)): Path<(String, String)>,
) -> Result<Json<Transmission>, ApiError> {
    state.cases.get(&state.audit, &who.ctx, &who.agency, &id).await?;
    let all = state.cases.history(&id).await?.transmissions;
    all.into_iter().find(|t| t.id == transmission).map(Json).ok_or_else(|| {
        ApiError::new(ErrorCode::ResourceNotFound, format!("case {id} has no transmission {transmission}"))
    })
}

/// A page of a person's cases: `nextCursor` continues after the last (with `sort=contentUpdated`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CasePage {
    pub items: Vec<Listed>,
    pub page: u32,
    pub limit: u32,
    pub has_more: bool,
    /// Give as `cursor` for the next page (newest change first; stable while cases change).
    pub next_cursor: Option<String>,
}

/// My cases and those of every party I act for (Mina ombud: only the services my mandates cover), in
/// one list. Paging: `limit` + `page` as the REST API profile says; `cursor` (from `nextCursor`) for
/// large or synchronising clients — it stays stable while cases change and costs the same on every page.
#[utoipa::path(get, path = "/cases/v1/my/cases", tag = "cases", operation_id = "listMyCases",
    params(
        ("status" = Option<String>, Query, description = "Comma-separated: draft, in-progress, awaiting, requires-attention, completed"),
        ("organisation" = Option<String>, Query, description = "The organisation keeping the case (organisationsnummer)"),
        ("service" = Option<String>, Query, description = "e.g. kommun/mina-arenden"),
        ("lifeEvent" = Option<String>, Query, description = "e.g. flytt"),
        ("updatedFrom" = Option<String>, Query, description = "RFC 3339: content changed at or after"),
        ("updatedTo" = Option<String>, Query, description = "RFC 3339: content changed before"),
        ("unseen" = Option<bool>, Query, description = "Only cases whose latest content I have not seen"),
        ("overdue" = Option<bool>, Query, description = "Only cases past their expected-decision date without a decision"),
        ("label" = Option<String>, Query, description = "Only cases I gave this label (archive, bin or my own)"),
        ("q" = Option<String>, Query, description = "Free text in titles, summaries and the reference"),
        ("sort" = Option<String>, Query, description = "contentUpdated (default, newest first), due, created"),
        ("cursor" = Option<String>, Query, description = "The nextCursor of the previous page (sort=contentUpdated, no page)"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of cases with whether I saw them and my labels", body = CasePage),
        (status = 400, description = "A malformed filter; invalid-parameters names each", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_my_cases(
    State(state): State<AppState>,
    Person(s): Person,
    query: ApiQuery,
) -> Result<Json<CasePage>, ApiError> {
    let (filter, sort, p) = super::filter_of(&query)?;
    let scopes = super::scopes(&state, &s.person).await?;
    let ctx = super::person_context(&s);
    let fetched = state
        .cases
        .list(&state.audit, &ctx, s.person.as_str(), &scopes, &filter, sort, p.limit + 1, p.offset())
        .await?;
    let (items, has_more) = p.trim(fetched);
    let next_cursor = has_more.then(|| items.last().map(super::cursor_of)).flatten();
    Ok(Json(CasePage { items, page: p.page, limit: p.limit, has_more, next_cursor }))
}

/// A case with its history, as its party sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenedCase {
    pub case: Case,
    pub history: History,
}

/// Open one of my cases (or of a party I act for): the read is recorded and joins the case's seen-log.
#[utoipa::path(get, path = "/cases/v1/my/cases/{caseId}", tag = "cases", operation_id = "getMyCase",
    params(("caseId" = String, Path, description = "The case id")),
    responses(
        (status = 200, description = "The case and its history", body = OpenedCase),
        (status = 404, description = "Not a case of mine or of a party I may act for in its service", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_my_case(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
) -> Result<Json<OpenedCase>, ApiError> {
    let scopes = super::scopes(&state, &s.person).await?;
    let ctx = super::person_context(&s);
    let (case, history) = state.cases.open(&state.audit, &ctx, s.person.as_str(), &scopes, &id).await?;
    Ok(Json(OpenedCase { case, history }))
}

/// Put my label on cases, or take it off (bulk).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelChange {
    pub case_ids: Vec<String>,
    /// `archive`, `bin` or my own word (1–40 characters).
    #[schema(example = "archive")]
    pub label: String,
    /// true to add, false to remove.
    pub add: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelChanged {
    /// How many cases changed.
    pub changed: u64,
}

/// Label cases of mine (bulk): `archive`, `bin` or my own labels; only I see them.
#[utoipa::path(post, path = "/cases/v1/my/label-changes", tag = "cases", operation_id = "changeMyLabels",
    request_body(content = LabelChange, content_type = "application/json"),
    responses(
        (status = 200, description = "Labels changed", body = LabelChanged),
        (status = 400, description = "A bad label, or a case not among mine (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn change_labels(
    State(state): State<AppState>,
    Person(s): Person,
    ApiJson(body): ApiJson<LabelChange>,
) -> Result<Json<LabelChanged>, ApiError> {
    let scopes = super::scopes(&state, &s.person).await?;
    let changed = state.cases.label(s.person.as_str(), &scopes, &body.case_ids, &body.label, body.add).await?;
    Ok(Json(LabelChanged { changed }))
}

/// Mark cases read or unread (bulk).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadMark {
    pub case_ids: Vec<String>,
    pub read: bool,
}

/// Mark cases of mine read (as if opened, without reading their history) or unread again.
#[utoipa::path(post, path = "/cases/v1/my/read-marks", tag = "cases", operation_id = "markMyCases",
    request_body(content = ReadMark, content_type = "application/json"),
    responses(
        (status = 204, description = "Marked"),
        (status = 400, description = "A case not among mine (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn mark_read(
    State(state): State<AppState>,
    Person(s): Person,
    ApiJson(body): ApiJson<ReadMark>,
) -> Result<StatusCode, ApiError> {
    let scopes = super::scopes(&state, &s.person).await?;
    state.cases.mark(s.person.as_str(), &scopes, &body.case_ids, body.read).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A `true`/`false` query parameter (absent: false).
pub(crate) fn flag(query: &ApiQuery, name: &str, errors: &mut Vec<FieldError>) -> bool {
    match query.str(name) {
        None | Some("false") | Some("") => false,
        Some("true") => true,
        Some(other) => {
            errors.push(FieldError::new(name, other, "true or false"));
            false
        }
    }
}

pub(super) const SORTS: &[(&str, Sort)] =
    &[("contentUpdated", Sort::ContentUpdated), ("due", Sort::Due), ("created", Sort::Created)];
