//! The API catalog in the portal (`/api-katalog`): every registered API, whose it is, its newest published
//! version and its tags, a page at a time, searchable (`?q=`), each linking to its page (`pages.rs`). Open
//! to everyone, no JavaScript.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::callers::{Caller, Routes};
use crate::site::portal::{Lang, TableTexts, org_display, page_asked, table_page_linked};

pub const PATH: &str = "/api-katalog";
const PAGE: u32 = 50;

pub fn router() -> Routes {
    Routes::new().get(PATH, Caller::Public, catalog)
}

const SV: TableTexts = TableTexts {
    title: "API-katalogen",
    lead: "De API:er som organisationerna i federationen har registrerat. En version publiceras först när den klarar REST API-profilens SKALL-regler och inte bryter vad tidigare versioner av samma huvudversion lovat. Sök med ?q=.",
    caption: "Registrerade API:er",
    headers: ["API", "Organisation", "Publicerad version", "Taggar"],
    none: "Inga API:er är registrerade ännu.",
    back: "Startsidan",
    back_path: "/",
    pages: "Sidor",
    previous: "Föregående",
    next: "Nästa",
};

const EN: TableTexts = TableTexts {
    title: "The API catalog",
    lead: "The APIs the federation's organisations have registered. A version is published only once it keeps the REST API profile's SKALL rules and breaks nothing earlier versions of its major promised. Search with ?q=.",
    caption: "Registered APIs",
    headers: ["API", "Organisation", "Published version", "Tags"],
    none: "No APIs are registered yet.",
    back: "Start page",
    back_path: "/",
    pages: "Pages",
    previous: "Previous",
    next: "Next",
};

async fn catalog(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let lang = if q.get("lang").map(String::as_str) == Some("en") { Lang::En } else { Lang::Sv };
    let page = page_asked(&q);
    let words = q.get("q").map(String::as_str).unwrap_or_default();
    let apis = match state.catalog.search(words, None, PAGE + 1, u64::from((page - 1) * PAGE)).await {
        Ok(a) => a,
        Err(e) => return crate::problem::ApiError::from(e).into_response(),
    };
    let rows = apis
        .into_iter()
        .map(|a| {
            let link = format!("{PATH}/{}{}", a.id, if lang == Lang::En { "?lang=en" } else { "" });
            let cells = [
                format!("{} ({})", a.name, a.id),
                org_display(&a.owner),
                a.published.unwrap_or_else(|| "–".into()),
                a.tags.join(", "),
            ];
            (cells, link)
        })
        .collect();
    table_page_linked(
        lang,
        PATH,
        "apis",
        if lang == Lang::En { &EN } else { &SV },
        rows,
        page,
        PAGE,
        &Default::default(),
    )
}
