//! The edge every listener shares — the central instance's, and a member node's local and peer
//! listeners — so none lacks a layer: outermost first, `observe` (traceparent, log span, metrics) →
//! security headers → `finish_problems` → `refuse_identity_numbers` → panic → 500 problem → (given
//! `Limits`) timeout (408) and body limit (413) → router, with `tag_route` inside to learn the matched
//! route. All of it wraps the router once, as one service.

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::{Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

/// Headers on every response, API and portal pages alike.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];

/// A request taking longer than `timeout` is answered 408 (a route layer: routes added after it, such
/// as streamed uploads, are not timed).
pub fn timeout(timeout: Duration) -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout)
}

/// A body announced larger than `limit` is refused before anything reads it (413).
async fn refuse_large(
    limit: usize,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let announced = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    next.run(request).await
}

/// A listener's whole-router limits: requests longer than `timeout` are answered 408, bodies larger than
/// `body_limit` bytes 413.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub timeout: Duration,
    pub body_limit: usize,
}

/// Wrap a finished router (state given) in the shared layers, with `limits` for every route (a
/// listener that must leave some routes untimed, such as a node's streamed uploads, passes `None`
/// and sets them per route). They wrap the router once,
/// as one service, rather than each route (`Router::layer` would add them to every route's stack, which
/// axum clones per request): the edge then costs the same whatever the number of routes.
pub fn finish(router: Router, limits: Option<Limits>) -> Router {
    let router = router.route_layer(middleware::from_fn(crate::trace::tag_route));
    let router = match limits {
        None => router,
        Some(l) => Router::new().fallback_service(
            tower::ServiceBuilder::new()
                .layer(timeout(l.timeout))
                .layer(middleware::from_fn(move |request: axum::extract::Request, next: middleware::Next| {
                    refuse_large(l.body_limit, request, next)
                }))
                // Bodies without a length are cut at the limit where they are read.
                .layer(DefaultBodyLimit::max(l.body_limit))
                .service(router),
        ),
    };
    let header = |(name, value): (&'static str, &'static str)| {
        SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), HeaderValue::from_static(value))
    };
    let [csp, nosniff, referrer, frames] = SECURITY_HEADERS;
    let service = tower::ServiceBuilder::new()
        // Outermost: the trace layer sees the final response.
        .layer(middleware::from_fn(crate::trace::observe))
        // Security headers on every response, the portal's error pages included.
        .layer(header(csp))
        .layer(header(nosniff))
        .layer(header(referrer))
        .layer(header(frames))
        // Problems are finished after every inner layer (404, 405, 408, 413 and panics included).
        .layer(middleware::from_fn(crate::problem::finish_problems))
        // Before routing: no identity number in a path or query reaches a handler or a log line.
        .layer(middleware::from_fn(crate::privacy::refuse_identity_numbers))
        // A panic in a handler becomes a 500 problem (logged), never a dropped connection.
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            crate::problem::ApiError::internal(&"a request handler panicked").into_response()
        }))
        .service(router);
    Router::new().fallback_service(service)
}
