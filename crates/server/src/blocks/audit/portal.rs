//! Mina sidor → Vem har läst mina uppgifter (`/mina-sidor/atkomst`): what ena's log holds about the
//! logged-in person — every event naming them as data subject, done by someone else: when, who (the
//! organisation, or the kind of actor), what, and whether it was allowed. It fills itself: every block
//! and node writes its events with data subjects, so no register has to opt in. Restricted events (e.g. a
//! police matter) stay hidden until their reveal date. No JavaScript; pages.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::Person;
use crate::callers::{Caller, Routes};
use crate::site::portal::{Lang, TableTexts, org_display, page_asked, table_page};

pub const PATH: &str = "/mina-sidor/atkomst";
const PAGE: u32 = 50;

pub fn router() -> Routes {
    Routes::new().get(PATH, Caller::Person(3), accesses)
}

const SV: TableTexts = TableTexts {
    title: "Vem har läst mina uppgifter",
    lead: "Det som loggats om dig: när, vilken organisation, vad som gjordes och om det tilläts. Händelser i sekretessbelagda ärenden visas från den dag sekretessen upphör.",
    caption: "Händelser om dig, nyast först",
    headers: ["När", "Vem", "Vad", "Utfall"],
    none: "Inget har loggats om dig.",
    back: "Mina sidor",
    back_path: "/mina-sidor",
    pages: "Sidor",
    previous: "Föregående",
    next: "Nästa",
};

const EN: TableTexts = TableTexts {
    title: "Who read my data",
    lead: "What has been logged about you: when, which organisation, what was done and whether it was allowed. Events in confidential matters are shown from the day the confidentiality ends.",
    caption: "Events about you, newest first",
    headers: ["When", "Who", "What", "Outcome"],
    none: "Nothing has been logged about you.",
    back: "My pages",
    back_path: "/mina-sidor",
    pages: "Pages",
    previous: "Previous",
    next: "Next",
};

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
    let system = if lang == Lang::En { "system service" } else { "systemtjänst" };
    let page = page_asked(&q);
    let now = ena_core::time::unix_now();
    let subject = match super::api::subject_of(&state, &s, q.get("party").map(String::as_str)).await {
        Ok(subject) => subject,
        Err(e) => return e.into_response(),
    };
    let entries = match state.audit.about(&subject, now, PAGE + 1, u64::from((page - 1) * PAGE)).await {
        Ok(e) => e,
        Err(e) => return crate::problem::ApiError::internal(&e).into_response(),
    };
    let mut events: Vec<super::api::MyEvent> =
        entries.into_iter().map(|e| super::api::MyEvent::of(e.event, system)).collect();
    super::api::name_organisations(&state, &mut events).await;
    let rows = events
        .into_iter()
        .map(|m| {
            // What was done, and — where the event says — for what, through which service, for whom,
            // by which unit, and whose node logged it.
            let labels = if lang == Lang::En {
                ["purpose", "service", "to", "unit", "logged by"]
            } else {
                ["syfte", "tjänst", "till", "enhet", "loggat av"]
            };
            let extra: Vec<String> = [&m.purpose, &m.service, &m.recipient, &m.unit, &m.reported_by]
                .iter()
                .zip(labels)
                .filter_map(|(v, label)| v.as_ref().map(|v| format!("{label}: {v}")))
                .collect();
            let what = if extra.is_empty() { m.action } else { format!("{} ({})", m.action, extra.join(", ")) };
            [m.time.get(..16).unwrap_or_default().replace('T', " "), m.who, what, m.outcome]
        })
        .collect();
    // Whose events: mine, or a party's I hold an insight package for.
    let parties = super::api::insight_parties(&state, &s).await;
    let mut views = crate::site::portal::Views {
        label: if lang == Lang::En { "Show for" } else { "Visa för" },
        choices: Vec::new(),
        current: q.get("party").map(|p| format!("party={p}")).unwrap_or_default(),
    };
    if !parties.is_empty() {
        views.choices.push((if lang == Lang::En { "Yourself" } else { "Dig själv" }.to_owned(), String::new()));
        for (i, (_, name)) in parties.into_iter().enumerate() {
            views.choices.push((name, format!("party={}", i + 1)));
        }
    }
    table_page(lang, PATH, "accesses", if lang == Lang::En { &EN } else { &SV }, rows, page, PAGE, &views)
}
