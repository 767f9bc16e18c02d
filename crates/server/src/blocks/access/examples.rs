//! Examples of this block's OpenAPI operations (REST API profile DOK.15), beside its routes: computed
//! from shipped data where there is any, otherwise written once per shape.

use serde_json::{Value, json};

use crate::apis;
use crate::openapi::*;

/// The example of `operation_id`'s request body or of its response in one media type.
pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    match part {
        Part::Request => request(operation_id),
        Part::Response(_) => response(operation_id),
    }
}

fn response(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "accessApiInfo" => serde_json::to_value(apis::ACCESS_API.info()).ok()?,
        "authzenConfiguration" => json!({
            "policy_decision_point": EXAMPLE_TA,
            "access_evaluation_endpoint": format!("{EXAMPLE_TA}/access/v1/evaluation"),
            "access_evaluations_endpoint": format!("{EXAMPLE_TA}/access/v1/evaluations")
        }),
        "evaluateAccess" => decision_example(true),
        "evaluateAccessBatch" => json!({ "evaluations": [decision_example(true), decision_example(false)] }),
        "listPolicies" => json!({ "items": [policy_example()], "page": 1, "limit": 20, "hasMore": false }),
        "getPolicy" | "putPolicy" => policy_example(),
        _ => return None,
    };
    Some(value)
}

fn request(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "evaluateAccess" => access_request_example(),
        "evaluateAccessBatch" => {
            let mut b = access_request_example();
            b["evaluations"] = json!([{}, { "context": { "packages": [], "self": false } }]);
            b["options"] = json!({ "evaluations_semantic": "execute_all" });
            b
        }
        "putPolicy" => {
            let mut p = policy_example();
            p.as_object_mut().map(|o| {
                o.remove("id");
                o.remove("updatedAt");
            });
            p
        }
        _ => return None,
    };
    Some(value)
}

fn decision_example(allowed: bool) -> Value {
    if allowed {
        json!({ "decision": true, "context": { "reasons": [{ "policy": "act-for-a-party", "effect": "permit", "reason": "acting for oneself, or holding the service's package or single-service right for the party" }] } })
    } else {
        json!({ "decision": false, "context": { "reasons": [], "reason_admin": { "403": "no policy permits this request (default deny)" } } })
    }
}

fn policy_example() -> Value {
    json!({
        "id": "act-for-a-party", "resource": "service",
        "description": "Anyone for themselves; for another party, whoever holds the service's package or single-service right for it.",
        "text": "@reason(\"acting for oneself, or holding the service's package or single-service right for the party\")\npermit (principal, action in [Ena::Action::\"act\", Ena::Action::\"read\", Ena::Action::\"write\"], resource is Ena::Service)\nwhen { context.self || context.packages.contains(resource.package) || (resource has right && context.packages.contains(resource.right)) };",
        "updatedAt": "2026-11-29T09:00:00Z"
    })
}

fn access_request_example() -> Value {
    json!({
        "subject": { "type": "person", "id": "191212121212" },
        "action": { "name": "act" },
        "resource": { "type": "service", "id": "skatteverket/moms", "properties": { "package": "skatt-och-moms" } },
        "context": { "packages": ["skatt-och-moms"], "self": false }
    })
}
