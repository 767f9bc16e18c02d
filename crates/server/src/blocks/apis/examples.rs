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

pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    let value = match (operation_id, part) {
        ("apisApiInfo", Part::Response(_)) => serde_json::to_value(apis::APIS_API.info()).ok()?,
        ("lintDocument", Part::Request) => flawed(),
        ("lintDocument", Part::Response(_)) => serde_json::to_value(ena_apis::lint(&flawed())).ok()?,
        ("diffDocuments", Part::Request) => json!({"old": base().to_string(), "new": next_version().to_string()}),
        ("diffDocuments", Part::Response(_)) => serde_json::to_value(ena_apis::diff(&base(), &next_version())).ok()?,
        _ => return None,
    };
    Some(value)
}
