//! `ena node`: run a member organisation's node — `init` (keys, settings, the application to the
//! federation) and `run` (serve once approved).

use std::path::PathBuf;

use anyhow::Context;

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Make the node's keys and settings in DATA_DIR and apply to the federation (the operator approves).
    Init {
        #[arg(long, env = "ENA_NODE_DATA_DIR")]
        data_dir: PathBuf,
        /// The central instance's public URL.
        #[arg(long)]
        federation: String,
        /// The central instance's node listener (mTLS), e.g. https://127.0.0.1:8443.
        #[arg(long)]
        federation_node: String,
        /// This node's entity id, https://<host> (the certificate's name; `*.localhost` works locally).
        #[arg(long)]
        entity_id: String,
        /// The organisation's organisationsnummer.
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        name: String,
        /// The e-mail address where your organisation takes federation matters (the operator writes there).
        #[arg(long)]
        contact: String,
        /// The local API for the organisation's systems.
        #[arg(long, default_value = "127.0.0.1:9080")]
        listen: String,
        /// The mTLS listener other nodes deliver to.
        #[arg(long, default_value = "127.0.0.1:9443")]
        peer_listen: String,
        /// Accept the federation's agreement in force (printed first); without it nothing is sent.
        #[arg(long)]
        accept_agreement: bool,
        /// Run a mailbox of Mina meddelanden with this name: apply as `ena_mailbox_operator` too (with
        /// the connected-mina-meddelanden trust mark) and receive mail at `<organisation>:brevlada`.
        #[arg(long)]
        mailbox_operator: Option<String>,
    },
    /// Apply again with the node's keys after the operator rejected the application (the reason is
    /// shown by `ena node status` and `ena node run`); fix what it says first.
    Reapply {
        #[arg(long, env = "ENA_NODE_DATA_DIR")]
        data_dir: PathBuf,
        /// A new contact e-mail address (kept in node.toml).
        #[arg(long)]
        contact: Option<String>,
        /// A new organisation name (kept in node.toml).
        #[arg(long)]
        name: Option<String>,
        /// Accept the federation's agreement in force (printed first).
        #[arg(long)]
        accept_agreement: bool,
    },
    /// What the node registered (addresses, message types, services) and its standing in the
    /// federation, as the federation has them.
    Status {
        #[arg(long, env = "ENA_NODE_DATA_DIR")]
        data_dir: PathBuf,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Serve: the local API, the mTLS inbox and the outbox worker, until SIGINT/SIGTERM.
    Run {
        #[arg(long, env = "ENA_NODE_DATA_DIR")]
        data_dir: PathBuf,
        /// A postgres:// URL for the node's database [default: node.db in the data directory].
        #[arg(long, env = "ENA_NODE_DATABASE_URL")]
        database_url: Option<String>,
        #[arg(long, env = "ENA_LOG", default_value = "info")]
        log: String,
        /// Seconds an address or another node's federation metadata is used before it is checked
        /// again (a suspension takes effect within this).
        #[arg(long, default_value_t = 30)]
        directory_ttl: u64,
        /// Also publish the node's events to NATS JetStream here (needs ena built with --features nats).
        #[arg(long, env = "ENA_NATS_URL")]
        nats_url: Option<String>,
    },
}

pub fn run(command: NodeCommand) -> anyhow::Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    match command {
        NodeCommand::Init {
            data_dir,
            federation,
            federation_node,
            entity_id,
            organisation,
            name,
            contact,
            mailbox_operator,
            listen,
            peer_listen,
            accept_agreement,
        } => {
            let agreement = runtime.block_on(accepted_agreement(&federation, accept_agreement))?;
            let options = ena_node::InitOptions {
                data_dir: data_dir.clone(),
                federation,
                federation_node,
                entity_id,
                organisation,
                name,
                contact,
                listen,
                peer_listen,
                accept_agreement: agreement,
                mailbox_operator,
            };
            let id = runtime.block_on(ena_node::init(&options))?;
            println!("{id}");
            eprintln!(
                "Applied as application {id}. The operator decides it on the central instance's /anslutning page or with `ena federation approve {id} --data-dir <its data directory>`; then start the node: ena node run --data-dir {}",
                data_dir.display()
            );
            Ok(())
        }
        NodeCommand::Reapply { data_dir, contact, name, accept_agreement } => {
            let file = ena_node::read_file(&data_dir)?;
            let agreement = runtime.block_on(accepted_agreement(&file.federation, accept_agreement))?;
            let id = runtime.block_on(ena_node::reapply(&data_dir, contact, name, agreement))?;
            println!("{id}");
            eprintln!("Applied again as application {id}; the operator decides it as before.");
            Ok(())
        }
        NodeCommand::Status { data_dir, json } => {
            let status = runtime.block_on(ena_node::status::status(&data_dir))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
            Ok(())
        }
        NodeCommand::Run { data_dir, database_url, log, directory_ttl, nats_url } => {
            let filter = tracing_subscriber::EnvFilter::try_new(&log).with_context(|| format!("log level {log:?}"))?;
            crate::logging::init_human(filter);
            runtime.block_on(async {
                let ttl = std::time::Duration::from_secs(directory_ttl);
                let node = ena_node::open(&data_dir, database_url.as_deref(), ttl, nats_url.as_deref()).await?;
                ena_node::run(node, &data_dir, crate::serve::shutdown_signal()).await
            })
        }
    }
}

/// Show the agreement in force and return its version if the organisation accepts it
/// (`--accept-agreement`); otherwise stop before anything is written or sent.
async fn accepted_agreement(federation: &str, accept: bool) -> anyhow::Result<i64> {
    eprintln!("federation: {federation}");
    let a = ena_node::agreement(federation).await?;
    eprintln!("\nThe federation's agreement, version {}: {}\n\n{}\n", a.version, a.title, a.body.trim());
    if !accept {
        anyhow::bail!(
            "to apply, your organisation accepts the agreement above (version {}): run the command again with --accept-agreement",
            a.version
        );
    }
    eprintln!("accepting version {}", a.version);
    Ok(a.version)
}

/// The status as lines a person reads.
fn print_status(s: &serde_json::Value) {
    let t = |v: &serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    let org = crate::federation::org_display(&t(&s["organisation"]));
    println!("node         {} ({}, {org})", t(&s["entityId"]), t(&s["name"]));
    println!("federation   {} (node listener {})", t(&s["federation"]), t(&s["federationNode"]));
    println!("application  {}", t(&s["application"]["next"]));
    let m = &s["membership"];
    match m["status"].as_str() {
        Some("active") | Some("suspended") | Some("revoked") => println!(
            "membership   {} — entity types {}, agreement version {}",
            t(&m["status"]),
            m["entityTypes"],
            m["agreementVersion"]
        ),
        _ => println!(
            "membership   {}{}",
            t(&m["status"]),
            m.get("detail").or(m.get("next")).map(|d| format!(": {}", t(d))).unwrap_or_default()
        ),
    }
    match s["running"].as_object() {
        Some(r) => println!("running      local API {}, inbox {}", t(&r["api"]), t(&r["inbox"])),
        None => println!("running      no (start it with `ena node run --data-dir …`)"),
    }
    for a in s["addresses"].as_array().into_iter().flatten() {
        let accepts =
            a["accepts"].as_array().map(|v| v.iter().map(t).collect::<Vec<_>>().join(", ")).unwrap_or_default();
        println!(
            "address      {} ({}) accepts [{}] — registry: {}{}",
            crate::federation::org_display(&t(&a["address"])),
            t(&a["kind"]),
            accepts,
            t(&a["registry"]["status"]),
            a["registry"]["revision"].as_i64().map(|r| format!(", revision {r}")).unwrap_or_default()
        );
    }
    for m in s["messageTypes"].as_array().into_iter().flatten() {
        println!(
            "message type {}@{} ({}) — registry: {}",
            t(&m["id"]),
            t(&m["version"]),
            t(&m["schema"]),
            t(&m["registry"])
        );
    }
    for v in s["services"].as_array().into_iter().flatten() {
        println!("service      {} → {} for {}", t(&v["id"]), t(&v["upstream"]), v["allow"]);
    }
}
