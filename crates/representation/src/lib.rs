//! Mina ombud: who may represent whom. Rights come from the company register (a role → packages) and
//! from mandates (fullmakter) — from a person or an organisation (principal) to a person or an
//! organisation (agent), for packages, time-limited unless granted open-ended explicitly. A company's
//! grant needs the signatures its signing rule requires (one initiates, the others approve; it is active
//! only when the rule is met, and lapses if not completed). Agents may request mandates. A mandate may be
//! passed on (sub-delegation) only within what it holds: same principal, a subset of its delegable
//! packages, within its validity — and a passed-on mandate holds only while every mandate above it holds,
//! so no sequence of grants widens anyone's rights.
//!
//! The check (may A act for P on service S at T?) gathers the packages A holds for P at T with their
//! basis, then asks the decision point (`ena-access`, the service's policy slice) — every check is an
//! audit event with the principal as data subject.

pub mod catalog;
pub mod register;
pub mod repo;

use std::collections::BTreeMap;
use std::sync::Arc;

use ena_access::DecisionPoint;
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{Actor, ActorKind, AuditLog, AuditSink, Context};
use ena_core::{AnyId, PersonId};
use ena_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::catalog::Catalog;
use crate::register::{Company, CompanyRegister};
use crate::repo::MandateRow;

/// An incomplete grant lapses after 14 days; an unanswered request after 30.
pub const PENDING_SECS: i64 = 14 * 86_400;
pub const REQUEST_SECS: i64 = 30 * 86_400;
/// Parties are told this long before a mandate ends.
pub const EXPIRY_NOTICE_SECS: i64 = 14 * 86_400;
/// Expired mandates stay visible this long (15 months).
pub const EXPIRED_VISIBLE_SECS: i64 = 456 * 86_400;
/// A single service right in a mandate's packages: `service:<service id>`.
pub const SERVICE_RIGHT: &str = "service:";
/// The longest chain of passed-on mandates followed.
const MAX_CHAIN: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReprError {
    /// A field is invalid: (field, reason).
    #[error("{0}: {1}")]
    Invalid(String, String),
    /// The actor may not do this: (field, reason).
    #[error("{0}: {1}")]
    Forbidden(String, String),
    #[error("{0}")]
    NotFound(String),
    /// (field, reason)
    #[error("{0}: {1}")]
    Conflict(String, String),
    #[error("{0}")]
    Internal(String),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ReprError {
    ReprError::Invalid(field.into(), reason.into())
}

fn forbidden(field: impl Into<String>, reason: impl Into<String>) -> ReprError {
    ReprError::Forbidden(field.into(), reason.into())
}

impl From<sqlx::Error> for ReprError {
    fn from(e: sqlx::Error) -> ReprError {
        ReprError::Internal(e.to_string())
    }
}

/// A party: a person or an organisation, by normalised number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Party {
    Person(String),
    Organisation(String),
}

impl Party {
    pub fn id(&self) -> &str {
        match self {
            Party::Person(p) | Party::Organisation(p) => p,
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Party::Person(_) => "person",
            Party::Organisation(_) => "organisation",
        }
    }
}

/// Parse a personnummer, samordningsnummer or organisationsnummer.
pub fn parse_party(field: &str, input: &str) -> Result<Party, ReprError> {
    match AnyId::parse_at(input.trim(), OffsetDateTime::now_utc().date()) {
        Ok(AnyId::Person(p)) => Ok(Party::Person(p.as_str().to_owned())),
        Ok(AnyId::Organisation(o)) => Ok(Party::Organisation(o.as_str().to_owned())),
        Err(e) => Err(invalid(field, format!("not an identity or organisation number: {e}"))),
    }
}

fn party_of(id: &str) -> Party {
    parse_party("party", id).unwrap_or_else(|_| Party::Person(id.to_owned()))
}

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

fn parse_time(field: &str, v: &str) -> Result<i64, ReprError> {
    OffsetDateTime::parse(v.trim(), &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| invalid(field, "an RFC 3339 time, e.g. 2027-01-31T00:00:00Z"))
}

/// What a grant asks for.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantInput {
    /// Whose rights: a personnummer/samordningsnummer or organisationsnummer.
    #[schema(example = "556677-8899")]
    pub principal: String,
    #[schema(example = "559900-1129")]
    pub agent: String,
    #[schema(example = json!(["skatt-och-moms"]))]
    pub packages: Vec<String>,
    /// RFC 3339; now if left out.
    pub valid_from: Option<String>,
    /// RFC 3339; required unless `openEnded`.
    pub valid_to: Option<String>,
    #[serde(default)]
    pub open_ended: bool,
    /// May the agent pass the mandate on (delegable packages only)?
    #[serde(default)]
    pub may_delegate: bool,
    /// Pass on this mandate (held by the actor or the actor's company) instead of granting from the principal.
    pub parent: Option<String>,
}

/// A mandate as its parties see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Mandate {
    pub id: String,
    pub principal: String,
    pub principal_name: Option<String>,
    pub agent: String,
    pub agent_name: Option<String>,
    pub packages: Vec<String>,
    pub valid_from: String,
    pub valid_to: Option<String>,
    pub may_delegate: bool,
    pub parent: Option<String>,
    /// The party whose rights were passed: the principal, or the agent of the parent mandate.
    pub grantor: String,
    /// requested, pending, active, expired, lapsed, declined or revoked.
    pub status: String,
    pub required_approvals: i64,
    pub approvals: Vec<Approval>,
    pub created_by: String,
    pub created_at: String,
    /// Why the agent holds it, from the root: register role → package → mandate → passed on.
    pub why: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub person: String,
    pub at: String,
}

/// A check question.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckInput {
    #[schema(example = "200107044562")]
    pub agent: String,
    #[schema(example = "556677-8899")]
    pub principal: String,
    #[schema(example = "skatteverket/moms")]
    pub service: String,
    /// act (default), read or write.
    pub action: Option<String>,
    /// RFC 3339; now if left out.
    pub at: Option<String>,
}

/// One ground for holding a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Basis {
    /// self, role or mandate.
    pub kind: String,
    pub package: String,
    /// For a role: signatory, ceo or board.
    pub role: Option<String>,
    /// For a mandate: the chain of mandate ids from the principal's grant to the agent's.
    pub chain: Vec<String>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub allowed: bool,
    pub package: String,
    /// Every ground found for the needed package (empty when denied).
    pub basis: Vec<Basis>,
    /// The policies that decided (from the decision point).
    pub reasons: Vec<ena_access::Reason>,
    pub at: String,
}

/// A notice to a party (shown in the portal; also handed to the notice hook, e.g. a webhook).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub id: String,
    pub party: String,
    /// granted, approval-needed, approved, requested, accepted, declined, revoked, expiring
    pub kind: String,
    pub mandate: String,
    pub text: String,
    pub created_at: String,
}

/// Where notices go besides the portal (a webhook in production).
pub trait NoticeHook: Send + Sync {
    fn notify(&self, notice: &Notice);
}

/// A party the person can act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActingFor {
    pub party: String,
    pub kind: String,
    pub name: Option<String>,
    /// self, role or mandate.
    pub basis: String,
    pub packages: Vec<String>,
}

pub struct Representation {
    /// Each service as a Cedar entity (uid and its one attribute), built once.
    services: std::collections::HashMap<String, (cedar_policy::EntityUid, cedar_policy::Entities)>,
    store: Store,
    register: Arc<dyn CompanyRegister>,
    catalog: Catalog,
    access: Arc<DecisionPoint>,
    audit: AuditLog,
    hook: Option<Arc<dyn NoticeHook>>,
}

impl std::fmt::Debug for Representation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Representation").finish_non_exhaustive()
    }
}

fn packages_of(m: &MandateRow) -> Vec<String> {
    serde_json::from_str(&m.packages).unwrap_or_default()
}

/// Is `m` in force at `t` (active, inside its validity)?
fn in_force(m: &MandateRow, t: i64) -> bool {
    m.status == "active" && m.valid_from <= t && m.valid_to.is_none_or(|to| t < to)
}

impl Representation {
    pub fn new(
        store: Store,
        register: Arc<dyn CompanyRegister>,
        catalog: Catalog,
        access: Arc<DecisionPoint>,
        audit: AuditLog,
    ) -> Representation {
        let services = catalog
            .services
            .iter()
            .filter_map(|s| {
                let uid = ena_access::uid("service", &s.id, "service").ok()?;
                let entity = cedar_policy::Entity::new(
                    uid.clone(),
                    std::collections::HashMap::from([
                        ("package".to_owned(), cedar_policy::RestrictedExpression::new_string(s.package.clone())),
                        (
                            "right".to_owned(),
                            cedar_policy::RestrictedExpression::new_string(format!("{SERVICE_RIGHT}{}", s.id)),
                        ),
                    ]),
                    std::collections::HashSet::new(),
                )
                .ok()?;
                let entities = cedar_policy::Entities::from_entities([entity], None).ok()?;
                Some((s.id.clone(), (uid, entities)))
            })
            .collect();
        Representation { services, store, register, catalog, access, audit, hook: None }
    }

    pub fn with_hook(mut self, hook: Arc<dyn NoticeHook>) -> Representation {
        self.hook = Some(hook);
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn company(&self, org: &str) -> Option<Company> {
        self.register.company(org)
    }

    fn name_of(&self, party: &str) -> Option<String> {
        self.register.company(party).map(|c| c.name)
    }

    /// The company behind an organisation party, or an invalid `field`.
    fn company_of(&self, field: &str, org: &str) -> Result<Company, ReprError> {
        self.register.company(org).ok_or_else(|| invalid(field, format!("{org} is not in the company register")))
    }

    /// May `actor` speak for `party` (the person themselves, or someone who can bind the company)?
    fn speaks_for(&self, actor: &PersonId, party: &Party) -> bool {
        match party {
            Party::Person(p) => p == actor.as_str(),
            Party::Organisation(o) => self.register.company(o).is_some_and(|c| c.can_bind(actor.as_str())),
        }
    }

    /// Approvals a grant by `grantor` needs.
    fn required(&self, grantor: &Party) -> i64 {
        match grantor {
            Party::Person(_) => 1,
            Party::Organisation(o) => self.register.company(o).map_or(1, |c| c.binding().1 as i64),
        }
    }

    async fn record(
        &self,
        actor: &PersonId,
        action: &str,
        object: Option<&str>,
        subjects: &[&str],
        result: AuditResult,
        reason: Option<String>,
    ) -> Result<(), ReprError> {
        let ctx = Context {
            actor: Actor { kind: ActorKind::Person, id: actor.as_str().to_owned(), organisation: None },
            on_behalf_of: None,
            correlation_id: None,
        };
        let mut event =
            ctx.event(action, object.map(|id| ObjectRef { kind: "mandate".into(), id: id.to_owned() }), result, reason);
        event.data_subjects = subjects.iter().filter(|s| PersonId::parse(s).is_ok()).map(|s| (*s).to_owned()).collect();
        self.audit.record(vec![event]).await.map_err(|e| ReprError::Internal(e.to_string()))?;
        Ok(())
    }

    /// Record that `actor` did `action` to the mandate `m` (both parties as data subjects when persons).
    async fn recorded(&self, actor: &PersonId, action: &str, m: &MandateRow) -> Result<(), ReprError> {
        self.record(actor, action, Some(&m.id), &[&m.principal, &m.agent], AuditResult::Allowed, None).await
    }

    /// Run `op`; a refusal is recorded as a denied `action` by `actor`.
    async fn attempt<T>(
        &self,
        actor: &PersonId,
        action: &str,
        op: impl std::future::Future<Output = Result<T, ReprError>>,
    ) -> Result<T, ReprError> {
        match op.await {
            Ok(v) => Ok(v),
            Err(ReprError::Internal(e)) => Err(ReprError::Internal(e)),
            Err(e) => {
                self.record(actor, action, None, &[], AuditResult::Denied, Some(e.to_string())).await?;
                Err(e)
            }
        }
    }

    async fn notify(&self, party: &str, kind: &str, mandate: &str, text: String) -> Result<(), ReprError> {
        let id = uuid::Uuid::now_v7().to_string();
        let at = now();
        repo::notice(&self.store, &id, party, kind, mandate, &text, at).await?;
        if let Some(hook) = &self.hook {
            hook.notify(&Notice {
                id,
                party: party.to_owned(),
                kind: kind.to_owned(),
                mandate: mandate.to_owned(),
                text,
                created_at: rfc3339(at),
            });
        }
        Ok(())
    }

    /// Check the packages of a grant or request for `principal`.
    /// The package a right belongs to: the package itself, or a single service's (`service:<id>`).
    fn package_of_right(&self, right: &str) -> Option<&catalog::Package> {
        match right.strip_prefix(SERVICE_RIGHT) {
            Some(service) => self.catalog.service(service).and_then(|s| self.catalog.package(&s.package)),
            None => self.catalog.package(right),
        }
    }

    /// Does holding `held` cover `right` (the right itself, or the package of a single service right)?
    fn covers(&self, held: &[String], right: &str) -> bool {
        held.iter().any(|h| h == right)
            || right
                .strip_prefix(SERVICE_RIGHT)
                .and_then(|s| self.catalog.service(s))
                .is_some_and(|s| held.contains(&s.package))
    }

    fn check_packages(&self, principal: &Party, packages: &[String]) -> Result<(), ReprError> {
        if packages.is_empty() {
            return Err(invalid("packages", "name at least one package or single service (service:<id>)"));
        }
        for (i, id) in packages.iter().enumerate() {
            let field = format!("packages[{i}]");
            let p = self
                .package_of_right(id)
                .ok_or_else(|| invalid(&field, format!("unknown package or service {id:?}")))?;
            if p.party != principal.kind() {
                return Err(invalid(
                    &field,
                    format!("{id} is a package of a {}, the principal is a {}", p.party, principal.kind()),
                ));
            }
            if !p.assignable {
                return Err(invalid(
                    &field,
                    format!("{id} cannot be granted by mandate (it follows only from the register)"),
                ));
            }
            if packages[..i].contains(id) {
                return Err(invalid(&field, format!("{id} is named twice")));
            }
        }
        Ok(())
    }

    /// Validity of a grant: from (default now) and to (required unless open-ended explicitly).
    fn validity(
        &self,
        from: &Option<String>,
        to: &Option<String>,
        open_ended: bool,
    ) -> Result<(i64, Option<i64>), ReprError> {
        let from = from.as_deref().map(|f| parse_time("validFrom", f)).transpose()?.unwrap_or_else(now);
        let to = match (to, open_ended) {
            (Some(_), true) => return Err(invalid("validTo", "give validTo or openEnded, not both")),
            (None, true) => None,
            (None, false) => {
                return Err(invalid("validTo", "mandates are time-limited: give validTo (or openEnded: true)"));
            }
            (Some(t), false) => Some(parse_time("validTo", t)?),
        };
        if let Some(t) = to {
            if t <= from {
                return Err(invalid("validTo", "must be after validFrom"));
            }
            if t <= now() {
                return Err(invalid("validTo", "is in the past"));
            }
        }
        Ok((from, to))
    }

    /// "May I delegate this?": check a grant without making it; returns the mandate it would create.
    /// What every new mandate (grant or request) must satisfy: two distinct parties, companies in the
    /// register, rights of the principal's kind, a validity.
    fn terms(&self, input: &GrantInput) -> Result<(Party, Party, i64, Option<i64>), ReprError> {
        let principal = parse_party("principal", &input.principal)?;
        let agent = parse_party("agent", &input.agent)?;
        if principal == agent {
            return Err(invalid("agent", "a mandate to oneself (the agent is the principal)"));
        }
        if let Party::Organisation(o) = &principal {
            self.company_of("principal", o)?;
        }
        if let Party::Organisation(o) = &agent {
            self.company_of("agent", o)?;
        }
        self.check_packages(&principal, &input.packages)?;
        let (from, to) = self.validity(&input.valid_from, &input.valid_to, input.open_ended)?;
        Ok((principal, agent, from, to))
    }

    /// A new mandate row: `status` pending (a grant) or requested (a request), lapsing after `lapse` seconds.
    #[allow(clippy::too_many_arguments)]
    fn new_mandate(
        &self,
        actor: &PersonId,
        input: &GrantInput,
        (principal, agent, from, to): (&Party, &Party, i64, Option<i64>),
        grantor: &Party,
        status: &str,
        lapse: i64,
    ) -> MandateRow {
        let t = now();
        MandateRow {
            id: uuid::Uuid::now_v7().to_string(),
            principal: principal.id().to_owned(),
            agent: agent.id().to_owned(),
            packages: serde_json::to_string(&input.packages).unwrap_or_default(),
            valid_from: from,
            valid_to: to,
            may_delegate: i64::from(input.may_delegate),
            parent_id: input.parent.clone(),
            grantor: grantor.id().to_owned(),
            status: status.to_owned(),
            required_approvals: self.required(grantor),
            created_by: actor.as_str().to_owned(),
            created_at: t,
            pending_until: Some(t + lapse),
            activated_at: None,
            ended_at: None,
            ended_by: None,
        }
    }

    pub async fn may_grant(&self, actor: &PersonId, input: &GrantInput) -> Result<MandateRow, ReprError> {
        let (principal, agent, from, to) = self.terms(input)?;
        let grantor = match &input.parent {
            None => {
                if !self.speaks_for(actor, &principal) {
                    return Err(forbidden(
                        "principal",
                        match &principal {
                            Party::Person(_) => "only the person themselves can grant their mandates".to_owned(),
                            Party::Organisation(o) => {
                                format!("you are not one who signs for {o} under its signing rule")
                            }
                        },
                    ));
                }
                principal.clone()
            }
            Some(parent_id) => {
                let parent = repo::get(&self.store, parent_id)
                    .await?
                    .ok_or_else(|| invalid("parent", format!("no mandate {parent_id}")))?;
                let holder = party_of(&parent.agent);
                if !self.speaks_for(actor, &holder) {
                    return Err(forbidden("parent", "you neither hold that mandate nor sign for the one who does"));
                }
                if !in_force(&parent, now()) || !self.chain_in_force(&parent, now()).await? {
                    return Err(forbidden("parent", "that mandate is not in force"));
                }
                if parent.principal != principal.id() {
                    return Err(invalid(
                        "principal",
                        "a passed-on mandate keeps the principal of the mandate it comes from",
                    ));
                }
                if parent.may_delegate == 0 {
                    return Err(forbidden("parent", "that mandate may not be passed on"));
                }
                if agent == holder {
                    return Err(invalid("agent", "the agent already holds the mandate being passed on"));
                }
                let held = packages_of(&parent);
                for (i, id) in input.packages.iter().enumerate() {
                    if !self.covers(&held, id) {
                        return Err(forbidden(
                            format!("packages[{i}]"),
                            format!("{id} is not in the mandate being passed on: no one can grant more than they hold"),
                        ));
                    }
                    if !self.package_of_right(id).is_some_and(|p| p.delegable) {
                        return Err(invalid(format!("packages[{i}]"), format!("{id} may not be passed on")));
                    }
                }
                if from < parent.valid_from {
                    return Err(invalid("validFrom", "before the mandate being passed on starts"));
                }
                if let Some(parent_to) = parent.valid_to
                    && to.is_none_or(|t| t > parent_to)
                {
                    return Err(invalid(
                        "validTo",
                        format!("after the mandate being passed on ends ({})", rfc3339(parent_to)),
                    ));
                }
                holder
            }
        };
        Ok(self.new_mandate(actor, input, (&principal, &agent, from, to), &grantor, "pending", PENDING_SECS))
    }

    /// Grant a mandate: the actor's approval is the first; active at once when the grantor's signing rule
    /// is met, else pending for the other signatories.
    pub async fn grant(&self, actor: &PersonId, input: &GrantInput) -> Result<Mandate, ReprError> {
        self.attempt(actor, "representation.grant", async {
            let m = self.may_grant(actor, input).await?;
            repo::insert(&self.store, &m).await?;
            self.recorded(actor, "representation.grant", &m).await?;
            self.add_approval(actor, &m.id).await
        })
        .await
    }

    /// Record an approval and activate the mandate when enough have approved.
    async fn add_approval(&self, actor: &PersonId, id: &str) -> Result<Mandate, ReprError> {
        let m = repo::get(&self.store, id).await?.ok_or_else(|| ReprError::NotFound(format!("no mandate {id}")))?;
        let t = now();
        if !repo::approve(&self.store, id, actor.as_str(), t).await? {
            return Err(ReprError::Conflict("id".into(), "you have already approved this mandate".into()));
        }
        let count = repo::approvals(&self.store, id).await?.len() as i64;
        if count >= m.required_approvals && repo::transition(&self.store, id, "pending", "active", t, None).await? {
            let text = format!("Fullmakt {id} gäller nu / mandate in force");
            self.notify(&m.principal, "granted", id, text.clone()).await?;
            self.notify(&m.agent, "granted", id, text).await?;
        } else if count < m.required_approvals {
            for other in self.binders(&party_of(&m.grantor)).into_iter().filter(|p| p != actor.as_str()) {
                self.notify(
                    &other,
                    "approval-needed",
                    id,
                    format!("Fullmakt {id} väntar på ditt godkännande / needs your approval"),
                )
                .await?;
            }
        }
        self.view(id).await
    }

    /// The persons whose approvals bind `party`.
    fn binders(&self, party: &Party) -> Vec<String> {
        match party {
            Party::Person(p) => vec![p.clone()],
            Party::Organisation(o) => self.register.company(o).map(|c| c.binding().0.to_vec()).unwrap_or_default(),
        }
    }

    /// A signatory approves a pending grant.
    pub async fn approve(&self, actor: &PersonId, id: &str) -> Result<Mandate, ReprError> {
        self.attempt(actor, "representation.approve", async {
            let m = repo::get(&self.store, id).await?.ok_or_else(|| ReprError::NotFound(format!("no mandate {id}")))?;
            if m.status != "pending" || m.pending_until.is_some_and(|u| u <= now()) {
                return Err(ReprError::Conflict(
                    "id".into(),
                    format!("the mandate is {}, not waiting for approval", self.status(&m, now())),
                ));
            }
            if !self.speaks_for(actor, &party_of(&m.grantor)) {
                return Err(forbidden("id", format!("you do not sign for {}", m.grantor)));
            }
            let out = self.add_approval(actor, id).await?;
            self.recorded(actor, "representation.approve", &m).await?;
            Ok(out)
        })
        .await
    }

    /// An agent (the actor, or a company the actor signs for) asks a principal for a mandate.
    pub async fn request(&self, actor: &PersonId, input: &GrantInput) -> Result<Mandate, ReprError> {
        self.attempt(actor, "representation.request", async {
            if input.parent.is_some() {
                return Err(invalid("parent", "a request asks the principal; it cannot name a parent"));
            }
            let (principal, agent, from, to) = self.terms(input)?;
            if !self.speaks_for(actor, &agent) {
                return Err(forbidden("agent", "you can request mandates for yourself or a company you sign for"));
            }
            let m =
                self.new_mandate(actor, input, (&principal, &agent, from, to), &principal, "requested", REQUEST_SECS);
            repo::insert(&self.store, &m).await?;
            self.recorded(actor, "representation.request", &m).await?;
            for p in self.binders(&principal) {
                self.notify(&p, "requested", &m.id, format!("{} ber om en fullmakt / requests a mandate", m.agent))
                    .await?;
            }
            self.view(&m.id).await
        })
        .await
    }

    /// The principal (or one who signs for it) accepts or declines a request.
    pub async fn respond(&self, actor: &PersonId, id: &str, accept: bool) -> Result<Mandate, ReprError> {
        let action = if accept { "representation.accept" } else { "representation.decline" };
        self.attempt(actor, action, async {
            let m = repo::get(&self.store, id).await?.ok_or_else(|| ReprError::NotFound(format!("no mandate {id}")))?;
            if m.status != "requested" || m.pending_until.is_some_and(|u| u <= now()) {
                return Err(ReprError::Conflict(
                    "id".into(),
                    format!("the mandate is {}, not a request", self.status(&m, now())),
                ));
            }
            if !self.speaks_for(actor, &party_of(&m.principal)) {
                return Err(forbidden("id", format!("you do not speak for {}", m.principal)));
            }
            self.recorded(actor, action, &m).await?;
            if accept {
                repo::accept_request(&self.store, id, m.required_approvals, now() + PENDING_SECS).await?;
                self.notify(&m.agent, "accepted", id, "Din begäran godtogs / your request was accepted".into()).await?;
                self.add_approval(actor, id).await
            } else {
                repo::transition(&self.store, id, "requested", "declined", now(), Some(actor.as_str())).await?;
                self.notify(&m.agent, "declined", id, "Din begäran avböjdes / your request was declined".into())
                    .await?;
                self.view(id).await
            }
        })
        .await
    }

    /// Revoke: the principal's side, the grantor's side or the agent's side may end a mandate.
    pub async fn revoke(&self, actor: &PersonId, id: &str) -> Result<Mandate, ReprError> {
        self.attempt(actor, "representation.revoke", async {
            let m = repo::get(&self.store, id).await?.ok_or_else(|| ReprError::NotFound(format!("no mandate {id}")))?;
            let sides = [&m.principal, &m.grantor, &m.agent];
            if !sides.iter().any(|s| self.speaks_for(actor, &party_of(s))) {
                return Err(forbidden("id", "only the principal's, the grantor's or the agent's side can revoke"));
            }
            let from = m.status.clone();
            if !["active", "pending", "requested"].contains(&from.as_str())
                || !repo::transition(&self.store, id, &from, "revoked", now(), Some(actor.as_str())).await?
            {
                return Err(ReprError::Conflict(
                    "id".into(),
                    format!("the mandate is already {}", self.status(&m, now())),
                ));
            }
            self.recorded(actor, "representation.revoke", &m).await?;
            for party in [&m.principal, &m.agent] {
                self.notify(party, "revoked", id, "Fullmakten återkallades / the mandate was revoked".into()).await?;
            }
            self.view(id).await
        })
        .await
    }

    /// Does every mandate above `m` hold at `t` (and hold what `m` passes on)?
    async fn chain_in_force(&self, m: &MandateRow, t: i64) -> Result<bool, ReprError> {
        Ok(self.chain(m, t).await?.is_some())
    }

    /// The chain of mandate ids from the root grant to `m`, if all are in force at `t` and each passes
    /// on only what its parent holds.
    async fn chain(&self, m: &MandateRow, t: i64) -> Result<Option<Vec<String>>, ReprError> {
        let mut chain = vec![m.id.clone()];
        let mut current = m.clone();
        for _ in 0..MAX_CHAIN {
            let Some(parent_id) = current.parent_id.clone() else {
                chain.reverse();
                return Ok(Some(chain));
            };
            let Some(parent) = repo::get(&self.store, &parent_id).await? else { return Ok(None) };
            let held = packages_of(&parent);
            if !in_force(&parent, t)
                || parent.may_delegate == 0
                || !packages_of(&current).iter().all(|p| self.covers(&held, p))
            {
                return Ok(None);
            }
            chain.push(parent.id.clone());
            current = parent;
        }
        Ok(None)
    }

    /// The packages `agent` holds for `principal` at `t`, each with its grounds.
    pub async fn holdings(
        &self,
        agent: &Party,
        principal: &Party,
        t: i64,
    ) -> Result<BTreeMap<String, Vec<Basis>>, ReprError> {
        let mut held: BTreeMap<String, Vec<Basis>> = BTreeMap::new();
        if agent == principal {
            let own = self.catalog.packages.iter().filter(|p| p.party == principal.kind());
            for p in own {
                held.entry(p.id.clone()).or_default().push(Basis {
                    kind: "self".into(),
                    package: p.id.clone(),
                    role: None,
                    chain: vec![],
                    text: "acting for oneself".into(),
                });
            }
            return Ok(held);
        }
        if let (Party::Person(person), Party::Organisation(org)) = (agent, principal)
            && let Some(company) = self.register.company(org)
        {
            let roles = company.roles_of(person);
            for p in self.catalog.held_by_roles(&roles) {
                for role in roles.iter().filter(|r| p.roles.contains(r)) {
                    held.entry(p.id.clone()).or_default().push(Basis {
                        kind: "role".into(),
                        package: p.id.clone(),
                        role: Some(role.as_str().into()),
                        chain: vec![],
                        text: format!("register role {} in {} → package {}", role.as_str(), company.name, p.id),
                    });
                }
            }
        }
        for m in repo::active_between(&self.store, agent.id(), principal.id()).await? {
            if !in_force(&m, t) {
                continue;
            }
            let Some(chain) = self.chain(&m, t).await? else { continue };
            for p in packages_of(&m) {
                let text = if chain.len() > 1 {
                    format!(
                        "mandate {} from {}, passed on to {} ({} steps) → package {p}",
                        chain[0],
                        m.principal,
                        m.agent,
                        chain.len()
                    )
                } else {
                    format!("mandate {} from {} to {} → package {p}", m.id, m.principal, m.agent)
                };
                held.entry(p.clone()).or_default().push(Basis {
                    kind: "mandate".into(),
                    package: p,
                    role: None,
                    chain: chain.clone(),
                    text,
                });
            }
        }
        Ok(held)
    }

    /// May `agent` act for `principal` on a service at a time? Decided by the decision point; recorded.
    pub async fn check(&self, asked_by: &str, input: &CheckInput) -> Result<CheckResult, ReprError> {
        let agent = parse_party("agent", &input.agent)?;
        let principal = parse_party("principal", &input.principal)?;
        for (field, party) in [("agent", &agent), ("principal", &principal)] {
            if let Party::Organisation(o) = party {
                self.company_of(field, o)?;
            }
        }
        let service = self
            .catalog
            .service(&input.service)
            .ok_or_else(|| invalid("service", format!("unknown service {:?}", input.service)))?
            .clone();
        let action = input.action.clone().unwrap_or_else(|| "act".into());
        if !["act", "read", "write"].contains(&action.as_str()) {
            return Err(invalid("action", "act, read or write"));
        }
        let t = input.at.as_deref().map(|a| parse_time("at", a)).transpose()?.unwrap_or_else(now);
        let held = self.holdings(&agent, &principal, t).await?;
        let packages: Vec<String> = held.keys().cloned().collect();
        let decision = self.decide(&agent, &action, &service, &packages, agent == principal).await?;
        let right = format!("{SERVICE_RIGHT}{}", service.id);
        let basis = if decision.allowed {
            held.get(&service.package).into_iter().chain(held.get(&right)).flatten().cloned().collect()
        } else {
            vec![]
        };
        let ctx = Context {
            actor: Actor { kind: ActorKind::Node, id: asked_by.to_owned(), organisation: None },
            on_behalf_of: Some(agent.id().to_owned()),
            correlation_id: None,
        };
        let result = if decision.allowed { AuditResult::Allowed } else { AuditResult::Denied };
        let mut event = ctx.event(
            "representation.check",
            Some(ObjectRef { kind: "service".into(), id: service.id.clone() }),
            result,
            Some(format!("{} for {} at {}", agent.id(), principal.id(), rfc3339(t))),
        );
        event.data_subjects = [principal.id(), agent.id()]
            .into_iter()
            .filter(|s| PersonId::parse(s).is_ok())
            .map(str::to_owned)
            .collect();
        self.audit.record(vec![event]).await.map_err(|e| ReprError::Internal(e.to_string()))?;
        Ok(CheckResult {
            allowed: decision.allowed,
            package: service.package,
            basis,
            reasons: decision.reasons,
            at: rfc3339(t),
        })
    }

    /// The decision point's answer for the gathered packages (the service's policy slice).
    pub async fn decide(
        &self,
        agent: &Party,
        action: &str,
        service: &catalog::Service,
        packages: &[String],
        own: bool,
    ) -> Result<ena_access::Decision, ReprError> {
        use cedar_policy::{Context as CedarContext, RestrictedExpression};
        let map = |e: ena_access::AccessError| ReprError::Internal(e.to_string());
        let principal = ena_access::uid(agent.kind(), agent.id(), "agent").map_err(map)?;
        let (resource, entities) = self
            .services
            .get(&service.id)
            .ok_or_else(|| invalid("service", format!("unknown service {:?}", service.id)))?;
        let action = ena_access::action_uid(action).map_err(map)?;
        let context = CedarContext::from_pairs([
            (
                "packages".to_owned(),
                RestrictedExpression::new_set(packages.iter().map(|p| RestrictedExpression::new_string(p.clone()))),
            ),
            ("self".to_owned(), RestrictedExpression::new_bool(own)),
        ])
        .map_err(|e| ReprError::Internal(e.to_string()))?;
        self.access
            .decide_parts(principal, action, resource.clone(), context, entities, "service", &service.id)
            .await
            .map_err(map)
    }

    fn status(&self, m: &MandateRow, t: i64) -> String {
        match m.status.as_str() {
            "active" if m.valid_to.is_some_and(|to| to <= t) => "expired".into(),
            "pending" | "requested" if m.pending_until.is_some_and(|u| u <= t) => "lapsed".into(),
            s => s.to_owned(),
        }
    }

    /// A mandate with its approvals and its why.
    pub async fn view(&self, id: &str) -> Result<Mandate, ReprError> {
        let m = repo::get(&self.store, id).await?.ok_or_else(|| ReprError::NotFound(format!("no mandate {id}")))?;
        self.to_view(m).await
    }

    async fn to_view(&self, m: MandateRow) -> Result<Mandate, ReprError> {
        let approvals = repo::approvals(&self.store, &m.id)
            .await?
            .into_iter()
            .map(|(person, at)| Approval { person, at: rfc3339(at) })
            .collect();
        let mut why = Vec::new();
        let mut chain = vec![m.clone()];
        while let Some(pid) = chain.last().and_then(|c| c.parent_id.clone())
            && chain.len() < MAX_CHAIN
        {
            match repo::get(&self.store, &pid).await? {
                Some(p) => chain.push(p),
                None => break,
            }
        }
        chain.reverse();
        if let Some(root) = chain.first()
            && let Party::Organisation(org) = party_of(&root.principal)
            && let Some(c) = self.register.company(&org)
        {
            let given = repo::approvals(&self.store, &root.id).await?.len();
            why.push(format!(
                "{} ({}) signs {:?}: {} of {} required signatures given",
                c.name, org, c.signing_rule, given, root.required_approvals
            ));
        }
        for (i, step) in chain.iter().enumerate() {
            let line = if i == 0 {
                format!("{} granted {} the packages {}", step.principal, step.agent, packages_of(step).join(", "))
            } else {
                format!("{} passed {} on to {}", step.grantor, packages_of(step).join(", "), step.agent)
            };
            why.push(line);
        }
        let t = now();
        Ok(Mandate {
            principal_name: self.name_of(&m.principal),
            agent_name: self.name_of(&m.agent),
            status: self.status(&m, t),
            packages: packages_of(&m),
            valid_from: rfc3339(m.valid_from),
            valid_to: m.valid_to.map(rfc3339),
            may_delegate: m.may_delegate != 0,
            parent: m.parent_id.clone(),
            grantor: m.grantor.clone(),
            required_approvals: m.required_approvals,
            approvals,
            created_by: m.created_by.clone(),
            created_at: rfc3339(m.created_at),
            why,
            id: m.id,
            principal: m.principal,
            agent: m.agent,
        })
    }

    /// `party`, if `actor` may see its mandates and notices: the person themselves, or a company they
    /// hold a register role in.
    pub fn viewable(&self, actor: &PersonId, party: &str) -> Result<Party, ReprError> {
        let party = parse_party("party", party)?;
        let sees = match &party {
            Party::Person(p) => p == actor.as_str(),
            Party::Organisation(o) => self.register.company(o).is_some_and(|c| !c.roles_of(actor.as_str()).is_empty()),
        };
        if sees {
            Ok(party)
        } else {
            Err(forbidden("party", "you can see your own mandates and those of companies you have a role in"))
        }
    }

    /// Mandates of `party` that `actor` may see: `granted` (party is principal), `received` (party is
    /// agent) or `expired` (either side, ended within 15 months). Newest first.
    pub async fn list(
        &self,
        actor: &PersonId,
        party: &str,
        view: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Mandate>, ReprError> {
        let party = self.viewable(actor, party)?;
        let parties = vec![party.id().to_owned()];
        let t = now();
        let rows = match view {
            "granted" => repo::of_parties(&self.store, &parties, true, limit, offset).await?,
            "received" => repo::of_parties(&self.store, &parties, false, limit, offset).await?,
            "expired" => {
                let mut rows = repo::of_parties(&self.store, &parties, true, 1000, 0).await?;
                rows.extend(repo::of_parties(&self.store, &parties, false, 1000, 0).await?);
                rows.retain(|m| {
                    m.valid_to.is_some_and(|to| to <= t && to > t - EXPIRED_VISIBLE_SECS) && m.status == "active"
                });
                rows.sort_by_key(|m| std::cmp::Reverse(m.valid_to));
                rows.into_iter().skip(offset as usize).take(limit as usize).collect()
            }
            other => return Err(invalid("view", format!("{other:?}: granted, received or expired"))),
        };
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            let v = self.to_view(m).await?;
            if view == "expired" || v.status != "expired" {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Whom `actor` can act for: themselves, companies by register role, principals of mandates in force.
    pub async fn acting_for(&self, actor: &PersonId) -> Result<Vec<ActingFor>, ReprError> {
        let me = Party::Person(actor.as_str().to_owned());
        let mut out = vec![ActingFor {
            party: actor.as_str().to_owned(),
            kind: "person".into(),
            name: None,
            basis: "self".into(),
            packages: self.catalog.packages.iter().filter(|p| p.party == "person").map(|p| p.id.clone()).collect(),
        }];
        for (org, roles) in self.register.roles_of(actor.as_str()) {
            out.push(ActingFor {
                name: self.name_of(&org),
                party: org,
                kind: "organisation".into(),
                basis: "role".into(),
                packages: self.catalog.held_by_roles(&roles).map(|p| p.id.clone()).collect(),
            });
        }
        let t = now();
        let received = repo::of_parties(&self.store, &[actor.as_str().to_owned()], false, 1000, 0).await?;
        for m in received.into_iter().filter(|m| in_force(m, t)) {
            let principal = party_of(&m.principal);
            let held: Vec<String> = self.holdings(&me, &principal, t).await?.into_keys().collect();
            if held.is_empty() || out.iter().any(|a| a.party == m.principal && a.basis == "mandate") {
                continue;
            }
            out.push(ActingFor {
                name: self.name_of(&m.principal),
                party: m.principal,
                kind: principal.kind().into(),
                basis: "mandate".into(),
                packages: held,
            });
        }
        Ok(out)
    }

    /// Notices to `party` (the actor or a company the actor has a role in), newest first.
    pub async fn notices(
        &self,
        actor: &PersonId,
        party: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Notice>, ReprError> {
        let p = self.viewable(actor, party)?;
        Ok(repo::notices(&self.store, p.id(), limit, offset)
            .await?
            .into_iter()
            .map(|(id, party, kind, mandate, text, at)| Notice {
                id,
                party,
                kind,
                mandate,
                text,
                created_at: rfc3339(at),
            })
            .collect())
    }

    /// Tell both parties of every mandate ending within 14 days (once per mandate); returns how many.
    pub async fn notice_expiring(&self) -> Result<usize, ReprError> {
        let t = now();
        let due = repo::take_expiring(&self.store, t, t + EXPIRY_NOTICE_SECS).await?;
        for m in &due {
            let text = format!("Fullmakten upphör / the mandate ends {}", m.valid_to.map(rfc3339).unwrap_or_default());
            self.notify(&m.principal, "expiring", &m.id, text.clone()).await?;
            self.notify(&m.agent, "expiring", &m.id, text).await?;
        }
        Ok(due.len())
    }
}

/// The shipped catalog and register as JSON (for the API's reference lists).
pub fn catalog_json(c: &Catalog) -> serde_json::Value {
    json!({"packages": c.packages, "services": c.services})
}

#[cfg(test)]
mod tests;
