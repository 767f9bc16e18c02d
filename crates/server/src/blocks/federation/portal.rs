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
use ena_core::Organisationsnummer;
use ena_federation::FederationError;
use ena_federation::anchor::{Application, ApplicationStatus};
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
    contact: &'static str,
    types: &'static str,
    trust_marks: &'static str,
    no_trust_marks: &'static str,
    accepted_agreement: &'static str,
    version: &'static str,
    in_force: &'static str,
    not_in_force: &'static str,
    status: &'static str,
    status_pending: &'static str,
    status_approved: &'static str,
    status_rejected: &'static str,
    received: &'static str,
    decided: &'static str,
    decided_by: &'static str,
    decision_reason: &'static str,
    not_recorded: &'static str,
    token_decider: &'static str,
    reason: &'static str,
    approve: &'static str,
    pages: &'static str,
    previous: &'static str,
    next: &'static str,
    page: &'static str,
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
    contact: "Kontakt",
    types: "Entitetstyper",
    trust_marks: "Begärda tillitsmärken",
    no_trust_marks: "Inga",
    accepted_agreement: "Godkänt anslutningsavtal",
    version: "version",
    in_force: "det som gäller nu",
    not_in_force: "inte det som gäller nu, som är version",
    status: "Status",
    status_pending: "Väntar på beslut",
    status_approved: "Godkänd",
    status_rejected: "Avslagen",
    received: "Inkom",
    decided: "Beslutad",
    decided_by: "Beslutad av",
    decision_reason: "Skäl",
    not_recorded: "Uppgift saknas (beslutet togs innan det registrerades)",
    token_decider: "Operatörsnyckeln",
    reason: "Skäl (krävs vid avslag)",
    approve: "Godkänn",
    pages: "Sidor",
    previous: "Föregående sida",
    next: "Nästa sida",
    page: "Sida",
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
    contact: "Contact",
    types: "Entity types",
    trust_marks: "Requested trust marks",
    no_trust_marks: "None",
    accepted_agreement: "Agreement accepted",
    version: "version",
    in_force: "the one in force",
    not_in_force: "not the one in force, which is version",
    status: "Status",
    status_pending: "Awaiting decision",
    status_approved: "Approved",
    status_rejected: "Rejected",
    received: "Received",
    decided: "Decided",
    decided_by: "Decided by",
    decision_reason: "Reason",
    not_recorded: "Not recorded (decided before deciders were recorded)",
    token_decider: "The operator token",
    reason: "Reason (required to reject)",
    approve: "Approve",
    pages: "Pages",
    previous: "Previous page",
    next: "Next page",
    page: "Page",
    reject: "Reject",
    bad_token: "The operator token is wrong. The attempt has been logged.",
    need_reason: "Reason: say why the application is rejected (1–1000 characters).",
    approved: "The application was approved. The member is published in the federation.",
    rejected: "The application was rejected.",
};

/// A moment as shown: readable text, with its RFC 3339 value for the `<time>` element.
struct When {
    text: String,
    datetime: String,
}

impl When {
    fn of(rfc3339: &str) -> When {
        When { text: crate::site::portal::readable_time(rfc3339), datetime: rfc3339.to_owned() }
    }
}

/// What was decided about an application, when, why and by whom.
struct Decision {
    at: Option<When>,
    reason: Option<String>,
    by: String,
}

struct Row {
    id: String,
    name: String,
    entity_id: String,
    org: String,
    contact: String,
    types: String,
    trust_marks: Vec<String>,
    agreement: String,
    status: &'static str,
    received: When,
    decision: Option<Decision>,
    pending: bool,
}

#[derive(Template)]
#[template(path = "federation/templates/applications.html")]
struct ApplicationsPage {
    layout: Layout,
    f: &'static FedTexts,
    /// Whether the page is in English (a GET form carries the language in a field of its own).
    english: bool,
    agreement: String,
    authorised: bool,
    /// Whether every application is listed, not only those awaiting a decision.
    all: bool,
    token: String,
    /// Set when an operator person's session authorises the page (its forms carry it instead of a token).
    csrf: String,
    rows: Vec<Row>,
    /// The page of the list shown (from 1), and whether there is a next one.
    page: u32,
    more: bool,
    message: Option<String>,
    error: Option<String>,
}

/// Applications per page of the list.
const PAGE_SIZE: u32 = 50;

/// A page number from a query or form: from 1; anything else is the first page.
fn page_number(text: &str) -> u32 {
    text.parse::<u32>().ok().filter(|p| (1..=100_000).contains(p)).unwrap_or(1)
}

#[derive(Debug, Deserialize)]
pub struct OpenForm {
    token: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: String,
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
    /// The list the decision was taken from (`all`, or awaiting a decision), shown again afterwards.
    #[serde(default)]
    status: String,
}

fn texts(lang: Lang) -> &'static FedTexts {
    if lang == Lang::En { &EN } else { &SV }
}

/// Which applications a form or query asks for: only those awaiting a decision unless it says `all`.
fn wanted(status: &str) -> Option<&'static str> {
    if status == "all" { None } else { Some(ApplicationStatus::Pending.as_str()) }
}

fn status_text(f: &FedTexts, status: ApplicationStatus) -> &'static str {
    match status {
        ApplicationStatus::Pending => f.status_pending,
        ApplicationStatus::Approved => f.status_approved,
        ApplicationStatus::Rejected => f.status_rejected,
    }
}

/// The 12-digit stored form as people write it (`212000-0142`); the stored text if it does not parse.
fn organisation_number(stored: &str) -> String {
    Organisationsnummer::parse(stored).map(|o| o.display_form()).unwrap_or_else(|_| stored.to_owned())
}

/// Who decided, for a list many read: the bootstrap token by name, a person by their masked identity
/// number (a full one is never shown in a list), any other actor by its id.
fn decider(f: &FedTexts, decided_by: Option<&str>) -> String {
    match decided_by {
        None => f.not_recorded.to_owned(),
        Some(crate::auth::OPERATOR_TOKEN_ACTOR) => {
            format!("{} ({})", f.token_decider, crate::auth::OPERATOR_TOKEN_ACTOR)
        }
        Some(id) => ena_audit::event::mask(id),
    }
}

fn row(f: &FedTexts, current_agreement: Option<i64>, a: Application) -> Row {
    let agreement = if current_agreement == Some(a.agreement_version) {
        format!("{} {} ({})", f.version, a.agreement_version, f.in_force)
    } else {
        let current = current_agreement.map(|v| v.to_string()).unwrap_or_else(|| "?".into());
        format!("{} {} ({} {current})", f.version, a.agreement_version, f.not_in_force)
    };
    let decision = (a.status != ApplicationStatus::Pending).then(|| Decision {
        at: a.decided_at.as_deref().map(When::of),
        reason: a.reason.clone(),
        by: decider(f, a.decided_by.as_deref()),
    });
    Row {
        pending: a.status == ApplicationStatus::Pending,
        status: status_text(f, a.status),
        org: organisation_number(&a.organisation_number),
        types: a.entity_types.join(", "),
        received: When::of(&a.created_at),
        trust_marks: a.trust_marks,
        agreement,
        decision,
        id: a.id,
        name: a.name,
        entity_id: a.entity_id,
        contact: a.contact,
    }
}

/// An internal failure, in the page's language; the cause goes to the server's log only.
fn internal(lang: Lang, cause: &dyn std::fmt::Display) -> String {
    tracing::error!(error = %cause, "the federation portal page failed");
    if lang == Lang::En {
        "An internal error stopped the page; it has been logged. Try again in a while.".into()
    } else {
        "Ett internt fel stoppade sidan; felet har loggats. Försök igen om en stund.".into()
    }
}

/// Why a decision was refused, in the page's language: the service's own texts are English and meant
/// for API clients, so each kind of refusal is said here again.
async fn refusal(state: &AppState, lang: Lang, id: &str, error: &FederationError) -> String {
    let en = lang == Lang::En;
    match error {
        FederationError::Invalid(fields) => {
            let each: Vec<String> = fields
                .iter()
                .map(|x| {
                    let why = match (x.property.as_str(), en) {
                        ("decision", false) => "välj Godkänn eller Avslå",
                        ("decision", true) => "choose Approve or Reject",
                        ("reason", false) => "ange ett skäl på 1–1000 tecken",
                        ("reason", true) => "give a reason of 1–1000 characters",
                        ("keyRequest", false) => "federationens CA godtar inte nodens nyckelbegäran",
                        ("keyRequest", true) => "the federation's CA does not accept the node's key request",
                        (_, false) => "värdet godtas inte",
                        (_, true) => "the value is not accepted",
                    };
                    format!("{}: {why}", x.property)
                })
                .collect();
            if en {
                format!("The decision was not accepted ({}); nothing was changed.", each.join("; "))
            } else {
                format!("Beslutet godtogs inte ({}); inget ändrades.", each.join("; "))
            }
        }
        FederationError::NotFound(_) => {
            if en {
                format!("There is no application {id}; nothing was changed.")
            } else {
                format!("Det finns ingen ansökan {id}; inget ändrades.")
            }
        }
        FederationError::Conflict(_) => match state.federation.application(id).await {
            // Decided already (by someone else, or by an earlier click): say what and when.
            Ok(app) if app.status != ApplicationStatus::Pending => {
                let word = match (app.status, en) {
                    (ApplicationStatus::Approved, false) => "godkänd",
                    (ApplicationStatus::Approved, true) => "approved",
                    (_, false) => "avslagen",
                    (_, true) => "rejected",
                };
                let when = app
                    .decided_at
                    .as_deref()
                    .map(|t| format!(" {}", crate::site::portal::readable_time(t)))
                    .unwrap_or_default();
                if en {
                    format!("The application is already decided ({word}{when}); nothing was changed.")
                } else {
                    format!("Ansökan är redan beslutad ({word}{when}); inget ändrades.")
                }
            }
            // Still pending: approving it would give a second member the same entity or host.
            Ok(_) => {
                if en {
                    "The application cannot be approved: a member of the federation already uses its entity id or host; nothing was changed.".into()
                } else {
                    "Ansökan kan inte godkännas: en medlem i federationen använder redan dess entitets-id eller värd; inget ändrades.".into()
                }
            }
            Err(e) => internal(lang, &e),
        },
        other => {
            tracing::error!(error = %other, application = %id, "a decision on the federation portal page failed");
            if en {
                "An internal error stopped the decision; it has been logged. Reload the page to see whether it was taken before trying again.".into()
            } else {
                "Ett internt fel stoppade beslutet; felet har loggats. Ladda om sidan och se om beslutet hann tas innan du försöker igen.".into()
            }
        }
    }
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

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    lang: Lang,
    auth: Option<&Authority>,
    status: Option<&str>,
    page: u32,
    message: Option<String>,
    mut error: Option<String>,
    mut code: StatusCode,
) -> Response {
    let f = texts(lang);
    // A failure to read is shown on the page, in its language, rather than as an English problem.
    let mut failed = |e: &dyn std::fmt::Display| {
        if error.is_none() {
            error = Some(internal(lang, e));
        }
        code = StatusCode::INTERNAL_SERVER_ERROR;
    };
    let (agreement, current) = match state.federation.agreement().await {
        Ok(a) => {
            // The shipped agreement's title names its version already; a title that does not is completed.
            let version = format!("{} {}", f.version, a.version);
            let shown = if a.title.contains(&version) { a.title } else { format!("{} ({version})", a.title) };
            (shown, Some(a.version))
        }
        Err(e) => {
            failed(&e);
            (String::new(), None)
        }
    };
    let mut more = false;
    let rows = match auth {
        Some(_) => {
            match state.federation.applications(status, PAGE_SIZE + 1, u64::from(page - 1) * u64::from(PAGE_SIZE)).await
            {
                Ok(mut apps) => {
                    more = apps.len() > PAGE_SIZE as usize;
                    apps.truncate(PAGE_SIZE as usize);
                    apps.into_iter().map(|a| row(f, current, a)).collect()
                }
                Err(e) => {
                    failed(&e);
                    Vec::new()
                }
            }
        }
        None => Vec::new(),
    };
    let page = ApplicationsPage {
        layout: Layout::new(lang, f.title, "/anslutning"),
        f,
        english: lang == Lang::En,
        agreement,
        authorised: auth.is_some(),
        all: status.is_none(),
        token: match auth {
            Some(Authority::Token(t)) => t.clone(),
            _ => String::new(),
        },
        csrf: match auth {
            Some(Authority::Person { csrf }) => csrf.clone(),
            _ => String::new(),
        },
        rows,
        page,
        more,
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

async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let lang = LangQuery::from_map(&q).lang();
    // An operator person logged in at LoA 3 sees the applications at once (`?status=all` for every one);
    // anyone else is offered the token form (bootstrap) and a login.
    let auth = person_operator(&state, &headers, "GET /anslutning").await.map(|(_, csrf)| Authority::Person { csrf });
    let status = wanted(q.get("status").map(String::as_str).unwrap_or_default());
    let page = page_number(q.get("page").map(String::as_str).unwrap_or_default());
    render(&state, lang, auth.as_ref(), status, page, None, None, StatusCode::OK).await
}

async fn open(State(state): State<AppState>, Query(q): Query<LangQuery>, Form(form): Form<OpenForm>) -> Response {
    let lang = q.lang();
    if !check_token(&state, &form.token, "POST /anslutning").await {
        return render(&state, lang, None, None, 1, None, Some(texts(lang).bad_token.into()), StatusCode::UNAUTHORIZED)
            .await;
    }
    let auth = Authority::Token(form.token.trim().to_owned());
    render(&state, lang, Some(&auth), wanted(&form.status), page_number(&form.page), None, None, StatusCode::OK).await
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
            _ => {
                return render(&state, lang, None, None, 1, None, Some(f.bad_token.into()), StatusCode::FORBIDDEN)
                    .await;
            }
        }
    } else {
        if !check_token(&state, &form.token, "POST /anslutning/beslut").await {
            return render(&state, lang, None, None, 1, None, Some(f.bad_token.into()), StatusCode::UNAUTHORIZED).await;
        }
        (token_context(), Authority::Token(form.token.trim().to_owned()))
    };
    let token = Some(&auth);
    let status = wanted(&form.status);
    let result = match form.decision.as_str() {
        "approve" => state.federation.approve(&ctx, &form.id).await.map(|_| f.approved),
        "reject" if form.reason.trim().is_empty() => {
            return render(&state, lang, token, status, 1, None, Some(f.need_reason.into()), StatusCode::BAD_REQUEST)
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
        Ok(message) => render(&state, lang, token, status, 1, Some(message.into()), None, StatusCode::OK).await,
        Err(e) => {
            let code = match &e {
                FederationError::Invalid(_) => StatusCode::BAD_REQUEST,
                FederationError::NotFound(_) => StatusCode::NOT_FOUND,
                FederationError::Conflict(_) => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let text = refusal(&state, lang, &form.id, &e).await;
            render(&state, lang, token, status, 1, None, Some(text), code).await
        }
    }
}
