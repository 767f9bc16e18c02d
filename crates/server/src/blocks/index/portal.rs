//! Mina sidor → Vem har uppgifter om mig (`/mina-sidor/uppgifter`): the holders the index names for the
//! logged-in person — which organisation keeps information of which category about them, where, since
//! when — with pages. The person's own data: no policy is asked, and the reading is an audit event.
//! No JavaScript.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::Person;
use crate::callers::{Caller, Routes};
use crate::site::portal::{Lang, TableTexts, org_display, page_asked, table_page};

pub const PATH: &str = "/mina-sidor/uppgifter";
const PAGE: u32 = 20;

pub fn router() -> Routes {
    Routes::new().get(PATH, Caller::Person(3), holdings)
}

const SV: TableTexts = TableTexts {
    title: "Vem har uppgifter om mig",
    lead: "Organisationer som har anmält till indexet att de har uppgifter om dig, av vilket slag och var de finns. Själva uppgifterna finns hos dem, inte här.",
    caption: "Organisationer med uppgifter om dig",
    headers: ["Organisation", "Slags uppgifter", "Var", "Senast ändrade"],
    none: "Ingen organisation har anmält uppgifter om dig till indexet.",
    back: "Mina sidor",
    back_path: "/mina-sidor",
    pages: "Sidor",
    previous: "Föregående",
    next: "Nästa",
};

const EN: TableTexts = TableTexts {
    title: "Who holds data about me",
    lead: "Organisations that have told the index they hold information about you, of which kind and where. The information itself stays with them, not here.",
    caption: "Organisations with information about you",
    headers: ["Organisation", "Kind of information", "Where", "Last changed"],
    none: "No organisation has told the index it holds information about you.",
    back: "My pages",
    back_path: "/mina-sidor",
    pages: "Pages",
    previous: "Previous",
    next: "Next",
};

async fn holdings(
    State(state): State<AppState>,
    Person(s): Person,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = if q.get("lang").map(String::as_str) == Some("en") { Lang::En } else { Lang::Sv };
    let page = page_asked(&q);
    let ctx = crate::blocks::cases::person_context(&s);
    let found = match state.index.holdings(&ctx, s.person.as_str(), PAGE + 1, u64::from((page - 1) * PAGE)).await {
        Ok(f) => f,
        Err(e) => return crate::problem::ApiError::from(e).into_response(),
    };
    let rows = found
        .into_iter()
        .map(|e| [org_display(&e.holder), e.category, e.address, e.updated_at.get(..10).unwrap_or_default().to_owned()])
        .collect();
    table_page(lang, PATH, "holdings", if lang == Lang::En { &EN } else { &SV }, rows, page, PAGE, &Default::default())
}
