//! The plan document: building blocks, governance lines and additional blocks, with their cost cells.
//!
//! The same shape is read from `data/plan/plan.toml`, accepted as JSON by the API and stored in the
//! database. Field names are camelCase in every format so that one contract serves all three.

use std::collections::{BTreeSet, HashMap, HashSet};

use ena_core::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A whole plan: everything the cost model needs and nothing else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    pub meta: Meta,
    pub categories: Vec<Category>,
    pub blocks: Vec<Block>,
    #[serde(default)]
    pub governance: Vec<Governance>,
    #[serde(default)]
    pub additional: Vec<Additional>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Meta {
    pub title_sv: String,
    pub title_en: String,
    /// Unit of every amount; the seed uses thousands of SEK.
    pub unit: String,
    /// The planning years, ascending.
    pub years: Vec<i32>,
    /// The schablon is the average yearly cost of blocks with their own estimate, rounded to this.
    pub schablon_rounding: i64,
    /// Development/operations percent for a schablon-costed block, by year since its first costed year;
    /// the last pair repeats.
    pub schablon_split: Vec<[i64; 2]>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub name_sv: String,
    pub name_en: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No work started.
    Planned,
    /// In an initiation phase.
    Initiation,
    /// Being built.
    Realisation,
    /// In operation.
    Operation,
}

/// How a block's cost is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Estimate {
    /// The block has its own cost lines.
    Own,
    /// Costed at the schablon from `schablonFrom`.
    Schablon,
    /// No estimate yet (counted as zero).
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CostKind {
    Development,
    Operations,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Block {
    pub id: String,
    pub name_sv: String,
    pub name_en: String,
    pub category: String,
    /// Responsible agency; absent when none has been appointed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    pub status: Status,
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub estimate: Estimate,
    /// First year the schablon applies (only for `estimate = schablon`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schablon_from: Option<i32>,
    #[serde(default)]
    pub lines: Vec<CostLine>,
}

/// One row of a block's cost table; each cell says whether it is development or operations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CostLine {
    pub label: String,
    pub costs: Vec<Cost>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cost {
    pub year: i32,
    pub amount: i64,
    pub kind: CostKind,
}

/// A governance line (Struktur för styrning, Informationssäkerhet & arkiv).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Governance {
    pub id: String,
    pub name_sv: String,
    pub name_en: String,
    #[serde(default)]
    pub lines: Vec<CostLine>,
}

/// A building block not yet identified, costed at the schablon from `from`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Additional {
    pub id: String,
    pub name_sv: String,
    pub name_en: String,
    pub from: i32,
}

/// Largest amount in one cell (and largest rounding step): 10^12 of the unit, 10^15 SEK in kSEK. Keeps
/// every sum the cost model forms far inside `i64`, so no input can overflow it.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// Most planning years a plan may have.
pub const MAX_YEARS: usize = 100;
/// Most blocks, governance lines and additional blocks together.
pub const MAX_ITEMS: usize = 10_000;

/// Why a plan file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("{0}")]
    Syntax(String),
    #[error("invalid plan: {}", .0.iter().map(|e| format!("{}: {}", e.property, e.reason)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
}

/// The plan shipped with ena (`data/plan/plan.toml`), compiled into the binary.
pub const SHIPPED_PLAN: &str = include_str!("../../../data/plan/plan.toml");

impl Plan {
    /// Parse and validate a TOML plan document.
    pub fn from_toml(text: &str) -> Result<Plan, PlanFileError> {
        let plan: Plan = toml::from_str(text).map_err(|e| PlanFileError::Syntax(e.to_string()))?;
        plan.validate().map_err(PlanFileError::Invalid)?;
        Ok(plan)
    }

    /// The shipped plan. It is checked by tests, so failing here is a build defect.
    pub fn shipped() -> Plan {
        Plan::from_toml(SHIPPED_PLAN).expect("data/plan/plan.toml is valid (pinned by tests)")
    }

    /// Check every rule the cost model relies on; report all problems with their field paths.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let meta = &self.meta;
        let years: BTreeSet<i32> = meta.years.iter().copied().collect();
        if meta.years.is_empty() {
            errors.push(FieldError::missing("meta.years", "at least one planning year is needed"));
        }
        if meta.years.windows(2).any(|w| w[0] >= w[1]) {
            errors.push(FieldError::new(
                "meta.years",
                format!("{:?}", meta.years),
                "years must be ascending and unique",
            ));
        }
        if !(1..=MAX_AMOUNT).contains(&meta.schablon_rounding) {
            errors.push(FieldError::new(
                "meta.schablonRounding",
                meta.schablon_rounding,
                format!("must be between 1 and {MAX_AMOUNT}"),
            ));
        }
        if meta.years.len() > MAX_YEARS {
            errors.push(FieldError::new("meta.years", meta.years.len(), format!("at most {MAX_YEARS} planning years")));
        }
        if self.blocks.len() + self.governance.len() + self.additional.len() > MAX_ITEMS {
            errors.push(FieldError::new(
                "blocks",
                self.blocks.len(),
                format!("at most {MAX_ITEMS} blocks, governance lines and additional blocks together"),
            ));
        }
        if meta.schablon_split.is_empty() {
            errors
                .push(FieldError::missing("meta.schablonSplit", "at least one development/operations pair is needed"));
        }
        for (i, [dev, ops]) in meta.schablon_split.iter().enumerate() {
            if *dev < 0 || *ops < 0 || dev + ops != 100 {
                errors.push(FieldError::new(
                    format!("meta.schablonSplit[{i}]"),
                    format!("[{dev}, {ops}]"),
                    "percentages must be non-negative and add up to 100",
                ));
            }
        }

        let mut ids = HashSet::new();
        let mut check_id = |path: String, id: &str, errors: &mut Vec<FieldError>| {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
                errors.push(FieldError::new(path, id, "ids are lowercase ASCII letters, digits and '-'"));
            } else if !ids.insert(id.to_owned()) {
                errors.push(FieldError::new(path, id, "id is used twice"));
            }
        };
        for (i, c) in self.categories.iter().enumerate() {
            check_id(format!("categories[{i}].id"), &c.id, &mut errors);
        }
        for (i, b) in self.blocks.iter().enumerate() {
            check_id(format!("blocks[{i}].id"), &b.id, &mut errors);
        }
        for (i, g) in self.governance.iter().enumerate() {
            check_id(format!("governance[{i}].id"), &g.id, &mut errors);
        }
        for (i, a) in self.additional.iter().enumerate() {
            check_id(format!("additional[{i}].id"), &a.id, &mut errors);
            if !years.contains(&a.from) {
                errors.push(FieldError::new(format!("additional[{i}].from"), a.from, "must be one of meta.years"));
            }
        }

        let categories: HashSet<&str> = self.categories.iter().map(|c| c.id.as_str()).collect();
        let blocks: HashSet<&str> = self.blocks.iter().map(|b| b.id.as_str()).collect();
        for (i, b) in self.blocks.iter().enumerate() {
            let at = format!("blocks[{i}]");
            if !categories.contains(b.category.as_str()) {
                errors.push(FieldError::new(format!("{at}.category"), &b.category, "no such category"));
            }
            let mut seen_deps = HashSet::new();
            for (j, dep) in b.depends_on.iter().enumerate() {
                if !seen_deps.insert(dep) {
                    errors.push(FieldError::new(
                        format!("{at}.dependsOn[{j}]"),
                        dep,
                        "this dependency is listed twice",
                    ));
                } else if dep == &b.id {
                    errors.push(FieldError::new(
                        format!("{at}.dependsOn[{j}]"),
                        dep,
                        "a block cannot depend on itself",
                    ));
                } else if !blocks.contains(dep.as_str()) {
                    errors.push(FieldError::new(format!("{at}.dependsOn[{j}]"), dep, "no such block"));
                }
            }
            match (b.estimate, b.schablon_from) {
                (Estimate::Schablon, None) => errors.push(FieldError::missing(
                    format!("{at}.schablonFrom"),
                    "a schablon-costed block needs its first year",
                )),
                (Estimate::Schablon, Some(year)) if !years.contains(&year) => {
                    errors.push(FieldError::new(format!("{at}.schablonFrom"), year, "must be one of meta.years"))
                }
                (Estimate::Own | Estimate::None, Some(year)) => errors.push(FieldError::new(
                    format!("{at}.schablonFrom"),
                    year,
                    "only a block with estimate \"schablon\" has a schablon year",
                )),
                _ => {}
            }
            if b.estimate != Estimate::Own && !b.lines.is_empty() {
                errors.push(FieldError::new(
                    format!("{at}.lines"),
                    b.lines.len(),
                    "only a block with estimate \"own\" has cost lines",
                ));
            }
            if b.estimate == Estimate::Own && b.lines.is_empty() {
                errors
                    .push(FieldError::missing(format!("{at}.lines"), "a block with its own estimate needs cost lines"));
            }
            check_lines(&at, &b.lines, &years, &mut errors);
        }
        for (i, g) in self.governance.iter().enumerate() {
            check_lines(&format!("governance[{i}]"), &g.lines, &years, &mut errors);
        }
        let needs_schablon =
            self.blocks.iter().any(|b| b.estimate == Estimate::Schablon) || !self.additional.is_empty();
        if needs_schablon && !self.blocks.iter().any(|b| b.estimate == Estimate::Own) {
            errors.push(FieldError::missing("blocks", "the schablon needs at least one block with its own estimate"));
        }
        if let Some(cycle) = self.dependency_cycle() {
            errors.push(FieldError::new("blocks", cycle.join(" → "), "dependencies form a cycle"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// A dependency cycle, if there is one, as the ids along it.
    fn dependency_cycle(&self) -> Option<Vec<String>> {
        let edges: HashMap<&str, &[String]> =
            self.blocks.iter().map(|b| (b.id.as_str(), b.depends_on.as_slice())).collect();
        // 0 = unvisited, 1 = on the current path, 2 = done.
        fn visit<'a>(
            id: &'a str,
            edges: &HashMap<&'a str, &'a [String]>,
            state: &mut HashMap<&'a str, u8>,
            path: &mut Vec<&'a str>,
        ) -> Option<Vec<String>> {
            match state.get(id) {
                Some(2) => return None,
                Some(1) => {
                    let start = path.iter().position(|p| *p == id).unwrap_or(0);
                    let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(id.to_owned());
                    return Some(cycle);
                }
                _ => {}
            }
            state.insert(id, 1);
            path.push(id);
            for dep in edges.get(id).copied().unwrap_or_default() {
                if edges.contains_key(dep.as_str()) {
                    if let Some(cycle) = visit(dep, edges, state, path) {
                        return Some(cycle);
                    }
                }
            }
            path.pop();
            state.insert(id, 2);
            None
        }
        let mut state = HashMap::new();
        self.blocks.iter().find_map(|b| visit(&b.id, &edges, &mut state, &mut Vec::new()))
    }
}

fn check_lines(at: &str, lines: &[CostLine], years: &BTreeSet<i32>, errors: &mut Vec<FieldError>) {
    for (j, line) in lines.iter().enumerate() {
        if line.label.trim().is_empty() {
            errors.push(FieldError::missing(format!("{at}.lines[{j}].label"), "a cost line needs a label"));
        }
        let mut seen = HashSet::new();
        for (k, cost) in line.costs.iter().enumerate() {
            let path = format!("{at}.lines[{j}].costs[{k}]");
            if !years.contains(&cost.year) {
                errors.push(FieldError::new(format!("{path}.year"), cost.year, "must be one of meta.years"));
            } else if !seen.insert(cost.year) {
                errors.push(FieldError::new(
                    format!("{path}.year"),
                    cost.year,
                    "this line already has a cost for that year",
                ));
            }
            if cost.amount < 0 {
                errors.push(FieldError::new(format!("{path}.amount"), cost.amount, "must not be negative"));
            } else if cost.amount > MAX_AMOUNT {
                errors.push(FieldError::new(
                    format!("{path}.amount"),
                    cost.amount,
                    format!("must be at most {MAX_AMOUNT}"),
                ));
            }
        }
    }
}
