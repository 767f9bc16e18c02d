//! Mina sidor → Mina ärenden (`/mina-sidor/arenden`): one list of the person's own cases and those of
//! every party they act for, with filters, sorting and pages (a plain GET form), read/unread and labels
//! in bulk (a POST form with the session's CSRF token), and the case page with its committed decision
//! date and that date's history, transmissions, activities and who opened it. No JavaScript.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ena_cases::{Case, CaseError, History, Listed, Texts};
use ena_identity::session::Session;

use crate::AppState;
use crate::auth::Person;
use crate::callers::{Caller, Routes};
use crate::extract::ApiQuery;
use crate::site::portal::{Lang, LangQuery, Layout, csrf_form, org_display, party_names, personal_page as html};

pub const PATH: &str = "/mina-sidor/arenden";

pub fn router() -> Routes {
    Routes::new().get(PATH, Caller::Person(3), list).post("/mina-sidor/arenden/bulk", Caller::Person(3), bulk).get(
        "/mina-sidor/arenden/{id}",
        Caller::Person(3),
        case_page,
    )
}

pub struct CaseTexts {
    pub title: &'static str,
    lead: &'static str,
    search: &'static str,
    status: &'static str,
    any: &'static str,
    label: &'static str,
    sort: &'static str,
    sort_updated: &'static str,
    sort_due: &'static str,
    sort_created: &'static str,
    unseen_only: &'static str,
    overdue_only: &'static str,
    filter: &'static str,
    case: &'static str,
    party: &'static str,
    organisation: &'static str,
    decision_by: &'static str,
    updated: &'static str,
    new: &'static str,
    overdue: &'static str,
    none: &'static str,
    select: &'static str,
    with_selected: &'static str,
    mark_read: &'static str,
    mark_unread: &'static str,
    archive: &'static str,
    bin: &'static str,
    restore: &'static str,
    own_label: &'static str,
    apply: &'static str,
    previous: &'static str,
    next: &'static str,
    yourself: &'static str,
    back: &'static str,
    summary: &'static str,
    reference: &'static str,
    decided: &'static str,
    date_history: &'static str,
    date_set: &'static str,
    why: &'static str,
    transmissions: &'static str,
    activities: &'static str,
    seen_log: &'static str,
    seen_current: &'static str,
    seen_older: &'static str,
    on_behalf: &'static str,
    attachments: &'static str,
    done: &'static str,
    failed: &'static str,
    statuses: [(&'static str, &'static str); 5],
}

const SV: CaseTexts = CaseTexts {
    title: "Mina ärenden",
    lead: "Dina ärenden hos myndigheter, kommuner och regioner — och ärenden för dem du företräder genom Mina ombud.",
    search: "Sök",
    status: "Status",
    any: "alla",
    label: "Etikett",
    sort: "Sortera",
    sort_updated: "senast ändrat",
    sort_due: "sista dag",
    sort_created: "skapat",
    unseen_only: "bara olästa",
    overdue_only: "bara försenade beslut",
    filter: "Visa",
    case: "Ärende",
    party: "För",
    organisation: "Hos",
    decision_by: "Beslut väntas",
    updated: "Ändrat",
    new: "Ny",
    overdue: "försenat",
    none: "Inga ärenden.",
    select: "Välj",
    with_selected: "Med valda ärenden",
    mark_read: "markera som lästa",
    mark_unread: "markera som olästa",
    archive: "arkivera",
    bin: "lägg i papperskorgen",
    restore: "ta bort arkiv och papperskorg",
    own_label: "egen etikett",
    apply: "Utför",
    previous: "Föregående",
    next: "Nästa",
    yourself: "dig själv",
    back: "Alla ärenden",
    summary: "Sammanfattning",
    reference: "Er referens",
    decided: "Beslutat",
    date_history: "Beslutsdatumets historik",
    date_set: "Satt",
    why: "Varför",
    transmissions: "Försändelser",
    activities: "Händelser",
    seen_log: "Vem har öppnat ärendet",
    seen_current: "senaste versionen",
    seen_older: "en äldre version",
    on_behalf: "som ombud för",
    attachments: "Bilagor",
    done: "Klart.",
    failed: "Det gick inte",
    statuses: [
        ("draft", "utkast"),
        ("in-progress", "pågår"),
        ("awaiting", "väntar på dig"),
        ("requires-attention", "kräver åtgärd"),
        ("completed", "avslutat"),
    ],
};

const EN: CaseTexts = CaseTexts {
    title: "My cases",
    lead: "Your cases with agencies, municipalities and regions — and the cases of those you act for through Mina ombud.",
    search: "Search",
    status: "Status",
    any: "any",
    label: "Label",
    sort: "Sort by",
    sort_updated: "last changed",
    sort_due: "due date",
    sort_created: "created",
    unseen_only: "unread only",
    overdue_only: "overdue decisions only",
    filter: "Show",
    case: "Case",
    party: "For",
    organisation: "With",
    decision_by: "Decision expected",
    updated: "Changed",
    new: "New",
    overdue: "overdue",
    none: "No cases.",
    select: "Select",
    with_selected: "With the selected cases",
    mark_read: "mark as read",
    mark_unread: "mark as unread",
    archive: "archive",
    bin: "move to the bin",
    restore: "take out of archive and bin",
    own_label: "own label",
    apply: "Apply",
    previous: "Previous",
    next: "Next",
    yourself: "yourself",
    back: "All cases",
    summary: "Summary",
    reference: "Reference",
    decided: "Decided",
    date_history: "History of the decision date",
    date_set: "Set",
    why: "Why",
    transmissions: "Transmissions",
    activities: "Activity",
    seen_log: "Who opened the case",
    seen_current: "the latest version",
    seen_older: "an older version",
    on_behalf: "as representative of",
    attachments: "Attachments",
    done: "Done.",
    failed: "That did not work",
    statuses: [
        ("draft", "draft"),
        ("in-progress", "in progress"),
        ("awaiting", "awaiting you"),
        ("requires-attention", "requires attention"),
        ("completed", "completed"),
    ],
};

pub fn texts(lang: Lang) -> &'static CaseTexts {
    if lang == Lang::En { &EN } else { &SV }
}

impl CaseTexts {
    fn status_word(&self, status: &str) -> &'static str {
        self.statuses.iter().find(|(k, _)| *k == status).map_or("", |(_, v)| v)
    }
}

/// A text in the page's language, else Swedish, else any.
fn pick(t: &Texts, lang: Lang) -> String {
    let want = if lang == Lang::En { "en" } else { "sv" };
    t.get(want).or_else(|| t.get("sv")).or_else(|| t.values().next()).cloned().unwrap_or_default()
}

fn day(rfc3339: &str) -> String {
    rfc3339.get(..10).unwrap_or(rfc3339).to_owned()
}

struct Row {
    id: String,
    title: String,
    party: String,
    organisation: String,
    status: &'static str,
    decision_by: String,
    overdue: bool,
    updated: String,
    unseen: bool,
    labels: String,
}

#[derive(Template)]
#[template(path = "cases/templates/arenden.html")]
struct ListPage {
    layout: Layout,
    f: &'static CaseTexts,
    lang_en: bool,
    csrf: String,
    rows: Vec<Row>,
    q: String,
    status: String,
    label: String,
    sort: String,
    unseen: bool,
    overdue: bool,
    labels: Vec<String>,
    page: u32,
    previous: Option<String>,
    next: Option<String>,
    message: Option<String>,
    error: Option<String>,
}

fn party_key(c: &Case) -> String {
    if c.party.kind == "organisation" { format!("16{}", c.party.id) } else { c.party.id.clone() }
}

fn row(l: &Listed, names: &HashMap<String, String>, f: &CaseTexts, lang: Lang) -> Row {
    let c = &l.case;
    Row {
        id: c.id.clone(),
        title: pick(&c.title, lang),
        party: names.get(&party_key(c)).cloned().unwrap_or_else(|| ena_audit::event::mask(&c.party.id)),
        organisation: c.organisation_name.clone().unwrap_or_else(|| org_display(&c.organisation)),
        status: f.status_word(c.status.as_str()),
        decision_by: c.expected_decision.as_ref().map(|e| day(&e.at)).unwrap_or_default(),
        overdue: c.overdue,
        updated: day(&c.content_updated_at),
        unseen: !l.seen,
        labels: l.labels.join(", "),
    }
}

/// The page's query string without `page`, for the paging links.
fn query_without_page(q: &HashMap<String, String>) -> String {
    let mut pairs: Vec<_> = q.iter().filter(|(k, v)| k.as_str() != "page" && !v.is_empty()).collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", ena_identity::testeid::encode(k), ena_identity::testeid::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn render_list(
    state: &AppState,
    s: &Session,
    q: HashMap<String, String>,
    message: Option<String>,
    refused: Option<String>,
) -> Response {
    let lang = LangQuery::from_map(&q).lang();
    let f = texts(lang);
    // The form's checkboxes send `on`; the API's parameters are the same names with `true`.
    let mut api_q = q.clone();
    for k in ["unseen", "overdue"] {
        if let Some(v) = api_q.get_mut(k) {
            *v = if v == "on" || v == "true" { "true".into() } else { "false".into() };
        }
    }
    api_q.remove("lang");
    api_q.remove("done");
    let query = ApiQuery(api_q);
    let (rows, page, has_more, error) = match super::filter_of(&query) {
        Ok((filter, sort, p)) => {
            let scopes = super::scopes(state, &s.person).await.unwrap_or_default();
            let ctx = super::person_context(s);
            let fetched = state
                .cases
                .list(&state.audit, &ctx, s.person.as_str(), &scopes, &filter, sort, p.limit + 1, p.offset())
                .await;
            match fetched {
                Ok(found) => {
                    let (items, more) = p.trim(found);
                    let names = party_names(state, s, f.yourself).await;
                    (items.iter().map(|l| row(l, &names, f, lang)).collect(), p.page, more, None)
                }
                Err(e) => (Vec::new(), 1, false, Some(format!("{} — {e}", f.failed))),
            }
        }
        Err(e) => {
            let named: Vec<String> =
                e.0.invalid_parameters.iter().map(|p| format!("{}: {}", p.property, p.reason)).collect();
            (Vec::new(), 1, false, Some(format!("{} — {}", f.failed, named.join("; "))))
        }
    };
    // A refused bulk action is shown above the list, which is answered 400.
    let error = refused.or(error);
    let base = query_without_page(&q);
    let link = |n: u32| format!("{PATH}?{base}{}page={n}", if base.is_empty() { "" } else { "&" });
    let page_view = ListPage {
        layout: Layout::new(lang, f.title, PATH),
        f,
        lang_en: lang == Lang::En,
        csrf: s.csrf.clone(),
        rows,
        q: q.get("q").cloned().unwrap_or_default(),
        status: q.get("status").cloned().unwrap_or_default(),
        label: q.get("label").cloned().unwrap_or_default(),
        sort: q.get("sort").cloned().unwrap_or_default(),
        unseen: q.get("unseen").is_some_and(|v| v == "on" || v == "true"),
        overdue: q.get("overdue").is_some_and(|v| v == "on" || v == "true"),
        labels: vec!["archive".into(), "bin".into()],
        previous: (page > 1).then(|| link(page - 1)),
        next: has_more.then(|| link(page + 1)),
        page,
        message,
        error: error.clone(),
    };
    let code = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    html(code, page_view.render())
}

async fn list(State(state): State<AppState>, Person(s): Person, Query(q): Query<HashMap<String, String>>) -> Response {
    let message = q.contains_key("done").then(|| texts(LangQuery::from_map(&q).lang()).done.to_owned());
    render_list(&state, &s, q, message, None).await
}

/// Bulk: read/unread, archive, bin, out of both, or the person's own label, on the ticked cases.
async fn bulk(State(state): State<AppState>, Person(s): Person, Query(q): Query<LangQuery>, body: Bytes) -> Response {
    let lang = q.lang();
    let form = match csrf_form(&s, &body) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let ids: Vec<String> = form.iter().filter(|(k, _)| k == "id").map(|(_, v)| v.clone()).collect();
    let scopes = match super::scopes(&state, &s.person).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let me = s.person.as_str();
    let c = &state.cases;
    let outcome: Result<(), CaseError> = match field("action").unwrap_or_default() {
        "read" => c.mark(me, &scopes, &ids, true).await,
        "unread" => c.mark(me, &scopes, &ids, false).await,
        "archive" => c.label(me, &scopes, &ids, "archive", true).await.map(|_| ()),
        "bin" => c.label(me, &scopes, &ids, "bin", true).await.map(|_| ()),
        "restore" => match c.label(me, &scopes, &ids, "archive", false).await {
            Ok(_) => c.label(me, &scopes, &ids, "bin", false).await.map(|_| ()),
            Err(e) => Err(e),
        },
        "own" => c.label(me, &scopes, &ids, field("own_label").unwrap_or_default().trim(), true).await.map(|_| ()),
        other => Err(CaseError::Invalid(vec![ena_core::FieldError::new(
            "action",
            other,
            "read, unread, archive, bin, restore or own",
        )])),
    };
    let en = if lang == Lang::En { "&lang=en" } else { "" };
    match outcome {
        Ok(()) => Redirect::to(&format!("{PATH}?done=1{en}")).into_response(),
        Err(e) => {
            let mut q: HashMap<String, String> = HashMap::new();
            if lang == Lang::En {
                q.insert("lang".into(), "en".into());
            }
            let refused = format!("{} — {e}", texts(lang).failed);
            render_list(&state, &s, q, None, Some(refused)).await
        }
    }
}

struct TransmissionView {
    kind: String,
    title: String,
    summary: String,
    at: String,
    attachments: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "cases/templates/arende.html")]
struct CasePage {
    layout: Layout,
    f: &'static CaseTexts,
    lang_q: &'static str,
    title: String,
    summary: String,
    party: String,
    organisation: String,
    status: &'static str,
    extended_status: String,
    reference: String,
    decision_by: String,
    decision_reason: String,
    overdue: bool,
    decided: String,
    actions: Vec<(String, String, String)>,
    dates: Vec<(String, String, String)>,
    transmissions: Vec<TransmissionView>,
    activities: Vec<(String, String)>,
    seen: Vec<(String, String, String)>,
}

async fn case_page(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = q.lang();
    let f = texts(lang);
    let scopes = match super::scopes(&state, &s.person).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let ctx = super::person_context(&s);
    let (c, h): (Case, History) = match state.cases.open(&state.audit, &ctx, s.person.as_str(), &scopes, &id).await {
        Ok(v) => v,
        Err(e) => return crate::problem::ApiError::from(e).into_response(),
    };
    let names = party_names(&state, &s, f.yourself).await;
    let page = CasePage {
        layout: Layout::new(lang, &pick(&c.title, lang), &format!("{PATH}/{}", c.id)),
        f,
        lang_q: if lang == Lang::En { "?lang=en" } else { "" },
        title: pick(&c.title, lang),
        summary: pick(&c.summary, lang),
        party: names.get(&party_key(&c)).cloned().unwrap_or_else(|| ena_audit::event::mask(&c.party.id)),
        organisation: c.organisation_name.clone().unwrap_or_else(|| org_display(&c.organisation)),
        status: f.status_word(c.status.as_str()),
        extended_status: c.extended_status.clone().unwrap_or_default(),
        reference: c.external_reference.clone().unwrap_or_default(),
        decision_by: c.expected_decision.as_ref().map(|e| day(&e.at)).unwrap_or_default(),
        decision_reason: c.expected_decision.as_ref().map(|e| e.reason.clone()).unwrap_or_default(),
        overdue: c.overdue,
        decided: c.decided_at.as_deref().map(day).unwrap_or_default(),
        actions: c
            .gui_actions
            .iter()
            .map(|a| (pick(&a.title, lang), a.url.clone(), a.priority.clone().unwrap_or_default()))
            .collect(),
        dates: h.decision_dates.iter().map(|d| (day(&d.at), d.reason.clone(), day(&d.set_at))).collect(),
        transmissions: h
            .transmissions
            .iter()
            .map(|t| TransmissionView {
                kind: t.kind.as_str().to_owned(),
                title: pick(&t.title, lang),
                summary: pick(&t.summary, lang),
                at: t.created_at.replace('T', " ").trim_end_matches('Z').to_owned(),
                attachments: t.attachments.iter().map(|a| (a.name.clone(), a.url.clone())).collect(),
            })
            .collect(),
        activities: h
            .activities
            .iter()
            .map(|a| (a.at.replace('T', " ").trim_end_matches('Z').to_owned(), a.description.clone()))
            .collect(),
        seen: h
            .seen
            .iter()
            .map(|v| {
                let version = if v.current { f.seen_current } else { f.seen_older };
                let behalf = v.on_behalf_of.as_ref().map(|p| format!("{} {p}", f.on_behalf)).unwrap_or_default();
                (v.person.clone(), behalf, format!("{} ({version})", v.at.replace('T', " ").trim_end_matches('Z')))
            })
            .collect(),
    };
    html(StatusCode::OK, page.render())
}
