//! The error-code registry: every `code` an ena API can put in a problem+json body is listed here, once.
//!
//! Codes are stable strings (clients match on them); the HTTP status and title belong to the code, so the
//! same failure always looks the same whichever block raises it. The server maps a code to a response;
//! this crate knows nothing of HTTP beyond the status number.

/// One entry in the registry. Add a variant here before using a new code anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The path matches no route.
    RouteNotFound,
    /// The path exists but not with this method.
    MethodNotAllowed,
    /// The body is not syntactically valid JSON.
    MalformedJson,
    /// The body is JSON but does not fit the contract (wrong type, missing or unknown field).
    InvalidBody,
    /// The request declared a content type the operation does not accept.
    UnsupportedMediaType,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// A query or path parameter is malformed.
    InvalidParameter,
    /// The input is well-formed but breaks a domain rule; `invalid-parameters` says which.
    ValidationFailed,
    /// A Swedish identity or organisation number failed to parse.
    InvalidIdentifier,
    /// The addressed resource does not exist.
    ResourceNotFound,
    /// No valid credentials were presented.
    AuthenticationRequired,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// The request conflicts with the current state (e.g. a checkpoint inconsistent with one seen before).
    Conflict,
    /// The resource was served once and is no longer (a retired API version); `detail` says what replaces it.
    Gone,
    /// An `If-Match` precondition failed: the resource changed since the revision the client holds.
    PreconditionFailed,
    /// Too many attempts (e.g. verification codes); `detail` says when to try again.
    TooManyRequests,
    /// The request took longer than the server allows.
    RequestTimeout,
    /// The database (or another dependency) does not answer.
    ServiceUnavailable,
    /// An unexpected failure; details are in the server log under the trace id, never in the response.
    Internal,
}

impl ErrorCode {
    /// Every code, in registry order (used by the docs page and the OpenAPI document).
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::RouteNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::MalformedJson,
        ErrorCode::InvalidBody,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::PayloadTooLarge,
        ErrorCode::InvalidParameter,
        ErrorCode::ValidationFailed,
        ErrorCode::InvalidIdentifier,
        ErrorCode::ResourceNotFound,
        ErrorCode::AuthenticationRequired,
        ErrorCode::PermissionDenied,
        ErrorCode::Conflict,
        ErrorCode::Gone,
        ErrorCode::PreconditionFailed,
        ErrorCode::TooManyRequests,
        ErrorCode::RequestTimeout,
        ErrorCode::ServiceUnavailable,
        ErrorCode::Internal,
    ];

    /// The stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::RouteNotFound => "route-not-found",
            ErrorCode::MethodNotAllowed => "method-not-allowed",
            ErrorCode::MalformedJson => "malformed-json",
            ErrorCode::InvalidBody => "invalid-body",
            ErrorCode::UnsupportedMediaType => "unsupported-media-type",
            ErrorCode::PayloadTooLarge => "payload-too-large",
            ErrorCode::InvalidParameter => "invalid-parameter",
            ErrorCode::ValidationFailed => "validation-failed",
            ErrorCode::InvalidIdentifier => "invalid-identifier",
            ErrorCode::ResourceNotFound => "resource-not-found",
            ErrorCode::AuthenticationRequired => "authentication-required",
            ErrorCode::PermissionDenied => "permission-denied",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Gone => "gone",
            ErrorCode::PreconditionFailed => "precondition-failed",
            ErrorCode::TooManyRequests => "too-many-requests",
            ErrorCode::RequestTimeout => "request-timeout",
            ErrorCode::ServiceUnavailable => "service-unavailable",
            ErrorCode::Internal => "internal-error",
        }
    }

    /// The HTTP status this code is always sent with.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::RouteNotFound | ErrorCode::ResourceNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::AuthenticationRequired => 401,
            ErrorCode::PermissionDenied => 403,
            ErrorCode::Conflict => 409,
            ErrorCode::Gone => 410,
            ErrorCode::PreconditionFailed => 412,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::MalformedJson
            | ErrorCode::InvalidBody
            | ErrorCode::InvalidParameter
            | ErrorCode::ValidationFailed
            | ErrorCode::InvalidIdentifier => 400,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::ServiceUnavailable => 503,
            ErrorCode::Internal => 500,
        }
    }

    /// A short, human-readable summary that does not change from occurrence to occurrence (RFC 9457 `title`).
    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::RouteNotFound => "No such resource path",
            ErrorCode::MethodNotAllowed => "Method not allowed on this resource",
            ErrorCode::MalformedJson => "Request body is not valid JSON",
            ErrorCode::InvalidBody => "Request body does not match the schema",
            ErrorCode::UnsupportedMediaType => "Unsupported content type",
            ErrorCode::PayloadTooLarge => "Request body too large",
            ErrorCode::InvalidParameter => "Invalid parameter",
            ErrorCode::ValidationFailed => "Validation failed",
            ErrorCode::InvalidIdentifier => "Invalid identifier",
            ErrorCode::ResourceNotFound => "Resource not found",
            ErrorCode::AuthenticationRequired => "Authentication required",
            ErrorCode::PermissionDenied => "Permission denied",
            ErrorCode::Conflict => "Conflict with the current state",
            ErrorCode::Gone => "No longer served",
            ErrorCode::PreconditionFailed => "The resource changed since the given revision",
            ErrorCode::TooManyRequests => "Too many attempts",
            ErrorCode::RequestTimeout => "Request timed out",
            ErrorCode::ServiceUnavailable => "Service unavailable",
            ErrorCode::Internal => "Internal server error",
        }
    }

    /// The code whose status is `status`, for errors raised below the handlers (router, middleware).
    pub fn for_status(status: u16) -> ErrorCode {
        match status {
            404 => ErrorCode::RouteNotFound,
            401 => ErrorCode::AuthenticationRequired,
            403 => ErrorCode::PermissionDenied,
            409 => ErrorCode::Conflict,
            410 => ErrorCode::Gone,
            412 => ErrorCode::PreconditionFailed,
            429 => ErrorCode::TooManyRequests,
            405 => ErrorCode::MethodNotAllowed,
            408 => ErrorCode::RequestTimeout,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            503 => ErrorCode::ServiceUnavailable,
            400..=499 => ErrorCode::InvalidParameter,
            _ => ErrorCode::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.code()), "duplicate code {}", code.code());
            assert!(code.code().chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            assert!((400..600).contains(&code.status()));
        }
    }

    #[test]
    fn for_status_round_trips_the_statuses_the_router_raises() {
        for status in [401, 403, 404, 405, 408, 409, 413, 415, 503] {
            assert_eq!(ErrorCode::for_status(status).status(), status);
        }
    }
}
