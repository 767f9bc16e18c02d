//! The lint against its corpus: a passing and a failing document per rule.

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
