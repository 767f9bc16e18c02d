//! The trust anchor's federation signing keys in the data directory: `federation-keys/<created>-<kid>.key`
//! (PKCS#8, 0600). The newest file is the active key; older keys are retired at the creation time of the
//! next one. A retired key stays in the published JWKS while statements it signed may still be valid, and
//! is listed by the historical keys endpoint for good.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::jose::SigningKey;

pub const KEYS_DIR: &str = "federation-keys";

#[derive(Debug)]
pub struct KeyRing {
    /// Oldest first; the last is active. Each with its creation time (unix seconds).
    keys: Vec<(i64, SigningKey)>,
}

fn key_files(dir: &Path) -> std::io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if let Some(stem) = name.strip_suffix(".key")
            && let Some((created, _kid)) = stem.split_once('-')
            && let Ok(created) = created.parse::<i64>()
        {
            out.push((created, path));
        }
    }
    out.sort();
    Ok(out)
}

impl KeyRing {
    /// Load the keys under `data_dir`, creating the first one if there is none.
    pub fn load_or_create(data_dir: &Path, now: i64) -> std::io::Result<KeyRing> {
        let dir = data_dir.join(KEYS_DIR);
        std::fs::create_dir_all(&dir)?;
        if key_files(&dir)?.is_empty() {
            KeyRing::create_key(&dir, now)?;
        }
        let keys = key_files(&dir)?
            .into_iter()
            .map(|(created, path)| {
                let bytes = std::fs::read(&path)?;
                let key = SigningKey::from_pkcs8(&bytes).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
                })?;
                Ok((created, key))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(KeyRing { keys })
    }

    fn create_key(dir: &Path, now: i64) -> std::io::Result<String> {
        let key = SigningKey::generate().map_err(|e| std::io::Error::other(e.to_string()))?;
        ena_audit::note::write_private(&dir.join(format!("{now}-{}.key", key.kid())), key.pkcs8())?;
        Ok(key.kid().to_owned())
    }

    /// Create a new active key (`ena federation rotate-key`); takes effect when the server next loads the
    /// ring. Returns the new key id.
    pub fn rotate(data_dir: &Path, now: i64) -> std::io::Result<String> {
        let dir = data_dir.join(KEYS_DIR);
        std::fs::create_dir_all(&dir)?;
        KeyRing::create_key(&dir, now)
    }

    pub fn active(&self) -> &SigningKey {
        &self.keys.last().expect("a ring always has a key").1
    }

    /// Keys to publish in the entity configuration at `now`: the active one and those retired less than
    /// `lifetime` seconds ago.
    pub fn published(&self, now: i64, lifetime: i64) -> Value {
        let mut keys = Vec::new();
        for (i, (_, key)) in self.keys.iter().enumerate() {
            let retired = self.keys.get(i + 1).map(|(created, _)| *created);
            if retired.is_none_or(|r| now - r < lifetime) {
                keys.push(key.public_jwk().clone());
            }
        }
        json!({"keys": keys})
    }

    /// Every key ever used with `iat` and, for retired keys, `exp` (its retirement): the historical keys.
    pub fn history(&self) -> Vec<Value> {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, (created, key))| {
                let mut jwk = key.public_jwk().clone();
                jwk["iat"] = json!(created);
                if let Some((retired, _)) = self.keys.get(i + 1) {
                    jwk["exp"] = json!(retired);
                }
                jwk
            })
            .collect()
    }

    /// All keys as a JWKS, for checking tokens we issued at any time.
    pub fn all(&self) -> Value {
        json!({"keys": self.keys.iter().map(|(_, k)| k.public_jwk().clone()).collect::<Vec<_>>()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_old_key_published_for_a_lifetime_then_only_in_history() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path(), 1000).unwrap();
        let first = ring.active().kid().to_owned();
        assert_eq!(KeyRing::load_or_create(dir.path(), 2000).unwrap().active().kid(), first, "stable across restarts");
        let second = KeyRing::rotate(dir.path(), 3000).unwrap();
        let ring = KeyRing::load_or_create(dir.path(), 3000).unwrap();
        assert_eq!(ring.active().kid(), second);
        assert_eq!(ring.published(3500, 86_400)["keys"].as_array().unwrap().len(), 2);
        assert_eq!(ring.published(3000 + 86_400, 86_400)["keys"].as_array().unwrap().len(), 1);
        let history = ring.history();
        assert_eq!(history[0]["kid"], first.as_str());
        assert_eq!(history[0]["exp"], 3000);
        assert!(history[1].get("exp").is_none());
    }
}
