//! `/profile/v1`: a person's contact details, preferences and consents; the consent check producing
//! nodes make; the receipts' keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ena_core::ErrorCode;
use ena_profile::{
    CodeInput, Consent, ConsentCheckInput, ConsentInput, ConsentUse, Contact, ContactInput, Preferences, ProfileError,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::AppState;
use crate::apis::{ApiInfo, PROFILE_API};
use crate::auth::{MemberOrganisation, Person};
use crate::callers::{Caller, Routes};
use crate::extract::ApiJson;
use crate::paging::ListPage;
use crate::problem::ApiError;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Public, routes!(receipt_keys))
        .api(Caller::Person(3), routes!(list_my_contacts, add_my_contact))
        .api(Caller::Person(3), routes!(delete_my_contact))
        .api(Caller::Person(3), routes!(send_my_contact_code))
        .api(Caller::Person(3), routes!(verify_my_contact))
        .api(Caller::Person(3), routes!(get_my_preferences, set_my_preferences))
        .api(Caller::Person(3), routes!(list_my_consents, give_my_consent))
        .api(Caller::Person(3), routes!(get_my_consent))
        .api(Caller::Person(3), routes!(get_my_consent_receipt))
        .api(Caller::Person(3), routes!(withdraw_my_consent))
        .api(Caller::Member, routes!(check_consent))
}

impl From<ProfileError> for ApiError {
    fn from(e: ProfileError) -> ApiError {
        match e {
            ProfileError::Invalid(fields) => ApiError::invalid(
                ErrorCode::ValidationFailed,
                "The request is invalid; invalid-parameters says where.",
                fields,
            ),
            ProfileError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
            ProfileError::Refused(m) => ApiError::new(ErrorCode::PermissionDenied, m),
            ProfileError::TooMany(m) => ApiError::new(ErrorCode::TooManyRequests, m),
            ProfileError::Internal(m) => ApiError::internal(&m),
        }
    }
}

fn ctx(s: &ena_identity::session::Session) -> ena_audit::Context {
    crate::blocks::cases::person_context(s)
}

/// The profile API's version and status (REST API profile).
#[utoipa::path(get, path = "/profile/v1/api-info", tag = "profile", operation_id = "profileApiInfo",
    responses((status = 200, description = "The API's name, version and status", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(PROFILE_API.info())
}

/// The keys consent receipts are signed with (a JWK Set): anyone verifies a receipt with them.
#[utoipa::path(get, path = "/profile/v1/jwks", tag = "profile", operation_id = "consentReceiptKeys",
    responses((status = 200, description = "The receipt signing keys (JWK Set)", body = Object)))]
pub async fn receipt_keys(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.profile.jwks())
}

/// My contact details, each with whether it is verified.
#[utoipa::path(get, path = "/profile/v1/my/contacts", tag = "profile", operation_id = "listMyContacts",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of my contact details", body = Object),
        (status = 401, description = "Not logged in", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_my_contacts(
    State(state): State<AppState>,
    Person(s): Person,
    query: crate::extract::ApiQuery,
) -> Result<Json<ListPage<Contact>>, ApiError> {
    let p = query.page(Vec::new())?;
    let rows = state.profile.contacts(s.person.as_str(), p.limit + 1, p.offset()).await?;
    Ok(Json(ListPage::of(p, rows)))
}

/// Add an e-mail address or mobile number (for me, or for notices about an organisation I act for); a
/// six-digit code goes to it through the notification sender, and it is used once verified.
#[utoipa::path(post, path = "/profile/v1/my/contacts", tag = "profile", operation_id = "addMyContact",
    request_body(content = ContactInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Added, not yet verified; a code is on its way", body = Contact),
        (status = 400, description = "A bad address, one I have already, or an organisation I do not act for (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "Not logged in", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn add_my_contact(
    State(state): State<AppState>,
    Person(s): Person,
    ApiJson(body): ApiJson<ContactInput>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    let acts = async |org: &str| super::acts_for(&state, &s.person, org).await;
    let (contact, notice) = state.profile.add_contact(&ctx(&s), s.person.as_str(), &body, acts).await?;
    super::send_code(&state, notice);
    Ok((StatusCode::CREATED, Json(contact)))
}

/// Remove one of my contact details.
#[utoipa::path(delete, path = "/profile/v1/my/contacts/{contactId}", tag = "profile", operation_id = "deleteMyContact",
    params(("contactId" = String, Path, description = "The contact's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "Not a contact of mine", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn delete_my_contact(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.profile.delete_contact(&ctx(&s), s.person.as_str(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Send a new code to an unverified contact (at least 30 s after the last, at most five a day).
#[utoipa::path(post, path = "/profile/v1/my/contacts/{contactId}/codes", tag = "profile", operation_id = "sendMyContactCode",
    params(("contactId" = String, Path, description = "The contact's id")),
    responses(
        (status = 202, description = "A new code is on its way (the old one no longer works)"),
        (status = 400, description = "The contact is verified already", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "Not a contact of mine", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 429, description = "Too soon, or too many codes today", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn send_my_contact_code(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let notice = state.profile.new_code(s.person.as_str(), &id).await?;
    super::send_code(&state, notice);
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Verify a contact with the code sent to it (five tries per code, ten minutes).
#[utoipa::path(post, path = "/profile/v1/my/contacts/{contactId}/verifications", tag = "profile", operation_id = "verifyMyContact",
    params(("contactId" = String, Path, description = "The contact's id")),
    request_body(content = CodeInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Verified", body = Contact),
        (status = 400, description = "Not the code sent", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "Not a contact of mine", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 429, description = "The code expired or was tried too often: ask for a new one", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn verify_my_contact(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CodeInput>,
) -> Result<Json<Contact>, ApiError> {
    Ok(Json(state.profile.verify(&ctx(&s), s.person.as_str(), &id, body.code.trim()).await?))
}

/// My preferred language and channel.
#[utoipa::path(get, path = "/profile/v1/my/preferences", tag = "profile", operation_id = "getMyPreferences",
    responses(
        (status = 200, description = "My preferences (defaults until I set them)", body = Preferences),
        (status = 401, description = "Not logged in", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_my_preferences(
    State(state): State<AppState>,
    Person(s): Person,
) -> Result<Json<Preferences>, ApiError> {
    Ok(Json(state.profile.preferences(s.person.as_str()).await?))
}

/// Set my preferred language (`sv`, `en`) and channel (`email`, `sms`, `none`).
#[utoipa::path(put, path = "/profile/v1/my/preferences", tag = "profile", operation_id = "setMyPreferences",
    request_body(content = Preferences, content_type = "application/json"),
    responses(
        (status = 200, description = "Set", body = Preferences),
        (status = 400, description = "A language or channel not offered (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn set_my_preferences(
    State(state): State<AppState>,
    Person(s): Person,
    ApiJson(body): ApiJson<Preferences>,
) -> Result<Json<Preferences>, ApiError> {
    Ok(Json(state.profile.set_preferences(&ctx(&s), s.person.as_str(), &body).await?))
}

/// My consents, newest first, each with its state (active, withdrawn, expired).
#[utoipa::path(get, path = "/profile/v1/my/consents", tag = "profile", operation_id = "listMyConsents",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of my consents", body = Object),
        (status = 401, description = "Not logged in", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_my_consents(
    State(state): State<AppState>,
    Person(s): Person,
    query: crate::extract::ApiQuery,
) -> Result<Json<ListPage<Consent>>, ApiError> {
    let p = query.page(Vec::new())?;
    Ok(Json(ListPage::of(p, state.profile.consents(s.person.as_str(), p.limit + 1, p.offset()).await?)))
}

/// Let an organisation (the recipient) get a category of my data from another (the holder) for a
/// purpose until a date. The holder's node checks it at every call that carries its id.
#[utoipa::path(post, path = "/profile/v1/my/consents", tag = "profile", operation_id = "giveMyConsent",
    request_body(content = ConsentInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Given; the receipt is at …/receipt", body = Consent),
        (status = 400, description = "An organisation that is no member, a category the holder keeps none of, no purpose, a bad end (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "Not logged in", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn give_my_consent(
    State(state): State<AppState>,
    Person(s): Person,
    ApiJson(body): ApiJson<ConsentInput>,
) -> Result<(StatusCode, Json<Consent>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.profile.give(&ctx(&s), s.person.as_str(), &body).await?)))
}

/// One of my consents.
#[utoipa::path(get, path = "/profile/v1/my/consents/{consentId}", tag = "profile", operation_id = "getMyConsent",
    params(("consentId" = String, Path, description = "The consent's id")),
    responses(
        (status = 200, description = "The consent", body = Consent),
        (status = 404, description = "Not a consent of mine", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_my_consent(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
) -> Result<Json<Consent>, ApiError> {
    Ok(Json(state.profile.consent(s.person.as_str(), &id).await?))
}

/// A consent receipt: the compact JWS and its claims.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// `ena-consent-receipt+jws`, ES256, verifiable with `/profile/v1/jwks`.
    pub receipt: String,
    /// The signed ISO/IEC TS 27560 fields.
    #[schema(value_type = Object)]
    pub claims: serde_json::Value,
}

/// The signed receipt of one of my consents, with its history up to now.
#[utoipa::path(get, path = "/profile/v1/my/consents/{consentId}/receipt", tag = "profile", operation_id = "getMyConsentReceipt",
    params(("consentId" = String, Path, description = "The consent's id")),
    responses(
        (status = 200, description = "The receipt", body = Receipt),
        (status = 404, description = "Not a consent of mine", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_my_consent_receipt(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
) -> Result<Json<Receipt>, ApiError> {
    let (receipt, claims) = state.profile.receipt(s.person.as_str(), &id).await?;
    Ok(Json(Receipt { receipt, claims }))
}

/// Withdraw one of my consents: the next call under it is refused.
#[utoipa::path(post, path = "/profile/v1/my/consents/{consentId}/withdrawals", tag = "profile", operation_id = "withdrawMyConsent",
    params(("consentId" = String, Path, description = "The consent's id")),
    responses(
        (status = 200, description = "Withdrawn", body = Consent),
        (status = 400, description = "Already withdrawn", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "Not a consent of mine", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn withdraw_my_consent(
    State(state): State<AppState>,
    Person(s): Person,
    Path(id): Path<String>,
) -> Result<Json<Consent>, ApiError> {
    Ok(Json(state.profile.withdraw(&ctx(&s), s.person.as_str(), &id).await?))
}

/// The holder's node asks before answering a call that carries a consent reference: is there a consent
/// in force for this recipient, this category and my organisation? Every answer about a consent is logged
/// with its person as data subject.
#[utoipa::path(post, path = "/profile/v1/consent-checks", tag = "profile", operation_id = "checkConsent",
    request_body(content = ConsentCheckInput, content_type = "application/json"),
    responses(
        (status = 200, description = "In force: whose data, for what", body = ConsentUse),
        (status = 400, description = "A malformed consent id or recipient (named)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "No member credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "No consent in force for this flow (unknown, withdrawn, expired, or another recipient, holder or category)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn check_consent(
    State(state): State<AppState>,
    m: MemberOrganisation,
    ApiJson(body): ApiJson<ConsentCheckInput>,
) -> Result<Json<ConsentUse>, ApiError> {
    Ok(Json(state.profile.check(&m.ctx, &m.organisation, &body).await?))
}
