//! Shared, I/O-free types of ena: Swedish identifiers and the one error-code registry.
//!
//! Nothing here touches a database or the network. The clock is read only by the `parse` conveniences;
//! every rule has a `parse_at(…, today)` form, so it is testable with plain values.

pub mod error_code;
pub mod id;
pub mod validation;

pub use error_code::ErrorCode;
pub use id::{AnyId, IdError, Organisationsnummer, PersonId, Personnummer, Samordningsnummer};
pub use validation::{FieldError, Page, Paged};
