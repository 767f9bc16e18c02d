//! The trust anchor's federation signing keys: a ring in the deployment's key vault (`ena-keys`), so
//! every central instance signs with the same keys. Version 0 is made on the first start (or imported
//! from a data directory's `federation-keys/<created>-<kid>.key` files of before); a rotation adds a
//! key that takes effect `ROLLOVER_NOTICE` seconds later, and is published from the moment it is
//! added: every instance reloads the ring more often than that (`TrustAnchor::reload_keys`), so all of
//! them publish the next key before any signs with it. A retired key stays in the published JWKS while
//! statements it signed may still be valid, and is listed by the historical keys endpoint for good.

use std::path::{Path, PathBuf};

use ena_keys::KeyVault;
use ena_keys::vault::VaultError;
use serde_json::{Value, json};

use ena_keys::jose::SigningKey;

/// Where keys were kept before the vault (imported once).
pub const KEYS_DIR: &str = "federation-keys";
/// The ring's name in the vault.
pub const VAULT_NAME: &str = "federation-signing";
/// How long after a rotation the new key takes effect (instances reload the ring every minute).
pub const ROLLOVER_NOTICE: i64 = 300;

#[derive(Debug)]
pub struct KeyRing {
    /// Oldest first. Each with the time it takes effect (unix seconds).
    keys: Vec<(i64, SigningKey)>,
}

fn key_files(dir: &Path) -> std::io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
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

fn invalid(e: impl std::fmt::Display) -> VaultError {
    VaultError::Make { name: VAULT_NAME.into(), reason: e.to_string() }
}

impl KeyRing {
    /// The ring in `vault`, made on first use: from the key files a data directory kept before the vault
    /// (`legacy_dir`, all of them, in order), or a new key.
    pub async fn open(vault: &KeyVault, legacy_dir: Option<&Path>, now: i64) -> Result<KeyRing, VaultError> {
        if vault.versions(VAULT_NAME).await?.is_empty() {
            let files = match legacy_dir {
                Some(dir) => key_files(&dir.join(KEYS_DIR)).map_err(invalid)?,
                None => Vec::new(),
            };
            match files.split_first() {
                None => {
                    vault.first(VAULT_NAME, now, || SigningKey::generate().map(|k| k.pkcs8().to_vec())).await?;
                }
                Some(((created, first), rest)) => {
                    vault.first(VAULT_NAME, *created, || std::fs::read(first)).await?;
                    for (created, path) in rest {
                        vault.add(VAULT_NAME, *created, &std::fs::read(path).map_err(invalid)?).await?;
                    }
                }
            }
        }
        KeyRing::load(vault).await
    }

    /// The ring as stored now.
    pub async fn load(vault: &KeyVault) -> Result<KeyRing, VaultError> {
        let keys = vault
            .versions(VAULT_NAME)
            .await?
            .into_iter()
            .map(|v| Ok((v.created, SigningKey::from_pkcs8(&v.secret).map_err(invalid)?)))
            .collect::<Result<Vec<_>, VaultError>>()?;
        if keys.is_empty() {
            return Err(invalid("the ring has no key"));
        }
        Ok(KeyRing { keys })
    }

    /// Add a new key (`ena federation rotate-key`), published at once and taking effect at
    /// `now + ROLLOVER_NOTICE` on every instance. Returns its key id.
    pub async fn rotate(vault: &KeyVault, now: i64) -> Result<String, VaultError> {
        let key = SigningKey::generate().map_err(invalid)?;
        vault.add(VAULT_NAME, now + ROLLOVER_NOTICE, key.pkcs8()).await?;
        Ok(key.kid().to_owned())
    }

    /// The key ids in order (to tell whether a reload changed anything).
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|(_, k)| k.kid()).collect()
    }

    /// The key that signs at `now`: the newest already in effect.
    pub fn active_at(&self, now: i64) -> &SigningKey {
        let effective = self.keys.iter().rev().find(|(created, _)| *created <= now);
        &effective.or(self.keys.first()).expect("a ring always has a key").1
    }

    pub fn active(&self) -> &SigningKey {
        self.active_at(time::OffsetDateTime::now_utc().unix_timestamp())
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
    use ena_keys::Kek;
    use ena_store::testing::test_stores;

    use super::*;

    #[tokio::test]
    async fn a_rotated_key_is_published_first_active_later_and_old_keys_stay_for_a_lifetime_on_both_databases() {
        for db in test_stores().await {
            let label = &db.label;
            let vault = KeyVault::new(db.store.clone(), Kek::generate());
            let ring = KeyRing::open(&vault, None, 1000).await.unwrap();
            let first = ring.active_at(1000).kid().to_owned();
            assert_eq!(
                KeyRing::open(&vault, None, 2000).await.unwrap().active_at(2000).kid(),
                first,
                "{label}: stable"
            );
            let second = KeyRing::rotate(&vault, 3000).await.unwrap();
            let ring = KeyRing::load(&vault).await.unwrap();
            assert_eq!(ring.active_at(3000).kid(), first, "{label}: not yet in effect");
            assert_eq!(ring.published(3000, 86_400)["keys"].as_array().unwrap().len(), 2, "{label}: published at once");
            let effective = 3000 + ROLLOVER_NOTICE;
            assert_eq!(ring.active_at(effective).kid(), second, "{label}");
            assert_eq!(ring.published(effective + 500, 86_400)["keys"].as_array().unwrap().len(), 2);
            assert_eq!(ring.published(effective + 86_400, 86_400)["keys"].as_array().unwrap().len(), 1);
            let history = ring.history();
            assert_eq!(history[0]["kid"], first.as_str());
            assert_eq!(history[0]["exp"], effective);
            assert!(history[1].get("exp").is_none());
        }
    }

    #[tokio::test]
    async fn key_files_of_a_data_directory_from_before_the_vault_are_imported_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(KEYS_DIR)).unwrap();
        let (old, new) = (SigningKey::generate().unwrap(), SigningKey::generate().unwrap());
        std::fs::write(dir.path().join(KEYS_DIR).join(format!("100-{}.key", old.kid())), old.pkcs8()).unwrap();
        std::fs::write(dir.path().join(KEYS_DIR).join(format!("200-{}.key", new.kid())), new.pkcs8()).unwrap();
        let db = ena_store::testing::sqlite().await;
        let vault = KeyVault::new(db.store.clone(), Kek::generate());
        let ring = KeyRing::open(&vault, Some(dir.path()), 300).await.unwrap();
        assert_eq!(ring.kids(), [old.kid(), new.kid()]);
        assert_eq!(ring.active_at(300).kid(), new.kid());
    }
}
