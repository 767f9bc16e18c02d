//! Portal pages for the federation operator: list applications and approve or reject them, without
//! JavaScript. An operator person logged in at LoA 3 (whom the decision point lets operate the federation)
//! sees and decides at once, with the session's CSRF token in its forms; for bootstrap, the operator token
//! is typed into
//! the first form and carried in the page's decision forms (served `no-store`); there is no ambient
//! credential, so there is nothing for a forged cross-site request to ride on.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ena_audit::event::Result as AuditResult;
use ena_audit::{Actor, ActorKind, AuditSink, Context};
use ena_federation::FederationError;
use serde::Deserialize;

use crate::AppState;
use crate::callers::{Caller, Routes};
use crate::site::portal::{Lang, LangQuery, Layout};

pub fn router() -> Routes {
    Routes::new().get("/anslutning", Caller::Public, page).post("/anslutning", Caller::OperatorPage, open).post(
        "/anslutning/beslut",
        Caller::OperatorPage,
        decide,
    )
}

/// The page's own texts.
pub struct FedTexts {
    title: &'static str,
    lead: &'static str,
    agreement: &'static str,
    token: &'static str,
    token_help: &'static str,
    login: &'static str,
    show: &'static str,
    pending: &'static str,
    all: &'static str,
    open: &'static str,
    applications: &'static str,
    none: &'static str,
    entity: &'static str,
    org: &'static str,
    types: &'static str,
    status: &'static str,
    received: &'static str,
    reason: &'static str,
    approve: &'static str,
    reject: &'static str,
    bad_token: &'static str,
    need_reason: &'static str,
    approved: &'static str,
    rejected: &'static str,
}

const SV: FedTexts = FedTexts {
    title: "Anslutningar till federationen",
    lead: "Här prövar operatören organisationers ansökningar om att ansluta sina noder. Ett godkännande publicerar medlemmen i federationen, utfärdar nodens certifikat och tillitsmärken och loggas i transparensloggen.",
    agreement: "Anslutningsavtal i kraft",
    token: "Operatörsnyckel",
    token_help: "Nyckeln är till för uppstart och automatisering och skrivs ut av ena admin token --data-dir KATALOG. En operatör loggar annars in med e-legitimation (tillitsnivå 3) och har operatörsrollen genom en policy i beslutspunkten.",
    login: "Logga in som operatör med e-legitimation",
    show: "Visa",
    pending: "Ansökningar som väntar på beslut",
    all: "Alla ansökningar",
    open: "Visa ansökningar",
    applications: "Ansökningar",
    none: "Inga ansökningar att visa.",
    entity: "Entitets-id",
    org: "Organisationsnummer",
    types: "Entitetstyper",
    status: "Status",
    received: "Inkom",
    reason: "Skäl (krävs vid avslag)",
    approve: "Godkänn",
    reject: "Avslå",
    bad_token: "Operatörsnyckeln stämmer inte. Försöket har loggats.",
    need_reason: "Skäl: ange varför ansökan avslås (1–1000 tecken).",
    approved: "Ansökan godkändes. Medlemmen är publicerad i federationen.",
    rejected: "Ansökan avslogs.",
};

const EN: FedTexts = FedTexts {
    title: "Federation membership applications",
    lead: "Here the operator decides organisations' applications to connect their nodes. Approval publishes the member in the federation, issues the node's certificate and trust marks, and is recorded in the transparency log.",
    agreement: "Agreement in force",
    token: "Operator token",
    token_help: "The token is for bootstrap and automation, printed by ena admin token --data-dir DIR. Otherwise an operator logs in with e-ID (LoA 3) and holds the operator role through a policy of the decision point.",
    login: "Log in as an operator with e-ID",
    show: "Show",
    pending: "Applications awaiting a decision",
    all: "All applications",
    open: "Show applications",
    applications: "Applications",
    none: "No applications to show.",
    entity: "Entity id",
    org: "Organisation number",
    types: "Entity types",
    status: "Status",
    received: "Received",
    reason: "Reason (required to reject)",
    approve: "Approve",
    reject: "Reject",
    bad_token: "The operator token is wrong. The attempt has been logged.",
    need_reason: "Reason: say why the application is rejected (1–1000 characters).",
    approved: "The application was approved. The member is published in the federation.",
    rejected: "The application was rejected.",
};

struct Row {
    id: String,
    name: String,
    entity_id: String,
    org: String,
    types: String,
    status: String,
    created: String,
    pending: bool,
}

#[derive(Template)]
#[template(path = "federation/templates/applications.html")]
struct ApplicationsPage {
    layout: Layout,
    f: &'static FedTexts,
    agreement: String,
    authorised: bool,
    token: String,
    /// Set when an operator person's session authorises the page (its forms carry it instead of a token).
    csrf: String,
    rows: Vec<Row>,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct OpenForm {
    token: String,
    #[serde(default)]
    status: String,
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    id: String,
    decision: String,
    #[serde(default)]
    reason: String,
}

fn texts(lang: Lang) -> &'static FedTexts {
    if lang == Lang::En { &EN } else { &SV }
}

/// Who authorises the page: the operator token (bootstrap), or an operator person's session.
enum Authority {
    Token(String),
    Person { csrf: String },
}

fn token_context() -> Context {
    Context {
        actor: Actor { kind: ActorKind::System, id: crate::auth::OPERATOR_TOKEN_ACTOR.into(), organisation: None },
        on_behalf_of: None,
        correlation_id: None,
    }
}

/// The operator person of this browser's session, if it has one that may operate the federation.
async fn person_operator(state: &AppState, headers: &HeaderMap, action: &str) -> Option<(Context, String)> {
    let (_, s) = crate::blocks::identity::portal::current(state, headers).await?;
    let op = crate::auth::operator_person(state, &s, "federation", None, action).await.ok()?;
    Some((op.ctx, s.csrf))
}

async fn render(
    state: &AppState,
    lang: Lang,
    auth: Option<&Authority>,
    status: Option<&str>,
    message: Option<String>,
    error: Option<String>,
    code: StatusCode,
) -> Response {
    let f = texts(lang);
    let agreement = match state.federation.agreement().await {
        Ok(a) => format!("{} ({})", a.title, a.version),
        Err(e) => return crate::problem::ApiError::internal(&e).into_response(),
    };
    let rows = match auth {
        Some(_) => match state.federation.applications(status, 100, 0).await {
            Ok(apps) => apps
                .into_iter()
                .map(|a| Row {
                    pending: a.status == ena_federation::anchor::ApplicationStatus::Pending,
                    id: a.id,
                    name: a.name,
                    entity_id: a.entity_id,
                    org: a.organisation_number,
                    types: a.entity_types.join(", "),
                    status: a.status.to_string(),
                    created: a.created_at,
                })
                .collect(),
            Err(e) => return crate::problem::ApiError::from(e).into_response(),
        },
        None => Vec::new(),
    };
    let page = ApplicationsPage {
        layout: Layout::new(lang, f.title, "/anslutning"),
        f,
        agreement,
        authorised: auth.is_some(),
        token: match auth {
            Some(Authority::Token(t)) => t.clone(),
            _ => String::new(),
        },
        csrf: match auth {
            Some(Authority::Person { csrf }) => csrf.clone(),
            _ => String::new(),
        },
        rows,
        message,
        error,
    };
    match page.render() {
        Ok(html) => {
            (code, [(header::CACHE_CONTROL, "no-store"), (header::CONTENT_TYPE, "text/html; charset=utf-8")], html)
                .into_response()
        }
        Err(e) => crate::problem::ApiError::internal(&e).into_response(),
    }
}

/// A wrong token is refused and recorded, like the API's `Operator` extractor does; a right one is
/// then put to the decision point (as the federation API's operator actions are).
async fn check_token(state: &AppState, token: &str, action: &str) -> bool {
    if state.operator.matches(token.trim()) {
        return crate::auth::operator_may(state, "federation", &token_context(), action).await.is_ok();
    }
    let ctx = Context {
        actor: Actor { kind: ActorKind::Anonymous, id: "anonymous".into(), organisation: None },
        on_behalf_of: None,
        correlation_id: None,
    };
    let event = ctx.event(action, None, AuditResult::Denied, Some("the operator token is not valid".into()));
    if let Err(e) = state.audit.record(vec![event]).await {
        tracing::error!(error = %e, "could not record a denied portal request");
    }
    false
}

async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    // An operator person logged in at LoA 3 sees the applications at once; anyone else is offered the
    // token form (bootstrap) and a login.
    let auth = person_operator(&state, &headers, "GET /anslutning").await.map(|(_, csrf)| Authority::Person { csrf });
    render(&state, q.lang(), auth.as_ref(), Some("pending"), None, None, StatusCode::OK).await
}

async fn open(State(state): State<AppState>, Query(q): Query<LangQuery>, Form(form): Form<OpenForm>) -> Response {
    let lang = q.lang();
    if !check_token(&state, &form.token, "POST /anslutning").await {
        return render(&state, lang, None, None, None, Some(texts(lang).bad_token.into()), StatusCode::UNAUTHORIZED)
            .await;
    }
    let status = (!form.status.is_empty()).then_some(form.status.as_str()).filter(|s| *s == "pending");
    let auth = Authority::Token(form.token.trim().to_owned());
    render(&state, lang, Some(&auth), status, None, None, StatusCode::OK).await
}

async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let lang = q.lang();
    let f = texts(lang);
    // A person's session (its CSRF token in the form), or the operator token; the decision's events name
    // the person, or `operator-token`.
    let (ctx, auth) = if form.token.is_empty() {
        match person_operator(&state, &headers, "POST /anslutning/beslut").await {
            Some((ctx, csrf))
                if aws_lc_rs::constant_time::verify_slices_are_equal(csrf.as_bytes(), form.csrf.as_bytes()).is_ok() =>
            {
                (ctx, Authority::Person { csrf })
            }
            _ => return render(&state, lang, None, None, None, Some(f.bad_token.into()), StatusCode::FORBIDDEN).await,
        }
    } else {
        if !check_token(&state, &form.token, "POST /anslutning/beslut").await {
            return render(&state, lang, None, None, None, Some(f.bad_token.into()), StatusCode::UNAUTHORIZED).await;
        }
        (token_context(), Authority::Token(form.token.trim().to_owned()))
    };
    let token = Some(&auth);
    let result = match form.decision.as_str() {
        "approve" => state.federation.approve(&ctx, &form.id).await.map(|_| f.approved),
        "reject" if form.reason.trim().is_empty() => {
            return render(
                &state,
                lang,
                token,
                Some("pending"),
                None,
                Some(f.need_reason.into()),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        "reject" => state.federation.reject(&ctx, &form.id, &form.reason).await.map(|_| f.rejected),
        other => Err(FederationError::Invalid(vec![ena_core::FieldError::new(
            "decision",
            other,
            "must be approve or reject",
        )])),
    };
    match result {
        Ok(message) => render(&state, lang, token, Some("pending"), Some(message.into()), None, StatusCode::OK).await,
        Err(e) => {
            let code = match &e {
                FederationError::Invalid(_) => StatusCode::BAD_REQUEST,
                FederationError::NotFound(_) => StatusCode::NOT_FOUND,
                FederationError::Conflict(_) => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let text = match &e {
                FederationError::Invalid(fields) => {
                    fields.iter().map(|x| format!("{}: {}", x.property, x.reason)).collect::<Vec<_>>().join("; ")
                }
                other => other.to_string(),
            };
            render(&state, lang, token, Some("pending"), None, Some(text), code).await
        }
    }
}
