//! Shared, I/O-free types of ena: Swedish identifiers and the one error-code registry.
//!
//! Nothing here touches a database or the network. The clock is read only by the `parse` conveniences;
//! every rule has a `parse_at(…, today)` form, so it is testable with plain values.

pub mod error_code;
pub mod id;
pub mod status;
pub mod time;
pub mod validation;

pub use error_code::ErrorCode;
pub use id::{AnyId, IdError, Organisationsnummer, PersonId, Personnummer, Samordningsnummer};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use validation::{FieldError, Page, Paged};

/// Percent-encode a URL query value: everything but RFC 3986's unreserved characters.
pub fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_encode_keeps_only_unreserved() {
        assert_eq!(super::percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(super::percent_encode("https://x/y?z=1 å"), "https%3A%2F%2Fx%2Fy%3Fz%3D1%20%C3%A5");
    }
}
