//! Plans, subscriptions and the deprecation pipeline. A producer offers plans on its API (a rate limit,
//! a daily quota, a largest request, whether it approves each subscription, which organisations and
//! trust marks — LoA among them — may use it); a consumer organisation subscribes its applications (its
//! addresses: the identity its node proves with the federation certificate, so no keys or secrets
//! exist); the producer approves, suspends and revokes, each an audit event. The producer's node fetches
//! its [`Table`] and reports what its gateway counted; from those counts the catalog knows who still
//! calls a deprecated version, and refuses to retire a version called in the last [`QUIET_DAYS`] days
//! unless the operator has recorded an override. Subscribers get a notice of each new version and
//! deprecation.

use ena_audit::Context;
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_core::FieldError;
use ena_store::with_pool;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::{Catalog, CatalogError};
use crate::gateway::{GatewayApi, GatewayMajor, GatewayPlan, GatewaySubscription, Table, UsageRow};

/// A version called by a subscribed application within this many days is not retired without the
/// operator's override.
pub const QUIET_DAYS: i64 = 30;

/// The most plans an API has.
pub const MAX_PLANS: i64 = 100;

/// Largest request a plan may admit (the node carries at most 10 MiB).
pub const MAX_REQUEST_BYTES: u64 = 10 * 1024 * 1024;

/// A plan to offer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanInput {
    /// Lowercase letters, digits and hyphens, 2–40.
    #[schema(example = "bas")]
    pub id: String,
    #[schema(example = "Bas")]
    pub name: String,
    /// Calls a second per application (1–100 000).
    #[schema(example = 10)]
    pub rate_per_second: u32,
    /// Calls let through at once (default: the rate; at least 1).
    pub burst: Option<u32>,
    /// Calls a day per application (none: no quota).
    pub quota_per_day: Option<u64>,
    /// Each subscription waits for the producer's approval.
    #[serde(default)]
    pub approval: bool,
    /// Only these organisations (organisation numbers) may subscribe; none: every member.
    #[serde(default)]
    pub organisations: Vec<String>,
    /// The subscribing member must hold these federation trust marks.
    #[serde(default)]
    pub trust_marks: Vec<String>,
    /// The subscribing member's assurance: the trust mark `loa{n}` (2–4) or a higher one.
    pub required_loa: Option<u8>,
    /// Largest request body (bytes; default 1 MiB, at most 10 MiB).
    pub max_request_bytes: Option<u64>,
}

/// A plan of an API.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiPlan)]
pub struct Plan {
    pub api_id: String,
    pub id: String,
    pub name: String,
    pub rate_per_second: u32,
    pub burst: u32,
    pub quota_per_day: Option<u64>,
    pub approval: bool,
    pub organisations: Vec<String>,
    pub trust_marks: Vec<String>,
    pub required_loa: Option<u8>,
    pub max_request_bytes: u64,
    pub created_at: String,
}

/// An application to subscribe.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionInput {
    #[schema(example = "bas")]
    pub plan: String,
    /// The consumer's address its node calls from: the organisation number, or `number:function`.
    #[schema(example = "212000-0142")]
    pub application: String,
}

/// A subscription.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiSubscription)]
pub struct Subscription {
    pub id: String,
    pub api_id: String,
    pub plan: String,
    /// The consumer organisation.
    pub organisation: String,
    pub application: String,
    /// `pending`, `active`, `suspended` or `revoked`.
    pub status: String,
    pub reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a producer (or, to revoke its own, a consumer) does to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Approve,
    Suspend,
    Revoke,
}

/// One application's use of one major version over the days asked.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiUsage)]
pub struct Usage {
    pub major: u64,
    pub application: String,
    pub calls: u64,
    pub errors: u64,
    pub refused: u64,
    /// Calls to a deprecated version or operation.
    pub deprecated: u64,
    pub last_at: String,
}

/// A notice to a subscribing organisation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiNotice)]
pub struct Notice {
    pub id: String,
    pub api_id: String,
    /// `published` (a new version, with its change report's counts) or `deprecated` (with its sunset).
    pub kind: String,
    pub version: String,
    pub text: String,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct PlanRow {
    api_id: String,
    id: String,
    name: String,
    rate_per_second: i64,
    burst: i64,
    quota_per_day: Option<i64>,
    approval: i64,
    organisations: String,
    trust_marks: String,
    max_request_bytes: i64,
    created_at: i64,
}

impl From<PlanRow> for Plan {
    fn from(r: PlanRow) -> Plan {
        let trust_marks: Vec<String> = serde_json::from_str(&r.trust_marks).unwrap_or_default();
        let required_loa = trust_marks.iter().find_map(|m| m.strip_prefix("loa").and_then(|n| n.parse().ok()));
        Plan {
            api_id: r.api_id,
            id: r.id,
            name: r.name,
            rate_per_second: u32::try_from(r.rate_per_second).unwrap_or(1),
            burst: u32::try_from(r.burst).unwrap_or(1),
            quota_per_day: r.quota_per_day.and_then(|q| u64::try_from(q).ok()),
            approval: r.approval != 0,
            organisations: serde_json::from_str(&r.organisations).unwrap_or_default(),
            trust_marks: trust_marks.into_iter().filter(|m| !m.starts_with("loa")).collect(),
            required_loa,
            max_request_bytes: u64::try_from(r.max_request_bytes).unwrap_or(0),
            created_at: ena_core::time::rfc3339_of(r.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: String,
    api_id: String,
    plan_id: String,
    organisation: String,
    application: String,
    status: String,
    reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<SubscriptionRow> for Subscription {
    fn from(r: SubscriptionRow) -> Subscription {
        Subscription {
            id: r.id,
            api_id: r.api_id,
            plan: r.plan_id,
            organisation: r.organisation,
            application: r.application,
            status: r.status,
            reason: r.reason,
            created_at: ena_core::time::rfc3339_of(r.created_at),
            updated_at: ena_core::time::rfc3339_of(r.updated_at),
        }
    }
}

const PLAN_COLUMNS: &str = "api_id, id, name, rate_per_second, burst, quota_per_day, approval, organisations, \
    trust_marks, max_request_bytes, created_at";
const SUBSCRIPTION_COLUMNS: &str =
    "id, api_id, plan_id, organisation, application, status, reason, created_at, updated_at";

fn invalid(field: &str, value: impl ToString, reason: impl Into<String>) -> FieldError {
    FieldError::new(field, value.to_string(), reason.into())
}

/// Whether a member holding `held` trust marks meets `required` (`loaN` is met by any higher LoA).
fn meets(held: &[String], required: &str) -> bool {
    match required.strip_prefix("loa").and_then(|n| n.parse::<u8>().ok()) {
        Some(n) => {
            held.iter().any(|m| m.strip_prefix("loa").and_then(|x| x.parse::<u8>().ok()).is_some_and(|x| x >= n))
        }
        None => held.iter().any(|m| m == required),
    }
}

impl Catalog {
    async fn event(
        &self,
        ctx: &Context,
        action: &str,
        kind: &str,
        id: &str,
        details: &[(&str, String)],
    ) -> Result<(), CatalogError> {
        let mut event =
            ctx.event(action, Some(ObjectRef { kind: kind.into(), id: id.to_owned() }), AuditResult::Allowed, None);
        event.details = Some(details.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect());
        self.audit().append(vec![event]).await.map(|_| ()).map_err(|e| CatalogError::Internal(e.to_string()))
    }

    /// Offer a plan on one of `owner`'s APIs.
    pub async fn add_plan(
        &self,
        ctx: &Context,
        owner: &str,
        api_id: &str,
        input: PlanInput,
    ) -> Result<Plan, CatalogError> {
        self.owned(owner, api_id).await?;
        let mut errors = Vec::new();
        let id_ok = (2..=40).contains(&input.id.len())
            && input.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            errors.push(invalid("id", &input.id, "2–40 lowercase letters, digits and hyphens"));
        }
        if input.name.trim().is_empty() || input.name.len() > 100 {
            errors.push(invalid("name", &input.name, "1–100 characters"));
        }
        if !(1..=100_000).contains(&input.rate_per_second) {
            errors.push(invalid("ratePerSecond", input.rate_per_second, "1–100 000 calls a second"));
        }
        let burst = input.burst.unwrap_or(input.rate_per_second);
        if !(1..=1_000_000).contains(&burst) {
            errors.push(invalid("burst", burst, "1–1 000 000 calls"));
        }
        if input.quota_per_day.is_some_and(|q| q == 0 || q > 1_000_000_000) {
            errors.push(invalid("quotaPerDay", input.quota_per_day.unwrap_or_default(), "1–1 000 000 000 calls a day"));
        }
        // Kept in the 12-digit form the federation names members by.
        let organisations: Vec<String> = input
            .organisations
            .iter()
            .filter_map(|o| match ena_core::id::Organisationsnummer::parse(o) {
                Ok(n) => Some(n.as_str().to_owned()),
                Err(e) => {
                    errors.push(invalid("organisations", o, format!("not an organisation number: {e}")));
                    None
                }
            })
            .collect();
        if input.organisations.len() > 500 {
            errors.push(invalid("organisations", input.organisations.len(), "at most 500"));
        }
        if let Some(m) = input.trust_marks.iter().find(|m| m.is_empty() || m.len() > 100 || m.starts_with("loa")) {
            errors.push(invalid("trustMarks", m, "trust mark types of 1–100 characters (an LoA goes in requiredLoa)"));
        }
        if input.required_loa.is_some_and(|l| !(2..=4).contains(&l)) {
            errors.push(invalid("requiredLoa", input.required_loa.unwrap_or_default(), "2, 3 or 4"));
        }
        let max = input.max_request_bytes.unwrap_or(1024 * 1024);
        if max == 0 || max > MAX_REQUEST_BYTES {
            errors.push(invalid("maxRequestBytes", max, "1 byte to 10 MiB"));
        }
        if !errors.is_empty() {
            return Err(CatalogError::Invalid(errors));
        }
        let (count,): (i64,) = with_pool!(self.store(), pool => {
            sqlx::query_as("SELECT COUNT(*) FROM apis_plans WHERE api_id = $1").bind(api_id).fetch_one(pool).await
        })?;
        if count >= MAX_PLANS {
            return Err(CatalogError::Conflict(format!("{api_id} has {MAX_PLANS} plans, the most an API has.")));
        }
        let mut marks = input.trust_marks.clone();
        marks.extend(input.required_loa.map(|l| format!("loa{l}")));
        self.event(ctx, "apis.plan.add", "api", api_id, &[("plan", input.id.clone())]).await?;
        let now = ena_core::time::unix_now();
        let n = with_pool!(self.store(), pool => {
            sqlx::query("INSERT INTO apis_plans (api_id, id, name, rate_per_second, burst, quota_per_day, approval, organisations, \
                         trust_marks, max_request_bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (api_id, id) DO NOTHING")
                .bind(api_id).bind(&input.id).bind(input.name.trim()).bind(i64::from(input.rate_per_second)).bind(i64::from(burst))
                .bind(input.quota_per_day.map(|q| q as i64)).bind(i64::from(input.approval))
                .bind(serde_json::to_string(&organisations).unwrap_or_default())
                .bind(serde_json::to_string(&marks).unwrap_or_default()).bind(max as i64).bind(now)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
        if n == 0 {
            return Err(CatalogError::Conflict(format!("{api_id} already has a plan {}.", input.id)));
        }
        self.plan(api_id, &input.id).await
    }

    async fn plan(&self, api_id: &str, id: &str) -> Result<Plan, CatalogError> {
        let sql = format!("SELECT {PLAN_COLUMNS} FROM apis_plans WHERE api_id = $1 AND id = $2");
        let row: Option<PlanRow> = with_pool!(self.store(), pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(api_id).bind(id).fetch_optional(pool).await
        })?;
        row.map(Plan::from).ok_or_else(|| CatalogError::NotFound(format!("{api_id} has no plan {id}.")))
    }

    /// The plans of an API.
    pub async fn plans(&self, api_id: &str) -> Result<Vec<Plan>, CatalogError> {
        self.api(api_id).await?;
        let sql = format!("SELECT {PLAN_COLUMNS} FROM apis_plans WHERE api_id = $1 ORDER BY id LIMIT 100");
        let rows: Vec<PlanRow> = with_pool!(self.store(), pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(api_id).fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(Plan::from).collect())
    }

    /// Subscribe one of `organisation`'s applications to a plan. `held`: the trust marks the subscribing
    /// member holds now. Active at once, or pending when the plan wants approval.
    pub async fn subscribe(
        &self,
        ctx: &Context,
        organisation: &str,
        held: &[String],
        api_id: &str,
        input: SubscriptionInput,
    ) -> Result<Subscription, CatalogError> {
        self.api(api_id).await?;
        let plan = self.plan(api_id, &input.plan).await.map_err(|_| {
            CatalogError::Invalid(vec![invalid("plan", &input.plan, format!("not a plan of {api_id}"))])
        })?;
        let application = ena_addresses::canonical(&input.application).map_err(|e| CatalogError::Invalid(vec![e]))?;
        if application.split(':').next() != Some(organisation) {
            return Err(CatalogError::Invalid(vec![invalid(
                "application",
                &application,
                format!("an address of your own organisation ({organisation} or {organisation}:function)"),
            )]));
        }
        if !plan.organisations.is_empty() && !plan.organisations.iter().any(|o| o == organisation) {
            return Err(CatalogError::Forbidden(format!(
                "The plan {} of {api_id} is not open to {organisation}.",
                plan.id
            )));
        }
        let mut required = plan.trust_marks.clone();
        required.extend(plan.required_loa.map(|l| format!("loa{l}")));
        if let Some(missing) = required.iter().find(|m| !meets(held, m)) {
            return Err(CatalogError::Forbidden(format!(
                "The plan {} of {api_id} needs the trust mark {missing}, which your organisation's member does not hold.",
                plan.id
            )));
        }
        let status = if plan.approval { "pending" } else { "active" };
        let id = uuid::Uuid::now_v7().to_string();
        self.event(
            ctx,
            "apis.subscription.create",
            "subscription",
            &id,
            &[
                ("api", api_id.to_owned()),
                ("plan", plan.id.clone()),
                ("application", application.clone()),
                ("status", status.into()),
            ],
        )
        .await?;
        let now = ena_core::time::unix_now();
        let inserted = with_pool!(self.store(), pool => {
            sqlx::query("INSERT INTO apis_subscriptions (id, api_id, plan_id, organisation, application, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING")
                .bind(&id).bind(api_id).bind(&plan.id).bind(organisation).bind(&application).bind(status).bind(now)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
        if inserted == 0 {
            return Err(CatalogError::Conflict(format!(
                "{application} already has a subscription to {api_id}; revoke it first to change plans."
            )));
        }
        self.subscription(&id).await
    }

    /// One subscription.
    pub async fn subscription(&self, id: &str) -> Result<Subscription, CatalogError> {
        let sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM apis_subscriptions WHERE id = $1");
        let row: Option<SubscriptionRow> = with_pool!(self.store(), pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await
        })?;
        row.map(Subscription::from).ok_or_else(|| CatalogError::NotFound(format!("No subscription {id}.")))
    }

    /// The subscriptions `organisation` holds, and those to its APIs, newest first.
    pub async fn subscriptions(
        &self,
        organisation: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Subscription>, CatalogError> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM apis_subscriptions WHERE organisation = $1 \
             OR api_id IN (SELECT id FROM apis_apis WHERE owner = $1) ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let rows: Vec<SubscriptionRow> = with_pool!(self.store(), pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(organisation).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(Subscription::from).collect())
    }

    /// Approve (a pending or suspended one), suspend (an active one) or revoke a subscription. The API's
    /// owner does all three; the subscribing organisation may revoke its own. One conditional UPDATE.
    pub async fn step(
        &self,
        ctx: &Context,
        organisation: &str,
        id: &str,
        step: Step,
        reason: Option<&str>,
    ) -> Result<Subscription, CatalogError> {
        let s = self.subscription(id).await?;
        let api = self.api(&s.api_id).await?;
        let producer = api.owner == organisation;
        // A subscriber may end its own subscription, but not one the owner suspended: revoking it and
        // subscribing again would undo the suspension.
        if !producer && !(step == Step::Revoke && s.organisation == organisation && s.status != "suspended") {
            return Err(CatalogError::Forbidden(format!(
                "Only {}'s owner decides on its subscriptions (a subscriber may revoke its own unless it is suspended).",
                s.api_id
            )));
        }
        if reason.is_some_and(|r| r.len() > 500) {
            return Err(CatalogError::Invalid(vec![invalid("reason", "(long)", "at most 500 characters")]));
        }
        let (from, to, action): (&[&str], &str, &str) = match step {
            Step::Approve => (&["pending", "suspended"], "active", "apis.subscription.approve"),
            Step::Suspend => (&["active"], "suspended", "apis.subscription.suspend"),
            Step::Revoke => (&["pending", "active", "suspended"], "revoked", "apis.subscription.revoke"),
        };
        if !from.contains(&s.status.as_str()) {
            return Err(CatalogError::Conflict(format!("The subscription is {}; it cannot become {to}.", s.status)));
        }
        self.event(
            ctx,
            action,
            "subscription",
            id,
            &[
                ("api", s.api_id.clone()),
                ("application", s.application.clone()),
                ("reason", reason.unwrap_or_default().to_owned()),
            ],
        )
        .await?;
        let now = ena_core::time::unix_now();
        let n = with_pool!(self.store(), pool => {
            sqlx::query("UPDATE apis_subscriptions SET status = $2, reason = $3, updated_at = $4 WHERE id = $1 AND status = $5")
                .bind(id).bind(to).bind(reason).bind(now).bind(&s.status).execute(pool).await.map(|r| r.rows_affected())
        })?;
        if n == 0 {
            return Err(CatalogError::Conflict("The subscription changed meanwhile; read it again.".into()));
        }
        self.subscription(id).await
    }

    /// What the gateway on `node` enforces: the catalog's APIs served there, each major's lifecycle, the
    /// plans and the subscriptions that are not revoked.
    /// Only the APIs `organisation` owns: another organisation cannot put its API on this node.
    pub async fn gateway_table(&self, node: &str, organisation: &str) -> Result<Table, CatalogError> {
        let apis: Vec<(String, String)> = with_pool!(self.store(), pool => {
            sqlx::query_as("SELECT id, service FROM apis_apis WHERE node = $1 AND owner = $2 AND service IS NOT NULL ORDER BY id")
                .bind(node).bind(organisation).fetch_all(pool).await
        })?;
        let mut table = Table::default();
        for (id, service) in apis {
            let majors = self.majors(&id).await?;
            let plans = self
                .plans(&id)
                .await?
                .into_iter()
                .map(|p| GatewayPlan {
                    id: p.id,
                    rate_per_second: p.rate_per_second,
                    burst: p.burst,
                    quota_per_day: p.quota_per_day,
                    max_request_bytes: p.max_request_bytes,
                })
                .collect();
            let subs: Vec<(String, String, String)> = with_pool!(self.store(), pool => {
                sqlx::query_as("SELECT application, plan_id, status FROM apis_subscriptions WHERE api_id = $1 AND status <> 'revoked' ORDER BY application")
                    .bind(&id).fetch_all(pool).await
            })?;
            let subscriptions = subs
                .into_iter()
                .map(|(application, plan, status)| GatewaySubscription { application, plan, status })
                .collect();
            table.apis.push(GatewayApi { id, service, majors, plans, subscriptions });
        }
        Ok(table)
    }

    /// Each major's newest released version: the newest published one, else the newest deprecated one,
    /// else the newest retired one.
    async fn majors(&self, api_id: &str) -> Result<Vec<GatewayMajor>, CatalogError> {
        let rows: Vec<(i64, String, String, Option<i64>, Option<i64>, Option<String>, String)> = with_pool!(self.store(), pool => {
            sqlx::query_as("SELECT major, version, status, deprecated_at, sunset_at, successor, document FROM apis_versions \
                            WHERE api_id = $1 AND status <> 'draft' ORDER BY major, \
                            CASE status WHEN 'published' THEN 0 WHEN 'deprecated' THEN 1 ELSE 2 END, published_at DESC")
                .bind(api_id).fetch_all(pool).await
        })?;
        let mut majors: Vec<GatewayMajor> = Vec::new();
        for (major, version, status, deprecated_at, sunset_at, successor, document) in rows {
            let major = u64::try_from(major).unwrap_or(0);
            if majors.iter().any(|m| m.major == major) {
                continue;
            }
            let doc: serde_json::Value = serde_json::from_str(&document).unwrap_or_default();
            let successor_major = successor.as_deref().and_then(|s| s.split('.').next()?.parse().ok());
            majors.push(GatewayMajor {
                major,
                version,
                status,
                deprecated_at,
                sunset_at,
                successor_major,
                deprecated_operations: deprecated_operations(&doc),
            });
        }
        Ok(majors)
    }

    /// Take a node's usage report (absolute counts since its process started, `boot`) for the APIs the
    /// catalog says it serves; rows for other APIs are refused by name.
    pub async fn report_usage(
        &self,
        node: &str,
        organisation: &str,
        boot: &str,
        rows: &[UsageRow],
    ) -> Result<u64, CatalogError> {
        if boot.is_empty() || boot.len() > 64 {
            return Err(CatalogError::Invalid(vec![invalid("boot", boot, "1–64 characters")]));
        }
        if rows.len() > 1000 {
            return Err(CatalogError::Invalid(vec![invalid("rows", rows.len(), "at most 1000 rows a report")]));
        }
        let served: Vec<(String,)> = with_pool!(self.store(), pool => {
            sqlx::query_as("SELECT id FROM apis_apis WHERE node = $1 AND owner = $2").bind(node).bind(organisation).fetch_all(pool).await
        })?;
        if let Some(r) = rows.iter().find(|r| !served.iter().any(|(id,)| id == &r.api_id)) {
            return Err(CatalogError::Invalid(vec![invalid(
                "apiId",
                &r.api_id,
                "an API the catalog says this node serves",
            )]));
        }
        for r in rows {
            let c = &r.counts;
            with_pool!(self.store(), pool => {
                sqlx::query("INSERT INTO apis_usage (api_id, major, application, node, boot, day, calls, errors, refused, deprecated, last_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                             ON CONFLICT (api_id, major, application, node, boot, day) DO UPDATE SET calls = excluded.calls, \
                             errors = excluded.errors, refused = excluded.refused, deprecated = excluded.deprecated, last_at = excluded.last_at")
                    .bind(&r.api_id).bind(r.major as i64).bind(&r.application).bind(node).bind(boot).bind(r.day)
                    .bind(c.calls as i64).bind(c.errors as i64).bind(c.refused as i64).bind(c.deprecated as i64).bind(c.last_at)
                    .execute(pool).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(rows.len() as u64)
    }

    /// Use of `api_id` over the last `days` days per major and application: all of it for the API's
    /// owner, the organisation's own applications for anyone else.
    pub async fn usage(&self, api_id: &str, viewer: &str, days: i64) -> Result<Vec<Usage>, CatalogError> {
        let api = self.api(api_id).await?;
        let since = ena_core::time::unix_now().div_euclid(86_400) - days + 1;
        let own = if api.owner == viewer { String::new() } else { format!("{viewer}%") };
        let rows: Vec<(i64, String, i64, i64, i64, i64, i64)> = with_pool!(self.store(), pool => {
            sqlx::query_as("SELECT major, application, CAST(SUM(calls) AS BIGINT), CAST(SUM(errors) AS BIGINT), CAST(SUM(refused) AS BIGINT), \
                            CAST(SUM(deprecated) AS BIGINT), MAX(last_at) FROM apis_usage WHERE api_id = $1 AND day >= $2 \
                            AND ($3 = '' OR application LIKE $3) GROUP BY major, application ORDER BY major, application LIMIT 500")
                .bind(api_id).bind(since).bind(&own).fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|(major, application, calls, errors, refused, deprecated, last)| Usage {
                major: major as u64,
                application,
                calls: calls as u64,
                errors: errors as u64,
                refused: refused as u64,
                deprecated: deprecated as u64,
                last_at: ena_core::time::rfc3339_of(last),
            })
            .collect())
    }

    /// The subscribed applications that called `major` of `api_id` (let through) in the last
    /// [`QUIET_DAYS`] days: who a retirement would leave without an answer.
    pub async fn callers(&self, api_id: &str, major: u64) -> Result<Vec<String>, CatalogError> {
        let since = ena_core::time::unix_now().div_euclid(86_400) - QUIET_DAYS + 1;
        let rows: Vec<(String,)> = with_pool!(self.store(), pool => {
            sqlx::query_as("SELECT DISTINCT u.application FROM apis_usage u JOIN apis_subscriptions s \
                            ON s.api_id = u.api_id AND s.application = u.application AND s.status <> 'revoked' \
                            WHERE u.api_id = $1 AND u.major = $2 AND u.day >= $3 AND u.calls > 0 ORDER BY u.application LIMIT 100")
                .bind(api_id).bind(major as i64).bind(since).fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(|(a,)| a).collect())
    }

    /// Tell every organisation with a live subscription to `api_id` (a notice and an audit event each).
    pub(crate) async fn notify(
        &self,
        ctx: &Context,
        api_id: &str,
        kind: &str,
        version: &str,
        text: &str,
    ) -> Result<(), CatalogError> {
        let orgs: Vec<(String,)> = with_pool!(self.store(), pool => {
            sqlx::query_as("SELECT DISTINCT organisation FROM apis_subscriptions WHERE api_id = $1 AND status <> 'revoked'")
                .bind(api_id).fetch_all(pool).await
        })?;
        let now = ena_core::time::unix_now();
        for (org,) in orgs {
            let id = uuid::Uuid::now_v7().to_string();
            self.event(
                ctx,
                "apis.notice",
                "api",
                api_id,
                &[("organisation", org.clone()), ("kind", kind.into()), ("version", version.into())],
            )
            .await?;
            with_pool!(self.store(), pool => {
                sqlx::query("INSERT INTO apis_notices (id, organisation, api_id, kind, version, text, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&id).bind(&org).bind(api_id).bind(kind).bind(version).bind(text).bind(now).execute(pool).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(())
    }

    /// The notices to `organisation`, newest first.
    pub async fn notices(&self, organisation: &str, limit: u32, offset: u64) -> Result<Vec<Notice>, CatalogError> {
        let rows: Vec<(String, String, String, String, String, i64)> = with_pool!(self.store(), pool => {
            sqlx::query_as("SELECT id, api_id, kind, version, text, created_at FROM apis_notices WHERE organisation = $1 \
                            ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3")
                .bind(organisation).bind(i64::from(limit)).bind(offset as i64).fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|(id, api_id, kind, version, text, at)| Notice {
                id,
                api_id,
                kind,
                version,
                text,
                created_at: ena_core::time::rfc3339_of(at),
            })
            .collect())
    }

    /// The operator records an exception: `rules` (SKALL rules the version breaks) let through at its
    /// publication, with why.
    pub async fn grant_exception(
        &self,
        ctx: &Context,
        api_id: &str,
        version: &str,
        rules: &[String],
        reason: &str,
    ) -> Result<crate::catalog::Version, CatalogError> {
        let v = self.version(api_id, version).await?;
        if v.status != "draft" {
            return Err(CatalogError::Conflict(format!(
                "{api_id} {version} is {}: exceptions are for drafts.",
                v.status
            )));
        }
        let (_, lint) = self.document(api_id, version).await?;
        let broken = error_rules(&lint);
        let mut errors = Vec::new();
        if rules.is_empty() {
            errors.push(invalid("rules", "", "the SKALL rules to let through, e.g. DOK.15"));
        }
        if let Some(r) = rules.iter().find(|r| !broken.contains(r)) {
            errors.push(invalid("rules", r, format!("not a SKALL rule this version breaks ({})", broken.join(", "))));
        }
        if reason.trim().len() < 10 || reason.len() > 500 {
            errors.push(invalid("reason", reason, "why, in 10–500 characters"));
        }
        if !errors.is_empty() {
            return Err(CatalogError::Invalid(errors));
        }
        let record =
            serde_json::json!({"rules": rules, "reason": reason, "by": ctx.actor.id, "at": ena_core::time::unix_now()});
        self.event(
            ctx,
            "apis.version.exception",
            "api",
            api_id,
            &[("version", version.into()), ("rules", rules.join(",")), ("reason", reason.into())],
        )
        .await?;
        with_pool!(self.store(), pool => {
            sqlx::query("UPDATE apis_versions SET lint_exception = $3 WHERE api_id = $1 AND version = $2")
                .bind(api_id).bind(version).bind(record.to_string()).execute(pool).await.map(|r| r.rows_affected())
        })?;
        self.version(api_id, version).await
    }

    /// The operator records that `version` may be retired although applications still call it.
    pub async fn override_retirement(
        &self,
        ctx: &Context,
        api_id: &str,
        version: &str,
        reason: &str,
    ) -> Result<crate::catalog::Version, CatalogError> {
        let v = self.version(api_id, version).await?;
        if v.status != "deprecated" {
            return Err(CatalogError::Conflict(format!(
                "{api_id} {version} is {}: only a deprecated version is retired.",
                v.status
            )));
        }
        if reason.trim().len() < 10 || reason.len() > 500 {
            return Err(CatalogError::Invalid(vec![invalid("reason", reason, "why, in 10–500 characters")]));
        }
        let record = serde_json::json!({"reason": reason, "by": ctx.actor.id, "at": ena_core::time::unix_now()});
        self.event(
            ctx,
            "apis.version.retire-override",
            "api",
            api_id,
            &[("version", version.into()), ("reason", reason.into())],
        )
        .await?;
        with_pool!(self.store(), pool => {
            sqlx::query("UPDATE apis_versions SET retire_override = $3 WHERE api_id = $1 AND version = $2")
                .bind(api_id).bind(version).bind(record.to_string()).execute(pool).await.map(|r| r.rows_affected())
        })?;
        self.version(api_id, version).await
    }
}

/// The SKALL rules a lint report (as stored) finds broken.
pub(crate) fn error_rules(lint: &serde_json::Value) -> Vec<String> {
    let mut rules: Vec<String> = lint["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["level"] == "error")
        .filter_map(|f| f["rule"].as_str().map(str::to_owned))
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

/// The operations a document marks `deprecated: true`, as (METHOD, path template).
fn deprecated_operations(doc: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if op.get("deprecated") == Some(&serde_json::Value::Bool(true)) {
                out.push((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_loa_is_met_by_a_higher_one() {
        let held = vec!["loa3".to_owned(), "connected-mina-meddelanden".to_owned()];
        assert!(meets(&held, "loa2") && meets(&held, "loa3") && !meets(&held, "loa4"));
        assert!(meets(&held, "connected-mina-meddelanden") && !meets(&held, "other"));
    }
}
