//! No personal identity numbers in URLs. A URL ends up in access logs, browser history, proxies,
//! `Referer` headers and monitoring; identity numbers travel in request bodies only. This layer refuses
//! any request whose path segments or query values hold one (a valid personnummer or
//! samordningsnummer, in any of its written forms), before routing, for every route — those that exist
//! and those added later — and names where the number must go instead. The refusal does not echo it.

use axum::response::{IntoResponse, Response};
use ena_core::{ErrorCode, FieldError, PersonId};

use crate::problem::ApiError;

/// Percent-decode `s` (`+` stays `+`: only query values use it for space, and numbers hold none).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn holds_identity_number(value: &str) -> bool {
    // Cheap first: a number has at least 10 digits, and percent-encoding only adds raw digits (`%31`
    // is two), so a value with fewer raw digits cannot hold one — most path segments stop here.
    if value.bytes().filter(u8::is_ascii_digit).count() < 10 {
        return false;
    }
    let value = decode(value);
    let value = value.trim();
    // Only strings of the forms a number is written in: 10 or 12 digits, with `-` or `+` before the last four.
    let digits = value.chars().filter(char::is_ascii_digit).count();
    (digits == 10 || digits == 12) && value.len() <= 13 && PersonId::parse(value).is_ok()
}

/// Where an identity number in the URL (`field`) is found, if anywhere: `path` or the query parameter.
pub fn identity_number_in(path: &str, query: Option<&str>) -> Option<String> {
    if path.split('/').any(holds_identity_number) {
        return Some("path".to_owned());
    }
    for pair in query.unwrap_or_default().split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if holds_identity_number(value) || holds_identity_number(name) {
            return Some(decode(name));
        }
    }
    None
}

/// The edge's refusal of a URL holding an identity number, before anything else sees the URL.
pub fn refusal(uri: &axum::http::Uri) -> Option<Response> {
    let field = identity_number_in(uri.path(), uri.query())?;
    // The problem's `instance` is the path without the number (and without the query).
    let redacted: Vec<&str> =
        uri.path().split('/').map(|s| if holds_identity_number(s) { "{identity-number}" } else { s }).collect();
    let mut refusal = ApiError::invalid(
        ErrorCode::InvalidParameter,
        "Personal identity numbers are not accepted in URLs (they would end up in logs, browser history \
         and proxies): send them in the request body. Addresses of persons: POST /addresses/v1/address-lookups; \
         employee credentials of a person: POST /identity/v1/employee-credential-searches; events about a \
         person: POST /audit/v1/event-searches; yourself in Mina ombud: leave party out (it is the default).",
        vec![FieldError::new(field, "(an identity number, not shown)", "identity numbers go in the body, not the URL")],
    );
    refusal.0.instance = redacted.join("/");
    Some(refusal.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_numbers_are_found_in_any_written_form_and_nothing_else_is() {
        for (path, query) in [
            ("/addresses/v1/addresses/191212121212", None),
            ("/addresses/v1/addresses/19121212-1212", None),
            ("/addresses/v1/addresses/121212-1212", None),
            ("/x/20121212%2D1212", None),
            ("/representation/v1/mandates", Some("party=191212121212&view=granted")),
            ("/identity/v1/employee-credentials", Some("personalNumber=19121212-1212")),
            ("/audit/v1/events", Some("dataSubject=191212121212")),
            ("/calls/v1/202100-5448/inkomster/personer/191212121212", None),
        ] {
            assert!(identity_number_in(path, query).is_some(), "{path} {query:?}");
        }
        for (path, query) in [
            ("/addresses/v1/addresses/2120000142", None),
            ("/addresses/v1/addresses/162120000142:socialtjanst", None),
            ("/addresses/v1/addresses/212000-0142", None),
            ("/messages/v1/inbox/0190f3a0-1234-7000-8000-191212121212", None),
            ("/audit/v1/entries/191212121", None),
            ("/addresses/v1/changes", Some("since=12&limit=100")),
            ("/plan/v1/blocks/identitet", Some("lang=en")),
        ] {
            assert_eq!(identity_number_in(path, query), None, "{path} {query:?}");
        }
    }
}
