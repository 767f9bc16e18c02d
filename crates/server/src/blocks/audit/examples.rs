//! Examples of this block's OpenAPI operations (REST API profile DOK.15), beside its routes: computed
//! from shipped data where there is any, otherwise written once per shape.

use serde_json::{Value, json};

use crate::apis;
use crate::openapi::*;

/// The example of `operation_id`'s request body or of its response in one media type.
pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    if let Part::Response(media) = part {
        if media.starts_with("text/plain") {
            return match operation_id {
                "getCheckpoint" => Some(json!(CHECKPOINT_EXAMPLE)),
                "getVerifierKey" => {
                    Some(json!("localhost/ena/audit+2a64d13b+AUh7q2S0m0TJ2uIwd0lNVkmXyvA3dxKX9EkH4A2rOQ9n\n"))
                }
                _ => None,
            };
        }
    }
    match part {
        Part::Request => request(operation_id),
        Part::Response(_) => response(operation_id),
    }
}

fn response(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "auditApiInfo" => serde_json::to_value(apis::AUDIT_API.info()).ok()?,
        "listMyEvents" => json!({"items": [
            {"time": "2026-12-06T09:14:02Z", "who": "202100-5521", "action": "index.find", "outcome": "allowed"},
            {"time": "2026-12-06T08:15:02Z", "who": "https://brevlada.myndighetspost.example (system)", "action": "mail.message.deliver", "outcome": "allowed"}
        ], "page": 1, "limit": 20, "hasMore": false}),
        "getEntry" => json!({
            "index": 0,
            "leafHash": "HbJXc0Lx6s0q4mAoC6o2sRzrO3lQG/5uMHPE0CWZ6qU=",
            "data": "eyJhY3Rpb24iOiJwbGFuLnJlcGxhY2UiLCJhY3RvciI6eyJpZCI6Im9wZXJhdG9yIiwia2luZCI6InN5c3RlbSJ9LCJvdXRjb21lIjp7InJlc3VsdCI6ImFsbG93ZWQifSwidGltZSI6IjIwMjYtMTEtMjlUMDc6MDA6MDBaIn0=",
            "event": audit_event_example(),
        }),
        "getInclusionProof" => {
            json!({ "index": 3, "treeSize": 8, "proof": ["lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=", "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=", "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="] })
        }
        "getConsistencyProof" => {
            json!({ "from": 4, "to": 8, "proof": ["Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4="] })
        }
        "takeOverNodeEvents" => json!({ "accepted": 1, "repeated": 0, "refused": [] }),
        "appendEvents" => json!({ "firstIndex": 41, "count": 1, "treeSize": 42, "checkpoint": CHECKPOINT_EXAMPLE }),
        "listEvents" | "searchEvents" | "listAlerts" => json!({
            "items": [{ "index": 41, "leafHash": "HbJXc0Lx6s0q4mAoC6o2sRzrO3lQG/5uMHPE0CWZ6qU=", "data": "eyJhY3Rpb24iOiJwbGFuLnJlcGxhY2UifQ==", "event": audit_event_example() }],
            "page": 1, "limit": 20, "hasMore": false
        }),
        "cosignCheckpoint" => json!({
            "cosignature": "— localhost/ena/audit/witness jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n",
            "checkpoint": format!("{CHECKPOINT_EXAMPLE}— localhost/ena/audit/witness jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"),
            "cosignerKey": "localhost/ena/audit/witness+5a3d1f2e+BH8n0eN1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2",
        }),
        _ => return None,
    };
    Some(value)
}

fn request(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "appendEvents" => audit_event_example(),
        "takeOverNodeEvents" => json!({
            "log": "node.skatteverket.example/log",
            "events": [{ "index": 17, "event": {
                "time": "2026-12-07T08:00:00Z",
                "actor": { "kind": "system", "id": "inkomstsystemet", "organisation": "202100-5448" },
                "action": "messages.queued",
                "object": { "type": "message", "id": "0193a9a4-7c1e-7d2a-9b5e-2f1d3c4b5a69" },
                "dataSubjects": ["191212121212"],
                "outcome": { "result": "allowed" },
                "details": { "recipient": "202100-5521", "messageType": "se.forsakringskassan.inkomstuppgift" }
            }}]
        }),
        "searchEvents" => {
            json!({ "correlationId": "4bf92f3577b34da6a3ce929d0e0e4736", "outcome": "denied", "limit": 20, "page": 1 })
        }
        "cosignCheckpoint" => json!({
            "checkpoint": CHECKPOINT_EXAMPLE,
            "verifierKey": "localhost/ena/audit+2a64d13b+AUh7q2S0m0TJ2uIwd0lNVkmXyvA3dxKX9EkH4A2rOQ9n",
            "proof": ["Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4="]
        }),

        _ => return None,
    };
    Some(value)
}

fn audit_event_example() -> Value {
    json!({
        "time": "2026-11-29T07:00:00Z",
        "actor": { "kind": "system", "id": "operator" },
        "action": "plan.replace",
        "object": { "type": "plan", "id": "plan" },
        "outcome": { "result": "allowed" },
        "correlationId": "4bf92f3577b34da6a3ce929d0e0e4736"
    })
}
