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

/// The trace this request belongs to, its ids kept as lowercase hex digits in place (no allocation per
/// request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 32],
    span_id: [u8; 16],
    parent_id: Option<[u8; 16]>,
    flags: [u8; 2],
}

/// `bytes` as lowercase hex digits (`N` = twice their number), in place.
fn hex<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [b'0'; N];
    ena_core::hex_into(bytes, &mut out);
    out
}

/// Hex digits as text (they are ASCII, so this never fails).
fn text(digits: &[u8]) -> &str {
    std::str::from_utf8(digits).unwrap_or_default()
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TraceContext {
    /// Continue the trace in `header` (version 00 rules; future versions are read by their first four
    /// fields), or start a new one when it is absent or invalid.
    pub fn continue_or_start(header: Option<&str>) -> TraceContext {
        let mut random = [0u8; 24];
        rand::rng().fill_bytes(&mut random);
        let span_id = hex(&random[..8]);
        if let Some(parsed) = header.and_then(parse_traceparent) {
            return TraceContext { span_id, ..parsed };
        }
        TraceContext { trace_id: hex(&random[8..]), span_id, parent_id: None, flags: *b"01" }
    }

    /// 32 lowercase hex digits.
    pub fn trace_id(&self) -> &str {
        text(&self.trace_id)
    }

    /// This server's span: 16 lowercase hex digits.
    pub fn span_id(&self) -> &str {
        text(&self.span_id)
    }

    /// The caller's span, if it sent one.
    pub fn parent_id(&self) -> Option<&str> {
        self.parent_id.as_ref().map(|p| text(p))
    }

    /// The header value naming this server's span, `00-{trace id}-{span id}-{flags}`, as bytes.
    fn traceparent_bytes(&self) -> [u8; 55] {
        let mut out = [b'-'; 55];
        out[..2].copy_from_slice(b"00");
        out[3..35].copy_from_slice(&self.trace_id);
        out[36..52].copy_from_slice(&self.span_id);
        out[53..].copy_from_slice(&self.flags);
        out
    }

    /// The header value naming this server's span.
    pub fn traceparent(&self) -> String {
        text(&self.traceparent_bytes()).to_owned()
    }
}

fn parse_traceparent(value: &str) -> Option<TraceContext> {
    let mut parts = value.trim().split('-');
    let (version, trace_id, parent_id, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let valid = is_lower_hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && is_lower_hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && is_lower_hex(parent_id, 16)
        && parent_id.bytes().any(|b| b != b'0')
        && is_lower_hex(flags, 2);
    if !valid {
        return None;
    }
    Some(TraceContext {
        trace_id: trace_id.as_bytes().try_into().ok()?,
        span_id: [b'0'; 16],
        parent_id: Some(parent_id.as_bytes().try_into().ok()?),
        flags: flags.as_bytes().try_into().ok()?,
    })
}

/// The route template that served a response, copied out of the router for the edge's metrics (a
/// `MatchedPath` is a reference-counted string: no copy per request).
#[derive(Clone, Debug)]
pub struct RouteTag(pub MatchedPath);

/// The route template the router matched for `request`, recorded in the request's log span (`authorize`,
/// the route layer every route has, asks for it and tags the response with [`TaggedFuture`]).
pub fn matched_route(request: &Request) -> Option<MatchedPath> {
    let route = request.extensions().get::<MatchedPath>().cloned();
    if let Some(r) = &route {
        tracing::Span::current().record("route", r.as_str());
    }
    route
}

pin_project_lite::pin_project! {
    /// The inner future, then the tag on its response.
    pub struct TaggedFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
    }
}

impl<F> TaggedFuture<F> {
    pub fn new(inner: F, route: Option<MatchedPath>) -> TaggedFuture<F> {
        TaggedFuture { inner, route }
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

/// Count a request and record its latency under (method, route, status). Each series is registered with
/// the recorder once and then kept per worker thread: building the label set and looking it up on every
/// request cost more than the rest of the edge, and a shared map's lock (and the handles' reference
/// counts) bounced between the cores on every request. Routes are the router's templates (and
/// `unmatched`), so the maps stay small.
fn record(method: &str, route: &str, status: u16, seconds: f64) {
    use std::cell::RefCell;
    use std::collections::HashMap;
    type ByRoute = HashMap<String, Vec<(String, u16, Series)>>;
    thread_local! {
        static SERIES: RefCell<ByRoute> = RefCell::new(HashMap::new());
    }
    SERIES.with_borrow_mut(|map| {
        let found = map.get(route).and_then(|v| v.iter().find(|(m, s, _)| m == method && *s == status));
        let (counter, histogram) = match found {
            Some((_, _, series)) => series,
            None => {
                let labels =
                    [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
                let made = (
                    metrics::counter!("http_requests_total", &labels),
                    metrics::histogram!("http_request_duration_seconds", &labels[..2]),
                );
                let list = map.entry(route.to_owned()).or_default();
                list.push((method.to_owned(), status, made));
                &list[list.len() - 1].2
            }
        };
        counter.increment(1);
        histogram.record(seconds);
    });
}

/// One request's trace, log span and metrics: started when it arrives at the edge, finished with its
/// response.
pub struct Observation {
    started: Instant,
    method: Method,
    span: tracing::Span,
    context: TraceContext,
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
            trace_id = context.trace_id(),
            span_id = context.span_id(),
        );
        request.extensions_mut().insert(context);
        Observation { started, method, span, context }
    }

    /// The request's log span (the edge runs the inner service in it).
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The trace id, for problem bodies.
    pub fn trace_id(&self) -> &str {
        self.context.trace_id()
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
        record(self.method.as_str(), route, status, elapsed.as_secs_f64());
        if let Ok(value) = HeaderValue::from_bytes(&self.context.traceparent_bytes()) {
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
        assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.parent_id(), Some("00f067aa0ba902b7"));
        assert_ne!(ctx.span_id(), "00f067aa0ba902b7");
        assert!(is_lower_hex(ctx.span_id(), 16) && ctx.span_id() != "0000000000000000");
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
            assert_eq!(ctx.parent_id(), None, "{bad:?}");
            assert!(is_lower_hex(ctx.trace_id(), 32) && is_lower_hex(ctx.span_id(), 16));
            assert!(ctx.traceparent().starts_with("00-") && ctx.traceparent().ends_with("-01"));
        }
    }

    #[test]
    fn future_versions_are_read_by_their_first_fields() {
        let ctx = TraceContext::continue_or_start(Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what"));
        assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.traceparent(), format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01", ctx.span_id()));
    }
}
