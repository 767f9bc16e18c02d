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

/// Lowercase hex digits of `bytes` written into `out` (twice as long; a shorter `out` takes the first
/// bytes only), without allocating: the edge writes trace ids this way on every request.
pub fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
}

/// Lowercase hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex_into(bytes, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

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
    fn hex_digits() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
        let mut two = [0u8; 2];
        super::hex_into(&[0xab, 0xcd], &mut two);
        assert_eq!(&two, b"ab");
    }

    #[test]
    fn percent_encode_keeps_only_unreserved() {
        assert_eq!(super::percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(super::percent_encode("https://x/y?z=1 å"), "https%3A%2F%2Fx%2Fy%3Fz%3D1%20%C3%A5");
    }
}
