//! W3C Trace Context, request logging and per-route metrics, for the edge (`edge::Edge`).
//!
//! An incoming valid `traceparent` keeps its trace id; otherwise a new trace starts. Either way this
//! server is a new span (parent id) in the trace, returned in the response's `traceparent`, attached to
//! the request's log span and given to problem bodies as `traceId`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};

/// The W3C Trace Context header, named once.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
use axum::response::Response;
use rand::RngCore;

/// The trace this request belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// This server's span: 16 lowercase hex digits.
    pub span_id: String,
    /// The caller's span, if it sent one.
    pub parent_id: Option<String>,
    pub flags: String,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TraceContext {
    /// Continue the trace in `header` (version 00 rules; future versions are read by their first four
    /// fields), or start a new one when it is absent or invalid.
    pub fn continue_or_start(header: Option<&str>) -> TraceContext {
        let mut rng = rand::rng();
        let mut span = [0u8; 8];
        rng.fill_bytes(&mut span);
        if let Some(parsed) = header.and_then(parse_traceparent) {
            return TraceContext { span_id: hex(&span), ..parsed };
        }
        let mut trace = [0u8; 16];
        rng.fill_bytes(&mut trace);
        TraceContext { trace_id: hex(&trace), span_id: hex(&span), parent_id: None, flags: "01".into() }
    }

    /// The header value naming this server's span.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }
}

fn parse_traceparent(value: &str) -> Option<TraceContext> {
    let mut parts = value.trim().split('-');
    let (version, trace_id, parent_id, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let valid = is_lower_hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && is_lower_hex(trace_id, 32)
        && trace_id != "0".repeat(32)
        && is_lower_hex(parent_id, 16)
        && parent_id != "0".repeat(16)
        && is_lower_hex(flags, 2);
    valid.then(|| TraceContext {
        trace_id: trace_id.to_owned(),
        span_id: String::new(),
        parent_id: Some(parent_id.to_owned()),
        flags: flags.to_owned(),
    })
}

/// The route template that served a response, copied out of the router for the edge's metrics (a
/// `MatchedPath` is a reference-counted string: no copy per request).
#[derive(Clone, Debug)]
pub struct RouteTag(pub MatchedPath);

/// A route layer (it runs inside the router, where the matched route is known): records the route
/// template in the request's log span and tags the response with it. Written by hand rather than with
/// `middleware::from_fn`, which boxes a future and clones the next service on every request.
#[derive(Clone, Copy, Debug)]
pub struct TagRoute;

impl<S> tower::Layer<S> for TagRoute {
    type Service = Tagged<S>;
    fn layer(&self, inner: S) -> Tagged<S> {
        Tagged(inner)
    }
}

#[derive(Clone, Debug)]
pub struct Tagged<S>(S);

impl<S> tower::Service<Request> for Tagged<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TaggedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        if let Some(r) = &route {
            tracing::Span::current().record("route", r.as_str());
        }
        TaggedFuture { inner: self.0.call(request), route }
    }
}

pin_project_lite::pin_project! {
    /// The inner future, then the tag on its response.
    pub struct TaggedFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
    }
}

impl<F, E> std::future::Future for TaggedFuture<F>
where
    F: std::future::Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(RouteTag(route));
        }
        std::task::Poll::Ready(Ok(response))
    }
}

type Series = (metrics::Counter, metrics::Histogram);

/// The request counter and latency histogram of one (method, route, status), registered once: building
/// the label set and looking it up in the recorder on every request cost more than the rest of the
/// edge. Routes are the router's templates (and `unmatched`), so the map stays small.
fn series(method: &str, route: &str, status: u16) -> Series {
    use std::collections::HashMap;
    use std::sync::{LazyLock, RwLock};
    type ByRoute = HashMap<String, Vec<(String, u16, Series)>>;
    static SERIES: LazyLock<RwLock<ByRoute>> = LazyLock::new(|| RwLock::new(HashMap::new()));
    let find = |map: &ByRoute| {
        map.get(route)?.iter().find(|(m, s, _)| m == method && *s == status).map(|(_, _, series)| series.clone())
    };
    if let Some(found) = find(&SERIES.read().unwrap_or_else(|e| e.into_inner())) {
        return found;
    }
    let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
    let made = (
        metrics::counter!("http_requests_total", &labels),
        metrics::histogram!("http_request_duration_seconds", &labels[..2]),
    );
    let mut map = SERIES.write().unwrap_or_else(|e| e.into_inner());
    map.entry(route.to_owned()).or_default().push((method.to_owned(), status, made.clone()));
    made
}

/// One request's trace, log span and metrics: started when it arrives at the edge, finished with its
/// response.
pub struct Observation {
    started: Instant,
    method: Method,
    span: tracing::Span,
    traceparent: String,
    /// The trace id, for problem bodies.
    pub trace_id: String,
}

impl Observation {
    /// Continue or start the request's trace; the context goes into the request's extensions.
    pub fn start(request: &mut Request) -> Observation {
        let started = Instant::now();
        let header = request.headers().get(&TRACEPARENT).and_then(|v| v.to_str().ok());
        let context = TraceContext::continue_or_start(header);
        let method = request.method().clone();
        // The route template (recorded once the router matched it), never the path: paths and query
        // strings can carry identifiers that must not reach the logs.
        let span = tracing::info_span!(
            "request",
            method = %method,
            route = tracing::field::Empty,
            trace_id = %context.trace_id,
            span_id = %context.span_id,
        );
        let traceparent = context.traceparent();
        let trace_id = context.trace_id.clone();
        request.extensions_mut().insert(context);
        Observation { started, method, span, traceparent, trace_id }
    }

    /// The request's log span (the edge runs the inner service in it).
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Log and count the finished response, and give it this server's `traceparent`.
    pub fn finish(self, response: &mut Response) {
        let elapsed = self.started.elapsed();
        let status = response.status().as_u16();
        // The route template, not the path, so metrics do not grow a series per block id.
        let route = response.extensions().get::<RouteTag>().map_or("unmatched", |r| r.0.as_str());
        self.span.in_scope(|| {
            tracing::info!(status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request done");
        });
        let (counter, histogram) = series(self.method.as_str(), route, status);
        counter.increment(1);
        histogram.record(elapsed.as_secs_f64());
        if let Ok(value) = HeaderValue::from_str(&self.traceparent) {
            response.headers_mut().insert(TRACEPARENT, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_a_valid_trace() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = TraceContext::continue_or_start(Some(incoming));
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.parent_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(ctx.span_id, "00f067aa0ba902b7");
        assert!(ctx.traceparent().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }

    #[test]
    fn starts_a_new_trace_for_invalid_headers() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            let ctx = TraceContext::continue_or_start(Some(bad));
            assert_eq!(ctx.parent_id, None, "{bad:?}");
            assert!(is_lower_hex(&ctx.trace_id, 32) && is_lower_hex(&ctx.span_id, 16));
        }
    }

    #[test]
    fn future_versions_are_read_by_their_first_fields() {
        let ctx = TraceContext::continue_or_start(Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what"));
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }
}
