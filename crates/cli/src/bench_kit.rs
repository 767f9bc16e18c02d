//! What the benches share: percentiles in milliseconds, and the database a bench fills — an empty
//! PostgreSQL database it is given, or a new SQLite file in a temporary (or given) directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p` percentile (0–1) of sorted durations, in milliseconds (0 for none).
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).map_or(0.0, |d| ms(*d))
}

/// A bench's database, migrated and seeded as a fresh install is.
pub struct BenchStore {
    pub store: ena_store::Store,
    /// Where the SQLite file (and the instance's files) go.
    pub dir: PathBuf,
    /// `postgres` or `sqlite`.
    pub db: &'static str,
    _temp: tempfile::TempDir,
}

pub async fn open_store(database_url: Option<&str>, dir: Option<&Path>) -> anyhow::Result<BenchStore> {
    let temp = tempfile::tempdir()?;
    let dir = dir.map_or_else(|| temp.path().to_path_buf(), Path::to_path_buf);
    std::fs::create_dir_all(&dir)?;
    let store = match database_url {
        Some(url) => ena_store::Store::connect_postgres(url, None).await?,
        None => ena_store::Store::open_sqlite(&dir.join("bench.db")).await?,
    };
    ena_server::prepare_store(&store).await.map_err(|e| anyhow!("{e}"))?;
    Ok(BenchStore { store, dir, db: if database_url.is_some() { "postgres" } else { "sqlite" }, _temp: temp })
}
