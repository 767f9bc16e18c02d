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

use crate::catalog::Catalog;
use crate::register::{Company, CompanyRegister};
use crate::repo::MandateRow;

mod check;
mod grant;
mod views;

pub use views::catalog_json;

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

fn parse_time(field: &str, v: &str) -> Result<i64, ReprError> {
    ena_core::Timestamp::parse_rfc3339(v)
        .map(ena_core::Timestamp::unix)
        .ok_or_else(|| invalid(field, "an RFC 3339 time, e.g. 2027-01-31T00:00:00Z"))
}

/// Where a mandate stands (as stored, or — `expired`, `lapsed` — as time has moved on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MandateStatus {
    /// Asked for by the agent, waiting for the principal's answer.
    Requested,
    /// Granted, waiting for the approvals the principal's signing rule needs.
    Pending,
    Active,
    /// Active, but its validTo has passed.
    Expired,
    /// A request or grant whose answer or approvals did not come in time.
    Lapsed,
    Declined,
    Revoked,
}

ena_core::text_enum!(MandateStatus {
    Requested = "requested",
    Pending = "pending",
    Active = "active",
    Expired = "expired",
    Lapsed = "lapsed",
    Declined = "declined",
    Revoked = "revoked",
});

/// What a person may do with a mandate now (`Representation::allowed_steps`): the same rules
/// `approve`, `respond` and `revoke` enforce, so a page offers only what would succeed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Steps {
    pub approve: bool,
    pub answer: bool,
    pub revoke: bool,
}

/// A step a person takes on a mandate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Approve,
    Answer,
    Revoke,
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
    pub status: MandateStatus,
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
    /// Where "now" comes from (validity, pending windows, expiry): the system clock, or a test's.
    clock: Arc<dyn ena_core::Clock>,
}

impl std::fmt::Debug for Representation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Representation").finish_non_exhaustive()
    }
}

fn packages_of(m: &MandateRow) -> Vec<String> {
    packages_in(&m.packages)
}

/// The packages of a mandate's stored JSON list.
fn packages_in(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// Is `m` in force at `t` (active, inside its validity)?
fn in_force(m: &MandateRow, t: i64) -> bool {
    m.status == MandateStatus::Active.as_str() && m.valid_from <= t && m.valid_to.is_none_or(|to| t < to)
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
        Representation {
            services,
            store,
            register,
            catalog,
            access,
            audit,
            hook: None,
            clock: Arc::new(ena_core::SystemClock),
        }
    }

    /// Read the time from `clock` (tests move it instead of waiting).
    pub fn with_clock(mut self, clock: Arc<dyn ena_core::Clock>) -> Representation {
        self.clock = clock;
        self
    }

    /// Now, by this service's clock (unix seconds).
    fn now(&self) -> i64 {
        self.clock.now().unix()
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

    /// Which of `principals` someone holds `rights` for now by a mandate (a package id or
    /// `service:<id>`); register roles are not asked (every company has people with roles).
    pub async fn represented_among(
        &self,
        principals: &[String],
        rights: &[&str],
    ) -> Result<std::collections::HashSet<String>, ReprError> {
        Ok(repo::principals_holding(&self.store, principals, rights, self.now()).await?)
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
}

#[cfg(test)]
mod tests;
