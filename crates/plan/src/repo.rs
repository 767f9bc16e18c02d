//! Plan storage: the plan document in relational tables (`plan_*`), written whole and read whole.
//!
//! A plan is small (tens of blocks, a few hundred cells), so every read loads it all and the cost model
//! recomputes from it; nothing derived is stored, so nothing derived can go stale.

use ena_store::BeginWrite;
use ena_store::{Store, with_pool};
use sqlx::FromRow;

use crate::model::{Additional, Block, Category, Cost, CostKind, CostLine, Estimate, Governance, Meta, Plan, Status};

#[derive(FromRow)]
struct SettingsRow {
    revision: i64,
    title_sv: String,
    title_en: String,
    unit: String,
    years: String,
    schablon_rounding: i64,
    schablon_split: String,
}

#[derive(FromRow)]
struct CategoryRow {
    id: String,
    name_sv: String,
    name_en: String,
}

#[derive(FromRow)]
struct BlockRow {
    id: String,
    name_sv: String,
    name_en: String,
    category_id: String,
    agency: Option<String>,
    status: String,
    estimate: String,
    schablon_from: Option<i64>,
}

#[derive(FromRow)]
struct DependencyRow {
    block_id: String,
    depends_on: String,
}

#[derive(FromRow)]
struct AdditionalRow {
    id: String,
    name_sv: String,
    name_en: String,
    from_year: i64,
}

#[derive(FromRow)]
struct CostRow {
    owner_kind: String,
    owner_id: String,
    line_position: i64,
    label: String,
    year: i64,
    amount: i64,
    kind: String,
}

fn enum_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn parse_enum<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| sqlx::Error::Decode(format!("plan column {column}: {e}").into()))
}

fn parse_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(format!("plan column {column}: {e}").into()))
}

/// The stored plan's revision, or `None` if no plan is stored yet. One indexed row: cheap enough to
/// ask on every request.
pub async fn revision(store: &Store) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = with_pool!(store, pool => {
        sqlx::query_as("SELECT revision FROM plan_settings WHERE id = 1").fetch_optional(pool).await
    })?;
    Ok(row.map(|r| r.0))
}

/// Replace the stored plan with `plan`, atomically. The caller has validated it.
pub async fn replace(store: &Store, plan: &Plan, updated_at: i64) -> Result<(), sqlx::Error> {
    with_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        // The settings row first: the upsert takes the row's write lock, so concurrent replacements queue
        // here and each gets its own revision (PostgreSQL re-reads the row after the wait; SQLite has one
        // writer at a time anyway).
        let m = &plan.meta;
        sqlx::query(
            "INSERT INTO plan_settings (id, title_sv, title_en, unit, years, schablon_rounding, schablon_split, updated_at, revision) \
             VALUES (1, $1, $2, $3, $4, $5, $6, $7, 1) \
             ON CONFLICT (id) DO UPDATE SET title_sv = excluded.title_sv, title_en = excluded.title_en, \
             unit = excluded.unit, years = excluded.years, schablon_rounding = excluded.schablon_rounding, \
             schablon_split = excluded.schablon_split, updated_at = excluded.updated_at, \
             revision = plan_settings.revision + 1",
        )
        .bind(&m.title_sv)
        .bind(&m.title_en)
        .bind(&m.unit)
        .bind(serde_json::to_string(&m.years).unwrap_or_default())
        .bind(m.schablon_rounding)
        .bind(serde_json::to_string(&m.schablon_split).unwrap_or_default())
        .bind(updated_at)
        .execute(&mut *tx)
        .await?;
        for table in ["plan_costs", "plan_dependencies", "plan_additional", "plan_governance", "plan_blocks", "plan_categories"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
        }
        for (i, c) in plan.categories.iter().enumerate() {
            sqlx::query("INSERT INTO plan_categories (id, position, name_sv, name_en) VALUES ($1, $2, $3, $4)")
                .bind(&c.id).bind(i as i64).bind(&c.name_sv).bind(&c.name_en)
                .execute(&mut *tx).await?;
        }
        for (i, b) in plan.blocks.iter().enumerate() {
            sqlx::query(
                "INSERT INTO plan_blocks (id, position, name_sv, name_en, category_id, agency, status, estimate, schablon_from) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&b.id).bind(i as i64).bind(&b.name_sv).bind(&b.name_en).bind(&b.category)
            .bind(&b.agency).bind(enum_text(&b.status)).bind(enum_text(&b.estimate)).bind(b.schablon_from.map(i64::from))
            .execute(&mut *tx).await?;
        }
        // Dependencies after all blocks, so a reference to a later block finds it.
        for b in &plan.blocks {
            for (j, dep) in b.depends_on.iter().enumerate() {
                sqlx::query("INSERT INTO plan_dependencies (block_id, position, depends_on) VALUES ($1, $2, $3)")
                    .bind(&b.id).bind(j as i64).bind(dep)
                    .execute(&mut *tx).await?;
            }
        }
        for (i, g) in plan.governance.iter().enumerate() {
            sqlx::query("INSERT INTO plan_governance (id, position, name_sv, name_en) VALUES ($1, $2, $3, $4)")
                .bind(&g.id).bind(i as i64).bind(&g.name_sv).bind(&g.name_en)
                .execute(&mut *tx).await?;
        }
        for (i, a) in plan.additional.iter().enumerate() {
            sqlx::query("INSERT INTO plan_additional (id, position, name_sv, name_en, from_year) VALUES ($1, $2, $3, $4, $5)")
                .bind(&a.id).bind(i as i64).bind(&a.name_sv).bind(&a.name_en).bind(i64::from(a.from))
                .execute(&mut *tx).await?;
        }
        let owners = plan.blocks.iter().map(|b| ("block", &b.id, &b.lines))
            .chain(plan.governance.iter().map(|g| ("governance", &g.id, &g.lines)));
        for (kind, id, lines) in owners {
            for (j, line) in lines.iter().enumerate() {
                for cost in &line.costs {
                    sqlx::query(
                        "INSERT INTO plan_costs (owner_kind, owner_id, line_position, label, year, amount, kind) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(kind).bind(id).bind(j as i64).bind(&line.label)
                    .bind(i64::from(cost.year)).bind(cost.amount).bind(enum_text(&cost.kind))
                    .execute(&mut *tx).await?;
                }
            }
        }
        tx.commit().await
    })
}

/// Load the stored plan with its revision, or `None` if none has been stored.
///
/// The plan is read with several queries; a replacement committed between them would mix two
/// revisions, so the revision is read again afterwards and the load retried if it moved.
pub async fn load(store: &Store) -> Result<Option<(i64, Plan)>, sqlx::Error> {
    for _ in 0..5 {
        let Some((loaded, plan)) = load_once(store).await? else {
            return Ok(None);
        };
        if revision(store).await? == Some(loaded) {
            return Ok(Some((loaded, plan)));
        }
    }
    Err(sqlx::Error::Protocol("the plan kept changing while it was read; try again".into()))
}

async fn load_once(store: &Store) -> Result<Option<(i64, Plan)>, sqlx::Error> {
    let (settings, categories, blocks, deps, governance, additional, costs) = with_pool!(store, pool => {
        let settings: Option<SettingsRow> = sqlx::query_as(
            "SELECT revision, title_sv, title_en, unit, years, schablon_rounding, schablon_split FROM plan_settings WHERE id = 1",
        ).fetch_optional(pool).await?;
        let categories: Vec<CategoryRow> =
            sqlx::query_as("SELECT id, name_sv, name_en FROM plan_categories ORDER BY position").fetch_all(pool).await?;
        let blocks: Vec<BlockRow> = sqlx::query_as(
            "SELECT id, name_sv, name_en, category_id, agency, status, estimate, schablon_from FROM plan_blocks ORDER BY position",
        ).fetch_all(pool).await?;
        let deps: Vec<DependencyRow> =
            sqlx::query_as("SELECT block_id, depends_on FROM plan_dependencies ORDER BY block_id, position").fetch_all(pool).await?;
        let governance: Vec<CategoryRow> =
            sqlx::query_as("SELECT id, name_sv, name_en FROM plan_governance ORDER BY position").fetch_all(pool).await?;
        let additional: Vec<AdditionalRow> =
            sqlx::query_as("SELECT id, name_sv, name_en, from_year FROM plan_additional ORDER BY position").fetch_all(pool).await?;
        let costs: Vec<CostRow> = sqlx::query_as(
            "SELECT owner_kind, owner_id, line_position, label, year, amount, kind FROM plan_costs \
             ORDER BY owner_kind, owner_id, line_position, year",
        ).fetch_all(pool).await?;
        Ok::<_, sqlx::Error>((settings, categories, blocks, deps, governance, additional, costs))
    })?;
    let Some(settings) = settings else {
        return Ok(None);
    };

    let lines_of = |kind: &str, id: &str| -> Result<Vec<CostLine>, sqlx::Error> {
        let mut lines: Vec<(i64, CostLine)> = Vec::new();
        for row in costs.iter().filter(|r| r.owner_kind == kind && r.owner_id == id) {
            let cost =
                Cost { year: row.year as i32, amount: row.amount, kind: parse_enum::<CostKind>("kind", &row.kind)? };
            match lines.last_mut() {
                Some((pos, line)) if *pos == row.line_position => line.costs.push(cost),
                _ => lines.push((row.line_position, CostLine { label: row.label.clone(), costs: vec![cost] })),
            }
        }
        Ok(lines.into_iter().map(|(_, line)| line).collect())
    };

    let mut plan_blocks = Vec::with_capacity(blocks.len());
    for b in blocks {
        plan_blocks.push(Block {
            lines: lines_of("block", &b.id)?,
            depends_on: deps.iter().filter(|d| d.block_id == b.id).map(|d| d.depends_on.clone()).collect(),
            status: parse_enum::<Status>("status", &b.status)?,
            estimate: parse_enum::<Estimate>("estimate", &b.estimate)?,
            schablon_from: b.schablon_from.map(|y| y as i32),
            id: b.id,
            name_sv: b.name_sv,
            name_en: b.name_en,
            category: b.category_id,
            agency: b.agency,
        });
    }
    let mut plan_governance = Vec::with_capacity(governance.len());
    for g in governance {
        plan_governance.push(Governance {
            lines: lines_of("governance", &g.id)?,
            id: g.id,
            name_sv: g.name_sv,
            name_en: g.name_en,
        });
    }
    Ok(Some((
        settings.revision,
        Plan {
            meta: Meta {
                title_sv: settings.title_sv,
                title_en: settings.title_en,
                unit: settings.unit,
                years: parse_json("years", &settings.years)?,
                schablon_rounding: settings.schablon_rounding,
                schablon_split: parse_json("schablon_split", &settings.schablon_split)?,
            },
            categories: categories
                .into_iter()
                .map(|c| Category { id: c.id, name_sv: c.name_sv, name_en: c.name_en })
                .collect(),
            blocks: plan_blocks,
            governance: plan_governance,
            additional: additional
                .into_iter()
                .map(|a| Additional { id: a.id, name_sv: a.name_sv, name_en: a.name_en, from: a.from_year as i32 })
                .collect(),
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ena_store::testing::test_stores;

    #[tokio::test]
    async fn plan_round_trips_through_both_databases() {
        for db in test_stores().await {
            let label = &db.label;
            assert_eq!(revision(&db.store).await.unwrap(), None, "{label}");
            assert_eq!(load(&db.store).await.unwrap(), None, "{label}");
            let plan = Plan::shipped();
            replace(&db.store, &plan, 1_764_374_400).await.unwrap();
            assert_eq!(load(&db.store).await.unwrap(), Some((1, plan.clone())), "{label}");

            // Replacing is whole: a changed plan comes back exactly, nothing of the old one remains,
            // and the revision moves on.
            let mut changed = plan.clone();
            changed.blocks.truncate(3);
            changed.blocks.iter_mut().for_each(|b| b.depends_on.clear());
            changed.blocks[0].lines[0].costs[0].amount += 1;
            replace(&db.store, &changed, 1_764_374_401).await.unwrap();
            assert_eq!(load(&db.store).await.unwrap(), Some((2, changed)), "{label}");
        }
    }

    /// Concurrent replacements each get their own revision, so a cache keyed by revision never misses
    /// a change.
    #[tokio::test]
    async fn concurrent_replacements_get_distinct_revisions() {
        for db in test_stores().await {
            replace(&db.store, &Plan::shipped(), 0).await.unwrap();
            let tasks: Vec<_> = (0..4)
                .map(|i| {
                    let store = db.store.clone();
                    tokio::spawn(async move {
                        let mut plan = Plan::shipped();
                        plan.blocks[0].lines[0].costs[0].amount += i;
                        replace(&store, &plan, 1).await
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap().unwrap();
            }
            assert_eq!(revision(&db.store).await.unwrap(), Some(5), "{}", db.label);
        }
    }
}
