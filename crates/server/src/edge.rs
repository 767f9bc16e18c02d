//! The edge every listener shares — the central instance's, and a member node's local and peer
//! listeners — so none lacks a part: outermost first, [`Edge`] (traceparent, log span, metrics,
//! security headers, problems, no identity number in a URL, announced body size, panic → 500 problem,
//! and given `Limits` the timeout (408) and body limit (413)) → router, with `authorize` inside telling
//! it the matched route. All of it wraps the router once, as one service, served as it is.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use tower::Layer;
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

/// A listener's whole-router limits: requests longer than `timeout` are answered 408, bodies larger than
/// `body_limit` bytes 413.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub timeout: Duration,
    pub body_limit: usize,
}

/// Wrap a finished router (state given) in the edge, with `limits` for every route (a listener that
/// must leave some routes untimed, such as a node's streamed uploads, passes `None` and sets them per
/// route with [`Timeout`]). The edge wraps the router once, as one service that is served directly (no
/// router around it), so it costs the same whatever the number of routes; inside the router only
/// `authorize` runs per route (and tells the edge the matched route).
pub fn finish(router: Router, limits: Option<Limits>) -> Edge {
    Edge { router, limits }
}

/// The edge's own work around the router, in one hand-written service with a future of its own
/// ([`Answer`]; four `middleware::from_fn` layers cost as much as the rest of a `/healthz` answer):
/// - trace context, log span and metrics ([`Observation`]), outermost, so they see the final response;
/// - no identity number in a path or query reaches a handler or a log line ([`privacy::refusal`]);
/// - a body announced larger than the limit is refused (413) before anything reads it, and a body
///   without a length is cut at the limit where it is read (axum's `DefaultBodyLimit`);
/// - a request still unanswered after the limit's timeout is answered 408 ([`Timeout`]);
/// - a panic in a handler becomes a 500 problem (logged), never a dropped connection;
/// - problems are finished after everything inside (404, 405, 408, 413 and panics included);
/// - the security headers go on every response, the portal's error pages included.
#[derive(Clone)]
pub struct Edge {
    router: Router,
    limits: Option<Limits>,
}

impl Edge {
    /// For `axum::serve`: every connection gets a clone of the edge.
    pub fn into_make_service(self) -> tower::make::Shared<Edge> {
        tower::make::Shared::new(self)
    }
}

impl tower::Service<Request> for Edge {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        // A router is always ready.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Answer {
        let observation = Observation::start(&mut request);
        let asked = problem::Asked::of(&request);
        let body_limit = self.limits.map(|l| l.body_limit);
        let refused = privacy::refusal(request.uri()).or_else(|| {
            let announced = request
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let too_large = matches!((announced, body_limit), (Some(n), Some(limit)) if n > limit as u64);
            too_large.then(|| StatusCode::PAYLOAD_TOO_LARGE.into_response())
        });
        // The router is called in the request's span, so `authorize` records the matched route there.
        let (routed, early) = match refused {
            Some(refusal) => (None, Some(refusal)),
            None => match observation.span().in_scope(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    let routed = match body_limit {
                        Some(limit) => DefaultBodyLimit::max(limit).layer(&mut self.router).call(request),
                        None => self.router.call(request),
                    };
                    Timed::new(routed, self.limits.map(|l| l.timeout))
                }))
            }) {
                Ok(timed) => (Some(Caught { inner: timed }.instrument(observation.span().clone())), None),
                Err(_) => (None, Some(panicked())),
            },
        };
        Answer { routed, early, finishing: Some((asked, observation)) }
    }
}

/// The answer to a handler's panic.
fn panicked() -> Response {
    problem::ApiError::internal(&"a request handler panicked").into_response()
}

pin_project_lite::pin_project! {
    /// The edge's answer: the router's (or the edge's own refusal), then the problem conversion, the
    /// security headers and the observation. A future of its own rather than a boxed `async` block:
    /// one allocation fewer per request.
    pub struct Answer {
        #[pin]
        routed: Option<tracing::instrument::Instrumented<Caught<Timed<RouteFuture<Infallible>>>>>,
        early: Option<Response>,
        finishing: Option<(problem::Asked, Observation)>,
    }
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let response = match this.routed.as_pin_mut() {
            Some(routed) => match std::task::ready!(routed.poll(cx)) {
                Ok(Ok(response)) => response,
                Err(_) => panicked(),
            },
            None => this.early.take().unwrap_or_else(panicked),
        };
        let Some((asked, observation)) = this.finishing.take() else {
            return std::task::Poll::Ready(Ok(problem::ApiError::internal(&"an answer polled twice").into_response()));
        };
        let mut response = problem::finish(&asked, observation.trace_id(), response);
        let headers = response.headers_mut();
        // These and the traceparent, in one growth of the map.
        headers.reserve(SECURITY_HEADER_VALUES.len() + 1);
        for (name, value) in SECURITY_HEADER_VALUES {
            headers.entry(name).or_insert(value);
        }
        observation.finish(&mut response);
        std::task::Poll::Ready(Ok(response))
    }
}

/// A route layer answering 408 to a request still unanswered after `0` (for routes of a listener whose
/// edge has no timeout of its own: a node times all routes but its streamed uploads).
#[derive(Clone, Copy, Debug)]
pub struct Timeout(pub Duration);

impl<S> tower::Layer<S> for Timeout {
    type Service = TimeoutService<S>;
    fn layer(&self, inner: S) -> TimeoutService<S> {
        TimeoutService { inner, timeout: self.0 }
    }
}

#[derive(Clone, Debug)]
pub struct TimeoutService<S> {
    inner: S,
    timeout: Duration,
}

impl<S> tower::Service<Request> for TimeoutService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Timed<S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Timed::new(self.inner.call(request), Some(self.timeout))
    }
}

pin_project_lite::pin_project! {
    /// The inner future, answered 408 once `timeout` has passed. The timer is set only when the inner
    /// future first waits: most answers are ready at their first poll and never touch the
    /// runtime's timer wheel (a timer per request showed in profiles of `/healthz`).
    pub struct Timed<F> {
        #[pin]
        inner: F,
        #[pin]
        timer: Option<tokio::time::Sleep>,
        timeout: Option<Duration>,
    }
}

impl<F> Timed<F> {
    fn new(inner: F, timeout: Option<Duration>) -> Timed<F> {
        Timed { inner, timer: None, timeout }
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Timed<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let mut this = self.project();
        if let std::task::Poll::Ready(answer) = this.inner.poll(cx) {
            return std::task::Poll::Ready(answer);
        }
        let Some(timeout) = *this.timeout else { return std::task::Poll::Pending };
        if this.timer.is_none() {
            // Counted from the first wait: the first poll follows the request's arrival at once.
            this.timer.set(Some(tokio::time::sleep(timeout)));
        }
        match this.timer.as_pin_mut().map(|timer| timer.poll(cx)) {
            Some(std::task::Poll::Ready(())) => std::task::Poll::Ready(Ok(StatusCode::REQUEST_TIMEOUT.into_response())),
            _ => std::task::Poll::Pending,
        }
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
    use std::convert::Infallible;
    use std::time::Duration;

    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};

    fn answer(status: StatusCode) -> Result<Response, Infallible> {
        Ok(status.into_response())
    }

    /// An answer later than the timeout is a 408; one within it, or ready at once, is the answer.
    #[tokio::test]
    async fn the_timeout_answers_408_only_when_an_answer_is_late() {
        let never = async { std::future::pending::<Result<Response, Infallible>>().await };
        let late = super::Timed::new(never, Some(Duration::from_millis(50))).await.unwrap();
        assert_eq!(late.status(), StatusCode::REQUEST_TIMEOUT);
        let soon = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            answer(StatusCode::CREATED)
        };
        let soon = super::Timed::new(soon, Some(Duration::from_secs(5))).await.unwrap();
        assert_eq!(soon.status(), StatusCode::CREATED);
        let at_once = super::Timed::new(std::future::ready(answer(StatusCode::OK)), Some(Duration::ZERO));
        assert_eq!(at_once.await.unwrap().status(), StatusCode::OK, "ready at the first poll: no timer was set");
        let untimed = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            answer(StatusCode::OK)
        };
        assert_eq!(super::Timed::new(untimed, None).await.unwrap().status(), StatusCode::OK);
    }

    /// The precomputed header names and values are the documented ones, in order.
    #[test]
    fn security_header_values_are_the_documented_headers() {
        assert_eq!(super::SECURITY_HEADERS.len(), super::SECURITY_HEADER_VALUES.len());
        for ((name, value), (n, v)) in super::SECURITY_HEADERS.iter().zip(super::SECURITY_HEADER_VALUES.iter()) {
            assert_eq!((n.as_str(), v.to_str().unwrap()), (*name, *value));
        }
    }
}
