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
           "contact": "api@exempelkommun.se", "tags": ["bygglov"], "classification": "public", "node": "https://node.exempelkommun.se",
           "service": "bestallningar", "published": "1.2.0", "createdAt": "2026-12-07T08:00:00Z"})
}

fn version(status: &str) -> Value {
    json!({"apiId": "bestallningar", "version": "1.2.0", "major": 1, "status": status, "errors": 0, "warnings": 0,
           "createdAt": "2026-12-07T08:00:00Z", "publishedAt": if status == "draft" { Value::Null } else { json!("2026-12-07T08:05:00Z") },
           "deprecatedAt": null, "sunsetAt": null, "successor": null, "retiredAt": null, "lintException": null, "retireOverride": null})
}

fn plan() -> Value {
    json!({"apiId": "bestallningar", "id": "bas", "name": "Bas", "ratePerSecond": 10, "burst": 20, "quotaPerDay": 100000,
           "approval": true, "organisations": [], "trustMarks": [], "requiredLoa": 3, "maxRequestBytes": 1048576,
           "createdAt": "2026-12-07T08:00:00Z"})
}

fn subscription(status: &str) -> Value {
    json!({"id": "0193f5e2-7a00-7000-8000-000000000001", "apiId": "bestallningar", "plan": "bas", "organisation": "212000-0142",
           "application": "212000-0142", "status": status, "reason": null, "createdAt": "2026-12-07T08:00:00Z", "updatedAt": "2026-12-07T08:00:00Z"})
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
        ("listApiPlans", Part::Response(_)) => json!({"items": [plan()]}),
        ("addApiPlan", Part::Request) => {
            json!({"id": "bas", "name": "Bas", "ratePerSecond": 10, "burst": 20, "quotaPerDay": 100000, "approval": true, "requiredLoa": 3})
        }
        ("addApiPlan", Part::Response(_)) => plan(),
        ("subscribeToApi", Part::Request) => json!({"plan": "bas", "application": "212000-0142"}),
        ("subscribeToApi" | "getApiSubscription", Part::Response(_)) => subscription("pending"),
        ("listApiSubscriptions", Part::Response(_)) => {
            json!({"items": [subscription("active")], "page": 1, "limit": 20, "hasMore": false})
        }
        ("approveApiSubscription", Part::Response(_)) => subscription("active"),
        ("suspendApiSubscription" | "revokeApiSubscription", Part::Request) => {
            json!({"reason": "Calls beyond the agreed purpose"})
        }
        ("suspendApiSubscription", Part::Response(_)) => subscription("suspended"),
        ("revokeApiSubscription", Part::Response(_)) => subscription("revoked"),
        ("getApiUsage", Part::Response(_)) => json!({"days": 30, "items": [{"major": 1, "application": "212000-0142",
            "calls": 1200, "errors": 3, "refused": 14, "deprecated": 0, "lastAt": "2026-12-07T09:00:00Z"}]}),
        ("listApiNotices", Part::Response(_)) => {
            json!({"items": [{"id": "0193f5e2-7a00-7000-8000-000000000002", "apiId": "bestallningar",
            "kind": "deprecated", "version": "1.2.0", "text": "bestallningar 1.2.0 is deprecated and stops answering at 2027-06-30T00:00:00Z; move to 2.0.0.",
            "createdAt": "2026-12-07T09:00:00Z"}], "page": 1, "limit": 20, "hasMore": false})
        }
        ("getGatewayTable", Part::Response(_)) => json!({"apis": [{"id": "bestallningar", "service": "bestallningar",
            "majors": [{"major": 1, "version": "1.2.0", "status": "published", "deprecatedAt": null, "sunsetAt": null,
                        "successorMajor": null, "deprecatedOperations": []}],
            "plans": [{"id": "bas", "ratePerSecond": 10, "burst": 20, "quotaPerDay": 100000, "maxRequestBytes": 1048576}],
            "subscriptions": [{"application": "212000-0142", "plan": "bas", "status": "active"}]}]}),
        ("reportApiUsage", Part::Request) => {
            json!({"boot": "0193f5e2-7a00-7000-8000-000000000000", "rows": [{"apiId": "bestallningar",
            "major": 1, "application": "212000-0142", "day": 20794, "calls": 1200, "errors": 3, "refused": 14, "deprecated": 0, "lastAt": 1796634000}]})
        }
        ("reportApiUsage", Part::Response(_)) => json!({"taken": 1}),
        ("grantLintException", Part::Request) => {
            json!({"rules": ["DOK.15"], "reason": "Examples follow in 1.2.1; the consumers have the document meanwhile"})
        }
        ("grantLintException", Part::Response(_)) => {
            let mut v = version("draft");
            v["lintException"] = json!({"rules": ["DOK.15"], "reason": "Examples follow in 1.2.1; the consumers have the document meanwhile",
                                        "by": "operator-token", "at": 1796634000});
            v
        }
        ("overrideRetirement", Part::Request) => {
            json!({"reason": "The remaining caller has confirmed it moves before the sunset"})
        }
        ("overrideRetirement", Part::Response(_)) => {
            let mut v = version("deprecated");
            v["retireOverride"] = json!({"reason": "The remaining caller has confirmed it moves before the sunset", "by": "operator-token", "at": 1796634000});
            v
        }
        _ => return None,
    };
    Some(value)
}
