//! `ena apis lint FILE` and `ena apis diff OLD NEW`: the API catalog's checks on the command line, for an
//! agency's CI pipeline. Both read OpenAPI 3.0/3.1 as JSON or YAML, print a report (text, or `--json`),
//! and exit non-zero when the document breaks a SKALL rule (lint) or the new version breaks the old
//! (diff) — or when a file cannot be read as OpenAPI, with the parser's line and column.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

#[derive(Debug, clap::Subcommand)]
pub enum ApisCommand {
    /// Lint an OpenAPI document against DIGG's REST API profile: each finding with its rule id, level
    /// (SKALL → error, BÖR → warning), JSON pointer and a hint. Exits 1 when there is an error.
    Lint {
        file: PathBuf,
        /// Print the report as JSON (as `POST /apis/v1/lint` answers).
        #[arg(long)]
        json: bool,
    },
    /// Compare two versions of an API: every compatible and breaking change by the VER rules, with its
    /// location. Exits 1 when a change is breaking.
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: ApisCommand) -> anyhow::Result<()> {
    match command {
        ApisCommand::Lint { file, json } => lint(&file, json),
        ApisCommand::Diff { old, new, json } => diff(&old, &new, json),
    }
}

fn read(path: &Path) -> anyhow::Result<serde_json::Value> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (doc, _) = ena_apis::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(doc)
}

fn lint(file: &Path, json: bool) -> anyhow::Result<()> {
    let doc = read(file)?;
    let report = ena_apis::lint(&doc);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for f in &report.findings {
            let level = if f.level == ena_apis::Level::Error { "error  " } else { "warning" };
            let at = if f.pointer.is_empty() { "/" } else { f.pointer.as_str() };
            println!("{level} {} {at}\n        {}\n        fix: {}", f.rule, f.message, f.hint);
        }
        println!("{}: {} errors, {} warnings", file.display(), report.errors, report.warnings);
    }
    if !report.passes() {
        bail!("{} breaks {} SKALL rule finding(s) of the REST API profile", file.display(), report.errors);
    }
    Ok(())
}

fn diff(old: &Path, new: &Path, json: bool) -> anyhow::Result<()> {
    let report = ena_apis::diff(&read(old)?, &read(new)?);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for c in &report.changes {
            let kind = if c.kind == ena_apis::diff::Kind::Breaking { "breaking  " } else { "compatible" };
            println!("{kind} {} {} ({})\n           {}", c.rule, c.pointer, c.document, c.message);
        }
        println!(
            "{} → {}: {} breaking, {} compatible",
            old.display(),
            new.display(),
            report.breaking,
            report.compatible
        );
    }
    if report.is_breaking() {
        let numbering = if report.version_ok { "in a new major version" } else { "without a new major version" };
        bail!("{} breaking change(s), {numbering}", report.breaking);
    }
    Ok(())
}
