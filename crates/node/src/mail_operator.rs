//! Mina meddelanden on a mailbox operator's node (local API, node token): what its mailbox sends back to
//! a letter's sender. The mailbox says a letter was opened (or is returned) and the node signs the
//! receipt — after logging the event in its own transparency log, so the receipt carries the event's
//! place there — and sends it to the letter's sender as a `se.ena.mail-receipt` message in the letter's
//! conversation. A recipient's reply goes the same way as `se.ena.mail-reply`, only to a letter that
//! allows replies. Each receipt is made once per letter and kind, however often the mailbox asks (several
//! mailbox instances, or a retry after a lost answer).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ena_audit::event::{ObjectRef, Result as AuditResult};
use ena_core::{ErrorCode, FieldError};
use ena_mail::wire::{OperatorReceipt, ReceiptKind};
use ena_messaging::receipt::LogProof;
use ena_messaging::{Incoming, MsgError, OutgoingInput};
use ena_server::extract::ApiJson;
use ena_server::problem::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api::{LocalSystem, NodeState, problem};

/// A receipt the mailbox asks the node to make and send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiptRequest {
    /// The letter: the id of the message that brought it to this node.
    pub letter: String,
    /// `opened` (the first opening) or `returned` (the mailbox did not take it).
    pub kind: String,
    /// When, RFC 3339 (kept to the second).
    pub at: String,
    /// Why it was returned.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A receipt made and on its way to the letter's sender.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MadeReceipt {
    pub letter: String,
    pub kind: String,
    /// The signed receipt (compact JWS).
    pub receipt: String,
    /// The message carrying it to the sender (its status at `/messages/v1/outbox/{id}`).
    pub message: String,
}

fn invalid(field: &str, value: &str, reason: &str) -> ApiError {
    ApiError::invalid(
        ErrorCode::ValidationFailed,
        "The request is invalid; invalid-parameters says where.",
        vec![FieldError::new(field, value, reason)],
    )
}

/// The letter `id` this node received, or a problem naming `letter`.
async fn letter(s: &NodeState, id: &str) -> Result<Incoming, ApiError> {
    let found = s.messaging.incoming(id).await.map_err(|e| match e {
        MsgError::NotFound(_) => {
            ApiError::new(ErrorCode::ResourceNotFound, format!("this node received no message {id}"))
        }
        other => problem(other),
    })?;
    if found.message_type != ena_mail::wire::MAIL_TYPE {
        return Err(invalid("letter", id, "the message is not a letter (se.ena.mail)"));
    }
    Ok(found)
}

/// Make and send the signed receipt for a letter: opened or returned.
#[utoipa::path(post, path = "/mail/v1/receipts", tag = "mail", operation_id = "makeLetterReceipt",
    security(("nodeToken" = [])),
    request_body(content = ReceiptRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Logged, signed and sent to the letter's sender", body = MadeReceipt),
        (status = 200, description = "Made before (nothing sent again)", body = MadeReceipt),
        (status = 400, description = "A bad request, named by field", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "This node received no such letter", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Being made by another request just now; ask again", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn make_receipt(
    State(s): State<NodeState>,
    LocalSystem(ctx): LocalSystem,
    ApiJson(body): ApiJson<ReceiptRequest>,
) -> Result<Response, ApiError> {
    let kind = ReceiptKind::parse(&body.kind).ok_or_else(|| invalid("kind", &body.kind, "opened or returned"))?;
    let at = time::OffsetDateTime::parse(&body.at, &time::format_description::well_known::Rfc3339)
        .map_err(|_| invalid("at", &body.at, "an RFC 3339 time, e.g. 2026-12-06T10:15:00Z"))?
        .unix_timestamp();
    if body.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(invalid("reason", "…", "at most 500 characters"));
    }
    let letter = letter(&s, &body.letter).await?;
    let store = s.messaging.store();
    let made = |receipt: String, message: String| MadeReceipt {
        letter: body.letter.clone(),
        kind: kind.as_str().to_owned(),
        receipt,
        message,
    };
    let db = |e: ena_mail::repo::DbError| ApiError::internal(&e);
    let token = ena_core::time::unix_now();
    if !ena_mail::repo::claim_operator_receipt(store, &letter.id, kind.as_str(), token).await.map_err(db)? {
        return match ena_mail::repo::operator_receipt(store, &letter.id, kind.as_str()).await.map_err(db)? {
            Some((receipt, message)) if !message.is_empty() => {
                Ok((StatusCode::OK, Json(made(receipt, message))).into_response())
            }
            _ => Err(ApiError::new(ErrorCode::Conflict, "The receipt is being made just now; ask again in a moment.")),
        };
    }
    let sent = async {
        // A receipt made by an earlier attempt is sent again as it is: one event in the log per receipt.
        let kept = ena_mail::repo::operator_receipt(store, &letter.id, kind.as_str()).await.map_err(db)?;
        let receipt = match kept.map(|(r, _)| r).filter(|r| !r.is_empty()) {
            Some(receipt) => receipt,
            None => {
                let receipt = sign(&s, &ctx, &letter, kind, at, body.reason.clone()).await?;
                ena_mail::repo::settle_operator_receipt(store, &letter.id, kind.as_str(), token, &receipt, "")
                    .await
                    .map_err(db)?;
                receipt
            }
        };
        let mut payload = json!({"message": letter.id, "kind": kind.as_str(), "at": ena_core::time::rfc3339_of(at), "receipt": receipt});
        if let Some(reason) = &body.reason {
            payload["reason"] = json!(reason);
        }
        let message = send_back(&s, &ctx, &letter, ena_mail::wire::RECEIPT_TYPE, payload).await?;
        ena_mail::repo::settle_operator_receipt(store, &letter.id, kind.as_str(), token, &receipt, &message)
            .await
            .map_err(db)?;
        Ok::<_, ApiError>((receipt, message))
    }
    .await;
    match sent {
        Ok((receipt, message)) => Ok((StatusCode::CREATED, Json(made(receipt, message))).into_response()),
        Err(e) => {
            ena_mail::repo::release_operator_receipt(store, &letter.id, kind.as_str(), token).await.map_err(db)?;
            Err(e)
        }
    }
}

/// Log the event, then sign the receipt carrying its place in the log.
async fn sign(
    s: &NodeState,
    ctx: &ena_audit::Context,
    letter: &Incoming,
    kind: ReceiptKind,
    at: i64,
    reason: Option<String>,
) -> Result<String, ApiError> {
    let at = ena_core::time::rfc3339_of(at);
    let mut event = ctx.event(
        kind.action(),
        Some(ObjectRef { kind: "message".into(), id: letter.id.clone() }),
        AuditResult::Allowed,
        None,
    );
    event.details = Some(
        [("at", at.clone()), ("senderNode", letter.sender_node.clone())]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    );
    let log = LogProof::append(s.messaging.audit(), event).await.map_err(|e| ApiError::internal(&e))?;
    let me = s.messaging.identity();
    Ok(OperatorReceipt {
        letter: letter.id.clone(),
        kind,
        at,
        reason,
        sender_node: letter.sender_node.clone(),
        operator_node: me.entity_id.clone(),
        log,
    }
    .sign(&me.signing))
}

/// Send `payload` to the letter's sender, in the letter's conversation.
async fn send_back(
    s: &NodeState,
    ctx: &ena_audit::Context,
    letter: &Incoming,
    message_type: &str,
    payload: serde_json::Value,
) -> Result<String, ApiError> {
    let input = OutgoingInput {
        recipient: letter.sender.clone(),
        message_type: message_type.into(),
        version: ena_mail::wire::VERSION.into(),
        payload,
        conversation_id: Some(letter.id.clone()),
        case_id: letter.case_id.clone(),
        ttl_seconds: None,
        attachments: Vec::new(),
    };
    Ok(s.messaging.submit(ctx, input).await.map_err(problem)?.id)
}

/// A reply the mailbox hands over.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplyRequest {
    /// The letter replied to: the id of the message that brought it to this node.
    pub letter: String,
    /// The mailbox's id of the reply: the same id again sends nothing twice.
    pub id: String,
    /// The recipient the letter was for.
    pub from: String,
    /// Who wrote it, when not the recipient (a representative).
    #[serde(default)]
    pub author: Option<String>,
    pub body: String,
    /// When it was written, RFC 3339.
    pub at: String,
}

/// Send a recipient's reply to a letter that allows replies.
#[utoipa::path(post, path = "/mail/v1/replies", tag = "mail", operation_id = "sendLetterReply",
    security(("nodeToken" = [])),
    request_body(content = ReplyRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Sent to the letter's sender", body = MadeReceipt),
        (status = 200, description = "Sent before (nothing sent again)", body = MadeReceipt),
        (status = 400, description = "A bad reply, or the letter does not allow replies, named by field", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No valid node token", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "This node received no such letter", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Being sent by another request just now; ask again", body = ena_server::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn send_reply(
    State(s): State<NodeState>,
    LocalSystem(ctx): LocalSystem,
    ApiJson(body): ApiJson<ReplyRequest>,
) -> Result<Response, ApiError> {
    let letter = letter(&s, &body.letter).await?;
    let mail = &letter.payload["mail"];
    if mail["replyAllowed"] != true {
        return Err(invalid("letter", &body.letter, "the letter does not allow replies"));
    }
    if mail["recipient"] != body.from.as_str() {
        return Err(invalid("from", "…", "not the recipient the letter was for"));
    }
    let store = s.messaging.store();
    let db = |e: ena_mail::repo::DbError| ApiError::internal(&e);
    let answer = |status: StatusCode, message: String| {
        (
            status,
            Json(MadeReceipt { letter: body.letter.clone(), kind: "reply".into(), receipt: String::new(), message }),
        )
            .into_response()
    };
    // A reply is claimed under its own id, as a receipt is under its letter's.
    let key = format!("reply:{}", body.id);
    let token = ena_core::time::unix_now();
    if !ena_mail::repo::claim_operator_receipt(store, &key, "reply", token).await.map_err(db)? {
        return match ena_mail::repo::operator_receipt(store, &key, "reply").await.map_err(db)? {
            Some((_, message)) if !message.is_empty() => Ok(answer(StatusCode::OK, message)),
            _ => Err(ApiError::new(ErrorCode::Conflict, "The reply is being sent just now; ask again in a moment.")),
        };
    }
    let subject = format!("Svar: {}", mail["subject"].as_str().unwrap_or_default());
    let subject: String = subject.chars().take(200).collect();
    let mut payload =
        json!({"inReplyTo": letter.id, "from": body.from, "subject": subject, "body": body.body, "at": body.at});
    if let Some(author) = &body.author {
        payload["author"] = json!(author);
    }
    match send_back(&s, &ctx, &letter, ena_mail::wire::REPLY_TYPE, payload).await {
        Ok(message) => {
            ena_mail::repo::settle_operator_receipt(store, &key, "reply", token, "", &message).await.map_err(db)?;
            Ok(answer(StatusCode::CREATED, message))
        }
        Err(e) => {
            ena_mail::repo::release_operator_receipt(store, &key, "reply", token).await.map_err(db)?;
            Err(e)
        }
    }
}
