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
        "representationApiInfo" => serde_json::to_value(apis::REPRESENTATION_API.info()).ok()?,
        "listPackages" => ena_representation::catalog_json(&ena_representation::catalog::Catalog::shipped()),
        "checkRepresentation" => json!({
            "allowed": true, "package": "skatt-och-moms", "at": "2026-11-29T10:00:00Z",
            "basis": [{ "kind": "mandate", "package": "skatt-och-moms", "role": null,
                "chain": ["019ad0f4-6b1e-7c3a-9f1e-2d4b5c6a7e8f", "019ad0f5-1111-7c3a-9f1e-2d4b5c6a7e8f"],
                "text": "mandate 019ad0f4-6b1e-7c3a-9f1e-2d4b5c6a7e8f from 165566778899, passed on to 200107044562 (2 steps) → package skatt-och-moms" }],
            "reasons": [{ "policy": "act-for-a-party", "effect": "permit", "reason": "acting for oneself, or holding the service's package or single-service right for the party" }]
        }),
        "actingFor" => json!([
            { "party": "191212121212", "kind": "person", "name": null, "basis": "self", "packages": ["post-och-arenden", "vard-och-omsorg-anhorig"] },
            { "party": "165566778899", "kind": "organisation", "name": "Tolvans Bygg AB", "basis": "role", "packages": ["skatt-och-moms", "anstallda-och-arbetsgivaravgifter", "bokslut-och-arsredovisning", "bolagsandringar"] }
        ]),
        "listMandates" => json!({ "items": [mandate_example("active")], "page": 1, "limit": 20, "hasMore": false }),
        "getMandate" | "grantMandate" | "mandateStep" => mandate_example("active"),
        "requestMandate" => mandate_example("requested"),
        "checkGrant" => json!({ "allowed": true, "grantor": "165566778899", "requiredApprovals": 1 }),
        "listNotices" => {
            json!([{ "id": "019ad0f6-0000-7c3a-9f1e-2d4b5c6a7e8f", "party": "165599001129", "kind": "granted",
            "mandate": "019ad0f4-6b1e-7c3a-9f1e-2d4b5c6a7e8f", "text": "Fullmakt 019ad0f4-6b1e-7c3a-9f1e-2d4b5c6a7e8f gäller nu / mandate in force",
            "createdAt": "2026-11-29T09:00:00Z" }])
        }
        _ => return None,
    };
    Some(value)
}

fn request(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "checkRepresentation" => {
            json!({ "agent": "200107044562", "principal": "556677-8899", "service": "skatteverket/moms" })
        }
        "grantMandate" | "checkGrant" | "requestMandate" => grant_example(),
        "mandateStep" => json!({}),
        _ => return None,
    };
    Some(value)
}

fn mandate_example(status: &str) -> Value {
    json!({
        "id": "019ad0f4-6b1e-7c3a-9f1e-2d4b5c6a7e8f",
        "principal": "165566778899", "principalName": "Tolvans Bygg AB",
        "agent": "165599001129", "agentName": "Eks Redovisningsbyrå AB",
        "packages": ["skatt-och-moms"], "validFrom": "2026-11-29T09:00:00Z", "validTo": "2027-02-27T09:00:00Z",
        "mayDelegate": true, "parent": null, "grantor": "165566778899", "status": status,
        "requiredApprovals": 1,
        "approvals": if status == "active" { json!([{ "person": "191212121212", "at": "2026-11-29T09:00:00Z" }]) } else { json!([]) },
        "createdBy": "191212121212", "createdAt": "2026-11-29T09:00:00Z",
        "why": ["Tolvans Bygg AB (165566778899) signs Sole: 1 of 1 required signatures given",
                "165566778899 granted 165599001129 the packages skatt-och-moms"]
    })
}

fn grant_example() -> Value {
    json!({ "principal": "556677-8899", "agent": "559900-1129", "packages": ["skatt-och-moms"],
            "validTo": "2027-02-27T09:00:00Z", "mayDelegate": true })
}
