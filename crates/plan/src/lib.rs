//! Plan and portfolio (*långsiktig plan*): the building blocks, their dependencies and costs, and the
//! cost model that reproduces the seed's tables from per-block data.
//!
//! Service functions are the block's public API; the server calls them and knows no SQL or rules.

pub mod cost;
pub mod model;
pub mod repo;

use ena_audit::event::Result as AuditResult;
use ena_audit::{AuditSink, Context, ObjectRef};
use ena_core::{FieldError, Page, Paged};
use std::sync::{Arc, RwLock};

use ena_store::Store;
use serde::Serialize;
use utoipa::ToSchema;

pub use cost::{CostReport, compute};
pub use model::{Plan, PlanFileError, SHIPPED_PLAN};

/// What can go wrong in the plan block's services.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no building block with id {0:?}")]
    BlockNotFound(String),
    #[error("no category with id {0:?}")]
    CategoryNotFound(String),
    #[error("the plan is invalid")]
    Invalid(Vec<FieldError>),
    #[error("no plan is stored")]
    NoPlan,
    #[error("the audit log could not record the change: {0}")]
    Audit(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A building block as the API and the portal show it: plan data, dependencies both ways, costs.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockView {
    pub id: String,
    pub name_sv: String,
    pub name_en: String,
    pub category: model::Category,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    pub status: model::Status,
    pub estimate: model::Estimate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schablon_from: Option<i32>,
    /// Blocks this one depends on.
    pub depends_on: Vec<BlockRef>,
    /// Blocks that depend on this one.
    pub dependents: Vec<BlockRef>,
    /// Computed yearly costs (schablon blocks included).
    pub costs: Vec<cost::YearCost>,
    pub total: i64,
    /// The cost lines as entered (empty for schablon and unestimated blocks).
    pub lines: Vec<model::CostLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockRef {
    pub id: String,
    pub name_sv: String,
    pub name_en: String,
}

/// A stored plan with everything derived from it, computed once per revision.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases by one with every replacement of the stored plan.
    pub revision: i64,
    pub plan: Plan,
    pub report: CostReport,
    pub views: Vec<BlockView>,
}

/// The plan block's service handle: the store, and the snapshot of the latest plan revision read.
///
/// Every read asks the database for the current revision (one indexed row) and recomputes only when it
/// changed, so another process that replaces the plan (several servers on one PostgreSQL) is seen at the
/// next request, while the common read costs one query instead of loading and computing the whole plan.
#[derive(Clone, Debug)]
pub struct Plans {
    store: Store,
    latest: Arc<RwLock<Option<Arc<Snapshot>>>>,
}

impl Plans {
    pub fn new(store: Store) -> Plans {
        Plans { store, latest: Arc::new(RwLock::new(None)) }
    }

    /// Store the shipped plan if the database has none yet (first start). Returns whether it seeded.
    pub async fn seed_if_empty(&self, now: i64) -> Result<bool, PlanError> {
        if repo::revision(&self.store).await?.is_some() {
            return Ok(false);
        }
        repo::replace(&self.store, &Plan::shipped(), now).await?;
        Ok(true)
    }

    /// Replace the stored plan after validating it; invalid input changes nothing. Every attempt is an
    /// audit event (`plan.replace`: allowed, or failed with the reason), durable before this returns.
    pub async fn replace_plan(&self, audit: &dyn AuditSink, ctx: &Context, plan: &Plan) -> Result<(), PlanError> {
        let object = Some(ObjectRef { kind: "plan".into(), id: "plan".into() });
        let outcome = match plan.validate() {
            Err(fields) => Err(PlanError::Invalid(fields)),
            Ok(()) => repo::replace(&self.store, plan, ena_core::time::unix_now()).await.map_err(PlanError::from),
        };
        let event = match &outcome {
            Ok(()) => ctx.event("plan.replace", object, AuditResult::Allowed, None),
            Err(e) => ctx.event("plan.replace", object, AuditResult::Failed, Some(e.to_string())),
        };
        audit.record(vec![event]).await.map_err(|e| PlanError::Audit(e.to_string()))?;
        outcome
    }

    /// The current plan and everything computed from it.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, PlanError> {
        let revision = repo::revision(&self.store).await?.ok_or(PlanError::NoPlan)?;
        let cached = self.latest.read().ok().and_then(|guard| guard.clone());
        if let Some(snapshot) = cached.filter(|s| s.revision == revision) {
            return Ok(snapshot);
        }
        // The plan may have moved on since the revision was read; keep the revision loaded with it.
        let (revision, plan) = repo::load(&self.store).await?.ok_or(PlanError::NoPlan)?;
        let snapshot = Arc::new(Snapshot { revision, report: compute(&plan), views: block_views(&plan), plan });
        if let Ok(mut guard) = self.latest.write() {
            if guard.as_ref().is_none_or(|s| s.revision < revision) {
                *guard = Some(snapshot.clone());
            }
        }
        Ok(snapshot)
    }

    pub async fn load(&self) -> Result<Plan, PlanError> {
        Ok(self.snapshot().await?.plan.clone())
    }

    /// One page of the blocks, optionally only those of one category.
    pub async fn list_blocks(&self, category: Option<&str>, page: Page) -> Result<Paged<BlockView>, PlanError> {
        let snapshot = self.snapshot().await?;
        if let Some(category) = category {
            if !snapshot.plan.categories.iter().any(|c| c.id == category) {
                return Err(PlanError::CategoryNotFound(category.to_owned()));
            }
        }
        let views = snapshot.views.iter().filter(|b| category.is_none_or(|c| b.category.id == c)).cloned().collect();
        Ok(page.slice(views))
    }

    pub async fn get_block(&self, id: &str) -> Result<BlockView, PlanError> {
        let snapshot = self.snapshot().await?;
        snapshot.views.iter().find(|b| b.id == id).cloned().ok_or_else(|| PlanError::BlockNotFound(id.to_owned()))
    }

    /// The cost tables for the stored plan.
    pub async fn cost_summary(&self) -> Result<Arc<Snapshot>, PlanError> {
        self.snapshot().await
    }
}

/// Every block as the API shows it, in plan order.
pub fn block_views(plan: &Plan) -> Vec<BlockView> {
    let report = compute(plan);
    let refs = |ids: &mut dyn Iterator<Item = &String>| -> Vec<BlockRef> {
        ids.filter_map(|id| plan.blocks.iter().find(|b| &b.id == id))
            .map(|b| BlockRef { id: b.id.clone(), name_sv: b.name_sv.clone(), name_en: b.name_en.clone() })
            .collect()
    };
    plan.blocks
        .iter()
        .zip(report.blocks)
        .map(|(b, cost)| BlockView {
            id: b.id.clone(),
            name_sv: b.name_sv.clone(),
            name_en: b.name_en.clone(),
            category: plan.categories.iter().find(|c| c.id == b.category).cloned().unwrap_or_else(|| model::Category {
                id: b.category.clone(),
                name_sv: b.category.clone(),
                name_en: b.category.clone(),
            }),
            agency: b.agency.clone(),
            status: b.status,
            estimate: b.estimate,
            schablon_from: b.schablon_from,
            depends_on: refs(&mut b.depends_on.iter()),
            dependents: refs(&mut plan.blocks.iter().filter(|o| o.depends_on.contains(&b.id)).map(|o| &o.id)),
            costs: cost.years,
            total: cost.total,
            lines: b.lines.clone(),
        })
        .collect()
}

/// The cost tables for a plan given by the caller (what-if); nothing is stored.
pub fn calculate(plan: &Plan) -> Result<CostReport, PlanError> {
    plan.validate().map_err(PlanError::Invalid)?;
    Ok(compute(plan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ena_store::testing::test_stores;

    #[test]
    fn shipped_plan_is_valid() {
        Plan::shipped().validate().unwrap();
    }

    fn check_invalid(edit: impl FnOnce(&mut Plan), property: &str) {
        let mut plan = Plan::shipped();
        edit(&mut plan);
        let errors = plan.validate().unwrap_err();
        assert!(errors.iter().any(|e| e.property == property), "expected an error on {property}, got {errors:?}");
    }

    #[test]
    fn invalid_plans_name_the_field() {
        check_invalid(|p| p.blocks[0].depends_on.push("nope".into()), "blocks[0].dependsOn[1]");
        check_invalid(|p| p.blocks[0].category = "nope".into(), "blocks[0].category");
        check_invalid(|p| p.blocks[0].lines[0].costs[0].amount = -1, "blocks[0].lines[0].costs[0].amount");
        check_invalid(|p| p.blocks[0].lines[0].costs[0].year = 1999, "blocks[0].lines[0].costs[0].year");
        check_invalid(|p| p.blocks[1].id = p.blocks[0].id.clone(), "blocks[1].id");
        check_invalid(|p| p.blocks[1].id = "Mina Ombud".into(), "blocks[1].id");
        check_invalid(|p| p.meta.schablon_split[1] = [80, 30], "meta.schablonSplit[1]");
        check_invalid(|p| p.meta.years = vec![2022, 2021, 2023], "meta.years");
        check_invalid(|p| p.additional[0].from = 2030, "additional[0].from");
        check_invalid(|p| p.blocks[0].depends_on.push("identitet".into()), "blocks[0].dependsOn[1]");
        check_invalid(|p| p.blocks[0].lines[0].costs[0].amount = i64::MAX, "blocks[0].lines[0].costs[0].amount");
        check_invalid(|p| p.meta.schablon_rounding = 1 << 62, "meta.schablonRounding");
        check_invalid(
            |p| {
                let i = p.blocks.iter().position(|b| b.id == "identitet").unwrap();
                p.blocks[i].depends_on.push("mina-ombud".into());
            },
            "blocks",
        );
        check_invalid(
            |p| {
                let i = p.blocks.iter().position(|b| b.id == "min-profil").unwrap();
                p.blocks[i].schablon_from = None;
            },
            &format!(
                "blocks[{}].schablonFrom",
                Plan::shipped().blocks.iter().position(|b| b.id == "min-profil").unwrap()
            ),
        );
    }

    #[test]
    fn unknown_fields_in_a_plan_file_are_refused() {
        let text = SHIPPED_PLAN.replacen("[meta]", "[meta]\ncolour = \"blue\"", 1);
        let err = Plan::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[tokio::test]
    async fn services_on_both_databases() {
        for db in test_stores().await {
            let plans = Plans::new(db.store.clone());
            let label = &db.label;
            let audit = ena_audit::AuditLog::open(
                db.store.clone(),
                ena_audit::NoteSigner::ephemeral("test.example/log").unwrap(),
                ena_audit::RuleSet { rules: vec![] },
            )
            .await
            .unwrap();
            let ctx = Context::system("test");
            assert!(matches!(plans.cost_summary().await, Err(PlanError::NoPlan)), "{label}");
            assert!(plans.seed_if_empty(1_764_374_400).await.unwrap());
            assert!(!plans.seed_if_empty(1_764_374_400).await.unwrap(), "seeding happens once");

            let page = plans.list_blocks(None, Page { limit: 5, page: 1 }).await.unwrap();
            assert_eq!((page.items.len(), page.total), (5, 14), "{label}");
            let trust = plans.list_blocks(Some("tillit-och-sakerhet"), Page::default()).await.unwrap();
            assert_eq!(trust.total, 5, "{label}");
            let missing = plans.list_blocks(Some("nope"), Page::default()).await;
            assert!(matches!(missing, Err(PlanError::CategoryNotFound(_))), "{label}");

            let ombud = plans.get_block("mina-ombud").await.unwrap();
            let deps: Vec<&str> = ombud.depends_on.iter().map(|d| d.id.as_str()).collect();
            assert_eq!(deps, ["identitet"]);
            assert_eq!(ombud.total, 33_000);
            let identitet = plans.get_block("identitet").await.unwrap();
            assert!(identitet.dependents.iter().any(|d| d.id == "mina-ombud"));
            assert!(matches!(plans.get_block("nope").await, Err(PlanError::BlockNotFound(_))));

            // An invalid replacement changes nothing.
            let mut bad = Plan::shipped();
            bad.blocks[0].category = "nope".into();
            assert!(matches!(plans.replace_plan(&audit, &ctx, &bad).await, Err(PlanError::Invalid(_))));
            assert_eq!(plans.load().await.unwrap(), Plan::shipped(), "{label}");

            // A valid one recomputes everything, also for a second handle on the same database that
            // had already computed the old revision (another server process).
            let other = Plans::new(db.store.clone());
            let old = other.cost_summary().await.unwrap();
            assert_eq!(old.report.per_year[0].identified_blocks.total, 141_500, "{label}");
            let mut more = Plan::shipped();
            more.blocks[0].lines[0].costs[0].amount += 1_000;
            plans.replace_plan(&audit, &ctx, &more).await.unwrap();
            // Both attempts are in the audit log: the failed one with its reason, then the change.
            let filter = ena_audit::repo::EventFilter { action: Some("plan.replace".into()), ..Default::default() };
            let events = audit.query(&filter, 10, 0).await.unwrap();
            let results: Vec<_> = events.iter().map(|e| e.event.outcome.result).collect();
            assert_eq!(results, [AuditResult::Allowed, AuditResult::Failed], "{label}");
            for handle in [&plans, &other] {
                let summary = handle.cost_summary().await.unwrap();
                assert_eq!(summary.report.per_year[0].identified_blocks.total, 142_500, "{label}");
                assert_eq!(summary.revision, old.revision + 1, "{label}");
            }
        }
    }
}
