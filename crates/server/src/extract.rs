//! Request extractors that fail with problem+json naming the bad field, never with axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use ena_core::{ErrorCode, FieldError, Page};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use crate::problem::ApiError;

/// A JSON body, parsed with the path of any bad field (`blocks[2].lines[0].costs[1].amount`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != "application/json" && !(essence.starts_with("application/") && essence.ends_with("+json")) {
            return Err(ApiError::invalid(
                ErrorCode::UnsupportedMediaType,
                "Send the body as application/json.",
                vec![FieldError::new("Content-Type", content_type, "must be application/json")],
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge, "The request body is larger than the server accepts.")
            } else {
                ApiError::new(ErrorCode::InvalidBody, format!("The request body could not be read: {rejection}."))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parse `bytes` as JSON into `T`, telling syntax errors (with position) from contract errors (with path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // A syntax pass first, so a malformed document is reported as such even if its prefix also breaks the contract.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        let position = format!("line {} column {}", e.line(), e.column());
        return Err(ApiError::invalid(
            ErrorCode::MalformedJson,
            format!("The body is not valid JSON: {e}."),
            vec![FieldError::new("body", position, e.to_string())],
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        // The path already ends in an unknown field's name; at the root it is ".", so name the field.
        let property = match message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next()) {
            _ if path != "." => path,
            Some(field) => field.to_owned(),
            None => "body".to_owned(),
        };
        ApiError::invalid(
            ErrorCode::InvalidBody,
            format!("The body does not match the schema at {property}: {message}."),
            vec![FieldError::missing(property, message)],
        )
    })
}

/// Query parameters as strings; typed access reports the parameter by name.
#[derive(Debug, Default)]
pub struct ApiQuery(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ApiQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state).await.map_err(|e| {
            ApiError::new(ErrorCode::InvalidParameter, format!("The query string could not be read: {e}."))
        })?;
        Ok(ApiQuery(map))
    }
}

impl ApiQuery {
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An integer parameter; a non-integer value is a field error naming the parameter.
    pub fn int(&self, name: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
        let raw = self.0.get(name)?;
        match raw.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(FieldError::new(name, raw, "must be an integer"));
                None
            }
        }
    }

    /// `limit` and `page`, checked together with any other errors already found.
    pub fn page(&self, mut errors: Vec<FieldError>) -> Result<Page, ApiError> {
        let limit = self.int("limit", &mut errors);
        let page = self.int("page", &mut errors);
        match Page::new(limit, page) {
            Ok(page) if errors.is_empty() => Ok(page),
            Ok(_) => Err(bad_query(errors)),
            Err(more) => Err(bad_query(errors.into_iter().chain(more).collect())),
        }
    }
}

fn bad_query(errors: Vec<FieldError>) -> ApiError {
    ApiError::invalid(ErrorCode::InvalidParameter, "Some query parameters are invalid; see invalid-parameters.", errors)
}
