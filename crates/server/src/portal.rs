//! The portal: server-rendered pages (askama), Swedish first with English via `?lang=en`, usable without
//! JavaScript, built to WCAG 2.1 AA (checked by axe-core in CI).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use ena_plan::cost::YearCost;
use ena_plan::model::{Estimate, Status};
use ena_plan::{BlockView, CostReport};
use serde::Deserialize;

use crate::AppState;
use crate::callers::{Caller, Routes};
use crate::problem::ApiError;

pub fn router() -> Routes {
    Routes::new()
        .get("/", Caller::Public, home)
        .get("/byggblock", Caller::Public, blocks)
        .get("/byggblock/{id}", Caller::Public, block)
        .get("/static/ena.css", Caller::Public, stylesheet)
}

const CSS: &str = include_str!("../static/ena.css");

async fn stylesheet() -> impl IntoResponse {
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
    fn suffix(self) -> &'static str {
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

fn status_text(status: Status, lang: Lang) -> &'static str {
    match (status, lang) {
        (Status::Planned, Lang::Sv) => "Planerad",
        (Status::Initiation, Lang::Sv) => "Initiering",
        (Status::Realisation, Lang::Sv) => "Realisering pågår",
        (Status::Operation, Lang::Sv) => "I drift",
        (Status::Planned, Lang::En) => "Planned",
        (Status::Initiation, Lang::En) => "Initiation",
        (Status::Realisation, Lang::En) => "Being built",
        (Status::Operation, Lang::En) => "In operation",
    }
}

fn estimate_text(estimate: Estimate, lang: Lang) -> &'static str {
    match (estimate, lang) {
        (Estimate::Own, Lang::Sv) => "Egen uppskattning",
        (Estimate::Schablon, Lang::Sv) => "Schablon",
        (Estimate::None, Lang::Sv) => "Uppskattning saknas",
        (Estimate::Own, Lang::En) => "Own estimate",
        (Estimate::Schablon, Lang::En) => "Schablon (flat rate)",
        (Estimate::None, Lang::En) => "No estimate yet",
    }
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

struct BlockRow {
    id: String,
    name: String,
    agency: Option<String>,
    status: &'static str,
    estimate: &'static str,
    tagged: bool,
    costs: Vec<String>,
    total: String,
}

struct CategoryGroup {
    id: String,
    name: String,
    blocks: Vec<BlockRow>,
}

struct SummaryRow {
    label: String,
    values: Vec<String>,
    strong: bool,
}

#[derive(Template)]
#[template(path = "blocks.html")]
struct BlocksPage {
    layout: Layout,
    years: Vec<i32>,
    groups: Vec<CategoryGroup>,
    summary: Vec<SummaryRow>,
    schablon: String,
}

struct LineRow {
    label: String,
    year: i32,
    development: String,
    operations: String,
}

struct Link {
    href: String,
    name: String,
}

#[derive(Template)]
#[template(path = "block.html")]
struct BlockPage {
    layout: Layout,
    name: String,
    category: String,
    agency: Option<String>,
    status: &'static str,
    estimate: &'static str,
    depends_on: Vec<Link>,
    dependents: Vec<Link>,
    years: Vec<i32>,
    costs: Vec<(String, String, String)>,
    total: String,
    lines: Vec<LineRow>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    detail: String,
}

fn render(template: &impl Template) -> Result<Html<String>, ApiError> {
    template.render().map(Html).map_err(|e| ApiError::internal(&e))
}

fn name(lang: Lang, sv: &str, en: &str) -> String {
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

fn summary_rows(report: &CostReport, lang: Lang) -> Vec<SummaryRow> {
    let t = lang.texts();
    let row = |label: &str, f: &dyn Fn(&ena_plan::cost::YearSummary) -> i64, strong: bool| SummaryRow {
        label: label.to_owned(),
        values: report.per_year.iter().chain(std::iter::once(&report.all_years)).map(|y| amount(f(y), lang)).collect(),
        strong,
    };
    let mut rows = vec![
        row(t.row_identified, &|y| y.identified_blocks.total, true),
        row(t.row_development, &|y| y.identified_blocks.development, false),
        row(t.row_operations, &|y| y.identified_blocks.operations, false),
    ];
    for (i, g) in report.governance.iter().enumerate() {
        let label = name(lang, &g.name_sv, &g.name_en);
        rows.push(row(&label, &|y| y.governance.get(i).map_or(0, |a| a.amount), false));
    }
    rows.push(row(t.row_additional, &|y| y.additional_blocks.total, false));
    rows.push(row(t.row_total, &|y| y.total, true));
    rows
}

async fn blocks(State(state): State<AppState>, Query(q): Query<LangQuery>) -> Result<Html<String>, ApiError> {
    let lang = q.lang();
    let snapshot = state.plans.snapshot().await?;
    let (plan, report, views) = (&snapshot.plan, &snapshot.report, &snapshot.views);
    let groups = plan
        .categories
        .iter()
        .map(|c| CategoryGroup {
            id: c.id.clone(),
            name: name(lang, &c.name_sv, &c.name_en),
            blocks: views
                .iter()
                .filter(|b| b.category.id == c.id)
                .map(|b| BlockRow {
                    id: b.id.clone(),
                    name: name(lang, &b.name_sv, &b.name_en),
                    agency: b.agency.clone(),
                    status: status_text(b.status, lang),
                    estimate: estimate_text(b.estimate, lang),
                    tagged: b.estimate != Estimate::Own,
                    costs: b.costs.iter().map(|y| amount(y.total, lang)).collect(),
                    total: amount(b.total, lang),
                })
                .collect(),
        })
        .collect();
    let schablon = report.schablon.as_ref().map_or(String::new(), |s| {
        let avg = if lang == Lang::Sv { format!("{:.1}", s.average / 1000.0).replace('.', ",") } else { format!("{:.1}", s.average / 1000.0) };
        match lang {
            Lang::Sv => format!(
                "Schablonen är {} tkr per år: genomsnittet för de {} block som har egen uppskattning är {avg} miljoner kronor, avrundat till närmaste {} tkr.",
                amount(s.value, lang), s.based_on_blocks, amount(s.rounding, lang)
            ),
            Lang::En => format!(
                "The schablon is {} kSEK per year: the average of the {} blocks with their own estimate is {avg} million SEK, rounded to the nearest {} kSEK.",
                amount(s.value, lang), s.based_on_blocks, amount(s.rounding, lang)
            ),
        }
    });
    render(&BlocksPage {
        layout: Layout::new(lang, lang.texts().blocks_title, "/byggblock"),
        years: report.years.clone(),
        groups,
        summary: summary_rows(&report, lang),
        schablon,
    })
}

fn year_cells(costs: &[YearCost], lang: Lang) -> Vec<(String, String, String)> {
    costs.iter().map(|y| (amount(y.development, lang), amount(y.operations, lang), amount(y.total, lang))).collect()
}

async fn block(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> Result<Html<String>, ApiError> {
    let lang = q.lang();
    let view: BlockView = state.plans.get_block(&id).await?;
    let link = |r: &ena_plan::BlockRef| Link {
        href: format!("/byggblock/{}{}", r.id, lang.suffix()),
        name: name(lang, &r.name_sv, &r.name_en),
    };
    let title = name(lang, &view.name_sv, &view.name_en);
    render(&BlockPage {
        layout: Layout::new(lang, &title, &format!("/byggblock/{}", view.id)),
        category: name(lang, &view.category.name_sv, &view.category.name_en),
        agency: view.agency.clone(),
        status: status_text(view.status, lang),
        estimate: estimate_text(view.estimate, lang),
        depends_on: view.depends_on.iter().map(link).collect(),
        dependents: view.dependents.iter().map(link).collect(),
        years: view.costs.iter().map(|c| c.year).collect(),
        costs: year_cells(&view.costs, lang),
        total: amount(view.total, lang),
        lines: view
            .lines
            .iter()
            .flat_map(|l| {
                l.costs.iter().map(move |c| {
                    let (dev, ops) = match c.kind {
                        ena_plan::model::CostKind::Development => (c.amount, 0),
                        ena_plan::model::CostKind::Operations => (0, c.amount),
                    };
                    LineRow {
                        label: l.label.clone(),
                        year: c.year,
                        development: amount(dev, lang),
                        operations: amount(ops, lang),
                    }
                })
            })
            .collect(),
        name: title,
    })
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
}
