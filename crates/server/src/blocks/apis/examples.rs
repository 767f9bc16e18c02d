//! Examples of this block's OpenAPI operations (REST API profile DOK.15): computed by the lint and the
//! comparison themselves from the corpus's base document, so they are what the API answers.

use serde_json::{Value, json};

use crate::apis;
use crate::openapi::Part;

/// The corpus's base document: one small API that keeps every rule.
const BASE: &str = include_str!("../../../../apis/corpus/base.json");

fn base() -> Value {
    serde_json::from_str(BASE).unwrap_or(Value::Null)
}

/// The base with one operation's description left out (a DOK.19 error) and a field in snake_case.
fn flawed() -> Value {
    let mut doc = base();
    if let Some(op) = doc.pointer_mut("/paths/~1orders~1v1~1orders/get").and_then(Value::as_object_mut) {
        op.remove("description");
    }
    doc
}

/// The base in a new version that removes reading one order (breaking) and adds a field (compatible).
fn next_version() -> Value {
    let mut doc = base();
    doc["info"]["version"] = json!("1.3.0");
    if let Some(item) = doc.pointer_mut("/paths/~1orders~1v1~1orders~1{orderId}").and_then(Value::as_object_mut) {
        item.remove("get");
    }
    doc["components"]["schemas"]["Order"]["properties"]["note"] = json!({"type": "string"});
    doc
}

fn api() -> Value {
    json!({"id": "bestallningar", "owner": "162120000142", "name": "Beställningar", "description": "Orders placed with the agency.",
           "contact": "api@exempelkommun.se", "tags": ["bygglov"], "published": "1.2.0", "createdAt": "2026-12-07T08:00:00Z"})
}

fn version(status: &str) -> Value {
    json!({"apiId": "bestallningar", "version": "1.2.0", "major": 1, "status": status, "errors": 0, "warnings": 0,
           "createdAt": "2026-12-07T08:00:00Z", "publishedAt": if status == "draft" { Value::Null } else { json!("2026-12-07T08:05:00Z") },
           "deprecatedAt": null, "sunsetAt": null, "successor": null, "retiredAt": null})
}

pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    let value = match (operation_id, part) {
        ("apisApiInfo", Part::Response(_)) => serde_json::to_value(apis::APIS_API.info()).ok()?,
        ("lintDocument", Part::Request) => flawed(),
        ("lintDocument", Part::Response(_)) => serde_json::to_value(ena_apis::lint(&flawed())).ok()?,
        ("diffDocuments", Part::Request) => json!({"old": base().to_string(), "new": next_version().to_string()}),
        ("diffDocuments", Part::Response(_)) => serde_json::to_value(ena_apis::diff(&base(), &next_version())).ok()?,
        ("searchApis", Part::Response(_)) => json!({"items": [api()], "page": 1, "limit": 20, "hasMore": false}),
        ("registerApi", Part::Request) => {
            json!({"id": "bestallningar", "name": "Beställningar", "description": "Orders placed with the agency.", "contact": "api@exempelkommun.se", "tags": ["bygglov"]})
        }
        ("registerApi" | "getApi", Part::Response(_)) => api(),
        ("listApiVersions", Part::Response(_)) => json!({"items": [version("published")]}),
        ("uploadApiVersion", Part::Request) => base(),
        ("uploadApiVersion" | "getApiVersion", Part::Response(_)) => {
            json!({"version": version("draft"), "lint": serde_json::to_value(ena_apis::lint(&base())).ok()?})
        }
        ("publishApiVersion", Part::Response(_)) => json!({"version": version("published"), "changes": Value::Null}),
        ("deprecateApiVersion", Part::Request) => json!({"sunset": "2027-06-30T00:00:00Z", "successor": "2.0.0"}),
        ("deprecateApiVersion", Part::Response(_)) => {
            let mut v = version("deprecated");
            v["deprecatedAt"] = json!("2026-12-07T09:00:00Z");
            v["sunsetAt"] = json!("2027-06-30T00:00:00Z");
            v["successor"] = json!("2.0.0");
            v
        }
        ("retireApiVersion", Part::Response(_)) => {
            let mut v = version("retired");
            v["retiredAt"] = json!("2027-07-01T09:00:00Z");
            v
        }
        _ => return None,
    };
    Some(value)
}
