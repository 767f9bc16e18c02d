//! The one OpenAPI 3.1 document of every ena API, served at `/openapi.json`.
//!
//! Paths and schemas come from the handlers' `#[utoipa::path]` annotations and the types' `ToSchema`
//! derives, so they cannot drift from the code. What derives cannot know is added here in one pass:
//! the REST API profile's `info` fields (DOK.03, DOK.08, DOK.09, VER.06), a `default` problem response on
//! every operation, and complete examples (DOK.15) computed from the shipped plan, so they are real data.

use ena_core::ErrorCode;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

use crate::apis;
use crate::problem::{PROBLEM_JSON, Problem};

/// Which example an operation's block is asked for: its request body's, or its response's in a media
/// type.
#[derive(Clone, Copy, Debug)]
pub enum Part<'a> {
    Request,
    Response(&'a str),
}

/// Names used by the examples of several blocks.
pub const EXAMPLE_TA: &str = "https://ena.example";
pub const EXAMPLE_MEMBER: &str = "https://nod.exempelkommun.se";
pub const CHECKPOINT_EXAMPLE: &str = "localhost/ena/audit\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— localhost/ena/audit Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

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
        (name = "cases", description = "Mina ärenden: cases organisations keep for persons and companies, and the party view across every party a person acts for"),
        (name = "mail", description = "Mina meddelanden: the recipient registry (FaR), reachability, mailbox operators and the built-in mailbox"),
        (name = "profile", description = "Min profil: contact details verified with codes, preferences, consents with signed receipts and the check producing nodes make"),
        (name = "apis", description = "API-hantering: the REST API profile lint and the breaking-change report"),
        (name = "index", description = "Indexering: where information about an object is kept, registered by its holders, found only by callers allowed the category"),
        (name = "system", description = "Liveness, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// The security schemes: the bootstrap operator token (`Authorization: Bearer <token>`), sessions,
/// member nodes' certificates and identity-bound tokens.
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
        Caller::MemberSystem | Caller::MemberNode | Caller::Registrant | Caller::Member => {
            Some("The decision point does not let this member use the API, or its certificate is not accepted")
        }
        Caller::Person(_) => {
            Some("The session's level of assurance is too low, or the decision point refuses the person")
        }
        Caller::Public | Caller::PublicOrOperator | Caller::Protocol | Caller::OperatorPage | Caller::LocalSystem => {
            None
        }
    };
    if let Some(text) = refused {
        responses.entry("403").or_insert_with(|| problem(text));
    }
}

/// Build the finished document. Cheap enough to build once at start-up and serve from memory.
pub fn document() -> Value {
    let routes = crate::routes();
    let mut api = ApiDoc::openapi();
    // The operations come from the routes themselves (`Routes::api`), block by block.
    let (paths, schemas) = routes.documented();
    api.paths = paths.clone();
    let components = api.components.get_or_insert_with(Default::default);
    for (name, schema) in schemas {
        components.schemas.entry(name.clone()).or_insert_with(|| schema.clone());
    }
    let mut doc = serde_json::to_value(api).unwrap_or(Value::Null);
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
        "x-limitations": "Request bodies are limited in size (413 above the limit) and requests in time (408). The plan is changed by the operator (PUT /plan/v1/plan). Lists page with `limit` and `page` (REST API profile); the Mina ärenden party list (GET /cases/v1/my/cases) also offers a keyset `cursor` (its `nextCursor`, with sort=contentUpdated) for large or synchronising clients, because an offset grows dearer with every page and shifts while cases change — there is no `too broad` refusal, whatever the number of parties.",
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
    for (path, item) in paths.iter_mut() {
        for (method, operation) in item.as_object_mut().into_iter().flatten() {
            let declared =
                routes.declared().iter().find(|d| d.path == *path && d.method.as_str().eq_ignore_ascii_case(method));
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
                    } else {
                        crate::blocks::example(&operation_id, Part::Response(media_type))
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
                    media["example"] = crate::blocks::example(&operation_id, Part::Request).unwrap_or(Value::Null);
                }
            }
        }
    }
    profile_pass(&mut doc, "/docs");
    doc
}

/// What every ena document says the same way, so it passes the REST API profile lint (`ena_apis::lint`):
/// each operation's description (its doc comment; utoipa files a one-paragraph comment as the summary
/// only, DOK.19), the `traceparent` every request may carry and every response returns (SPA.02, SPA.04 —
/// `trace.rs` does both), paging parameters as `ena_core::Page` reads them (page from 1, limit 1–100
/// defaulting to 20: FNS.08, FNS.09), and where the documentation is (DOK.01).
pub fn profile_pass(doc: &mut Value, docs_url: &str) {
    doc["externalDocs"] =
        json!({ "description": "ena's documentation: guides per block, error codes, benchmarks", "url": docs_url });
    let components = &mut doc["components"];
    components["parameters"]["traceparent"] = json!({
        "name": "traceparent", "in": "header", "required": false,
        "description": "W3C trace context; a valid one keeps its trace id, otherwise a new trace starts",
        "schema": { "type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$" },
        "example": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    });
    components["headers"]["traceparent"] = json!({
        "description": "W3C trace context of this request, with this server's span",
        "schema": { "type": "string" }
    });
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (_, item) in paths.iter_mut() {
        for (method, operation) in item.as_object_mut().into_iter().flatten() {
            if !["get", "put", "post", "delete", "patch", "head", "options"].contains(&method.as_str()) {
                continue;
            }
            if operation.get("description").and_then(Value::as_str).is_none_or(|d| d.trim().is_empty()) {
                let summary = operation.get("summary").cloned().unwrap_or_else(|| json!(""));
                operation["description"] = summary;
            }
            let params = operation["parameters"].as_array_mut();
            let params = match params {
                Some(p) => p,
                None => {
                    operation["parameters"] = json!([]);
                    operation["parameters"].as_array_mut().expect("just set")
                }
            };
            for p in params.iter_mut() {
                // The bounds each handler documents in words ("1–100, default 20"), as schema keywords.
                let (lowest, highest, default) = bounds(p["description"].as_str().unwrap_or_default());
                match (p["in"].as_str(), p["name"].as_str()) {
                    (Some("query"), Some("page")) => {
                        p["schema"]["minimum"] = json!(1);
                        p["schema"]["default"] = json!(1);
                    }
                    (Some("query"), Some("limit")) => {
                        for (key, value) in [("minimum", lowest), ("maximum", highest), ("default", default)] {
                            if let Some(v) = value {
                                p["schema"][key] = json!(v);
                            }
                        }
                    }
                    _ => {}
                }
            }
            let declared = params.iter().any(|p| {
                p["$ref"] == "#/components/parameters/traceparent"
                    || (p["in"] == "header"
                        && p["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("traceparent")))
            });
            if !declared {
                params.push(json!({ "$ref": "#/components/parameters/traceparent" }));
            }
            for (_, response) in operation["responses"].as_object_mut().into_iter().flatten() {
                response["headers"]["traceparent"] = json!({ "$ref": "#/components/headers/traceparent" });
            }
        }
    }
}

/// `(lowest, highest, default)` from a parameter's description in ena's words: "1–100, default 20".
fn bounds(description: &str) -> (Option<u64>, Option<u64>, Option<u64>) {
    let number = |s: &str| s.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u64>().ok();
    let last_number = |s: &str| {
        let digits: String = s.chars().rev().take_while(char::is_ascii_digit).collect();
        digits.chars().rev().collect::<String>().parse::<u64>().ok()
    };
    let range =
        description.split_once(['–', '-']).and_then(|(a, b)| Some((last_number(a.trim_end())?, number(b.trim())?)));
    let default = description.split_once("default ").and_then(|(_, d)| number(d));
    (range.map(|r| r.0), range.map(|r| r.1), default)
}

/// An example value made from `schema` (in `doc`): the schema's own example, default, const or first enum
/// value where it has one, otherwise a value of its type and format, with every property of an object —
/// for operations whose block writes no example by hand (the node's document). It follows the schema's
/// types, formats, enums and examples, not its patterns or length bounds, so it shows the shape and is
/// as complete as the schema is.
pub fn example_from_schema(doc: &Value, schema: &Value, depth: usize) -> Value {
    let s = ena_apis::document::deref(doc, schema);
    if depth > 8 {
        return Value::Null;
    }
    for key in ["example", "default", "const"] {
        if let Some(v) = s.get(key) {
            return v.clone();
        }
    }
    for key in ["examples", "enum"] {
        if let Some(v) = s.get(key).and_then(Value::as_array).and_then(|a| a.first()) {
            return v.clone();
        }
    }
    if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
        let mut out = serde_json::Map::new();
        for part in parts {
            if let Value::Object(m) = example_from_schema(doc, part, depth + 1) {
                out.extend(m);
            }
        }
        return Value::Object(out);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = s
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|v| ena_apis::document::deref(doc, v).get("type") != Some(&json!("null"))))
        {
            return example_from_schema(doc, first, depth + 1);
        }
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if s.get("properties").is_some() => "object",
        _ => "",
    };
    match ty {
        "object" => Value::Object(
            s.get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), example_from_schema(doc, v, depth + 1)))
                .collect(),
        ),
        "array" => json!([example_from_schema(doc, s.get("items").unwrap_or(&Value::Null), depth + 1)]),
        "string" => json!(match s.get("format").and_then(Value::as_str) {
            Some("date-time") => "2026-12-07T08:00:00Z",
            Some("date") => "2026-12-07",
            Some("uuid") => "0193a9a4-7c1e-7d2a-9b5e-2f1d3c4b5a69",
            Some("email") => "registrator@example.se",
            Some("uri" | "url") => "https://example.se",
            Some("binary" | "byte") => "",
            _ => "text",
        }),
        "integer" | "number" => json!(s.get("minimum").and_then(Value::as_i64).unwrap_or(1).max(0)),
        "boolean" => json!(true),
        _ => Value::Null,
    }
}

/// Give every JSON request body and response of `doc` that has no example one made from its schema.
pub fn fill_examples(doc: &mut Value) {
    let snapshot = doc.clone();
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (_, item) in paths.iter_mut() {
        for (_, operation) in item.as_object_mut().into_iter().flatten() {
            let Some(operation) = operation.as_object_mut() else { continue };
            let mut contents: Vec<&mut Value> = Vec::new();
            for (key, part) in operation.iter_mut() {
                match key.as_str() {
                    "requestBody" => contents.extend(part.get_mut("content")),
                    "responses" => {
                        for (_, response) in part.as_object_mut().into_iter().flatten() {
                            contents.extend(response.get_mut("content"));
                        }
                    }
                    _ => {}
                }
            }
            for content in contents {
                for (media, m) in content.as_object_mut().into_iter().flatten() {
                    let json = media == "application/json" || media.ends_with("+json");
                    if json && media != PROBLEM_JSON && m.get("example").is_none() && m.get("examples").is_none() {
                        m["example"] = example_from_schema(&snapshot, m.get("schema").unwrap_or(&Value::Null), 0);
                    }
                }
            }
        }
    }
}

/// A problem example computed from the error-code registry.
fn problem_example(code: ErrorCode, path: &str, detail: &str, fields: Vec<ena_core::FieldError>) -> Value {
    let mut problem = Problem::new(code, detail);
    problem.instance = path.to_owned();
    problem.invalid_parameters = fields;
    problem.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736".into();
    serde_json::to_value(problem).unwrap_or(Value::Null)
}

/// The example for a problem response of `status` on `path`.
fn problem_for(status: &str, path: &str) -> Value {
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
        "429" => problem_example(
            ErrorCode::TooManyRequests,
            path,
            "This code has expired or has been tried too many times; ask for a new one.",
            vec![],
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
                    .find(|d| d.path == *path && d.method.as_str().eq_ignore_ascii_case(method))
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
            if d.method == axum::http::Method::HEAD || !crate::problem::is_api_path(&d.path) || d.path == "/metrics" {
                continue;
            }
            let method = d.method.as_str().to_ascii_lowercase();
            assert!(
                doc["paths"][&d.path][&method].is_object(),
                "{} {} is a route but not documented",
                d.method,
                d.path
            );
        }
        assert!(documented > 90, "only {documented} operations; is the walk wrong?");
    }

    /// DOK.15 and DOK.20: every operation has examples for its body and every response, and every
    /// response code is described.
    /// Two types with the same name would share one component (the first wins, silently): every schema
    /// name the routes collect is one schema.
    #[test]
    fn schema_names_are_unique() {
        let routes = crate::routes();
        let (_, schemas) = routes.documented();
        let mut seen: std::collections::HashMap<&str, Value> = std::collections::HashMap::new();
        let mut twice = std::collections::BTreeSet::new();
        for (name, schema) in schemas {
            let value = serde_json::to_value(schema).unwrap();
            if seen.insert(name, value.clone()).is_some_and(|before| before != value) {
                twice.insert(name.as_str());
            }
        }
        assert!(twice.is_empty(), "names given to two different schemas: {twice:?}");
    }

    /// OpenAPI requires each operationId once in a document (openapi-spec-validator refuses it otherwise);
    /// two blocks may each want `listSubscriptions`.
    #[test]
    fn operation_ids_are_unique() {
        let doc = document();
        let mut seen = std::collections::BTreeMap::new();
        let mut twice = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if let Some(id) = op["operationId"].as_str()
                    && let Some(before) = seen.insert(id.to_owned(), format!("{method} {path}"))
                {
                    twice.push(format!("{id}: {before} and {method} {path}"));
                }
            }
        }
        assert!(twice.is_empty(), "operationIds used twice: {twice:?}");
    }

    /// ena's own document passes the REST API profile lint with no error (warnings are listed in
    /// docs/apis.md with why they stand).
    #[test]
    fn the_document_passes_the_rest_api_profile_lint() {
        let errors = ena_apis::lint(&document()).error_lines();
        assert!(errors.is_empty(), "{} errors:\n{}", errors.len(), errors.join("\n"));
    }

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
