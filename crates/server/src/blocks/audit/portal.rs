//! Mina sidor → Vem har läst mina uppgifter (`/mina-sidor/atkomst`): what ena's log holds about the
//! logged-in person — every event naming them as data subject, done by someone else: when, who (the
//! organisation, or the kind of actor), what, and whether it was allowed. It fills itself: every block
//! and node writes its events with data subjects, so no register has to opt in. Restricted events (e.g. a
//! police matter) stay hidden until their reveal date. No JavaScript; pages.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::Person;
use crate::callers::{Caller, Routes};
use crate::site::portal::{Lang, Layout, org_display, personal_page as html};

pub const PATH: &str = "/mina-sidor/atkomst";
const PAGE: u32 = 50;

pub fn router() -> Routes {
    Routes::new().get(PATH, Caller::Person(3), accesses)
}

struct Texts {
    title: &'static str,
    lead: &'static str,
    caption: &'static str,
    when: &'static str,
    who: &'static str,
    what: &'static str,
    outcome: &'static str,
    none: &'static str,
    back: &'static str,
    pages: &'static str,
    previous: &'static str,
    next: &'static str,
    system: &'static str,
}

const SV: Texts = Texts {
    title: "Vem har läst mina uppgifter",
    lead: "Det som loggats om dig: när, vilken organisation, vad som gjordes och om det tilläts. Händelser i sekretessbelagda ärenden visas från den dag sekretessen upphör.",
    caption: "Händelser om dig, nyast först",
    when: "När",
    who: "Vem",
    what: "Vad",
    outcome: "Utfall",
    none: "Inget har loggats om dig.",
    back: "Mina sidor",
    pages: "Sidor",
    previous: "Föregående",
    next: "Nästa",
    system: "systemtjänst",
};

const EN: Texts = Texts {
    title: "Who read my data",
    lead: "What has been logged about you: when, which organisation, what was done and whether it was allowed. Events in confidential matters are shown from the day the confidentiality ends.",
    caption: "Events about you, newest first",
    when: "When",
    who: "Who",
    what: "What",
    outcome: "Outcome",
    none: "Nothing has been logged about you.",
    back: "My pages",
    pages: "Pages",
    previous: "Previous",
    next: "Next",
    system: "system service",
};

#[derive(Template)]
#[template(path = "audit/templates/atkomst.html")]
struct Page {
    layout: Layout,
    f: &'static Texts,
    /// (when, who, what, outcome)
    rows: Vec<(String, String, String, String)>,
    previous: Option<u32>,
    next: Option<u32>,
    lang_amp: &'static str,
}

/// Who did it, as the person may see it: the organisation (never another person's number).
pub fn who(event: &ena_audit::AuditEvent, system: &str) -> String {
    match &event.actor.organisation {
        Some(org) => org_display(org),
        None if event.actor.kind == ena_audit::ActorKind::Person => ena_audit::event::mask(&event.actor.id),
        None => format!("{} ({system})", event.actor.id),
    }
}

async fn accesses(
    State(state): State<AppState>,
    Person(s): Person,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = if q.get("lang").map(String::as_str) == Some("en") { Lang::En } else { Lang::Sv };
    let f = if lang == Lang::En { &EN } else { &SV };
    let page = q.get("page").and_then(|p| p.parse::<u32>().ok()).filter(|p| *p >= 1).unwrap_or(1);
    let now = ena_core::time::unix_now();
    let entries = match state.audit.about(s.person.as_str(), now, PAGE + 1, u64::from((page - 1) * PAGE)).await {
        Ok(e) => e,
        Err(e) => return crate::problem::ApiError::internal(&e).into_response(),
    };
    let more = entries.len() > PAGE as usize;
    let rows = entries
        .into_iter()
        .take(PAGE as usize)
        .map(|e| {
            let outcome = format!("{:?}", e.event.outcome.result).to_lowercase();
            (
                e.event.time.get(..16).unwrap_or_default().replace('T', " "),
                who(&e.event, f.system),
                e.event.action,
                outcome,
            )
        })
        .collect();
    let view = Page {
        layout: Layout::new(lang, f.title, PATH),
        f,
        rows,
        previous: (page > 1).then(|| page - 1),
        next: more.then_some(page + 1),
        lang_amp: if lang == Lang::En { "&lang=en" } else { "" },
    };
    html(StatusCode::OK, view.render())
}
