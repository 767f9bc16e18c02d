//! The REST API profile lint: every rule of DIGG's profile (`design/rest-api-profile.md`) that an OpenAPI
//! document can show, with DIGG's rule ids and levels (SKALL → error, BÖR → warning), a JSON-pointer
//! location and a one-line hint. Rules that only a running API can show (TLS versions, that a server
//! really propagates `traceparent`) are left to the gateway and the tests; DIGG's lint tool reads some
//! as declarations (SPA.02, DOK.15), and so do we.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::document::{Operation, deref, deref_at, escape, operations, parameters};

/// SKALL (MUST) is an error, BÖR (SHOULD) a warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = LintLevel)]
pub enum Level {
    Error,
    Warning,
}

/// A rule of the profile as the lint checks it.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub id: &'static str,
    pub level: Level,
    pub title: &'static str,
    pub hint: &'static str,
}

const fn rule(id: &'static str, level: Level, title: &'static str, hint: &'static str) -> Rule {
    Rule { id, level, title, hint }
}

use Level::{Error as E, Warning as W};

/// Every rule the lint checks.
pub const RULES: &[Rule] = &[
    rule(
        "UFN.01",
        W,
        "URLs follow /{api}/v{major}/{resource}/{id}",
        "Start each path (with the server's path) with the API's name and its major version: /orders/v1/orders/{id}.",
    ),
    rule(
        "UFN.02",
        E,
        "Servers are reached over HTTPS on port 443",
        "Give every server URL as https:// without another port (a development server on localhost is exempt).",
    ),
    rule(
        "UFN.05",
        W,
        "URLs are at most 2048 characters",
        "Shorten the path; move long filters into a POST search body.",
    ),
    rule(
        "UFN.07",
        E,
        "Paths use only a–z, 0–9, '-', '.' and '~'",
        "Spell path segments in lowercase ASCII letters, digits and hyphens.",
    ),
    rule(
        "UFN.08",
        E,
        "Words in a path are separated by '-'",
        "Write words as kebab-case: /order-lines, not /orderLines.",
    ),
    rule("UFN.09", E, "No space or '_' in a path", "Replace spaces and underscores with hyphens."),
    rule(
        "RES.06",
        E,
        "Resource names are lowercase letters, digits and hyphens",
        "Name resources in lowercase kebab-case; path parameters are exempt.",
    ),
    rule(
        "RES.02",
        W,
        "No personal identity numbers as parameters",
        "Send identity numbers in a request body (POST search), never as pnr/personnummer/ssn parameters.",
    ),
    rule(
        "VER.05",
        W,
        "Only the major version is in the URL, as v{n}",
        "Use /v2/ in the path; minor and patch versions belong in info.version.",
    ),
    rule(
        "VER.06",
        E,
        "Each API has /api-info with its name, version, release date and status",
        "Add GET {api root}/api-info and info.x-api-released (a date) and info.x-api-status.",
    ),
    rule(
        "FEL.01",
        E,
        "Problems follow RFC 9457",
        "Give problem responses a schema with type, title, status, detail and instance.",
    ),
    rule(
        "FEL.02",
        E,
        "Error responses are application/problem+json",
        "Describe every 4xx, 5xx and default response with content application/problem+json.",
    ),
    rule(
        "FNS.01",
        E,
        "One naming convention for query parameters",
        "Name every query parameter in camelCase or every one in snake_case, not both.",
    ),
    rule("FNS.03", E, "Query parameters start with a letter", "Rename the parameter so that it starts with a letter."),
    rule(
        "FNS.05",
        W,
        "Search parameters are optional",
        "Make query parameters of a GET optional (required: false) and document the default.",
    ),
    rule(
        "FNS.06",
        W,
        "Query parameter names are URL-safe",
        "Use only letters, digits, '-', '.', '_' and '~' in parameter names.",
    ),
    rule("FNS.07", E, "Paging uses limit with page or offset", "Add a limit query parameter beside page/offset."),
    rule("FNS.08", E, "page starts at 1", "Give the page parameter's schema minimum: 1."),
    rule("FNS.09", W, "limit defaults to 20", "Give the limit parameter's schema default: 20."),
    rule(
        "DOT.01",
        E,
        "Dates and times are RFC 3339",
        "Use format date-time with examples like 2026-12-07T08:00:00Z (format date: 2026-12-07).",
    ),
    rule("AME.01", W, "Bodies are JSON", "Offer application/json (or a +json type) for request and response bodies."),
    rule(
        "AME.04",
        E,
        "One naming convention for fields",
        "Name every field in camelCase or every one in snake_case, not both.",
    ),
    rule(
        "AME.07",
        W,
        "Field names are alphanumeric ('_' allowed)",
        "Rename the field using letters, digits and '_' only.",
    ),
    rule("ARQ.01", W, "Text is UTF-8", "Leave out charset or give charset=utf-8."),
    rule("ARQ.05", E, "No payload in headers", "Move structured data from the header into the body."),
    rule(
        "FOR.02",
        E,
        "A GET takes no body",
        "Remove the request body from the GET, or make the operation a POST search.",
    ),
    rule("DOK.01", W, "External documentation is linked", "Add externalDocs with a description and a url."),
    rule(
        "DOK.03",
        E,
        "info has title, version, description, contact and license",
        "Fill info.title, info.version, info.description, info.contact{name,url,email} and info.license{name,url}.",
    ),
    rule(
        "DOK.07",
        W,
        "The description says what the API is for",
        "Write a few sentences in info.description: what the API offers and for whom.",
    ),
    rule(
        "DOK.08",
        E,
        "The service level is documented",
        "Add info.x-sla{availability,responseTime,support}, info.termsOfService, or externalDocs about the SLA.",
    ),
    rule(
        "DOK.09",
        E,
        "Known limitations are documented",
        "Add info.x-limitations (say 'none known' when there are none).",
    ),
    rule("DOK.11", E, "info.description is not blank", "Describe the API in info.description."),
    rule(
        "DOK.15",
        E,
        "Requests and responses have complete examples",
        "Add an example (or examples) to every application/json response and every non-GET request body.",
    ),
    rule("DOK.17", W, "The document uses the latest OpenAPI version", "Move the document to OpenAPI 3.1."),
    rule("DOK.19", E, "Every operation has a description", "Add a description to the operation."),
    rule("DOK.20", E, "Every response is described", "Give every response code a non-blank description."),
    rule("SAK.09", E, "No Basic or Digest authentication", "Use OAuth 2.0 bearer tokens (or mutual TLS) instead."),
    rule(
        "SAK.10",
        E,
        "HTTP authentication is Authorization: Bearer",
        "Declare http security schemes with scheme: bearer.",
    ),
    rule("SAK.15", E, "API keys are sent in a header", "Declare apiKey schemes with in: header."),
    rule("SAK.16", E, "API keys never go in the URL", "Move the apiKey from the query string to a header."),
    rule("SAK.18", W, "Authorisation uses OAuth 2.0", "Declare an oauth2, openIdConnect or mutualTLS security scheme."),
    rule(
        "SPA.02",
        E,
        "Operations accept traceparent",
        "Declare a traceparent header parameter on every get, put, post, delete and patch operation.",
    ),
    rule("SPA.04", W, "Responses return traceparent", "Declare headers.traceparent on every response."),
    rule(
        "MOG.01",
        E,
        "Richardson level 2: resources, HTTP methods, status codes",
        "Name resources with nouns (not /getOrder, /create) and give each operation a specific success status, not only default.",
    ),
    rule(
        "MOG.02",
        W,
        "Richardson level 3: responses link onwards",
        "Return links (a links/_links field or OpenAPI response links) to related resources.",
    ),
];

/// The rule with `id`.
pub fn rule_of(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// One place a document breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LintFinding)]
pub struct Finding {
    #[schema(example = "DOK.19")]
    pub rule: String,
    pub level: Level,
    /// Where, as a JSON pointer into the document (`""` is the whole document).
    #[schema(example = "/paths/~1orders~1v1~1orders/get")]
    pub pointer: String,
    pub message: String,
    /// How to mend it, in one line.
    pub hint: String,
}

/// A document's lint: its findings, errors first, and how many of each level.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LintReport)]
pub struct Report {
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn passes(&self) -> bool {
        self.errors == 0
    }

    /// The errors, one line each (rule, place, what): what a test or a log prints.
    pub fn error_lines(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.level == Level::Error)
            .map(|f| format!("{} {} {}", f.rule, f.pointer, f.message))
            .collect()
    }
}

/// Most findings of one rule reported (a document with thousands of the same fault says so once per
/// place up to this many).
const MAX_PER_RULE: usize = 200;

struct Lint<'a> {
    doc: &'a Value,
    findings: Vec<Finding>,
    /// Per rule: the places reported (a shared component once, at most MAX_PER_RULE).
    seen: std::collections::HashMap<&'static str, BTreeSet<String>>,
}

impl Lint<'_> {
    fn add(&mut self, id: &str, pointer: impl Into<String>, message: impl Into<String>) {
        let rule = rule_of(id).expect("a listed rule");
        let pointer = pointer.into();
        // A shared component is reported once, however many operations use it.
        let seen = self.seen.entry(rule.id).or_default();
        if seen.len() >= MAX_PER_RULE || !seen.insert(pointer.clone()) {
            return;
        }
        self.findings.push(Finding {
            rule: id.to_owned(),
            level: rule.level,
            pointer,
            message: message.into(),
            hint: rule.hint.to_owned(),
        });
    }
}

/// Lint `doc` (already parsed, see [`crate::document::parse`]).
pub fn lint(doc: &Value) -> Report {
    let mut l = Lint { doc, findings: Vec::new(), seen: Default::default() };
    let ops = operations(doc);
    info_rules(&mut l);
    server_rules(&mut l);
    path_rules(&mut l);
    for op in &ops {
        operation_rules(&mut l, op);
    }
    security_rules(&mut l);
    schema_rules(&mut l);
    document_rules(&mut l, &ops);
    let mut findings = l.findings;
    findings.sort_by(|a, b| a.level.cmp(&b.level).then_with(|| a.rule.cmp(&b.rule)));
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    Report { errors, warnings: findings.len() - errors, findings }
}

fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

fn info_rules(l: &mut Lint) {
    let info = &l.doc["info"];
    for key in ["title", "version", "description"] {
        if text(info, key).is_none() {
            l.add("DOK.03", format!("/info/{key}"), format!("info.{key} is missing or blank"));
        }
    }
    for (object, keys) in [("contact", &["name", "url", "email"][..]), ("license", &["name", "url"][..])] {
        match info.get(object) {
            Some(o) if o.is_object() => {
                for key in keys {
                    // A license may name an SPDX identifier instead of a URL (OpenAPI 3.1).
                    if text(o, key).is_none()
                        && !(object == "license" && *key == "url" && text(o, "identifier").is_some())
                    {
                        l.add("DOK.03", format!("/info/{object}/{key}"), format!("info.{object}.{key} is missing"));
                    }
                }
            }
            _ => l.add("DOK.03", format!("/info/{object}"), format!("info.{object} is missing")),
        }
    }
    match text(info, "description") {
        None => l.add("DOK.11", "/info/description", "info.description is missing or blank"),
        Some(d) if d.trim().chars().count() < 40 => {
            l.add("DOK.07", "/info/description", "info.description is too short to say what the API is for")
        }
        Some(_) => {}
    }
    let sla = info
        .get("x-sla")
        .is_some_and(|s| ["availability", "responseTime", "support"].iter().all(|k| s.get(*k).is_some()));
    let external_sla = l.doc.get("externalDocs").is_some_and(|e| {
        let t = format!("{} {}", text(e, "description").unwrap_or_default(), text(e, "url").unwrap_or_default())
            .to_lowercase();
        t.contains("sla") || t.contains("service level") || t.contains("servicenivå")
    });
    if !sla && text(info, "termsOfService").is_none() && !external_sla {
        let why = if info.get("x-sla").is_some() {
            "info.x-sla must give availability, responseTime and support"
        } else {
            "no info.x-sla, termsOfService or externalDocs about the service level"
        };
        l.add("DOK.08", "/info", why);
    }
    if info.get("x-limitations").is_none() {
        l.add("DOK.09", "/info", "info.x-limitations is missing");
    }
    for key in ["x-api-released", "x-api-status"] {
        if text(info, key).is_none() {
            l.add(
                "VER.06",
                format!("/info/{key}"),
                format!("info.{key} is missing (api-info's apiReleased/apiStatus come from it)"),
            );
        }
    }
    if let Some(r) = text(info, "x-api-released")
        && !full_date(r)
    {
        l.add("DOT.01", "/info/x-api-released", format!("{r:?} is not an RFC 3339 date"));
    }
    match l.doc.get("externalDocs") {
        Some(e) if text(e, "url").is_some() && text(e, "description").is_some() => {}
        _ => l.add("DOK.01", "/externalDocs", "externalDocs with a description and a url is missing"),
    }
    if l.doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.0")) {
        l.add("DOK.17", "/openapi", "OpenAPI 3.0; 3.1 is the latest");
    }
}

/// An RFC 3339 full-date, `YYYY-MM-DD` and nothing else (ISO 8601's week and ordinal dates are not).
fn full_date(s: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    s.len() == 10 && time::Date::parse(s, &format).is_ok()
}

fn is_local(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost") || host.starts_with("127.") || host == "[::1]"
}

/// The server URLs' path parts (`""` when there are no servers or a server is the root).
fn server_paths(doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = doc
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("url").and_then(Value::as_str))
        .map(|u| {
            let rest = u.split_once("://").map_or(u, |(_, r)| r);
            let path = rest.find('/').map_or("", |i| &rest[i..]);
            path.trim_end_matches('/').to_owned()
        })
        .collect();
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

fn server_rules(l: &mut Lint) {
    for (i, s) in l.doc.get("servers").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let Some(url) = s.get("url").and_then(Value::as_str) else { continue };
        if url.starts_with('/') {
            continue; // relative to where the document is served
        }
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, Some(p)),
            _ => (authority, None),
        };
        if is_local(host) || url.contains('{') {
            continue;
        }
        if scheme != "https" || port.is_some_and(|p| p != "443") {
            l.add("UFN.02", format!("/servers/{i}/url"), format!("{url} is not https on port 443"));
        }
    }
}

/// Verbs that make a path segment an action (`/getOrder`, `/create-order`, `/delete`). `list`, `fetch` and
/// `resolve` alone are left alone: standards name endpoints so (OpenID Federation's fetch and list).
const VERBS: [&str; 10] = ["get", "create", "update", "delete", "add", "remove", "set", "insert", "modify", "save"];

/// Segments named by standards, not by the API's designer: RFC 8615's `.well-known` and what follows it.
fn standard_path(path: &str) -> bool {
    path.split('/').any(|s| s == ".well-known")
}

/// A file-like last segment (the document itself, `/openapi.json`).
fn file_name(segment: &str) -> bool {
    [".json", ".yaml", ".yml"].iter().any(|e| segment.ends_with(e))
}

fn path_rules(l: &mut Lint) {
    let servers = server_paths(l.doc);
    let paths: Vec<String> = l.doc["paths"].as_object().into_iter().flatten().map(|(p, _)| p.clone()).collect();
    let mut api_roots = BTreeSet::new();
    let mut has_api_info = BTreeSet::new();
    for path in &paths {
        let at = format!("/paths/{}", escape(path));
        let full = format!("{}{path}", servers[0]);
        if full.len() > 2048 {
            l.add("UFN.05", &at, "the path is longer than 2048 characters");
        }
        if standard_path(&full) {
            continue;
        }
        let segments: Vec<&str> = full.split('/').filter(|s| !s.is_empty()).collect();
        let version_at = segments.iter().position(|s| is_major(s));
        match version_at {
            Some(1) => {
                let root = format!("/{}/{}", segments[0], segments[1]);
                if segments.len() == 3 && segments[2] == "api-info" {
                    has_api_info.insert(root.clone());
                }
                api_roots.insert(root);
            }
            _ => l.add("UFN.01", &at, format!("{full} does not start /{{api}}/v{{major}}/")),
        }
        for seg in segments.iter().filter(|s| !(s.starts_with('{') && s.ends_with('}'))) {
            if seg.contains(' ') || seg.contains('_') {
                l.add("UFN.09", &at, format!("segment {seg:?} holds a space or '_'"));
            } else if seg.chars().any(|c| c.is_ascii_uppercase()) {
                l.add("UFN.08", &at, format!("segment {seg:?} joins words without '-'"));
            } else if !seg.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.~".contains(c)) {
                l.add("UFN.07", &at, format!("segment {seg:?} holds characters outside a–z, 0–9, '-', '.', '~'"));
            } else if seg.contains(['.', '~']) && !is_major(seg) && !file_name(seg) {
                l.add("RES.06", &at, format!("resource name {seg:?} is not lowercase letters, digits and hyphens"));
            }
            let lower = seg.to_ascii_lowercase();
            if VERBS.iter().any(|v| {
                lower == *v
                    || (lower.starts_with(v)
                        && seg[v.len()..].starts_with(|c: char| c.is_ascii_uppercase() || c == '-' || c == '_'))
            }) {
                l.add("MOG.01", &at, format!("segment {seg:?} is a verb: let the HTTP method say what is done"));
            }
            if minor_version(seg) {
                l.add("VER.05", &at, format!("segment {seg:?} carries more than the major version"));
            }
        }
    }
    for root in api_roots.difference(&has_api_info) {
        l.add("VER.06", "/paths", format!("{root}/api-info is missing"));
    }
    for root in &has_api_info {
        let path = root.strip_prefix(&servers[0]).unwrap_or(root);
        let key = format!("{path}/api-info");
        if l.doc["paths"].get(&key).and_then(|i| deref(l.doc, i).get("get")).is_none() {
            l.add("VER.06", format!("/paths/{}", escape(&key)), "api-info is not readable with GET");
        }
    }
}

fn is_major(s: &str) -> bool {
    s.strip_prefix('v').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn minor_version(s: &str) -> bool {
    let n = s.strip_prefix('v').unwrap_or(s);
    let parts: Vec<&str> = n.split(['.', '_']).collect();
    s.starts_with('v')
        && parts.len() > 1
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Case {
    Camel,
    Snake,
    Neutral,
}

fn case_of(name: &str) -> Case {
    match (name.contains('_'), name.chars().any(|c| c.is_ascii_uppercase())) {
        (true, false) => Case::Snake,
        (false, true) => Case::Camel,
        (false, false) => Case::Neutral,
        // Both: neither convention (reported by AME.07/FNS.06 where it matters); counts as mixed.
        (true, true) => Case::Snake,
    }
}

const PNR_NAMES: [&str; 7] =
    ["pnr", "personnummer", "ssn", "personalnumber", "personalidentitynumber", "personal_number", "samordningsnummer"];

fn operation_rules(l: &mut Lint, op: &Operation) {
    let doc = l.doc;
    let at = &op.pointer;
    if text(op.op, "description").is_none() {
        l.add("DOK.19", at, format!("{} {} has no description", op.method.to_uppercase(), op.path));
    }
    let params = parameters(doc, op);
    let mut traceparent = false;
    let mut names = std::collections::HashMap::new();
    for (p, pointer) in &params {
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
        let place = p.get("in").and_then(Value::as_str).unwrap_or_default();
        let schema = deref(doc, p.get("schema").unwrap_or(&Value::Null));
        if place == "header" && name.eq_ignore_ascii_case("traceparent") {
            traceparent = true;
        }
        if PNR_NAMES.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            l.add("RES.02", pointer, format!("parameter {name} carries a personal identity number"));
        }
        if place == "header" && matches!(schema.get("type").and_then(Value::as_str), Some("object" | "array")) {
            l.add("ARQ.05", pointer, format!("header {name} carries structured data"));
        }
        if place != "query" {
            continue;
        }
        names.insert(name.to_owned(), (schema, pointer.clone(), p.get("required") == Some(&Value::Bool(true))));
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            l.add("FNS.03", pointer, format!("query parameter {name:?} does not start with a letter"));
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)) {
            l.add("FNS.06", pointer, format!("query parameter {name:?} is not URL-safe"));
        }
        if op.method == "get" && p.get("required") == Some(&Value::Bool(true)) {
            l.add("FNS.05", pointer, format!("query parameter {name} is required"));
        }
    }
    if ["get", "put", "post", "delete", "patch"].contains(&op.method) && !traceparent {
        l.add("SPA.02", format!("{at}/parameters"), "no traceparent header parameter");
    }
    if names.contains_key("page") || names.contains_key("offset") {
        if !names.contains_key("limit") {
            l.add("FNS.07", format!("{at}/parameters"), "paged with page/offset but no limit");
        }
        if let Some((schema, pointer, _)) = names.get("page")
            && schema.get("minimum").and_then(Value::as_f64) != Some(1.0)
        {
            l.add("FNS.08", pointer, "page's schema does not set minimum: 1");
        }
        if let Some((schema, pointer, _)) = names.get("limit")
            && schema.get("default").and_then(Value::as_f64) != Some(20.0)
        {
            l.add("FNS.09", pointer, "limit's schema does not default to 20");
        }
    }
    if op.method == "get" && op.op.get("requestBody").is_some() {
        l.add("FOR.02", format!("{at}/requestBody"), "a GET with a request body");
    }
    if let Some(body) = op.op.get("requestBody") {
        let (body, body_at) = deref_at(doc, body, format!("{at}/requestBody"));
        media_rules(l, body.get("content"), &format!("{body_at}/content"), op.method != "get", false);
    }
    let responses = op.op.get("responses").and_then(Value::as_object);
    let mut specific_success = false;
    for (code, response) in responses.into_iter().flatten() {
        let (response, r_at) = deref_at(doc, response, format!("{at}/responses/{}", escape(code)));
        if code.starts_with('2') || code.starts_with('3') {
            specific_success = true;
        }
        if text(response, "description").is_none() {
            l.add("DOK.20", &r_at, format!("response {code} has no description"));
        }
        let error = code == "default" || code.starts_with('4') || code.starts_with('5');
        if error {
            problem_rules(l, response.get("content"), &r_at);
        } else {
            media_rules(l, response.get("content"), &format!("{r_at}/content"), true, true);
        }
        let trace = response
            .get("headers")
            .and_then(Value::as_object)
            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("traceparent")));
        if !trace {
            l.add("SPA.04", format!("{r_at}/headers"), format!("response {code} does not declare traceparent"));
        }
    }
    if !specific_success {
        l.add("MOG.01", format!("{at}/responses"), "no specific 2xx/3xx status: the status codes say nothing");
    }
}

fn is_json(media: &str) -> bool {
    let m = media.split(';').next().unwrap_or_default().trim();
    m == "application/json" || m.ends_with("+json")
}

fn has_example(doc: &Value, media: &Value) -> bool {
    media.get("example").is_some()
        || media.get("examples").and_then(Value::as_object).is_some_and(|e| !e.is_empty())
        || media
            .get("schema")
            .map(|s| deref(doc, s))
            .is_some_and(|s| s.get("example").is_some() || s.get("examples").is_some())
}

fn media_rules(l: &mut Lint, content: Option<&Value>, at: &str, needs_example: bool, response: bool) {
    let Some(content) = content.and_then(Value::as_object).filter(|c| !c.is_empty()) else { return };
    if !content.keys().any(|m| is_json(m)) {
        let what = if response { "response" } else { "request body" };
        l.add(
            "AME.01",
            at,
            format!("the {what} offers no JSON ({})", content.keys().cloned().collect::<Vec<_>>().join(", ")),
        );
    }
    for (media, m) in content {
        let m_at = format!("{at}/{}", escape(media));
        charset_rule(l, media, &m_at);
        if needs_example && is_json(media) && !has_example(l.doc, m) {
            l.add("DOK.15", &m_at, format!("{media} has no example"));
        }
    }
}

fn charset_rule(l: &mut Lint, media: &str, at: &str) {
    if let Some(cs) = media.split(';').skip(1).find_map(|p| p.trim().strip_prefix("charset="))
        && !cs.trim_matches('"').eq_ignore_ascii_case("utf-8")
    {
        l.add("ARQ.01", at, format!("charset {cs}"));
    }
}

const PROBLEM_FIELDS: [&str; 5] = ["type", "title", "status", "detail", "instance"];

fn problem_rules(l: &mut Lint, content: Option<&Value>, at: &str) {
    let Some(content) = content.and_then(Value::as_object).filter(|c| !c.is_empty()) else {
        l.add("FEL.02", at, "an error response without a problem body");
        return;
    };
    for (media, m) in content {
        let m_at = format!("{at}/content/{}", escape(media));
        let base = media.split(';').next().unwrap_or_default().trim();
        if base != "application/problem+json" && base != "application/problem+xml" {
            l.add("FEL.02", &m_at, format!("an error response in {media}"));
            continue;
        }
        charset_rule(l, media, &m_at);
        let (schema, schema_at) = deref_at(l.doc, m.get("schema").unwrap_or(&Value::Null), format!("{m_at}/schema"));
        let props = all_properties(l.doc, schema);
        let missing: Vec<&str> = PROBLEM_FIELDS.iter().copied().filter(|f| !props.contains(*f)).collect();
        if !missing.is_empty() {
            l.add("FEL.01", schema_at, format!("the problem schema lacks {}", missing.join(", ")));
        }
    }
}

/// The property names of a schema, through `allOf` (one level of composition is what problem schemas use).
fn all_properties(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut visited = BTreeSet::new();
    collect_properties(doc, schema, &mut out, &mut visited);
    out
}

/// Every schema of an `allOf` tree once (a cycle or a diamond of references is walked once).
fn collect_properties(doc: &Value, schema: &Value, out: &mut BTreeSet<String>, visited: &mut BTreeSet<usize>) {
    if !visited.insert(std::ptr::from_ref(schema) as usize) || visited.len() > 1000 {
        return;
    }
    out.extend(schema.get("properties").and_then(Value::as_object).into_iter().flatten().map(|(k, _)| k.clone()));
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        collect_properties(doc, deref(doc, part), out, visited);
    }
}

fn security_rules(l: &mut Lint) {
    let schemes = l.doc.pointer("/components/securitySchemes").and_then(Value::as_object);
    let mut oauth = false;
    for (name, s) in schemes.into_iter().flatten() {
        let at = format!("/components/securitySchemes/{}", escape(name));
        let s = deref(l.doc, s);
        match s.get("type").and_then(Value::as_str).unwrap_or_default() {
            "http" => {
                let scheme = s.get("scheme").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
                if scheme == "basic" || scheme == "digest" {
                    l.add("SAK.09", &at, format!("{name} uses {scheme} authentication"));
                } else if scheme != "bearer" {
                    l.add("SAK.10", &at, format!("{name} uses http scheme {scheme:?}, not bearer"));
                }
            }
            "apiKey" => match s.get("in").and_then(Value::as_str).unwrap_or_default() {
                "header" => {}
                "query" => l.add("SAK.16", &at, format!("{name} puts an API key in the query string")),
                other => l.add("SAK.15", &at, format!("{name} sends an API key in {other}, not a header")),
            },
            "oauth2" | "openIdConnect" | "mutualTLS" => oauth = true,
            _ => {}
        }
    }
    if !oauth {
        l.add("SAK.18", "/components/securitySchemes", "no oauth2, openIdConnect or mutualTLS scheme");
    }
}

/// Keys under which a document holds data, not schemas (their insides are not walked for schemas).
const DATA_KEYS: [&str; 5] = ["example", "examples", "default", "enum", "const"];

/// Names another standard fixes, which an API that follows it cannot rename (OAuth 2.0 and its token
/// exchange and assertions, OpenID Connect and Federation, RFC 9457's extension DIGG's own profile uses):
/// they follow neither the document's convention nor break it.
const STANDARD_NAMES: [&str; 30] = [
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "redirect_uri",
    "code_verifier",
    "code_challenge",
    "code_challenge_method",
    "response_type",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "refresh_token",
    "access_token",
    "token_type",
    "expires_in",
    "id_token",
    "issued_token_type",
    "trust_mark",
    "trust_mark_type",
    "trust_anchor",
    "entity_type",
    "authority_hints",
    "trust_chain",
    "id_token_hint",
    "post_logout_redirect_uri",
    "invalid-parameters",
];

fn standard_name(name: &str) -> bool {
    STANDARD_NAMES.contains(&name)
}

fn schema_rules(l: &mut Lint) {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut dates: Vec<(String, String, String)> = Vec::new();
    walk(l.doc, String::new(), &mut fields, &mut dates);
    let mut seen = BTreeSet::new();
    let (mut camel, mut snake) = (Vec::new(), Vec::new());
    for (name, at) in &fields {
        if !seen.insert(name.clone()) || standard_name(name) {
            continue;
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with('$') {
            l.add("AME.07", at, format!("field {name:?} is not alphanumeric"));
        }
        match case_of(name) {
            Case::Camel => camel.push((name, at)),
            Case::Snake => snake.push((name, at)),
            Case::Neutral => {}
        }
    }
    if !camel.is_empty() && !snake.is_empty() {
        let (minority, majority) =
            if snake.len() <= camel.len() { (&snake, "camelCase") } else { (&camel, "snake_case") };
        for (name, at) in minority.iter() {
            l.add("AME.04", *at, format!("field {name} breaks the document's {majority}"));
        }
    }
    for (format, value, at) in dates {
        let ok = match format.as_str() {
            "date" => full_date(&value),
            _ => time::OffsetDateTime::parse(&value, &time::format_description::well_known::Rfc3339).is_ok(),
        };
        if !ok {
            l.add("DOT.01", at, format!("example {value:?} is not an RFC 3339 {format}"));
        }
    }
    // Query parameter names across the document: one convention.
    let mut q_camel = Vec::new();
    let mut q_snake = Vec::new();
    for op in operations(l.doc) {
        for (p, at) in parameters(l.doc, &op) {
            if p.get("in").and_then(Value::as_str) != Some("query") {
                continue;
            }
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            if standard_name(&name) {
                continue;
            }
            match case_of(&name) {
                Case::Camel => q_camel.push((name, at)),
                Case::Snake => q_snake.push((name, at)),
                Case::Neutral => {}
            }
        }
    }
    if !q_camel.is_empty() && !q_snake.is_empty() {
        let minority = if q_snake.len() <= q_camel.len() { q_snake } else { q_camel };
        for (name, at) in minority {
            l.add("FNS.01", at, format!("query parameter {name} mixes naming conventions"));
        }
    }
}

/// Walk every schema-like object: record its properties' names and the examples of date formats.
fn walk(v: &Value, at: String, fields: &mut Vec<(String, String)>, dates: &mut Vec<(String, String, String)>) {
    match v {
        Value::Object(map) => {
            if let Some(props) = map.get("properties").and_then(Value::as_object)
                && map.get("type").and_then(Value::as_str).is_none_or(|t| t == "object")
            {
                for name in props.keys() {
                    fields.push((name.clone(), format!("{at}/properties/{}", escape(name))));
                }
            }
            if let Some(format @ ("date-time" | "date")) = map.get("format").and_then(Value::as_str) {
                for key in ["example", "default"] {
                    if let Some(s) = map.get(key).and_then(Value::as_str) {
                        dates.push((format.to_owned(), s.to_owned(), format!("{at}/{key}")));
                    }
                }
                for (i, e) in map.get("examples").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    if let Some(s) = e.as_str() {
                        dates.push((format.to_owned(), s.to_owned(), format!("{at}/examples/{i}")));
                    }
                }
            }
            for (k, child) in map {
                if DATA_KEYS.contains(&k.as_str()) {
                    continue;
                }
                // Inside `properties` every key is a field's name: its value is a schema, walked as one.
                walk(child, format!("{at}/{}", escape(k)), fields, dates);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{at}/{i}"), fields, dates);
            }
        }
        _ => {}
    }
}

fn document_rules(l: &mut Lint, ops: &[Operation]) {
    // Level 3: some response links onwards (OpenAPI links, or a links/_links field in a response schema).
    let mut linked = false;
    for op in ops {
        for (_, r) in op.op.get("responses").and_then(Value::as_object).into_iter().flatten() {
            let r = deref(l.doc, r);
            if r.get("links").and_then(Value::as_object).is_some_and(|m| !m.is_empty()) {
                linked = true;
            }
            for (_, m) in r.get("content").and_then(Value::as_object).into_iter().flatten() {
                let schema = deref(l.doc, m.get("schema").unwrap_or(&Value::Null));
                let props = all_properties(l.doc, schema);
                if props.contains("links") || props.contains("_links") {
                    linked = true;
                }
            }
        }
    }
    if !ops.is_empty() && !linked {
        l.add("MOG.02", "/paths", "no response links to related resources");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn corpus() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
    }

    /// RFC 7396 merge patch.
    fn merge(target: &mut Value, patch: &Value) {
        match patch {
            Value::Object(p) => {
                if !target.is_object() {
                    *target = Value::Object(serde_json::Map::new());
                }
                let t = target.as_object_mut().unwrap();
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
            other => *target = other.clone(),
        }
    }

    fn read(name: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(corpus().join(name)).unwrap()).unwrap()
    }

    /// The corpus: a base document that breaks no rule, and per rule one document that keeps it and one
    /// that breaks it (each a merge patch on the base) — the failing one found at its place.
    #[test]
    fn every_rule_has_a_passing_and_a_failing_document() {
        let base = read("base.json");
        let report = lint(&base);
        assert!(report.findings.is_empty(), "the base document breaks nothing: {:#?}", report.findings);
        for rule in RULES {
            let case = read(&format!("{}.json", rule.id));
            let mut pass = base.clone();
            merge(&mut pass, &case["pass"]);
            let found: Vec<Finding> = lint(&pass).findings.into_iter().filter(|f| f.rule == rule.id).collect();
            assert!(found.is_empty(), "{}: the passing document is flagged: {found:#?}", rule.id);
            let mut fail = base.clone();
            merge(&mut fail, &case["fail"]);
            let found: Vec<Finding> = lint(&fail).findings.into_iter().filter(|f| f.rule == rule.id).collect();
            assert!(!found.is_empty(), "{}: the failing document is not flagged", rule.id);
            assert!(found.iter().all(|f| f.level == rule.level && f.hint == rule.hint), "{}", rule.id);
            if let Some(pointer) = case["pointer"].as_str() {
                assert!(found.iter().any(|f| f.pointer == pointer), "{}: not at {pointer}: {found:#?}", rule.id);
                assert!(
                    fail.pointer(pointer).is_some()
                        || pointer.is_empty()
                        || pointer.ends_with("/parameters")
                        || pointer.ends_with("/headers")
                        || pointer == "/externalDocs"
                        || pointer.starts_with("/info/")
                        || pointer == "/components/securitySchemes",
                    "{}: {pointer} is a place in the document",
                    rule.id
                );
            }
        }
        let files = std::fs::read_dir(corpus()).unwrap().count();
        assert_eq!(files, RULES.len() + 1, "one corpus file per rule, and the base");
    }

    #[test]
    fn levels_follow_skall_and_bor() {
        let errors = RULES.iter().filter(|r| r.level == Level::Error).count();
        assert!(errors > 25 && RULES.len() - errors > 10, "{errors} errors of {}", RULES.len());
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len(), "rule ids are unique");
    }
}
