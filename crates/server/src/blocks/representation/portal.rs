//! Mina sidor → Mina ombud (`/mina-sidor/ombud`): whom the person can act for (and switching party),
//! notices, mandates granted, received and expired with their why, and forms to grant, request, approve,
//! accept, decline and revoke. Plain forms with the session's CSRF token; no JavaScript. Changes need
//! LoA 3; a weaker session sees the page and a link to log in again.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ena_identity::session::Session;
use ena_identity::testeid::encode;
use ena_representation::{GrantInput, Mandate, Notice, ReprError};

use crate::AppState;
use crate::auth::Person;
use crate::blocks::representation::api::CHANGE_LOA;
use crate::callers::{Caller, Routes};
use crate::site::portal::{Lang, LangQuery, Layout};

pub const PATH: &str = "/mina-sidor/ombud";

pub fn router() -> Routes {
    Routes::new()
        .get(PATH, Caller::Person(3), page)
        .post("/mina-sidor/ombud/grant", Caller::Person(3), grant)
        .post("/mina-sidor/ombud/request", Caller::Person(3), request)
        .post("/mina-sidor/ombud/mandates/{id}/{step}", Caller::Person(3), step)
}

pub struct OmbudTexts {
    title: &'static str,
    acting_for: &'static str,
    switch: &'static str,
    yourself: &'static str,
    notices: &'static str,
    no_notices: &'static str,
    granted: &'static str,
    received: &'static str,
    expired: &'static str,
    none: &'static str,
    agent: &'static str,
    principal: &'static str,
    packages: &'static str,
    valid: &'static str,
    status: &'static str,
    why: &'static str,
    actions: &'static str,
    approve: &'static str,
    accept: &'static str,
    decline: &'static str,
    revoke: &'static str,
    grant_title: &'static str,
    grant_lead: &'static str,
    agent_label: &'static str,
    valid_to: &'static str,
    open_ended: &'static str,
    may_delegate: &'static str,
    grant_button: &'static str,
    request_title: &'static str,
    principal_label: &'static str,
    request_button: &'static str,
    step_up: &'static str,
    done: &'static str,
    failed: &'static str,
}

const SV: OmbudTexts = OmbudTexts {
    title: "Mina ombud",
    acting_for: "Du agerar för",
    switch: "Byt",
    yourself: "dig själv",
    notices: "Händelser",
    no_notices: "Inga händelser.",
    granted: "Fullmakter som getts",
    received: "Fullmakter som tagits emot",
    expired: "Utgångna fullmakter (15 månader)",
    none: "Inga.",
    agent: "Ombud",
    principal: "Fullmaktsgivare",
    packages: "Områden",
    valid: "Giltig",
    status: "Status",
    why: "Varför",
    actions: "Åtgärder",
    approve: "Godkänn",
    accept: "Godta",
    decline: "Avböj",
    revoke: "Återkalla",
    grant_title: "Ge en fullmakt",
    grant_lead: "Fullmakten ges från den part du agerar för. För ett företag krävs de underskrifter som firmateckningen anger.",
    agent_label: "Ombudets personnummer eller organisationsnummer",
    valid_to: "Giltig till och med",
    open_ended: "Tillsvidare (utan slutdatum)",
    may_delegate: "Ombudet får lämna vidare fullmakten",
    grant_button: "Ge fullmakt",
    request_title: "Be om en fullmakt",
    principal_label: "Fullmaktsgivarens personnummer eller organisationsnummer",
    request_button: "Skicka förfrågan",
    step_up: "Ändringar kräver tillitsnivå 3. Logga in igen med en starkare e-legitimation.",
    done: "Klart.",
    failed: "Det gick inte",
};

const EN: OmbudTexts = OmbudTexts {
    title: "My representatives",
    acting_for: "You act for",
    switch: "Switch",
    yourself: "yourself",
    notices: "Notices",
    no_notices: "No notices.",
    granted: "Mandates granted",
    received: "Mandates received",
    expired: "Expired mandates (15 months)",
    none: "None.",
    agent: "Agent",
    principal: "Principal",
    packages: "Packages",
    valid: "Valid",
    status: "Status",
    why: "Why",
    actions: "Actions",
    approve: "Approve",
    accept: "Accept",
    decline: "Decline",
    revoke: "Revoke",
    grant_title: "Grant a mandate",
    grant_lead: "The mandate is granted by the party you act for. A company needs the signatures its signing rule requires.",
    agent_label: "The agent's identity or organisation number",
    valid_to: "Valid until",
    open_ended: "Open-ended (no end date)",
    may_delegate: "The agent may pass the mandate on",
    grant_button: "Grant",
    request_title: "Request a mandate",
    principal_label: "The principal's identity or organisation number",
    request_button: "Send request",
    step_up: "Changes need level of assurance 3. Log in again with a stronger e-ID.",
    done: "Done.",
    failed: "That did not work",
};

fn texts(lang: Lang) -> &'static OmbudTexts {
    if lang == Lang::En { &EN } else { &SV }
}

struct PartyOption {
    id: String,
    label: String,
    selected: bool,
}

struct Row {
    id: String,
    other: String,
    packages: String,
    valid: String,
    status: String,
    why: Vec<String>,
    approve: bool,
    answer: bool,
    revoke: bool,
}

#[derive(Template)]
#[template(path = "representation/templates/ombud.html")]
struct OmbudPage {
    layout: Layout,
    f: &'static OmbudTexts,
    lang_q: &'static str,
    csrf: String,
    can_change: bool,
    parties: Vec<PartyOption>,
    party: String,
    notices: Vec<Notice>,
    granted: Vec<Row>,
    received: Vec<Row>,
    expired: Vec<Row>,
    /// Grantable rights: (value, label, HTML id) — packages, then single services.
    packages: Vec<(String, String, String)>,
    message: Option<String>,
    error: Option<String>,
}

fn lang_q(lang: Lang) -> &'static str {
    if lang == Lang::En { "&lang=en" } else { "" }
}

use crate::site::portal::personal_page as html;

fn row(m: &Mandate, me: &ena_core::PersonId, state: &AppState, received: bool) -> Row {
    // The same rules the API's steps enforce: the page offers only what would succeed.
    let steps = state.representation.allowed_steps(me, m);
    let other = if received {
        m.principal_name.clone().map_or(m.principal.clone(), |n| format!("{n} ({})", m.principal))
    } else {
        m.agent_name.clone().map_or(m.agent.clone(), |n| format!("{n} ({})", m.agent))
    };
    let valid = format!(
        "{} – {}",
        &m.valid_from[..10.min(m.valid_from.len())],
        m.valid_to.as_deref().map_or("∞", |t| &t[..10.min(t.len())])
    );
    Row {
        id: m.id.clone(),
        other,
        packages: m.packages.join(", "),
        valid,
        status: if m.status == ena_representation::MandateStatus::Pending {
            format!("{} ({}/{})", m.status, m.approvals.len(), m.required_approvals)
        } else {
            m.status.to_string()
        },
        why: m.why.clone(),
        approve: steps.approve,
        answer: steps.answer,
        revoke: steps.revoke,
    }
}

async fn render(
    state: &AppState,
    lang: Lang,
    s: &Session,
    party: Option<&str>,
    message: Option<String>,
    error: Option<String>,
    code: StatusCode,
) -> Response {
    let f = texts(lang);
    let r = &state.representation;
    let me = s.person.as_str();
    let acting = r.acting_for(&s.person).await.unwrap_or_default();
    // Only parties one has a role in can be viewed here (the register decides; mandates received are shown
    // on the person's own view).
    let viewable: Vec<_> = acting.iter().filter(|a| a.basis != "mandate").collect();
    let party = party
        .and_then(|p| ena_representation::parse_party("party", p).ok())
        .map(|p| p.id().to_owned())
        .filter(|p| viewable.iter().any(|a| &a.party == p))
        .unwrap_or_else(|| me.to_owned());
    let parties = viewable
        .iter()
        .map(|a| PartyOption {
            // The person themself is the default (empty): their identity number never goes in the URL.
            id: if a.party == me { String::new() } else { a.party.clone() },
            label: if a.party == me {
                format!("{} ({})", s.name, f.yourself)
            } else {
                a.name.clone().unwrap_or_else(|| a.party.clone())
            },
            selected: a.party == party,
        })
        .collect();
    let list = |view: &'static str| {
        let party = party.clone();
        async move { r.list(&s.person, &party, view, 50, 0).await.unwrap_or_default() }
    };
    let granted = list("granted").await.iter().map(|m| row(m, &s.person, state, false)).collect();
    let received = list("received").await.iter().map(|m| row(m, &s.person, state, true)).collect();
    let expired = list("expired").await.iter().map(|m| row(m, &s.person, state, m.agent == party)).collect();
    let kind = if party.starts_with("16") { "organisation" } else { "person" };
    let catalog = r.catalog();
    let name =
        |p: &ena_representation::catalog::Package| if lang == Lang::En { p.name_en.clone() } else { p.name_sv.clone() };
    let grantable: Vec<_> = catalog.packages.iter().filter(|p| p.party == kind && p.assignable).collect();
    let mut packages: Vec<(String, String, String)> =
        grantable.iter().map(|p| (p.id.clone(), name(p), format!("pkg-{}", p.id))).collect();
    for s in catalog.services.iter() {
        if let Some(p) = grantable.iter().find(|p| p.id == s.package) {
            let html_id: String = s.id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
            packages.push((format!("service:{}", s.id), format!("{} ({})", s.name, name(p)), format!("svc-{html_id}")));
        }
    }
    let page = OmbudPage {
        layout: Layout::new(lang, f.title, PATH),
        f,
        lang_q: lang_q(lang),
        csrf: s.csrf.clone(),
        can_change: s.loa >= CHANGE_LOA,
        parties,
        notices: r.notices(&s.person, &party, 5, 0).await.unwrap_or_default(),
        party,
        granted,
        received,
        expired,
        packages,
        message,
        error,
    };
    html(code, page.render())
}

async fn page(State(state): State<AppState>, Person(s): Person, Query(q): Query<HashMap<String, String>>) -> Response {
    let lang = LangQuery::from_map(&q).lang();
    let message = q.contains_key("done").then(|| texts(lang).done.to_owned());
    render(&state, lang, &s, q.get("party").map(String::as_str), message, None, StatusCode::OK).await
}

/// The form fields (repeated names kept, for the package checkboxes).
fn fields(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
}

/// The session, its CSRF token checked and its level enough for a change; or the response to send.
async fn changer(state: &AppState, s: Session, lang: Lang, form: &[(String, String)]) -> Result<Session, Response> {
    if field(form, "csrf") != Some(s.csrf.as_str()) {
        return Err(crate::problem::ApiError::invalid(
            ena_core::ErrorCode::PermissionDenied,
            "The form's CSRF token does not match this session.",
            vec![ena_core::FieldError::new("csrf", "(token)", "does not match the session")],
        )
        .into_response());
    }
    if s.loa < CHANGE_LOA {
        let error = Some(texts(lang).step_up.to_owned());
        return Err(render(state, lang, &s, field(form, "party"), None, error, StatusCode::FORBIDDEN).await);
    }
    Ok(s)
}

/// After a change: back to the page (303), or the page with the reason (naming the field).
async fn after(
    state: &AppState,
    lang: Lang,
    s: &Session,
    party: Option<&str>,
    outcome: Result<Mandate, ReprError>,
) -> Response {
    match outcome {
        Ok(_) => {
            // Back to the party's view; the person's own is the default, so their number stays out of the URL.
            let party = party
                .filter(|p| !p.is_empty() && *p != s.person.as_str())
                .map(|p| format!("&party={}", encode(p)))
                .unwrap_or_default();
            Redirect::to(&format!("{PATH}?done=1{party}{}", lang_q(lang))).into_response()
        }
        Err(e) => {
            let code = match e {
                ReprError::Forbidden(..) => StatusCode::FORBIDDEN,
                ReprError::NotFound(_) => StatusCode::NOT_FOUND,
                ReprError::Conflict(..) => StatusCode::CONFLICT,
                ReprError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                ReprError::Invalid(..) => StatusCode::BAD_REQUEST,
            };
            let error = Some(format!("{} — {e}", texts(lang).failed));
            render(state, lang, s, party, None, error, code).await
        }
    }
}

fn grant_input(form: &[(String, String)], principal: &str, agent: &str) -> GrantInput {
    GrantInput {
        principal: principal.to_owned(),
        agent: agent.to_owned(),
        packages: form.iter().filter(|(k, _)| k == "package").map(|(_, v)| v.clone()).collect(),
        valid_from: None,
        // A date means "until the end of that day" (Swedish time is not modelled: UTC midnight after it).
        valid_to: field(form, "valid_to").map(|d| {
            time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
                .ok()
                .and_then(|d| d.next_day())
                .map_or_else(|| d.to_owned(), |n| format!("{n}T00:00:00Z"))
        }),
        open_ended: field(form, "open_ended").is_some(),
        may_delegate: field(form, "may_delegate").is_some(),
        parent: field(form, "parent").map(str::to_owned),
    }
}

async fn grant(State(state): State<AppState>, Person(s): Person, Query(q): Query<LangQuery>, body: Bytes) -> Response {
    let lang = q.lang();
    let form = fields(&body);
    let s = match changer(&state, s, lang, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let party = field(&form, "party").unwrap_or(s.person.as_str()).to_owned();
    let input = grant_input(&form, &party, field(&form, "agent").unwrap_or_default());
    let outcome = state.representation.grant(&s.person, &input).await;
    after(&state, lang, &s, Some(&party), outcome).await
}

async fn request(
    State(state): State<AppState>,
    Person(s): Person,
    Query(q): Query<LangQuery>,
    body: Bytes,
) -> Response {
    let lang = q.lang();
    let form = fields(&body);
    let s = match changer(&state, s, lang, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let party = field(&form, "party").unwrap_or(s.person.as_str()).to_owned();
    let principal = field(&form, "principal").unwrap_or_default();
    let mut input = grant_input(&form, principal, &party);
    input.packages = field(&form, "packages")
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let outcome = state.representation.request(&s.person, &input).await;
    after(&state, lang, &s, Some(&party), outcome).await
}

async fn step(
    State(state): State<AppState>,
    Person(s): Person,
    Query(q): Query<LangQuery>,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let lang = q.lang();
    let form = fields(&body);
    let s = match changer(&state, s, lang, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let r = &state.representation;
    let outcome = match step.as_str() {
        "approve" => r.approve(&s.person, &id).await,
        "accept" => r.respond(&s.person, &id, true).await,
        "decline" => r.respond(&s.person, &id, false).await,
        "revoke" => r.revoke(&s.person, &id).await,
        other => Err(ReprError::NotFound(format!("no step {other:?}"))),
    };
    after(&state, lang, &s, field(&form, "party"), outcome).await
}
