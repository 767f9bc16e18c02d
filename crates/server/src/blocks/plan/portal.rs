//! The plan block's portal pages: the building blocks with their costs (`/byggblock`) and one block.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use ena_plan::cost::YearCost;
use ena_plan::model::{Estimate, Status};
use ena_plan::{BlockView, CostReport};

use crate::AppState;
use crate::callers::{Caller, Routes};
use crate::problem::ApiError;
use crate::site::portal::{Lang, LangQuery, Layout, amount, name, render};

pub fn router() -> Routes {
    Routes::new().get("/byggblock", Caller::Public, blocks).get("/byggblock/{id}", Caller::Public, block)
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
#[template(path = "plan/templates/blocks.html")]
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
#[template(path = "plan/templates/block.html")]
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
