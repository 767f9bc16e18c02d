//! `ena audit …` and `ena admin token`: operator tools over the transparency log, without a server.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ena_audit::merkle;
use ena_audit::note::{NoteSigner, NoteVerifier};
use ena_audit::repo;
use ena_audit::verify::verify_log;
use ena_store::Store;

/// Where the log lives: the data directory (SQLite and keys), or a database URL.
#[derive(Debug, clap::Args)]
pub struct LogLocation {
    /// Data directory of the server [default: ./ena-data].
    #[arg(long, env = "ENA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… when the log is in PostgreSQL (the log's key is then opened with the data
    /// directory's key-encryption key unless --verifier-key is given).
    #[arg(long, env = "ENA_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl LogLocation {
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| PathBuf::from("ena-data"))
    }

    /// The deployment's key vault: this location's database, opened with `kek` or the data
    /// directory's key-encryption key.
    pub(crate) async fn vault(&self, kek: Option<&Path>) -> anyhow::Result<ena_keys::KeyVault> {
        let store = self.open().await?;
        let path = kek.map(Path::to_path_buf).unwrap_or_else(|| self.data_dir().join(ena_keys::vault::KEK_FILE));
        if !path.exists() {
            bail!(
                "no key-encryption key at {}: give --data-dir of an instance, or --key-encryption-key",
                path.display()
            );
        }
        Ok(ena_keys::KeyVault::open(store, &self.data_dir(), Some(&path)).await?)
    }

    pub(crate) async fn open(&self) -> anyhow::Result<Store> {
        match &self.database_url {
            Some(url) => Ok(Store::connect_postgres(url, None).await?),
            None => {
                // A server's database, or a member node's (`ena node`).
                let mut path = self.data_dir().join("ena.db");
                if !path.exists() && self.data_dir().join("node.db").exists() {
                    path = self.data_dir().join("node.db");
                }
                if !path.exists() {
                    bail!("no database at {}: give --data-dir of a server, or --database-url", path.display());
                }
                Ok(Store::open_sqlite(&path).await?)
            }
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")
}

/// The log's verifier: from `--verifier-key`, or from the key file in the data directory, named by
/// `--origin` or else by the origin line of the latest stored checkpoint.
async fn verifier(
    store: &Store,
    location: &LogLocation,
    vkey: Option<&str>,
    origin: Option<&str>,
) -> anyhow::Result<NoteVerifier> {
    if let Some(vkey) = vkey {
        return NoteVerifier::parse(vkey).map_err(|e| anyhow::anyhow!("--verifier-key: {e}"));
    }
    let stored_origin = repo::latest_checkpoint(store).await?.and_then(|c| c.note.lines().next().map(str::to_owned));
    let name = origin.map(str::to_owned).or(stored_origin).unwrap_or_else(|| "localhost/ena/audit".into());
    // A member node keeps its log key in its data directory; a central deployment in its key vault.
    let node_key = location.data_dir().join(ena_server::AUDIT_KEY_FILE);
    let signer = if node_key.exists() {
        NoteSigner::load_or_create(&node_key, &name)?
    } else {
        let vault = location.vault(None).await.context(
            "no log key: give --verifier-key (from GET /audit/v1/verifier-key), or --data-dir of an instance",
        )?;
        let Some(key) = vault.versions(ena_server::AUDIT_KEY_FILE).await?.into_iter().next() else {
            bail!("the key vault holds no log key: give --verifier-key (from GET /audit/v1/verifier-key)");
        };
        NoteSigner::from_pkcs8(&name, &key.secret)?
    };
    Ok(NoteVerifier::parse(&signer.verifier_key())?)
}

pub fn verify(location: &LogLocation, vkey: Option<&str>, origin: Option<&str>) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = location.open().await?;
        let verifier = verifier(&store, location, vkey, origin).await?;
        let started = std::time::Instant::now();
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} leaves ({per_sec}, {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let result = verify_log(&store, &verifier, |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await?;
        bar.finish_and_clear();
        match result {
            Ok(report) => {
                println!(
                    "ok: {} entries, {} checkpoints verified, root {} ({:.2} s)",
                    report.size,
                    report.checkpoints,
                    ena_audit::log::b64(&report.root),
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            Err(finding) => bail!("tampering found at index {}: {finding}", finding.index()),
        }
    })
}

/// Verify one proof case in the transparency-dev JSON format.
pub fn verify_proof(file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let case: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    match merkle::verify_case(&case) {
        Ok(kind) => {
            println!("ok ({kind} proof)");
            Ok(())
        }
        Err(reason) => bail!("{reason}"),
    }
}

pub fn show(location: &LogLocation, index: u64) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = location.open().await?;
        let leaf = repo::leaves(&store, index, index.saturating_add(1)).await?;
        let Some(leaf) = leaf.first() else { bail!("the log has no entry {index}") };
        let event: serde_json::Value = serde_json::from_slice(&leaf.data).context("the stored leaf is not JSON")?;
        let out = serde_json::json!({
            "index": index,
            "leafHash": ena_audit::log::b64(&merkle::leaf_hash(&leaf.data)),
            "event": event,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(())
    })
}

pub fn tail(location: &LogLocation, count: u32) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = location.open().await?;
        let entries = repo::query(&store, &repo::EventFilter::default(), count, 0).await?;
        for leaf in entries.iter().rev() {
            match serde_json::from_slice::<ena_audit::AuditEvent>(&leaf.data) {
                Ok(e) => println!("{:>8} {} {}", leaf.idx, e.time, e.log_summary()),
                Err(_) => println!("{:>8} (not an event: {} bytes)", leaf.idx, leaf.data.len()),
            }
        }
        Ok(())
    })
}

pub fn admin_token(data_dir: Option<&Path>) -> anyhow::Result<()> {
    let dir = data_dir.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("ena-data"));
    let path = ena_server::auth::token_path(&dir);
    if dir.join(ena_node::NODE_FILE).exists() {
        anyhow::bail!(
            "{} is a member node's data directory, not the central instance's: the operator token is in the data directory of the central `ena serve` (default ./ena-data); this node's own local-API token is {}",
            dir.display(),
            dir.join(ena_node::TOKEN_FILE).display()
        );
    }
    let token = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no operator token at {}: start `ena serve --data-dir {}` once to create it",
            path.display(),
            dir.display()
        )
    })?;
    println!("{}", token.trim());
    Ok(())
}
