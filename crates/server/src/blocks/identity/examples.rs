//! Examples of this block's OpenAPI operations (REST API profile DOK.15), beside its routes: computed
//! from shipped data where there is any, otherwise written once per shape.

use serde_json::{Value, json};

use crate::apis;
use crate::blocks::federation::jwt_example;
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
        "identityApiInfo" => serde_json::to_value(apis::IDENTITY_API.info()).ok()?,
        "issueToken" => json!({
            "access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6ImF0K2p3dCJ9.eyJpc3MiOiJodHRwczovL2VuYS5leGFtcGxlL2lkZW50aXR5In0.MEUCIQ",
            "token_type": "Bearer", "expires_in": 300
        }),
        "tokenKeys" => {
            json!({ "keys": [{ "kty": "EC", "crv": "P-256", "kid": "Vn0QhS3n3gmH4b8p0Jc0u8b0G3Jw2d5x9qVq1vXnYw8",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "alg": "ES256", "use": "sig" }] })
        }
        "authorizationServerMetadata" => json!({
            "issuer": format!("{EXAMPLE_TA}/identity"),
            "token_endpoint": format!("{EXAMPLE_TA}/identity/v1/token"),
            "jwks_uri": format!("{EXAMPLE_TA}/identity/v1/jwks"),
            "grant_types_supported": ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
            "token_endpoint_auth_methods_supported": ["tls_client_auth", "private_key_jwt"],
            "tls_client_certificate_bound_access_tokens": true
        }),
        "createSubjectToken" => json!({
            "subjectToken": "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6ImVuYS1zdWJqZWN0K2p3dCJ9.eyJzdWIiOiIxOTEyMTIxMjEyMTIifQ.MEUCIQ",
            "subjectTokenType": "urn:ietf:params:oauth:token-type:jwt", "tokenTyp": "ena-subject+jwt", "expiresAt": 1_795_000_120
        }),
        "getCaller" => json!({
            "client": EXAMPLE_MEMBER, "organisationNumber": "162120000142", "person": "191212121212",
            "personName": "Tolvan Tolvansson", "loa": 3, "represents": null, "audience": EXAMPLE_TA, "scope": null,
            "expiresAt": 1_795_000_300, "certificateBound": true, "tokenId": "q1w2e3r4t5y6u7i8o9p0aa"
        }),
        "registerEmployeeCredential" | "revokeEmployeeCredential" => {
            employee_credential_example(operation_id == "revokeEmployeeCredential")
        }
        "registerTestEidClient" => test_client_example(true),
        "listTestEidClients" => {
            json!({ "items": [test_client_example(false)], "page": 1, "limit": 20, "hasMore": false })
        }
        "listEmployeeCredentials" | "searchEmployeeCredentials" => {
            json!({ "items": [employee_credential_example(false)], "page": 1, "limit": 20, "hasMore": false })
        }
        "verifyEmployeeCredential" => {
            let mut v = employee_credential_example(false);
            v["issuerName"] = json!("Exempelkommunen");
            v["issuerOrganisationNumber"] = json!("162120000142");
            v
        }
        "testEidDiscovery" => json!({
            "issuer": "http://127.0.0.1:8080/test-eid",
            "authorization_endpoint": "http://127.0.0.1:8080/test-eid/authorize",
            "token_endpoint": "http://127.0.0.1:8080/test-eid/token",
            "userinfo_endpoint": "http://127.0.0.1:8080/test-eid/userinfo",
            "jwks_uri": "http://127.0.0.1:8080/test-eid/jwks",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "acr_values_supported": ["http://id.elegnamnden.se/loa/1.0/loa2", "http://id.elegnamnden.se/loa/1.0/loa3", "http://id.elegnamnden.se/loa/1.0/loa4"]
        }),
        "testEidJwks" => {
            json!({ "keys": [{ "kty": "EC", "crv": "P-256", "kid": "Vn0QhS3n3gmH4b8p0Jc0u8b0G3Jw2d5x9qVq1vXnYw8", "alg": "ES256", "use": "sig",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] })
        }
        "testEidToken" => {
            json!({ "access_token": "q0mPq4ZcIyWc6p5mEwJZr4k5r3rU1t0sB2N9oPz3Yx8", "token_type": "Bearer", "expires_in": 300, "id_token": jwt_example("getTrustMark") })
        }
        "testEidUserinfo" => {
            json!({ "sub": "191212121212", "name": "Tolvan Tolvansson", "given_name": "Tolvan", "family_name": "Tolvansson",
            "https://id.oidc.se/claim/personalIdentityNumber": "191212121212" })
        }
        _ => return None,
    };
    Some(value)
}

fn request(operation_id: &str) -> Option<Value> {
    let value = match operation_id {
        "issueToken" => json!({
            "grant_type": "client_credentials",
            "audience": EXAMPLE_TA,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiJ9.eyJpc3MiOiJodHRwczovL25vZC5leGVtcGVsa29tbXVuLnNlIn0.MEUCIQ"
        }),
        "createSubjectToken" => json!({ "actor": EXAMPLE_MEMBER, "represents": "556677-8899" }),
        "registerTestEidClient" => json!({
            "clientId": "skatteverket-eservice-test", "name": "Skatteverket, e-tjänst för deklaration (test)",
            "redirectUris": ["https://test.eservice.skatteverket.se/callback"]
        }),
        "searchEmployeeCredentials" => {
            json!({ "personalNumber": "191212121212", "limit": 20, "page": 1 })
        }
        "registerEmployeeCredential" | "verifyEmployeeCredential" => json!({
            "credential": "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6ImVuYS1lbXBsb3llZStqd3QifQ.eyJpc3MiOiJodHRwczovL25vZC5leGVtcGVsa29tbXVuLnNlIn0.MEUCIQ"
        }),
        "revokeEmployeeCredential" => {
            json!({ "id": "anst-2026-0042", "reason": "Slutat sin anställning" })
        }
        "testEidToken" => json!({
            "grant_type": "authorization_code",
            "code": "Xl2m4kV0pQ8r",
            "redirect_uri": "http://127.0.0.1:8080/login/callback",
            "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "client_id": "ena-portal",
            "client_secret": "…"
        }),
        _ => return None,
    };
    Some(value)
}

fn employee_credential_example(revoked: bool) -> Value {
    json!({
        "issuer": EXAMPLE_MEMBER, "id": "anst-2026-0042", "personalNumber": "191212121212",
        "name": "Tolvan Tolvansson", "roles": ["handläggare", "attestant"],
        "issuedAt": 1_795_000_000, "expiresAt": 1_826_536_000,
        "revokedAt": if revoked { json!(1_795_100_000) } else { Value::Null },
        "revocationReason": if revoked { json!("Slutat sin anställning") } else { Value::Null }
    })
}

fn test_client_example(with_secret: bool) -> Value {
    let mut c = json!({
        "clientId": "skatteverket-eservice-test", "name": "Skatteverket, e-tjänst för deklaration (test)",
        "redirectUris": ["https://test.eservice.skatteverket.se/callback"], "createdAt": "2026-12-01T10:00:00Z"
    });
    if with_secret {
        c["clientSecret"] = json!("q1w2e3r4t5y6u7i8o9p0q1w2e3r4t5y6u7i8o9p0aaa");
    }
    c
}
