//! `ena`: the one binary — `serve` runs everything on one database, `id` and `plan` work offline.

/// mimalloc instead of glibc's malloc: see Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod apis;
mod audit;
mod bench;
mod bench_apis;
mod bench_cases;
mod bench_edge;
mod bench_federation;
mod bench_gateway;
mod bench_identity;
mod bench_index;
mod bench_kit;
mod bench_mail;
mod bench_messaging;
mod bench_profile;
mod bench_representation;
mod config;
mod credential;
mod demo;
mod federation;
mod id;
mod local_federation;
mod logging;
mod mail;
mod messages;
mod node;
mod plan_report;
mod serve;
mod signature;

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
    /// The tamper-evident audit log (Spårbarhet).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Tillitsramverk: apply to the federation, decide applications, suspend, list, resolve, rotate keys.
    Federation(federation::FederationArgs),
    /// E-underskrift: verify a signature from the signature service.
    #[command(subcommand)]
    Signature(signature::SignatureCommand),
    /// E-tjänstelegitimation: make the issuing key, sign, register, list, revoke and verify employee
    /// credentials.
    #[command(subcommand)]
    Credential(credential::CredentialCommand),
    /// A whole federation on this machine: central services and three member nodes exchanging messages.
    Demo(demo::DemoArgs),
    /// A member organisation's node: apply to the federation, then exchange messages.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Messages: verify a delivery receipt offline.
    #[command(subcommand)]
    Messages(messages::MessagesCommand),
    /// Mina meddelanden: verify a letter's receipts offline.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// API-hantering: lint an OpenAPI document against the REST API profile, compare two versions.
    #[command(subcommand)]
    Apis(apis::ApisCommand),
    /// Operator tools.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Benchmarks (figures in docs/benchmarks.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// The audit log: concurrent appends, proofs at large sizes, verification, storage.
    Audit(bench::AuditBench),
    /// Federation: resolve throughput (uncached, cached), chain validation, mTLS handshakes and requests.
    Federation(bench_federation::FederationBench),
    /// Identity: login round trip, token issuance and ID-token verification rates.
    Identity(bench_identity::IdentityBench),
    /// Mina ombud: decision latency, check throughput in process and over HTTP, with generated mandates.
    Representation(bench_representation::RepresentationBench),
    /// Mina ärenden at scale: the party view for representatives of 10, 100 and 1 000 parties over
    /// 50 k, 500 k and 5 M cases; a case read; creates and updates; event latency to a webhook.
    Cases(bench_cases::CasesBench),
    /// Mina meddelanden at scale: reachability for 10 000 ids over 10 M registered recipients (service and
    /// HTTP), the inbox page of a person with 10 000 letters; with --letters, letters through an agency's
    /// node to the built-in mailbox against plain messages in the same run.
    Mail(bench_mail::MailBench),
    /// Index: batch registration through the service, finds at N engagements (default 10 M), size per million.
    Index(bench_index::IndexBench),
    /// Min profil: "who read my data" for a person with 10 000 events among 10 M; the consent check's
    /// cost on a synchronous call through two nodes (against the same call without one).
    Profile(bench_profile::ProfileBench),
    /// API-hantering: the lint and the change report of a large OpenAPI document (about 1 MB).
    Apis(bench_apis::ApisBench),
    /// Messages: crypto-only bound, async messages end to end between two nodes, cached address lookups.
    Messaging(bench_messaging::MessagingBench),
    /// The edge's baseline: a bare axum server answering the same JSON /healthz (scripts/bench runs it
    /// beside `ena serve`).
    BareHealthz(bench_edge::BareHealthz),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the whole tree from the stored leaves; check every checkpoint's root and signature.
    /// Exits non-zero naming the first bad index if anything was changed, removed, inserted or forged.
    Verify {
        #[command(flatten)]
        location: audit::LogLocation,
        /// The log's verifier key (default: derived from the key in the data directory).
        #[arg(long)]
        verifier_key: Option<String>,
        /// The log's origin, when reading its key from the data directory [default: localhost/ena/audit].
        #[arg(long, env = "ENA_AUDIT_ORIGIN")]
        origin: Option<String>,
    },
    /// Verify one inclusion or consistency proof case (transparency-dev JSON format).
    VerifyProof {
        #[arg(long)]
        file: PathBuf,
    },
    /// Print one entry: its event and leaf hash.
    Show {
        index: u64,
        #[command(flatten)]
        location: audit::LogLocation,
    },
    /// Print the latest entries, oldest first (identity numbers masked).
    Tail {
        /// How many entries.
        #[arg(short = 'n', long, default_value_t = 20)]
        count: u32,
        #[command(flatten)]
        location: audit::LogLocation,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Print the operator token a server created in its data directory.
    Token {
        #[arg(long, env = "ENA_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
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
        Command::Audit(AuditCommand::Verify { location, verifier_key, origin }) => {
            audit::verify(&location, verifier_key.as_deref(), origin.as_deref())
        }
        Command::Audit(AuditCommand::VerifyProof { file }) => audit::verify_proof(&file),
        Command::Audit(AuditCommand::Show { index, location }) => audit::show(&location, index),
        Command::Audit(AuditCommand::Tail { count, location }) => audit::tail(&location, count),
        Command::Admin(AdminCommand::Token { data_dir }) => audit::admin_token(data_dir.as_deref()),
        Command::Bench(BenchCommand::Audit(args)) => bench::audit(args),
        Command::Bench(BenchCommand::Federation(args)) => bench_federation::run(args),
        Command::Bench(BenchCommand::Identity(args)) => bench_identity::run(args),
        Command::Bench(BenchCommand::Representation(args)) => bench_representation::run(args),
        Command::Bench(BenchCommand::Cases(args)) => bench_cases::run(args),
        Command::Bench(BenchCommand::Mail(args)) => bench_mail::run(args),
        Command::Bench(BenchCommand::Index(args)) => bench_index::run(args),
        Command::Bench(BenchCommand::Profile(args)) => bench_profile::run(args),
        Command::Bench(BenchCommand::Apis(args)) => bench_apis::run(args),
        Command::Bench(BenchCommand::Messaging(args)) => bench_messaging::run(args),
        Command::Bench(BenchCommand::BareHealthz(args)) => bench_edge::run(args),
        Command::Federation(args) => federation::run(args),
        Command::Signature(command) => signature::run(command),
        Command::Credential(command) => credential::run(command),
        Command::Node(command) => node::run(command),
        Command::Messages(command) => messages::run(command),
        Command::Apis(command) => apis::run(command),
        Command::Mail(command) => mail::run(command),
        Command::Demo(args) => demo::run(args),
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
