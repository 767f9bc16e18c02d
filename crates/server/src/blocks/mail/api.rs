//! `/mail/v1`: Mina meddelanden. Anyone lists the mailbox operators in good standing; a sender (a member
//! system's token or a member node's certificate) asks reachability for up to 10 000 recipients; a person
//! with a portal session at LoA 3 registers themself or their company in FaR — every change signed — and
//! reads the mail of the built-in mailbox that is theirs or that they may read for others.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ena_core::{ErrorCode, FieldError};
use ena_mail::{Folder, MailError, Message, Operator, Outcome, Reach, Registration, SignedChange};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::AppState;
use crate::apis::{ApiInfo, MAIL_API};
use crate::auth::{MemberOrganisation, Person};
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::paging::ListPage;
use crate::problem::ApiError;

/// Registrations and mail need LoA 3, as Mina sidor does (and signing needs it).
pub const MY_LOA: u8 = 3;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Public, routes!(list_operators))
        .api(Caller::Member, routes!(reachability))
        .api(Caller::Person(MY_LOA), routes!(get_my_registration))
        .api(Caller::Person(MY_LOA), routes!(change_my_registration))
        .api(Caller::Person(MY_LOA), routes!(list_my_registration_changes))
        .api(Caller::Person(MY_LOA), routes!(list_my_messages))
        .api(Caller::Person(MY_LOA), routes!(get_my_message))
        .api(Caller::Person(MY_LOA), routes!(reply_to_my_message))
        .api(Caller::Person(MY_LOA), routes!(mark_my_messages))
}

impl From<MailError> for ApiError {
    fn from(e: MailError) -> ApiError {
        match e {
            MailError::Invalid(fields) => {
                ApiError::invalid(ErrorCode::ValidationFailed, MailError::Invalid(fields.clone()).to_string(), fields)
            }
            MailError::Forbidden(m) => ApiError::new(ErrorCode::PermissionDenied, m),
            MailError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
            MailError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            MailError::Internal(m) => ApiError::internal(&m),
        }
    }
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/mail/v1/api-info", tag = "mail", operation_id = "mailApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(MAIL_API.info())
}

/// The mailbox operators in good standing: federation members approved as `ena_mailbox_operator` that
/// hold the `connected-mina-meddelanden` trust mark. A recipient registers with one of these.
#[utoipa::path(get, path = "/mail/v1/operators", tag = "mail", operation_id = "listMailboxOperators",
    params(
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of operators", body = ListPage<Operator>),
        (status = 400, description = "Bad paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_operators(
    State(state): State<AppState>,
    query: ApiQuery,
) -> Result<Json<ListPage<Operator>>, ApiError> {
    let p = query.page(Vec::new())?;
    let all = state.mail.operators().await?;
    let rows = all.into_iter().skip(p.offset() as usize).take(p.limit as usize + 1).collect();
    Ok(Json(ListPage::of(p, rows)))
}

/// Who to ask about.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReachabilityQuestion {
    /// Canonical ids: 12 digits for a person, 16 + 10 digits for an organisation; at most 10 000.
    #[schema(example = json!(["191212121212", "165560112236"]))]
    pub ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReachabilityAnswer {
    /// One per id asked, in the order asked.
    pub items: Vec<Reach>,
}

/// Can these recipients get digital mail from us? Per id: reachable (with the operator to send to and
/// whether a representative may read it), or why not (send it on paper). Only what this sender may know:
/// nothing about a recipient who blocks it beyond that.
#[utoipa::path(post, path = "/mail/v1/reachability", tag = "mail", operation_id = "askReachability",
    request_body(content = ReachabilityQuestion, content_type = "application/json"),
    responses(
        (status = 200, description = "One answer per id", body = ReachabilityAnswer),
        (status = 400, description = "More than 10 000 ids, or ids not in canonical form (each named, with its canonical form)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn reachability(
    State(state): State<AppState>,
    who: MemberOrganisation,
    ApiJson(body): ApiJson<ReachabilityQuestion>,
) -> Result<Json<ReachabilityAnswer>, ApiError> {
    let items = state.mail.reachability(&who.ctx, &who.organisation, &body.ids).await?;
    Ok(Json(ReachabilityAnswer { items }))
}

/// My registration in FaR, or my company's (`party`: its organisation number).
#[utoipa::path(get, path = "/mail/v1/my/registration", tag = "mail", operation_id = "getMyRegistration",
    params(("party" = Option<String>, Query, description = "A company's organisation number; yourself if left out")),
    responses(
        (status = 200, description = "The registration, with blocked senders and changes waiting for signatures", body = Registration),
        (status = 403, description = "A company you hold no role in", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "Not registered", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_my_registration(
    State(state): State<AppState>,
    Person(s): Person,
    query: ApiQuery,
) -> Result<Json<Registration>, ApiError> {
    let recipient = super::recipient_of(&s, query.str("party"))?;
    state.mail.may_view(&s.person, &recipient)?;
    state
        .mail
        .registration(&recipient)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::ResourceNotFound, "not registered for digital mail"))
}

/// A change of a registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeRequest {
    /// A company's organisation number; yourself if left out.
    #[serde(default)]
    pub party: Option<String>,
    /// register (also to move to another operator), deregister, block, unblock.
    #[schema(example = "register")]
    pub action: String,
    /// For register: the operator's entity id (from /mail/v1/operators).
    #[serde(default)]
    pub operator: Option<String>,
    /// For block and unblock: the sender's organisation number.
    #[serde(default)]
    pub sender: Option<String>,
}

/// Change my registration or my company's: the signature service signs the change's statement for my
/// session (LoA 3+), and FaR keeps it with the signature. A company's change takes effect when as many
/// signatories as its firmateckning needs have signed it (202 until then, naming who else may sign).
#[utoipa::path(post, path = "/mail/v1/my/registration-changes", tag = "mail", operation_id = "changeMyRegistration",
    request_body(content = ChangeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Done: the registration as it now stands", body = Outcome),
        (status = 202, description = "Signed; waits for more of the company's signatories", body = Outcome),
        (status = 400, description = "A bad action, operator or sender; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Not yourself, nor a company you sign for", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Not registered, already so, or already signed by you", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn change_my_registration(
    State(state): State<AppState>,
    Person(s): Person,
    ApiJson(body): ApiJson<ChangeRequest>,
) -> Result<Response, ApiError> {
    let recipient = super::recipient_of(&s, body.party.as_deref())?;
    let change = state.mail.parse_change(&body.action, body.operator.as_deref(), body.sender.as_deref()).await?;
    let outcome = super::sign_and_change(&state, &s, &recipient, change).await?;
    let status = if matches!(outcome, Outcome::Incomplete { .. }) { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, Json(outcome)).into_response())
}

/// The signed changes of my registration or my company's, newest first: each with the statement signed
/// and the signature, which anyone can check against the signature service's published keys.
#[utoipa::path(get, path = "/mail/v1/my/registration-changes", tag = "mail", operation_id = "listMyRegistrationChanges",
    params(
        ("party" = Option<String>, Query, description = "A company's organisation number; yourself if left out"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of signed changes", body = ListPage<SignedChange>),
        (status = 400, description = "Bad party or paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "A company you hold no role in", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_my_registration_changes(
    State(state): State<AppState>,
    Person(s): Person,
    query: ApiQuery,
) -> Result<Json<ListPage<SignedChange>>, ApiError> {
    let recipient = super::recipient_of(&s, query.str("party"))?;
    state.mail.may_view(&s.person, &recipient)?;
    let p = query.page(Vec::new())?;
    Ok(Json(ListPage::of(p, state.mail.changes(&recipient, p.limit + 1, p.offset()).await?)))
}

/// `folder` and `unread` from a query.
pub(super) fn folder_of(query: &ApiQuery, errors: &mut Vec<FieldError>) -> (Folder, bool) {
    let folder = match query.str("folder") {
        None | Some("") => Folder::Inbox,
        Some(f) => Folder::parse(f).unwrap_or_else(|| {
            errors.push(FieldError::new("folder", f, "inbox, archive or bin"));
            Folder::Inbox
        }),
    };
    let unread = crate::blocks::cases::api::flag(query, "unread", errors);
    (folder, unread)
}

/// My mail and the mail of those I may read for (Mina ombud's mail package; a company's for its
/// people), newest first.
#[utoipa::path(get, path = "/mail/v1/my/messages", tag = "mail", operation_id = "listMyMessages",
    params(
        ("folder" = Option<String>, Query, description = "inbox (default), archive or bin"),
        ("unread" = Option<bool>, Query, description = "Only messages I have not read"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of messages", body = ListPage<Message>),
        (status = 400, description = "A bad folder, flag or paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_my_messages(
    State(state): State<AppState>,
    Person(s): Person,
    query: ApiQuery,
) -> Result<Json<ListPage<Message>>, ApiError> {
    let mut errors = Vec::new();
    let (folder, unread) = folder_of(&query, &mut errors);
    let p = query.page(errors)?;
    let scopes = super::scopes(&state, &s.person).await?;
    let rows = state.mail.list(s.person.as_str(), &scopes, folder, unread, p.limit + 1, p.offset()).await?;
    Ok(Json(ListPage::of(p, rows)))
}

/// Open a message: the reading is recorded (a representative's as such), it is marked read for me, and
/// the first opening sends the signed receipt the sender asked for.
#[utoipa::path(get, path = "/mail/v1/my/messages/{messageId}", tag = "mail", operation_id = "getMyMessage",
    params(("messageId" = String, Path, description = "The message id")),
    responses(
        (status = 200, description = "The message", body = Message),
        (status = 404, description = "Not a message I may read", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_my_message(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
) -> Result<Json<Message>, ApiError> {
    let scopes = super::scopes(&state, &s.person).await?;
    let ctx = crate::blocks::cases::person_context(&s);
    Ok(Json(state.mail.open(&ctx, s.person.as_str(), &scopes, &id).await?))
}

/// A reply to a message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplyInput {
    /// Plain text, 1 to 20 000 characters.
    pub body: String,
}

/// Reply to a message whose sender takes replies; it goes to the sender through the mailbox operator's
/// node (`replies` on the message shows it, `sent` once handed over).
#[utoipa::path(post, path = "/mail/v1/my/messages/{messageId}/replies", tag = "mail", operation_id = "replyToMyMessage",
    params(("messageId" = String, Path, description = "The message id")),
    request_body(content = ReplyInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Kept and on its way to the sender", body = ena_mail::ReplyView),
        (status = 400, description = "An empty or too long body, or a message that takes no replies (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "Not a message I may read", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn reply_to_my_message(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReplyInput>,
) -> Result<(StatusCode, Json<ena_mail::ReplyView>), ApiError> {
    let scopes = super::scopes(&state, &s.person).await?;
    let ctx = crate::blocks::cases::person_context(&s);
    let reply = state.mail.reply(&ctx, s.person.as_str(), &scopes, &id, &body.body).await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

/// Read marks and folders for several messages.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageMarks {
    pub message_ids: Vec<String>,
    /// true: read; false: unread; left out: unchanged.
    #[serde(default)]
    pub read: Option<bool>,
    /// Move to inbox, archive or bin; left out: unchanged.
    #[serde(default)]
    pub folder: Option<Folder>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarksChanged {
    pub changed: u64,
}

/// Mark messages read or unread and/or move them to a folder (mine only: a representative's marks are
/// their own).
#[utoipa::path(post, path = "/mail/v1/my/message-marks", tag = "mail", operation_id = "markMyMessages",
    request_body(content = MessageMarks, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = MarksChanged),
        (status = 400, description = "A message not among mine (named), or none or too many", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn mark_my_messages(
    State(state): State<AppState>,
    Person(s): Person,
    ApiJson(body): ApiJson<MessageMarks>,
) -> Result<Json<MarksChanged>, ApiError> {
    let scopes = super::scopes(&state, &s.person).await?;
    let changed = state.mail.mark(s.person.as_str(), &scopes, &body.message_ids, body.read, body.folder).await?;
    Ok(Json(MarksChanged { changed }))
}
