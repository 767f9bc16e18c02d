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

pub use crate::rules::{Level, RULES, Rule, rule_of};

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
#[path = "lint_tests.rs"]
mod tests;
