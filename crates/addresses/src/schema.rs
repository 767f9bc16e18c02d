//! Message type schemas: JSON Schema 2020-12, compiled once, never fetched from anywhere (the
//! `jsonschema` crate is built without its HTTP and file resolvers, so a remote `$ref` fails to compile
//! instead of reaching out — a member's schema must not make our servers call arbitrary URLs).

use std::sync::Arc;

use ena_core::FieldError;
use serde_json::Value;

/// The keyword a message type's schema marks a property with when it holds the identity number of the
/// person the message is about (`"x-ena-data-subject": true`). The sending and the receiving node then
/// name that person as the data subject of the message's events, so the person sees the message in
/// Min profil → Vem har läst mina uppgifter. JSON Schema ignores keywords it does not know.
pub const DATA_SUBJECT_KEYWORD: &str = "x-ena-data-subject";

/// A compiled schema, with where its payloads name the persons they are about.
#[derive(Clone)]
pub struct Schema(Arc<jsonschema::Validator>, Arc<Vec<Vec<Step>>>);

/// One step of a path to a data-subject property: a named property, or every item of an array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Property(String),
    Items,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

/// Most payload errors reported at once.
const MAX_ERRORS: usize = 20;

impl Schema {
    /// Compile `schema` as JSON Schema 2020-12 (it is checked against the meta-schema first).
    pub fn compile(schema: &Value) -> Result<Schema, String> {
        if !schema.is_object() {
            return Err("a JSON Schema must be an object".into());
        }
        if let Some(d) = schema.get("$schema").and_then(Value::as_str)
            && d != "https://json-schema.org/draft/2020-12/schema"
        {
            return Err(format!("only JSON Schema 2020-12 is accepted, not {d}"));
        }
        let validator = jsonschema::draft202012::new(schema).map_err(|e| e.to_string())?;
        let mut paths = Vec::new();
        subject_paths(schema, &mut Vec::new(), &mut paths, 0);
        Ok(Schema(Arc::new(validator), Arc::new(paths)))
    }

    /// The persons `payload` (already checked) is about: the values at the properties the schema marks
    /// with [`DATA_SUBJECT_KEYWORD`] that are identity numbers, normalised, sorted, without repeats.
    /// Anything else there (empty, an organisation number) names no one.
    pub fn data_subjects(&self, payload: &Value) -> Vec<String> {
        let mut found = Vec::new();
        for path in self.1.iter() {
            collect(payload, path, &mut found);
        }
        found.sort();
        found.dedup();
        found
    }

    /// Check `payload`; each violation becomes a field error whose path is `prefix` + the JSON pointer
    /// of the offending value (so `payload/amount`).
    pub fn check(&self, payload: &Value, prefix: &str) -> Result<(), Vec<FieldError>> {
        let errors: Vec<FieldError> = self
            .0
            .iter_errors(payload)
            .take(MAX_ERRORS)
            .map(|e| {
                let mut pointer = e.instance_path().to_string();
                // A missing property is named itself (`payload/child`), not only the object lacking it,
                // so the sender sees which field to add.
                if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind()
                    && let Some(name) = property.as_str()
                {
                    pointer.push('/');
                    pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
                }
                let value = e.instance().to_string();
                let value =
                    if value.len() > 80 { format!("{}…", &value[..value.floor_char_boundary(80)]) } else { value };
                FieldError::new(format!("{prefix}{pointer}"), value, e.to_string())
            })
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// Deepest nesting searched for marked properties (a schema is a member's input).
const MAX_DEPTH: usize = 16;

/// Walk `properties` and `items` (the plain shapes message payloads have; `$ref` and combinators are not
/// followed) and record the path of every property marked as a data subject.
fn subject_paths(schema: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if schema.get(DATA_SUBJECT_KEYWORD).and_then(Value::as_bool) == Some(true) && !at.is_empty() {
        out.push(at.clone());
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            at.push(Step::Property(name.clone()));
            subject_paths(sub, at, out, depth + 1);
            at.pop();
        }
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        at.push(Step::Items);
        subject_paths(items, at, out, depth + 1);
        at.pop();
    }
}

fn collect(value: &Value, path: &[Step], out: &mut Vec<String>) {
    match path.split_first() {
        None => {
            if let Some(id) = value.as_str().and_then(|s| ena_core::PersonId::parse(s).ok()) {
                out.push(id.as_str().to_owned());
            }
        }
        Some((Step::Property(name), rest)) => {
            if let Some(v) = value.get(name) {
                collect(v, rest, out);
            }
        }
        Some((Step::Items, rest)) => {
            for v in value.as_array().into_iter().flatten() {
                collect(v, rest, out);
            }
        }
    }
}

#[cfg(test)]
mod subject_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn marked_properties_name_their_persons_and_nothing_else() {
        let schema = Schema::compile(&json!({
            "type": "object",
            "properties": {
                "barn": {"type": "string", "x-ena-data-subject": true},
                "anmalare": {"type": "string"},
                "familj": {"type": "array", "items": {"type": "object",
                    "properties": {"pnr": {"type": "string", "x-ena-data-subject": true}}}}
            }
        }))
        .unwrap();
        let payload = json!({
            "barn": "19900101-2385",
            "anmalare": "191212121212",
            "familj": [{"pnr": "191212121212"}, {"pnr": "not a number"}, {"pnr": "199001012385"}, {"pnr": "201401012383"}]
        });
        // Normalised, once each; a number whose check digit is wrong names no one.
        assert_eq!(schema.data_subjects(&payload), vec!["191212121212".to_owned(), "199001012385".to_owned()]);
        let unmarked = Schema::compile(&json!({"type": "object", "properties": {"pnr": {"type": "string"}}})).unwrap();
        assert!(unmarked.data_subjects(&json!({"pnr": "191212121212"})).is_empty());
    }
}
