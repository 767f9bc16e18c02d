//! Examples for the OpenAPI document, computed where they can be (problems from the error-code registry, plan answers from the shipped plan) and written once per shape otherwise.

use super::*;

pub(super) fn problem_example(code: ErrorCode, path: &str, detail: &str, fields: Vec<ena_core::FieldError>) -> Value {
    let mut problem = Problem::new(code, detail);
    problem.instance = path.to_owned();
    problem.invalid_parameters = fields;
    problem.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736".into();
    serde_json::to_value(problem).unwrap_or(Value::Null)
}

/// The example for a problem response of `status` on `path`.
pub(super) fn problem_for(status: &str, path: &str) -> Value {
    use ena_core::FieldError;
    match status {
        "400" if path.contains("cost-calculations") => problem_example(
            ErrorCode::InvalidBody,
            path,
            "The body does not match the schema at blocks[0].lines[0].costs[0].amount: invalid type: string \"7000\", expected i64.",
            vec![FieldError::missing(
                "blocks[0].lines[0].costs[0].amount",
                "invalid type: string \"7000\", expected i64",
            )],
        ),
        "400" => problem_example(
            ErrorCode::InvalidParameter,
            path,
            "Some query parameters are invalid; see invalid-parameters.",
            vec![FieldError::new("limit", 0, "must be between 1 and 100")],
        ),
        "401" => problem_example(
            ErrorCode::AuthenticationRequired,
            path,
            "This operation is the operator's: log in with e-ID at LoA 3, or send the operator token as `Authorization: Bearer …`: no credentials were sent.",
            vec![],
        ),
        "403" => problem_example(
            ErrorCode::PermissionDenied,
            path,
            "The decision point refuses this operation on api:plan: no policy permits it.",
            vec![],
        ),
        "404" => {
            problem_example(ErrorCode::ResourceNotFound, path, "No building block has id \"mina-ombudd\".", vec![])
        }
        "413" => problem_example(
            ErrorCode::PayloadTooLarge,
            path,
            "The request body is larger than the server accepts.",
            vec![],
        ),
        "415" => problem_example(
            ErrorCode::UnsupportedMediaType,
            path,
            "Send the body as application/json.",
            vec![FieldError::new("Content-Type", "text/plain", "must be application/json")],
        ),
        "503" => problem_example(ErrorCode::ServiceUnavailable, path, "The database does not answer.", vec![]),
        _ => problem_example(
            ErrorCode::Internal,
            path,
            "An unexpected error occurred; the server log has the details under this traceId.",
            vec![],
        ),
    }
}

/// The success example of each operation, from the shipped plan.
pub(super) fn success_example(operation_id: &str) -> Option<Value> {
    let plan = Plan::shipped();
    let value = match operation_id {
        "planApiInfo" => serde_json::to_value(apis::PLAN_API.info()).ok()?,
        "listBlocks" => {
            let views = block_views(&plan);
            json!({ "items": views.iter().take(2).collect::<Vec<_>>(), "page": 1, "limit": 2, "total": views.len() })
        }
        "getBlock" => serde_json::to_value(block_views(&plan).into_iter().find(|b| b.id == "mina-ombud")?).ok()?,
        "getCostSummary" | "calculateCosts" => serde_json::to_value(compute(&plan)).ok()?,
        "getPlan" => serde_json::to_value(&plan).ok()?,
        "replacePlan" => serde_json::to_value(compute(&plan)).ok()?,
        "auditApiInfo" => serde_json::to_value(apis::AUDIT_API.info()).ok()?,
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
        "federationApiInfo" => serde_json::to_value(apis::FEDERATION_API.info()).ok()?,
        "identityApiInfo" => serde_json::to_value(apis::IDENTITY_API.info()).ok()?,
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
        "addressesApiInfo" => serde_json::to_value(apis::ADDRESSES_API.info()).ok()?,
        "listMessageTypes" => json!({ "items": [message_type_example()], "page": 1, "limit": 20, "hasMore": false }),
        "putMessageType" | "getMessageType" => message_type_example(),
        "putAddress" | "getAddress" | "lookUpAddress" | "putPersonAddress" => address_example(),
        "lookupAddresses" => json!({ "items": [address_example()], "page": 1, "limit": 20, "hasMore": false }),
        "addressChanges" => json!({
            "items": [{ "seq": 41, "address": "162120000142:socialtjanst", "change": "updated", "revision": 3, "at": "2026-11-29T10:00:00Z" }],
            "next": 41, "hasMore": false
        }),
        "accessApiInfo" => serde_json::to_value(apis::ACCESS_API.info()).ok()?,
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
        "authzenConfiguration" => json!({
            "policy_decision_point": EXAMPLE_TA,
            "access_evaluation_endpoint": format!("{EXAMPLE_TA}/access/v1/evaluation"),
            "access_evaluations_endpoint": format!("{EXAMPLE_TA}/access/v1/evaluations")
        }),
        "evaluateAccess" => decision_example(true),
        "evaluateAccessBatch" => json!({ "evaluations": [decision_example(true), decision_example(false)] }),
        "listPolicies" => json!({ "items": [policy_example()], "page": 1, "limit": 20, "hasMore": false }),
        "getPolicy" | "putPolicy" => policy_example(),
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
        "healthz" => json!({ "status": "ok" }),
        "readyz" => json!({ "status": "ready", "database": "sqlite" }),
        "openApiDocument" => {
            json!({ "openapi": "3.1.0", "info": { "title": "ena", "version": "0.1.0" }, "paths": {} })
        }
        _ => return None,
    };
    Some(value)
}

pub(super) const EXAMPLE_TA: &str = "https://ena.example";
pub(super) const EXAMPLE_MEMBER: &str = "https://nod.exempelkommun.se";

/// A real token of the kind an operation returns, signed with a throw-away key at start-up.
pub(super) fn jwt_example(operation_id: &str) -> String {
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

pub(super) fn pem_example(operation_id: &str) -> &'static str {
    match operation_id {
        "getCrl" => "-----BEGIN X509 CRL-----\nMIIBNzCB3gIBATAKBggqhkjOPQQDAjAu…\n-----END X509 CRL-----\n",
        _ => "-----BEGIN CERTIFICATE-----\nMIIBlzCCAT2gAwIBAgIU…\n-----END CERTIFICATE-----\n",
    }
}

pub(super) fn application_input_example() -> Value {
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

pub(super) fn mandate_example(status: &str) -> Value {
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

pub(super) fn grant_example() -> Value {
    json!({ "principal": "556677-8899", "agent": "559900-1129", "packages": ["skatt-och-moms"],
            "validTo": "2027-02-27T09:00:00Z", "mayDelegate": true })
}

pub(super) fn decision_example(allowed: bool) -> Value {
    if allowed {
        json!({ "decision": true, "context": { "reasons": [{ "policy": "act-for-a-party", "effect": "permit", "reason": "acting for oneself, or holding the service's package or single-service right for the party" }] } })
    } else {
        json!({ "decision": false, "context": { "reasons": [], "reason_admin": { "403": "no policy permits this request (default deny)" } } })
    }
}

pub(super) fn policy_example() -> Value {
    json!({
        "id": "act-for-a-party", "resource": "service",
        "description": "Anyone for themselves; for another party, whoever holds the service's package or single-service right for it.",
        "text": "@reason(\"acting for oneself, or holding the service's package or single-service right for the party\")\npermit (principal, action in [Ena::Action::\"act\", Ena::Action::\"read\", Ena::Action::\"write\"], resource is Ena::Service)\nwhen { context.self || context.packages.contains(resource.package) || (resource has right && context.packages.contains(resource.right)) };",
        "updatedAt": "2026-11-29T09:00:00Z"
    })
}

pub(super) fn access_request_example() -> Value {
    json!({
        "subject": { "type": "person", "id": "191212121212" },
        "action": { "name": "act" },
        "resource": { "type": "service", "id": "skatteverket/moms", "properties": { "package": "skatt-och-moms" } },
        "context": { "packages": ["skatt-och-moms"], "self": false }
    })
}

pub(super) fn employee_credential_example(revoked: bool) -> Value {
    json!({
        "issuer": EXAMPLE_MEMBER, "id": "anst-2026-0042", "personalNumber": "191212121212",
        "name": "Tolvan Tolvansson", "roles": ["handläggare", "attestant"],
        "issuedAt": 1_795_000_000, "expiresAt": 1_826_536_000,
        "revokedAt": if revoked { json!(1_795_100_000) } else { Value::Null },
        "revocationReason": if revoked { json!("Slutat sin anställning") } else { Value::Null }
    })
}

pub(super) fn application_example(status: &str) -> Value {
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
        "decidedAt": if status == "pending" { Value::Null } else { json!("2026-11-29T09:00:00Z") }
    })
}

pub(super) fn member_example(status: &str) -> Value {
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

pub(super) const CHECKPOINT_EXAMPLE: &str = "localhost/ena/audit\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— localhost/ena/audit Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

pub(super) fn audit_event_example() -> Value {
    json!({
        "time": "2026-11-29T07:00:00Z",
        "actor": { "kind": "system", "id": "operator" },
        "action": "plan.replace",
        "object": { "type": "plan", "id": "plan" },
        "outcome": { "result": "allowed" },
        "correlationId": "4bf92f3577b34da6a3ce929d0e0e4736"
    })
}

/// The `text/plain` example of an operation.
pub(super) fn text_example(operation_id: &str) -> &'static str {
    match operation_id {
        "getCheckpoint" => CHECKPOINT_EXAMPLE,
        "getVerifierKey" => "localhost/ena/audit+2a64d13b+AUh7q2S0m0TJ2uIwd0lNVkmXyvA3dxKX9EkH4A2rOQ9n\n",
        _ => METRICS_EXAMPLE,
    }
}

pub(super) const METRICS_EXAMPLE: &str = "# TYPE http_requests_total counter\n\
http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3\n\
# TYPE db_pool_connections gauge\ndb_pool_connections{state=\"idle\"} 1\n";

pub(super) fn message_type_example() -> Value {
    json!({
        "id": "se.kommun.orosanmalan", "version": "1.0", "title": "Orosanmälan", "owner": "162120000142",
        "schema": { "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["child", "concern"],
            "properties": { "child": { "type": "string", "pattern": "^[0-9]{12}$" }, "concern": { "type": "string" } } },
        "classification": { "confidentiality": 3, "integrity": 2, "availability": 1 },
        "createdAt": "2026-11-29T08:00:00Z"
    })
}

pub(super) fn address_example() -> Value {
    json!({
        "address": "162120000142:socialtjanst", "kind": "function", "identifier": "162120000142", "function": "socialtjanst",
        "organisation": "162120000142", "name": "Exempelkommunen, socialtjänsten", "node": EXAMPLE_MEMBER,
        "capabilities": [{ "messageType": "se.kommun.orosanmalan", "versions": ["1.0"] }],
        "encryptionKeys": [{ "kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "2026-11" }],
        "status": "active", "revision": 3, "updatedAt": "2026-11-29T10:00:00Z"
    })
}

pub(super) fn test_client_example(with_secret: bool) -> Value {
    let mut c = json!({
        "clientId": "skatteverket-eservice-test", "name": "Skatteverket, e-tjänst för deklaration (test)",
        "redirectUris": ["https://test.eservice.skatteverket.se/callback"], "createdAt": "2026-12-01T10:00:00Z"
    });
    if with_secret {
        c["clientSecret"] = json!("q1w2e3r4t5y6u7i8o9p0q1w2e3r4t5y6u7i8o9p0aaa");
    }
    c
}
