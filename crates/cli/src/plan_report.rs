//! `ena plan report`: the seed's cost tables computed from a plan file, as a table, JSON or CSV.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use ena_plan::{CostReport, Plan, compute};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

pub fn run(file: Option<&Path>, format: Format) -> anyhow::Result<()> {
    let plan = match file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read plan file {}", path.display()))?;
            Plan::from_toml(&text).with_context(|| format!("plan file {}", path.display()))?
        }
        None => Plan::shipped(),
    };
    let report = compute(&plan);
    let out = match format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Csv => csv(&report),
        Format::Table => table(&report),
    };
    print!("{out}");
    Ok(())
}

/// The rows every format shows: (table, row label, values per year then all years).
fn rows(report: &CostReport) -> Vec<(&'static str, String, Vec<i64>)> {
    let per_year = |f: &dyn Fn(&ena_plan::cost::YearSummary) -> i64| -> Vec<i64> {
        report.per_year.iter().chain(std::iter::once(&report.all_years)).map(f).collect()
    };
    let mut rows = Vec::new();
    for b in &report.blocks {
        let mut values: Vec<i64> = b.years.iter().map(|y| y.total).collect();
        values.push(b.total);
        rows.push(("4", b.name_sv.clone(), values));
    }
    rows.push(("4", "Totalt".into(), per_year(&|y| y.identified_blocks.total)));
    rows.push(("5", "Utveckling / etablering".into(), per_year(&|y| y.identified_blocks.development)));
    rows.push(("5", "Drift och förvaltning".into(), per_year(&|y| y.identified_blocks.operations)));
    rows.push(("5", "Totalt".into(), per_year(&|y| y.identified_blocks.total)));
    for table in ["1", "17"] {
        rows.push((table, "Identifierade byggblock".into(), per_year(&|y| y.identified_blocks.total)));
        for (i, g) in report.governance.iter().enumerate() {
            rows.push((table, g.name_sv.clone(), per_year(&|y| y.governance.get(i).map_or(0, |a| a.amount))));
        }
        if table == "1" {
            rows.push((table, "Totalt".into(), per_year(&|y| y.total_without_additional)));
        } else {
            rows.push((table, "Tillkommande byggblock".into(), per_year(&|y| y.additional_blocks.total)));
            rows.push((table, "Totalt".into(), per_year(&|y| y.total)));
        }
    }
    rows
}

fn title(table: &str) -> &'static str {
    match table {
        "1" => "Tabell 1 Kostnadsuppskattning 2021–2023 (exkl. tillkommande byggblock)",
        "4" => "Tabell 4 Årliga kostnader per byggblock",
        "5" => "Tabell 5 Fördelning utveckling / drift och förvaltning",
        _ => "Tabell 17 Uppskattade kostnader inkl. tillkommande byggblock",
    }
}

fn table(report: &CostReport) -> String {
    let mut out = String::new();
    let rows = rows(report);
    let width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(10).max(10);
    let mut current = "";
    for (table, label, values) in &rows {
        if *table != current {
            current = table;
            let _ = writeln!(out, "\n{} ({})", title(table), report.unit);
            let _ = write!(out, "{:width$}", "");
            for y in &report.years {
                let _ = write!(out, " {y:>10}");
            }
            let _ = writeln!(out, " {:>10}", "Summa");
        }
        // Width pads by characters, so Swedish letters do not break the alignment.
        let _ = write!(out, "{label:width$}");
        for v in values {
            let _ = write!(out, " {v:>10}");
        }
        let _ = writeln!(out);
    }
    if let Some(s) = &report.schablon {
        let _ = writeln!(
            out,
            "\nSchablon: {} {} per år (medelvärde {:.0} över {} block med egen uppskattning, avrundat till närmaste {}).",
            s.value, report.unit, s.average, s.based_on_blocks, s.rounding
        );
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn csv(report: &CostReport) -> String {
    let mut out = String::from("table,row");
    for y in &report.years {
        let _ = write!(out, ",{y}");
    }
    out.push_str(",total\n");
    for (table, label, values) in rows(report) {
        let _ = write!(out, "{table},{}", csv_field(&label));
        for v in values {
            let _ = write!(out, ",{v}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_every_table_and_exact_totals() {
        let text = csv(&compute(&Plan::shipped()));
        assert!(text.starts_with("table,row,2021,2022,2023,total\n"));
        assert!(text.contains("\n1,Totalt,155900,170500,154500,480900\n"), "{text}");
        assert!(text.contains("\n17,Totalt,155900,190500,194500,540900\n"), "{text}");
        assert!(text.contains("\n5,Utveckling / etablering,84500,66000,28000,178500\n"), "{text}");
    }

    #[test]
    fn table_lines_align() {
        let text = table(&compute(&Plan::shipped()));
        let widths: Vec<usize> = text
            .lines()
            .filter(|l| l.starts_with("Mina") || l.starts_with("Totalt"))
            .map(|l| l.chars().count())
            .collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{widths:?}\n{text}");
    }
}
