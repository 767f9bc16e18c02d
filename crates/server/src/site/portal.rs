//! The portal: server-rendered pages (askama), Swedish first with English via `?lang=en`, usable without
//! JavaScript, built to WCAG 2.1 AA (checked by axe-core in CI).

use askama::Template;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::callers::{Caller, Routes};
use crate::problem::ApiError;

pub fn router() -> Routes {
    Routes::new().get("/", Caller::Public, home).get("/static/ena.css", Caller::Public, stylesheet)
}

const CSS: &str = include_str!("ena.css");

/// The one stylesheet (also served by member nodes, whose `/docs` page uses it).
pub async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], CSS)
}

/// The page language; Swedish unless `?lang=en`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Sv,
    En,
}

#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

impl LangQuery {
    pub fn from_map(q: &std::collections::HashMap<String, String>) -> LangQuery {
        LangQuery { lang: q.get("lang").cloned() }
    }

    pub fn lang(&self) -> Lang {
        if self.lang.as_deref() == Some("en") { Lang::En } else { Lang::Sv }
    }
}

/// Every fixed text of the portal, per language.
pub struct Texts {
    pub code: &'static str,
    pub other_code: &'static str,
    pub other_name: &'static str,
    pub skip: &'static str,
    pub site: &'static str,
    pub nav_label: &'static str,
    pub nav_home: &'static str,
    pub nav_blocks: &'static str,
    pub nav_api: &'static str,
    pub nav_federation: &'static str,
    pub nav_my_pages: &'static str,
    pub home_title: &'static str,
    pub home_lead: &'static str,
    pub home_parts: &'static str,
    pub home_api_link: &'static str,
    pub blocks_title: &'static str,
    pub blocks_lead: &'static str,
    pub col_block: &'static str,
    pub col_agency: &'static str,
    pub col_category: &'static str,
    pub col_status: &'static str,
    pub col_total: &'static str,
    pub no_agency: &'static str,
    pub summary_title: &'static str,
    pub row_identified: &'static str,
    pub row_additional: &'static str,
    pub row_total: &'static str,
    pub row_development: &'static str,
    pub row_operations: &'static str,
    pub schablon_note: &'static str,
    pub unit: &'static str,
    pub depends_on: &'static str,
    pub dependents: &'static str,
    pub none: &'static str,
    pub estimate_label: &'static str,
    pub lines_title: &'static str,
    pub col_line: &'static str,
    pub col_year: &'static str,
    pub col_development: &'static str,
    pub col_operations: &'static str,
    pub error_title: &'static str,
    pub back_home: &'static str,
}

pub const SV: Texts = Texts {
    code: "sv",
    other_code: "en",
    other_name: "English",
    skip: "Hoppa till innehållet",
    site: "ena – infrastruktur för informationsutbyte",
    nav_label: "Huvudmeny",
    nav_home: "Start",
    nav_blocks: "Byggblock",
    nav_api: "API-dokumentation",
    nav_federation: "Anslutning",
    nav_my_pages: "Mina sidor",
    home_title: "Välkommen till ena",
    home_lead: "ena är en öppen implementation av den förvaltningsgemensamma digitala infrastrukturen för informationsutbyte: myndigheter utbyter meddelanden och anropar varandras API:er genom egna noder, och medborgare och företag ser sina ärenden, tar emot digital post, låter ombud agera för dem och ser vem som tagit del av deras uppgifter.",
    home_parts: "Det här finns i den här versionen",
    home_api_link: "API-dokumentation (OpenAPI 3.1)",
    blocks_title: "Byggblock",
    blocks_lead: "Byggblocken i den långsiktiga planen, grupperade per kategori. Belopp i tusentals kronor per år; kostnaden för block utan egen uppskattning är beräknad med schablon.",
    col_block: "Byggblock",
    col_agency: "Ansvarig myndighet",
    col_category: "Kategori",
    col_status: "Status",
    col_total: "Totalt",
    no_agency: "Ingen utsedd",
    summary_title: "Kostnader per år",
    row_identified: "Identifierade byggblock",
    row_additional: "Tillkommande byggblock",
    row_total: "Totalt",
    row_development: "varav utveckling / etablering",
    row_operations: "varav drift och förvaltning",
    schablon_note: "Schablon",
    unit: "tkr",
    depends_on: "Beroende av",
    dependents: "Används av",
    none: "Inga",
    estimate_label: "Kostnadsuppskattning",
    lines_title: "Kostnadsposter",
    col_line: "Post",
    col_year: "År",
    col_development: "Utveckling",
    col_operations: "Drift och förvaltning",
    error_title: "Något gick fel",
    back_home: "Till startsidan",
};

pub const EN: Texts = Texts {
    code: "en",
    other_code: "sv",
    other_name: "Svenska",
    skip: "Skip to content",
    site: "ena – infrastructure for information exchange",
    nav_label: "Main menu",
    nav_home: "Home",
    nav_blocks: "Building blocks",
    nav_api: "API documentation",
    nav_federation: "Federation",
    nav_my_pages: "My pages",
    home_title: "Welcome to ena",
    home_lead: "ena is an open implementation of Sweden's shared public-sector digital infrastructure for information exchange: agencies exchange messages and call each other's APIs through their own nodes, and citizens and companies see their cases, receive digital mail, let representatives act for them and see who accessed their data.",
    home_parts: "What this version contains",
    home_api_link: "API documentation (OpenAPI 3.1)",
    blocks_title: "Building blocks",
    blocks_lead: "The building blocks of the long-term plan, grouped by category. Amounts in thousands of SEK per year; blocks without their own estimate are costed at the schablon (flat rate).",
    col_block: "Building block",
    col_agency: "Responsible agency",
    col_category: "Category",
    col_status: "Status",
    col_total: "Total",
    no_agency: "None appointed",
    summary_title: "Costs per year",
    row_identified: "Identified building blocks",
    row_additional: "Additional building blocks",
    row_total: "Total",
    row_development: "of which development",
    row_operations: "of which operations and maintenance",
    schablon_note: "Schablon (flat rate)",
    unit: "kSEK",
    depends_on: "Depends on",
    dependents: "Used by",
    none: "None",
    estimate_label: "Cost estimate",
    lines_title: "Cost lines",
    col_line: "Line",
    col_year: "Year",
    col_development: "Development",
    col_operations: "Operations",
    error_title: "Something went wrong",
    back_home: "Back to the home page",
};

impl Lang {
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Sv => &SV,
            Lang::En => &EN,
        }
    }

    /// The query suffix that keeps the language on links (`""` or `"?lang=en"`).
    pub fn suffix(self) -> &'static str {
        match self {
            Lang::Sv => "",
            Lang::En => "?lang=en",
        }
    }
}

/// Amounts in kSEK as people read them: `141 500` in Swedish, `141,500` in English.
pub fn amount(value: i64, lang: Lang) -> String {
    let digits = value.unsigned_abs().to_string();
    let separator = if lang == Lang::Sv { '\u{a0}' } else { ',' };
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(separator);
        }
        out.push(ch);
    }
    if value < 0 { format!("−{out}") } else { out }
}

/// A time as people read it, to the minute and saying its zone: `2026-12-04 13:05 UTC` (the same in both
/// languages: the portal does not model Swedish time). The text as given if it is not RFC 3339.
pub fn readable_time(rfc3339: &str) -> String {
    let Some(t) = ena_core::time::Timestamp::parse_rfc3339(rfc3339)
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.unix()).ok())
    else {
        return rfc3339.to_owned();
    };
    t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// What every page's layout needs.
pub struct Layout {
    pub t: &'static Texts,
    pub title: String,
    /// This page's path, for the language switch.
    pub path: String,
    pub suffix: &'static str,
    pub switch_href: String,
    pub version: &'static str,
}

impl Layout {
    pub fn new(lang: Lang, title: &str, path: &str) -> Layout {
        let switch_href = match lang {
            Lang::Sv => format!("{path}?lang=en"),
            Lang::En => path.to_owned(),
        };
        Layout {
            t: lang.texts(),
            title: title.to_owned(),
            path: path.to_owned(),
            suffix: lang.suffix(),
            switch_href,
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    /// What this version has, from the API registry (`apis::ALL`), so the page cannot go stale.
    apis: Vec<HomeApi>,
}

struct HomeApi {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    pages: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    detail: String,
}

pub(crate) fn render(template: &impl Template) -> Result<Html<String>, ApiError> {
    template.render().map(Html).map_err(|e| ApiError::internal(&e))
}

pub(crate) fn name(lang: Lang, sv: &str, en: &str) -> String {
    if lang == Lang::En { en.to_owned() } else { sv.to_owned() }
}

async fn home(Query(q): Query<LangQuery>) -> Result<Html<String>, ApiError> {
    let lang = q.lang();
    let apis = crate::apis::ALL
        .iter()
        .map(|a| HomeApi {
            id: a.id,
            name: a.name,
            description: if lang == Lang::En { a.description_en } else { a.description_sv },
            pages: a.pages.iter().map(|(path, sv, en)| (*path, if lang == Lang::En { *en } else { *sv })).collect(),
        })
        .collect();
    render(&HomePage { layout: Layout::new(lang, lang.texts().home_title, "/"), apis })
}

/// The portal's error page (for browsers on portal paths; APIs always get problem+json).
pub fn error_page(status: StatusCode, detail: &str) -> Response {
    let lang = Lang::Sv;
    let page = ErrorPage { layout: Layout::new(lang, lang.texts().error_title, "/"), detail: detail.to_owned() };
    let body = page.render().unwrap_or_else(|_| detail.to_owned());
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_use_each_languages_grouping() {
        assert_eq!(amount(141_500, Lang::Sv), "141\u{a0}500");
        assert_eq!(amount(141_500, Lang::En), "141,500");
        assert_eq!(amount(0, Lang::En), "0");
        assert_eq!(amount(1_234_567, Lang::En), "1,234,567");
        assert_eq!(amount(-5, Lang::Sv), "−5");
    }

    #[test]
    fn times_read_to_the_minute_in_utc() {
        assert_eq!(readable_time("2026-12-04T13:05:59Z"), "2026-12-04 13:05 UTC");
        assert_eq!(readable_time("2026-12-04T14:05:00+01:00"), "2026-12-04 13:05 UTC");
        assert_eq!(readable_time("soon"), "soon");
    }
}

/// A rendered page of a person's own (never cached: it shows their data), or a 500 if it did not render.
/// The words of a Mina sidor page that is one paged table of the person's own (who holds data about me,
/// who read my data).
pub struct TableTexts {
    pub title: &'static str,
    pub lead: &'static str,
    pub caption: &'static str,
    pub headers: [&'static str; 4],
    pub none: &'static str,
    pub back: &'static str,
    /// Where `back` leads (`/mina-sidor` for a person's pages, `/` for public ones).
    pub back_path: &'static str,
    pub pages: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
}

#[derive(Template)]
#[template(path = "table_page.html")]
struct TablePage<'a> {
    layout: Layout,
    t: &'a TableTexts,
    path: &'a str,
    table_id: &'a str,
    /// Each row's cells, and where its first cell links (empty: nowhere).
    rows: Vec<([String; 4], String)>,
    previous: Option<u32>,
    next: Option<u32>,
    lang_amp: &'static str,
    views: &'a Views,
}

/// Whose table a page may show besides the person's own (parties they act for): the label of the choice,
/// each choice's label and query (`party=N`, empty for the person), and the one shown.
#[derive(Default)]
pub struct Views {
    pub label: &'static str,
    pub choices: Vec<(String, String)>,
    pub current: String,
}

/// The page number a table page asks for (`?page=`, from 1).
pub fn page_asked(q: &std::collections::HashMap<String, String>) -> u32 {
    q.get("page").and_then(|p| p.parse::<u32>().ok()).filter(|p| *p >= 1).unwrap_or(1)
}

/// Render page `page` of a table at `path`: `rows` are what was read for it, one more than `per_page` when
/// a next page follows (it is not shown).
pub fn table_page(
    lang: Lang,
    path: &str,
    table_id: &str,
    t: &TableTexts,
    rows: Vec<[String; 4]>,
    page: u32,
    per_page: u32,
    views: &Views,
) -> Response {
    table_page_linked(
        lang,
        path,
        table_id,
        t,
        rows.into_iter().map(|r| (r, String::new())).collect(),
        page,
        per_page,
        views,
    )
}

/// [`table_page`] whose rows' first cells link to a page of their own (an empty link: none).
#[allow(clippy::too_many_arguments)]
pub fn table_page_linked(
    lang: Lang,
    path: &str,
    table_id: &str,
    t: &TableTexts,
    mut rows: Vec<([String; 4], String)>,
    page: u32,
    per_page: u32,
    views: &Views,
) -> Response {
    let more = rows.len() > per_page as usize;
    rows.truncate(per_page as usize);
    let view = TablePage {
        layout: Layout::new(lang, t.title, path),
        t,
        path,
        table_id,
        rows,
        previous: (page > 1).then(|| page - 1),
        next: more.then_some(page + 1),
        lang_amp: if lang == Lang::En { "&lang=en" } else { "" },
        views,
    };
    personal_page(StatusCode::OK, view.render())
}

pub fn personal_page(code: axum::http::StatusCode, body: Result<String, askama::Error>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    match body {
        Ok(b) => (code, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], b)
            .into_response(),
        Err(e) => crate::problem::ApiError::internal(&e).into_response(),
    }
}

/// An organisation number as people write it (NNNNNN-NNNN), or the text as given.
pub fn org_display(org: &str) -> String {
    ena_core::Organisationsnummer::parse(org).map_or_else(|_| org.to_owned(), |o| o.display_form())
}

/// The names of the parties a person acts for (their own shown as `yourself`), for the portal's lists.
pub async fn party_names(
    state: &crate::AppState,
    s: &ena_identity::session::Session,
    yourself: &str,
) -> std::collections::HashMap<String, String> {
    let acting = state.representation.acting_for(&s.person).await.unwrap_or_default();
    acting
        .into_iter()
        .map(|a| {
            let label = if a.party == s.person.as_str() {
                yourself.to_owned()
            } else {
                a.name.unwrap_or_else(|| org_display(&a.party))
            };
            (a.party, label)
        })
        .collect()
}

/// A posted form's fields once its CSRF token matched the session's; the refusal to answer otherwise.
pub fn csrf_form(s: &ena_identity::session::Session, body: &[u8]) -> Result<Vec<(String, String)>, Response> {
    let form: Vec<(String, String)> =
        form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if form.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()) != Some(s.csrf.as_str()) {
        return Err(ApiError::invalid(
            ena_core::ErrorCode::PermissionDenied,
            "The form's CSRF token does not match this session.",
            vec![ena_core::FieldError::new("csrf", "(token)", "does not match the session")],
        )
        .into_response());
    }
    Ok(form)
}
