//! Auktorisation: ena's one decision point. Policies are Cedar, validated against ena's schema
//! (`schema.cedarschema`) when stored, kept in the database and compiled into *slices*: a request is
//! evaluated only against the policies for its resource (`type:id`), its resource type (`type`) and the
//! global ones (`*`) — Cedar does not index policies, and a slice of a few policies decides in
//! microseconds where a thousand would take a millisecond. Anything not permitted is denied. Every
//! decision says why: the policies that determined it (with their `@reason`) and any evaluation errors.
//!
//! The request model is the OpenID AuthZEN one (subject, action, resource, context); type names map to
//! Cedar types in the `Ena` namespace (`person` → `Ena::Person`, `register_role` → `Ena::RegisterRole`).

pub mod repo;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid, Policy, PolicyId,
    PolicySet, Request, Schema, ValidationMode, Validator,
};
use ena_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const SCHEMA: &str = include_str!("schema.cedarschema");
const SHIPPED: &str = include_str!("../../../data/access/policies.toml");
pub const NAMESPACE: &str = "Ena";

/// A subject or resource (AuthZEN): a type, an id, optional properties.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Thing {
    #[serde(rename = "type")]
    #[schema(example = "person")]
    pub kind: String,
    #[schema(example = "191212121212")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
}

impl Thing {
    pub fn new(kind: &str, id: &str) -> Thing {
        Thing { kind: kind.to_owned(), id: id.to_owned(), properties: None }
    }
}

/// An action (AuthZEN).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Action {
    #[schema(example = "act")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
}

/// One access question.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
pub struct AccessRequest {
    pub subject: Thing,
    pub action: Action,
    pub resource: Thing,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
}

/// A policy that determined a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reason {
    pub policy: String,
    /// permit or forbid.
    pub effect: &'static str,
    /// The policy's `@reason` annotation.
    pub reason: Option<String>,
}

/// A decision and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Decision {
    pub allowed: bool,
    /// The policies that determined it: the permits that allowed it, or the forbids that denied it. Empty
    /// on a default deny (no policy permitted).
    pub reasons: Vec<Reason>,
    /// Policies that could not be evaluated on this request (skipped, so they cannot permit).
    pub errors: Vec<String>,
}

impl Decision {
    /// The AuthZEN response body: `decision` and a `context` with the reasons.
    pub fn authzen(&self) -> Value {
        let mut context = json!({"reasons": self.reasons});
        if !self.errors.is_empty() {
            context["errors"] = json!(self.errors);
        }
        if !self.allowed && self.reasons.is_empty() {
            context["reason_admin"] = json!({"403": "no policy permits this request (default deny)"});
        }
        json!({"decision": self.allowed, "context": context})
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A field of the request or policy is invalid: (field, reason).
    #[error("{0}: {1}")]
    Invalid(String, String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Recording the change failed, or this decision point records none.
    #[error("{0}")]
    Internal(String),
}

fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> AccessError {
    AccessError::Invalid(field.into(), reason.to_string())
}

/// Parsed Cedar type names by AuthZEN type (parsing one runs Cedar's parser: microseconds and allocations
/// a decision should not pay every time).
static TYPE_NAMES: std::sync::LazyLock<RwLock<HashMap<String, EntityTypeName>>> =
    std::sync::LazyLock::new(|| RwLock::new(HashMap::new()));

/// `person` → `Ena::Person`, `register_role` → `Ena::RegisterRole`; only `[a-z][a-z0-9_]*` is accepted.
pub fn type_name(kind: &str, field: &str) -> Result<EntityTypeName, AccessError> {
    if let Some(t) = TYPE_NAMES.read().expect("type names").get(kind) {
        return Ok(t.clone());
    }
    let parsed = parse_type_name(kind, field)?;
    let mut names = TYPE_NAMES.write().expect("type names");
    // Bounded: callers send type names, valid ones are few.
    if names.len() < 1000 {
        names.insert(kind.to_owned(), parsed.clone());
    }
    Ok(parsed)
}

fn parse_type_name(kind: &str, field: &str) -> Result<EntityTypeName, AccessError> {
    let ok = kind.len() <= 64
        && kind.starts_with(|c: char| c.is_ascii_lowercase())
        && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(invalid(field, format!("{kind:?} is not a type name (lowercase letters, digits and _)")));
    }
    let camel: String = kind
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect();
    EntityTypeName::from_str(&format!("{NAMESPACE}::{camel}")).map_err(|e| invalid(field, e))
}

pub fn uid(kind: &str, id: &str, field: &str) -> Result<EntityUid, AccessError> {
    if id.is_empty() || id.len() > 512 {
        return Err(invalid(format!("{field}.id"), "must be 1–512 characters"));
    }
    Ok(EntityUid::from_type_name_and_id(type_name(kind, &format!("{field}.type"))?, EntityId::new(id)))
}

pub fn action_uid(name: &str) -> Result<EntityUid, AccessError> {
    if name.is_empty() || name.len() > 128 {
        return Err(invalid("action.name", "must be 1–128 characters"));
    }
    static ACTION: std::sync::LazyLock<Option<EntityTypeName>> =
        std::sync::LazyLock::new(|| EntityTypeName::from_str(&format!("{NAMESPACE}::Action")).ok());
    let action_type = ACTION.clone().ok_or_else(|| invalid("action.name", "the Action type does not parse"))?;
    Ok(EntityUid::from_type_name_and_id(action_type, EntityId::new(name)))
}

/// A stored policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRecord {
    #[schema(example = "act-for-a-party")]
    pub id: String,
    /// When it is evaluated: `*`, a resource type (`service`) or one resource (`service:skatteverket/moms`).
    #[schema(example = "service")]
    pub resource: String,
    pub description: String,
    /// One Cedar policy.
    pub text: String,
    #[serde(default)]
    pub updated_at: String,
}

#[derive(Deserialize)]
struct Shipped {
    policy: Vec<PolicyRecord>,
}

/// The slices: one compiled policy set per resource key, each already holding the type-wide and global
/// policies, so a decision looks up one set and merges nothing.
#[derive(Default)]
struct Slices {
    global: PolicySet,
    by_type: HashMap<String, PolicySet>,
    /// Type → id → slice (nested so a lookup borrows the request's strings instead of allocating).
    by_resource: HashMap<String, HashMap<String, PolicySet>>,
    /// Each policy's effect and `@reason`, read once (Cedar parses the annotation key on every
    /// `annotation()` call — a parser run per decision otherwise).
    reasons: HashMap<String, Reason>,
    count: usize,
    /// The stored policies' revision these slices were compiled from (`-1`: not yet compiled).
    revision: i64,
}

impl Slices {
    fn select(&self, kind: &str, id: &str) -> &PolicySet {
        if let Some(set) = self.by_resource.get(kind).and_then(|ids| ids.get(id)) {
            return set;
        }
        self.by_type.get(kind).unwrap_or(&self.global)
    }
}

/// How a batch of requests is decided (AuthZEN `options.evaluations_semantic`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Semantic {
    #[default]
    ExecuteAll,
    DenyOnFirstDeny,
    PermitOnFirstPermit,
}

impl Semantic {
    pub fn parse(name: &str) -> Result<Semantic, AccessError> {
        match name {
            "execute_all" => Ok(Semantic::ExecuteAll),
            "deny_on_first_deny" => Ok(Semantic::DenyOnFirstDeny),
            "permit_on_first_permit" => Ok(Semantic::PermitOnFirstPermit),
            _ => Err(invalid(
                "options.evaluations_semantic",
                format!("{name:?} is not execute_all, deny_on_first_deny or permit_on_first_permit"),
            )),
        }
    }
}

pub struct DecisionPoint {
    store: Store,
    /// Where policy changes are recorded (a node's own decision point, whose policies come from its
    /// settings file, has none and changes none).
    audit: Option<ena_audit::AuditLog>,
    schema: Schema,
    slices: RwLock<Arc<Slices>>,
    authorizer: Authorizer,
}

impl std::fmt::Debug for DecisionPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionPoint").finish_non_exhaustive()
    }
}

/// Parse the resource key of a policy: `*`, `type` or `type:id`.
fn resource_key(key: &str) -> Result<(Option<String>, Option<String>), AccessError> {
    if key == "*" {
        return Ok((None, None));
    }
    let (kind, id) = match key.split_once(':') {
        Some((k, i)) => (k, Some(i)),
        None => (key, None),
    };
    type_name(kind, "resource")?;
    if id.is_some_and(str::is_empty) {
        return Err(invalid("resource", "give `type:id` with an id, `type`, or `*`"));
    }
    Ok((Some(kind.to_owned()), id.map(str::to_owned)))
}

impl DecisionPoint {
    /// Open the decision point: the schema, the shipped policies seeded once into an empty table, and
    /// the slices compiled from the stored policies.
    pub async fn open(store: Store) -> Result<DecisionPoint, AccessError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(SCHEMA).map_err(|e| invalid("schema", format!("the shipped schema: {e}")))?;
        let uncompiled = Arc::new(Slices { revision: -1, ..Slices::default() });
        let dp = DecisionPoint {
            store,
            audit: None,
            schema,
            slices: RwLock::new(uncompiled),
            authorizer: Authorizer::new(),
        };
        if repo::count(&dp.store).await? == 0 {
            let shipped: Shipped =
                toml::from_str(SHIPPED).map_err(|e| invalid("policies", format!("the shipped policies: {e}")))?;
            for p in shipped.policy {
                dp.check(&p)?;
                repo::insert(&dp.store, &p, ena_core::time::unix_now()).await?;
            }
            repo::raise_revision(&dp.store).await?;
        }
        dp.reload().await?;
        Ok(dp)
    }

    /// Check a policy: its id, its resource key, one Cedar policy that validates against the schema.
    fn check(&self, p: &PolicyRecord) -> Result<Policy, AccessError> {
        let id_ok = !p.id.is_empty()
            && p.id.len() <= 100
            && p.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !id_ok {
            return Err(invalid("id", "1–100 letters, digits, '-', '_' or '.'"));
        }
        resource_key(&p.resource)?;
        if p.text.len() > 10_000 {
            return Err(invalid("text", "at most 10 000 characters"));
        }
        let policy = Policy::parse(Some(PolicyId::new(&p.id)), &p.text).map_err(|e| invalid("text", e))?;
        let mut set = PolicySet::new();
        set.add(policy.clone()).map_err(|e| invalid("text", e))?;
        let result = Validator::new(self.schema.clone()).validate(&set, ValidationMode::Strict);
        if !result.validation_passed() {
            let why: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
            return Err(invalid("text", format!("does not fit ena's schema: {}", why.join("; "))));
        }
        Ok(policy)
    }

    /// Recompile the slices when the stored policies' revision moved (another instance, or this one,
    /// changed a policy). Every decision calls it first, so no instance decides on policies another
    /// has replaced: one single-row read per decision.
    async fn current(&self) -> Result<Arc<Slices>, AccessError> {
        let revision = repo::revision(&self.store).await?;
        let slices = self.slices.read().expect("slices lock").clone();
        if slices.revision == revision {
            return Ok(slices);
        }
        self.reload().await?;
        Ok(self.slices.read().expect("slices lock").clone())
    }

    /// Recompile the slices from the stored policies.
    pub async fn reload(&self) -> Result<(), AccessError> {
        // The revision is read first: slices compiled now are never newer than the revision they carry.
        let revision = repo::revision(&self.store).await?;
        let all = repo::all(&self.store).await?;
        let mut global = Vec::new();
        let mut by_type: HashMap<String, Vec<Policy>> = HashMap::new();
        let mut by_resource: HashMap<(String, String), Vec<Policy>> = HashMap::new();
        for p in &all {
            let policy = match Policy::parse(Some(PolicyId::new(&p.id)), &p.text) {
                Ok(policy) => policy,
                Err(e) => {
                    tracing::error!(policy = %p.id, error = %e, "a stored policy does not parse; skipped (it cannot permit)");
                    continue;
                }
            };
            match resource_key(&p.resource) {
                Ok((None, _)) => global.push(policy),
                Ok((Some(t), None)) => by_type.entry(t).or_default().push(policy),
                Ok((Some(t), Some(id))) => by_resource.entry((t, id)).or_default().push(policy),
                Err(e) => tracing::error!(policy = %p.id, error = %e, "a stored policy has a bad resource; skipped"),
            }
        }
        let set = |parts: &[&[Policy]]| -> PolicySet {
            let mut s = PolicySet::new();
            for p in parts.iter().flat_map(|p| p.iter()) {
                // Ids are the table's primary key, so they are unique.
                let _ = s.add(p.clone());
            }
            s
        };
        let no_policies: Vec<Policy> = Vec::new();
        let slices = Slices {
            global: set(&[&global]),
            by_type: by_type.iter().map(|(t, ps)| (t.clone(), set(&[&global, ps]))).collect(),
            by_resource: by_resource.iter().fold(
                HashMap::new(),
                |mut m: HashMap<String, HashMap<String, PolicySet>>, ((t, id), ps)| {
                    let slice = set(&[&global, by_type.get(t).unwrap_or(&no_policies), ps]);
                    m.entry(t.clone()).or_default().insert(id.clone(), slice);
                    m
                },
            ),
            reasons: global
                .iter()
                .chain(by_type.values().flatten())
                .chain(by_resource.values().flatten())
                .map(|p| {
                    let effect = if p.effect() == cedar_policy::Effect::Forbid { "forbid" } else { "permit" };
                    let reason = Reason {
                        policy: p.id().to_string(),
                        effect,
                        reason: p.annotation("reason").map(str::to_owned),
                    };
                    (p.id().to_string(), reason)
                })
                .collect(),
            count: all.len(),
            revision,
        };
        *self.slices.write().expect("slices lock") = Arc::new(slices);
        Ok(())
    }

    /// The number of stored policies.
    pub fn policy_count(&self) -> usize {
        self.slices.read().expect("slices lock").count
    }

    /// Decide an AuthZEN request: subject and resource become entities with their properties as
    /// attributes; the context is the request's.
    pub async fn decide(&self, req: &AccessRequest) -> Result<Decision, AccessError> {
        let principal = uid(&req.subject.kind, &req.subject.id, "subject")?;
        let action = action_uid(&req.action.name)?;
        let resource = uid(&req.resource.kind, &req.resource.id, "resource")?;
        let entity = |u: &EntityUid, props: &Option<Value>, field: &str| -> Result<Value, AccessError> {
            let attrs = match props {
                None => json!({}),
                Some(Value::Object(m)) => Value::Object(m.clone()),
                Some(_) => return Err(invalid(format!("{field}.properties"), "must be an object")),
            };
            Ok(
                json!({"uid": {"type": u.type_name().to_string(), "id": u.id().as_ref() as &str}, "attrs": attrs, "parents": []}),
            )
        };
        let mut list = vec![entity(&principal, &req.subject.properties, "subject")?];
        if resource != principal {
            list.push(entity(&resource, &req.resource.properties, "resource")?);
        }
        let entities = Entities::from_json_value(Value::Array(list), None)
            .map_err(|e| invalid("properties", format!("cannot be Cedar values: {e}")))?;
        let context = match &req.context {
            None => Context::empty(),
            Some(v @ Value::Object(_)) => {
                Context::from_json_value(v.clone(), None).map_err(|e| invalid("context", e))?
            }
            Some(_) => return Err(invalid("context", "must be an object")),
        };
        self.decide_parts(principal, action, resource, context, &entities, &req.resource.kind, &req.resource.id).await
    }

    /// Decide for a subject with string attributes acting on a resource without attributes — ena's own
    /// checks of operators and member systems on its APIs — built directly as Cedar values (no JSON).
    pub async fn decide_simple(
        &self,
        subject: (&str, &str),
        attrs: &[(&str, &str)],
        action: &str,
        resource: (&str, &str),
    ) -> Result<Decision, AccessError> {
        self.decide_with(subject, attrs, action, resource, &[]).await
    }

    /// [`DecisionPoint::decide_simple`] with string attributes on the resource too (e.g. the organisation
    /// an address belongs to).
    pub async fn decide_with(
        &self,
        subject: (&str, &str),
        subject_attrs: &[(&str, &str)],
        action: &str,
        resource: (&str, &str),
        resource_attrs: &[(&str, &str)],
    ) -> Result<Decision, AccessError> {
        self.decide_full(subject, subject_attrs, action, resource, resource_attrs, Context::empty()).await
    }

    async fn decide_full(
        &self,
        subject: (&str, &str),
        subject_attrs: &[(&str, &str)],
        action: &str,
        resource: (&str, &str),
        resource_attrs: &[(&str, &str)],
        context: Context,
    ) -> Result<Decision, AccessError> {
        use cedar_policy::{Entity, RestrictedExpression};
        let strings = |attrs: &[(&str, &str)]| {
            attrs.iter().map(|(k, v)| ((*k).to_owned(), RestrictedExpression::new_string((*v).to_owned()))).collect()
        };
        let principal = uid(subject.0, subject.1, "subject")?;
        let resource_uid = uid(resource.0, resource.1, "resource")?;
        let action = action_uid(action)?;
        let entity = Entity::new(principal.clone(), strings(subject_attrs), std::collections::HashSet::new())
            .map_err(|e| invalid("subject.properties", e))?;
        let mut list = vec![entity];
        if !resource_attrs.is_empty() {
            list.push(
                Entity::new(resource_uid.clone(), strings(resource_attrs), std::collections::HashSet::new())
                    .map_err(|e| invalid("resource.properties", e))?,
            );
        }
        let entities = Entities::from_entities(list, None).map_err(|e| invalid("subject", e))?;
        self.decide_parts(principal, action, resource_uid, context, &entities, resource.0, resource.1).await
    }

    /// [`DecisionPoint::decide_simple`] with a request context (e.g. the consent a node confirmed for a
    /// call), a JSON object of Cedar values.
    pub async fn decide_in_context(
        &self,
        subject: (&str, &str),
        subject_attrs: &[(&str, &str)],
        action: &str,
        resource: (&str, &str),
        context: Value,
    ) -> Result<Decision, AccessError> {
        let context = Context::from_json_value(context, None).map_err(|e| invalid("context", e))?;
        self.decide_full(subject, subject_attrs, action, resource, &[], context).await
    }

    /// Decide with Cedar values built by the caller (the in-process path of other blocks).
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_parts(
        &self,
        principal: EntityUid,
        action: EntityUid,
        resource: EntityUid,
        context: Context,
        entities: &Entities,
        resource_kind: &str,
        resource_id: &str,
    ) -> Result<Decision, AccessError> {
        let request = Request::new(principal, action, resource, context, None).map_err(|e| invalid("request", e))?;
        let slices = self.current().await?;
        let set = slices.select(resource_kind, resource_id);
        let response = self.authorizer.is_authorized(&request, set, entities);
        let allowed = response.decision() == CedarDecision::Allow;
        let mut reasons: Vec<Reason> = response
            .diagnostics()
            .reason()
            .map(|id| {
                let id = id.to_string();
                slices.reasons.get(&id).cloned().unwrap_or(Reason { policy: id, effect: "permit", reason: None })
            })
            .collect();
        reasons.sort_by(|a, b| a.policy.cmp(&b.policy));
        let errors = response.diagnostics().errors().map(|e| e.to_string()).collect();
        Ok(Decision { allowed, reasons, errors })
    }

    /// Decide several requests in order (AuthZEN Access Evaluations) under `semantic`: every one
    /// (`execute_all`), up to the first denial (`deny_on_first_deny`; a request that cannot be decided
    /// counts as one) or up to the first permit (`permit_on_first_permit`). One result per request
    /// decided, in request order.
    pub async fn decide_batch(
        &self,
        requests: &[AccessRequest],
        semantic: Semantic,
    ) -> Vec<Result<Decision, AccessError>> {
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            let result = self.decide(r).await;
            let stop = match (&result, semantic) {
                (Ok(d), Semantic::DenyOnFirstDeny) => !d.allowed,
                (Ok(d), Semantic::PermitOnFirstPermit) => d.allowed,
                (Err(_), Semantic::DenyOnFirstDeny) => true,
                _ => false,
            };
            out.push(result);
            if stop {
                break;
            }
        }
        out
    }

    /// Record policy changes in `audit` (the central instance's decision point).
    pub fn with_audit(mut self, audit: ena_audit::AuditLog) -> DecisionPoint {
        self.audit = Some(audit);
        self
    }

    /// Record `action` on policy `id` by `ctx` before the change is written: no policy changes unlogged
    /// (a write that then fails leaves a logged attempt, and the caller its error).
    async fn record(&self, ctx: &ena_audit::Context, action: &str, id: &str) -> Result<(), AccessError> {
        use ena_audit::AuditSink;
        let Some(audit) = &self.audit else {
            return Err(AccessError::Internal("this decision point records no changes, so it makes none".into()));
        };
        let object = ena_audit::event::ObjectRef { kind: "policy".into(), id: id.to_owned() };
        let event = ctx.event(action, Some(object), ena_audit::event::Result::Allowed, None);
        audit.record(vec![event]).await.map(|_| ()).map_err(|e| AccessError::Internal(e.to_string()))
    }

    /// Store a policy from a settings file at start (a node's own services): the file is its record,
    /// so nothing is logged.
    pub async fn put_configured_policy(&self, p: PolicyRecord) -> Result<PolicyRecord, AccessError> {
        self.store_policy(p).await
    }

    /// Store a new or changed policy (checked against the schema), recorded in the log first, and
    /// recompile.
    pub async fn put_policy(&self, ctx: &ena_audit::Context, p: PolicyRecord) -> Result<PolicyRecord, AccessError> {
        self.check(&p)?;
        self.record(ctx, "access.policy.put", &p.id).await?;
        self.store_policy(p).await
    }

    async fn store_policy(&self, p: PolicyRecord) -> Result<PolicyRecord, AccessError> {
        self.check(&p)?;
        let mut stored = p;
        let now = ena_core::time::unix_now();
        stored.updated_at = ena_core::time::rfc3339_of(now);
        repo::upsert(&self.store, &stored, now).await?;
        repo::raise_revision(&self.store).await?;
        self.reload().await?;
        Ok(stored)
    }

    pub async fn policy(&self, id: &str) -> Result<PolicyRecord, AccessError> {
        repo::get(&self.store, id).await?.ok_or_else(|| AccessError::NotFound(format!("no policy {id:?}")))
    }

    pub async fn policies(&self, limit: u32, offset: u64) -> Result<Vec<PolicyRecord>, AccessError> {
        Ok(repo::page(&self.store, limit, offset).await?)
    }

    /// Delete a policy, recorded in the log first.
    pub async fn delete_policy(&self, ctx: &ena_audit::Context, id: &str) -> Result<(), AccessError> {
        if repo::get(&self.store, id).await?.is_none() {
            return Err(AccessError::NotFound(format!("no policy {id:?}")));
        }
        self.record(ctx, "access.policy.delete", id).await?;
        if !repo::delete(&self.store, id).await? {
            return Err(AccessError::NotFound(format!("no policy {id:?}")));
        }
        repo::raise_revision(&self.store).await?;
        self.reload().await
    }
}
