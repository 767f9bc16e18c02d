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
        "addressesApiInfo" => serde_json::to_value(apis::ADDRESSES_API.info()).ok()?,
        "listMessageTypes" => json!({ "items": [message_type_example()], "page": 1, "limit": 20, "hasMore": false }),
        "putMessageType" | "getMessageType" => message_type_example(),
        "putAddress" | "getAddress" | "lookUpAddress" | "putPersonAddress" => address_example(),
        "lookupAddresses" => json!({ "items": [address_example()], "page": 1, "limit": 20, "hasMore": false }),
        "addressChanges" => json!({
            "items": [{ "seq": 41, "address": "162120000142:socialtjanst", "change": "updated", "revision": 3, "at": "2026-11-29T10:00:00Z" }],
            "next": 41, "hasMore": false
        }),
        _ => return None,
    };
    Some(value)
}

fn request(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "putMessageType" => {
            let mut t = message_type_example();
            t.as_object_mut().map(|o| {
                for k in ["id", "version", "owner", "createdAt"] {
                    o.remove(k);
                }
            });
            t
        }
        "putAddress" => json!({
            "kind": "function", "name": "Exempelkommunen, socialtjänsten", "node": EXAMPLE_MEMBER,
            "capabilities": [{ "messageType": "se.kommun.orosanmalan", "versions": ["1.0"] }],
            "encryptionKeys": [{ "kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "2026-11" }]
        }),
        "lookUpAddress" => json!({ "address": "162120000142:socialtjanst" }),
        "putPersonAddress" => json!({
            "personalNumber": "191212121212",
            "address": { "kind": "person", "name": "Tolvan Tolvansson", "node": EXAMPLE_MEMBER,
                "encryptionKeys": [{ "kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "2026-11" }] }
        }),
        "removePersonAddress" => json!({ "personalNumber": "191212121212" }),
        _ => return None,
    };
    Some(value)
}

fn message_type_example() -> Value {
    json!({
        "id": "se.kommun.orosanmalan", "version": "1.0", "title": "Orosanmälan", "owner": "162120000142",
        "schema": { "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["child", "concern"],
            "properties": { "child": { "type": "string", "pattern": "^[0-9]{12}$" }, "concern": { "type": "string" } } },
        "classification": { "confidentiality": 3, "integrity": 2, "availability": 1 },
        "createdAt": "2026-11-29T08:00:00Z"
    })
}

fn address_example() -> Value {
    json!({
        "address": "162120000142:socialtjanst", "kind": "function", "identifier": "162120000142", "function": "socialtjanst",
        "organisation": "162120000142", "name": "Exempelkommunen, socialtjänsten", "node": EXAMPLE_MEMBER,
        "capabilities": [{ "messageType": "se.kommun.orosanmalan", "versions": ["1.0"] }],
        "encryptionKeys": [{ "kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "2026-11" }],
        "status": "active", "revision": 3, "updatedAt": "2026-11-29T10:00:00Z"
    })
}
