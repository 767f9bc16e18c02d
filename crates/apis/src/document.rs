//! Reading an uploaded OpenAPI document: JSON or YAML (told apart by the first non-blank character), at
//! most [`MAX_BYTES`], an OpenAPI 3.0 or 3.1 document with `info` and `paths` — or an error that says
//! where (the parser's line and column) and what.

use serde_json::Value;

/// The largest document taken (a national API's description is far below; a bigger upload is refused
/// before it is parsed).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Why an upload is not a document we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the document is {0} bytes; at most {MAX_BYTES} are taken")]
    TooLarge(usize),
    #[error("line {line}, column {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
    #[error("{pointer}: {message}")]
    NotOpenApi { pointer: String, message: String },
}

/// The OpenAPI major.minor a document declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V3_0,
    V3_1,
}

/// Parse `bytes` as JSON or YAML and check that it is an OpenAPI 3.0/3.1 document.
pub fn parse(bytes: &[u8]) -> Result<(Value, Version), DocumentError> {
    if bytes.len() > MAX_BYTES {
        return Err(DocumentError::TooLarge(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = position(&bytes[..e.valid_up_to()]);
        DocumentError::Syntax { line, column, message: "not UTF-8 text".into() }
    })?;
    let doc: Value = if text.trim_start().starts_with(['{', '[']) {
        serde_json::from_str(text).map_err(|e| DocumentError::Syntax {
            line: e.line(),
            column: e.column(),
            message: format!("not JSON: {e}"),
        })?
    } else {
        // An alias repeats a subtree; a few hundred kilobytes of them can expand to billions of values.
        // OpenAPI documents do not need them ($ref does that job), so they are refused before parsing.
        if let Some((line, column)) = yaml_alias(text) {
            return Err(DocumentError::Syntax {
                line,
                column,
                message: "a YAML alias (*name): write the document out in full, or use $ref".into(),
            });
        }
        yaml_serde::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            DocumentError::Syntax { line, column, message: format!("not YAML: {e}") }
        })?
    };
    let version = check_shape(&doc)?;
    Ok((doc, version))
}

/// Where the first YAML alias is: a `*name` where a value starts (after `: `, `- `, `[`, `,` or at the
/// start of a line). An asterisk inside text (`*emphasis*`) is not one.
fn yaml_alias(text: &str) -> Option<(usize, usize)> {
    for (n, line) in text.lines().enumerate() {
        let bytes = line.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b != b'*' || !bytes.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                continue;
            }
            let before = line[..i].trim_end();
            let starts_value = before.is_empty() || before.ends_with([':', '-', '[', ',', '{', '?']);
            let end = bytes[i + 1..].iter().position(|c| !(c.is_ascii_alphanumeric() || b"_-.".contains(c)));
            let after = end.map_or("", |e| line[i + 1 + e..].trim_start());
            let ends_value = after.is_empty() || after.starts_with([',', ']', '}', '#']);
            if starts_value && ends_value {
                return Some((n + 1, i + 1));
            }
        }
    }
    None
}

fn position(prefix: &[u8]) -> (usize, usize) {
    let line = prefix.iter().filter(|b| **b == b'\n').count() + 1;
    let column = prefix.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, column)
}

fn not_openapi(pointer: &str, message: impl Into<String>) -> DocumentError {
    DocumentError::NotOpenApi { pointer: pointer.into(), message: message.into() }
}

fn check_shape(doc: &Value) -> Result<Version, DocumentError> {
    if !doc.is_object() {
        return Err(not_openapi("", "an OpenAPI document is an object"));
    }
    let version = match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.1.") => Version::V3_1,
        Some(v) if v.starts_with("3.0.") => Version::V3_0,
        Some(v) => return Err(not_openapi("/openapi", format!("OpenAPI 3.0.x or 3.1.x, not {v}"))),
        None if doc.get("swagger").is_some() => {
            return Err(not_openapi("/swagger", "Swagger 2.0: convert it to OpenAPI 3.1 first"));
        }
        None => return Err(not_openapi("/openapi", "missing: this is not an OpenAPI document")),
    };
    if !doc.get("info").is_some_and(Value::is_object) {
        return Err(not_openapi("/info", "missing or not an object"));
    }
    match doc.get("paths") {
        Some(p) if p.is_object() => {}
        None if version == Version::V3_1 && doc.get("webhooks").is_some() => {}
        _ => return Err(not_openapi("/paths", "missing or not an object")),
    }
    Ok(version)
}

/// A JSON pointer segment (`~` and `/` escaped, RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Follow local `$ref`s (`#/…`) from `value` until a value that is not a reference (at most 32 hops; a
/// reference that leads nowhere gives `Value::Null`).
pub fn deref<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with('#') => match doc.pointer(&r[1..]) {
                Some(target) => value = target,
                None => return &Value::Null,
            },
            _ => return value,
        }
    }
    &Value::Null
}

/// [`deref`], with the pointer of where it led (`at` itself when `value` is no reference): a finding
/// about a shared component points at the component, where it is mended once.
pub fn deref_at<'a>(doc: &'a Value, mut value: &'a Value, at: String) -> (&'a Value, String) {
    let mut pointer = at;
    for _ in 0..32 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with('#') => match doc.pointer(&r[1..]) {
                Some(target) => {
                    value = target;
                    pointer = r[1..].to_owned();
                }
                None => return (&Value::Null, pointer),
            },
            _ => return (value, pointer),
        }
    }
    (&Value::Null, pointer)
}

/// The HTTP methods an OpenAPI path item holds operations under.
pub const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

/// One operation: its path, method, the operation object and its JSON pointer.
pub struct Operation<'a> {
    pub path: &'a str,
    pub method: &'a str,
    pub op: &'a Value,
    pub item: &'a Value,
    pub pointer: String,
}

/// Every operation of the document, in document order.
pub fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut out = Vec::new();
    for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
        let item = deref(doc, item);
        for method in METHODS {
            if let Some(op) = item.get(method).filter(|o| o.is_object()) {
                out.push(Operation { path, method, op, item, pointer: format!("/paths/{}/{method}", escape(path)) });
            }
        }
    }
    out
}

/// An operation's parameters (the path item's and its own; its own win by name and place), resolved,
/// each with its pointer.
pub fn parameters<'a>(doc: &'a Value, op: &Operation<'a>) -> Vec<(&'a Value, String)> {
    let mut out: Vec<(&Value, String)> = Vec::new();
    let path_pointer = format!("/paths/{}", escape(op.path));
    for (list, base) in [(op.item.get("parameters"), path_pointer), (op.op.get("parameters"), op.pointer.clone())] {
        for (i, p) in list.and_then(Value::as_array).into_iter().flatten().enumerate() {
            let (p, at) = deref_at(doc, p, format!("{base}/parameters/{i}"));
            let key = (p.get("name"), p.get("in"));
            out.retain(|(q, _)| (q.get("name"), q.get("in")) != key);
            out.push((p, at));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_say_where() {
        let e = parse(b"{\"openapi\": \"3.1.0\",\n  \"info\": }").unwrap_err();
        assert!(matches!(e, DocumentError::Syntax { line: 2, .. }), "{e:?}");
        let e = parse(b"openapi: 3.1.0\ninfo:\n  title: [unclosed\n").unwrap_err();
        assert!(matches!(e, DocumentError::Syntax { line: 3 | 4, .. }), "{e:?}");
        let e = parse(b"swagger: '2.0'\n").unwrap_err();
        assert!(e.to_string().starts_with("/swagger"), "{e}");
        let e = parse(b"openapi: 3.1.0\ninfo: {title: t, version: '1'}\n").unwrap_err();
        assert_eq!(e.to_string(), "/paths: missing or not an object");
        let big = vec![b' '; MAX_BYTES + 1];
        assert_eq!(parse(&big).unwrap_err(), DocumentError::TooLarge(MAX_BYTES + 1));
        let bomb = b"openapi: 3.1.0\na: &a [1, 1, 1]\nb: [*a, *a]\ninfo: {title: t, version: '1'}\npaths: {}\n";
        let e = parse(bomb).unwrap_err();
        assert!(matches!(e, DocumentError::Syntax { line: 3, column: 5, .. }), "{e:?}");
        let emphasis = b"openapi: 3.1.0\ninfo: {title: t, version: '1', description: 'a *real* note'}\npaths: {}\n";
        assert!(parse(emphasis).is_ok());
        let (doc, v) = parse(b"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n").unwrap();
        assert_eq!((doc["info"]["title"].as_str(), v), (Some("t"), Version::V3_0));
    }
}
