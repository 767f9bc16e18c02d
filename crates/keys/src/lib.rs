//! Primitives every block and edge shares, so none reaches into another block for them: our ES256
//! signing keys and compact JWS (`jose`), owner-only files and folders for keys and plaintext
//! (`files`), and the deployment's key vault (`vault`): the keys all central instances of one
//! deployment share, stored in its database sealed under a key-encryption key each instance is given.

pub mod files;
pub mod jose;
pub mod vault;

pub use vault::{Kek, KeyVault, VaultError};
