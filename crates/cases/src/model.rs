//! The block's types: statuses, inputs, the case as shown, its history, the party view's scopes and filters.

use std::collections::BTreeMap;

use ena_core::{FieldError, Organisationsnummer, PersonId};
use serde::{Deserialize, Serialize};

/// Where a case stands (Dialogporten's statuses, in its words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    Draft,
    InProgress,
    Awaiting,
    RequiresAttention,
    Completed,
}
ena_core::text_enum!(CaseStatus {
    Draft = "draft",
    InProgress = "in-progress",
    Awaiting = "awaiting",
    RequiresAttention = "requires-attention",
    Completed = "completed",
});

impl CaseStatus {
    /// The transitions allowed: a draft may become anything; open statuses move among themselves or
    /// complete; a completed case is closed (a new matter is a new case).
    pub fn may_become(self, next: CaseStatus) -> bool {
        use CaseStatus::*;
        match (self, next) {
            (a, b) if a == b => true,
            (Completed, _) => false,
            (_, Draft) => false,
            _ => true,
        }
    }
}

/// What a transmission is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TransmissionKind {
    Information,
    Request,
    Submission,
    Acceptance,
    Decision,
    Rejection,
    Correction,
    Message,
}
ena_core::text_enum!(TransmissionKind {
    Information = "information",
    Request = "request",
    Submission = "submission",
    Acceptance = "acceptance",
    Decision = "decision",
    Rejection = "rejection",
    Correction = "correction",
    Message = "message",
});

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.property, e.reason)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The `If-Match` revision is not the stored one.
    #[error("the case is at revision {current}, not the one given in If-Match")]
    Stale { current: i64 },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for CaseError {
    fn from(e: sqlx::Error) -> CaseError {
        CaseError::Internal(e.to_string())
    }
}

pub(crate) fn invalid(field: &str, value: impl ToString, reason: impl Into<String>) -> CaseError {
    CaseError::Invalid(vec![FieldError::new(field, value, reason)])
}

/// Texts per language (`sv`, `en`, …): at least one, each non-empty.
pub type Texts = BTreeMap<String, String>;

/// Who a case is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartyRef {
    /// `person` or `organisation`.
    #[schema(example = "person")]
    pub kind: String,
    /// A personnummer/samordningsnummer or an organisationsnummer (in bodies only, never in URLs).
    #[schema(example = "191212121212")]
    pub id: String,
}

impl PartyRef {
    /// The canonical party id (12 digits for a person, `16` + 10 for an organisation).
    pub fn canonical(&self, field: &str) -> Result<String, CaseError> {
        match self.kind.as_str() {
            "person" => PersonId::parse(&self.id)
                .map(|p| p.as_str().to_owned())
                .map_err(|e| invalid(&format!("{field}/id"), "(identity number)", e.to_string())),
            "organisation" => Organisationsnummer::parse(&self.id)
                .map(|o| o.as_str().to_owned())
                .map_err(|e| invalid(&format!("{field}/id"), &self.id, e.to_string())),
            other => Err(invalid(&format!("{field}/kind"), other, "must be person or organisation")),
        }
    }
}

/// A link to the organisation's own service, shown as a button (GUI) or called by software (API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CaseAction)]
pub struct Action {
    /// What it does, e.g. `sign`, `pay`, `open`.
    #[schema(example = "open")]
    pub action: String,
    /// GUI: `primary` (at most one), `secondary` (at most one), `tertiary` (a few).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default)]
    pub title: Texts,
    /// An https URL of the organisation's service.
    #[schema(example = "https://e-tjanst.exempel.se/arenden/4711")]
    pub url: String,
    /// API actions: the HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// The expected-decision date an organisation commits to, and why it is that date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExpectedDecision {
    /// RFC 3339.
    #[schema(example = "2027-02-15T00:00:00Z")]
    pub at: String,
    /// Why this date (required, and required again each time it moves).
    #[schema(example = "Handläggningstiden är normalt tio veckor.")]
    pub reason: String,
}

/// What an organisation sends to create a case.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseInput {
    #[schema(required = true)]
    pub party: Option<PartyRef>,
    /// The service the case belongs to (a service of the Mina ombud catalog, e.g. `kommun/mina-arenden`):
    /// representatives see it only with a mandate covering it.
    #[serde(default)]
    #[schema(example = "kommun/mina-arenden", required = true)]
    pub service: String,
    #[schema(required = true)]
    pub status: Option<CaseStatus>,
    /// The organisation's own word for the status, e.g. "Komplettering begärd".
    #[serde(default)]
    pub extended_status: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub title: Texts,
    #[serde(default)]
    pub summary: Texts,
    #[serde(default)]
    pub additional_info: Texts,
    /// A variant of the title without sensitive content, for notifications (e-mail, SMS).
    #[serde(default)]
    pub notice_title: Texts,
    #[serde(default)]
    pub external_reference: Option<String>,
    /// Groups cases of one process at the organisation.
    #[serde(default)]
    pub process: Option<String>,
    /// The life event the case belongs to (*sammanhållen händelse*), e.g. `flytt`, `nytt-barn`.
    #[serde(default)]
    pub life_event: Option<String>,
    /// Creating again with the same key returns the same case.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub visible_from: Option<String>,
    #[serde(default)]
    pub due_at: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub expected_decision: Option<ExpectedDecision>,
    #[serde(default)]
    pub gui_actions: Vec<Action>,
    #[serde(default)]
    pub api_actions: Vec<Action>,
}

/// A change to a case: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseUpdate {
    #[serde(default)]
    pub status: Option<CaseStatus>,
    #[serde(default)]
    pub extended_status: Option<String>,
    #[serde(default)]
    pub title: Option<Texts>,
    #[serde(default)]
    pub summary: Option<Texts>,
    #[serde(default)]
    pub additional_info: Option<Texts>,
    #[serde(default)]
    pub notice_title: Option<Texts>,
    #[serde(default)]
    pub due_at: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    /// A moved date needs a reason; the history keeps every one.
    #[serde(default)]
    pub expected_decision: Option<ExpectedDecision>,
    #[serde(default)]
    pub gui_actions: Option<Vec<Action>>,
    #[serde(default)]
    pub api_actions: Option<Vec<Action>>,
}

/// What is stored as the case's body (texts and actions; the query columns are beside it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Body {
    pub(crate) extended_status: Option<String>,
    pub(crate) title: Texts,
    pub(crate) summary: Texts,
    pub(crate) additional_info: Texts,
    pub(crate) notice_title: Texts,
    pub(crate) external_reference: Option<String>,
    pub(crate) gui_actions: Vec<Action>,
    pub(crate) api_actions: Vec<Action>,
    pub(crate) expected_decision_reason: Option<String>,
    #[serde(default)]
    pub(crate) organisation_name: Option<String>,
}

/// One entry of the expected-decision date's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionDate {
    pub at: String,
    pub reason: String,
    pub set_at: String,
}

/// A case as its owner and its party see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    pub id: String,
    pub party: PartyRef,
    /// The organisation that keeps the case (organisationsnummer, 12 digits).
    pub organisation: String,
    /// Its name as a member of the federation.
    pub organisation_name: Option<String>,
    pub service: String,
    pub status: CaseStatus,
    pub extended_status: Option<String>,
    pub title: Texts,
    pub summary: Texts,
    pub additional_info: Texts,
    pub notice_title: Texts,
    pub external_reference: Option<String>,
    pub process: Option<String>,
    pub life_event: Option<String>,
    pub visible_from: Option<String>,
    pub due_at: Option<String>,
    pub expires_at: Option<String>,
    pub expected_decision: Option<ExpectedDecision>,
    /// Past its expected-decision date without a decision.
    pub overdue: bool,
    pub decided_at: Option<String>,
    pub gui_actions: Vec<Action>,
    pub api_actions: Vec<Action>,
    /// The ETag.
    pub revision: i64,
    pub created_at: String,
    pub content_updated_at: String,
}

/// A transmission as sent (immutable).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransmissionInput {
    #[schema(required = true)]
    pub kind: Option<TransmissionKind>,
    /// The transmission this one answers or corrects.
    #[serde(default)]
    pub related_transmission_id: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub title: Texts,
    #[serde(default)]
    pub summary: Texts,
    /// Attachments by reference (the file stays with the organisation).
    #[serde(default)]
    pub attachments: Vec<AttachmentRef>,
    /// The ena message that carried it, if it came through messaging (once per case).
    #[serde(default)]
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachmentRef {
    pub name: String,
    pub url: String,
    pub media_type: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transmission {
    pub id: String,
    pub kind: TransmissionKind,
    pub related_transmission_id: Option<String>,
    /// The message that carried it, when it came through ena messaging.
    pub message_id: Option<String>,
    pub title: Texts,
    pub summary: Texts,
    pub attachments: Vec<AttachmentRef>,
    pub created_at: String,
}

/// One entry of the activity history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub kind: String,
    pub description: String,
    pub at: String,
}

/// Who among the party's people opened the case, and when (actor ids masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Seen {
    /// Masked identity number (`19121212-****`).
    pub person: String,
    /// Set when the person opened it as a representative (the party's id, masked if a person).
    pub on_behalf_of: Option<String>,
    /// Whether the person saw the latest content.
    pub current: bool,
    pub at: String,
}

/// A party a person may see cases of, and the services (None: all — the person's own cases).
#[derive(Debug, Clone)]
pub struct Scope {
    pub party: String,
    pub services: Option<Vec<String>>,
}

/// How the party list is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    ContentUpdated,
    Due,
    Created,
}

/// The party view's filters (every one optional).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Vec<CaseStatus>,
    pub organisation: Option<String>,
    pub service: Option<String>,
    pub life_event: Option<String>,
    pub updated_from: Option<i64>,
    pub updated_to: Option<i64>,
    pub unseen: bool,
    pub overdue: bool,
    pub label: Option<String>,
    /// Free text in title and summary (any language), case-insensitive.
    pub text: Option<String>,
    /// The cursor: only cases after this (content_updated_at, id), in that order (newest first).
    pub after: Option<(i64, String)>,
}

/// The owning organisation (from its identity-bound token).
#[derive(Debug, Clone)]
pub struct Agency {
    /// Organisationsnummer, 12 digits.
    pub organisation: String,
    /// Its name as a member of the federation, shown to the party.
    pub name: Option<String>,
}

/// A case in a person's list: whether they saw its latest content, and their labels on it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    #[serde(flatten)]
    pub case: Case,
    pub seen: bool,
    pub labels: Vec<String>,
}

/// A case's history, newest last.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub transmissions: Vec<Transmission>,
    pub activities: Vec<Activity>,
    pub seen: Vec<Seen>,
    pub decision_dates: Vec<DecisionDate>,
}
