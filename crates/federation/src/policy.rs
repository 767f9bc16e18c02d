//! OpenID Federation metadata policy (1.0 §6.1): the seven standard operators, checking one policy's
//! operator combinations, merging superior and subordinate policies top-down, and applying the merged
//! policy to an entity's metadata.
//!
//! A policy is `{entity_type: {parameter: {operator: value}}}`. Operators are applied in the order the
//! spec fixes: value, add, default, one_of, subset_of, superset_of, essential (modifiers first, checks
//! after). Any operator we do not know is refused, since its meaning cannot be honoured.

use serde_json::{Map, Value};

/// A policy that cannot be merged or applied; `path` is `entity_type.parameter[.operator]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct PolicyError {
    pub path: String,
    pub reason: String,
}

fn fail<T>(path: impl Into<String>, reason: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError { path: path.into(), reason: reason.into() })
}

const OPERATORS: [&str; 7] = ["value", "add", "default", "one_of", "subset_of", "superset_of", "essential"];

/// Values of a parameter as a list: arrays as they are, a scalar as one element.
fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

fn subset(a: &[Value], b: &[Value]) -> bool {
    a.iter().all(|x| b.contains(x))
}

fn intersect(a: &[Value], b: &[Value]) -> Vec<Value> {
    a.iter().filter(|x| b.contains(x)).cloned().collect()
}

fn union(a: &[Value], b: &[Value]) -> Vec<Value> {
    let mut out = a.to_vec();
    for x in b {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

fn same_set(a: &[Value], b: &[Value]) -> bool {
    subset(a, b) && subset(b, a)
}

/// Check the operators of one parameter: known operators, values of the right shape, and the
/// combinations §6.1.3.1 allows.
fn check_parameter(path: &str, ops: &Map<String, Value>) -> Result<(), PolicyError> {
    for (name, v) in ops {
        let at = format!("{path}.{name}");
        match name.as_str() {
            "add" | "subset_of" | "superset_of" | "one_of" if !v.is_array() => return fail(at, "must be an array"),
            "essential" if !v.is_boolean() => return fail(at, "must be true or false"),
            "default" if v.is_null() => return fail(at, "must not be null"),
            n if !OPERATORS.contains(&n) => return fail(at, "unknown policy operator"),
            _ => {}
        }
    }
    let get = |n: &str| ops.get(n);
    let arr = |n: &str| get(n).map(list);
    if let Some(value) = get("value") {
        let vl = list(value);
        if value.is_null() {
            if get("essential") == Some(&Value::Bool(true)) {
                return fail(format!("{path}.value"), "null (remove) conflicts with essential=true");
            }
            if ops.len() > 1 && !ops.keys().all(|k| k == "value" || k == "essential") {
                return fail(format!("{path}.value"), "null (remove) cannot combine with other operators");
            }
        }
        if let Some(add) = arr("add")
            && !subset(&add, &vl)
        {
            return fail(format!("{path}.add"), "value must contain every added value");
        }
        if let Some(d) = get("default")
            && value.is_null()
        {
            return fail(format!("{path}.default"), format!("conflicts with value null (default {d})"));
        }
        if let Some(one) = arr("one_of")
            && !one.contains(value)
        {
            return fail(format!("{path}.one_of"), "value is not one of the allowed values");
        }
        if let Some(sub) = arr("subset_of")
            && !subset(&vl, &sub)
        {
            return fail(format!("{path}.subset_of"), "value is not a subset of subset_of");
        }
        if let Some(sup) = arr("superset_of")
            && !subset(&sup, &vl)
        {
            return fail(format!("{path}.superset_of"), "value is not a superset of superset_of");
        }
    }
    if get("one_of").is_some() && (get("add").is_some() || get("subset_of").is_some() || get("superset_of").is_some()) {
        return fail(format!("{path}.one_of"), "cannot combine with add, subset_of or superset_of");
    }
    if let (Some(add), Some(sub)) = (arr("add"), arr("subset_of"))
        && !subset(&add, &sub)
    {
        return fail(format!("{path}.add"), "added values must be within subset_of");
    }
    if let (Some(d), Some(one)) = (get("default"), arr("one_of"))
        && !one.contains(d)
    {
        return fail(format!("{path}.default"), "default is not one of the allowed values");
    }
    if let (Some(d), Some(sub)) = (get("default"), arr("subset_of"))
        && !subset(&list(d), &sub)
    {
        return fail(format!("{path}.default"), "default is not within subset_of");
    }
    if let (Some(d), Some(sup)) = (get("default"), arr("superset_of"))
        && !subset(&sup, &list(d))
    {
        return fail(format!("{path}.default"), "default does not contain superset_of");
    }
    if let (Some(sup), Some(sub)) = (arr("superset_of"), arr("subset_of"))
        && !subset(&sup, &sub)
    {
        return fail(format!("{path}.superset_of"), "superset_of must be within subset_of");
    }
    Ok(())
}

/// Check a whole metadata policy object.
pub fn check(policy: &Value) -> Result<(), PolicyError> {
    let Some(types) = policy.as_object() else { return fail("metadata_policy", "must be an object") };
    for (entity_type, params) in types {
        let Some(params) = params.as_object() else { return fail(entity_type.clone(), "must be an object") };
        for (param, ops) in params {
            let path = format!("{entity_type}.{param}");
            let Some(ops) = ops.as_object() else { return fail(path, "must be an object of operators") };
            check_parameter(&path, ops)?;
        }
    }
    Ok(())
}

/// Merge a subordinate's policy for one parameter into the superior's (§6.1.4.1).
fn merge_parameter(
    path: &str,
    sup: &Map<String, Value>,
    sub: &Map<String, Value>,
) -> Result<Map<String, Value>, PolicyError> {
    let mut out = sup.clone();
    for (name, v) in sub {
        let at = format!("{path}.{name}");
        let merged = match (name.as_str(), sup.get(name)) {
            (_, None) => v.clone(),
            ("value", Some(s)) => {
                let equal = s == v || (s.is_array() && v.is_array() && same_set(&list(s), &list(v)));
                if !equal {
                    return fail(at, format!("superior sets {s}, subordinate sets {v}"));
                }
                s.clone()
            }
            ("default", Some(s)) => {
                if s != v {
                    return fail(at, format!("superior default {s}, subordinate default {v}"));
                }
                s.clone()
            }
            ("add" | "superset_of", Some(s)) => Value::Array(union(&list(s), &list(v))),
            ("one_of", Some(s)) => {
                let both = intersect(&list(s), &list(v));
                if both.is_empty() {
                    return fail(at, "superior and subordinate allow no value in common");
                }
                Value::Array(both)
            }
            ("subset_of", Some(s)) => Value::Array(intersect(&list(s), &list(v))),
            // A superior's essential=true cannot be lifted by a subordinate.
            ("essential", Some(s)) => Value::Bool(s.as_bool().unwrap_or(false) || v.as_bool().unwrap_or(false)),
            (_, Some(_)) => return fail(at, "unknown policy operator"),
        };
        out.insert(name.clone(), merged);
    }
    check_parameter(path, &out)?;
    Ok(out)
}

/// Merge `subordinate` into `superior` (both whole metadata policies); the result is checked.
pub fn merge(superior: &Value, subordinate: &Value) -> Result<Value, PolicyError> {
    check(superior)?;
    check(subordinate)?;
    let mut out = superior.as_object().cloned().unwrap_or_default();
    for (entity_type, params) in subordinate.as_object().into_iter().flatten() {
        let target = out.entry(entity_type.clone()).or_insert_with(|| Value::Object(Map::new()));
        let target = target.as_object_mut().expect("checked: policies per type are objects");
        for (param, ops) in params.as_object().into_iter().flatten() {
            let path = format!("{entity_type}.{param}");
            let sub_ops = ops.as_object().expect("checked");
            let merged = match target.get(param).and_then(Value::as_object) {
                Some(sup_ops) => merge_parameter(&path, sup_ops, sub_ops)?,
                None => sub_ops.clone(),
            };
            target.insert(param.clone(), Value::Object(merged));
        }
    }
    Ok(Value::Object(out))
}

/// Apply a (merged) policy to one entity type's metadata; returns the resolved metadata.
pub fn apply_type(
    entity_type: &str,
    policy: &Map<String, Value>,
    metadata: &Map<String, Value>,
) -> Result<Map<String, Value>, PolicyError> {
    let mut out = metadata.clone();
    for (param, ops) in policy {
        let path = format!("{entity_type}.{param}");
        let Some(ops) = ops.as_object() else { return fail(path, "must be an object of operators") };
        if let Some(v) = ops.get("value") {
            if v.is_null() {
                out.remove(param);
            } else {
                out.insert(param.clone(), v.clone());
            }
        }
        if let Some(add) = ops.get("add") {
            let current = out.get(param).map(list).unwrap_or_default();
            out.insert(param.clone(), Value::Array(union(&current, &list(add))));
        }
        if let Some(d) = ops.get("default")
            && !out.contains_key(param)
        {
            out.insert(param.clone(), d.clone());
        }
        if let (Some(one), Some(current)) = (ops.get("one_of"), out.get(param))
            && !list(one).contains(current)
        {
            return fail(format!("{path}.one_of"), format!("{current} is not one of {one}"));
        }
        if let (Some(sub), Some(current)) = (ops.get("subset_of"), out.get(param).cloned()) {
            out.insert(param.clone(), Value::Array(intersect(&list(&current), &list(sub))));
        }
        if let (Some(sup), Some(current)) = (ops.get("superset_of"), out.get(param))
            && !subset(&list(sup), &list(current))
        {
            return fail(format!("{path}.superset_of"), format!("{current} does not contain all of {sup}"));
        }
        if ops.get("essential") == Some(&Value::Bool(true)) && !out.contains_key(param) {
            return fail(format!("{path}.essential"), "the parameter is required but absent");
        }
    }
    Ok(out)
}

/// Apply a whole policy to a whole metadata object (`{entity_type: {...}}`).
pub fn apply(policy: &Value, metadata: &Value) -> Result<Value, PolicyError> {
    check(policy)?;
    let mut out = metadata.as_object().cloned().unwrap_or_default();
    for (entity_type, md) in out.iter_mut() {
        if let Some(p) = policy.get(entity_type).and_then(Value::as_object) {
            let Some(m) = md.as_object() else { return fail(entity_type.clone(), "metadata must be an object") };
            *md = Value::Object(apply_type(entity_type, p, m)?);
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The example of OpenID Federation 1.0 §6.1.6 (a trust anchor's and an intermediate's policy for a
    /// relying party), written out by us from the spec's tables.
    #[test]
    fn merges_and_applies_like_the_spec_example() {
        let ta = json!({"openid_relying_party": {
            "grant_types": {"subset_of": ["authorization_code", "refresh_token"]},
            "token_endpoint_auth_method": {"one_of": ["private_key_jwt", "self_signed_tls_client_auth"], "essential": true},
            "token_endpoint_auth_signing_alg": {"one_of": ["PS256", "ES256"]},
            "subject_type": {"value": "pairwise"},
            "contacts": {"add": ["helpdesk@federation.example.org"]}
        }});
        let intermediate = json!({"openid_relying_party": {
            "grant_types": {"subset_of": ["authorization_code"]},
            "token_endpoint_auth_method": {"one_of": ["self_signed_tls_client_auth"]},
            "token_endpoint_auth_signing_alg": {"one_of": ["ES256"], "default": "ES256"},
            "contacts": {"add": ["helpdesk@org.example.org"]}
        }});
        let merged = merge(&ta, &intermediate).unwrap();
        let rp = &merged["openid_relying_party"];
        assert_eq!(rp["grant_types"]["subset_of"], json!(["authorization_code"]));
        assert_eq!(rp["token_endpoint_auth_method"]["one_of"], json!(["self_signed_tls_client_auth"]));
        assert_eq!(rp["token_endpoint_auth_method"]["essential"], json!(true));
        assert_eq!(rp["contacts"]["add"], json!(["helpdesk@federation.example.org", "helpdesk@org.example.org"]));

        let metadata = json!({"openid_relying_party": {
            "redirect_uris": ["https://rp.example.org/callback"],
            "grant_types": ["authorization_code", "implicit"],
            "token_endpoint_auth_method": "self_signed_tls_client_auth",
            "contacts": ["rp_admins@rp.example.org"],
            "subject_type": "public"
        }});
        let resolved = apply(&merged, &metadata).unwrap();
        let rp = &resolved["openid_relying_party"];
        assert_eq!(rp["grant_types"], json!(["authorization_code"]));
        assert_eq!(rp["subject_type"], json!("pairwise"));
        assert_eq!(rp["token_endpoint_auth_signing_alg"], json!("ES256"));
        assert_eq!(
            rp["contacts"],
            json!(["rp_admins@rp.example.org", "helpdesk@federation.example.org", "helpdesk@org.example.org"])
        );
        assert_eq!(rp["redirect_uris"], json!(["https://rp.example.org/callback"]));
    }

    #[test]
    fn conflicts_are_policy_errors() {
        let p = |v: Value| json!({"openid_provider": {"x": v}});
        let err = |a: Value, b: Value| merge(&p(a), &p(b)).unwrap_err().path;
        assert_eq!(err(json!({"value": "a"}), json!({"value": "b"})), "openid_provider.x.value");
        assert_eq!(err(json!({"default": "a"}), json!({"default": "b"})), "openid_provider.x.default");
        assert_eq!(err(json!({"one_of": ["a"]}), json!({"one_of": ["b"]})), "openid_provider.x.one_of");
        // The merged result is checked too: a value outside a superior's subset_of.
        assert_eq!(err(json!({"subset_of": ["a"]}), json!({"value": ["b"]})), "openid_provider.x.subset_of");
        // One policy on its own.
        let check_err = |ops: Value| check(&p(ops)).unwrap_err().path;
        assert_eq!(check_err(json!({"max_length": 3})), "openid_provider.x.max_length");
        assert_eq!(check_err(json!({"add": "a"})), "openid_provider.x.add");
        assert_eq!(check_err(json!({"one_of": ["a"], "add": ["a"]})), "openid_provider.x.one_of");
        assert_eq!(check_err(json!({"value": null, "essential": true})), "openid_provider.x.value");
        assert_eq!(check_err(json!({"default": "c", "one_of": ["a", "b"]})), "openid_provider.x.default");
        // A subordinate cannot lift essential.
        let merged = merge(&p(json!({"essential": true})), &p(json!({"essential": false}))).unwrap();
        assert_eq!(merged["openid_provider"]["x"]["essential"], json!(true));
    }

    #[test]
    fn application_rejects_metadata_that_breaks_the_policy() {
        let policy = json!({"oauth_client": {
            "alg": {"one_of": ["ES256"]},
            "scopes": {"superset_of": ["openid"]},
            "jwks_uri": {"essential": true},
            "obsolete": {"value": null}
        }});
        let path = |md: Value| apply(&policy, &json!({"oauth_client": md})).unwrap_err().path;
        assert_eq!(path(json!({"alg": "RS256", "jwks_uri": "u"})), "oauth_client.alg.one_of");
        assert_eq!(path(json!({"scopes": ["email"], "jwks_uri": "u"})), "oauth_client.scopes.superset_of");
        assert_eq!(path(json!({"alg": "ES256"})), "oauth_client.jwks_uri.essential");
        let ok = apply(&policy, &json!({"oauth_client": {"jwks_uri": "u", "obsolete": 1}})).unwrap();
        assert_eq!(ok["oauth_client"], json!({"jwks_uri": "u"}));
        // Types without a policy pass unchanged.
        let other = apply(&policy, &json!({"federation_entity": {"name": "n"}})).unwrap();
        assert_eq!(other, json!({"federation_entity": {"name": "n"}}));
    }
}
