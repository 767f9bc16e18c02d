//! The one OpenAPI 3.1 document of every ena API, served at `/openapi.json`.
//!
//! Paths and schemas come from the handlers' `#[utoipa::path]` annotations and the types' `ToSchema`
//! derives, so they cannot drift from the code. What derives cannot know is added here in one pass:
//! the REST API profile's `info` fields (DOK.03, DOK.08, DOK.09, VER.06), a `default` problem response on
//! every operation, and complete examples (DOK.15) computed from the shipped plan, so they are real data.

use ena_core::ErrorCode;
use ena_plan::{Plan, block_views, compute};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

use crate::apis;
use crate::problem::{PROBLEM_JSON, Problem};

mod examples;

use examples::*;

/// RFC 9457 problem details with ena's extensions.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
#[serde(rename_all = "camelCase")]
pub struct ProblemSchema {
    /// URI reference documenting the error code.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request path the problem occurred on.
    pub instance: String,
    /// Stable code from ena's error-code registry.
    pub code: String,
    /// Each bad input field.
    #[serde(rename = "invalid-parameters")]
    pub invalid_parameters: Option<Vec<InvalidParameter>>,
    /// The W3C trace id of the request, for support.
    pub trace_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvalidParameter {
    /// Path of the field or parameter, e.g. `blocks[0].lines[1].costs[0].amount` or `limit`.
    pub property: String,
    /// The value received, when there was one.
    pub value: Option<String>,
    pub reason: String,
}

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::routes::plan::api_info,
        crate::routes::plan::list_blocks,
        crate::routes::plan::get_block,
        crate::routes::plan::cost_summary,
        crate::routes::plan::calculate,
        crate::routes::plan::get_plan,
        crate::routes::plan::replace_plan,
        crate::routes::audit::api_info,
        crate::routes::audit::checkpoint,
        crate::routes::audit::verifier_key,
        crate::routes::audit::entry,
        crate::routes::audit::inclusion,
        crate::routes::audit::consistency,
        crate::routes::audit::append,
        crate::routes::audit::list_events,
        crate::routes::audit::search_events,
        crate::routes::audit::alerts,
        crate::routes::audit::cosign,
        crate::routes::federation::api_info,
        crate::routes::federation::entity_configuration,
        crate::routes::federation::fetch,
        crate::routes::federation::list,
        crate::routes::federation::resolve,
        crate::routes::federation::trust_mark,
        crate::routes::federation::trust_mark_status,
        crate::routes::federation::historical_keys,
        crate::routes::federation::ca_certificate,
        crate::routes::federation::crl,
        crate::routes::federation::agreement,
        crate::routes::federation::apply,
        crate::routes::federation::list_applications,
        crate::routes::federation::get_application,
        crate::routes::federation::approve,
        crate::routes::federation::reject,
        crate::routes::federation::list_members,
        crate::routes::federation::suspend,
        crate::routes::federation::revoke,
        crate::routes::federation::update_configuration,
        crate::routes::federation::history,
        crate::routes::federation::whoami,
        crate::routes::signatures::api_info,
        crate::routes::signatures::sign,
        crate::routes::signatures::verify,
        crate::routes::signatures::jwks,
        crate::routes::testeid::api_info,
        crate::routes::testeid::discovery,
        crate::routes::testeid::jwks,
        crate::routes::testeid::token,
        crate::routes::testeid::userinfo,
        crate::routes::identity::token,
        crate::routes::access::api_info,
        crate::routes::representation::api_info,
        crate::routes::representation::packages,
        crate::routes::representation::check,
        crate::routes::representation::acting_for,
        crate::routes::representation::list,
        crate::routes::representation::one,
        crate::routes::representation::grant,
        crate::routes::representation::may_grant,
        crate::routes::representation::request,
        crate::routes::representation::step,
        crate::routes::representation::notices,
        crate::routes::addresses::api_info,
        crate::routes::addresses::list_types,
        crate::routes::addresses::put_type,
        crate::routes::addresses::get_type,
        crate::routes::addresses::put_address,
        crate::routes::addresses::get_address,
        crate::routes::addresses::lookup_one,
        crate::routes::addresses::put_person_address,
        crate::routes::addresses::remove_person_address,
        crate::routes::addresses::delete_address,
        crate::routes::addresses::lookup,
        crate::routes::addresses::changes,
        crate::routes::access::configuration,
        crate::routes::access::evaluation,
        crate::routes::access::evaluations,
        crate::routes::access::list_policies,
        crate::routes::access::get_policy,
        crate::routes::access::put_policy,
        crate::routes::access::delete_policy,
        crate::routes::identity::jwks,
        crate::routes::identity::metadata,
        crate::routes::identity::subject_token,
        crate::routes::identity::caller,
        crate::routes::identity::register,
        crate::routes::identity::list,
        crate::routes::identity::search,
        crate::routes::testeid::register_client,
        crate::routes::testeid::list_clients,
        crate::routes::testeid::remove_client,
        crate::routes::identity::revoke,
        crate::routes::identity::verify,
        crate::routes::system::healthz,
        crate::routes::system::readyz,
        crate::routes::system::metrics,
        crate::routes::docs::openapi_json,
    ),
    components(schemas(ProblemSchema, InvalidParameter)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "plan", description = "Plan and portfolio: building blocks and the cost model (seed chapters 2–4)"),
        (name = "audit", description = "Spårbarhet: the transparency log"),
        (name = "federation", description = "Tillitsramverk: the OpenID Federation trust anchor and onboarding"),
        (name = "signatures", description = "E-underskrift: signing and verifying document digests"),
        (name = "identity", description = "Identitet: API tokens for member systems, employee credentials, the built-in test eID provider (TEST ONLY); portal login is at /login"),
        (name = "access", description = "Auktorisation: the decision point (AuthZEN) and its policies"),
        (name = "representation", description = "Mina ombud: who may represent whom"),
        (name = "addresses", description = "Adressregister: digital addresses, the message types they accept, their encryption keys, and the change feed"),
        (name = "system", description = "Liveness, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// The operator token (until the identity block): `Authorization: Bearer <token>`.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operatorToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The operator token from `ena admin token --data-dir DIR`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "accessToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from POST /identity/v1/token (certificate-bound ones only over the node listener with the same certificate)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "nodeCertificate",
            SecurityScheme::MutualTls {
                description: Some("A member node's federation TLS certificate, on the node listener".into()),
                deprecated: None,
                extensions: None,
            },
        );
    }
}

/// An operation's `security`, and its 401 and 403 answers unless it documents its own, from its caller.
fn declare_caller(operation: &mut Value, caller: crate::callers::Caller) {
    use crate::callers::Caller;
    let security = caller.security();
    if security.as_array().is_some_and(|s| !s.is_empty()) {
        operation["security"] = security;
    }
    let problem = |description: &str| json!({"description": description, "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }});
    let Some(responses) = operation["responses"].as_object_mut() else {
        return;
    };
    if let Some(text) = caller.unauthenticated() {
        responses.entry("401").or_insert_with(|| problem(text));
    }
    let refused = match caller {
        Caller::Operator => {
            Some("The decision point does not let this person operate the API; the attempt is recorded")
        }
        Caller::MemberSystem | Caller::MemberNode | Caller::Registrant => {
            Some("The decision point does not let this member use the API, or its certificate is not accepted")
        }
        Caller::Person(_) => {
            Some("The session's level of assurance is too low, or the decision point refuses the person")
        }
        Caller::Public | Caller::PublicOrOperator | Caller::Protocol | Caller::OperatorPage => None,
    };
    if let Some(text) = refused {
        responses.entry("403").or_insert_with(|| problem(text));
    }
}

/// Build the finished document. Cheap enough to build once at start-up and serve from memory.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": "ena",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Alla API:er i ena, en öppen implementation av den förvaltningsgemensamma digitala infrastrukturen för informationsutbyte. / Every API of ena, an open implementation of Sweden's shared public-sector infrastructure for information exchange. Errors are RFC 9457 problem details with a stable `code` (see /docs#errors); every request may carry a W3C `traceparent`, and every response returns one.",
        "contact": { "name": "ena maintainers", "url": "https://ena.example/support", "email": "support@ena.example" },
        "license": { "name": "EUPL-1.2 OR MIT", "url": "https://interoperable-europe.ec.europa.eu/collection/eupl/eupl-text-eupl-12" },
        "x-api-released": apis::PLAN_API.released,
        "x-api-status": "active",
        "x-sla": {
            "availability": "99.5 % per calendar month (target for a production deployment; a local `ena serve` promises nothing)",
            "responseTime": "95 % of requests answered within 200 ms at the server",
            "support": "Weekdays 08:00–17:00 CET via the contact address"
        },
        "x-limitations": "Request bodies are limited in size (413 above the limit) and requests in time (408). Plan updates by the federation operator arrive with the identity block; until then the stored plan changes only through the data file.",
    });
    doc["servers"] = json!([{ "url": "/", "description": "This ena server" }]);
    // One document covers every API; each API's own VER.06 fields sit on its tag, and its api-info
    // resource answers with the same values.
    if let Some(tags) = doc["tags"].as_array_mut() {
        for tag in tags.iter_mut() {
            if let Some(api) = apis::ALL.iter().find(|a| tag["name"] == a.id) {
                tag["x-api-name"] = json!(api.name);
                tag["x-api-version"] = json!(api.version);
                tag["x-api-released"] = json!(api.released);
                tag["x-api-status"] = json!(api.status);
                tag["description"] = json!(format!("{} / {}", api.description_sv, api.description_en));
            }
        }
    }

    let Some(paths) = doc["paths"].as_object_mut() else {
        return doc;
    };
    // Who may call each operation comes from the routes' declarations: its security and its 401/403.
    let routes = crate::routes();
    for (path, item) in paths.iter_mut() {
        for (method, operation) in item.as_object_mut().into_iter().flatten() {
            let declared =
                routes.declared().iter().find(|d| d.path == path && d.method.as_str().eq_ignore_ascii_case(method));
            if let Some(d) = declared {
                declare_caller(operation, d.caller);
            }
        }
    }
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (_method, operation) in item.iter_mut() {
            let operation_id = operation["operationId"].as_str().unwrap_or_default().to_owned();
            let Some(responses) = operation["responses"].as_object_mut() else {
                continue;
            };
            responses.insert(
                "default".into(),
                json!({
                    "description": "Any other error (for example 405 wrong method, 408 timeout, 413 body too large, 500, 503): a problem+json body",
                    "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
                }),
            );
            for (status, response) in responses.iter_mut() {
                let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
                    continue;
                };
                for (media_type, media) in content.iter_mut() {
                    let example = if media_type == PROBLEM_JSON {
                        Some(problem_for(status, path))
                    } else if media_type.ends_with("+jwt") {
                        Some(json!(jwt_example(&operation_id)))
                    } else if media_type == "application/x-pem-file" {
                        Some(json!(pem_example(&operation_id)))
                    } else if media_type.starts_with("text/plain") {
                        Some(json!(text_example(&operation_id)))
                    } else {
                        success_example(&operation_id)
                    };
                    if let Some(example) = example {
                        media["example"] = example;
                    }
                }
            }
            if let Some(body) =
                operation.get_mut("requestBody").and_then(|b| b.get_mut("content")).and_then(Value::as_object_mut)
            {
                for (_, media) in body.iter_mut() {
                    media["example"] = match operation_id.as_str() {
                        "calculateCosts" | "replacePlan" => {
                            serde_json::to_value(Plan::shipped()).unwrap_or(Value::Null)
                        }
                        "appendEvents" => audit_event_example(),
                        "applyForMembership" => application_input_example(),
                        "rejectApplication" => {
                            json!({ "reason": "The organisation number does not match the applicant." })
                        }
                        "suspendMember" | "revokeMember" => {
                            json!({ "entityId": "https://nod.exempelkommun.se", "reason": "Key compromise reported" })
                        }
                        "trustMarkStatus" => json!({ "trust_mark": jwt_example("getTrustMark") }),
                        "putEntityConfiguration" => json!(jwt_example("putEntityConfiguration")),
                        "signDocument" => json!({ "sha256": "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg" }),
                        "verifySignature" => json!({
                            "sha256": "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg",
                            "signature": "eyJhbGciOiJFUzI1NiIsImtpZCI6IlZuMFFoUzNuM2dtSDRiOHAwSmMwdThiMEczSncyZDV4OXFWcTF2WG5ZdzgiLCJ0eXAiOiJKT1NFIn0..MEUCIQ"
                        }),
                        "issueToken" => json!({
                            "grant_type": "client_credentials",
                            "audience": EXAMPLE_TA,
                            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                            "client_assertion": "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiJ9.eyJpc3MiOiJodHRwczovL25vZC5leGVtcGVsa29tbXVuLnNlIn0.MEUCIQ"
                        }),
                        "createSubjectToken" => json!({ "actor": EXAMPLE_MEMBER, "represents": "556677-8899" }),
                        "evaluateAccess" => access_request_example(),
                        "checkRepresentation" => {
                            json!({ "agent": "200107044562", "principal": "556677-8899", "service": "skatteverket/moms" })
                        }
                        "grantMandate" | "checkGrant" | "requestMandate" => grant_example(),
                        "mandateStep" => json!({}),
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
                        "registerTestEidClient" => json!({
                            "clientId": "skatteverket-eservice-test", "name": "Skatteverket, e-tjänst för deklaration (test)",
                            "redirectUris": ["https://test.eservice.skatteverket.se/callback"]
                        }),
                        "putPersonAddress" => json!({
                            "personalNumber": "191212121212",
                            "address": { "kind": "person", "name": "Tolvan Tolvansson", "node": EXAMPLE_MEMBER,
                                "encryptionKeys": [{ "kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "2026-11" }] }
                        }),
                        "removePersonAddress" => json!({ "personalNumber": "191212121212" }),
                        "searchEmployeeCredentials" => {
                            json!({ "personalNumber": "191212121212", "limit": 20, "page": 1 })
                        }
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
                        "searchEvents" => {
                            json!({ "correlationId": "4bf92f3577b34da6a3ce929d0e0e4736", "outcome": "denied", "limit": 20, "page": 1 })
                        }
                        "cosignCheckpoint" => json!({
                            "checkpoint": CHECKPOINT_EXAMPLE,
                            "verifierKey": "localhost/ena/audit+2a64d13b+AUh7q2S0m0TJ2uIwd0lNVkmXyvA3dxKX9EkH4A2rOQ9n",
                            "proof": ["Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4="]
                        }),
                        _ => Value::Null,
                    };
                }
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every documented operation is a declared route, every declared API route is documented, and each
    /// operation's security and 401/403 are its declared caller's.
    #[test]
    fn operations_and_declared_routes_are_the_same_and_agree_on_the_caller() {
        use crate::callers::Caller;
        let doc = document();
        let routes = crate::routes();
        let mut documented = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                documented += 1;
                let d = routes
                    .declared()
                    .iter()
                    .find(|d| d.path == path && d.method.as_str().eq_ignore_ascii_case(method))
                    .unwrap_or_else(|| panic!("{method} {path} is documented but not a declared route"));
                let security = op.get("security").cloned().unwrap_or(json!([]));
                assert_eq!(security, d.caller.security(), "{method} {path}: security is the declared caller's");
                let needs_login = d.caller.unauthenticated().is_some();
                if needs_login {
                    assert!(
                        op["responses"].get("401").is_some(),
                        "{method} {path}: a caller that must log in has a 401"
                    );
                    assert!(
                        op["responses"].get("403").is_some(),
                        "{method} {path}: a caller that can be refused has a 403"
                    );
                }
                if d.caller == Caller::Public {
                    assert!(op["responses"].get("401").is_none(), "{method} {path}: a public operation has no 401");
                }
            }
        }
        for d in routes.declared() {
            if d.method == axum::http::Method::HEAD || !crate::problem::is_api_path(d.path) || d.path == "/metrics" {
                continue;
            }
            let method = d.method.as_str().to_ascii_lowercase();
            assert!(doc["paths"][d.path][&method].is_object(), "{} {} is a route but not documented", d.method, d.path);
        }
        assert!(documented > 90, "only {documented} operations; is the walk wrong?");
    }

    /// DOK.15 and DOK.20: every operation has examples for its body and every response, and every
    /// response code is described.
    #[test]
    fn every_operation_is_documented_with_examples() {
        let doc = document();
        for key in ["title", "version", "description", "contact", "license", "x-sla", "x-limitations"] {
            assert!(!doc["info"][key].is_null(), "info.{key} missing");
        }
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                let at = format!("{method} {path}");
                assert!(op["operationId"].is_string(), "{at}: operationId");
                assert!(op["summary"].is_string() || op["description"].is_string(), "{at}: summary");
                for (status, response) in op["responses"].as_object().unwrap() {
                    assert!(
                        response["description"].as_str().is_some_and(|d| !d.is_empty()),
                        "{at} {status}: description"
                    );
                    if let Some(content) = response["content"].as_object() {
                        for (media, m) in content {
                            assert!(!m["example"].is_null(), "{at} {status} {media}: example");
                            if status.starts_with('4') || status.starts_with('5') || status == "default" {
                                assert_eq!(media, PROBLEM_JSON, "{at} {status}: errors are problem+json (FEL.02)");
                            }
                        }
                    }
                }
                if let Some(body) = op["requestBody"]["content"].as_object() {
                    for (media, m) in body {
                        assert!(!m["example"].is_null(), "{at} request {media}: example");
                    }
                }
            }
        }
        assert!(operations >= 9, "only {operations} operations documented");
    }

    #[test]
    fn every_api_has_api_info_matching_its_tag() {
        let doc = document();
        for api in apis::ALL {
            let path = format!("/{}/v1/api-info", api.id);
            assert!(doc["paths"][&path]["get"].is_object(), "{path} missing");
            let tag = doc["tags"].as_array().unwrap().iter().find(|t| t["name"] == api.id).unwrap();
            let info = serde_json::to_value(api.info()).unwrap();
            assert_eq!(tag["x-api-name"], info["apiName"]);
            assert_eq!(tag["x-api-version"], info["apiVersion"]);
            assert_eq!(tag["x-api-released"], info["apiReleased"]);
            assert_eq!(tag["x-api-status"], info["apiStatus"]);
        }
    }
}
