//! Spårbarhet (traceability): the tamper-evident transparency log every block writes its audit events to.
//!
//! `merkle` is the RFC 9162 tree arithmetic, free of I/O: hashing, which stored subtree hashes a proof
//! needs, assembling and verifying proofs.

pub mod merkle;
