//! Who is calling. An operator is a person logged in with e-ID at LoA 3 or higher whom the decision point
//! lets `operate` the API (the role is a policy naming the person), or — for bootstrap and automation —
//! the holder of the shared operator token (made on the deployment's first start, kept in its key vault
//! and written to each instance's data directory as `operator.token`, mode 0600, shown by `ena admin token`, sent as `Authorization: Bearer …`; named
//! `operator-token` in events). A member system calls with an access token (`ApiCaller`). Every refused
//! attempt is an audit event.

use std::path::{Path, PathBuf};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ena_audit::event::Result as AuditResult;
use ena_audit::{Actor, ActorKind, AuditSink, Context};
use ena_core::ErrorCode;
use ena_keys::files::write_private;

use crate::AppState;
use crate::problem::ApiError;
use crate::trace::TraceContext;

/// File name of the operator token in the data directory.
pub const TOKEN_FILE: &str = "operator.token";

/// The operator credential; only its SHA-256 is kept in memory.
#[derive(Clone, Debug)]
pub struct OperatorToken {
    digest: Vec<u8>,
}

impl OperatorToken {
    /// A new random token (the deployment's first start; it is kept in the key vault).
    pub fn generate() -> Result<String, String> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).map_err(|_| "no randomness".to_owned())?;
        Ok(format!("ena_op_{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Write `token` to `DATA_DIR/operator.token` (0600) for `ena admin token` and local tools, unless
    /// the file already holds it.
    pub fn write_file(data_dir: &Path, token: &str) -> std::io::Result<()> {
        let path = token_path(data_dir);
        if std::fs::read_to_string(&path).is_ok_and(|t| t.trim() == token) {
            return Ok(());
        }
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        write_private(&path, token.as_bytes())
    }

    pub fn from_secret(token: &str) -> OperatorToken {
        OperatorToken { digest: digest(&SHA256, token.as_bytes()).as_ref().to_vec() }
    }

    pub fn matches(&self, presented: &str) -> bool {
        verify_slices_are_equal(digest(&SHA256, presented.as_bytes()).as_ref(), &self.digest).is_ok()
    }
}

pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKEN_FILE)
}

/// The request's audit context for an anonymous or not yet authenticated caller.
pub fn context(parts: &Parts, actor: Actor) -> Context {
    Context {
        actor,
        on_behalf_of: None,
        correlation_id: parts.extensions.get::<TraceContext>().map(|t| t.trace_id().to_owned()),
    }
}

/// The action a request attempts, for audit events: `METHOD /route/template`.
pub fn attempted_action(parts: &Parts) -> String {
    let route = parts.extensions.get::<MatchedPath>().map_or(parts.uri.path(), |m| m.as_str());
    format!("{} {route}", parts.method)
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// A member system calling with an access token from `/identity/v1/token` for this instance, checked
/// against the connection's client certificate when the token is bound to one (RFC 8705). Refusals are
/// logged by the token service.
#[derive(Clone, Debug)]
pub struct ApiCaller(pub ena_identity::token::Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(checked) = crate::callers::checked::<ApiCaller>(parts) {
            return Ok(checked);
        }
        let presented = match parts.extensions.get::<crate::mtls::PeerStatus>() {
            Some(crate::mtls::PeerStatus::Member(p)) => Some(p.certificate_sha256.clone()),
            Some(crate::mtls::PeerStatus::Refused(why)) => {
                return Err(ApiError::new(
                    ErrorCode::PermissionDenied,
                    format!("The client certificate is not accepted: {why}."),
                ));
            }
            None => None,
        };
        let Some(token) = bearer(parts) else {
            return Err(ApiError::new(
                ErrorCode::AuthenticationRequired,
                "This operation needs an access token from /identity/v1/token as `Authorization: Bearer …`.",
            ));
        };
        let caller = state.tokens.check(token, presented.as_deref(), state.federation.entity_id()).await?;
        Ok(ApiCaller(caller))
    }
}

/// Ask the decision point whether the operator may run this operation: subject `operator`, action
/// `operate`, resource the API (`api:<first path segment>`). A denial is recorded and answered 403 with
/// the reasons.
pub(crate) async fn operator_may(state: &AppState, api: &str, ctx: &Context, attempted: &str) -> Result<(), ApiError> {
    let decision = state.access.decide_simple(("operator", "operator"), &[], "operate", ("api", api)).await?;
    if decision.allowed {
        return Ok(());
    }
    let why = if decision.reasons.is_empty() {
        "no policy permits it".to_owned()
    } else {
        decision
            .reasons
            .iter()
            .map(|r| r.reason.clone().unwrap_or_else(|| r.policy.clone()))
            .collect::<Vec<_>>()
            .join("; ")
    };
    record_denied(state, ctx, attempted, &format!("decision point: {why}")).await;
    Err(ApiError::new(
        ErrorCode::PermissionDenied,
        format!("The decision point refuses this operation on api:{api}: {why}."),
    ))
}

/// Ask the decision point whether an authenticated member system or person may `use` ena's API `api`.
pub(crate) async fn may_use(
    state: &AppState,
    subject: (&str, &str),
    attrs: &[(&str, &str)],
    api: &str,
) -> Result<(), ApiError> {
    let decision = state.access.decide_simple(subject, attrs, "use", ("api", api)).await?;
    if decision.allowed {
        return Ok(());
    }
    let why = decision.reasons.iter().filter_map(|r| r.reason.clone()).collect::<Vec<_>>().join("; ");
    let why = if why.is_empty() { "no policy permits it".to_owned() } else { why };
    Err(ApiError::new(ErrorCode::PermissionDenied, format!("The decision point refuses the use of api:{api}: {why}.")))
}

/// An authenticated operator: a person logged in with e-ID at LoA 3 or higher whom the decision point
/// lets `operate` the API, or — for bootstrap and automation only — the holder of the shared operator
/// token. `ctx` names which (the person, or `operator-token`), so every event of an operator action says
/// who did it.
#[derive(Clone, Debug)]
pub struct Operator {
    pub ctx: Context,
}

/// The level an operator person's session needs.
pub const OPERATOR_LOA: ena_identity::loa::Loa = ena_identity::loa::Loa(3);
/// The actor id of the shared operator token in audit events.
pub const OPERATOR_TOKEN_ACTOR: &str = "operator-token";
/// The header that carries the session's CSRF token when a person's session authenticates a change.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The API an operator action is on (`api:<first path segment>`).
fn api_of(parts: &Parts) -> String {
    parts.uri.path().trim_start_matches('/').split('/').next().unwrap_or_default().to_owned()
}

async fn record_denied(state: &AppState, ctx: &Context, attempted: &str, reason: &str) {
    let event = ctx.event(attempted, None, AuditResult::Denied, Some(reason.to_owned()));
    if let Err(e) = state.audit.record(vec![event]).await {
        tracing::error!(error = %e, "could not record a denied request in the audit log");
    }
}

/// The operator person behind session `s` on `api`, if the level and the decision point allow it; the
/// refusal (recorded) otherwise. The portal asks the same for its operator pages.
pub(crate) async fn operator_person(
    state: &AppState,
    s: &ena_identity::session::Session,
    api: &str,
    correlation_id: Option<String>,
    attempted: &str,
) -> Result<Operator, ApiError> {
    let actor = Actor { kind: ActorKind::Person, id: s.person.as_str().to_owned(), organisation: None };
    let ctx = Context { actor, on_behalf_of: None, correlation_id };
    if s.loa < OPERATOR_LOA {
        let why = format!(
            "operator actions need a login at LoA {} or higher; this session is LoA {}",
            OPERATOR_LOA.0, s.loa.0
        );
        record_denied(state, &ctx, attempted, &why).await;
        return Err(ApiError::new(ErrorCode::PermissionDenied, format!("{why}: log in again at LoA 3.")));
    }
    let decision = state.access.decide_simple(("person", s.person.as_str()), &[], "operate", ("api", api)).await?;
    if !decision.allowed {
        let why = "no policy lets this person operate api:".to_owned() + api;
        record_denied(state, &ctx, attempted, &why).await;
        return Err(ApiError::new(
            ErrorCode::PermissionDenied,
            format!(
                "The decision point refuses this operation: {why} (the operator role is granted by a policy of the decision point)."
            ),
        ));
    }
    Ok(Operator { ctx })
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(checked) = crate::callers::checked::<Operator>(parts) {
            return Ok(checked);
        }
        let bearer = bearer(parts);
        let api = api_of(parts);
        let attempted = attempted_action(parts);
        if let Some(token) = bearer {
            if state.operator.matches(token) {
                // The shared token: bootstrap and automation, named as such in every event.
                let actor = Actor { kind: ActorKind::System, id: OPERATOR_TOKEN_ACTOR.into(), organisation: None };
                let ctx = context(parts, actor);
                operator_may(state, &api, &ctx, &attempted).await?;
                return Ok(Operator { ctx });
            }
        } else if let Some((_, s)) = crate::blocks::identity::portal::current(state, &parts.headers).await {
            // A person's session. A change needs the session's CSRF token in a header, so another site
            // cannot make the browser do it.
            let safe = matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
            let csrf = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            if !safe && verify_slices_are_equal(csrf.as_bytes(), s.csrf.as_bytes()).is_err() {
                let ctx = context(
                    parts,
                    Actor { kind: ActorKind::Person, id: s.person.as_str().to_owned(), organisation: None },
                );
                record_denied(state, &ctx, &attempted, "the session's CSRF token is missing or wrong").await;
                return Err(ApiError::invalid(
                    ErrorCode::PermissionDenied,
                    format!("A change made with a session needs the session's CSRF token in the {CSRF_HEADER} header."),
                    vec![ena_core::FieldError::new(CSRF_HEADER, "(token)", "missing or not this session's")],
                ));
            }
            let trace = parts.extensions.get::<TraceContext>().map(|t| t.trace_id().to_owned());
            return operator_person(state, &s, &api, trace, &attempted).await;
        }
        let reason = if bearer.is_some() { "the bearer token is not valid" } else { "no credentials were sent" };
        let anonymous = Actor { kind: ActorKind::Anonymous, id: "anonymous".into(), organisation: None };
        record_denied(state, &context(parts, anonymous), &attempted, reason).await;
        Err(ApiError::new(
            ErrorCode::AuthenticationRequired,
            format!(
                "This operation is the operator's: log in with e-ID at LoA 3 as a person the decision point lets operate it, or (bootstrap, automation) send the operator token as `Authorization: Bearer …`: {reason}."
            ),
        ))
    }
}

/// The operator if the request carries a bearer token, `None` if it carries none (a public caller).
/// A token that is not the operator's is refused like [`Operator`] refuses it, never quietly treated as
/// public.
#[derive(Clone, Debug)]
pub struct MaybeOperator(pub Option<Operator>);

impl FromRequestParts<AppState> for MaybeOperator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(checked) = crate::callers::checked::<MaybeOperator>(parts) {
            return Ok(checked);
        }
        if parts.headers.get(header::AUTHORIZATION).is_none() {
            return Ok(MaybeOperator(None));
        }
        Ok(MaybeOperator(Some(Operator::from_request_parts(parts, state).await?)))
    }
}

/// A person with a portal session, checked by `authorize` for a route declared `Caller::Person(n)`.
/// On an API route the session is at LoA `n` or higher and the decision point lets the person `use`
/// the API; on a portal page there is a session (the page shows a weaker one what it needs, or sends
/// it to log in again). Handlers take it as an extractor, which only reads what `authorize` checked.
#[derive(Clone, Debug)]
pub struct Person(pub ena_identity::session::Session);

impl FromRequestParts<AppState> for Person {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        crate::callers::checked::<Person>(parts).ok_or_else(|| {
            ApiError::internal(&format!(
                "{} reads a person but is not declared Caller::Person",
                attempted_action(parts)
            ))
        })
    }
}

/// `authorize`'s check of a `Caller::Person(min)` route: the person, or the answer to send (a problem
/// on an API route, the login page at level `min` on a portal page, coming back to where the person was).
pub(crate) async fn person(
    parts: &Parts,
    state: &AppState,
    min: ena_identity::loa::Loa,
) -> Result<Person, axum::response::Response> {
    use axum::response::IntoResponse;
    let session = crate::blocks::identity::portal::current(state, &parts.headers).await.map(|(_, s)| s);
    if !crate::problem::is_api_path(parts.uri.path()) {
        return session.map(Person).ok_or_else(|| login_redirect(parts, state, min));
    }
    let Some(s) = session else {
        return Err(ApiError::new(
            ErrorCode::AuthenticationRequired,
            format!("This needs a portal session: log in at /login?loa={}.", min.0),
        )
        .into_response());
    };
    if s.loa < min {
        return Err(ApiError::invalid(
            ErrorCode::PermissionDenied,
            format!("This needs {min}; the session has {}: log in again at /login?loa={}.", s.loa, min.0),
            vec![ena_core::FieldError::new("loa", s.loa.0, format!("must be at least {}", min.0))],
        )
        .into_response());
    }
    may_use(state, ("person", s.person.as_str()), &[], &api_of(parts)).await.map_err(IntoResponse::into_response)?;
    Ok(Person(s))
}

/// To the login at level `min`, then back: to this page, or after a form, to the page the form was on
/// (its `Referer` on this site), else to Mina sidor.
fn login_redirect(parts: &Parts, state: &AppState, min: ena_identity::loa::Loa) -> axum::response::Response {
    use axum::response::IntoResponse;
    let safe = matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
    let back = if safe {
        parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned()
    } else {
        parts
            .headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|r| r.strip_prefix(state.identity.base_url.as_str()))
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/mina-sidor")
            .to_owned()
    };
    let to = format!("/login?loa={}&return={}", min.0, ena_identity::testeid::encode(&back));
    axum::response::Redirect::to(&to).into_response()
}

/// A member organisation calling an API: its member system with an access token or its node by its
/// certificate, which the decision point lets `use` the API of the path. `organisation` is canonical.
#[derive(Debug, Clone)]
pub struct MemberOrganisation {
    pub organisation: String,
    /// The member's entity id (its node's, or its system's client id).
    pub client: String,
    pub ctx: Context,
}

impl FromRequestParts<AppState> for MemberOrganisation {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(checked) = crate::callers::checked::<MemberOrganisation>(parts) {
            return Ok(checked);
        }
        let by_certificate = bearer(parts).is_none() && parts.extensions.get::<crate::mtls::PeerStatus>().is_some();
        let (client, organisation) = if by_certificate {
            let crate::mtls::Node(peer) = crate::mtls::Node::from_request_parts(parts, state).await?;
            (peer.entity_id, peer.organisation_number)
        } else {
            let ApiCaller(caller) = ApiCaller::from_request_parts(parts, state).await?;
            (caller.client, caller.organisation_number)
        };
        may_use(state, ("member", &client), &[("organisationNumber", &organisation)], &api_of(parts)).await?;
        let organisation = ena_core::Organisationsnummer::parse(&organisation)
            .map(|o| o.as_str().to_owned())
            .map_err(|e| ApiError::internal(&format!("a member's organisation number: {e}")))?;
        let actor = Actor { kind: ActorKind::Node, id: client.clone(), organisation: Some(organisation.clone()) };
        Ok(MemberOrganisation { organisation, client, ctx: context(parts, actor) })
    }
}
