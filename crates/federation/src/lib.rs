//! Tillitsramverk: ena's OpenID Federation 1.0 trust anchor and the library every node uses to
//! validate trust chains.

pub mod ca;
pub mod chain;
pub mod jose;
pub mod policy;
