//! `ena`: the one binary — `serve` runs everything on one database, `id` and `plan` work offline.

mod config;
mod id;
mod plan_report;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "ena", version, about = "ena: shared public-sector infrastructure for information exchange")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: every block's API, the portal and the docs, on one database.
    Serve(config::ServeArgs),
    /// Swedish identifiers.
    #[command(subcommand)]
    Id(IdCommand),
    /// The long-term plan and its cost model.
    #[command(subcommand)]
    Plan(PlanCommand),
}

#[derive(Debug, Subcommand)]
enum IdCommand {
    /// Parse a personnummer, samordningsnummer or organisationsnummer and print it as JSON.
    Parse {
        /// The identifier, e.g. 19121212-1212 or 556036-0793.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum PlanCommand {
    /// Compute the cost tables from a plan file, without a server.
    Report {
        /// A plan file in the shape of data/plan/plan.toml (default: the plan shipped with ena).
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = plan_report::Format::Table)]
        format: plan_report::Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Id(IdCommand::Parse { id }) => id::parse(&id),
        Command::Plan(PlanCommand::Report { file, format }) => plan_report::run(file.as_deref(), format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the chain of causes, outermost first.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
