//! Audit events: who did what to which object, for whom, about whom, with what outcome — and their
//! canonical bytes, which are the log's leaves.
//!
//! Leaf bytes are RFC 8785 (JCS) JSON: object keys sorted by UTF-16 code units, no insignificant
//! whitespace, strings escaped as JCS requires. Events hold no floating-point numbers, so JCS number
//! formatting reduces to plain integers; a float anywhere is refused rather than guessed.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Actor {
    pub kind: ActorKind,
    /// Person: normalised identity number; employee: the same, with `organisation`; system/node: its id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    Person,
    Employee,
    System,
    Node,
    /// Not authenticated (a denied anonymous attempt).
    Anonymous,
}

/// What was acted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectRef {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Result {
    Allowed,
    Denied,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Outcome {
    pub result: Result,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One audit event. `time` is RFC 3339 UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditEvent {
    #[schema(example = "2026-11-29T07:00:00Z")]
    pub time: String,
    pub actor: Actor,
    /// The party the actor represented (a company, a principal in Mina ombud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// Dotted verb, e.g. `plan.replace`, `audit.events.read`, `alert.denied-burst`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// Persons the data is about (normalised identity numbers), for "who accessed my data".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_subjects: Vec<String>,
    pub outcome: Outcome,
    /// The W3C trace id of the request that caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Hidden from the data subjects until `revealAt` (or for good, if absent).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restricted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal_at: Option<String>,
    /// Facts a block records with the event, as text (e.g. the SHA-256 of a statement the federation
    /// issued, a certificate's serial). Absent on most events, so their bytes are as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    #[error("floating-point numbers are not allowed in audit events ({0})")]
    Float(String),
}

/// RFC 8785 canonical JSON of `value`.
pub fn canonical_json(value: &Value) -> std::result::Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out)?;
    Ok(out)
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) -> std::result::Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(CanonicalError::Float(n.to_string()));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // JCS orders keys by their UTF-16 code units, which differs from UTF-8 byte order only
            // above U+FFFF versus U+E000–U+FFFF; compare the UTF-16 forms to be exact.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(&map[key], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// JCS string escaping: `"` and `\`, the short escapes \b \t \n \f \r, other controls as \u00xx
/// (lowercase hex), everything else as UTF-8.
fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

impl AuditEvent {
    /// Whether anyone may read this event in full from the log. Only what the federation issues about
    /// organisations (entity configurations, statements, trust marks, certificates: `federation.*.issue`),
    /// done by a system or node, naming no person and not restricted. Everything else is shown to
    /// strangers as its leaf hash only: events name persons (actors, data subjects, addresses), and the
    /// public checkpoint gives the size, so an open entry endpoint would let anyone walk all of them.
    pub fn is_public(&self) -> bool {
        !self.restricted
            && self.data_subjects.is_empty()
            && self.on_behalf_of.is_none()
            && matches!(self.actor.kind, ActorKind::System | ActorKind::Node)
            && self.action.starts_with("federation.")
            && self.action.ends_with(".issue")
    }

    /// The leaf bytes of this event.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // An AuditEvent has only strings, booleans, arrays and objects: canonicalisation cannot fail.
        serde_json::to_value(self).ok().and_then(|v| canonical_json(&v).ok()).unwrap_or_default()
    }

    /// A short description for human logs: identity numbers never appear in clear.
    pub fn log_summary(&self) -> String {
        format!(
            "{} by {:?} {} → {:?}{}",
            self.action,
            self.actor.kind,
            mask(&self.actor.id),
            self.outcome.result,
            if self.data_subjects.is_empty() {
                String::new()
            } else {
                format!(" ({} data subjects)", self.data_subjects.len())
            }
        )
    }
}

/// Mask anything that looks like a personal identity number (10–12 digits) for human log output.
pub fn mask(id: &str) -> String {
    let digits = id.chars().filter(char::is_ascii_digit).count();
    if digits >= 10 && id.chars().all(|c| c.is_ascii_digit() || c == '-' || c == '+') {
        format!("{}-****", &id[..id.len().min(8)])
    } else {
        id.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jcs_orders_keys_and_escapes_like_rfc_8785() {
        // RFC 8785 §3.2.2/§3.2.3 style inputs.
        let value = json!({"b": [1, true, null], "a": "x\u{1}\n\"\\/é", "\u{20ac}": 1, "\r": 2, "1": 3});
        let text = String::from_utf8(canonical_json(&value).unwrap()).unwrap();
        assert_eq!(text, "{\"\\r\":2,\"1\":3,\"a\":\"x\\u0001\\n\\\"\\\\/é\",\"b\":[1,true,null],\"€\":1}");
        assert!(canonical_json(&json!({"x": 1.5})).is_err());
    }

    #[test]
    fn utf16_ordering_differs_from_utf8_above_the_bmp() {
        // U+1F600 (surrogates D83D…) sorts before U+FB01 in UTF-16, after it in UTF-8.
        let value = json!({"\u{fb01}": 1, "\u{1f600}": 2});
        let text = String::from_utf8(canonical_json(&value).unwrap()).unwrap();
        assert_eq!(text, "{\"\u{1f600}\":2,\"\u{fb01}\":1}");
    }

    #[test]
    fn masks_identity_numbers() {
        assert_eq!(mask("191212121212"), "19121212-****");
        assert_eq!(mask("node-a"), "node-a");
    }
}

/// Who is acting in a request, and under which trace: what a service function needs to describe its
/// audit events. The server builds it from the authenticated caller and the traceparent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub actor: Actor,
    pub on_behalf_of: Option<String>,
    pub correlation_id: Option<String>,
}

impl Context {
    /// A context for work the system does on its own (start-up seeding, rules).
    pub fn system(id: &str) -> Context {
        Context {
            actor: Actor { kind: ActorKind::System, id: id.into(), organisation: None },
            on_behalf_of: None,
            correlation_id: None,
        }
    }

    /// An event by this context's actor, now.
    pub fn event(&self, action: &str, object: Option<ObjectRef>, result: Result, reason: Option<String>) -> AuditEvent {
        AuditEvent {
            time: ena_core::time::now_rfc3339(),
            actor: self.actor.clone(),
            on_behalf_of: self.on_behalf_of.clone(),
            action: action.to_owned(),
            object,
            data_subjects: Vec::new(),
            outcome: Outcome { result, reason },
            correlation_id: self.correlation_id.clone(),
            restricted: false,
            reveal_at: None,
            details: None,
        }
    }
}

/// Most events a system submits at once.
pub const MAX_SUBMITTED: usize = 1000;

/// Check and normalise events a system submits (not those ena's blocks record): 1 to
/// [`MAX_SUBMITTED`] of them, RFC 3339 times, an action that is not `alert.` (reserved for the
/// follow-up rules), data subjects that are identity numbers (normalised to 12 digits, and never
/// echoed in an error); a missing correlation id becomes the request's. Every bad field is named.
pub fn check_submitted(
    events: &mut [AuditEvent],
    correlation: Option<&str>,
) -> std::result::Result<(), Vec<ena_core::FieldError>> {
    use ena_core::{FieldError, PersonId};
    let mut errors = Vec::new();
    if events.is_empty() || events.len() > MAX_SUBMITTED {
        errors.push(FieldError::new("body", events.len(), format!("send 1 to {MAX_SUBMITTED} events")));
    }
    let many = events.len() > 1;
    for (i, e) in events.iter_mut().enumerate() {
        let at = |field: &str| if many { format!("[{i}].{field}") } else { field.to_owned() };
        if ena_core::Timestamp::parse_rfc3339(&e.time).is_none() {
            errors.push(FieldError::new(at("time"), &e.time, "must be an RFC 3339 date-time"));
        }
        if e.action.trim().is_empty() || e.action.starts_with("alert.") {
            errors.push(FieldError::new(
                at("action"),
                &e.action,
                "must be non-empty and not start with alert. (reserved for rules)",
            ));
        }
        for (j, subject) in e.data_subjects.iter_mut().enumerate() {
            match PersonId::parse(subject) {
                Ok(id) => *subject = id.as_str().to_owned(),
                Err(err) => {
                    errors.push(FieldError::new(at(&format!("dataSubjects[{j}]")), "(hidden)", err.to_string()))
                }
            }
        }
        if e.correlation_id.is_none() {
            e.correlation_id = correlation.map(str::to_owned);
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}
