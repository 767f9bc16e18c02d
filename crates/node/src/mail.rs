//! Mina meddelanden on a sending node (`/mail/v1/outbox`, local API): the organisation's systems hand the
//! node a letter; the node asks FaR whether the recipient takes digital mail from it — if not, the letter
//! gets the `paper` status with the reason (ena does not print; the system is told, and an
//! `ena.mail.paper` event goes to its subscriptions) — checks the letter against the operator's limits,
//! signs it for its organisation, seals it as intermediary, and sends it through messaging to the address
//! FaR names, end-to-end encrypted to the operator's node. Its status is the carrying message's
//! (queued … delivered, with the operator node's signed receipt).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ena_core::{ErrorCode, FieldError};
use ena_mail::{AttachmentInfo, MailInput, PaperReason};
use ena_messaging::attachments::AttachmentInput;
use ena_messaging::{Outgoing, OutgoingInput};
use ena_server::extract::{ApiJson, ApiQuery};
use ena_server::problem::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api::{LocalSystem, NodeState, problem};

/// A letter as the organisation's system hands it over.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LetterInput {
    /// The letter; its `attachments` are filled in by the node from `files`.
    pub mail: MailInput,
    /// Uploads (`POST /messages/v1/attachments`) to send with it, in order: a document's `attachment`
    /// is an index here.
    #[serde(default)]
    pub files: Vec<AttachmentInput>,
    /// Seconds the letter may wait for delivery (default 7 days).
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
    /// The same key again answers 200 with the letter made the first time, and sends nothing.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// A letter as the node keeps it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Letter {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    /// `paper` (not delivered digitally; see `paper`), else the carrying message's: queued, sent,
    /// delivered, failed, expired.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paper: Option<PaperReason>,
    /// The mailbox operator it went to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Someone besides the recipient may read it (a representative), unless it is recipient-only.
    pub read_by_representatives: bool,
    /// The carrying message: attempts, last error and the operator node's signed receipt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Outgoing>,
    /// What the operator's node signed since: the first opening (when the letter asked for a signed
    /// receipt) or its return; each verifies offline with `ena mail verify-receipt`.
    pub receipts: Vec<LetterReceipt>,
    /// The recipient's replies, when the letter allowed them.
    pub replies: Vec<Reply>,
    pub created_at: String,
}

/// A receipt from the operator's node for a letter.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LetterReceipt {
    /// `opened` or `returned`.
    pub kind: String,
    /// RFC 3339, to the second.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The operator node's signed receipt (compact JWS) with its place in the operator node's log.
    pub receipt: String,
}

/// A reply from the recipient, as the operator's node sent it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    /// The recipient the letter was for.
    pub from: String,
    /// Who wrote it, when a representative wrote for the recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub subject: String,
    pub body: String,
    pub at: String,
}

fn prefixed(fields: Vec<FieldError>, prefix: &str) -> Vec<FieldError> {
    fields
        .into_iter()
        .map(|mut f| {
            f.property = format!("{prefix}/{}", f.property);
            f
        })
        .collect()
}

fn invalid(fields: Vec<FieldError>) -> ApiError {
    ApiError::invalid(ErrorCode::ValidationFailed, "The letter is invalid; invalid-parameters says where.", fields)
}

/// Send a letter to a person's or company's digital mailbox, or learn that it must go on paper.
#[utoipa::path(post, path = "/mail/v1/outbox", tag = "mail", operation_id = "sendLetter",
    security(("nodeToken" = [])),
    request_body(content = LetterInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Sent to the recipient's mailbox operator (status queued), or `paper` with the reason; Location is its status", body = Letter),
        (status = 200, description = "Made before with this idempotency key (nothing sent again)", body = Letter),
        (status = 409, description = "The idempotency key was used for another letter", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 400, description = "A bad letter (named by field, e.g. mail/attachments/0/size over the operator's limit), or an unknown upload", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 503, description = "The recipient registry does not answer; nothing was sent", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn send_letter(
    State(s): State<NodeState>,
    LocalSystem(ctx): LocalSystem,
    ApiJson(body): ApiJson<LetterInput>,
) -> Result<Response, ApiError> {
    let mut mail = body.mail;
    if let Err(e) = ena_mail::Recipient::canonical("mail/recipient", &mail.recipient) {
        return Err(invalid(vec![e]));
    }
    mail.attachments = Vec::with_capacity(body.files.len());
    for (i, f) in body.files.iter().enumerate() {
        let upload = s.messaging.upload(&f.id).await.map_err(|e| match e {
            ena_messaging::MsgError::NotFound(_) => invalid(vec![FieldError::new(
                &format!("files/{i}/id"),
                &f.id,
                "no such upload (POST /messages/v1/attachments first)",
            )]),
            other => problem(other),
        })?;
        mail.attachments.push(AttachmentInfo {
            name: f.name.clone(),
            media_type: upload.media_type,
            size: upload.size,
            sha256: upload.sha256,
        });
    }
    let store = s.messaging.store();
    if let Some(key) = &body.idempotency_key
        && (key.is_empty() || key.len() > 200)
    {
        return Err(invalid(vec![FieldError::new("idempotencyKey", key, "1 to 200 characters")]));
    }
    let now = ena_core::time::unix_now();
    let mut row = ena_mail::repo::SentRow {
        id: uuid::Uuid::now_v7().to_string(),
        idempotency_key: body.idempotency_key.clone(),
        message_id: None,
        recipient: mail.recipient.clone(),
        subject: mail.subject.clone(),
        operator: None,
        read_by_representatives: 0,
        paper_reason: None,
        created_at: now,
    };
    // The row is claimed first: of two submissions with one key, one sends and the other is answered
    // with its letter.
    if !ena_mail::repo::claim_sent(store, &row).await.map_err(|e| ApiError::internal(&e))? {
        let key = body.idempotency_key.as_deref().unwrap_or_default();
        let first = ena_mail::repo::sent_by_key(store, key)
            .await
            .map_err(|e| ApiError::internal(&e))?
            .ok_or_else(|| ApiError::internal(&"a claimed letter vanished"))?;
        if first.recipient != row.recipient || first.subject != row.subject {
            return Err(ApiError::invalid(
                ErrorCode::Conflict,
                "This idempotency key was used for another letter.",
                vec![FieldError::new(
                    "idempotencyKey",
                    key,
                    "already used for a letter to another recipient or with another subject",
                )],
            ));
        }
        return Ok((StatusCode::OK, Json(view(&s, first).await?)).into_response());
    }
    let sent = send(&s, &ctx, &mut row, mail, body.files, body.ttl_seconds).await;
    if sent.is_err() {
        ena_mail::repo::release_sent(store, &row.id).await.map_err(|e| ApiError::internal(&e))?;
    }
    sent?;
    let location = format!("/mail/v1/outbox/{}", row.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(view(&s, row).await?)).into_response())
}

/// Ask FaR, then settle the claimed `row`: paper with the reason, or signed, sealed and sent.
async fn send(
    s: &NodeState,
    ctx: &ena_audit::Context,
    row: &mut ena_mail::repo::SentRow,
    mail: MailInput,
    files: Vec<AttachmentInput>,
    ttl_seconds: Option<i64>,
) -> Result<(), ApiError> {
    let store = s.messaging.store();
    let reach = s
        .directory
        .reachability(&[mail.recipient.as_str()])
        .await
        .map_err(|e| ApiError::new(ErrorCode::ServiceUnavailable, format!("Nothing was sent: {e}.")))?
        .pop()
        .ok_or_else(|| ApiError::internal(&"the recipient registry answered nothing"))?;
    row.read_by_representatives = i64::from(reach.read_by_representatives);
    let Some(operator) = reach.operator.filter(|_| reach.reachable) else {
        let reason = reach.paper.unwrap_or(PaperReason::NotRegistered);
        row.paper_reason = Some(reason.as_str().to_owned());
        ena_mail::repo::settle_sent(store, &row.id, None, None, row.paper_reason.as_deref())
            .await
            .map_err(|e| ApiError::internal(&e))?;
        s.events.emit("ena.mail.paper", &row.id, json!({"letter": row.id, "reason": reason.as_str()}));
        return record(s, ctx, "mail.letter.paper", row).await;
    };
    let errors = ena_mail::mailbox::check_input(&mail, operator.max_attachment_bytes);
    if !errors.is_empty() {
        return Err(invalid(prefixed(errors, "mail")));
    }
    let me = s.messaging.identity();
    let sender = ena_core::Organisationsnummer::parse(&me.address)
        .map(|o| o.as_str().to_owned())
        .map_err(|e| ApiError::internal(&format!("the node's own address: {e}")))?;
    let letter = ena_mail::wire::sign_and_seal(&me.signing, &sender, &me.entity_id, &mail, row.created_at);
    let input = OutgoingInput {
        recipient: operator.service_address.clone(),
        message_type: ena_mail::wire::MAIL_TYPE.into(),
        version: ena_mail::wire::VERSION.into(),
        payload: serde_json::to_value(&letter).map_err(|e| ApiError::internal(&e))?,
        conversation_id: None,
        case_id: mail.case_id.clone(),
        ttl_seconds,
        attachments: files,
    };
    let message = s.messaging.submit(ctx, input).await.map_err(problem)?;
    row.message_id = Some(message.id);
    row.operator = Some(operator.id);
    ena_mail::repo::settle_sent(store, &row.id, row.message_id.as_deref(), row.operator.as_deref(), None)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    record(s, ctx, "mail.letter.send", row).await
}

/// A letter sent or put on paper, in the node's log, with the recipient (a person) as data subject.
async fn record(
    s: &NodeState,
    ctx: &ena_audit::Context,
    action: &str,
    row: &ena_mail::repo::SentRow,
) -> Result<(), ApiError> {
    let mut event = ctx.event(
        action,
        Some(ena_audit::event::ObjectRef { kind: "letter".into(), id: row.id.clone() }),
        ena_audit::event::Result::Allowed,
        row.paper_reason.clone(),
    );
    if !row.recipient.starts_with("16") {
        event.data_subjects.push(row.recipient.clone());
    }
    s.messaging.audit().append(vec![event]).await.map(|_| ()).map_err(|e| ApiError::internal(&e))
}

/// Messages of `message_type` in a letter's conversation from the operator's node it went to (another
/// node cannot speak for the letter's operator), as `T`.
async fn from_operator<T: serde::de::DeserializeOwned>(
    s: &NodeState,
    row: &ena_mail::repo::SentRow,
    message_type: &str,
) -> Result<Vec<T>, ApiError> {
    let (Some(letter), Some(operator)) = (&row.message_id, &row.operator) else { return Ok(Vec::new()) };
    let found = s.messaging.in_conversation(letter, message_type).await.map_err(problem)?;
    Ok(found
        .into_iter()
        .filter(|m| &m.sender_node == operator)
        .filter_map(|m| serde_json::from_value(m.payload).ok())
        .collect())
}

async fn view(s: &NodeState, row: ena_mail::repo::SentRow) -> Result<Letter, ApiError> {
    let message = match &row.message_id {
        Some(id) => Some(s.messaging.outgoing(id).await.map_err(problem)?),
        None => None,
    };
    // What a receipt says is taken from the signed receipt itself, not from the message around it.
    let receipts = from_operator::<LetterReceipt>(s, &row, ena_mail::wire::RECEIPT_TYPE)
        .await?
        .into_iter()
        .filter_map(|r| {
            let signed = ena_mail::wire::OperatorReceipt::peek(&r.receipt)?;
            Some(LetterReceipt { kind: signed.kind.as_str().to_owned(), at: signed.at, reason: signed.reason, ..r })
        })
        .collect();
    let replies = from_operator(s, &row, ena_mail::wire::REPLY_TYPE).await?;
    Ok(Letter {
        status: match (&message, &row.paper_reason) {
            (Some(m), _) => m.status.clone(),
            (None, Some(_)) => "paper".to_owned(),
            (None, None) => "sending".to_owned(),
        },
        paper: row.paper_reason.as_deref().and_then(PaperReason::parse),
        id: row.id,
        recipient: row.recipient,
        subject: row.subject,
        operator: row.operator,
        read_by_representatives: row.read_by_representatives == 1,
        message,
        receipts,
        replies,
        created_at: ena_core::time::rfc3339_of(row.created_at),
    })
}

/// One letter: where it stands (paper with the reason, or the carrying message's status and receipt).
#[utoipa::path(get, path = "/mail/v1/outbox/{id}", tag = "mail", operation_id = "getLetter",
    security(("nodeToken" = [])), params(("id" = String, Path, description = "The letter's id")),
    responses(
        (status = 200, description = "The letter", body = Letter),
        (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such letter", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_letter(
    State(s): State<NodeState>,
    _l: LocalSystem,
    Path(id): Path<String>,
) -> Result<Json<Letter>, ApiError> {
    let row = ena_mail::repo::sent(s.messaging.store(), &id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::new(ErrorCode::ResourceNotFound, format!("no letter {id}")))?;
    Ok(Json(view(&s, row).await?))
}

/// The letters sent, newest first.
#[utoipa::path(get, path = "/mail/v1/outbox", tag = "mail", operation_id = "listLetters",
    security(("nodeToken" = [])),
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of letters", body = Object),
        (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_letters(State(s): State<NodeState>, _l: LocalSystem, query: ApiQuery) -> Result<Response, ApiError> {
    let p = query.page(Vec::new())?;
    let rows = ena_mail::repo::sent_page(s.messaging.store(), p.limit + 1, p.offset())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let (rows, has_more) = p.trim(rows);
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(view(&s, r).await?);
    }
    Ok(Json(json!({"items": items, "page": p.page, "limit": p.limit, "hasMore": has_more})).into_response())
}
