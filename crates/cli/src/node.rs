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
        /// An e-mail address for federation matters.
        #[arg(long, default_value = "federation@example.se")]
        contact: String,
        /// The local API for the organisation's systems.
        #[arg(long, default_value = "127.0.0.1:9080")]
        listen: String,
        /// The mTLS listener other nodes deliver to.
        #[arg(long, default_value = "127.0.0.1:9443")]
        peer_listen: String,
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
            listen,
            peer_listen,
        } => {
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
            };
            let id = runtime.block_on(ena_node::init(&options))?;
            println!("{id}");
            eprintln!(
                "Applied as application {id}. When the operator has approved it (`ena federation approve {id}`), start the node: ena node run --data-dir {}",
                data_dir.display()
            );
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
