//! The edge every listener shares — the central instance's, and a member node's local and peer
//! listeners — so none lacks a part: outermost first, [`Edge`] (traceparent, log span, metrics,
//! security headers, problems, no identity number in a URL, announced body size, panic → 500 problem)
//! → (given `Limits`) timeout (408) and body limit (413) → router, with `TagRoute` inside to learn the
//! matched route. All of it wraps the router once, as one service.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::util::Either;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::trace::Observation;
use crate::{privacy, problem};

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

/// [`SECURITY_HEADERS`] as header names and values, made at compile time (parsing the names on every
/// response showed in profiles).
const SECURITY_HEADER_VALUES: [(HeaderName, HeaderValue); 4] = [
    (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SECURITY_HEADERS[0].1)),
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static(SECURITY_HEADERS[1].1)),
    (header::REFERRER_POLICY, HeaderValue::from_static(SECURITY_HEADERS[2].1)),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static(SECURITY_HEADERS[3].1)),
];

/// A request taking longer than `timeout` is answered 408 (a route layer: routes added after it, such
/// as streamed uploads, are not timed).
pub fn timeout(timeout: Duration) -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout)
}

/// A listener's whole-router limits: requests longer than `timeout` are answered 408, bodies larger than
/// `body_limit` bytes 413.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub timeout: Duration,
    pub body_limit: usize,
}

/// Wrap a finished router (state given) in the edge, with `limits` for every route (a listener that
/// must leave some routes untimed, such as a node's streamed uploads, passes `None` and sets them per
/// route). The edge wraps the router once, as one service, rather than each route (`Router::layer`
/// would add it to every route's stack, which axum clones per request), so it costs the same whatever
/// the number of routes; inside the router only [`TagRoute`](crate::trace::TagRoute) runs per route.
pub fn finish(router: Router, limits: Option<Limits>) -> Router {
    let router = router.route_layer(crate::trace::TagRoute);
    let limited = match limits {
        None => Either::Left(router),
        Some(l) => Either::Right(
            tower::ServiceBuilder::new()
                .layer(timeout(l.timeout))
                // Bodies without a length are cut at the limit where they are read.
                .layer(DefaultBodyLimit::max(l.body_limit))
                .service(router),
        ),
    };
    Router::new().fallback_service(Edge { inner: limited, body_limit: limits.map(|l| l.body_limit) })
}

/// The edge's own work around the inner service, in one hand-written service (one boxed future per
/// request; four `middleware::from_fn` layers cost as much as the rest of a `/healthz` answer):
/// - trace context, log span and metrics ([`Observation`]), outermost, so they see the final response;
/// - no identity number in a path or query reaches a handler or a log line ([`privacy::refusal`]);
/// - a body announced larger than the limit is refused (413) before anything reads it;
/// - a panic in a handler becomes a 500 problem (logged), never a dropped connection;
/// - problems are finished after everything inside (404, 405, 408, 413 and panics included);
/// - the security headers go on every response, the portal's error pages included.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    body_limit: Option<usize>,
}

impl<S> tower::Service<Request> for Edge<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let observation = Observation::start(&mut request);
        let asked = problem::Asked::of(&request);
        let refused = privacy::refusal(request.uri()).or_else(|| {
            let announced = request
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let too_large = matches!((announced, self.body_limit), (Some(n), Some(limit)) if n > limit as u64);
            too_large.then(|| StatusCode::PAYLOAD_TOO_LARGE.into_response())
        });
        // The inner service is called in the request's span, so the router's route layer records the
        // matched route there.
        let inner = match refused {
            Some(refusal) => Err(refusal),
            None => Ok(observation.span().in_scope(|| catch_unwind(AssertUnwindSafe(|| self.inner.call(request))))),
        };
        let span = observation.span().clone();
        Box::pin(async move {
            let answered = match inner {
                Err(refusal) => Ok(refusal),
                Ok(Ok(inner)) => Caught { inner }.instrument(span).await.map(|Ok(response)| response),
                Ok(Err(panic)) => Err(panic),
            };
            let response =
                answered.unwrap_or_else(|_| problem::ApiError::internal(&"a request handler panicked").into_response());
            let mut response = problem::finish(&asked, &observation.trace_id, response);
            let headers = response.headers_mut();
            // These and the traceparent, in one growth of the map.
            headers.reserve(SECURITY_HEADER_VALUES.len() + 1);
            for (name, value) in SECURITY_HEADER_VALUES {
                headers.entry(name).or_insert(value);
            }
            observation.finish(&mut response);
            Ok(response)
        })
    }
}

pin_project_lite::pin_project! {
    /// The inner future, with a panic while it is polled caught (as `std::panic::catch_unwind` does for
    /// a closure).
    struct Caught<F> {
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for Caught<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let inner = self.project().inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Ok(output)),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    /// The precomputed header names and values are the documented ones, in order.
    #[test]
    fn security_header_values_are_the_documented_headers() {
        assert_eq!(super::SECURITY_HEADERS.len(), super::SECURITY_HEADER_VALUES.len());
        for ((name, value), (n, v)) in super::SECURITY_HEADERS.iter().zip(super::SECURITY_HEADER_VALUES.iter()) {
            assert_eq!((n.as_str(), v.to_str().unwrap()), (*name, *value));
        }
    }
}
