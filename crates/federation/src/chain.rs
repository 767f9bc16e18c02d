//! Trust chains (OpenID Federation 1.0 §10): validate a chain `[leaf EC, subordinate statements…,
//! trust anchor EC]` against a trust anchor's keys known out of band, apply constraints and the merged
//! metadata policy, and return the leaf's resolved metadata.
//!
//! This is the one validator: ena's nodes use it on chains from the central instance, and it accepts
//! chains from any OpenID Federation implementation (RSA, EC and Ed25519 keys).

use serde_json::{Map, Value};

use crate::policy;
use ena_keys::jose::{JoseError, Unverified};

/// `typ` of entity configurations and subordinate statements.
pub const ENTITY_STATEMENT_TYP: &str = "entity-statement+jwt";
/// A hard ceiling on chain length whatever the constraints say (loops and abuse).
pub const MAX_CHAIN: usize = 10;
/// Clock skew tolerated on `iat`/`exp`, seconds.
pub const LEEWAY: i64 = 60;

/// Error codes of OpenID Federation 1.0 §8.9 used for chain problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidTrustChain,
    InvalidTrustAnchor,
    InvalidMetadata,
    InvalidRequest,
    NotFound,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidTrustChain => "invalid_trust_chain",
            ErrorCode::InvalidTrustAnchor => "invalid_trust_anchor",
            ErrorCode::InvalidMetadata => "invalid_metadata",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::NotFound => "not_found",
        }
    }
}

/// Why a chain was refused: the spec's error code, which statement (index in the chain) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: statement {index}: {reason}", code.as_str())]
pub struct ChainError {
    pub code: ErrorCode,
    pub index: usize,
    pub reason: String,
}

fn chain_err(code: ErrorCode, index: usize, reason: impl Into<String>) -> ChainError {
    ChainError { code, index, reason: reason.into() }
}

/// A parsed statement's claims with typed access.
#[derive(Debug, Clone)]
pub struct Statement {
    pub token: Unverified,
}

impl Statement {
    pub fn parse(jwt: &str) -> Result<Statement, JoseError> {
        let token = Unverified::parse(jwt)?;
        token.expect_typ(ENTITY_STATEMENT_TYP)?;
        Ok(Statement { token })
    }
    fn claims(&self) -> &Map<String, Value> {
        &self.token.payload
    }
    pub fn str(&self, name: &str) -> Option<&str> {
        self.claims().get(name).and_then(Value::as_str)
    }
    pub fn iss(&self) -> &str {
        self.str("iss").unwrap_or_default()
    }
    pub fn sub(&self) -> &str {
        self.str("sub").unwrap_or_default()
    }
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.claims().get(name)
    }
}

/// Claims in a statement payload we understand; anything listed in a payload `crit` must be among these.
const UNDERSTOOD: &[&str] = &[
    "iss",
    "sub",
    "iat",
    "exp",
    "jwks",
    "metadata",
    "metadata_policy",
    "constraints",
    "authority_hints",
    "trust_marks",
    "trust_mark_issuers",
    "trust_mark_owners",
    "source_endpoint",
    "metadata_policy_crit",
];

/// What a valid chain yields.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub subject: String,
    pub trust_anchor: String,
    pub metadata: Value,
    /// The earliest `exp` in the chain: the resolution is valid until then.
    pub expires: i64,
}

fn check_times(s: &Statement, index: usize, now: i64) -> Result<i64, ChainError> {
    let num = |name: &str| s.get(name).and_then(Value::as_i64);
    let iat = num("iat").ok_or_else(|| chain_err(ErrorCode::InvalidTrustChain, index, "iat is missing"))?;
    let exp = num("exp").ok_or_else(|| chain_err(ErrorCode::InvalidTrustChain, index, "exp is missing"))?;
    if iat > now + LEEWAY {
        return Err(chain_err(
            ErrorCode::InvalidTrustChain,
            index,
            format!("not yet valid (iat {iat} is after now {now})"),
        ));
    }
    if exp <= now - LEEWAY {
        return Err(chain_err(ErrorCode::InvalidTrustChain, index, format!("expired (exp {exp}, now {now})")));
    }
    Ok(exp)
}

fn check_crit(s: &Statement, index: usize) -> Result<(), ChainError> {
    if let Some(crit) = s.get("crit") {
        let names =
            crit.as_array().ok_or_else(|| chain_err(ErrorCode::InvalidTrustChain, index, "crit must be an array"))?;
        for n in names {
            let n = n.as_str().unwrap_or_default();
            if !UNDERSTOOD.contains(&n) {
                return Err(chain_err(
                    ErrorCode::InvalidTrustChain,
                    index,
                    format!("crit claim {n} is not understood"),
                ));
            }
        }
    }
    if let Some(crit) = s.get("metadata_policy_crit") {
        return Err(chain_err(
            ErrorCode::InvalidTrustChain,
            index,
            format!("policy operators {crit} are not understood"),
        ));
    }
    Ok(())
}

/// Does `entity` satisfy naming constraints `{permitted: [...], excluded: [...]}` (RFC 5280 style on the
/// entity identifier's host: `.example.com` matches subdomains, `example.com` only itself)?
fn naming_ok(entity: &str, constraints: &Value) -> bool {
    // The host of the entity's URL, lower-cased (host names are case-insensitive). An identifier that
    // is not an http(s) URL with a host has no name to match, so it is outside any constraint.
    let Some(rest) = entity.strip_prefix("https://").or_else(|| entity.strip_prefix("http://")) else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or_default().to_ascii_lowercase();
    if host.is_empty() {
        return false;
    }
    let matches = |pattern: &str| {
        let pattern = pattern.to_ascii_lowercase();
        match pattern.strip_prefix('.') {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => host == pattern,
        }
    };
    let names = |key: &str| -> Vec<String> {
        constraints
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let permitted = names("permitted");
    if names("excluded").iter().any(|p| matches(p)) {
        return false;
    }
    permitted.is_empty() || permitted.iter().any(|p| matches(p))
}

/// Validate `chain` (compact JWTs: leaf entity configuration first, trust anchor's entity configuration
/// last) against the trust anchor `anchor_id` whose JWKS is `anchor_jwks`, at unix time `now`.
pub fn validate(chain: &[String], anchor_id: &str, anchor_jwks: &Value, now: i64) -> Result<Resolved, ChainError> {
    // [anchor EC] alone resolves the anchor itself; otherwise the subject's configuration, at least one
    // subordinate statement, and the anchor's configuration.
    if chain.is_empty() || chain.len() == 2 {
        return Err(chain_err(
            ErrorCode::InvalidTrustChain,
            0,
            "a chain is the subject's configuration, the statements about it up to the anchor, and the anchor's configuration",
        ));
    }
    if chain.len() > MAX_CHAIN {
        return Err(chain_err(ErrorCode::InvalidTrustChain, MAX_CHAIN, format!("longer than {MAX_CHAIN} statements")));
    }
    let statements: Vec<Statement> = chain
        .iter()
        .enumerate()
        .map(|(i, jwt)| Statement::parse(jwt).map_err(|e| chain_err(ErrorCode::InvalidTrustChain, i, e.to_string())))
        .collect::<Result<_, _>>()?;
    let last = statements.len() - 1;
    let leaf = &statements[0];
    let anchor = &statements[last];
    if anchor.iss() != anchor_id || anchor.sub() != anchor_id {
        return Err(chain_err(
            ErrorCode::InvalidTrustAnchor,
            last,
            format!("the chain ends at {}, not at the trust anchor {anchor_id}", anchor.iss()),
        ));
    }
    if leaf.iss() != leaf.sub() || leaf.iss().is_empty() {
        return Err(chain_err(
            ErrorCode::InvalidTrustChain,
            0,
            "the subject's entity configuration must have iss = sub",
        ));
    }
    let mut expires = i64::MAX;
    let mut seen = std::collections::HashSet::new();
    for (i, s) in statements.iter().enumerate() {
        expires = expires.min(check_times(s, i, now)?);
        check_crit(s, i)?;
        // An entity issuing twice (or the subject issuing about itself further up) is a loop.
        if (i == 0 || i < last) && !seen.insert(s.iss().to_owned()) {
            return Err(chain_err(
                ErrorCode::InvalidTrustChain,
                i,
                format!("{} appears twice: the chain loops", s.iss()),
            ));
        }
    }
    // The anchor's configuration must be signed by a key we trust out of band.
    anchor.token.verify(anchor_jwks).map_err(|e| chain_err(ErrorCode::InvalidTrustAnchor, last, e.to_string()))?;
    for j in 0..last {
        let (this, superior) = (&statements[j], &statements[j + 1]);
        if this.iss() != superior.sub() {
            return Err(chain_err(
                ErrorCode::InvalidTrustChain,
                j,
                format!("issued by {}, but the next statement is about {}", this.iss(), superior.sub()),
            ));
        }
        let keys =
            superior.get("jwks").ok_or_else(|| chain_err(ErrorCode::InvalidTrustChain, j + 1, "jwks is missing"))?;
        this.token.verify(keys).map_err(|e| chain_err(ErrorCode::InvalidTrustChain, j, e.to_string()))?;
    }
    // Constraints, from each subordinate statement (index k ≥ 1, issued about statements[k-1]'s issuer…):
    // a statement at index k constrains the chain below it, whose subject is the leaf.
    let leaf_id = leaf.sub().to_owned();
    let mut metadata = leaf.get("metadata").cloned().unwrap_or_else(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        return Err(chain_err(ErrorCode::InvalidMetadata, 0, "metadata must be an object"));
    }
    for (k, s) in statements.iter().enumerate().take(last).skip(1) {
        let Some(c) = s.get("constraints") else { continue };
        // Intermediates between the issuer of this statement and the leaf: the statements below it, less one.
        let below = k - 1;
        if let Some(max) = c.get("max_path_length").and_then(Value::as_u64)
            && below as u64 > max
        {
            return Err(chain_err(
                ErrorCode::InvalidTrustChain,
                k,
                format!("max_path_length {max} exceeded ({below} intermediates)"),
            ));
        }
        if let Some(naming) = c.get("naming_constraints") {
            for (i, below_s) in statements.iter().enumerate().take(k) {
                if !naming_ok(below_s.sub(), naming) {
                    return Err(chain_err(
                        ErrorCode::InvalidTrustChain,
                        k,
                        format!("{} (statement {i}) is outside the naming constraints", below_s.sub()),
                    ));
                }
            }
        }
        if let Some(allowed) = c.get("allowed_entity_types").and_then(Value::as_array) {
            // Metadata of entity types not allowed is removed (federation_entity is always allowed).
            let map = metadata.as_object_mut().expect("checked object");
            map.retain(|t, _| t == "federation_entity" || allowed.iter().any(|a| a.as_str() == Some(t)));
        }
    }
    // The immediate superior's `metadata` overrides the leaf's own values, then the policy merged from the
    // anchor down applies.
    if last >= 2
        && let Some(Value::Object(overrides)) = statements[1].get("metadata")
    {
        let map = metadata.as_object_mut().expect("checked object");
        for (t, values) in overrides {
            let entry = map.entry(t.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let (Some(target), Some(values)) = (entry.as_object_mut(), values.as_object()) {
                for (k, v) in values {
                    target.insert(k.clone(), v.clone());
                }
            }
        }
    }
    let mut merged = Value::Object(Map::new());
    for k in (1..last).rev() {
        if let Some(p) = statements[k].get("metadata_policy") {
            merged = policy::merge(&merged, p)
                .map_err(|e| chain_err(ErrorCode::InvalidTrustChain, k, format!("policy error: {e}")))?;
        }
    }
    let metadata =
        policy::apply(&merged, &metadata).map_err(|e| chain_err(ErrorCode::InvalidMetadata, 0, e.to_string()))?;
    Ok(Resolved { subject: leaf_id, trust_anchor: anchor_id.to_owned(), metadata, expires })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ena_keys::jose::SigningKey;
    use serde_json::json;

    pub(crate) const NOW: i64 = 1_800_000_000;

    pub(crate) struct Entity {
        pub id: String,
        pub key: SigningKey,
    }

    impl Entity {
        pub fn new(id: &str) -> Entity {
            Entity { id: id.into(), key: SigningKey::generate().unwrap() }
        }
        pub fn jwks(&self) -> Value {
            json!({"keys": [self.key.public_jwk()]})
        }
        /// Its own entity configuration.
        pub fn configuration(&self, extra: Value) -> String {
            let mut claims =
                json!({"iss": self.id, "sub": self.id, "iat": NOW - 10, "exp": NOW + 3600, "jwks": self.jwks()});
            merge_into(&mut claims, extra);
            self.key.sign(ENTITY_STATEMENT_TYP, &claims)
        }
        /// A subordinate statement about `sub`.
        pub fn about(&self, sub: &Entity, extra: Value) -> String {
            let mut claims =
                json!({"iss": self.id, "sub": sub.id, "iat": NOW - 10, "exp": NOW + 3600, "jwks": sub.jwks()});
            merge_into(&mut claims, extra);
            self.key.sign(ENTITY_STATEMENT_TYP, &claims)
        }
    }

    fn merge_into(claims: &mut Value, extra: Value) {
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            claims[k] = v;
        }
    }

    fn three_levels() -> (Entity, Entity, Entity) {
        (
            Entity::new("https://ta.example.se"),
            Entity::new("https://region.example.se"),
            Entity::new("https://rp.kommun.example.se"),
        )
    }

    #[test]
    fn a_three_level_chain_resolves_with_policy_applied() {
        let (ta, int, leaf) = three_levels();
        let chain = vec![
            leaf.configuration(json!({"metadata": {"openid_relying_party": {"grant_types": ["authorization_code", "implicit"], "client_name": "RP"}}})),
            int.about(&leaf, json!({"metadata_policy": {"openid_relying_party": {"contacts": {"add": ["ops@region.example.se"]}}}})),
            ta.about(&int, json!({"metadata_policy": {"openid_relying_party": {"grant_types": {"subset_of": ["authorization_code"]}}},
                                  "constraints": {"max_path_length": 1, "naming_constraints": {"permitted": [".example.se"]}}})),
            ta.configuration(json!({})),
        ];
        let r = validate(&chain, &ta.id, &ta.jwks(), NOW).unwrap();
        assert_eq!(r.subject, leaf.id);
        let rp = &r.metadata["openid_relying_party"];
        assert_eq!(rp["grant_types"], json!(["authorization_code"]));
        assert_eq!(rp["contacts"], json!(["ops@region.example.se"]));
        assert_eq!(r.expires, NOW + 3600);
        // The anchor alone resolves itself.
        assert!(validate(&chain[3..], &ta.id, &ta.jwks(), NOW).is_ok());
    }

    #[test]
    fn bad_chains_get_the_spec_error_codes() {
        let (ta, int, leaf) = three_levels();
        let good = |leaf_extra: Value, int_extra: Value, ta_extra: Value| {
            vec![
                leaf.configuration(leaf_extra),
                int.about(&leaf, int_extra),
                ta.about(&int, ta_extra),
                ta.configuration(json!({})),
            ]
        };
        let code = |chain: &[String]| validate(chain, &ta.id, &ta.jwks(), NOW).unwrap_err();

        let expired = good(json!({"exp": NOW - 3600}), json!({}), json!({}));
        let e = code(&expired);
        assert_eq!((e.code, e.index), (ErrorCode::InvalidTrustChain, 0));
        assert!(e.reason.contains("expired"));
        let future = good(json!({}), json!({"iat": NOW + 3600}), json!({}));
        assert!(code(&future).reason.contains("not yet valid"));

        // Signed by a key the superior does not vouch for.
        let mut forged = good(json!({}), json!({}), json!({}));
        forged[0] = Entity { id: leaf.id.clone(), key: SigningKey::generate().unwrap() }.configuration(json!({}));
        let e = code(&forged);
        assert_eq!((e.code, e.index), (ErrorCode::InvalidTrustChain, 0));

        // Another anchor, or the right anchor id with other keys.
        let other = Entity::new("https://other-ta.example.se");
        let chain = good(json!({}), json!({}), json!({}));
        assert_eq!(validate(&chain, &other.id, &other.jwks(), NOW).unwrap_err().code, ErrorCode::InvalidTrustAnchor);
        assert_eq!(validate(&chain, &ta.id, &other.jwks(), NOW).unwrap_err().code, ErrorCode::InvalidTrustAnchor);

        // A loop: the same subject twice.
        let looped = vec![
            leaf.configuration(json!({})),
            int.about(&leaf, json!({})),
            int.about(&leaf, json!({})),
            ta.configuration(json!({})),
        ];
        assert_eq!(code(&looped).code, ErrorCode::InvalidTrustChain);

        // Over-long: the anchor allows no intermediate.
        let long = good(json!({}), json!({}), json!({"constraints": {"max_path_length": 0}}));
        assert!(code(&long).reason.contains("max_path_length"));
        let too_many: Vec<String> = std::iter::repeat_n(chain[0].clone(), MAX_CHAIN + 1).collect();
        assert!(code(&too_many).reason.contains("longer than"));

        // Naming constraints.
        let named = good(
            json!({}),
            json!({}),
            json!({"constraints": {"naming_constraints": {"excluded": [".kommun.example.se"]}}}),
        );
        assert!(code(&named).reason.contains("naming constraints"));

        // Conflicting policies are a policy error; metadata breaking the policy is invalid_metadata.
        let conflict = good(
            json!({}),
            json!({"metadata_policy": {"openid_relying_party": {"x": {"value": "a"}}}}),
            json!({"metadata_policy": {"openid_relying_party": {"x": {"value": "b"}}}}),
        );
        assert!(code(&conflict).reason.contains("policy error"));
        let breaks = good(
            json!({"metadata": {"openid_relying_party": {"x": "c"}}}),
            json!({}),
            json!({"metadata_policy": {"openid_relying_party": {"x": {"one_of": ["a", "b"]}}}}),
        );
        assert_eq!(code(&breaks).code, ErrorCode::InvalidMetadata);

        // Unknown critical claims.
        let crit = good(json!({"crit": ["ena_unknown"], "ena_unknown": 1}), json!({}), json!({}));
        assert!(code(&crit).reason.contains("crit"));

        // Wrong typ.
        let mut typ = good(json!({}), json!({}), json!({}));
        typ[1] = int.key.sign("JWT", &json!({"iss": int.id, "sub": leaf.id, "iat": NOW, "exp": NOW + 60}));
        assert!(code(&typ).reason.contains("header.typ"));

        // Broken linkage: a statement about someone else.
        let stranger = Entity::new("https://stranger.example.se");
        let mut broken = good(json!({}), json!({}), json!({}));
        broken[2] = ta.about(&stranger, json!({}));
        assert!(code(&broken).reason.contains("issued by"));
    }

    #[test]
    fn naming_constraints_match_the_host_case_insensitively_and_refuse_what_has_none() {
        let permitted = json!({"permitted": [".Kommun.example.se", "nod.example.se"]});
        for (entity, ok) in [
            ("https://a.kommun.example.se", true),
            ("https://A.KOMMUN.Example.SE/path", true),
            ("https://nod.example.se:8443", true),
            ("https://NOD.example.se", true),
            ("http://a.kommun.example.se", true),
            ("https://kommun.example.se.evil.example", false),
            ("https://evilkommun.example.se", false),
            ("https://user@evil.example", false),
            // Before the fix, these reduced to the "host" `http` or the whole string.
            ("http:evil", false),
            ("nod.example.se", false),
            ("https://", false),
        ] {
            assert_eq!(naming_ok(entity, &permitted), ok, "{entity}");
        }
        let excluded = json!({"excluded": [".Evil.example"]});
        assert!(!naming_ok("https://x.EVIL.example", &excluded), "excluded, whatever the case");
        assert!(!naming_ok("not a url", &excluded), "no host: outside every constraint");
        assert!(naming_ok("https://good.example", &excluded));
    }

    #[test]
    fn allowed_entity_types_strip_other_metadata() {
        let (ta, int, leaf) = three_levels();
        let chain = vec![
            leaf.configuration(
                json!({"metadata": {"openid_provider": {"issuer": "x"}, "oauth_client": {"client_name": "c"}}}),
            ),
            int.about(&leaf, json!({})),
            ta.about(&int, json!({"constraints": {"allowed_entity_types": ["oauth_client"]}})),
            ta.configuration(json!({})),
        ];
        let r = validate(&chain, &ta.id, &ta.jwks(), NOW).unwrap();
        assert!(r.metadata.get("openid_provider").is_none());
        assert_eq!(r.metadata["oauth_client"]["client_name"], "c");
    }
}
