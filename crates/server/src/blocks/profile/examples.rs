//! Examples of Min profil's OpenAPI operations (REST API profile DOK.15).

use serde_json::{Value, json};

use crate::apis;
use crate::openapi::*;

pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    match part {
        Part::Request => request(operation_id),
        Part::Response(_) => response(operation_id),
    }
}

const CONSENT_ID: &str = "0192f0a4-7b1c-7c3e-9a41-2f5d8e6b1c20";

fn contact(verified: bool) -> Value {
    let mut c = json!({"id": "0192f0a4-0000-7000-8000-000000000001", "channel": "email",
        "address": "tolvan@example.se", "createdAt": "2026-12-06T10:00:00Z"});
    if verified {
        c["verifiedAt"] = json!("2026-12-06T10:01:12Z");
    }
    c
}

fn consent(status: &str) -> Value {
    let mut c = json!({"id": CONSENT_ID, "recipient": "165560000001", "recipientName": "Exempelbanken AB",
        "holder": "162021005448", "holderName": "Skatteverket", "category": "se.skatteverket.inkomst",
        "purpose": "Bolåneansökan", "givenAt": "2026-12-06T10:05:00Z", "expiresAt": "2027-03-06T10:05:00Z",
        "status": status});
    if status == "withdrawn" {
        c["withdrawnAt"] = json!("2026-12-07T08:00:00Z");
    }
    c
}

fn request(operation_id: &str) -> Option<Value> {
    Some(match operation_id {
        "addMyContact" => json!({"channel": "email", "address": "tolvan@example.se"}),
        "verifyMyContact" => json!({"code": "123456"}),
        "setMyPreferences" => json!({"language": "sv", "channel": "email"}),
        "giveMyConsent" => json!({"recipient": "5560000001", "holder": "2021005448",
            "category": "se.skatteverket.inkomst", "purpose": "Bolåneansökan", "expiresAt": "2027-03-06T10:05:00Z"}),
        "checkConsent" => json!({"consentId": CONSENT_ID, "recipient": "5560000001",
            "category": "se.skatteverket.inkomst", "service": "inkomst"}),
        _ => return None,
    })
}

fn response(operation_id: &str) -> Option<Value> {
    Some(match operation_id {
        "profileApiInfo" => serde_json::to_value(apis::PROFILE_API.info()).ok()?,
        "consentReceiptKeys" => json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "Zb1x3d0h9kq2", "use": "sig",
            "alg": "ES256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}),
        "listMyContacts" => json!({"items": [contact(true)], "page": 1, "limit": 20, "hasMore": false}),
        "addMyContact" => contact(false),
        "verifyMyContact" => contact(true),
        "getMyPreferences" | "setMyPreferences" => json!({"language": "sv", "channel": "email"}),
        "listMyConsents" => json!({"items": [consent("active")], "page": 1, "limit": 20, "hasMore": false}),
        "giveMyConsent" | "getMyConsent" => consent("active"),
        "withdrawMyConsent" => consent("withdrawn"),
        "getMyConsentReceipt" => json!({
            "receipt": "eyJhbGciOiJFUzI1NiIsImtpZCI6IlpiMXgzZDBoOWtxMiIsInR5cCI6ImVuYS1jb25zZW50LXJlY2VpcHQrandzIn0.eyJyZWNvcmRJZCI6Ii4uLiJ9.c2lnbmF0dXJl",
            "claims": {"iss": format!("{EXAMPLE_TA}/profile"), "schema": "ISO/IEC TS 27560:2023", "recordId": CONSENT_ID,
                "receiptId": "0192f0a5-1111-7000-8000-000000000002", "jurisdiction": "SE",
                "principal": {"id": "191212121212", "idType": "personnummer"},
                "controllers": [{"organisationNumber": "162021005448", "name": "Skatteverket", "role": "source"},
                                {"organisationNumber": "165560000001", "name": "Exempelbanken AB", "role": "recipient"}],
                "purposes": [{"purpose": "Bolåneansökan", "lawfulBasis": "consent (GDPR art. 6.1 a)"}],
                "personalDataCategories": ["se.skatteverket.inkomst"],
                "withdrawalMethod": "Mina sidor → Min profil → Samtycken → Återkalla",
                "status": "active", "events": [{"event": "given", "at": "2026-12-06T10:05:00Z"}]}}),
        "checkConsent" => json!({"consentId": CONSENT_ID, "subject": "191212121212", "recipient": "165560000001",
            "holder": "162021005448", "category": "se.skatteverket.inkomst", "purpose": "Bolåneansökan",
            "expiresAt": "2027-03-06T10:05:00Z"}),
        _ => return None,
    })
}
