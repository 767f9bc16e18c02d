//! Message type schemas: JSON Schema 2020-12, compiled once, never fetched from anywhere (the
//! `jsonschema` crate is built without its HTTP and file resolvers, so a remote `$ref` fails to compile
//! instead of reaching out — a member's schema must not make our servers call arbitrary URLs).

use std::sync::Arc;

use ena_core::FieldError;
use serde_json::Value;

/// A compiled schema.
#[derive(Clone)]
pub struct Schema(Arc<jsonschema::Validator>);

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
        jsonschema::draft202012::new(schema).map(|v| Schema(Arc::new(v))).map_err(|e| e.to_string())
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
