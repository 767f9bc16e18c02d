//! Plan and portfolio (*långsiktig plan*): the building blocks, their dependencies and costs, and the
//! cost model that reproduces the seed's tables from per-block data.
//!
//! Service functions are the block's public API; the server calls them and knows no SQL or rules.

pub mod cost;
pub mod model;
pub mod repo;

use ena_core::{FieldError, Page, Paged};
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

/// Store the shipped plan if the database has none yet (first start). Returns whether it seeded.
pub async fn seed_if_empty(store: &Store, now: &str) -> Result<bool, PlanError> {
    if repo::exists(store).await? {
        return Ok(false);
    }
    repo::replace(store, &Plan::shipped(), now).await?;
    Ok(true)
}

/// Replace the stored plan after validating it; invalid input changes nothing.
pub async fn replace_plan(store: &Store, plan: &Plan, now: &str) -> Result<(), PlanError> {
    plan.validate().map_err(PlanError::Invalid)?;
    repo::replace(store, plan, now).await?;
    Ok(())
}

pub async fn load(store: &Store) -> Result<Plan, PlanError> {
    repo::load(store).await?.ok_or(PlanError::NoPlan)
}

/// Every block as the API shows it, in plan order.
pub fn block_views(plan: &Plan) -> Vec<BlockView> {
    let report = compute(plan);
    let refs = |ids: &mut dyn Iterator<Item = &String>| -> Vec<BlockRef> {
        ids.filter_map(|id| plan.blocks.iter().find(|b| &b.id == id))
            .map(|b| BlockRef {
                id: b.id.clone(),
                name_sv: b.name_sv.clone(),
                name_en: b.name_en.clone(),
            })
            .collect()
    };
    plan.blocks
        .iter()
        .zip(report.blocks)
        .map(|(b, cost)| BlockView {
            id: b.id.clone(),
            name_sv: b.name_sv.clone(),
            name_en: b.name_en.clone(),
            category: plan
                .categories
                .iter()
                .find(|c| c.id == b.category)
                .cloned()
                .unwrap_or_else(|| model::Category {
                    id: b.category.clone(),
                    name_sv: b.category.clone(),
                    name_en: b.category.clone(),
                }),
            agency: b.agency.clone(),
            status: b.status,
            estimate: b.estimate,
            schablon_from: b.schablon_from,
            depends_on: refs(&mut b.depends_on.iter()),
            dependents: refs(
                &mut plan
                    .blocks
                    .iter()
                    .filter(|o| o.depends_on.contains(&b.id))
                    .map(|o| &o.id),
            ),
            costs: cost.years,
            total: cost.total,
            lines: b.lines.clone(),
        })
        .collect()
}

/// One page of the blocks, optionally only those of one category.
pub async fn list_blocks(
    store: &Store,
    category: Option<&str>,
    page: Page,
) -> Result<Paged<BlockView>, PlanError> {
    let plan = load(store).await?;
    if let Some(category) = category {
        if !plan.categories.iter().any(|c| c.id == category) {
            return Err(PlanError::CategoryNotFound(category.to_owned()));
        }
    }
    let views = block_views(&plan)
        .into_iter()
        .filter(|b| category.is_none_or(|c| b.category.id == c))
        .collect();
    Ok(page.slice(views))
}

pub async fn get_block(store: &Store, id: &str) -> Result<BlockView, PlanError> {
    let plan = load(store).await?;
    block_views(&plan)
        .into_iter()
        .find(|b| b.id == id)
        .ok_or_else(|| PlanError::BlockNotFound(id.to_owned()))
}

/// The cost tables for the stored plan.
pub async fn cost_summary(store: &Store) -> Result<CostReport, PlanError> {
    Ok(compute(&load(store).await?))
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
        assert!(
            errors.iter().any(|e| e.property == property),
            "expected an error on {property}, got {errors:?}"
        );
    }

    #[test]
    fn invalid_plans_name_the_field() {
        check_invalid(
            |p| p.blocks[0].depends_on.push("nope".into()),
            "blocks[0].dependsOn[1]",
        );
        check_invalid(
            |p| p.blocks[0].category = "nope".into(),
            "blocks[0].category",
        );
        check_invalid(
            |p| p.blocks[0].lines[0].costs[0].amount = -1,
            "blocks[0].lines[0].costs[0].amount",
        );
        check_invalid(
            |p| p.blocks[0].lines[0].costs[0].year = 1999,
            "blocks[0].lines[0].costs[0].year",
        );
        check_invalid(|p| p.blocks[1].id = p.blocks[0].id.clone(), "blocks[1].id");
        check_invalid(|p| p.blocks[1].id = "Mina Ombud".into(), "blocks[1].id");
        check_invalid(
            |p| p.meta.schablon_split[1] = [80, 30],
            "meta.schablonSplit[1]",
        );
        check_invalid(|p| p.meta.years = vec![2022, 2021, 2023], "meta.years");
        check_invalid(|p| p.additional[0].from = 2030, "additional[0].from");
        check_invalid(
            |p| p.blocks[0].depends_on.push("identitet".into()),
            "blocks[0].dependsOn[1]",
        );
        check_invalid(
            |p| p.blocks[0].lines[0].costs[0].amount = i64::MAX,
            "blocks[0].lines[0].costs[0].amount",
        );
        check_invalid(
            |p| p.meta.schablon_rounding = 1 << 62,
            "meta.schablonRounding",
        );
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
                Plan::shipped()
                    .blocks
                    .iter()
                    .position(|b| b.id == "min-profil")
                    .unwrap()
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
            let store = &db.store;
            assert!(
                matches!(cost_summary(store).await, Err(PlanError::NoPlan)),
                "{}",
                db.label
            );
            assert!(seed_if_empty(store, "2026-11-29T00:00:00Z").await.unwrap());
            assert!(
                !seed_if_empty(store, "2026-11-29T00:00:00Z").await.unwrap(),
                "seeding happens once"
            );

            let page = list_blocks(store, None, Page { limit: 5, page: 1 })
                .await
                .unwrap();
            assert_eq!((page.items.len(), page.total), (5, 14), "{}", db.label);
            let trust = list_blocks(store, Some("tillit-och-sakerhet"), Page::default())
                .await
                .unwrap();
            assert_eq!(trust.total, 5, "{}", db.label);
            assert!(matches!(
                list_blocks(store, Some("nope"), Page::default()).await,
                Err(PlanError::CategoryNotFound(_))
            ));

            let ombud = get_block(store, "mina-ombud").await.unwrap();
            assert_eq!(
                ombud
                    .depends_on
                    .iter()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>(),
                ["identitet"]
            );
            assert_eq!(ombud.total, 33_000);
            let identitet = get_block(store, "identitet").await.unwrap();
            assert!(identitet.dependents.iter().any(|d| d.id == "mina-ombud"));
            assert!(matches!(
                get_block(store, "nope").await,
                Err(PlanError::BlockNotFound(_))
            ));

            // An invalid replacement changes nothing.
            let mut bad = Plan::shipped();
            bad.blocks[0].category = "nope".into();
            assert!(matches!(
                replace_plan(store, &bad, "x").await,
                Err(PlanError::Invalid(_))
            ));
            assert_eq!(load(store).await.unwrap(), Plan::shipped(), "{}", db.label);

            // A valid one recomputes everything.
            let mut more = Plan::shipped();
            more.blocks[0].lines[0].costs[0].amount += 1_000;
            replace_plan(store, &more, "2026-11-29T00:00:01Z")
                .await
                .unwrap();
            let summary = cost_summary(store).await.unwrap();
            assert_eq!(
                summary.per_year[0].identified_blocks.total, 142_500,
                "{}",
                db.label
            );
        }
    }
}
