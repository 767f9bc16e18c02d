//! Min profil's types: contact details and preferences, consents and what a producing node asks of one.

use ena_core::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a person can be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Email,
    Sms,
}
ena_core::text_enum!(Channel { Email = "email", Sms = "sms" });

/// A contact detail to add: an e-mail address or a mobile number, for me or for notices about an
/// organisation I act for.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactInput {
    pub channel: Channel,
    /// An e-mail address (`namn@example.se`) or a mobile number (`+46701234567` or `0701234567`).
    #[schema(example = "tolvan@example.se")]
    pub address: String,
    /// Use it for notices about this organisation (one I act for), not about me.
    #[serde(default)]
    #[schema(example = "5560000001")]
    pub organisation: Option<String>,
}

/// A contact detail.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    pub channel: Channel,
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// When it was verified with a code; until then it is not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    pub created_at: String,
}

/// A verification code as the person typed it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodeInput {
    #[schema(example = "123456")]
    pub code: String,
}

/// How a person wants to hear from the public sector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Preferences {
    /// `sv` or `en`.
    #[schema(example = "sv")]
    pub language: String,
    /// `email`, `sms`, or `none` (no notices; the mail still waits in Mina meddelanden).
    #[schema(example = "email")]
    pub channel: String,
}

impl Default for Preferences {
    fn default() -> Preferences {
        Preferences { language: "sv".into(), channel: "email".into() }
    }
}

impl Preferences {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if !matches!(self.language.as_str(), "sv" | "en") {
            errors.push(FieldError::new("language", &self.language, "sv or en"));
        }
        if !matches!(self.channel.as_str(), "email" | "sms" | "none") {
            errors.push(FieldError::new("channel", &self.channel, "email, sms or none"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// Where a notice to a person goes: their verified contact on their preferred channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeTarget {
    pub channel: Channel,
    pub address: String,
    pub language: String,
}

/// What a notice to a person should do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoticeRoute {
    /// The person chose no notices.
    Suppressed,
    /// To this verified contact.
    To(NoticeTarget),
    /// Nothing verified for the channel: the notifier resolves the person itself (as before Min profil).
    Unknown { language: String },
}

/// A consent to give: that `recipient` may get `category` data about me from `holder`, for `purpose`,
/// until `expiresAt`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentInput {
    /// The organisation that gets the data (organisationsnummer), e.g. a bank.
    #[schema(example = "5560000001")]
    pub recipient: String,
    /// The organisation that holds it, e.g. Skatteverket.
    #[schema(example = "2021005448")]
    pub holder: String,
    /// The information category (as the holder registers it in the index).
    #[schema(example = "se.skatteverket.inkomst")]
    pub category: String,
    /// What for, in the person's words or the recipient's (1–200 characters).
    #[schema(example = "Bolåneansökan")]
    pub purpose: String,
    /// RFC 3339; at most two years ahead. Default: 90 days.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A consent, as its person sees it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub id: String,
    pub recipient: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_name: Option<String>,
    pub holder: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<String>,
    pub category: String,
    pub purpose: String,
    pub given_at: String,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<String>,
    /// active, withdrawn or expired.
    pub status: &'static str,
}

/// What a producing node asks before it answers a call carrying a consent reference.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentCheckInput {
    /// The consent reference the call carried (`ena-consent`).
    #[schema(example = "0192f0a4-7b1c-7c3e-9a41-2f5d8e6b1c20")]
    pub consent_id: String,
    /// The calling organisation (`ena-consumer`).
    #[schema(example = "5560000001")]
    pub recipient: String,
    /// The category the called service gives out.
    #[schema(example = "se.skatteverket.inkomst")]
    pub category: String,
    /// What the service is (logged with the use).
    #[serde(default)]
    #[schema(example = "inkomst")]
    pub service: Option<String>,
    /// The calling employee's organisational unit, as the calling system said (`ena-org-unit`); shown to
    /// the person in who read my data.
    #[serde(default)]
    #[schema(example = "Bolåneavdelningen")]
    pub unit: Option<String>,
}

/// A consent found valid for a call: whose data, and what for.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentUse {
    pub consent_id: String,
    /// The person whose data may be given (the body only, never a path or log).
    pub subject: String,
    pub recipient: String,
    pub holder: String,
    pub category: String,
    pub purpose: String,
    pub expires_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    /// No valid consent (unknown, withdrawn, expired, or for another flow): the reason.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for ProfileError {
    fn from(e: sqlx::Error) -> ProfileError {
        ProfileError::Internal(e.to_string())
    }
}

pub(crate) fn invalid(field: &str, value: &str, why: &str) -> ProfileError {
    ProfileError::Invalid(vec![FieldError::new(field, value, why)])
}

/// An e-mail address or mobile number in its one spelling (e-mail lower-cased domain; numbers as E.164).
pub fn canonical_address(channel: Channel, address: &str) -> Result<String, FieldError> {
    let a = address.trim();
    match channel {
        Channel::Email => {
            let ok = a.len() <= 254
                && !a.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',')
                && a.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                });
            if !ok {
                return Err(FieldError::new("address", a, "an e-mail address, e.g. namn@example.se"));
            }
            let (local, domain) = a.split_once('@').unwrap_or_default();
            Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
        }
        Channel::Sms => {
            let compact: String = a.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            let e164 = if let Some(rest) = compact.strip_prefix("00") {
                format!("+{rest}")
            } else if let Some(rest) = compact.strip_prefix('0') {
                format!("+46{rest}")
            } else {
                compact
            };
            let digits = e164.strip_prefix('+').unwrap_or_default();
            if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FieldError::new("address", a, "a mobile number, e.g. +46701234567 or 070-123 45 67"));
            }
            Ok(e164)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_have_one_spelling() {
        assert_eq!(canonical_address(Channel::Email, " Tolvan@Example.SE ").unwrap(), "Tolvan@example.se");
        assert_eq!(canonical_address(Channel::Sms, "070-123 45 67").unwrap(), "+46701234567");
        assert_eq!(canonical_address(Channel::Sms, "0046701234567").unwrap(), "+46701234567");
        for bad in ["tolvan", "a@b", "a@@b.se", "a b@c.se", "@c.se", "a@.se"] {
            assert!(canonical_address(Channel::Email, bad).is_err(), "{bad}");
        }
        for bad in ["12", "+46abc", "+4670123456789012"] {
            assert!(canonical_address(Channel::Sms, bad).is_err(), "{bad}");
        }
    }
}
