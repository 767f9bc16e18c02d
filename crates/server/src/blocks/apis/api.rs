//! `/apis/v1`: lint an OpenAPI document against the REST API profile, compare two versions of one.

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use ena_apis::{DiffReport, DocumentError, Report};
use ena_core::{ErrorCode, FieldError};
use serde::Deserialize;
use utoipa::ToSchema;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ena_apis::catalog::{Api, ApiInput, CatalogError, Version};
use serde::Serialize;

use crate::AppState;
use crate::apis::{APIS_API, ApiInfo};
use crate::auth::MemberOrganisation;
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::paging::ListPage;
use crate::problem::ApiError;
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Public, routes!(lint))
        .api(Caller::Public, routes!(diff))
        .api(Caller::Public, routes!(search_apis))
        .api(Caller::Member, routes!(register_api))
        .api(Caller::Public, routes!(get_api))
        .api(Caller::Public, routes!(list_versions))
        .api(Caller::Member, routes!(upload_version))
        .api(Caller::Public, routes!(get_version))
        .api(Caller::Member, routes!(publish_version))
        .api(Caller::Member, routes!(deprecate_version))
        .api(Caller::Member, routes!(retire_version))
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> ApiError {
        match e {
            CatalogError::Invalid(fields) => {
                let detail =
                    fields.iter().map(|f| format!("{}: {}", f.property, f.reason)).collect::<Vec<_>>().join("; ");
                ApiError::invalid(ErrorCode::ValidationFailed, format!("{detail}."), fields)
            }
            CatalogError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
            CatalogError::Forbidden(m) => ApiError::new(ErrorCode::PermissionDenied, m),
            CatalogError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            CatalogError::Internal(m) => ApiError::internal(&m),
        }
    }
}

/// The catalog: APIs whose name, id or description holds `q`, carrying `tag`, by id.
#[utoipa::path(get, path = "/apis/v1/apis", tag = "apis", operation_id = "searchApis",
    params(("q" = Option<String>, Query, description = "Words in the name, id or description"),
           ("tag" = Option<String>, Query, description = "Only APIs with this tag"),
           ("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of APIs", body = Object),
        (status = 400, description = "A bad limit or page (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn search_apis(State(state): State<AppState>, query: ApiQuery) -> Result<Json<ListPage<Api>>, ApiError> {
    let p = query.page(Vec::new())?;
    let found = state
        .catalog
        .search(query.str("q").unwrap_or_default(), query.str("tag").filter(|t| !t.is_empty()), p.limit + 1, p.offset())
        .await?;
    Ok(Json(ListPage::of(p, found)))
}

/// Register an API in the catalog, owned by the calling organisation.
#[utoipa::path(post, path = "/apis/v1/apis", tag = "apis", operation_id = "registerApi",
    request_body(content = ApiInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Api),
        (status = 400, description = "A bad id, name, contact, description or tags (each named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The id is taken", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn register_api(
    State(state): State<AppState>,
    m: MemberOrganisation,
    ApiJson(input): ApiJson<ApiInput>,
) -> Result<Response, ApiError> {
    // The serving node must be one of the organisation's own member nodes in good standing: its gateway
    // then enforces this API's plans, and no one else's API can be put on it.
    if let Some(node) = &input.node {
        let member = ena_federation::repo::member(&state.store, node).await.map_err(|e| ApiError::internal(&e))?;
        if !member.is_some_and(|n| n.organisation_number == m.organisation && n.status == "active") {
            let why = "a member node of your own organisation, in good standing";
            return Err(ApiError::invalid(
                ErrorCode::ValidationFailed,
                format!("node: {why}."),
                vec![FieldError::new("node", node, why)],
            ));
        }
    }
    let api = state.catalog.register(&m.ctx, &m.organisation, input).await?;
    Ok((StatusCode::CREATED, Json(api)).into_response())
}

/// One API of the catalog.
#[utoipa::path(get, path = "/apis/v1/apis/{apiId}", tag = "apis", operation_id = "getApi",
    params(("apiId" = String, Path, description = "The API's id")),
    responses(
        (status = 200, description = "The API", body = Api),
        (status = 404, description = "No such API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_api(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Api>, ApiError> {
    Ok(Json(state.catalog.api(&id).await?))
}

/// The versions of an API, newest first.
#[utoipa::path(get, path = "/apis/v1/apis/{apiId}/versions", tag = "apis", operation_id = "listApiVersions",
    params(("apiId" = String, Path, description = "The API's id")),
    responses(
        (status = 200, description = "Its versions (at most 200)", body = Object),
        (status = 404, description = "No such API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_versions(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let items = state.catalog.versions(&id).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// A version with its lint report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionReport {
    pub version: Version,
    #[schema(value_type = Object)]
    pub lint: serde_json::Value,
    /// How many subscribed applications called this major version in the last 30 days (while no other
    /// version of the major answers for it, they are who a retirement would leave without an answer).
    /// Which they are, the owner reads in the API's usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_count: Option<usize>,
}

/// Upload a version of one of the calling organisation's APIs (the OpenAPI document as the body, JSON or
/// YAML): linted and kept as a draft; its number is the document's `info.version`.
#[utoipa::path(post, path = "/apis/v1/apis/{apiId}/versions", tag = "apis", operation_id = "uploadApiVersion",
    params(("apiId" = String, Path, description = "The API's id")),
    request_body(content((Object = "application/json"), (String = "application/yaml")), description = "The OpenAPI document"),
    responses(
        (status = 201, description = "Kept as a draft, with its lint report", body = VersionReport),
        (status = 400, description = "Not JSON, YAML or OpenAPI (line and column), or no usable info.version", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Another organisation's API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "That version exists", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the body limit", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor YAML", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn upload_version(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    document_media(&headers)?;
    let (version, report) = state.catalog.add_version(&m.ctx, &m.organisation, &id, &body).await?;
    let lint = serde_json::to_value(report).map_err(|e| ApiError::internal(&e))?;
    Ok((StatusCode::CREATED, Json(VersionReport { version, lint, caller_count: None })).into_response())
}

/// A version with its lint report (the document: `?document=true` adds it).
#[utoipa::path(get, path = "/apis/v1/apis/{apiId}/versions/{version}", tag = "apis", operation_id = "getApiVersion",
    params(("apiId" = String, Path, description = "The API's id"), ("version" = String, Path, description = "The version (info.version)")),
    responses(
        (status = 200, description = "The version and its lint report", body = VersionReport),
        (status = 404, description = "No such API or version", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_version(
    State(state): State<AppState>,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<VersionReport>, ApiError> {
    let v = state.catalog.version(&id, &version).await?;
    let (_, lint) = state.catalog.document(&id, &version).await?;
    let caller_count = if v.status == "draft" { None } else { Some(state.catalog.callers(&id, v.major).await?.len()) };
    Ok(Json(VersionReport { version: v, lint, caller_count }))
}

/// Publish a draft version of one of the calling organisation's APIs: refused (409, with why) while it
/// breaks a SKALL rule of the profile, or when it breaks what the newest published version of the same
/// major promised.
#[utoipa::path(post, path = "/apis/v1/apis/{apiId}/versions/{version}/publications", tag = "apis", operation_id = "publishApiVersion",
    params(("apiId" = String, Path, description = "The API's id"), ("version" = String, Path, description = "The version (info.version)")),
    responses(
        (status = 200, description = "Published; with the change report against the previous version of its major, if any", body = Object),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Another organisation's API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such API or version", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft, lint errors, or breaking changes within a major version", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn publish_version(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (v, changes) = state.catalog.publish(&m.ctx, &m.organisation, &id, &version).await?;
    Ok(Json(serde_json::json!({ "version": v, "changes": changes })))
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/apis/v1/api-info", tag = "apis", operation_id = "apisApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(APIS_API.info())
}

/// A document that cannot be read, as a problem naming where (`field`: the body, or the field it came in).
fn unreadable(field: &str, e: &DocumentError) -> ApiError {
    let code =
        if matches!(e, DocumentError::TooLarge(_)) { ErrorCode::PayloadTooLarge } else { ErrorCode::InvalidBody };
    ApiError::invalid(code, format!("{field}: {e}."), vec![FieldError::new(field, "(the document)", e.to_string())])
}

/// The media types a document is taken in: JSON, YAML, or OpenAPI's own.
fn document_media(headers: &HeaderMap) -> Result<(), ApiError> {
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let base = media.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let taken = [
        "application/json",
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "application/vnd.oai.openapi",
        "application/vnd.oai.openapi+json",
    ];
    if taken.contains(&base.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("Send the OpenAPI document as application/json or application/yaml, not {media:?}."),
        ))
    }
}

/// Lint an OpenAPI 3.0 or 3.1 document (JSON or YAML, the request body) against DIGG's REST API profile:
/// every finding with its rule id, level (SKALL → error, BÖR → warning), JSON pointer and a one-line hint.
/// A document with errors is still answered 200: the report is the answer.
#[utoipa::path(post, path = "/apis/v1/lint", tag = "apis", operation_id = "lintDocument",
    request_body(content(
        (Object = "application/json"),
        (String = "application/yaml"),
    ), description = "The OpenAPI document"),
    responses(
        (status = 200, description = "The lint report: errors, warnings and each finding", body = Report),
        (status = 400, description = "Not JSON or YAML (the parser's line and column), or not an OpenAPI 3.0/3.1 document (where)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the server's body limit", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor YAML", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn lint(headers: HeaderMap, body: Bytes) -> Result<Json<Report>, ApiError> {
    document_media(&headers)?;
    // Parsing and linting are CPU work: off the request threads, so a large document delays no one else.
    let report = blocking(move || {
        let (doc, _) = ena_apis::parse(&body).map_err(|e| unreadable("body", &e))?;
        Ok(ena_apis::lint(&doc))
    })
    .await?;
    Ok(Json(report))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(&e))?
}

/// Two versions of an API's OpenAPI document, each as its text (JSON or YAML).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiffInput {
    /// The version consumers use now.
    pub old: String,
    /// The version to compare with it.
    pub new: String,
}

/// Compare two versions of an API: every change, compatible or breaking by the profile's VER rules, with
/// its JSON pointer, and whether the new version's numbering admits the breaking ones (a new major and a
/// new `/v{n}` path).
#[utoipa::path(post, path = "/apis/v1/diff", tag = "apis", operation_id = "diffDocuments",
    request_body(content = DiffInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The change report", body = DiffReport),
        (status = 400, description = "Malformed JSON, or a version that is not an OpenAPI document (named: old or new, with the parser's line and column)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn diff(ApiJson(input): ApiJson<DiffInput>) -> Result<Json<DiffReport>, ApiError> {
    let report = blocking(move || {
        let (old, _) = ena_apis::parse(input.old.as_bytes()).map_err(|e| unreadable("old", &e))?;
        let (new, _) = ena_apis::parse(input.new.as_bytes()).map_err(|e| unreadable("new", &e))?;
        Ok(ena_apis::diff(&old, &new))
    })
    .await?;
    Ok(Json(report))
}

/// A deprecation: until when the version answers, and what to move to.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeprecationInput {
    /// RFC 3339, at least a day ahead.
    #[schema(example = "2027-06-30T00:00:00Z")]
    pub sunset: String,
    /// A published version of the same API.
    #[schema(example = "2.0.0")]
    pub successor: Option<String>,
}

/// Deprecate a published version of one of the calling organisation's APIs: it answers until its sunset,
/// and names its successor.
#[utoipa::path(post, path = "/apis/v1/apis/{apiId}/versions/{version}/deprecations", tag = "apis", operation_id = "deprecateApiVersion",
    params(("apiId" = String, Path, description = "The API's id"), ("version" = String, Path, description = "The version (info.version)")),
    request_body(content = DeprecationInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Deprecated", body = Version),
        (status = 400, description = "A sunset that is not an RFC 3339 date-time a day ahead, or a successor that is not a published version (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Another organisation's API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such API or version", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Not a published version", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn deprecate_version(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path((id, version)): Path<(String, String)>,
    ApiJson(input): ApiJson<DeprecationInput>,
) -> Result<Json<Version>, ApiError> {
    let v = state
        .catalog
        .deprecate(&m.ctx, &m.organisation, &id, &version, &input.sunset, input.successor.as_deref())
        .await?;
    Ok(Json(v))
}

/// Retire a deprecated version of one of the calling organisation's APIs once its sunset has passed.
#[utoipa::path(post, path = "/apis/v1/apis/{apiId}/versions/{version}/retirements", tag = "apis", operation_id = "retireApiVersion",
    params(("apiId" = String, Path, description = "The API's id"), ("version" = String, Path, description = "The version (info.version)")),
    responses(
        (status = 200, description = "Retired", body = Version),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Another organisation's API", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such API or version", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Not deprecated, or before its sunset", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn retire_version(
    State(state): State<AppState>,
    m: MemberOrganisation,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<Version>, ApiError> {
    Ok(Json(state.catalog.retire(&m.ctx, &m.organisation, &id, &version).await?))
}
