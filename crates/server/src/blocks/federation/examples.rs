//! Examples of this block's OpenAPI operations (REST API profile DOK.15), beside its routes: computed
//! from shipped data where there is any, otherwise written once per shape.

use serde_json::{Value, json};

use crate::apis;
use crate::openapi::*;

/// The example of `operation_id`'s request body or of its response in one media type.
pub fn example(operation_id: &str, part: Part) -> Option<Value> {
    if let Part::Response(media) = part {
        if media.ends_with("+jwt") {
            return Some(json!(jwt_example(operation_id)));
        }
        if media == "application/x-pem-file" {
            return Some(json!(pem_example(operation_id)));
        }
    }
    match part {
        Part::Request => request(operation_id),
        Part::Response(_) => response(operation_id),
    }
}

fn response(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "federationApiInfo" => serde_json::to_value(apis::FEDERATION_API.info()).ok()?,
        "whoAmI" => json!({
            "entityId": EXAMPLE_MEMBER,
            "organisationNumber": "162120000142",
            "name": "Exempelkommunen",
            "certificateSha256": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        }),
        "listEntities" => json!(["https://nod.exempelkommun.se", "https://nod.exempelmyndighet.se"]),
        "getAgreement" => json!({
            "version": 1,
            "title": ena_federation::anchor::DEFAULT_AGREEMENT_TITLE,
            "body": ena_federation::anchor::DEFAULT_AGREEMENT,
            "publishedAt": "2026-11-29T08:00:00Z"
        }),
        "applyForMembership" | "getApplication" | "approveApplication" | "rejectApplication" => {
            let status = match operation_id {
                "approveApplication" => "approved",
                "rejectApplication" => "rejected",
                _ => "pending",
            };
            application_example(status)
        }
        "listApplications" => {
            json!({ "items": [application_example("pending")], "page": 1, "limit": 20, "hasMore": false })
        }
        "listMembers" => json!({ "items": [member_example("active")], "page": 1, "limit": 20, "hasMore": false }),
        "getOwnMembership" => member_example("active"),
        "suspendMember" => member_example("suspended"),
        "revokeMember" => member_example("revoked"),
        "entityHistory" => json!({
            "items": [{
                "kind": "subordinate-statement",
                "token": jwt_example("fetchStatement"),
                "sha256": "q0mPq4ZcIyWc6p5mEwJZr4k5r3rU1t0sB2N9oPz3Yx8",
                "issuedAt": 1_795_000_000,
                "expiresAt": 1_795_086_400,
                "revokedAt": null,
                "logIndex": 17
            }],
            "page": 1, "limit": 20, "hasMore": false
        }),
        _ => return None,
    };
    Some(value)
}

fn request(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "applyForMembership" => application_input_example(),
        "rejectApplication" => {
            json!({ "reason": "The organisation number does not match the applicant." })
        }
        "suspendMember" | "revokeMember" => {
            json!({ "entityId": "https://nod.exempelkommun.se", "reason": "Key compromise reported" })
        }
        "trustMarkStatus" => json!({ "trust_mark": jwt_example("getTrustMark") }),
        "putEntityConfiguration" => json!(jwt_example("putEntityConfiguration")),
        _ => return None,
    };
    Some(value)
}

/// A real token of the kind an operation returns, signed with a throw-away key at start-up.
pub(crate) fn jwt_example(operation_id: &str) -> String {
    use ena_federation::anchor::{HISTORICAL_KEYS_TYP, RESOLVE_TYP, STATUS_TYP, TRUST_MARK_TYP};
    use ena_federation::chain::ENTITY_STATEMENT_TYP;
    let Ok(key) = ena_keys::jose::SigningKey::generate() else { return String::new() };
    let (iat, exp) = (1_795_000_000_i64, 1_795_086_400_i64);
    let jwks = json!({ "keys": [key.public_jwk()] });
    let (typ, claims) = match operation_id {
        "getEntityConfiguration" => (
            ENTITY_STATEMENT_TYP,
            json!({
                "iss": EXAMPLE_TA, "sub": EXAMPLE_TA, "iat": iat, "exp": exp, "jwks": jwks,
                "metadata": { "federation_entity": {
                    "federation_fetch_endpoint": format!("{EXAMPLE_TA}/federation/v1/fetch"),
                    "federation_list_endpoint": format!("{EXAMPLE_TA}/federation/v1/list"),
                    "federation_resolve_endpoint": format!("{EXAMPLE_TA}/federation/v1/resolve"),
                    "federation_trust_mark_status_endpoint": format!("{EXAMPLE_TA}/federation/v1/trust-mark-status"),
                    "federation_historical_keys_endpoint": format!("{EXAMPLE_TA}/federation/v1/historical-keys")
                }}
            }),
        ),
        "putEntityConfiguration" => (
            ENTITY_STATEMENT_TYP,
            json!({
                "iss": EXAMPLE_MEMBER, "sub": EXAMPLE_MEMBER, "iat": iat, "exp": exp, "jwks": jwks,
                "metadata": { "ena_node": { "api_endpoint": format!("{EXAMPLE_MEMBER}/node/v1") } }
            }),
        ),
        "fetchStatement" => (
            ENTITY_STATEMENT_TYP,
            json!({
                "iss": EXAMPLE_TA, "sub": EXAMPLE_MEMBER, "iat": iat, "exp": exp, "jwks": jwks,
                "metadata": { "ena_node": { "tls_client_certificate_sha256": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } }
            }),
        ),
        "resolveEntity" => (
            RESOLVE_TYP,
            json!({
                "iss": EXAMPLE_TA, "sub": EXAMPLE_MEMBER, "iat": iat, "exp": exp,
                "metadata": { "ena_node": { "api_endpoint": format!("{EXAMPLE_MEMBER}/node/v1") } },
                "trust_marks": [], "trust_chain": ["…member entity configuration…", "…subordinate statement…", "…anchor entity configuration…"]
            }),
        ),
        "getTrustMark" => (
            TRUST_MARK_TYP,
            json!({
                "iss": EXAMPLE_TA, "sub": EXAMPLE_MEMBER, "iat": iat, "exp": exp,
                "trust_mark_type": format!("{EXAMPLE_TA}/trust-marks/connected-mina-meddelanden")
            }),
        ),
        "trustMarkStatus" => {
            (STATUS_TYP, json!({ "iss": EXAMPLE_TA, "iat": iat, "trust_mark": "…", "status": "active" }))
        }
        _ => (HISTORICAL_KEYS_TYP, json!({ "iss": EXAMPLE_TA, "iat": iat, "keys": [key.public_jwk()] })),
    };
    key.sign(typ, &claims)
}

fn pem_example(operation_id: &str) -> &'static str {
    match operation_id {
        "getCrl" => "-----BEGIN X509 CRL-----\nMIIBNzCB3gIBATAKBggqhkjOPQQDAjAu…\n-----END X509 CRL-----\n",
        _ => "-----BEGIN CERTIFICATE-----\nMIIBlzCCAT2gAwIBAgIU…\n-----END CERTIFICATE-----\n",
    }
}

fn application_input_example() -> Value {
    json!({
        "organisationNumber": "212000-0142",
        "name": "Exempelkommunen",
        "contact": "federation@exempelkommun.se",
        "entityId": EXAMPLE_MEMBER,
        "jwks": { "keys": [{ "kty": "EC", "crv": "P-256", "kid": "Vn0QhS3n3gmH4b8p0Jc0u8b0G3Jw2d5x9qVq1vXnYw8",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] },
        "entityTypes": ["ena_node"],
        "metadata": { "ena_node": { "api_endpoint": format!("{EXAMPLE_MEMBER}/node/v1") } },
        "trustMarks": [format!("{EXAMPLE_TA}/trust-marks/connected-mina-meddelanden")],
        "keyRequest": "-----BEGIN CERTIFICATE REQUEST-----\nMIHxMIGYAgEAMDYxNDAyBgNVBAMMK25vZC5leGVtcGVsa29tbXVuLnNl…\n-----END CERTIFICATE REQUEST-----\n",
        "acceptAgreement": 1
    })
}

fn application_example(status: &str) -> Value {
    json!({
        "id": "019ad0f4-6b1e-7c3a-9f1e-2d4b5c6a7e8f",
        "entityId": EXAMPLE_MEMBER,
        "organisationNumber": "162120000142",
        "name": "Exempelkommunen",
        "contact": "federation@exempelkommun.se",
        "entityTypes": ["ena_node"],
        "trustMarks": [format!("{EXAMPLE_TA}/trust-marks/connected-mina-meddelanden")],
        "status": status,
        "reason": if status == "rejected" { json!("The organisation number does not match the applicant.") } else { Value::Null },
        "agreementVersion": 1,
        "createdAt": "2026-11-29T08:00:00Z",
        "decidedAt": if status == "pending" { Value::Null } else { json!("2026-11-29T09:00:00Z") },
        "decidedBy": if status == "pending" { Value::Null } else { json!("operator-token") }
    })
}

fn member_example(status: &str) -> Value {
    json!({
        "entityId": EXAMPLE_MEMBER,
        "organisationNumber": "162120000142",
        "name": "Exempelkommunen",
        "entityTypes": ["ena_node"],
        "status": status,
        "agreementVersion": 1,
        "updatedAt": "2026-11-29T09:00:00Z",
        "certificate": if status == "active" { json!(pem_example("caCertificate")) } else { Value::Null }
    })
}
