//! The cost model: from a plan's cells to the seed's tables 1, 4, 5 and 17, computed and never stored.
//!
//! Reading of the source (a finding, recorded in docs/plan.md): a schablon-costed block splits its cost
//! between development and operations by the years since *its own first costed year* (100/0, 75/25,
//! 50/50, then the last pair repeats). The report words the split by calendar year, but its table 5 only
//! adds up with Min profil, first costed in 2022, at 100/0 in 2022 and 75/25 in 2023.

use serde::Serialize;
use utoipa::ToSchema;

use crate::model::{Block, CostKind, CostLine, Estimate, Plan};

/// Development and operations amounts for one year.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct YearCost {
    pub year: i32,
    pub development: i64,
    pub operations: i64,
    pub total: i64,
}

impl YearCost {
    fn new(year: i32, development: i64, operations: i64) -> YearCost {
        YearCost { year, development, operations, total: development + operations }
    }

    fn add(&mut self, other: &YearCost) {
        self.development = self.development.saturating_add(other.development);
        self.operations = self.operations.saturating_add(other.operations);
        self.total = self.total.saturating_add(other.total);
    }
}

/// How the schablon was derived.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schablon {
    /// Number of blocks with their own estimate that the average is taken over.
    pub based_on_blocks: usize,
    /// Sum of those blocks' costs over all years.
    pub sum: i64,
    /// The average yearly cost of one such block (`sum / (blocks × years)`), unrounded.
    pub average: f64,
    /// The rounding step (the seed: 5 000 kSEK).
    pub rounding: i64,
    /// The schablon: the average rounded to the nearest step, halves up.
    pub value: i64,
}

/// One item's (block, governance line, additional block) cost per year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemCost {
    pub id: String,
    pub name_sv: String,
    pub name_en: String,
    pub years: Vec<YearCost>,
    pub total: i64,
}

/// Everything the seed's tables show, for one plan.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostReport {
    pub unit: String,
    pub years: Vec<i32>,
    pub schablon: Option<Schablon>,
    /// Table 4: every identified block, schablon and no-estimate blocks included.
    pub blocks: Vec<ItemCost>,
    /// Table 3: the governance lines.
    pub governance: Vec<ItemCost>,
    /// The not yet identified blocks (table 17).
    pub additional: Vec<ItemCost>,
    /// Tables 1, 5 and 17, one row per year.
    pub per_year: Vec<YearSummary>,
    /// The per-year rows added up over all years.
    pub all_years: YearSummary,
}

/// One year across all tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct YearSummary {
    /// The year, or 0 in `allYears`.
    pub year: i32,
    /// Identified blocks (tables 1, 4, 17), split into development and operations (table 5).
    pub identified_blocks: YearCost,
    /// Each governance line's amount, in plan order (tables 1, 3, 17).
    pub governance: Vec<GovernanceAmount>,
    /// Not yet identified blocks (table 17).
    pub additional_blocks: YearCost,
    /// Identified blocks plus governance: table 1's total.
    pub total_without_additional: i64,
    /// Everything: table 17's total.
    pub total: i64,
    /// Development and operations over everything.
    pub development: i64,
    pub operations: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GovernanceAmount {
    pub id: String,
    pub amount: i64,
}

/// The schablon: the average yearly cost of blocks with their own estimate, rounded to the nearest step.
pub fn schablon(plan: &Plan) -> Option<Schablon> {
    let own: Vec<&Block> = plan.blocks.iter().filter(|b| b.estimate == Estimate::Own).collect();
    let years = plan.meta.years.len() as i64;
    if own.is_empty() || years == 0 || plan.meta.schablon_rounding <= 0 {
        return None;
    }
    // Sums in i128, so that no input, valid or not, can overflow; validation bounds every cell anyway.
    let sum: i128 = own.iter().flat_map(|b| &b.lines).flat_map(|l| &l.costs).map(|c| i128::from(c.amount)).sum();
    let cells = i128::from(own.len() as i64 * years);
    let step = i128::from(plan.meta.schablon_rounding);
    // round(sum / (cells × step)) with halves up, in integers: floor((2·sum + cells·step) / (2·cells·step)).
    let value = i64::try_from((2 * sum + cells * step) / (2 * cells * step) * step).unwrap_or(i64::MAX);
    let (sum, cells, step) = (i64::try_from(sum).unwrap_or(i64::MAX), cells as i64, step as i64);
    Some(Schablon { based_on_blocks: own.len(), sum, average: sum as f64 / cells as f64, rounding: step, value })
}

fn line_costs(lines: &[CostLine], year: i32) -> YearCost {
    let mut cost = YearCost::new(year, 0, 0);
    for c in lines.iter().flat_map(|l| &l.costs).filter(|c| c.year == year) {
        match c.kind {
            CostKind::Development => cost.development = cost.development.saturating_add(c.amount),
            CostKind::Operations => cost.operations = cost.operations.saturating_add(c.amount),
        }
    }
    cost.total = cost.development.saturating_add(cost.operations);
    cost
}

/// A schablon-costed item's cost in `year`, split by the years since its first costed year.
fn schablon_cost(plan: &Plan, value: i64, from: i32, year: i32) -> YearCost {
    let (Some(first), Some(this)) =
        (plan.meta.years.iter().position(|y| *y == from), plan.meta.years.iter().position(|y| *y == year))
    else {
        return YearCost::new(year, 0, 0);
    };
    if this < first {
        return YearCost::new(year, 0, 0);
    }
    let split = &plan.meta.schablon_split;
    let [dev_pct, _] = split.get(this - first).or(split.last()).copied().unwrap_or([100, 0]);
    let development = value * dev_pct / 100;
    YearCost::new(year, development, value - development)
}

fn item(id: &str, name_sv: &str, name_en: &str, years: Vec<YearCost>) -> ItemCost {
    let total = years.iter().map(|y| y.total).sum();
    ItemCost { id: id.to_owned(), name_sv: name_sv.to_owned(), name_en: name_en.to_owned(), years, total }
}

/// Compute every table of the report from the plan's cells. The plan should be valid
/// ([`Plan::validate`]); an invalid one still gives an answer, never a panic.
pub fn compute(plan: &Plan) -> CostReport {
    let years = &plan.meta.years;
    let schablon = schablon(plan);
    let value = schablon.as_ref().map_or(0, |s| s.value);

    let blocks: Vec<ItemCost> = plan
        .blocks
        .iter()
        .map(|b| {
            let per_year = years
                .iter()
                .map(|&y| match (b.estimate, b.schablon_from) {
                    (Estimate::Own, _) => line_costs(&b.lines, y),
                    (Estimate::Schablon, Some(from)) => schablon_cost(plan, value, from, y),
                    _ => YearCost::new(y, 0, 0),
                })
                .collect();
            item(&b.id, &b.name_sv, &b.name_en, per_year)
        })
        .collect();
    let governance: Vec<ItemCost> = plan
        .governance
        .iter()
        .map(|g| item(&g.id, &g.name_sv, &g.name_en, years.iter().map(|&y| line_costs(&g.lines, y)).collect()))
        .collect();
    let additional: Vec<ItemCost> = plan
        .additional
        .iter()
        .map(|a| {
            item(&a.id, &a.name_sv, &a.name_en, years.iter().map(|&y| schablon_cost(plan, value, a.from, y)).collect())
        })
        .collect();

    let sum_at = |items: &[ItemCost], i: usize, year: i32| {
        let mut sum = YearCost::new(year, 0, 0);
        items.iter().for_each(|it| sum.add(&it.years[i]));
        sum
    };
    let per_year: Vec<YearSummary> = years
        .iter()
        .enumerate()
        .map(|(i, &year)| {
            let identified_blocks = sum_at(&blocks, i, year);
            let governance_total = sum_at(&governance, i, year);
            let additional_blocks = sum_at(&additional, i, year);
            YearSummary {
                year,
                identified_blocks,
                governance: governance
                    .iter()
                    .map(|g| GovernanceAmount { id: g.id.clone(), amount: g.years[i].total })
                    .collect(),
                additional_blocks,
                total_without_additional: identified_blocks.total + governance_total.total,
                total: identified_blocks.total + governance_total.total + additional_blocks.total,
                development: identified_blocks.development
                    + governance_total.development
                    + additional_blocks.development,
                operations: identified_blocks.operations + governance_total.operations + additional_blocks.operations,
            }
        })
        .collect();

    let mut all_years = YearSummary {
        governance: governance.iter().map(|g| GovernanceAmount { id: g.id.clone(), amount: g.total }).collect(),
        ..YearSummary::default()
    };
    for y in &per_year {
        all_years.identified_blocks.add(&y.identified_blocks);
        all_years.additional_blocks.add(&y.additional_blocks);
        all_years.total_without_additional += y.total_without_additional;
        all_years.total += y.total;
        all_years.development += y.development;
        all_years.operations += y.operations;
    }

    CostReport {
        unit: plan.meta.unit.clone(),
        years: years.clone(),
        schablon,
        blocks,
        governance,
        additional,
        per_year,
        all_years,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Cost, Plan};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The report's published tables, transcribed in data/plan/expected.toml.
    #[derive(serde::Deserialize)]
    struct Expected {
        table1: BTreeMap<String, Vec<i64>>,
        table3: BTreeMap<String, Vec<i64>>,
        table4: BTreeMap<String, Vec<i64>>,
        table5: BTreeMap<String, Vec<i64>>,
        table17: BTreeMap<String, Vec<i64>>,
        schablon: BTreeMap<String, i64>,
    }

    fn expected() -> Expected {
        toml::from_str(include_str!("../../../data/plan/expected.toml")).unwrap()
    }

    fn by_year(report: &CostReport, f: impl Fn(&YearSummary) -> i64) -> Vec<i64> {
        report.per_year.iter().map(f).collect()
    }

    fn governance(report: &CostReport, id: &str) -> Vec<i64> {
        by_year(report, |y| y.governance.iter().find(|g| g.id == id).unwrap().amount)
    }

    #[test]
    fn shipped_plan_reproduces_the_seed_tables_exactly() {
        let plan = Plan::shipped();
        let report = compute(&plan);
        let e = expected();

        let s = report.schablon.as_ref().unwrap();
        assert_eq!((s.average.round() as i64, s.value), (e.schablon["average"], e.schablon["value"]));

        for block in &report.blocks {
            let got: Vec<i64> = block.years.iter().map(|y| y.total).collect();
            assert_eq!(Some(&got), e.table4.get(&block.id), "table 4, {}", block.id);
        }
        assert_eq!(report.blocks.len() + 1, e.table4.len(), "table 4 has every block and a total");
        assert_eq!(by_year(&report, |y| y.identified_blocks.total), e.table4["total"], "table 4 total");

        assert_eq!(by_year(&report, |y| y.identified_blocks.development), e.table5["development"], "table 5");
        assert_eq!(by_year(&report, |y| y.identified_blocks.operations), e.table5["operations"], "table 5");
        assert_eq!(by_year(&report, |y| y.identified_blocks.total), e.table5["total"], "table 5");

        let styrning = governance(&report, "styrning");
        let infosec = governance(&report, "informationssakerhet-arkiv");
        assert_eq!(styrning, e.table3["governance"], "table 3");
        assert_eq!(infosec, e.table3["infosec_archive"], "table 3");

        assert_eq!(by_year(&report, |y| y.identified_blocks.total), e.table1["identified"], "table 1");
        assert_eq!(styrning, e.table1["governance"], "table 1");
        assert_eq!(infosec, e.table1["infosec_archive"], "table 1");
        assert_eq!(by_year(&report, |y| y.total_without_additional), e.table1["total"], "table 1");

        assert_eq!(by_year(&report, |y| y.identified_blocks.total), e.table17["identified"], "table 17");
        assert_eq!(by_year(&report, |y| y.additional_blocks.total), e.table17["additional"], "table 17");
        assert_eq!(by_year(&report, |y| y.total), e.table17["total"], "table 17");
    }

    #[test]
    fn schablon_rounds_to_the_nearest_step() {
        let mut plan = Plan::shipped();
        // Make the average exactly 12 500: halves round up to 15 000.
        let own: Vec<usize> = (0..plan.blocks.len()).filter(|&i| plan.blocks[i].estimate == Estimate::Own).collect();
        for &i in &own {
            plan.blocks[i].lines = vec![CostLine {
                label: "x".into(),
                costs: plan
                    .meta
                    .years
                    .iter()
                    .map(|&year| Cost { year, amount: 12_500, kind: CostKind::Development })
                    .collect(),
            }];
        }
        assert_eq!(schablon(&plan).unwrap().value, 15_000);
        plan.blocks[own[0]].lines[0].costs[0].amount -= 1;
        assert_eq!(schablon(&plan).unwrap().value, 10_000);
    }

    #[test]
    fn schablon_split_starts_at_each_blocks_first_year() {
        let plan = Plan::shipped();
        let report = compute(&plan);
        let profil = report.blocks.iter().find(|b| b.id == "min-profil").unwrap();
        let split: Vec<(i64, i64)> = profil.years.iter().map(|y| (y.development, y.operations)).collect();
        assert_eq!(split, [(0, 0), (10_000, 0), (7_500, 2_500)]);
        let tillit = report.blocks.iter().find(|b| b.id == "tillitsramverk").unwrap();
        let split: Vec<(i64, i64)> = tillit.years.iter().map(|y| (y.development, y.operations)).collect();
        assert_eq!(split, [(10_000, 0), (7_500, 2_500), (5_000, 5_000)]);
    }

    proptest! {
        /// Any change to an input cell moves exactly the totals it belongs to.
        #[test]
        fn changing_a_cell_recomputes_everything(pick in 0usize..64, delta in 1i64..50_000) {
            let mut plan = Plan::shipped();
            let before = compute(&plan);
            let cells: Vec<(usize, usize, usize)> = plan.blocks.iter().enumerate()
                .flat_map(|(b, block)| block.lines.iter().enumerate()
                    .flat_map(move |(l, line)| (0..line.costs.len()).map(move |c| (b, l, c))))
                .collect();
            let (b, l, c) = cells[pick % cells.len()];
            let cost = &mut plan.blocks[b].lines[l].costs[c];
            cost.amount += delta;
            let (year, kind) = (cost.year, cost.kind);
            let after = compute(&plan);
            let yi = plan.meta.years.iter().position(|y| *y == year).unwrap();
            let old_schablon = before.schablon.as_ref().unwrap().value;
            let new_schablon = after.schablon.as_ref().unwrap().value;
            // The schablon is recomputed from the new data; it moves all schablon-costed items with it.
            let schablon_items_before: i64 = before.per_year.iter().map(|y| y.additional_blocks.total).sum();
            let schablon_items_after: i64 = after.per_year.iter().map(|y| y.additional_blocks.total).sum();
            if new_schablon == old_schablon {
                prop_assert_eq!(schablon_items_after, schablon_items_before);
                prop_assert_eq!(after.per_year[yi].total - before.per_year[yi].total, delta);
                let moved = match kind {
                    CostKind::Development => after.per_year[yi].identified_blocks.development - before.per_year[yi].identified_blocks.development,
                    CostKind::Operations => after.per_year[yi].identified_blocks.operations - before.per_year[yi].identified_blocks.operations,
                };
                prop_assert_eq!(moved, delta);
            } else {
                prop_assert!(new_schablon > old_schablon);
                prop_assert!(schablon_items_after > schablon_items_before);
            }
            prop_assert_eq!(after.all_years.total, after.per_year.iter().map(|y| y.total).sum::<i64>());
        }
    }
}
