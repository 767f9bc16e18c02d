//! `/openapi.json` and the API reference page `/docs`, rendered on the server from the same document
//! (no CDN, no JavaScript), with the error-code registry.

use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use ena_core::ErrorCode;
use serde_json::Value;

use crate::AppState;
use crate::callers::{Caller, Routes};
use crate::problem::{ApiError, type_uri};
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new().api(Caller::Public, routes!(openapi_json)).get("/docs", Caller::Public, docs_page)
}

/// This OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "system", operation_id = "openApiDocument",
    responses((status = 200, description = "The OpenAPI 3.1 document of every ena API", body = Object)))]
pub async fn openapi_json(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], state.openapi.clone())
}

struct Operation {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    parameters: Vec<(String, String, String)>,
    request_example: Option<String>,
    responses: Vec<(String, String, Option<String>)>,
}

struct Section {
    id: String,
    description: String,
    operations: Vec<Operation>,
}

struct ErrorRow {
    code: &'static str,
    status: u16,
    title: &'static str,
    anchor: String,
}

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage {
    title: String,
    version: String,
    description: String,
    sections: Vec<Section>,
    errors: Vec<ErrorRow>,
    /// Where the page's document is as JSON.
    json_href: String,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn pretty(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => {
            let full = serde_json::to_string_pretty(other).ok()?;
            // Keep the page readable: very long examples are cut, the full one is in /openapi.json.
            const MAX: usize = 4000;
            if full.len() > MAX {
                let cut = full.char_indices().take_while(|(i, _)| *i < MAX).last().map_or(0, |(i, _)| i);
                Some(format!("{}\n… (cut here; the whole example is in /openapi.json)", &full[..cut]))
            } else {
                Some(full)
            }
        }
    }
}

fn example_of(content: &Value) -> Option<String> {
    content.as_object()?.values().find_map(|m| pretty(&m["example"]))
}

pub async fn docs_page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let doc: Value = serde_json::from_slice(&state.openapi).map_err(|e| ApiError::internal(&e))?;
    render(&doc).map(Html)
}

/// The reference page of an OpenAPI document, with the error-code registry (the problem `type` URIs
/// point at its anchors). Member nodes render theirs with it too, so their problems' links answer.
pub fn render(doc: &Value) -> Result<String, ApiError> {
    render_page(doc, "/openapi.json", true)
}

/// The reference page of any OpenAPI document (the API catalog's versions): `json_href` is where the
/// document is as JSON; `with_errors` adds ena's error-code registry (for ena's own documents).
/// Operations whose tag the document does not declare get a section of their own.
pub fn render_page(doc: &Value, json_href: &str, with_errors: bool) -> Result<String, ApiError> {
    let mut sections: Vec<Section> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Section { id: text(&t["name"]), description: text(&t["description"]), operations: Vec::new() })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let tag = op["tags"][0].as_str().unwrap_or("system");
            let operation = Operation {
                anchor: text(&op["operationId"]),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(&op["summary"]),
                description: text(&op["description"]),
                parameters: op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| (text(&p["name"]), text(&p["in"]), text(&p["description"])))
                    .collect(),
                request_example: example_of(&op["requestBody"]["content"]),
                responses: op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(status, r)| (status.clone(), text(&r["description"]), example_of(&r["content"])))
                    .collect(),
            };
            if !sections.iter().any(|s| s.id == tag) {
                sections.push(Section { id: tag.to_owned(), description: String::new(), operations: Vec::new() });
            }
            if let Some(section) = sections.iter_mut().find(|s| s.id == tag) {
                section.operations.push(operation);
            }
        }
    }
    let errors = ErrorCode::ALL
        .iter()
        .filter(|_| with_errors)
        .map(|c| ErrorRow {
            code: c.code(),
            status: c.status(),
            title: c.title(),
            anchor: type_uri(*c).trim_start_matches("/docs#").to_owned(),
        })
        .collect();
    let page = DocsPage {
        title: text(&doc["info"]["title"]),
        version: text(&doc["info"]["version"]),
        description: text(&doc["info"]["description"]),
        sections,
        errors,
        json_href: json_href.to_owned(),
    };
    page.render().map_err(|e| ApiError::internal(&e))
}
