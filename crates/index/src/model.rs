//! The index's types: what an engagement is about (an object: a person, an organisation, a property, a
//! vehicle, a case), its category, and what holders send and finders get.

use ena_core::{FieldError, Organisationsnummer, PersonId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What kind of object information is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectType {
    Person,
    Organisation,
    /// A property designation (fastighetsbeteckning), e.g. `STOCKHOLM SÖDERMALM 1:23`.
    Property,
    /// A vehicle registration number, e.g. `ABC123` or `ABC12D`.
    Vehicle,
    /// A case id, as its organisation writes it.
    Case,
}
ena_core::text_enum!(ObjectType {
    Person = "person",
    Organisation = "organisation",
    Property = "property",
    Vehicle = "vehicle",
    Case = "case",
});

/// An object in its one canonical spelling (what the pseudonym is made of).
#[derive(Clone, PartialEq, Eq)]
pub struct Object {
    pub kind: ObjectType,
    id: String,
}

/// Personal identity numbers never show in `Debug` output.
impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            ObjectType::Person => write!(f, "person:{}", ena_audit::event::mask(&self.id)),
            _ => write!(f, "{}:{}", self.kind.as_str(), self.id),
        }
    }
}

impl Object {
    /// Parse `id` as an object of `kind`, naming `field` (e.g. `items/3/objectId`) when it is not one.
    pub fn parse(field: &str, kind: ObjectType, id: &str) -> Result<Object, FieldError> {
        let bad = |why: &str| FieldError::new(field, if kind == ObjectType::Person { "…" } else { id }, why);
        let id = match kind {
            ObjectType::Person => {
                PersonId::parse(id).map(|p| p.as_str().to_owned()).map_err(|e| bad(&e.to_string()))?
            }
            ObjectType::Organisation => {
                Organisationsnummer::parse(id).map(|o| o.as_str().to_owned()).map_err(|e| bad(&e.to_string()))?
            }
            ObjectType::Property => {
                let words: Vec<&str> = id.split_whitespace().collect();
                let joined = words.join(" ").to_uppercase();
                let ok = words.len() >= 2
                    && joined.len() <= 100
                    && words.last().is_some_and(|w| {
                        w.split_once(':').is_some_and(|(a, b)| {
                            !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
                        })
                    });
                if !ok {
                    return Err(bad(
                        "a property designation: municipality, district and block:unit, e.g. STOCKHOLM SÖDERMALM 1:23",
                    ));
                }
                joined
            }
            ObjectType::Vehicle => {
                let up = id.trim().to_uppercase();
                let b = up.as_bytes();
                let ok = b.len() == 6
                    && b[..3].iter().all(u8::is_ascii_uppercase)
                    && b[3..5].iter().all(u8::is_ascii_digit)
                    && (b[5].is_ascii_digit() || b[5].is_ascii_uppercase());
                if !ok {
                    return Err(bad(
                        "a registration number: three letters, two digits, a digit or letter (ABC123, ABC12D)",
                    ));
                }
                up
            }
            ObjectType::Case => {
                if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
                    return Err(bad("1–200 characters, no control characters"));
                }
                id.to_owned()
            }
        };
        Ok(Object { kind, id })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether audit events name this object as their data subject (a person).
    pub fn subject(&self) -> Option<&str> {
        (self.kind == ObjectType::Person).then_some(self.id.as_str())
    }
}

/// A category of information: a dotted name of at least two parts (`se.skatteverket.inkomst`).
pub fn check_category(field: &str, c: &str) -> Result<(), FieldError> {
    let parts: Vec<&str> = c.split('.').collect();
    let ok = c.len() <= 100
        && parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            c,
            "a dotted name of at least two parts of a–z, 0–9 and '-', e.g. se.skatteverket.inkomst",
        ))
    }
}

/// One engagement as a holder registers it: that it holds information of `category` about an object.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngagementInput {
    pub object_type: ObjectType,
    /// The object's id (a personal or organisation number, a property designation, a registration
    /// number, a case id). Kept only as a keyed hash.
    pub object_id: String,
    pub category: String,
    /// Where to ask: the holder's address or service for this information.
    pub address: String,
    /// When the holder's information last changed (RFC 3339); now when left out.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// The holder's own system or register it comes from.
    #[serde(default)]
    pub source: Option<String>,
}

/// Which engagement to remove: the holder's own, by object and category.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngagementKey {
    pub object_type: ObjectType,
    pub object_id: String,
    pub category: String,
}

/// An engagement as a finder sees it (the object is the one asked about).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Engagement {
    pub category: String,
    /// The organisation that holds the information.
    pub holder: String,
    pub address: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What a find asks.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindInput {
    pub object_type: ObjectType,
    pub object_id: String,
    /// Only this category (the caller must be allowed it, or the answer is a refusal — whether or not
    /// anything is held).
    #[serde(default)]
    pub category: Option<String>,
    /// Only this holder (an organisation number).
    #[serde(default)]
    pub holder: Option<String>,
}

/// One item of a batch: upsert (the default) or delete.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchItem {
    #[serde(default)]
    pub delete: bool,
    pub object_type: ObjectType,
    pub object_id: String,
    pub category: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// How one item of a batch went.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemOutcome {
    pub index: usize,
    /// `accepted` or `refused`.
    pub status: &'static str,
    /// Every field wrong with a refused item (`property`, `value`, `reason`, as in problem details).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.property, e.reason)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for IndexError {
    fn from(e: sqlx::Error) -> IndexError {
        IndexError::Internal(e.to_string())
    }
}

/// A member system's subscription to the changes of a category.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = IndexSubscription)]
pub struct Subscription {
    pub id: String,
    #[schema(example = "se.skatteverket.inkomst")]
    pub category: String,
    pub created_at: String,
}

/// What a subscription asks for.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = IndexSubscriptionInput)]
pub struct SubscriptionInput {
    #[schema(example = "se.skatteverket.inkomst")]
    pub category: String,
}

/// One change in a subscribed category: an engagement registered (or changed) or deleted.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeItem {
    /// The feed position: ask for changes after the last one read.
    pub seq: i64,
    /// registered or deleted.
    pub kind: String,
    pub object_type: String,
    pub object_id: String,
    pub category: String,
    pub holder: String,
    pub address: String,
    pub at: String,
}
