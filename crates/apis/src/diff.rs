//! Breaking-change classification between two versions of an API (beyond DIGG's lint, which never compares
//! versions): every change of an operation, parameter, body, response, media type and schema, classified
//! by the profile's VER rules — what a consumer written against the old version keeps working with
//! (compatible, VER.02: consumers tolerate additions) and what breaks it (VER.01) — with its location.
//! A breaking change needs a new major version, in `info.version` and in the `/v{n}` path (VER.03, VER.05).
//!
//! Direction matters: what consumers send (parameters, request bodies) may widen but not narrow; what they
//! receive (responses) may gain fields but not lose required ones or change their types.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::document::{deref, deref_at, escape, operations, parameters};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ApiChangeKind)]
pub enum Kind {
    Breaking,
    Compatible,
}

/// One change from the old version to the new.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiChange)]
pub struct Change {
    pub kind: Kind,
    #[schema(example = "VER.01")]
    pub rule: String,
    /// Where: a JSON pointer into the new document, or into the old one for what was removed.
    pub pointer: String,
    /// Which document `pointer` points into: `old` or `new`.
    pub document: String,
    pub message: String,
}

/// All changes, breaking first, and whether the new version's numbering admits them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiDiffReport)]
pub struct DiffReport {
    pub breaking: usize,
    pub compatible: usize,
    /// Old and new major version (from `info.version`).
    pub old_major: Option<u64>,
    pub new_major: Option<u64>,
    /// Breaking changes under the same major version (VER.03): the new version claims compatibility it
    /// does not have.
    pub version_ok: bool,
    /// False when the documents were too large to compare whole (the report then lists what was found).
    pub complete: bool,
    pub changes: Vec<Change>,
}

impl DiffReport {
    pub fn is_breaking(&self) -> bool {
        self.breaking > 0
    }
}

struct Diff<'a> {
    old: &'a Value,
    new: &'a Value,
    changes: Vec<Change>,
    /// Schema pairs already compared (by address): each pair once, so recursive schemas end and a schema
    /// shared by many operations is compared — and its changes reported — at its first use only.
    visiting: BTreeSet<(usize, usize)>,
    /// Schema comparisons left: a hostile pair of documents cannot make the report unbounded work.
    budget: usize,
}

/// Where consumers meet a schema: what they send or what they receive.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

impl Diff<'_> {
    fn breaking(&mut self, pointer: impl Into<String>, in_old: bool, message: impl Into<String>) {
        self.push(Kind::Breaking, "VER.01", pointer.into(), in_old, message.into());
    }
    fn compatible(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.push(Kind::Compatible, "VER.02", pointer.into(), false, message.into());
    }
    fn push(&mut self, kind: Kind, rule: &str, pointer: String, in_old: bool, message: String) {
        let document = if in_old { "old" } else { "new" }.to_owned();
        self.changes.push(Change { kind, rule: rule.to_owned(), pointer, document, message });
    }
}

/// The major version of `info.version` (`2.1.0` → 2, `v3` → 3).
pub fn major(doc: &Value) -> Option<u64> {
    let v = doc.pointer("/info/version")?.as_str()?.trim().trim_start_matches(['v', 'V']);
    v.split('.').next()?.parse().ok()
}

/// A path with its parameters' names blanked, so renaming `{id}` to `{orderId}` is no removal, and with
/// its `/v{n}` segment blanked, so the same resource in the next major version is the same operation.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                "{}"
            } else if s.strip_prefix('v').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())) {
                "v*"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn version_segment(path: &str) -> Option<&str> {
    path.split('/')
        .find(|s| s.strip_prefix('v').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
}

/// Compare `old` and `new` (both parsed OpenAPI documents).
pub fn diff(old: &Value, new: &Value) -> DiffReport {
    let mut d = Diff { old, new, changes: Vec::new(), visiting: BTreeSet::new(), budget: MAX_COMPARISONS };
    let old_ops: BTreeMap<(String, String), _> =
        operations(old).into_iter().map(|o| ((shape(o.path), o.method.to_owned()), o)).collect();
    let new_ops: BTreeMap<(String, String), _> =
        operations(new).into_iter().map(|o| ((shape(o.path), o.method.to_owned()), o)).collect();
    let mut path_majors = BTreeSet::new();
    for (key, o) in &old_ops {
        match new_ops.get(key) {
            None => d.breaking(&o.pointer, true, format!("{} {} is removed", o.method.to_uppercase(), o.path)),
            Some(n) => {
                if let (Some(a), Some(b)) = (version_segment(o.path), version_segment(n.path)) {
                    path_majors.insert((a.to_owned(), b.to_owned()));
                }
                compare_operation(&mut d, o, n);
            }
        }
    }
    for (key, n) in &new_ops {
        if !old_ops.contains_key(key) {
            d.compatible(&n.pointer, format!("{} {} is added", n.method.to_uppercase(), n.path));
        }
    }
    let (old_major, new_major) = (major(old), major(new));
    let breaking = d.changes.iter().filter(|c| c.kind == Kind::Breaking).count();
    let mut version_ok = true;
    if breaking > 0 {
        if old_major.is_some() && old_major >= new_major {
            version_ok = false;
            d.push(
                Kind::Breaking,
                "VER.03",
                "/info/version".into(),
                false,
                format!(
                    "{breaking} breaking change(s) need a new major version, not {:?}",
                    new.pointer("/info/version").and_then(Value::as_str).unwrap_or("?")
                ),
            );
        }
        if path_majors.iter().any(|(a, b)| a == b) {
            version_ok = false;
            d.push(
                Kind::Breaking,
                "VER.05",
                "/paths".into(),
                false,
                "breaking change(s) need a new /v{n} path segment".into(),
            );
        }
    }
    let mut changes = d.changes;
    changes.sort_by_key(|c| c.kind);
    // Counted are the changes; the numbering findings (VER.03, VER.05) are listed with them, not counted.
    let breaking = changes.iter().filter(|c| c.rule == "VER.01").count();
    let compatible = changes.iter().filter(|c| c.kind == Kind::Compatible).count();
    DiffReport { breaking, compatible, old_major, new_major, version_ok, complete: d.budget > 0, changes }
}

fn compare_operation(d: &mut Diff, o: &crate::document::Operation, n: &crate::document::Operation) {
    let (old, new) = (d.old, d.new);
    // Parameters, by place and name.
    let key = |p: &Value| {
        (
            p.get("in").and_then(Value::as_str).unwrap_or_default().to_owned(),
            p.get("name").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase(),
        )
    };
    let required = |p: &Value| {
        p.get("required") == Some(&Value::Bool(true)) || p.get("in").and_then(Value::as_str) == Some("path")
    };
    let op_params: BTreeMap<_, _> = parameters(old, o).into_iter().map(|(p, at)| (key(p), (p, at))).collect();
    let np_params: BTreeMap<_, _> = parameters(new, n).into_iter().map(|(p, at)| (key(p), (p, at))).collect();
    for (k, (p, at)) in &op_params {
        if k.0 == "path" {
            continue; // path parameters are part of the path's shape
        }
        match np_params.get(k) {
            None => d.breaking(at, true, format!("{} parameter {} is removed", k.0, k.1)),
            Some((q, q_at)) => {
                if !required(p) && required(q) {
                    d.breaking(q_at.clone(), false, format!("{} parameter {} is now required", k.0, k.1));
                } else if required(p) && !required(q) {
                    d.compatible(q_at.clone(), format!("{} parameter {} is now optional", k.0, k.1));
                }
                let (ps, qs) = (p.get("schema").unwrap_or(&Value::Null), q.get("schema").unwrap_or(&Value::Null));
                compare_schema(d, ps, qs, &format!("{q_at}/schema"), Side::Request, 0);
            }
        }
    }
    for (k, (q, at)) in &np_params {
        if k.0 != "path" && !op_params.contains_key(k) {
            if required(q) {
                d.breaking(at.clone(), false, format!("a required {} parameter {} is added", k.0, k.1));
            } else {
                d.compatible(at.clone(), format!("an optional {} parameter {} is added", k.0, k.1));
            }
        }
    }
    // Request body.
    let ob = o.op.get("requestBody").map(|b| deref(old, b));
    let nb = n.op.get("requestBody").map(|b| deref(new, b));
    let body_at = format!("{}/requestBody", n.pointer);
    match (ob, nb) {
        (None, Some(b)) if b.get("required") == Some(&Value::Bool(true)) => {
            d.breaking(&body_at, false, "a required request body is added")
        }
        (Some(_), None) => d.compatible(format!("{}/requestBody", o.pointer), "the request body is no longer read"),
        (Some(a), Some(b)) => {
            if a.get("required") != Some(&Value::Bool(true)) && b.get("required") == Some(&Value::Bool(true)) {
                d.breaking(&body_at, false, "the request body is now required");
            }
            compare_content(
                d,
                a.get("content"),
                b.get("content"),
                &format!("{}/requestBody", o.pointer),
                &body_at,
                Side::Request,
            );
        }
        _ => {}
    }
    // Responses, by status.
    let empty = serde_json::Map::new();
    let or = o.op.get("responses").and_then(Value::as_object).unwrap_or(&empty);
    let nr = n.op.get("responses").and_then(Value::as_object).unwrap_or(&empty);
    for (code, r) in or {
        let o_at = format!("{}/responses/{}", o.pointer, escape(code));
        match nr.get(code) {
            None if code.starts_with('2') || code.starts_with('3') => {
                d.breaking(&o_at, true, format!("response {code} is removed"))
            }
            None => d.compatible(&o_at, format!("error response {code} is no longer described")),
            Some(s) => {
                let n_at = format!("{}/responses/{}", n.pointer, escape(code));
                let (r, s) = (deref(old, r), deref(new, s));
                compare_content(d, r.get("content"), s.get("content"), &o_at, &n_at, Side::Response);
            }
        }
    }
    for code in nr.keys().filter(|c| !or.contains_key(*c)) {
        let at = format!("{}/responses/{}", n.pointer, escape(code));
        if code.starts_with('2') && or.keys().any(|c| c.starts_with('2')) {
            d.breaking(&at, false, format!("a new success status {code}: consumers expect the old one"));
        } else {
            d.compatible(&at, format!("response {code} is added"));
        }
    }
    // Security: a requirement the old version did not have.
    let sec = |doc: &Value, op: &Value| -> BTreeSet<String> {
        let list = op.get("security").or_else(|| doc.get("security"));
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|r| r.as_object().into_iter().flatten().map(|(k, _)| k.clone()))
            .collect()
    };
    let (os, ns) = (sec(old, o.op), sec(new, n.op));
    if os.is_empty() && !ns.is_empty() {
        d.breaking(format!("{}/security", n.pointer), false, "the operation now needs authentication");
    }
}

fn compare_content(d: &mut Diff, a: Option<&Value>, b: Option<&Value>, o_at: &str, n_at: &str, side: Side) {
    let empty = serde_json::Map::new();
    let a = a.and_then(Value::as_object).unwrap_or(&empty);
    let b = b.and_then(Value::as_object).unwrap_or(&empty);
    for (media, m) in a {
        match b.get(media) {
            None => {
                d.breaking(format!("{o_at}/content/{}", escape(media)), true, format!("media type {media} is removed"))
            }
            Some(n) => {
                let at = format!("{n_at}/content/{}/schema", escape(media));
                compare_schema(
                    d,
                    m.get("schema").unwrap_or(&Value::Null),
                    n.get("schema").unwrap_or(&Value::Null),
                    &at,
                    side,
                    0,
                );
            }
        }
    }
    for media in b.keys().filter(|m| !a.contains_key(*m)) {
        if side == Side::Request && !a.is_empty() {
            d.compatible(format!("{n_at}/content/{}", escape(media)), format!("media type {media} is also accepted"));
        } else {
            d.compatible(format!("{n_at}/content/{}", escape(media)), format!("media type {media} is added"));
        }
    }
}

/// A schema's types: its `type` (a name or a list), OpenAPI 3.0's `nullable: true` as `null`, and where it
/// names none, those of its `allOf` parts.
fn types(doc: &Value, s: &Value) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = match s.get("type") {
        Some(Value::String(t)) => [t.clone()].into(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(16)
            .flat_map(|part| {
                let part = deref(doc, part);
                match part.get("type") {
                    Some(Value::String(t)) => vec![t.clone()],
                    _ => Vec::new(),
                }
            })
            .collect(),
    };
    if !out.is_empty() && s.get("nullable") == Some(&Value::Bool(true)) {
        out.insert("null".into());
    }
    out
}

/// An object schema's fields as consumers see them, its `allOf` parts merged in: each field's schema and
/// where it is written (inside a part or a shared component when it is there), the required names, and
/// whether other fields are refused.
struct Fields<'a> {
    props: BTreeMap<String, (&'a Value, String)>,
    required: BTreeSet<String>,
    closed: bool,
    any: bool,
}

fn fields<'a>(doc: &'a Value, s: &'a Value, at: &str, depth: usize) -> Fields<'a> {
    let mut f = Fields {
        props: BTreeMap::new(),
        required: names(s.get("required")),
        closed: s.get("additionalProperties") == Some(&Value::Bool(false)),
        any: false,
    };
    if let Some(p) = s.get("properties").and_then(Value::as_object) {
        f.any = true;
        for (name, schema) in p {
            f.props.insert(name.clone(), (schema, format!("{at}/properties/{}", escape(name))));
        }
    }
    if depth < 8 {
        for (i, part) in s.get("allOf").and_then(Value::as_array).into_iter().flatten().take(16).enumerate() {
            let (part, part_at) = deref_at(doc, part, format!("{at}/allOf/{i}"));
            let inner = fields(doc, part, &part_at, depth + 1);
            f.any |= inner.any;
            f.closed |= inner.closed;
            f.required.extend(inner.required);
            for (name, field) in inner.props {
                f.props.entry(name).or_insert(field);
            }
        }
    }
    f
}

fn names(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

/// Most nesting compared (schemas are members' input).
const MAX_DEPTH: usize = 32;

/// Most schema comparisons in one report (a 1 MB document needs a few thousand).
const MAX_COMPARISONS: usize = 200_000;

fn compare_schema(d: &mut Diff, a: &Value, b: &Value, at: &str, side: Side, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    // A change inside a shared component is reported at the component (where it is made), once.
    let (b, at) = deref_at(d.new, b, at.to_owned());
    let at = at.as_str();
    let a = deref(d.old, a);
    let pair = (std::ptr::from_ref(a) as usize, std::ptr::from_ref(b) as usize);
    if d.budget == 0 || !d.visiting.insert(pair) {
        return;
    }
    d.budget -= 1;
    let (old, new) = (d.old, d.new);
    let (ta, tb) = (types(old, a), types(new, b));
    let widened = |x: &BTreeSet<String>, y: &BTreeSet<String>| {
        // integer → number widens; adding "null" widens.
        x.iter().all(|t| y.contains(t) || (t == "integer" && y.contains("number")))
    };
    if !ta.is_empty() && !tb.is_empty() && ta != tb {
        let ok = match side {
            Side::Request => widened(&ta, &tb),
            Side::Response => widened(&tb, &ta),
        };
        let what = format!(
            "type {} → {}",
            ta.iter().cloned().collect::<Vec<_>>().join("|"),
            tb.iter().cloned().collect::<Vec<_>>().join("|")
        );
        if ok { d.compatible(at, what) } else { d.breaking(at, false, what) }
    }
    if a.get("format").is_some() && a.get("format") != b.get("format") {
        d.breaking(at, false, format!("format {} → {}", a["format"], b.get("format").unwrap_or(&Value::Null)));
    }
    // Enumerations: a consumer may send any old value; it reads only values it knows.
    let (ea, eb) = (a.get("enum").and_then(Value::as_array), b.get("enum").and_then(Value::as_array));
    match (ea, eb) {
        (Some(x), Some(y)) => {
            // Sent: a value taken away breaks a consumer that sends it. Received: the server sending fewer
            // values breaks no one; a new one is an addition consumers tolerate (VER.02).
            for v in x.iter().filter(|v| !y.contains(v)) {
                match side {
                    Side::Request => d.breaking(format!("{at}/enum"), false, format!("enum value {v} is removed")),
                    Side::Response => d.compatible(format!("{at}/enum"), format!("enum value {v} is no longer sent")),
                }
            }
            for v in y.iter().filter(|v| !x.contains(v)) {
                d.compatible(format!("{at}/enum"), format!("enum value {v} is added"));
            }
        }
        (None, Some(_)) if side == Side::Request => {
            d.breaking(format!("{at}/enum"), false, "values are now limited to an enum")
        }
        _ => {}
    }
    // Constraints: narrowing what a consumer may send breaks it; in responses they are the server's.
    if side == Side::Request {
        for (key, narrower_if_bigger) in [
            ("minLength", true),
            ("minimum", true),
            ("exclusiveMinimum", true),
            ("minItems", true),
            ("maxLength", false),
            ("maximum", false),
            ("exclusiveMaximum", false),
            ("maxItems", false),
        ] {
            let (x, y) = (a.get(key).and_then(Value::as_f64), b.get(key).and_then(Value::as_f64));
            let narrowed = match (x, y) {
                (None, Some(_)) => true,
                (Some(x), Some(y)) => {
                    if narrower_if_bigger {
                        y > x
                    } else {
                        y < x
                    }
                }
                _ => false,
            };
            if narrowed {
                d.breaking(
                    format!("{at}/{key}"),
                    false,
                    format!(
                        "{key} narrowed ({} → {})",
                        x.map_or("none".into(), |v| v.to_string()),
                        y.map_or("none".into(), |v| v.to_string())
                    ),
                );
            }
        }
        if b.get("pattern").is_some() && a.get("pattern") != b.get("pattern") {
            d.breaking(format!("{at}/pattern"), false, "the pattern changed");
        }
    }
    // Properties, with `allOf` parts merged: a field moved into or out of a part is no change.
    let (fa, fb) = (fields(old, a, at, 0), fields(new, b, at, 0));
    if fa.any && fb.any {
        for (name, (sa, a_at)) in &fa.props {
            match fb.props.get(name) {
                None => match side {
                    Side::Response if fa.required.contains(name) => {
                        d.breaking(a_at, true, format!("required field {name} is removed"))
                    }
                    Side::Response => d.compatible(a_at, format!("optional field {name} is removed")),
                    Side::Request if fb.closed => d.breaking(a_at, true, format!("field {name} is no longer accepted")),
                    Side::Request => d.compatible(a_at, format!("field {name} is no longer read")),
                },
                Some((sb, p_at)) => compare_schema(d, sa, sb, p_at, side, depth + 1),
            }
        }
        for (name, (_, p_at)) in fb.props.iter().filter(|(n, _)| !fa.props.contains_key(*n)) {
            if side == Side::Request && fb.required.contains(name) {
                d.breaking(p_at, false, format!("required field {name} is added"));
            } else {
                d.compatible(p_at, format!("field {name} is added"));
            }
        }
    }
    for name in fb.required.difference(&fa.required) {
        if side == Side::Request && fa.props.contains_key(name) {
            d.breaking(format!("{at}/required"), false, format!("field {name} is now required"));
        }
    }
    for name in fa.required.difference(&fb.required) {
        if side == Side::Response && fb.props.contains_key(name) {
            d.breaking(format!("{at}/required"), false, format!("field {name} may now be missing"));
        }
    }
    if let (Some(ia), Some(ib)) = (a.get("items"), b.get("items")) {
        compare_schema(d, ia, ib, &format!("{at}/items"), side, depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn base() -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/base.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
        doc.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}"))
    }

    fn found(r: &DiffReport, kind: Kind, pointer: &str, words: &str) -> bool {
        r.changes.iter().any(|c| c.kind == kind && c.pointer == pointer && c.message.contains(words))
    }

    #[test]
    fn additions_are_compatible() {
        let old = base();
        let mut new = old.clone();
        at(&mut new, "/info/version").clone_from(&json!("1.3.0"));
        at(&mut new, "/components/schemas/Order/properties")
            .as_object_mut()
            .unwrap()
            .insert("note".into(), json!({"type": "string"}));
        at(&mut new, "/components/schemas/NewOrder/properties/service/maxLength").clone_from(&json!(200));
        let list = at(&mut new, "/paths/~1orders~1v1~1orders/get/parameters").as_array_mut().unwrap();
        list.push(json!({"name": "placedBy", "in": "query", "schema": {"type": "string"}}));
        let copy = new["paths"]["/orders/v1/orders/{orderId}"].clone();
        new["paths"].as_object_mut().unwrap().insert("/orders/v1/orders/{orderId}/receipts".into(), copy);
        let r = diff(&old, &new);
        assert_eq!(r.breaking, 0, "{:#?}", r.changes);
        assert!(r.version_ok);
        let get = "/components/schemas/Order/properties/note";
        assert!(found(&r, Kind::Compatible, get, "field note is added"), "{:#?}", r.changes);
        assert!(
            found(
                &r,
                Kind::Compatible,
                "/paths/~1orders~1v1~1orders/get/parameters/4",
                "optional query parameter placedby"
            ),
            "{:#?}",
            r.changes
        );
        assert!(r.changes.iter().any(|c| c.message.contains("/receipts is added")), "{:#?}", r.changes);
    }

    #[test]
    fn removals_narrowings_and_type_changes_break_and_need_a_new_major() {
        let old = base();
        let mut new = old.clone();
        new["paths"]["/orders/v1/orders/{orderId}"].as_object_mut().unwrap().remove("get");
        at(&mut new, "/components/schemas/NewOrder/properties/service/maxLength").clone_from(&json!(10));
        at(&mut new, "/components/schemas/NewOrder")
            .as_object_mut()
            .unwrap()
            .insert("required".into(), json!(["service", "placedBy"]));
        at(&mut new, "/components/schemas/NewOrder/properties")
            .as_object_mut()
            .unwrap()
            .insert("placedBy".into(), json!({"type": "string"}));
        at(&mut new, "/components/schemas/Order/properties/orderId/type").clone_from(&json!("integer"));
        let media = at(&mut new, "/paths/~1orders~1v1~1orders/post/requestBody/content").as_object_mut().unwrap();
        let json_body = media.remove("application/json").unwrap();
        media.insert("application/xml".into(), json_body);
        let list = at(&mut new, "/paths/~1orders~1v1~1orders/get/parameters").as_array_mut().unwrap();
        list.push(json!({"name": "region", "in": "query", "required": true, "schema": {"type": "string"}}));
        let r = diff(&old, &new);
        assert!(r.is_breaking());
        assert!(
            found(&r, Kind::Breaking, "/paths/~1orders~1v1~1orders~1{orderId}/get", "is removed"),
            "{:#?}",
            r.changes
        );
        assert!(
            found(
                &r,
                Kind::Breaking,
                "/paths/~1orders~1v1~1orders/post/requestBody/content/application~1json",
                "media type application/json is removed"
            ),
            "{:#?}",
            r.changes
        );
        assert!(
            found(
                &r,
                Kind::Breaking,
                "/paths/~1orders~1v1~1orders/get/parameters/4",
                "required query parameter region"
            ),
            "{:#?}",
            r.changes
        );
        let order_id = "/components/schemas/Order/properties/orderId";
        assert!(found(&r, Kind::Breaking, order_id, "type string → integer"), "{:#?}", r.changes);
        assert!(!r.version_ok, "1.2.0 → 1.2.0 with breaking changes");
        assert!(r.changes.iter().any(|c| c.rule == "VER.03" && c.pointer == "/info/version"));

        // The same in a new major, under /v2: breaking, and numbered as it must be.
        let mut v2: Value =
            serde_json::from_str(&serde_json::to_string(&new).unwrap().replace("/orders/v1/", "/orders/v2/")).unwrap();
        at(&mut v2, "/info/version").clone_from(&json!("2.0.0"));
        let r = diff(&old, &v2);
        assert!(r.is_breaking() && r.version_ok, "{:#?}", r.changes);
        assert_eq!((r.old_major, r.new_major), (Some(1), Some(2)));
    }

    #[test]
    fn enum_values_and_required_fields_by_direction() {
        let old = base();
        let mut a = old.clone();
        at(&mut a, "/components/schemas/NewOrder/properties/service")
            .as_object_mut()
            .unwrap()
            .insert("enum".into(), json!(["bygglov", "parkering"]));
        let mut b = a.clone();
        at(&mut b, "/components/schemas/NewOrder/properties/service/enum").clone_from(&json!(["bygglov", "hemtjanst"]));
        at(&mut b, "/components/schemas/Order/required").clone_from(&json!(["orderId", "service"]));
        let r = diff(&a, &b);
        let body = "/components/schemas/NewOrder/properties/service/enum";
        assert!(found(&r, Kind::Breaking, body, "\"parkering\" is removed"), "{:#?}", r.changes);
        assert!(found(&r, Kind::Compatible, body, "\"hemtjanst\" is added"), "{:#?}", r.changes);
        assert!(
            r.changes.iter().any(|c| c.kind == Kind::Breaking && c.message == "field createdAt may now be missing"),
            "{:#?}",
            r.changes
        );
    }

    #[test]
    fn fields_in_all_of_parts_are_compared_and_nullable_widens() {
        // Order read as allOf [its own fields, a shared Audit part]: the same fields, so no change.
        let old = base();
        let mut split = old.clone();
        let order = at(&mut split, "/components/schemas/Order").clone();
        let mut own = order.clone();
        let props = own["properties"].as_object_mut().unwrap();
        let created = props.remove("createdAt").unwrap();
        own["required"] = json!(["orderId", "service"]);
        split["components"]["schemas"]["Audit"] =
            json!({"type": "object", "required": ["createdAt"], "properties": {"createdAt": created}});
        split["components"]["schemas"]["Order"] = json!({"allOf": [own, {"$ref": "#/components/schemas/Audit"}]});
        let r = diff(&old, &split);
        assert_eq!((r.breaking, r.compatible), (0, 0), "moving a field into a part changes nothing: {:#?}", r.changes);
        // A required field removed from the part breaks readers; the place is in the part.
        let mut removed = split.clone();
        at(&mut removed, "/components/schemas/Audit").as_object_mut().unwrap().insert("properties".into(), json!({}));
        at(&mut removed, "/components/schemas/Audit").as_object_mut().unwrap().insert("required".into(), json!([]));
        let r = diff(&split, &removed);
        assert!(
            r.changes.iter().any(|c| c.kind == Kind::Breaking
                && c.pointer == "/components/schemas/Audit/properties/createdAt"
                && c.document == "old"
                && c.message == "required field createdAt is removed"),
            "{:#?}",
            r.changes
        );
        // OpenAPI 3.0's nullable: a response field that may now be null breaks readers.
        let mut nullable = old.clone();
        at(&mut nullable, "/components/schemas/Order/properties/service")
            .as_object_mut()
            .unwrap()
            .insert("nullable".into(), json!(true));
        let r = diff(&old, &nullable);
        assert!(
            r.changes.iter().any(|c| c.kind == Kind::Breaking && c.message.contains("→ null|string")),
            "{:#?}",
            r.changes
        );
    }
}
