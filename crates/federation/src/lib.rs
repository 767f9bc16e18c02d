//! Tillitsramverk: ena's OpenID Federation 1.0 trust anchor and the library every node uses to
//! validate trust chains.

pub mod anchor;
pub mod ca;
pub mod chain;
pub mod keys;
pub mod policy;
pub mod repo;

pub use anchor::{AnchorConfig, FederationError, NodePeer, TrustAnchor};
pub mod client;
