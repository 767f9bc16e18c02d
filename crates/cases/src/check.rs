//! Field checks shared by create, update and transmit: each bad field becomes a `FieldError` named by
//! its JSON pointer.

use ena_core::FieldError;

use crate::{Action, Texts};

pub const MAX_TEXT: usize = 2000;
pub const MAX_TITLE: usize = 255;

pub(crate) fn check_texts(field: &str, texts: &Texts, required: bool, max: usize, errors: &mut Vec<FieldError>) {
    if required && texts.is_empty() {
        errors.push(FieldError::new(field, "{}", "give at least one language, e.g. {\"sv\": \"…\"}"));
    }
    for (lang, text) in texts {
        if !(2..=8).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
            errors.push(FieldError::new(format!("{field}/{lang}"), lang, "a language tag such as sv or en"));
        }
        if text.trim().is_empty() || text.chars().count() > max {
            errors.push(FieldError::new(format!("{field}/{lang}"), "(text)", format!("1 to {max} characters")));
        }
    }
}

pub(crate) fn check_actions(field: &str, actions: &[Action], gui: bool, errors: &mut Vec<FieldError>) {
    let count = |p: &str| actions.iter().filter(|a| a.priority.as_deref() == Some(p)).count();
    if gui && (count("primary") > 1 || count("secondary") > 1 || count("tertiary") > 5) {
        errors.push(FieldError::new(field, "(actions)", "at most one primary, one secondary and five tertiary"));
    }
    for (i, a) in actions.iter().enumerate() {
        if !a.url.starts_with("https://") || a.url.len() > 2000 {
            errors.push(FieldError::new(format!("{field}/{i}/url"), &a.url, "an https URL of your service"));
        }
        if a.action.is_empty() || a.action.len() > 64 {
            errors.push(FieldError::new(format!("{field}/{i}/action"), &a.action, "1 to 64 characters"));
        }
        if gui && !matches!(a.priority.as_deref(), Some("primary" | "secondary" | "tertiary")) {
            errors.push(FieldError::new(
                format!("{field}/{i}/priority"),
                "(missing)",
                "primary, secondary or tertiary",
            ));
        }
    }
}

/// An RFC 3339 time as unix seconds, or the field named.
pub(crate) fn time_of(field: &str, value: &Option<String>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let v = value.as_deref()?;
    match ena_core::time::Timestamp::parse_rfc3339(v) {
        Some(t) => Some(t.unix()),
        None => {
            errors.push(FieldError::new(field, v, "an RFC 3339 time, e.g. 2027-02-15T00:00:00Z"));
            None
        }
    }
}

pub(crate) fn short(field: &str, value: &Option<String>, max: usize, errors: &mut Vec<FieldError>) {
    if let Some(v) = value
        && (v.trim().is_empty() || v.chars().count() > max)
    {
        errors.push(FieldError::new(field, v, format!("1 to {max} characters")));
    }
}
