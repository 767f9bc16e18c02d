//! `/apis/v1`: lint an OpenAPI document against the REST API profile, compare two versions of one.

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use ena_apis::{DiffReport, DocumentError, Report};
use ena_core::{ErrorCode, FieldError};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::apis::{APIS_API, ApiInfo};
use crate::callers::{Caller, Routes};
use crate::extract::ApiJson;
use crate::problem::ApiError;
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Public, routes!(lint))
        .api(Caller::Public, routes!(diff))
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
