//! Portal pages for the federation operator: list applications and approve or reject them, without
//! JavaScript. Until the identity block brings e-ID login and sessions, the operator token is typed into
//! the first form and carried in the page's decision forms (served `no-store`); there is no ambient
//! credential, so there is nothing for a forged cross-site request to ride on.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use ena_audit::event::Result as AuditResult;
use ena_audit::{Actor, ActorKind, AuditSink, Context};
use ena_federation::FederationError;
use serde::Deserialize;

use crate::AppState;
use crate::portal::{Lang, LangQuery, Layout};

pub fn router() -> Router<AppState> {
    Router::new().route("/anslutning", get(page).post(open)).route("/anslutning/beslut", post(decide))
}

/// The page's own texts.
pub struct FedTexts {
    title: &'static str,
    lead: &'static str,
    agreement: &'static str,
    token: &'static str,
    token_help: &'static str,
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
    token_help: "Nyckeln skrivs ut av ena admin token --data-dir KATALOG. Inloggning med e-legitimation ersätter den när identitetsblocket finns.",
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
    token_help: "The token is printed by ena admin token --data-dir DIR. Login with e-ID replaces it once the identity block exists.",
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
#[template(path = "applications.html")]
struct ApplicationsPage {
    layout: Layout,
    f: &'static FedTexts,
    agreement: String,
    authorised: bool,
    token: String,
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
    token: String,
    id: String,
    decision: String,
    #[serde(default)]
    reason: String,
}

fn texts(lang: Lang) -> &'static FedTexts {
    if lang == Lang::En { &EN } else { &SV }
}

fn operator_context() -> Context {
    Context {
        actor: Actor { kind: ActorKind::System, id: "operator".into(), organisation: None },
        on_behalf_of: None,
        correlation_id: None,
    }
}

async fn render(
    state: &AppState,
    lang: Lang,
    token: Option<&str>,
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
    let rows = match token {
        Some(_) => match state.federation.applications(status, 100, 0).await {
            Ok(apps) => apps
                .into_iter()
                .map(|a| Row {
                    pending: a.status == "pending",
                    id: a.id,
                    name: a.name,
                    entity_id: a.entity_id,
                    org: a.organisation_number,
                    types: a.entity_types.join(", "),
                    status: a.status,
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
        authorised: token.is_some(),
        token: token.unwrap_or_default().to_owned(),
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
        let ctx = Context {
            actor: Actor { kind: ActorKind::System, id: "operator".into(), organisation: None },
            on_behalf_of: None,
            correlation_id: None,
        };
        return crate::auth::operator_may(state, "federation", &ctx, action).await.is_ok();
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

async fn page(State(state): State<AppState>, Query(q): Query<LangQuery>) -> Response {
    render(&state, q.lang(), None, None, None, None, StatusCode::OK).await
}

async fn open(State(state): State<AppState>, Query(q): Query<LangQuery>, Form(form): Form<OpenForm>) -> Response {
    let lang = q.lang();
    if !check_token(&state, &form.token, "POST /anslutning").await {
        return render(&state, lang, None, None, None, Some(texts(lang).bad_token.into()), StatusCode::UNAUTHORIZED)
            .await;
    }
    let status = (!form.status.is_empty()).then_some(form.status.as_str()).filter(|s| *s == "pending");
    render(&state, lang, Some(form.token.trim()), status, None, None, StatusCode::OK).await
}

async fn decide(State(state): State<AppState>, Query(q): Query<LangQuery>, Form(form): Form<DecisionForm>) -> Response {
    let lang = q.lang();
    let f = texts(lang);
    if !check_token(&state, &form.token, "POST /anslutning/beslut").await {
        return render(&state, lang, None, None, None, Some(f.bad_token.into()), StatusCode::UNAUTHORIZED).await;
    }
    let token = form.token.trim();
    let ctx = operator_context();
    let result = match form.decision.as_str() {
        "approve" => state.federation.approve(&state.audit, &ctx, &form.id).await.map(|_| f.approved),
        "reject" if form.reason.trim().is_empty() => {
            return render(
                &state,
                lang,
                Some(token),
                Some("pending"),
                None,
                Some(f.need_reason.into()),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        "reject" => state.federation.reject(&state.audit, &ctx, &form.id, &form.reason).await.map(|_| f.rejected),
        other => Err(FederationError::Invalid(vec![ena_core::FieldError::new(
            "decision",
            other,
            "must be approve or reject",
        )])),
    };
    match result {
        Ok(message) => {
            render(&state, lang, Some(token), Some("pending"), Some(message.into()), None, StatusCode::OK).await
        }
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
            render(&state, lang, Some(token), Some("pending"), None, Some(text), code).await
        }
    }
}
