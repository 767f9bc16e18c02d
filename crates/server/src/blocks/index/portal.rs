//! Mina sidor → Vem har uppgifter om mig (`/mina-sidor/uppgifter`): the holders the index names for the
//! logged-in person — which organisation keeps information of which category about them, where, since
//! when — with pages. The person's own data: no policy is asked, and the reading is an audit event.
//! No JavaScript.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::Person;
use crate::callers::{Caller, Routes};
use crate::site::portal::{Lang, Layout, org_display, personal_page as html};

pub const PATH: &str = "/mina-sidor/uppgifter";
const PAGE: u32 = 20;

pub fn router() -> Routes {
    Routes::new().get(PATH, Caller::Person(3), holdings)
}

struct Texts {
    title: &'static str,
    lead: &'static str,
    caption: &'static str,
    holder: &'static str,
    category: &'static str,
    address: &'static str,
    updated: &'static str,
    none: &'static str,
    back: &'static str,
    pages: &'static str,
    previous: &'static str,
    next: &'static str,
}

const SV: Texts = Texts {
    title: "Vem har uppgifter om mig",
    lead: "Organisationer som har anmält till indexet att de har uppgifter om dig, av vilket slag och var de finns. Själva uppgifterna finns hos dem, inte här.",
    caption: "Organisationer med uppgifter om dig",
    holder: "Organisation",
    category: "Slags uppgifter",
    address: "Var",
    updated: "Senast ändrade",
    none: "Ingen organisation har anmält uppgifter om dig till indexet.",
    back: "Mina sidor",
    pages: "Sidor",
    previous: "Föregående",
    next: "Nästa",
};

const EN: Texts = Texts {
    title: "Who holds data about me",
    lead: "Organisations that have told the index they hold information about you, of which kind and where. The information itself stays with them, not here.",
    caption: "Organisations with information about you",
    holder: "Organisation",
    category: "Kind of information",
    address: "Where",
    updated: "Last changed",
    none: "No organisation has told the index it holds information about you.",
    back: "My pages",
    pages: "Pages",
    previous: "Previous",
    next: "Next",
};

#[derive(Template)]
#[template(path = "index/templates/uppgifter.html")]
struct Page {
    layout: Layout,
    f: &'static Texts,
    /// (holder, category, address, updated)
    rows: Vec<(String, String, String, String)>,
    previous: Option<u32>,
    next: Option<u32>,
    lang_amp: &'static str,
}

async fn holdings(
    State(state): State<AppState>,
    Person(s): Person,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = if q.get("lang").map(String::as_str) == Some("en") { Lang::En } else { Lang::Sv };
    let page = q.get("page").and_then(|p| p.parse::<u32>().ok()).filter(|p| *p >= 1).unwrap_or(1);
    let ctx = crate::blocks::cases::person_context(&s);
    let found = match state.index.holdings(&ctx, s.person.as_str(), PAGE + 1, u64::from((page - 1) * PAGE)).await {
        Ok(f) => f,
        Err(e) => return crate::problem::ApiError::from(e).into_response(),
    };
    let more = found.len() > PAGE as usize;
    let rows = found
        .into_iter()
        .take(PAGE as usize)
        .map(|e| (org_display(&e.holder), e.category, e.address, e.updated_at.get(..10).unwrap_or_default().to_owned()))
        .collect();
    let f = if lang == Lang::En { &EN } else { &SV };
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
