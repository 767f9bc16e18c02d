//! The block's types: operators, registrations and their signed changes, reachability, and the errors.

use ena_core::{FieldError, Organisationsnummer, PersonId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most ids one reachability call may ask about (Suomi.fi Messages' figure; Sweden's service takes 1 000).
pub const MAX_REACHABILITY: usize = 10_000;
/// The trust mark (its last path segment) a mailbox operator must hold.
pub const OPERATOR_TRUST_MARK: &str = "connected-mina-meddelanden";
/// What lets a representative read a person's mail: the package, or the single service.
pub const PERSON_RIGHTS: &[&str] = &["post-och-arenden", "service:mina-meddelanden/privat"];
/// What lets someone read a company's mail (signatories and the CEO hold it by their register role).
pub const COMPANY_RIGHTS: &[&str] = &["foretagets-post", "service:mina-meddelanden/foretag"];
/// How long a company's change waits for its other signatures (days).
pub const PENDING_DAYS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the request is invalid")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for MailError {
    fn from(e: sqlx::Error) -> MailError {
        MailError::Internal(e.to_string())
    }
}

pub(crate) fn invalid(field: &str, value: &str, reason: impl Into<String>) -> MailError {
    MailError::Invalid(vec![FieldError::new(field, value, reason.into())])
}

/// A recipient: a person (12 digits) or an organisation (`16` + 10 digits), canonical only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    Person(PersonId),
    Organisation(String),
}

impl Recipient {
    /// Parse an id that must already be in canonical form; a valid but differently written id is refused
    /// with its canonical form, so a sender's system learns to send the form FaR keys on.
    pub fn canonical(field: &str, text: &str) -> Result<Recipient, FieldError> {
        let shown = if text.len() > 40 { "(too long)" } else { text };
        let parsed = if text.starts_with("16") {
            Organisationsnummer::parse(text).map(|o| Recipient::Organisation(o.as_str().to_owned()))
        } else {
            PersonId::parse(text).map(Recipient::Person)
        };
        match parsed {
            Ok(r) if r.as_str() == text => Ok(r),
            Ok(r) => Err(FieldError::new(field, shown, format!("write it in canonical form: {}", r.as_str()))),
            Err(e) => Err(FieldError::new(
                field,
                shown,
                format!("{e}: a personal or coordination number (12 digits) or 16 + an organisation number"),
            )),
        }
    }

    /// Parse any written form (a person's own number from a session, an organisation number from a form).
    pub fn any(field: &str, text: &str) -> Result<Recipient, MailError> {
        if let Ok(p) = PersonId::parse(text) {
            return Ok(Recipient::Person(p));
        }
        Organisationsnummer::parse(text)
            .map(|o| Recipient::Organisation(o.as_str().to_owned()))
            .map_err(|e| invalid(field, if text.len() > 40 { "(too long)" } else { text }, e.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Recipient::Person(p) => p.as_str(),
            Recipient::Organisation(o) => o,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Recipient::Person(_) => "person",
            Recipient::Organisation(_) => "organisation",
        }
    }

    pub fn is_person(&self) -> bool {
        matches!(self, Recipient::Person(_))
    }
}

/// A mailbox operator in good standing, as the federation describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operator {
    /// Its entity id in the federation.
    #[schema(example = "https://brevlada.myndighetspost.se")]
    pub id: String,
    #[schema(example = "Min myndighetspost")]
    pub name: String,
    /// The organisation running it (canonical).
    pub organisation: String,
    /// The address in the address registry its node receives mail at (`<orgnr>:<function>`).
    #[schema(example = "162021004748:brevlada")]
    pub service_address: String,
    /// The largest attachment it takes, bytes.
    pub max_attachment_bytes: u64,
}

/// How a registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationStatus {
    /// Registered: mail goes to the operator.
    Active,
    /// Not yet registered: a company's registration waits for more signatories.
    Pending,
}
ena_core::text_enum!(RegistrationStatus { Active = "active", Pending = "pending" });

/// One signature of a registration change, as kept: anyone holding it can check the signature against
/// the statement's SHA-256 with the signature service's published keys.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedChange {
    pub change: String,
    pub signer: String,
    /// The exact text signed.
    pub statement: String,
    /// The signature service's detached JWS over the statement's SHA-256.
    pub signature: String,
    pub signed_at: String,
    /// When the change took effect; absent while it waits for more signatories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
}

/// A recipient's entry in FaR, as the recipient (or whoever acts for it) sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub recipient: String,
    /// person or organisation.
    pub kind: String,
    pub status: RegistrationStatus,
    /// The operator's entity id.
    pub operator: String,
    /// The operator, if it is in good standing now; `null` when suspended or gone (mail goes on paper).
    pub operator_details: Option<Operator>,
    pub registered_at: String,
    pub updated_at: String,
    /// Senders (organisation numbers, canonical) this recipient does not want digital mail from.
    pub blocked_senders: Vec<String>,
    /// A company's changes waiting for more signatures.
    pub pending: Vec<Pending>,
}

/// A change of a company's registration that some but not all needed signatories have signed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// The change, e.g. `register:https://brevlada.example` or `block:162021004748`.
    pub change: String,
    pub signed_by: Vec<String>,
    /// Signatures still needed.
    pub missing: usize,
    /// Who may still sign (per the company's firmateckning).
    pub possible_signers: Vec<String>,
}

/// A change to a registration, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Register with, or move to, `operator`.
    Register {
        operator: String,
    },
    Deregister,
    Block {
        sender: String,
    },
    Unblock {
        sender: String,
    },
}

impl Change {
    /// The change's key: the same change signed by several signatories collects under it.
    pub fn key(&self) -> String {
        match self {
            Change::Register { operator } => format!("register:{operator}"),
            Change::Deregister => "deregister".into(),
            Change::Block { sender } => format!("block:{sender}"),
            Change::Unblock { sender } => format!("unblock:{sender}"),
        }
    }

    pub fn action(&self) -> &'static str {
        match self {
            Change::Register { .. } => "register",
            Change::Deregister => "deregister",
            Change::Block { .. } => "block",
            Change::Unblock { .. } => "unblock",
        }
    }
}

/// The statement a person signs for a change (its SHA-256 goes to the signature service), and the
/// detached signature they got.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The statement's exact text, as [`crate::Mail::statement`] made it.
    pub statement: String,
    /// The signature service's detached JWS over its SHA-256.
    pub signature: String,
}

/// What a change did.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", tag = "outcome")]
#[schema(as = MailOutcome)]
pub enum Outcome {
    /// Applied; the registration as it now stands (absent after a deregistration).
    #[serde(rename = "done")]
    Done { registration: Option<Registration> },
    /// A company's change signed by fewer signatories than its firmateckning needs.
    #[serde(rename = "incomplete")]
    Incomplete { pending: Pending },
}

/// Why a recipient cannot get digital mail from the asking sender (the sender prints it instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PaperReason {
    /// Not in the recipient registry.
    NotRegistered,
    /// The recipient does not accept digital mail from this sender.
    SenderBlocked,
    /// The recipient's operator is suspended or no longer in the federation.
    OperatorUnavailable,
}
ena_core::text_enum!(PaperReason {
    NotRegistered = "not-registered",
    SenderBlocked = "sender-blocked",
    OperatorUnavailable = "operator-unavailable",
});

/// One id's answer: only what the asking sender may know.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reach {
    pub id: String,
    /// Digital mail from this sender will be delivered.
    pub reachable: bool,
    /// Why not (send on paper); absent when reachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper: Option<PaperReason>,
    /// The operator mail goes to (only when reachable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
    /// Someone else than the recipient may read mail not marked recipient-only: a representative with
    /// Mina ombud's mail package, or for a company, the people it lets read its mail.
    pub read_by_representatives: bool,
}

/// How a body is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    #[default]
    Text,
    /// The restricted Markdown of [`crate::markdown`].
    Markdown,
}

/// Who may read a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Visibility {
    /// The recipient and whoever may read their mail through Mina ombud.
    #[default]
    Representatives,
    /// The recipient alone (a company's mail: its signatories and CEO).
    RecipientOnly,
}

/// What the sender wants to hear back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptMode {
    /// No receipt.
    #[default]
    None,
    /// A delivery receipt: the operator's signed receipt with its time to the second.
    Simple,
    /// Also a signed receipt when the message is first opened, with an inclusion proof in the
    /// operator's log.
    Signed,
}
ena_core::text_enum!(ReceiptMode { None = "none", Simple = "simple", Signed = "signed" });

/// Who to ask about a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Support {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Something the message is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectReference {
    /// person, organisation, property or vehicle.
    #[schema(example = "property")]
    pub kind: String,
    /// Its identifier (a property designation, a registration number, …).
    #[schema(example = "Exempelby 1:23")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Something the recipient can do about a document, in the sender's own service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MailAction {
    /// pay, sign, book, respond or confirm.
    #[schema(example = "pay")]
    pub kind: String,
    #[schema(example = "Betala avgiften")]
    pub title: String,
    /// An https URL of the sender's service.
    #[schema(example = "https://betala.exempel.se/4711")]
    pub url: String,
    /// Last day (RFC 3339 date or time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// Where (a booking's place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
}

/// A document of the message: its title, the attachment that carries it (if any), and its actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Document {
    #[schema(example = "Faktura")]
    pub title: String,
    /// Index in `attachments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<usize>,
    #[serde(default)]
    pub actions: Vec<MailAction>,
}

/// An attachment as the message names it (its bytes travel as the delivering message's attachment of
/// the same index; length and SHA-256 are signed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachmentInfo {
    #[schema(example = "beslut.pdf")]
    pub name: String,
    #[schema(example = "application/pdf")]
    pub media_type: String,
    pub size: u64,
    /// base64url, as the node's upload answered.
    pub sha256: String,
}

/// A message as a sender writes it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MailInput {
    /// The recipient: 12 digits for a person, 16 + 10 for an organisation.
    #[schema(example = "191212121212")]
    pub recipient: String,
    #[schema(example = "Beslut om bygglov")]
    pub subject: String,
    pub body: String,
    #[serde(default)]
    pub body_format: BodyFormat,
    /// e.g. sv, en.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<Support>,
    /// The case in Mina ärenden the message belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    #[serde(default)]
    pub objects: Vec<ObjectReference>,
    #[serde(default)]
    pub documents: Vec<Document>,
    #[serde(default)]
    pub attachments: Vec<AttachmentInfo>,
    #[serde(default)]
    pub reply_allowed: bool,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub receipt: ReceiptMode,
    /// RFC 3339: gone from the mailbox after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// A message of the recipient's this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
}

/// A viewer's folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Folder {
    #[default]
    Inbox,
    Archive,
    Bin,
}
ena_core::text_enum!(Folder { Inbox = "inbox", Archive = "archive", Bin = "bin" });

/// A delivered message as a reader sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub recipient: String,
    pub sender: String,
    pub sender_name: String,
    pub subject: String,
    pub body: String,
    pub body_format: BodyFormat,
    /// The body rendered inert (escaped text, or the restricted Markdown's few tags).
    pub body_html: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support: Option<Support>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    pub objects: Vec<ObjectReference>,
    pub documents: Vec<Document>,
    pub attachments: Vec<AttachmentInfo>,
    pub reply_allowed: bool,
    pub visibility: Visibility,
    pub receipt: ReceiptMode,
    pub received_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// Read by this viewer.
    pub read: bool,
    pub folder: Folder,
    /// The viewer reads it as a representative (not the recipient themself).
    pub as_representative: bool,
    /// The replies written to it (when it is opened).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<ReplyView>,
}

/// A reply written to a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplyView {
    pub id: String,
    /// Who wrote it: the recipient, or a representative for them.
    pub author: String,
    pub body: String,
    pub written_at: String,
    /// Handed to the operator's node, on its way to the sender.
    pub sent: bool,
    /// The operator's node would not send it (the letter is gone there, or no longer takes replies).
    pub refused: bool,
}

impl ReplyView {
    pub fn of(r: crate::repo::ReplyRow) -> ReplyView {
        ReplyView {
            id: r.id,
            author: r.author,
            body: r.body,
            written_at: ena_core::time::rfc3339_of(r.created_at),
            sent: r.sent_message.as_deref().is_some_and(|m| m != crate::repo::REPLY_REFUSED),
            refused: r.sent_message.as_deref() == Some(crate::repo::REPLY_REFUSED),
        }
    }
}

/// A party whose mail a person may read: the person themself (`own`), or a party through Mina ombud or
/// a register role (recipient-only messages are not theirs to read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailScope {
    pub party: String,
    pub own: bool,
}

/// A message as it arrives at this installation's mailbox, from the delivery that carried it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The delivering message's id (a repeat is the same message).
    pub reference: String,
    /// The sending organisation (canonical) and its name.
    pub sender: String,
    pub sender_name: String,
    pub input: MailInput,
    /// The sender's signature and the intermediary's seal, kept with the message.
    pub evidence: serde_json::Value,
}
