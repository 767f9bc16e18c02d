//! Shared, I/O-free types of ena: Swedish identifiers and the one error-code registry.
//!
//! Nothing here touches a database, the network or the clock except through an explicit argument, so
//! every block can depend on it and every rule here is testable with plain values.

pub mod error_code;
pub mod id;
pub mod validation;

pub use error_code::ErrorCode;
pub use id::{AnyId, IdError, Organisationsnummer, PersonId, Personnummer, Samordningsnummer};
pub use validation::{FieldError, Page, Paged};
