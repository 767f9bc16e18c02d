//! The developer portal's pages of one API (`/api-katalog/{apiId}`): what it is and whose, its versions
//! with their lifecycle, lint results and remaining callers, use per major version over the last 30 days
//! (calls, error rate, refusals, calls to deprecated versions, how many applications), its plans and how
//! to subscribe; and of one version (`/api-katalog/{apiId}/{version}`): the lint report and the change
//! report against the version before it, with the rendered reference (`…/docs`) and the document itself
//! (`…/openapi.json`). Server-rendered, no JavaScript, open to everyone: what one organisation's
//! applications did is shown to it through the API (`GET /apis/v1/apis/{apiId}/usage`), not here.

use std::collections::HashMap;

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, Response};
use ena_apis::catalog::{Api, Version};
use ena_apis::plans::Plan;

use crate::AppState;
use crate::callers::{Caller, Routes};
use crate::problem::ApiError;
use crate::site::portal::{Lang, Layout, org_display, personal_page};

pub fn router() -> Routes {
    Routes::new()
        .get("/api-katalog/{api_id}", Caller::Public, api_page)
        .get("/api-katalog/{api_id}/{version}", Caller::Public, version_page)
        .get("/api-katalog/{api_id}/{version}/docs", Caller::Public, version_docs)
        .get("/api-katalog/{api_id}/{version}/openapi.json", Caller::Public, version_json)
}

struct Texts {
    back: &'static str,
    owner: &'static str,
    contact: &'static str,
    sla: &'static str,
    classification: &'static str,
    tags: &'static str,
    served: &'static str,
    not_served: &'static str,
    versions: &'static str,
    version: &'static str,
    status: &'static str,
    published: &'static str,
    sunset: &'static str,
    lint: &'static str,
    errors: &'static str,
    warnings: &'static str,
    callers: &'static str,
    usage: &'static str,
    no_usage: &'static str,
    major: &'static str,
    calls: &'static str,
    error_rate: &'static str,
    refused: &'static str,
    deprecated_calls: &'static str,
    applications: &'static str,
    plans: &'static str,
    no_plans: &'static str,
    plan: &'static str,
    rate: &'static str,
    burst: &'static str,
    quota: &'static str,
    approval: &'static str,
    who: &'static str,
    yes: &'static str,
    no: &'static str,
    every_member: &'static str,
    subscribe: &'static str,
    subscribe_how: &'static str,
    subscribe_portal: &'static str,
    your_address: &'static str,
    docs: &'static str,
    exception: &'static str,
    rule: &'static str,
    level: &'static str,
    place: &'static str,
    finding: &'static str,
    changes: &'static str,
    against: &'static str,
    breaking: &'static str,
    compatible: &'static str,
    kind: &'static str,
    change: &'static str,
    first: &'static str,
}

const SV: Texts = Texts {
    back: "API-katalogen",
    owner: "Organisation",
    contact: "Kontakt och support",
    sla: "Servicenivå (SLA, publicerad version)",
    classification: "Informationsklassning",
    tags: "Taggar",
    served: "Tillhandahålls av",
    not_served: "Ingen nod i federationen (anropas inte genom en gateway)",
    versions: "Versioner",
    version: "Version",
    status: "Status",
    published: "Publicerad",
    sunset: "Upphör (sunset)",
    lint: "REST API-profilen",
    errors: "fel",
    warnings: "varningar",
    callers: "Anropande applikationer (30 dagar)",
    usage: "Användning de senaste 30 dagarna",
    no_usage: "Inga anrop genom en gateway ännu.",
    major: "Huvudversion",
    calls: "Anrop",
    error_rate: "Andel fel",
    refused: "Nekade",
    deprecated_calls: "Till utfasad version eller operation",
    applications: "Applikationer",
    plans: "Planer",
    no_plans: "Inga planer ännu: API:et kan inte prenumereras på.",
    plan: "Plan",
    rate: "Takt",
    burst: "topp",
    quota: "Kvot per dygn",
    approval: "Godkänns av producenten",
    who: "För",
    yes: "Ja",
    no: "Nej",
    every_member: "Alla medlemmar",
    subscribe: "Prenumerera",
    subscribe_how: "En organisation i federationen prenumererar med sitt systems åtkomsttoken eller sin nods certifikat. Applikationen är en av organisationens adresser: den identitet noden visar vid varje anrop, så det finns inga API-nycklar.",
    your_address: "er adress",
    subscribe_portal: "Prenumerera för din organisation (logga in)",
    docs: "Dokumentationen",
    exception: "Undantag beviljat av operatören",
    rule: "Regel",
    level: "Nivå",
    place: "Plats",
    finding: "Anmärkning",
    changes: "Ändringar",
    against: "Jämfört med",
    breaking: "bryter kompatibiliteten",
    compatible: "kompatibla",
    kind: "Slag",
    change: "Ändring",
    first: "Den första versionen: inget att jämföra med.",
};

const EN: Texts = Texts {
    back: "The API catalog",
    owner: "Organisation",
    contact: "Contact and support",
    sla: "Service level (SLA, published version)",
    classification: "Information classification",
    tags: "Tags",
    served: "Served by",
    not_served: "No node of the federation (not called through a gateway)",
    versions: "Versions",
    version: "Version",
    status: "Status",
    published: "Published",
    sunset: "Sunset",
    lint: "The REST API profile",
    errors: "errors",
    warnings: "warnings",
    callers: "Calling applications (30 days)",
    usage: "Use over the last 30 days",
    no_usage: "No calls through a gateway yet.",
    major: "Major version",
    calls: "Calls",
    error_rate: "Error rate",
    refused: "Refused",
    deprecated_calls: "To a deprecated version or operation",
    applications: "Applications",
    plans: "Plans",
    no_plans: "No plans yet: the API cannot be subscribed to.",
    plan: "Plan",
    rate: "Rate",
    burst: "burst",
    quota: "Quota a day",
    approval: "Approved by the producer",
    who: "For",
    yes: "Yes",
    no: "No",
    every_member: "Every member",
    subscribe: "Subscribe",
    subscribe_how: "An organisation of the federation subscribes with its system's access token or its node's certificate. The application is one of the organisation's addresses: the identity its node proves on every call, so there are no API keys.",
    your_address: "your address",
    subscribe_portal: "Subscribe for your organisation (log in)",
    docs: "The documentation",
    exception: "Exception granted by the operator",
    rule: "Rule",
    level: "Level",
    place: "Where",
    finding: "Finding",
    changes: "Changes",
    against: "Against",
    breaking: "breaking",
    compatible: "compatible",
    kind: "Kind",
    change: "Change",
    first: "The first version: nothing to compare with.",
};

#[derive(Template)]
#[template(path = "apis/templates/api.html")]
struct ApiPage {
    layout: Layout,
    t: &'static Texts,
    api: Api,
    owner: String,
    /// The published version's `info.x-sla` (each promise), or its terms of service.
    sla: Vec<(String, String)>,
    versions: Vec<Version>,
    /// Per major: how many subscribed applications called it in the last 30 days.
    callers: HashMap<u64, usize>,
    /// Per major: calls, error rate, refused, deprecated calls, applications.
    usage: Vec<(u64, u64, String, u64, u64, usize)>,
    plans: Vec<Plan>,
}

#[derive(Template)]
#[template(path = "apis/templates/version.html")]
struct VersionPage {
    layout: Layout,
    t: &'static Texts,
    title: String,
    api_id: String,
    version: String,
    errors: u64,
    warnings: u64,
    exception: String,
    findings: Vec<(String, String, String, String)>,
    against: Option<String>,
    breaking: usize,
    compatible: usize,
    changes: Vec<(String, String, String, String)>,
}

/// Errors as a share of calls, as the pages show it ("–" without calls).
pub(super) fn error_rate(calls: u64, errors: u64) -> String {
    if calls == 0 { "–".to_owned() } else { format!("{:.1} %", errors as f64 * 100.0 / calls as f64) }
}

fn lang_of(q: &HashMap<String, String>) -> (Lang, &'static Texts) {
    if q.get("lang").map(String::as_str) == Some("en") { (Lang::En, &EN) } else { (Lang::Sv, &SV) }
}

async fn api_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (lang, t) = lang_of(&q);
    let api = state.catalog.api(&id).await?;
    let versions = state.catalog.versions(&id).await?;
    let mut callers = HashMap::new();
    for v in versions.iter().filter(|v| v.status != "draft") {
        if let std::collections::hash_map::Entry::Vacant(e) = callers.entry(v.major) {
            e.insert(state.catalog.callers(&id, v.major).await?.len());
        }
    }
    // The owner's view of use, summed per major: no application is named on a public page.
    // Per major: calls, errors, refused, deprecated, applications.
    let mut sums: Vec<(u64, [u64; 5])> = Vec::new();
    for u in state.catalog.usage(&id, &api.owner, 30).await? {
        let add = [u.calls, u.errors, u.refused, u.deprecated, 1];
        match sums.iter_mut().find(|r| r.0 == u.major) {
            Some(r) => r.1.iter_mut().zip(add).for_each(|(a, b)| *a += b),
            None => sums.push((u.major, add)),
        }
    }
    let usage = sums
        .into_iter()
        .map(|(major, [calls, errors, refused, deprecated, apps])| {
            (major, calls, error_rate(calls, errors), refused, deprecated, apps as usize)
        })
        .collect();
    // Organisation numbers as people write them (NNNNNN-NNNN).
    let mut plans = state.catalog.plans(&id).await?;
    for p in &mut plans {
        p.organisations = p.organisations.iter().map(|o| org_display(o)).collect();
    }
    let mut sla = Vec::new();
    if let Some(published) = &api.published {
        let (doc, _) = state.catalog.document(&id, published).await?;
        let info = &doc["info"];
        for (k, v) in info["x-sla"].as_object().into_iter().flatten() {
            sla.push((k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)));
        }
        if let (true, Some(terms)) = (sla.is_empty(), info["termsOfService"].as_str()) {
            sla.push(("termsOfService".into(), terms.to_owned()));
        }
    }
    let page = ApiPage {
        layout: Layout::new(lang, &api.name, &format!("/api-katalog/{id}")),
        t,
        owner: org_display(&api.owner),
        sla,
        api,
        versions,
        callers,
        usage,
        plans,
    };
    Ok(personal_page(StatusCode::OK, page.render()))
}

async fn version_page(
    State(state): State<AppState>,
    Path((id, version)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (lang, t) = lang_of(&q);
    let api = state.catalog.api(&id).await?;
    let v = state.catalog.version(&id, &version).await?;
    let (doc, lint) = state.catalog.document(&id, &version).await?;
    let text = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_owned();
    let findings = lint["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                text(&f["rule"]),
                text(&f["level"]),
                text(&f["pointer"]),
                format!("{} {}", text(&f["message"]), text(&f["hint"])),
            )
        })
        .collect();
    let exception = v.lint_exception.as_ref().map_or_else(String::new, |e| {
        let rules: Vec<String> = e["rules"].as_array().into_iter().flatten().map(text).collect();
        format!("{} — {}", rules.join(", "), text(&e["reason"]))
    });
    // The version before this one: the next older one that is not a draft.
    let versions = state.catalog.versions(&id).await?;
    let previous = versions
        .iter()
        .skip_while(|x| x.version != version)
        .skip(1)
        .find(|x| x.status != "draft")
        .map(|x| x.version.clone());
    let (mut breaking, mut compatible, mut changes) = (0, 0, Vec::new());
    if let Some(before) = &previous {
        let (old, _) = state.catalog.document(&id, before).await?;
        let report = tokio::task::spawn_blocking(move || ena_apis::diff(&old, &doc))
            .await
            .map_err(|e| ApiError::internal(&e))?;
        (breaking, compatible) = (report.breaking, report.compatible);
        changes = report
            .changes
            .iter()
            .map(|c| {
                let kind =
                    serde_json::to_value(&c.kind).ok().and_then(|k| k.as_str().map(str::to_owned)).unwrap_or_default();
                (kind, c.rule.clone(), c.pointer.clone(), c.message.clone())
            })
            .collect();
    }
    let page = VersionPage {
        layout: Layout::new(lang, &format!("{} {version}", api.name), &format!("/api-katalog/{id}/{version}")),
        t,
        title: format!("{} {version} ({})", api.name, v.status),
        api_id: id,
        version,
        errors: v.errors,
        warnings: v.warnings,
        exception,
        findings,
        against: previous,
        breaking,
        compatible,
        changes,
    };
    Ok(personal_page(StatusCode::OK, page.render()))
}

async fn version_docs(
    State(state): State<AppState>,
    Path((id, version)): Path<(String, String)>,
) -> Result<Html<String>, ApiError> {
    let (doc, _) = state.catalog.document(&id, &version).await?;
    crate::site::docs::render_page(&doc, &format!("/api-katalog/{id}/{version}/openapi.json"), false).map(Html)
}

async fn version_json(
    State(state): State<AppState>,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.catalog.document(&id, &version).await?.0))
}
