//! Examples of the index's OpenAPI operations (REST API profile DOK.15).

use serde_json::{Value, json};

use crate::apis;
use crate::openapi::*;

pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    match part {
        Part::Request => request(operation_id),
        Part::Response(_) => response(operation_id),
    }
}

fn engagement() -> Value {
    json!({"objectType": "person", "objectId": "191212121212", "category": "se.skatteverket.inkomst",
           "address": "162021005448:inkomst", "updatedAt": "2026-11-30T12:00:00Z", "source": "beskattningsdatabasen"})
}

fn request(operation_id: &str) -> Option<Value> {
    Some(match operation_id {
        "registerEngagement" => engagement(),
        "registerEngagements" => json!({"items": [
            engagement(),
            {"objectType": "property", "objectId": "STOCKHOLM SÖDERMALM 1:23", "category": "se.skatteverket.taxering",
             "address": "162021005448:fastighet"},
            {"delete": true, "objectType": "person", "objectId": "199001012385", "category": "se.skatteverket.inkomst"}
        ]}),
        "deleteEngagement" => {
            json!({"objectType": "person", "objectId": "191212121212", "category": "se.skatteverket.inkomst"})
        }
        "findEngagements" => json!({"objectType": "person", "objectId": "191212121212"}),
        "subscribeToCategory" => json!({"category": "se.skatteverket.inkomst"}),
        _ => return None,
    })
}

fn subscription() -> Value {
    json!({"id": "0192f0a4-2222-7000-8000-000000000003", "category": "se.skatteverket.inkomst", "createdAt": "2026-12-06T09:00:00Z"})
}

fn response(operation_id: &str) -> Option<Value> {
    Some(match operation_id {
        "indexApiInfo" => serde_json::to_value(apis::INDEX_API.info()).ok()?,
        "listMyEngagements" => json!({"items": [{"category": "se.skatteverket.inkomst", "holder": "162021005448",
            "address": "162021005448:inkomst", "updatedAt": "2026-11-30T12:00:00Z", "source": "beskattningsdatabasen"}],
            "page": 1, "limit": 20, "hasMore": false}),
        "registerEngagement" => json!({"index": 0, "status": "accepted"}),
        "registerEngagements" => json!({"accepted": 2, "refused": 1, "items": [
            {"index": 0, "status": "accepted"},
            {"index": 1, "status": "refused", "errors": [{"property": "items/1/objectId", "value": "STOCKHOLM 1",
             "reason": "a property designation: municipality, district and block:unit, e.g. STOCKHOLM SÖDERMALM 1:23"}]},
            {"index": 2, "status": "accepted"}
        ]}),
        "findEngagements" => json!({"items": [{"category": "se.skatteverket.inkomst", "holder": "162021005448",
            "address": "162021005448:inkomst", "updatedAt": "2026-11-30T12:00:00Z", "source": "beskattningsdatabasen"}]}),
        "subscribeToCategory" => subscription(),
        "listSubscriptions" => json!({"items": [subscription()], "page": 1, "limit": 20, "hasMore": false}),
        "listCategoryChanges" => json!({"items": [
            {"seq": 41, "kind": "registered", "objectType": "person", "objectId": "191212121212", "category": "se.skatteverket.inkomst",
             "holder": "162021005448", "address": "202100-5448:inkomst", "at": "2026-12-06T10:00:00Z"},
            {"seq": 42, "kind": "deleted", "objectType": "person", "objectId": "199001012385", "category": "se.skatteverket.inkomst",
             "holder": "162021005448", "address": "", "at": "2026-12-06T10:02:00Z"}], "next": 42}),
        _ => return None,
    })
}
