//! Synchronous calls through two nodes, X-Road style: a system calls its own node
//! (`/calls/v1/{address}/{service}/…`); the consumer node finds the producer's node through the address
//! registry and the federation, computes the request hash and forwards over mTLS; the producer node
//! checks who is calling (the certificate the federation publishes for the named node), decides access
//! with its own decision point (`call` on `api:<service>`), checks the request hash, calls its service,
//! and signs a proof binding the response to the request. Both nodes log the exchange; `traceparent`
//! runs through.

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ena_apis::gateway::Admission;
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{Actor, ActorKind, Context};
use ena_core::ErrorCode;
use ena_messaging::calls::{CallProof, request_hash, response_hash};
use ena_server::problem::ApiError;
use ena_server::trace::TraceContext;
use serde::{Deserialize, Serialize};

use crate::api::{LocalSystem, NodeState, PeerCertificate};

/// Largest request or response body carried through (bytes).
pub const MAX_BODY: usize = 10 * 1024 * 1024;

/// A service this node produces (`[[service]]` in node.toml).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// 1–63 of a–z, 0–9 and '-'.
    pub id: String,
    /// Where the service itself answers, e.g. `http://127.0.0.1:7000`.
    pub upstream: String,
    /// Entity ids of the member nodes that may call it (becomes the decision point's policy).
    #[serde(default)]
    pub allow: Vec<String>,
    /// The information category it gives out about a person only under their consent (Min profil),
    /// e.g. `se.skatteverket.inkomst`: every call must carry a consent in force for the calling
    /// organisation and this category (`ena-consent: <id>`), checked at Min profil per call.
    #[serde(default)]
    pub consent: Option<String>,
    /// The API of the catalog this service serves (its id): calls then pass the node's gateway — a
    /// subscription to one of its plans, the plan's limits, the version's lifecycle — and `allow` may
    /// be left empty (the subscriptions say who may call).
    #[serde(default)]
    pub api: Option<String>,
}

pub fn check_service_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 63 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The Cedar policy that lets `allow` call `service`.
pub fn policy(service: &ServiceSpec) -> Option<ena_access::PolicyRecord> {
    if !check_service_id(&service.id) || service.allow.iter().any(|e| e.contains(['"', '\\'])) {
        return None;
    }
    if service.consent.as_deref().is_some_and(|c| ena_index::check_category("consent", c).is_err()) {
        return None;
    }
    // A consent service: the caller must also bring a consent in force for its own organisation and
    // this category (the node puts what Min profil confirmed into the request's context).
    let consent = service.consent.as_deref().map_or_else(String::new, |c| {
        format!(" && context has consent && context.consent.category == \"{c}\" && context.consent.recipient == principal.organisationNumber")
    });
    let members = service.allow.iter().map(|e| format!("Ena::Member::\"{e}\"")).collect::<Vec<_>>().join(", ");
    if let Some(api) = &service.api {
        if api.contains(['"', '\\']) {
            return None;
        }
        // A catalog API: the gateway found a subscription (and the allow-list, if any, still applies).
        let listed =
            if service.allow.is_empty() { String::new() } else { format!(" && [{members}].contains(principal)") };
        return Some(ena_access::PolicyRecord {
            id: format!("service-{}", service.id),
            resource: format!("api:{}", service.id),
            description: format!("Subscribers to the API {api} through the gateway (node.toml service {})", service.id),
            text: format!(
                "@reason(\"subscribed to {api} in the API catalog\")\npermit (principal is Ena::Member, action == Ena::Action::\"call\", resource == Ena::Api::\"{id}\")\nwhen {{ context has subscription && context.subscription.api == \"{api}\"{listed}{consent} }};",
                id = service.id
            ),
            updated_at: String::new(),
        });
    }
    Some(ena_access::PolicyRecord {
        id: format!("service-{}", service.id),
        resource: format!("api:{}", service.id),
        description: format!("Member nodes that may call the service {} (node.toml)", service.id),
        text: format!(
            "@reason(\"listed in node.toml as allowed to call {id}\")\npermit (principal is Ena::Member, action == Ena::Action::\"call\", resource == Ena::Api::\"{id}\")\nwhen {{ [{members}].contains(principal){consent} }};",
            id = service.id
        ),
        updated_at: String::new(),
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// The path below the service, with its query, exactly as sent (still percent-encoded): what both nodes
/// hash and what is forwarded. `skip` is how many segments come before it (`calls/v1/{address}/{service}`:
/// 4, `node/v1/calls/{service}`: 4). Dot segments and encoded slashes are refused, so a call cannot reach
/// outside the service's base path.
fn below(uri: &Uri, skip: usize) -> Result<String, String> {
    let rest = uri.path().trim_start_matches('/').splitn(skip + 1, '/').nth(skip).unwrap_or_default();
    for segment in rest.split('/') {
        let lower = segment.to_ascii_lowercase();
        if segment == "." || segment == ".." || lower.contains("%2f") || lower.contains("%5c") || lower.contains("%2e")
        {
            return Err(format!("the path segment {segment:?} is not allowed"));
        }
    }
    let mut path = format!("/{rest}");
    if let Some(q) = uri.query() {
        path.push('?');
        path.push_str(q);
    }
    Ok(path)
}

/// The request headers that travel with a call (the rest are the nodes' own).
fn pass_on(mut request: reqwest::RequestBuilder, headers: &HeaderMap) -> reqwest::RequestBuilder {
    for name in ["content-type", "accept"] {
        if let Some(v) = headers.get(name) {
            request = request.header(name, v);
        }
    }
    request
}

fn bad_gateway(detail: String) -> ApiError {
    ApiError::new(ErrorCode::ServiceUnavailable, detail)
}

async fn log(
    state: &NodeState,
    ctx: &Context,
    action: &str,
    call_id: &str,
    result: AuditResult,
    reason: Option<String>,
    details: Vec<(&str, String)>,
) {
    log_event(state, call_event(ctx, action, call_id, result, reason, details)).await;
}

fn call_event(
    ctx: &Context,
    action: &str,
    call_id: &str,
    result: AuditResult,
    reason: Option<String>,
    details: Vec<(&str, String)>,
) -> ena_audit::AuditEvent {
    let mut event = ctx.event(action, Some(ObjectRef { kind: "call".into(), id: call_id.into() }), result, reason);
    event.details = Some(details.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    event
}

async fn log_event(state: &NodeState, event: ena_audit::AuditEvent) {
    if let Err(e) = state.messaging.audit().append(vec![event]).await {
        tracing::error!(error = %e, "could not log a call");
    }
}

/// A problem body with `instance` set to `path` (this node's request); a body that is not a JSON
/// object is passed on as it came.
fn relocate_problem(bytes: Vec<u8>, path: &str) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut problem)) => {
            problem.insert("instance".into(), serde_json::Value::String(path.to_owned()));
            serde_json::Value::Object(problem).to_string().into_bytes()
        }
        _ => bytes,
    }
}

/// The consumer side: `ANY /calls/v1/{address}/{service}[/{*rest}]` on the local API.
#[allow(clippy::too_many_arguments)]
pub async fn call_out(
    State(state): State<NodeState>,
    LocalSystem(ctx): LocalSystem,
    Extension(trace): Extension<TraceContext>,
    Path(params): Path<Vec<(String, String)>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (address, service) = (get("address").unwrap_or_default(), get("service").unwrap_or_default());
    if !check_service_id(service) {
        return Err(ApiError::invalid(
            ErrorCode::InvalidParameter,
            "service: 1–63 of a–z, 0–9 and '-'.",
            vec![ena_core::FieldError::new("service", service, "1–63 of a–z, 0–9 and '-'")],
        ));
    }
    let canonical = ena_addresses::canonical(address)
        .map_err(|e| ApiError::invalid(ErrorCode::InvalidParameter, format!("address: {}.", e.reason), vec![e]))?;
    let directory = &state.directory;
    let found = ena_messaging::Directory::address(directory.as_ref(), &canonical).await.map_err(|why| {
        ApiError::invalid(
            ErrorCode::ValidationFailed,
            format!("address: {why}."),
            vec![ena_core::FieldError::new("address", &canonical, why)],
        )
    })?;
    let producer = ena_messaging::Directory::node(directory.as_ref(), &found.node).await.map_err(|why| {
        bad_gateway(format!("The producer's node {} is not reachable through the federation: {why}.", found.node))
    })?;
    let path = below(&uri, 4).map_err(|why| {
        ApiError::invalid(
            ErrorCode::InvalidParameter,
            format!("path: {why}."),
            vec![ena_core::FieldError::new("path", uri.path(), why)],
        )
    })?;
    let content_type = header(&headers, "content-type").to_owned();
    let me = state.messaging.identity();
    let hash = request_hash(method.as_str(), &path, &content_type, &me.address, &body);
    let call_id = uuid::Uuid::now_v7().to_string();
    let url = format!("{}/calls/{service}{path}", producer.inbox.trim_end_matches("/inbox"));
    let mut request = state
        .calls_client
        .request(method.clone(), &url)
        .header("ena-call-id", &call_id)
        .header("ena-consumer", &me.address)
        .header("ena-consumer-node", &me.entity_id)
        .header("ena-request-hash", &hash)
        .header("traceparent", trace.traceparent())
        .body(body.clone());
    // A consent reference and the calling employee's unit travel to the producer (which asks Min profil).
    for name in ["ena-consent", "ena-org-unit"] {
        if let Some(v) = headers.get(name) {
            request = request.header(name, v);
        }
    }
    request = pass_on(request, &headers);
    let response =
        request.send().await.map_err(|e| bad_gateway(format!("The producer's node does not answer: {e}.")))?;
    let status = response.status();
    let response_type = header(response.headers(), "content-type").to_owned();
    let proof_token = header(response.headers(), "ena-response-proof").to_owned();
    let passed: Vec<(&'static str, String)> = GATEWAY_HEADERS
        .iter()
        .filter_map(|n| response.headers().get(*n).and_then(|v| v.to_str().ok()).map(|v| (*n, v.to_owned())))
        .collect();
    let bytes = crate::transport::read_capped(response, MAX_BODY)
        .await
        .map_err(|e| bad_gateway(format!("The producer's node's answer: {e}.")))?;
    // A refusal by the producer node itself is a problem answer without a proof: pass it on.
    if proof_token.is_empty() && status.is_success() {
        return Err(bad_gateway("The producer's node answered without a response proof.".into()));
    }
    if proof_token.is_empty() {
        log(
            &state,
            &ctx,
            "calls.made",
            &call_id,
            AuditResult::Denied,
            Some(format!("the producer node answered {status}")),
            vec![("service", service.into()), ("producer", found.node.clone()), ("requestSha512", hash)],
        )
        .await;
        // The producer's problem names its own internal path as `instance`; the consumer asked this
        // node, so the problem passed on names the consumer's request instead.
        let bytes = if response_type.starts_with(ena_server::problem::PROBLEM_JSON) {
            relocate_problem(bytes, uri.path())
        } else {
            bytes
        };
        let mut r = (status, bytes).into_response();
        if let Ok(v) = HeaderValue::from_str(&response_type) {
            r.headers_mut().insert("content-type", v);
        }
        add_headers(&mut r, &passed);
        return Ok(r);
    }
    let proof = CallProof::verify(&proof_token, &producer.jwks)
        .map_err(|e| bad_gateway(format!("The producer's response proof does not verify: {e}.")))?;
    let response_sha = response_hash(status.as_u16(), &response_type, &bytes);
    if proof.request_sha512 != hash || proof.response_sha512 != response_sha || proof.call_id != call_id {
        log(
            &state,
            &ctx,
            "calls.made",
            &call_id,
            AuditResult::Failed,
            Some("the response proof does not match".into()),
            vec![("service", service.into())],
        )
        .await;
        return Err(bad_gateway("The producer's response proof does not match this request and response.".into()));
    }
    log(
        &state,
        &ctx,
        "calls.made",
        &call_id,
        AuditResult::Allowed,
        None,
        vec![
            ("service", service.into()),
            ("producer", found.node.clone()),
            ("requestSha512", hash.clone()),
            ("responseSha512", response_sha),
            ("status", status.as_u16().to_string()),
        ],
    )
    .await;
    let mut r = Response::builder().status(status);
    for (name, value) in [
        ("content-type", response_type.as_str()),
        ("ena-call-id", &call_id),
        ("ena-request-hash", &hash),
        ("ena-response-proof", &proof_token),
    ] {
        if !value.is_empty() {
            r = r.header(name, value);
        }
    }
    let mut r = r.body(Body::from(bytes)).map_err(|e| ApiError::internal(&e))?;
    add_headers(&mut r, &passed);
    Ok(r)
}

/// The producer side: `ANY /node/v1/calls/{service}[/{*rest}]` on the mTLS listener. Every refusal is
/// logged.
#[allow(clippy::too_many_arguments)]
pub async fn call_in(
    State(state): State<NodeState>,
    Extension(PeerCertificate(cert)): Extension<PeerCertificate>,
    Extension(trace): Extension<TraceContext>,
    Path(params): Path<Vec<(String, String)>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.to_owned());
    let call = Incoming {
        service_id: get("service").unwrap_or_default(),
        path: below(&uri, 4).unwrap_or_default(),
        call_id: header(&headers, "ena-call-id").to_owned(),
        consumer_node: header(&headers, "ena-consumer-node").to_owned(),
        consumer: header(&headers, "ena-consumer").to_owned(),
    };
    let ctx = Context {
        actor: Actor {
            kind: ActorKind::Node,
            id: call.consumer_node.clone(),
            organisation: Some(call.consumer.clone()),
        },
        on_behalf_of: None,
        correlation_id: Some(trace.trace_id().to_owned()),
    };
    match serve_call(&state, &ctx, &call, cert, &trace, method, &headers, body).await {
        Ok(r) => Ok(r),
        Err((code, why)) => {
            log(
                &state,
                &ctx,
                "calls.refused",
                &call.call_id,
                AuditResult::Denied,
                Some(why.clone()),
                vec![("service", call.service_id.clone())],
            )
            .await;
            Err(ApiError::new(code, why))
        }
    }
}

struct Incoming {
    service_id: String,
    path: String,
    call_id: String,
    consumer_node: String,
    consumer: String,
}

#[allow(clippy::too_many_arguments)]
async fn serve_call(
    state: &NodeState,
    ctx: &Context,
    call: &Incoming,
    cert: Option<String>,
    trace: &TraceContext,
    method: Method,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, (ErrorCode, String)> {
    let started = std::time::Instant::now();
    let (service_id, call_id, consumer_node, consumer, path) =
        (&call.service_id, &call.call_id, &call.consumer_node, &call.consumer, &call.path);
    let Some(cert) = cert else {
        return Err((
            ErrorCode::AuthenticationRequired,
            "Calls need the consumer node's federation certificate.".into(),
        ));
    };
    let peer = match ena_messaging::Directory::node(state.directory.as_ref(), consumer_node).await {
        Ok(p) if p.certificate_sha256 == cert => p,
        Ok(_) => {
            return Err((
                ErrorCode::PermissionDenied,
                format!("The connection's certificate is not the one the federation publishes for {consumer_node}."),
            ));
        }
        Err(why) => return Err((ErrorCode::PermissionDenied, format!("{consumer_node}: {why}."))),
    };
    // The consumer organisation named in the call must be one the calling node serves, named exactly.
    ena_messaging::require_canonical("ena-consumer", consumer).map_err(|why| (ErrorCode::InvalidParameter, why))?;
    match ena_messaging::Directory::address(state.directory.as_ref(), consumer).await {
        Ok(a) if a.node == peer.entity_id => {}
        _ => {
            return Err((
                ErrorCode::PermissionDenied,
                format!("{consumer} is not an address served by {}.", peer.entity_id),
            ));
        }
    }
    if path.is_empty() {
        return Err((
            ErrorCode::InvalidParameter,
            "The path below the service is not allowed (dot segments or encoded slashes).".into(),
        ));
    }
    let Some(service) = state.services.iter().find(|s| &s.id == service_id).cloned() else {
        return Err((ErrorCode::ResourceNotFound, format!("This node offers no service {service_id}.")));
    };
    // A catalog API: the gateway decides first (the version, the application's subscription, the plan's
    // size limit, quota and rate); a refusal is answered here with its headers (Retry-After, RateLimit,
    // Link) and logged.
    let mut gated = None;
    if let Some(api) = &service.api {
        match state.gateway.admit(api, method.as_str(), path, consumer, body.len() as u64, unix_seconds()) {
            Admission::Pass { major, plan, deprecated, headers } => {
                gated = Some(Gated { api: api.clone(), major, plan, deprecated, headers });
            }
            Admission::Refuse { code, detail, headers } => {
                log(
                    state,
                    ctx,
                    "calls.refused",
                    call_id,
                    AuditResult::Denied,
                    Some(detail.clone()),
                    vec![("service", service.id.clone()), ("api", api.clone()), ("status", code.status().to_string())],
                )
                .await;
                let mut r = ApiError::new(code, detail).into_response();
                add_headers(&mut r, &headers);
                add_timing(&mut r, started.elapsed());
                return Ok(r);
            }
        }
    }
    // The calling organisation: the address's identifier (an address may name one of its functions).
    let consumer_org = consumer.split(':').next().unwrap_or_default();
    let consent = match &service.consent {
        None => None,
        Some(category) => {
            let id = header(headers, "ena-consent");
            if id.is_empty() {
                return Err((
                    ErrorCode::PermissionDenied,
                    format!(
                        "The service {} gives out {category} only under the person's consent: send its id as ena-consent.",
                        service.id
                    ),
                ));
            }
            // The unit as the calling system wrote it: UTF-8, percent-encoded where not plain ASCII.
            let unit = percent_encoding::percent_decode_str(header(headers, "ena-org-unit")).decode_utf8_lossy();
            match state.directory.check_consent(id, consumer_org, category, &service.id, &unit).await {
                Ok(Ok(found)) => Some(found),
                Ok(Err(why)) => return Err((ErrorCode::PermissionDenied, format!("Consent {id}: {why}"))),
                Err(why) => return Err((ErrorCode::ServiceUnavailable, why)),
            }
        }
    };
    let mut context = match &consent {
        Some(c) => serde_json::json!({"consent": {"category": c["category"], "recipient": c["recipient"]}}),
        None => serde_json::json!({}),
    };
    if let Some(g) = &gated {
        context["subscription"] = serde_json::json!({"api": g.api, "plan": g.plan});
    }
    let decision = state
        .access
        .decide_in_context(
            ("member", &peer.entity_id),
            &[("organisationNumber", consumer_org)],
            "call",
            ("api", &service.id),
            context,
        )
        .await;
    if !decision.as_ref().is_ok_and(|d| d.allowed) {
        return Err((
            ErrorCode::PermissionDenied,
            format!("The decision point does not let {} call {}.", peer.entity_id, service.id),
        ));
    }
    let content_type = header(headers, "content-type").to_owned();
    let hash = request_hash(method.as_str(), path, &content_type, consumer, &body);
    if hash != header(headers, "ena-request-hash") {
        return Err((ErrorCode::ValidationFailed, "The request hash does not match the request received.".into()));
    }
    let mut upstream = state
        .upstream
        .request(method, format!("{}{path}", service.upstream.trim_end_matches('/')))
        .header("traceparent", trace.traceparent())
        .header("ena-consumer", consumer)
        .header("ena-consumer-node", consumer_node)
        .header("ena-call-id", call_id)
        .body(body);
    upstream = pass_on(upstream, headers);
    // Whose data the consent covers, and for what: the service answers for this person only.
    if let Some(c) = &consent {
        for (name, key) in [("ena-consent", "consentId"), ("ena-consent-subject", "subject")] {
            upstream = upstream.header(name, c[key].as_str().unwrap_or_default());
        }
    }
    let asked = std::time::Instant::now();
    let failed = |why: String| {
        if let Some(g) = &gated {
            state.gateway.failed(&g.api, path, consumer, unix_seconds());
        }
        (ErrorCode::ServiceUnavailable, why)
    };
    let response = match upstream.send().await {
        Ok(r) => r,
        Err(e) => return Err(failed(format!("The service {} does not answer: {e}.", service.id))),
    };
    let status = response.status();
    let response_type = header(response.headers(), "content-type").to_owned();
    let bytes = crate::transport::read_capped(response, MAX_BODY)
        .await
        .map_err(|e| failed(format!("The service's answer: {e}.")))?;
    let upstream_time = asked.elapsed();
    if status.is_server_error()
        && let Some(g) = &gated
    {
        state.gateway.failed(&g.api, path, consumer, unix_seconds());
    }
    let me = state.messaging.identity();
    let response_sha = response_hash(status.as_u16(), &response_type, &bytes);
    let proof = CallProof {
        call_id: call_id.clone(),
        service: service.id.clone(),
        consumer: consumer.clone(),
        consumer_node: consumer_node.clone(),
        producer_node: me.entity_id.clone(),
        request_sha512: hash.clone(),
        response_sha512: response_sha.clone(),
        status: status.as_u16(),
        at: time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    }
    .sign(&me.signing);
    let mut details = vec![
        ("service", service.id.clone()),
        ("requestSha512", hash),
        ("responseSha512", response_sha),
        ("status", status.as_u16().to_string()),
    ];
    let mut subject = None;
    if let Some(c) = &consent {
        for key in ["consentId", "purpose", "category"] {
            details.push((key, c[key].as_str().unwrap_or_default().to_owned()));
        }
        // The calling unit as its system said (at most 100 characters), so the person sees it here too.
        let unit = percent_encoding::percent_decode_str(header(headers, "ena-org-unit")).decode_utf8_lossy();
        let unit: String = unit.chars().take(100).collect();
        if !unit.is_empty() {
            details.push(("unit", unit));
        }
        subject = c["subject"].as_str().map(str::to_owned);
    }
    if let Some(g) = &gated {
        details.extend([("api", g.api.clone()), ("major", g.major.to_string()), ("plan", g.plan.clone())]);
        if g.deprecated {
            details.push(("deprecated", "true".into()));
        }
    }
    let mut event = call_event(ctx, "calls.served", call_id, AuditResult::Allowed, None, details);
    // The person whose data went out under their consent: the node's own log names them.
    event.data_subjects.extend(subject);
    log_event(state, event).await;
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY))
        .header("ena-response-proof", proof);
    if !response_type.is_empty() {
        r = r.header("content-type", response_type);
    }
    let mut r = r.body(Body::from(bytes)).map_err(|e| (ErrorCode::Internal, e.to_string()))?;
    if let Some(g) = &gated {
        add_headers(&mut r, &g.headers);
        add_timing(&mut r, started.elapsed().saturating_sub(upstream_time));
    }
    Ok(r)
}

/// What the gateway let through: for the decision's context, the log and the answer's headers.
struct Gated {
    api: String,
    major: u64,
    plan: String,
    deprecated: bool,
    headers: Vec<(&'static str, String)>,
}

fn unix_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

fn add_headers(r: &mut Response, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            r.headers_mut().insert(*name, v);
        }
    }
}

/// The time the node itself added (the service's own time left out), as `Server-Timing`.
fn add_timing(r: &mut Response, added: std::time::Duration) {
    if let Ok(v) = HeaderValue::from_str(&format!("gateway;dur={:.3}", added.as_secs_f64() * 1000.0)) {
        r.headers_mut().insert("server-timing", v);
    }
}

/// The gateway's headers a consumer node passes on to the calling system.
const GATEWAY_HEADERS: [&str; 7] =
    ["ratelimit", "ratelimit-policy", "retry-after", "deprecation", "sunset", "link", "server-timing"];

/// The OpenAPI description of [`call_out`] (its `Path` of name-value pairs is more than utoipa reads).
#[utoipa::path(get, path = "/calls/v1/{address}/{service}/{rest}", tag = "calls", operation_id = "callService",
    security(("nodeToken" = [])),
    params(("address" = String, Path, description = "The producer's address"), ("service" = String, Path, description = "The service id"),
           ("rest" = String, Path, description = "The path below the service")),
    responses(
        (status = 200, description = "The service's answer, with ena-call-id, ena-request-hash and ena-response-proof", body = Object),
        (status = 400, description = "A bad address or service id", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 403, description = "The producer node refuses", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "The producer offers no such service", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 503, description = "The producer or its service does not answer, or its proof does not verify", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
pub(crate) fn call_out_doc() {}

/// The OpenAPI description of [`call_in`] (its `Path` of name-value pairs is more than utoipa reads).
#[utoipa::path(get, path = "/node/v1/calls/{service}/{rest}", tag = "node-to-node", operation_id = "serveCall",
    security(("nodeCertificate" = [])),
    params(("service" = String, Path, description = "The service id"), ("rest" = String, Path, description = "The path below the service")),
    responses(
        (status = 200, description = "The service's answer with ena-response-proof", body = Object),
        (status = 403, description = "Not the consumer node's certificate, or the decision point refuses", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 404, description = "No such service", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 400, description = "The request hash does not match", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"), (status = 503, description = "The service does not answer", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
pub(crate) fn call_in_doc() {}
