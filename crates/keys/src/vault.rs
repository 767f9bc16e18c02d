//! The deployment's key vault: every secret the central instances of one deployment must share (the
//! trust anchor's key ring, the federation CA, the log and witness keys, the token, signature and
//! portal-client keys, the operator token) lives in the database, sealed with ChaCha20-Poly1305 under
//! a key-encryption key (KEK) that each instance is given as a file. Two instances on one database
//! therefore publish the same anchor keys, sign the shared log with the same key and accept the same
//! tokens; the database alone (a backup, a read-only replica) does not reveal them.
//!
//! A secret has versions (`0, 1, …`): most have one, the anchor's ring one per key. The first version
//! is inserted if absent and then read back, so instances starting at once agree on one key.

use std::path::Path;

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ena_store::{Store, with_pool};
use sha2::{Digest, Sha256};

/// The KEK's file name in a data directory (created there on a first start with an empty database).
pub const KEK_FILE: &str = "key-encryption.key";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("key vault: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("{path}: not a key-encryption key (one line of 43 base64url characters, 32 bytes)")]
    BadKek { path: String },
    #[error(
        "the deployment's keys in this database are sealed under key-encryption key {sealed_under}, but this instance was given {given}: give every instance of the deployment the same key file (`--key-encryption-key FILE`, copied from the first instance's data directory)"
    )]
    WrongKek { sealed_under: String, given: String },
    #[error(
        "this database already holds the deployment's keys, sealed under key-encryption key {sealed_under}, and {path} does not exist: give this instance that key (`--key-encryption-key FILE`, copied from the first instance's data directory)"
    )]
    MissingKek { sealed_under: String, path: String },
    #[error("key vault: {name} version {version} does not open under this key-encryption key (altered?)")]
    Corrupt { name: String, version: i64 },
    #[error("key vault: making {name}: {reason}")]
    Make { name: String, reason: String },
    #[error("key vault: {name} version {version} was added by another instance at the same moment; try again")]
    Conflict { name: String, version: i64 },
}

/// The key-encryption key: 32 random bytes, kept in a file (one base64url line, mode 0600).
pub struct Kek {
    key: LessSafeKey,
    id: String,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Kek {
    fn from_bytes(bytes: &[u8; 32]) -> Kek {
        let mut h = Sha256::new();
        h.update(b"ena key-encryption key id\n");
        h.update(bytes);
        let id = ena_core::hex(&h.finalize()[..8]);
        let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("32 bytes is a ChaCha20 key"));
        Kek { key, id }
    }

    /// A fresh key that lives only in memory (tests).
    pub fn generate() -> Kek {
        Kek::from_bytes(&random32())
    }

    /// Read the key at `path`.
    pub fn load(path: &Path) -> Result<Kek, VaultError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| VaultError::File { path: path.display().to_string(), source })?;
        let bad = || VaultError::BadKek { path: path.display().to_string() };
        let bytes: [u8; 32] = B64.decode(text.trim()).map_err(|_| bad())?.try_into().map_err(|_| bad())?;
        Ok(Kek::from_bytes(&bytes))
    }

    /// Write a new random key to `path` (0600; fails if the file exists) and return it.
    pub fn create(path: &Path) -> Result<Kek, VaultError> {
        let bytes = random32();
        crate::files::write_private(path, format!("{}\n", B64.encode(bytes)).as_bytes())
            .map_err(|source| VaultError::File { path: path.display().to_string(), source })?;
        Ok(Kek::from_bytes(&bytes))
    }

    /// A short public id of the key (in error messages and in each sealed row), never the key.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn seal(&self, name: &str, version: i64, secret: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = random32()[..NONCE_LEN].try_into().expect("12 of 32 bytes");
        let mut sealed = secret.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), aad(name, version), &mut sealed)
            .expect("sealing in memory cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    fn open(&self, name: &str, version: i64, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, rest) = sealed.split_at_checked(NONCE_LEN)?;
        let mut buf = rest.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self.key.open_in_place(nonce, aad(name, version), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

/// The name and version are bound to the ciphertext: a row copied under another name does not open.
fn aad(name: &str, version: i64) -> Aad<Vec<u8>> {
    Aad::from(format!("ena-vault\n{name}\n{version}").into_bytes())
}

fn random32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).expect("the system random source works");
    bytes
}

/// One version of a secret.
pub struct Version {
    pub version: i64,
    /// When it was made, or (a ring's next key) when it takes effect: unix seconds.
    pub created: i64,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Version")
            .field("version", &self.version)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// The vault: a store and the KEK that opens its rows.
#[derive(Clone, Debug)]
pub struct KeyVault {
    store: Store,
    kek: std::sync::Arc<Kek>,
}

type Row = (i64, i64, String, Vec<u8>);

impl KeyVault {
    pub fn new(store: Store, kek: Kek) -> KeyVault {
        KeyVault { store, kek: std::sync::Arc::new(kek) }
    }

    /// The KEK of the instance whose data directory is `data_dir`: `given` when set, else
    /// `DATA_DIR/key-encryption.key`, created there only while the database holds no keys (the first
    /// instance of a deployment); otherwise the error says which key the database needs.
    pub async fn open(store: Store, data_dir: &Path, given: Option<&Path>) -> Result<KeyVault, VaultError> {
        let sealed_under: Option<(String,)> = with_pool!(&store, pool => sqlx::query_as("SELECT kek_id FROM deployment_keys LIMIT 1").fetch_optional(pool).await)?;
        let path = given.map(Path::to_path_buf).unwrap_or_else(|| data_dir.join(KEK_FILE));
        let kek = match (path.exists(), sealed_under) {
            (true, _) => Kek::load(&path)?,
            (false, None) if given.is_none() => Kek::create(&path)?,
            (false, None) => {
                return Err(VaultError::File {
                    path: path.display().to_string(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
            (false, Some((sealed_under,))) => {
                return Err(VaultError::MissingKek { sealed_under, path: path.display().to_string() });
            }
        };
        let vault = KeyVault::new(store, kek);
        vault.check_kek().await?;
        Ok(vault)
    }

    /// Refuse a KEK other than the one the stored rows were sealed under (before anything is added).
    async fn check_kek(&self) -> Result<(), VaultError> {
        let other: Option<(String,)> = with_pool!(&self.store, pool => sqlx::query_as("SELECT kek_id FROM deployment_keys WHERE kek_id <> $1 LIMIT 1").bind(self.kek.id()).fetch_optional(pool).await)?;
        match other {
            Some((sealed_under,)) => Err(VaultError::WrongKek { sealed_under, given: self.kek.id().to_owned() }),
            None => Ok(()),
        }
    }

    pub fn kek_id(&self) -> &str {
        self.kek.id()
    }

    /// Every version of `name`, oldest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<Version>, VaultError> {
        let rows: Vec<Row> = with_pool!(&self.store, pool => sqlx::query_as("SELECT version, created, kek_id, sealed FROM deployment_keys WHERE name = $1 ORDER BY version").bind(name).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(version, created, kek_id, sealed)| {
                if kek_id != self.kek.id() {
                    return Err(VaultError::WrongKek { sealed_under: kek_id, given: self.kek.id().to_owned() });
                }
                let secret = self
                    .kek
                    .open(name, version, &sealed)
                    .ok_or_else(|| VaultError::Corrupt { name: name.to_owned(), version })?;
                Ok(Version { version, created, secret })
            })
            .collect()
    }

    /// Store `secret` as `version` of `name` unless that version exists; true when this call stored it.
    async fn insert(&self, name: &str, version: i64, created: i64, secret: &[u8]) -> Result<bool, VaultError> {
        let sealed = self.kek.seal(name, version, secret);
        let n = with_pool!(&self.store, pool => sqlx::query("INSERT INTO deployment_keys (name, version, created, kek_id, sealed) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name, version) DO NOTHING")
            .bind(name).bind(version).bind(created).bind(self.kek.id()).bind(&sealed).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// The first version of `name`: the stored one, or else the one `make` returns (a key file from
    /// before keys were kept here, or a new key), stored and read back, so instances racing to create
    /// it end up with the same secret.
    pub async fn first<E: std::fmt::Display>(
        &self,
        name: &str,
        created: i64,
        make: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Version, VaultError> {
        if let Some(first) = self.versions(name).await?.into_iter().next() {
            return Ok(first);
        }
        let secret = make().map_err(|e| VaultError::Make { name: name.to_owned(), reason: e.to_string() })?;
        self.insert(name, 0, created, &secret).await?;
        self.versions(name)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| VaultError::Corrupt { name: name.to_owned(), version: 0 })
    }

    /// Add the next version of `name` (a new key of a ring) taking effect at `created`; returns its number.
    pub async fn add(&self, name: &str, created: i64, secret: &[u8]) -> Result<i64, VaultError> {
        let (next,): (i64,) = with_pool!(&self.store, pool => sqlx::query_as("SELECT COALESCE(MAX(version) + 1, 0) FROM deployment_keys WHERE name = $1").bind(name).fetch_one(pool).await)?;
        if self.insert(name, next, created, secret).await? {
            Ok(next)
        } else {
            Err(VaultError::Conflict { name: name.to_owned(), version: next })
        }
    }
}

#[cfg(test)]
mod tests {
    use ena_store::testing::test_stores;

    use super::*;

    #[tokio::test]
    async fn instances_with_one_kek_share_secrets_and_another_kek_is_refused_on_both_databases() {
        for db in test_stores().await {
            let label = &db.label;
            let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let a = KeyVault::open(db.store.clone(), one.path(), None).await.unwrap();
            let made = a.first("k", 10, || Ok::<_, String>(b"first".to_vec())).await.unwrap();
            assert_eq!(made.secret, b"first", "{label}");

            // The second instance has its own data directory and is given the first one's KEK file.
            let kek = one.path().join(KEK_FILE);
            let b = KeyVault::open(db.store.clone(), two.path(), Some(&kek)).await.unwrap();
            let seen = b.first("k", 20, || Ok::<_, String>(b"second".to_vec())).await.unwrap();
            assert_eq!((seen.secret.as_slice(), seen.created), (&b"first"[..], 10), "{label}: the stored key wins");

            // Without the KEK, or with another, the instance does not start, and says what to give it.
            let err = KeyVault::open(db.store.clone(), two.path(), None).await.unwrap_err().to_string();
            assert!(err.contains("--key-encryption-key") && err.contains(a.kek_id()), "{label}: {err}");
            let stranger = two.path().join("other.key");
            Kek::create(&stranger).unwrap();
            let err = KeyVault::open(db.store.clone(), two.path(), Some(&stranger)).await.unwrap_err().to_string();
            assert!(err.contains("sealed under key-encryption key") && err.contains(a.kek_id()), "{label}: {err}");

            // A ring: versions in order; the database holds only ciphertext.
            assert_eq!(b.add("k", 30, b"next").await.unwrap(), 1, "{label}");
            let all = a.versions("k").await.unwrap();
            assert_eq!(all.iter().map(|v| v.secret.clone()).collect::<Vec<_>>(), [b"first".to_vec(), b"next".to_vec()]);
            let raw: Vec<(Vec<u8>,)> = with_pool!(&db.store, pool => sqlx::query_as("SELECT sealed FROM deployment_keys").fetch_all(pool).await).unwrap();
            assert!(raw.iter().all(|(s,)| !s.windows(4).any(|w| w == b"next" || w == b"firs")), "{label}: sealed");

            // A row moved to another name does not open (the name is bound to the ciphertext).
            with_pool!(&db.store, pool => sqlx::query("UPDATE deployment_keys SET name = 'moved' WHERE name = 'k' AND version = 1").execute(pool).await.map(|r| r.rows_affected())).unwrap();
            assert!(matches!(a.versions("moved").await, Err(VaultError::Corrupt { .. })), "{label}");
        }
    }

    #[test]
    fn a_kek_file_is_one_line_of_32_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        let created = Kek::create(&path).unwrap();
        assert_eq!(Kek::load(&path).unwrap().id(), created.id());
        std::fs::write(dir.path().join("short"), "c2hvcnQ\n").unwrap();
        assert!(matches!(Kek::load(&dir.path().join("short")), Err(VaultError::BadKek { .. })));
    }
}
