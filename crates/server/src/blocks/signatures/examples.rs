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
        "signaturesApiInfo" => serde_json::to_value(apis::SIGNATURES_API.info()).ok()?,
        "signDocument" => json!({
            "signature": "eyJhbGciOiJFUzI1NiIsImtpZCI6IlZuMFFoUzNuM2dtSDRiOHAwSmMwdThiMEczSncyZDV4OXFWcTF2WG5ZdzgiLCJ0eXAiOiJKT1NFIn0..MEUCIQ",
            "sha256": "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg",
            "logIndex": 42
        }),
        "verifySignature" => json!({
            "personalNumber": "191212121212", "name": "Tolvan Tolvansson", "loa": 3,
            "signedAt": 1_795_000_000, "logIndex": 42, "checkpointSize": 57
        }),
        "signatureKeys" => {
            json!({ "keys": [{ "kty": "EC", "crv": "P-256", "kid": "Vn0QhS3n3gmH4b8p0Jc0u8b0G3Jw2d5x9qVq1vXnYw8", "alg": "ES256", "use": "sig",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] })
        }
        _ => return None,
    };
    Some(value)
}

fn request(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "signDocument" => json!({ "sha256": "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg" }),
        "verifySignature" => json!({
            "sha256": "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg",
            "signature": "eyJhbGciOiJFUzI1NiIsImtpZCI6IlZuMFFoUzNuM2dtSDRiOHAwSmMwdThiMEczSncyZDV4OXFWcTF2WG5ZdzgiLCJ0eXAiOiJKT1NFIn0..MEUCIQ"
        }),
        _ => return None,
    };
    Some(value)
}
