//! Mina ärenden: the cases an organisation (an agency, a municipality) keeps for a party — a person or an
//! organisation — in one model every organisation writes to and every party reads from.
//!
//! A case has a status (only allowed transitions), texts per language with a non-sensitive variant for
//! notifications, dates (`visibleFrom`, `dueAt`, `expiresAt`), a **committed expected-decision date**
//! whose every move needs a reason and is kept (the party sees the history; a case past its date without
//! a decision is overdue), immutable transmissions (a correction is a new one, threaded by
//! `relatedTransmissionId`), an activity history and a seen-log written here and never edited, and GUI
//! and API actions that point to the organisation's own service. Each change raises the revision (the
//! ETag); a stale `If-Match` is refused. Creating with the same idempotency key returns the same case.
//!
//! Who may write is decided by the caller's organisation (only the owner writes its cases); who may read
//! a party's cases is decided outside (Mina ombud gives the parties and services a person acts for) and
//! passed in as [`Scope`]s. Every read and change is an audit event with the party as data subject when
//! the party is a person.

pub mod repo;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_audit::{AuditSink, Context};
use ena_core::{FieldError, Organisationsnummer, PersonId};
use ena_store::Store;
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

fn invalid(field: &str, value: impl ToString, reason: impl Into<String>) -> CaseError {
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
    fn canonical(&self, field: &str) -> Result<String, CaseError> {
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
struct Body {
    extended_status: Option<String>,
    title: Texts,
    summary: Texts,
    additional_info: Texts,
    notice_title: Texts,
    external_reference: Option<String>,
    gui_actions: Vec<Action>,
    api_actions: Vec<Action>,
    expected_decision_reason: Option<String>,
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
}

/// The owning organisation (from its identity-bound token).
#[derive(Debug, Clone)]
pub struct Agency {
    /// Organisationsnummer, 12 digits.
    pub organisation: String,
}

pub const MAX_TEXT: usize = 2000;
pub const MAX_TITLE: usize = 255;

fn check_texts(field: &str, texts: &Texts, required: bool, max: usize, errors: &mut Vec<FieldError>) {
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

fn check_actions(field: &str, actions: &[Action], gui: bool, errors: &mut Vec<FieldError>) {
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
fn time_of(field: &str, value: &Option<String>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let v = value.as_deref()?;
    match ena_core::time::Timestamp::parse_rfc3339(v) {
        Some(t) => Some(t.unix()),
        None => {
            errors.push(FieldError::new(field, v, "an RFC 3339 time, e.g. 2027-02-15T00:00:00Z"));
            None
        }
    }
}

fn short(field: &str, value: &Option<String>, max: usize, errors: &mut Vec<FieldError>) {
    if let Some(v) = value
        && (v.trim().is_empty() || v.chars().count() > max)
    {
        errors.push(FieldError::new(field, v, format!("1 to {max} characters")));
    }
}

/// The block.
#[derive(Clone)]
pub struct Cases {
    store: Store,
}

impl Cases {
    pub fn new(store: Store) -> Cases {
        Cases { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Record `action` on `case` (the party a data subject when a person).
    #[allow(clippy::too_many_arguments)]
    async fn log(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        action: &str,
        case: &str,
        party: Option<&str>,
        result: AuditResult,
        reason: Option<String>,
    ) -> Result<(), CaseError> {
        let mut event = ctx.event(action, Some(ObjectRef { kind: "case".into(), id: case.into() }), result, reason);
        if let Some(p) = party
            && p.len() == 12
            && !p.starts_with("16")
        {
            event.data_subjects.push(p.to_owned());
        }
        audit.record(vec![event]).await.map(|_| ()).map_err(|e| CaseError::Internal(e.to_string()))
    }

    /// Create a case for a party; the same idempotency key again returns the case already made.
    pub async fn create(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        agency: &Agency,
        input: CaseInput,
    ) -> Result<(Case, bool), CaseError> {
        let mut errors = Vec::new();
        let party = match &input.party {
            Some(p) => match p.canonical("party") {
                Ok(id) => Some((p.kind.clone(), id)),
                Err(CaseError::Invalid(e)) => {
                    errors.extend(e);
                    None
                }
                Err(e) => return Err(e),
            },
            None => {
                errors.push(FieldError::new("party", "(missing)", "{kind: person|organisation, id}"));
                None
            }
        };
        if input.service.is_empty() || input.service.len() > 128 {
            errors.push(FieldError::new(
                "service",
                &input.service,
                "the service the case belongs to, e.g. kommun/mina-arenden",
            ));
        }
        let Some(status) = input.status else {
            errors.push(FieldError::new("status", "(missing)", format!("one of {}", CaseStatus::words())));
            return Err(CaseError::Invalid(errors));
        };
        check_texts("title", &input.title, true, MAX_TITLE, &mut errors);
        check_texts("summary", &input.summary, false, MAX_TEXT, &mut errors);
        check_texts("additionalInfo", &input.additional_info, false, MAX_TEXT, &mut errors);
        check_texts("noticeTitle", &input.notice_title, false, MAX_TITLE, &mut errors);
        check_actions("guiActions", &input.gui_actions, true, &mut errors);
        check_actions("apiActions", &input.api_actions, false, &mut errors);
        for (field, v, max) in [
            ("extendedStatus", &input.extended_status, 100),
            ("externalReference", &input.external_reference, 200),
            ("process", &input.process, 200),
            ("lifeEvent", &input.life_event, 64),
            ("idempotencyKey", &input.idempotency_key, 200),
        ] {
            short(field, v, max, &mut errors);
        }
        let visible_from = time_of("visibleFrom", &input.visible_from, &mut errors);
        let due_at = time_of("dueAt", &input.due_at, &mut errors);
        let expires_at = time_of("expiresAt", &input.expires_at, &mut errors);
        let now = ena_core::time::unix_now();
        let expected = self.check_expected(&input.expected_decision, now, &mut errors);
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        let (party_kind, party) = party.expect("checked");
        if let Some(key) = &input.idempotency_key
            && let Some(row) = repo::by_idempotency(&self.store, &agency.organisation, key).await?
        {
            return Ok((self.view(row, now)?, false));
        }
        let body = Body {
            extended_status: input.extended_status,
            title: input.title,
            summary: input.summary,
            additional_info: input.additional_info,
            notice_title: input.notice_title,
            external_reference: input.external_reference.clone(),
            gui_actions: input.gui_actions,
            api_actions: input.api_actions,
            expected_decision_reason: input.expected_decision.as_ref().map(|e| e.reason.clone()),
        };
        let row = repo::CaseRow {
            id: uuid::Uuid::now_v7().to_string(),
            party,
            party_kind,
            organisation: agency.organisation.clone(),
            service: input.service,
            status: status.as_str().to_owned(),
            life_event: input.life_event,
            process: input.process,
            external_ref: input.external_reference,
            idempotency_key: input.idempotency_key,
            visible_from,
            due_at,
            expires_at,
            expected_decision_at: expected,
            decided_at: None,
            search_text: search_text(&body),
            body: serde_json::to_string(&body).map_err(|e| CaseError::Internal(e.to_string()))?,
            revision: 1,
            created_at: now,
            content_updated_at: now,
        };
        let date = expected.map(|at| (at, body.expected_decision_reason.clone().unwrap_or_default()));
        let created = repo::insert(&self.store, &row, date, &ctx.actor.id).await?;
        if !created {
            // Another request with the same key won the race: its case is the one.
            let key = row.idempotency_key.as_deref().unwrap_or_default();
            let first = repo::by_idempotency(&self.store, &agency.organisation, key)
                .await?
                .ok_or_else(|| CaseError::Internal("a conflicting case vanished".into()))?;
            return Ok((self.view(first, now)?, false));
        }
        self.log(audit, ctx, "cases.case.create", &row.id, Some(&row.party), AuditResult::Allowed, None).await?;
        Ok((self.view(row, now)?, true))
    }

    /// A committed date: in the future, with a reason.
    fn check_expected(&self, e: &Option<ExpectedDecision>, now: i64, errors: &mut Vec<FieldError>) -> Option<i64> {
        let e = e.as_ref()?;
        let at = time_of("expectedDecision/at", &Some(e.at.clone()), errors)?;
        if at <= now {
            errors.push(FieldError::new("expectedDecision/at", &e.at, "must be in the future"));
        }
        if e.reason.trim().is_empty() || e.reason.chars().count() > 500 {
            errors.push(FieldError::new(
                "expectedDecision/reason",
                &e.reason,
                "say why this date (1 to 500 characters)",
            ));
        }
        Some(at)
    }

    /// The case, if `agency` owns it.
    async fn owned(&self, agency: &Agency, id: &str) -> Result<repo::CaseRow, CaseError> {
        let row = repo::get(&self.store, id).await?.ok_or_else(|| CaseError::NotFound(format!("no case {id}")))?;
        if row.organisation != agency.organisation {
            return Err(CaseError::Forbidden(format!("case {id} is kept by another organisation")));
        }
        Ok(row)
    }

    /// The owner reads its case (an audit event with the party as data subject).
    pub async fn get(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        agency: &Agency,
        id: &str,
    ) -> Result<Case, CaseError> {
        let row = match self.owned(agency, id).await {
            Ok(r) => r,
            Err(e) => {
                self.log(audit, ctx, "cases.case.read", id, None, AuditResult::Denied, Some(e.to_string())).await?;
                return Err(e);
            }
        };
        self.log(audit, ctx, "cases.case.read", id, Some(&row.party), AuditResult::Allowed, None).await?;
        self.view(row, ena_core::time::unix_now())
    }

    /// Change a case at `if_match` (its revision): only allowed transitions; a moved decision date
    /// needs a reason and is kept in the history.
    pub async fn update(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        agency: &Agency,
        id: &str,
        if_match: i64,
        u: CaseUpdate,
    ) -> Result<Case, CaseError> {
        let mut row = self.owned(agency, id).await?;
        if row.revision != if_match {
            return Err(CaseError::Stale { current: row.revision });
        }
        let mut body: Body = serde_json::from_str(&row.body).map_err(|e| CaseError::Internal(e.to_string()))?;
        let mut errors = Vec::new();
        let current = CaseStatus::parse(&row.status).ok_or_else(|| CaseError::Internal("stored status".into()))?;
        if let Some(next) = u.status
            && !current.may_become(next)
        {
            errors.push(FieldError::new("status", next.as_str(), format!("a {current} case cannot become {next}")));
        }
        for (field, texts, max) in [
            ("title", &u.title, MAX_TITLE),
            ("summary", &u.summary, MAX_TEXT),
            ("additionalInfo", &u.additional_info, MAX_TEXT),
            ("noticeTitle", &u.notice_title, MAX_TITLE),
        ] {
            if let Some(t) = texts {
                check_texts(field, t, field == "title", max, &mut errors);
            }
        }
        if let Some(a) = &u.gui_actions {
            check_actions("guiActions", a, true, &mut errors);
        }
        if let Some(a) = &u.api_actions {
            check_actions("apiActions", a, false, &mut errors);
        }
        short("extendedStatus", &u.extended_status, 100, &mut errors);
        let due_at = time_of("dueAt", &u.due_at, &mut errors);
        let expires_at = time_of("expiresAt", &u.expires_at, &mut errors);
        let now = ena_core::time::unix_now();
        let expected = self.check_expected(&u.expected_decision, now, &mut errors);
        if expected.is_some() && row.decided_at.is_some() {
            errors.push(FieldError::new("expectedDecision", "(date)", "the case is decided already"));
        }
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        let moved = expected.filter(|at| Some(*at) != row.expected_decision_at);
        if let Some(s) = u.status {
            row.status = s.as_str().to_owned();
        }
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = u.$field {
                    body.$field = v;
                }
            };
        }
        set!(title);
        set!(summary);
        set!(additional_info);
        set!(notice_title);
        set!(gui_actions);
        set!(api_actions);
        if u.extended_status.is_some() {
            body.extended_status = u.extended_status;
        }
        if due_at.is_some() {
            row.due_at = due_at;
        }
        if expires_at.is_some() {
            row.expires_at = expires_at;
        }
        let date = moved.map(|at| (at, u.expected_decision.as_ref().map(|e| e.reason.clone()).unwrap_or_default()));
        if let Some((at, reason)) = &date {
            row.expected_decision_at = Some(*at);
            body.expected_decision_reason = Some(reason.clone());
        }
        row.search_text = search_text(&body);
        row.body = serde_json::to_string(&body).map_err(|e| CaseError::Internal(e.to_string()))?;
        row.revision += 1;
        row.content_updated_at = now;
        let activity = match (&date, u.status) {
            (Some(_), _) => ("decision-date-moved", "The expected decision date was moved.".to_owned()),
            (None, Some(s)) if s != current => ("status-changed", format!("Status: {current} → {s}")),
            _ => ("case-updated", "The case was updated.".to_owned()),
        };
        if !repo::update(&self.store, &row, if_match, date, &ctx.actor.id, activity).await? {
            let current = repo::get(&self.store, id).await?.map_or(0, |r| r.revision);
            return Err(CaseError::Stale { current });
        }
        self.log(audit, ctx, "cases.case.update", id, Some(&row.party), AuditResult::Allowed, None).await?;
        self.view(row, now)
    }

    /// Add an immutable transmission; a `decision` decides the case.
    pub async fn transmit(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        agency: &Agency,
        id: &str,
        t: TransmissionInput,
        message_id: Option<String>,
    ) -> Result<Transmission, CaseError> {
        let row = self.owned(agency, id).await?;
        let mut errors = Vec::new();
        let Some(kind) = t.kind else {
            return Err(invalid("kind", "(missing)", format!("one of {}", TransmissionKind::words())));
        };
        check_texts("title", &t.title, true, MAX_TITLE, &mut errors);
        check_texts("summary", &t.summary, false, MAX_TEXT, &mut errors);
        for (i, a) in t.attachments.iter().enumerate() {
            if !a.url.starts_with("https://") {
                errors.push(FieldError::new(format!("attachments/{i}/url"), &a.url, "an https URL"));
            }
            if a.name.is_empty() || a.name.len() > 255 {
                errors.push(FieldError::new(format!("attachments/{i}/name"), &a.name, "1 to 255 characters"));
            }
        }
        if let Some(r) = &t.related_transmission_id
            && !repo::transmission_exists(&self.store, id, r).await?
        {
            errors.push(FieldError::new("relatedTransmissionId", r, "no transmission of this case has this id"));
        }
        if !errors.is_empty() {
            return Err(CaseError::Invalid(errors));
        }
        let now = ena_core::time::unix_now();
        let tr = Transmission {
            id: uuid::Uuid::now_v7().to_string(),
            kind,
            related_transmission_id: t.related_transmission_id,
            message_id,
            title: t.title,
            summary: t.summary,
            attachments: t.attachments,
            created_at: ena_core::time::rfc3339_of(now),
        };
        let decides = kind == TransmissionKind::Decision;
        if !repo::insert_transmission(&self.store, &row.id, &tr, now, decides).await? {
            return Err(CaseError::Conflict(format!(
                "message {} is in this case already",
                tr.message_id.as_deref().unwrap_or_default()
            )));
        }
        self.log(audit, ctx, "cases.transmission.create", id, Some(&row.party), AuditResult::Allowed, None).await?;
        Ok(tr)
    }

    /// A case's transmissions, activities, seen-log and decision-date history (for its owner or party).
    pub async fn history(&self, id: &str) -> Result<History, CaseError> {
        Ok(History {
            transmissions: repo::transmissions(&self.store, id).await?,
            activities: repo::activities(&self.store, id).await?,
            seen: repo::seen(&self.store, id).await?,
            decision_dates: repo::decision_dates(&self.store, id).await?,
        })
    }

    /// The party view: the cases of every party in `scopes`, filtered, sorted, a page (`limit` from
    /// `offset`), visible ones only (past `visibleFrom`).
    pub async fn list(
        &self,
        viewer: &str,
        scopes: &[Scope],
        filter: &Filter,
        sort: Sort,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<(Case, bool)>, CaseError> {
        let now = ena_core::time::unix_now();
        let rows = repo::list(&self.store, viewer, scopes, filter, sort, now, limit, offset).await?;
        rows.into_iter().map(|(r, seen)| Ok((self.view(r, now)?, seen))).collect()
    }

    /// A person opens a case of a party in `scopes`: the read is logged and the seen-log written.
    pub async fn open(
        &self,
        audit: &dyn AuditSink,
        ctx: &Context,
        viewer: &str,
        scopes: &[Scope],
        id: &str,
    ) -> Result<(Case, History), CaseError> {
        let now = ena_core::time::unix_now();
        let row = repo::get(&self.store, id).await?.filter(|r| visible(r, scopes, now));
        let Some(row) = row else {
            self.log(
                audit,
                ctx,
                "cases.case.read",
                id,
                None,
                AuditResult::Denied,
                Some("not a case the person may see".into()),
            )
            .await?;
            return Err(CaseError::NotFound(format!("no case {id} among yours or those you act for")));
        };
        let on_behalf = (row.party != viewer).then(|| row.party.clone());
        repo::mark_seen(&self.store, id, viewer, on_behalf.as_deref(), row.revision, now).await?;
        self.log(audit, ctx, "cases.case.read", id, Some(&row.party), AuditResult::Allowed, None).await?;
        let history = self.history(id).await?;
        Ok((self.view(row, now)?, history))
    }

    /// A person's own labels on cases they may see (`archive`, `bin` or their own words): add or remove.
    pub async fn label(
        &self,
        viewer: &str,
        scopes: &[Scope],
        ids: &[String],
        label: &str,
        on: bool,
    ) -> Result<u64, CaseError> {
        if label.is_empty() || label.chars().count() > 40 || label.contains(char::is_control) {
            return Err(invalid("label", label, "1 to 40 characters (archive, bin or your own)"));
        }
        if ids.is_empty() || ids.len() > 100 {
            return Err(invalid("ids", ids.len(), "1 to 100 case ids"));
        }
        let now = ena_core::time::unix_now();
        let mut changed = 0;
        for id in ids {
            let ok = repo::get(&self.store, id).await?.is_some_and(|r| visible(&r, scopes, now));
            if !ok {
                return Err(invalid("ids", id, "not a case among yours or those you act for"));
            }
        }
        for id in ids {
            changed += repo::set_label(&self.store, id, viewer, label, on).await?;
        }
        Ok(changed)
    }

    /// Mark cases read (as opening them would, without the content) or unread.
    pub async fn mark(&self, viewer: &str, scopes: &[Scope], ids: &[String], read: bool) -> Result<(), CaseError> {
        if ids.is_empty() || ids.len() > 100 {
            return Err(invalid("ids", ids.len(), "1 to 100 case ids"));
        }
        let now = ena_core::time::unix_now();
        let mut rows = Vec::new();
        for id in ids {
            match repo::get(&self.store, id).await?.filter(|r| visible(r, scopes, now)) {
                Some(r) => rows.push(r),
                None => return Err(invalid("ids", id, "not a case among yours or those you act for")),
            }
        }
        for r in rows {
            if read {
                let on_behalf = (r.party != viewer).then(|| r.party.clone());
                repo::mark_seen(&self.store, &r.id, viewer, on_behalf.as_deref(), r.revision, now).await?;
            } else {
                repo::unmark_seen(&self.store, &r.id, viewer).await?;
            }
        }
        Ok(())
    }

    fn view(&self, r: repo::CaseRow, now: i64) -> Result<Case, CaseError> {
        let body: Body = serde_json::from_str(&r.body).map_err(|e| CaseError::Internal(e.to_string()))?;
        let t = |v: Option<i64>| v.map(ena_core::time::rfc3339_of);
        Ok(Case {
            party: PartyRef {
                kind: r.party_kind.clone(),
                id: if r.party_kind == "organisation" { r.party[2..].to_owned() } else { r.party.clone() },
            },
            organisation: r.organisation,
            service: r.service,
            status: CaseStatus::parse(&r.status).ok_or_else(|| CaseError::Internal("stored status".into()))?,
            extended_status: body.extended_status,
            title: body.title,
            summary: body.summary,
            additional_info: body.additional_info,
            notice_title: body.notice_title,
            external_reference: body.external_reference,
            process: r.process,
            life_event: r.life_event,
            visible_from: t(r.visible_from),
            due_at: t(r.due_at),
            expires_at: t(r.expires_at),
            expected_decision: r.expected_decision_at.map(|at| ExpectedDecision {
                at: ena_core::time::rfc3339_of(at),
                reason: body.expected_decision_reason.clone().unwrap_or_default(),
            }),
            overdue: r.decided_at.is_none() && r.expected_decision_at.is_some_and(|at| at < now),
            decided_at: t(r.decided_at),
            gui_actions: body.gui_actions,
            api_actions: body.api_actions,
            revision: r.revision,
            created_at: ena_core::time::rfc3339_of(r.created_at),
            content_updated_at: ena_core::time::rfc3339_of(r.content_updated_at),
            id: r.id,
        })
    }
}

/// Whether a person with `scopes` may see the case now (its party is one of theirs, its service covered,
/// and it is past `visibleFrom`).
fn visible(r: &repo::CaseRow, scopes: &[Scope], now: i64) -> bool {
    r.visible_from.is_none_or(|v| v <= now)
        && scopes.iter().any(|s| s.party == r.party && s.services.as_ref().is_none_or(|list| list.contains(&r.service)))
}

/// What free-text search looks in: every title and summary, lower-cased.
fn search_text(b: &Body) -> String {
    let mut s = String::new();
    for t in [&b.title, &b.summary, &b.additional_info] {
        for v in t.values() {
            s.push_str(&v.to_lowercase());
            s.push('\n');
        }
    }
    if let Some(e) = &b.external_reference {
        s.push_str(&e.to_lowercase());
    }
    s
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
