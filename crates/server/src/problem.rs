//! RFC 9457 problem details: the one error shape of every ena API.
//!
//! Handlers return [`ApiError`]; its response carries a [`Problem`] in the response extensions and no
//! body yet. The edge's `finish` then writes the body, filling in `instance` (the request
//! path) and the trace id, and turns any other error response on an API path — the router's 404/405, a
//! body-limit 413, a timeout — into a problem too, so no API path ever answers with HTML or an empty body.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ena_core::{ErrorCode, FieldError};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem, before the middleware has placed it (it lacks `instance` until then).
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub instance: String,
    pub code: &'static str,
    #[serde(rename = "invalid-parameters", skip_serializing_if = "Vec::is_empty")]
    pub invalid_parameters: Vec<FieldError>,
    #[serde(rename = "traceId", skip_serializing_if = "String::is_empty")]
    pub trace_id: String,
    /// OpenID Federation endpoints also give the spec's `error` code (e.g. `invalid_trust_chain`) and
    /// `error_description`, so federation clients that expect them find them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl Problem {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: type_uri(code),
            title: code.title(),
            status: code.status(),
            detail: detail.into(),
            instance: String::new(),
            code: code.code(),
            invalid_parameters: Vec::new(),
            trace_id: String::new(),
            error: None,
            error_description: None,
        }
    }
}

/// Where a code is documented: the error table of the API reference page.
pub fn type_uri(code: ErrorCode) -> String {
    format!("/docs#error-{}", code.code())
}

/// The error type every handler returns.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError(Problem::new(code, detail))
    }

    /// A 400 naming each bad field.
    pub fn invalid(code: ErrorCode, detail: impl Into<String>, fields: Vec<FieldError>) -> ApiError {
        let mut problem = Problem::new(code, detail);
        problem.invalid_parameters = fields;
        ApiError(problem)
    }

    /// What a portal page says when a form's change failed: each bad field with its reason, or the
    /// detail when no field is named.
    pub fn fields_or_detail(&self) -> String {
        let named: Vec<String> =
            self.0.invalid_parameters.iter().map(|p| format!("{}: {}", p.property, p.reason)).collect();
        if named.is_empty() { self.0.detail.clone() } else { named.join("; ") }
    }

    /// An unexpected failure: logged with its cause, shown to the client without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            ErrorCode::Internal,
            "An unexpected error occurred; the server log has the details under this traceId.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        response.extensions_mut().insert(self.0);
        response
    }
}

impl From<ena_plan::PlanError> for ApiError {
    fn from(error: ena_plan::PlanError) -> ApiError {
        use ena_plan::PlanError;
        match error {
            PlanError::BlockNotFound(id) => {
                ApiError::new(ErrorCode::ResourceNotFound, format!("No building block has id {id:?}."))
            }
            PlanError::CategoryNotFound(id) => ApiError::invalid(
                ErrorCode::InvalidParameter,
                "The category filter names no category.",
                vec![FieldError::new("category", id, "no such category")],
            ),
            PlanError::Invalid(fields) => ApiError::invalid(
                ErrorCode::ValidationFailed,
                "The plan breaks the rules listed in invalid-parameters.",
                fields,
            ),
            PlanError::NoPlan | PlanError::Database(_) | PlanError::Audit(_) => ApiError::internal(&error),
        }
    }
}

/// Is this an API path (`/{api}/v{n}/…`, or a machine endpoint) rather than a portal page?
pub fn is_api_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    let _api = segments.next();
    let version = segments.next().unwrap_or("");
    (version.len() > 1 && version.starts_with('v') && version[1..].chars().all(|c| c.is_ascii_digit()))
        || matches!(path, "/openapi.json" | "/healthz" | "/readyz" | "/metrics")
}

/// What finishing a response's problem needs to know of its request, taken before the request goes in
/// (the URI is reference-counted bytes: cheap to keep).
pub struct Asked {
    uri: axum::http::Uri,
    /// A browser asking for a portal page: an error becomes the portal's error page.
    html: bool,
}

impl Asked {
    pub fn of(request: &Request) -> Asked {
        let uri = request.uri().clone();
        let html = !is_api_path(uri.path())
            && request
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"));
        Asked { uri, html }
    }
}

/// Write the response's problem body, and turn a bare error response into a problem (or, for a browser
/// on a portal path, into the portal's error page). A success leaves at once.
pub fn finish(asked: &Asked, trace_id: &str, mut response: Response) -> Response {
    let status = response.status();
    if status.is_success() && response.extensions().get::<Problem>().is_none() {
        return response;
    }
    let path = asked.uri.path();
    let problem = match response.extensions_mut().remove::<Problem>() {
        Some(problem) => problem,
        None if status.is_client_error() || status.is_server_error() => {
            let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            // Already a problem, or a page a portal handler wrote (its text says why, for any client);
            // anything else — and any HTML on an API path — is replaced.
            let already_shaped =
                content_type.starts_with(PROBLEM_JSON) || (content_type.starts_with("text/html") && !is_api_path(path));
            if already_shaped {
                return response;
            }
            let code = ErrorCode::for_status(status.as_u16());
            let detail = match code {
                ErrorCode::RouteNotFound => {
                    format!("Nothing is served at {path}; see /docs for the APIs.")
                }
                ErrorCode::MethodNotAllowed => {
                    format!("{path} does not accept this method; the Allow header lists those it does.")
                }
                ErrorCode::PayloadTooLarge => "The request body is larger than the server accepts.".to_owned(),
                ErrorCode::RequestTimeout => "The request took longer than the server allows.".to_owned(),
                _ => status.canonical_reason().unwrap_or("Error").to_owned(),
            };
            let mut problem = Problem::new(code, detail);
            problem.status = status.as_u16();
            problem
        }
        None => return response,
    };
    if asked.html {
        return crate::site::portal::error_page(status, &problem.detail);
    }
    let mut problem = problem;
    // A layer that must not echo the path (it holds an identity number) sets a redacted one itself.
    if problem.instance.is_empty() {
        problem.instance = path.to_owned();
    }
    problem.trace_id = trace_id.to_owned();
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths() {
        assert!(is_api_path("/plan/v1/blocks"));
        assert!(is_api_path("/nothing/v2"));
        assert!(is_api_path("/metrics"));
        assert!(!is_api_path("/"));
        assert!(!is_api_path("/byggblock"));
        assert!(!is_api_path("/plan/vx"));
    }
}
