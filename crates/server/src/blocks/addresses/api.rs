//! `/addresses/v1`: the address registry — message types and addresses for the operator and member
//! systems (a member node over the node listener with its certificate, or a member system with an
//! access token), lookups with ETags, and the change feed.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ena_addresses::{AddrError, Address, AddressInput, Admin, Change, MessageType, MessageTypeInput};
use ena_audit::{Actor, ActorKind, Context};
use ena_core::{ErrorCode, FieldError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::apis::{ADDRESSES_API, ApiInfo};
use crate::auth::{ApiCaller, Operator};
use crate::callers::{Caller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::mtls::{Node, PeerStatus};
use crate::paging::ListPage;
use crate::problem::ApiError;
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Registrant, routes!(list_types))
        .api(Caller::Registrant, routes!(put_type))
        .api(Caller::Registrant, routes!(get_type))
        .api(Caller::Registrant, routes!(lookup))
        .api(Caller::Registrant, routes!(put_address))
        .api(Caller::Registrant, routes!(get_address))
        .api(Caller::Registrant, routes!(delete_address))
        .api(Caller::Registrant, routes!(lookup_one))
        .api(Caller::Registrant, routes!(put_person_address))
        .api(Caller::Registrant, routes!(remove_person_address))
        .api(Caller::Registrant, routes!(changes))
}

impl From<AddrError> for ApiError {
    fn from(e: AddrError) -> ApiError {
        match e {
            AddrError::Invalid(fields) => {
                ApiError::invalid(ErrorCode::ValidationFailed, AddrError::Invalid(fields.clone()).to_string(), fields)
            }
            AddrError::Forbidden(m) => ApiError::new(ErrorCode::PermissionDenied, m),
            AddrError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
            AddrError::Conflict(f, r) => {
                ApiError::invalid(ErrorCode::Conflict, format!("{f}: {r}."), vec![FieldError::new(f, "(given)", r)])
            }
            e @ AddrError::Stale { .. } => ApiError::invalid(
                ErrorCode::PreconditionFailed,
                format!("{e}; fetch it again and retry."),
                vec![FieldError::new("If-Match", "(given)", e.to_string())],
            ),
            AddrError::Internal(m) => ApiError::internal(&m),
        }
    }
}

/// Who calls: the operator (operator token), a member node (node listener, its certificate) or a member
/// system (access token) — each let through by the decision point (`operate` / `use` on api:addresses).
#[derive(Debug, Clone)]
pub struct Registrant {
    pub admin: Admin,
    pub ctx: Context,
}

impl FromRequestParts<AppState> for Registrant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(checked) = crate::callers::checked::<Registrant>(parts) {
            return Ok(checked);
        }
        let bearer = crate::auth::bearer(parts).map(str::to_owned);
        if bearer.as_deref().is_some_and(|t| state.operator.matches(t)) {
            let op = Operator::from_request_parts(parts, state).await?;
            return Ok(Registrant { admin: Admin::Operator, ctx: op.ctx });
        }
        let (entity_id, organisation) = if bearer.is_none() && parts.extensions.get::<PeerStatus>().is_some() {
            let Node(peer) = Node::from_request_parts(parts, state).await?;
            (peer.entity_id, peer.organisation_number)
        } else {
            let ApiCaller(caller) = ApiCaller::from_request_parts(parts, state).await?;
            crate::auth::may_use(
                state,
                ("member", &caller.client),
                &[("organisationNumber", &caller.organisation_number)],
                "addresses",
            )
            .await?;
            (caller.client, caller.organisation_number)
        };
        let actor = Actor { kind: ActorKind::Node, id: entity_id.clone(), organisation: Some(organisation.clone()) };
        Ok(Registrant { admin: Admin::Member { entity_id, organisation }, ctx: crate::auth::context(parts, actor) })
    }
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/addresses/v1/api-info", tag = "addresses", operation_id = "addressesApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(ADDRESSES_API.info())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePage {
    pub items: Vec<Change>,
    /// Give this as `since` to continue (the last item's `seq`, or the `since` given).
    pub next: i64,
    pub has_more: bool,
}

/// Message types with their schemas and classification.
#[utoipa::path(get, path = "/addresses/v1/message-types", tag = "addresses", operation_id = "listMessageTypes",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of message type versions", body = ListPage<MessageType>),
        (status = 400, description = "Bad paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_types(
    State(state): State<AppState>,
    _who: Registrant,
    query: ApiQuery,
) -> Result<Json<ListPage<MessageType>>, ApiError> {
    let p = query.page(Vec::new())?;
    Ok(Json(ListPage::of(p, state.addresses.message_types(p.limit + 1, p.offset()).await?)))
}

/// Register a message type version with its JSON Schema 2020-12 and classification. Versions never
/// change: the same content again answers 200, other content 409.
#[utoipa::path(put, path = "/addresses/v1/message-types/{id}/versions/{version}", tag = "addresses", operation_id = "putMessageType",
    params(("id" = String, Path, description = "Dotted type name, e.g. se.skatteverket.inkomstuppgift"), ("version" = String, Path, description = "e.g. 1.0")),
    request_body(content = MessageTypeInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = MessageType),
        (status = 200, description = "Already registered with this content", body = MessageType),
        (status = 400, description = "Bad id, version, title, classification or schema (remote $ref refused); invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The type belongs to another organisation", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The version exists with other content", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn put_type(
    State(state): State<AppState>,
    who: Registrant,
    Path((id, version)): Path<(String, String)>,
    ApiJson(body): ApiJson<MessageTypeInput>,
) -> Result<Response, ApiError> {
    let (t, created) =
        state.addresses.put_message_type(&state.audit, &who.ctx, &who.admin, &id, &version, body).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(t)).into_response())
}

/// One message type version.
#[utoipa::path(get, path = "/addresses/v1/message-types/{id}/versions/{version}", tag = "addresses", operation_id = "getMessageType",
    params(("id" = String, Path, description = "Type name"), ("version" = String, Path, description = "Version")),
    responses(
        (status = 200, description = "The type with its schema", body = MessageType),
        (status = 404, description = "No such type version", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_type(
    State(state): State<AppState>,
    _who: Registrant,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<MessageType>, ApiError> {
    Ok(Json(state.addresses.message_type(&id, &version).await?))
}

pub(crate) fn etag(revision: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{revision}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The revision in an `If-Match` / `If-None-Match` header (`"3"`, or `W/"3"`).
pub(crate) fn revision_header(headers: &HeaderMap, name: header::HeaderName) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(&name) else { return Ok(None) };
    let text = v.to_str().unwrap_or_default().trim();
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        ApiError::invalid(
            ErrorCode::InvalidParameter,
            format!("{name} must be an ETag this API gave, like \"3\"."),
            vec![FieldError::new(name.as_str(), text, "an ETag of this API (the revision in quotes)")],
        )
    })
}

/// Create or replace an address. `If-Match` (an ETag from a read) makes it conditional.
#[utoipa::path(put, path = "/addresses/v1/addresses/{address}", tag = "addresses", operation_id = "putAddress",
    params(
        ("address" = String, Path, description = "<orgnr>, <orgnr>:<function> or a personnummer"),
        ("If-Match" = Option<String>, Header, description = "The ETag this change builds on"),
    ),
    request_body(content = AddressInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; ETag is its revision", body = Address),
        (status = 200, description = "Replaced; ETag is its revision", body = Address),
        (status = 400, description = "Bad address, kind, node, capabilities, keys, status or validity; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Another organisation's address, or a person's (central only)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the stored revision", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn put_address(
    State(state): State<AppState>,
    who: Registrant,
    Path(address): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AddressInput>,
) -> Result<Response, ApiError> {
    let if_match = revision_header(&headers, header::IF_MATCH)?;
    let a = state.addresses.put_address(&state.audit, &who.ctx, &who.admin, &address, body, if_match).await?;
    let status = if a.revision == 1 { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, [(header::ETAG, etag(a.revision))], Json(a)).into_response())
}

/// One address; `If-None-Match` with the current ETag answers 304.
#[utoipa::path(get, path = "/addresses/v1/addresses/{address}", tag = "addresses", operation_id = "getAddress",
    params(
        ("address" = String, Path, description = "<orgnr>, <orgnr>:<function> or a personnummer"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag held"),
    ),
    responses(
        (status = 200, description = "The address; ETag is its revision", body = Address),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 400, description = "Not an address", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such address", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_address(
    State(state): State<AppState>,
    _who: Registrant,
    Path(address): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    answer_address(&state, &headers, &address).await
}

/// Remove an address (its revision keeps counting if it comes back).
#[utoipa::path(delete, path = "/addresses/v1/addresses/{address}", tag = "addresses", operation_id = "deleteAddress",
    params(("address" = String, Path, description = "<orgnr>, <orgnr>:<function> or a personnummer")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Another organisation's address", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such address", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn delete_address(
    State(state): State<AppState>,
    who: Registrant,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.addresses.delete_address(&state.audit, &who.ctx, &who.admin, &address).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Look up addresses by identifier (organisation or identity number) and/or accepted message type.
#[utoipa::path(get, path = "/addresses/v1/addresses", tag = "addresses", operation_id = "lookupAddresses",
    params(
        ("identifier" = Option<String>, Query, description = "Organisation or identity number"),
        ("messageType" = Option<String>, Query, description = "Only addresses accepting this type"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of addresses", body = ListPage<Address>),
        (status = 400, description = "Bad identifier or paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn lookup(
    State(state): State<AppState>,
    _who: Registrant,
    query: ApiQuery,
) -> Result<Json<ListPage<Address>>, ApiError> {
    let p = query.page(Vec::new())?;
    let offset = p.offset();
    Ok(Json(ListPage::of(
        p,
        state.addresses.lookup(query.str("identifier"), query.str("messageType"), p.limit + 1, offset).await?,
    )))
}

/// The change feed: every change after `since`, oldest first.
#[utoipa::path(get, path = "/addresses/v1/changes", tag = "addresses", operation_id = "addressChanges",
    params(
        ("since" = Option<i64>, Query, description = "The `next` of the previous page; 0 (default) from the start"),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
    ),
    responses(
        (status = 200, description = "Changes and where to continue", body = ChangePage),
        (status = 400, description = "Bad since or limit", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn changes(
    State(state): State<AppState>,
    _who: Registrant,
    query: ApiQuery,
) -> Result<Json<ChangePage>, ApiError> {
    let mut errors = Vec::new();
    let since = query.int("since", &mut errors).unwrap_or(0);
    if since < 0 {
        errors.push(FieldError::new("since", since, "0 or a `next` this API gave"));
    }
    let p = query.page(errors)?;
    let items = state.addresses.changes(since, p.limit + 1).await?;
    let (items, has_more) = p.trim(items);
    let next = items.last().map_or(since, |c| c.seq);
    Ok(Json(ChangePage { items, next, has_more }))
}

/// An address named in a body: any kind, persons' included (identity numbers never go in URLs).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressLookup {
    /// `<orgnr>`, `<orgnr>:<function>` or a personnummer.
    #[schema(example = "191212121212")]
    pub address: String,
}

/// One address named in the body — the way to read a person's address; `If-None-Match` with the current
/// ETag answers 304.
#[utoipa::path(post, path = "/addresses/v1/address-lookups", tag = "addresses", operation_id = "lookUpAddress",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag held")),
    request_body(content = AddressLookup, content_type = "application/json"),
    responses(
        (status = 200, description = "The address; ETag is its revision; the header ena-signed-answer holds it signed by the trust anchor (ena-address+jwt)", body = Address),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 400, description = "Not an address", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such address", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn lookup_one(
    State(state): State<AppState>,
    _who: Registrant,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AddressLookup>,
) -> Result<Response, ApiError> {
    answer_address(&state, &headers, &body.address).await
}

/// One address as both reads answer it: 304 for the ETag held, else the address with its ETag and its
/// anchor-signed copy.
async fn answer_address(state: &AppState, headers: &HeaderMap, address: &str) -> Result<Response, ApiError> {
    let held = revision_header(headers, header::IF_NONE_MATCH)?;
    let a = state.addresses.address(address).await?;
    if held == Some(a.revision) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag(a.revision))]).into_response());
    }
    let signed = signed_address(state, &a)?;
    Ok(([(header::ETAG, etag(a.revision)), (HeaderName::from_static(SIGNED_ANSWER), signed)], Json(a)).into_response())
}

/// The header with the address signed by the trust anchor (`ena-address+jwt`: the address's fields plus
/// `iss` and `iat`); nodes use the signed copy, not the body.
pub const SIGNED_ANSWER: &str = "ena-signed-answer";
pub const ADDRESS_TYP: &str = "ena-address+jwt";

fn signed_address(state: &AppState, a: &Address) -> Result<HeaderValue, ApiError> {
    let claims = serde_json::to_value(a).map_err(|e| ApiError::internal(&e))?;
    HeaderValue::from_str(&state.federation.sign_answer(ADDRESS_TYP, claims)).map_err(|e| ApiError::internal(&e))
}

/// A person's address as the operator publishes it: the identity number in the body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersonAddressInput {
    #[schema(example = "191212121212")]
    pub personal_number: String,
    pub address: AddressInput,
}

/// Create or replace a person's address (operator). `If-Match` (an ETag from a read) makes it conditional.
#[utoipa::path(put, path = "/addresses/v1/person-addresses", tag = "addresses", operation_id = "putPersonAddress",
    params(("If-Match" = Option<String>, Header, description = "The ETag this change builds on")),
    request_body(content = PersonAddressInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; ETag is its revision", body = Address),
        (status = 200, description = "Replaced; ETag is its revision", body = Address),
        (status = 400, description = "Bad identity number, kind, node, keys, status or validity; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Persons' addresses are the operator's", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the stored revision", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn put_person_address(
    State(state): State<AppState>,
    who: Registrant,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PersonAddressInput>,
) -> Result<Response, ApiError> {
    person_number(&body.personal_number)?;
    let if_match = revision_header(&headers, header::IF_MATCH)?;
    let a = state
        .addresses
        .put_address(&state.audit, &who.ctx, &who.admin, &body.personal_number, body.address, if_match)
        .await?;
    let status = if a.revision == 1 { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, [(header::ETAG, etag(a.revision))], Json(a)).into_response())
}

/// A person's address to remove.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersonAddressRemoval {
    #[schema(example = "191212121212")]
    pub personal_number: String,
}

/// Remove a person's address (operator).
#[utoipa::path(post, path = "/addresses/v1/person-address-removals", tag = "addresses", operation_id = "removePersonAddress",
    request_body(content = PersonAddressRemoval, content_type = "application/json"),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Not an identity number", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Persons' addresses are the operator's", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such address", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn remove_person_address(
    State(state): State<AppState>,
    who: Registrant,
    ApiJson(body): ApiJson<PersonAddressRemoval>,
) -> Result<StatusCode, ApiError> {
    person_number(&body.personal_number)?;
    state.addresses.delete_address(&state.audit, &who.ctx, &who.admin, &body.personal_number).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `personalNumber` must be an identity number (these endpoints are for persons' addresses).
fn person_number(raw: &str) -> Result<(), ApiError> {
    ena_core::PersonId::parse(raw).map(|_| ()).map_err(|e| {
        ApiError::invalid(
            ErrorCode::ValidationFailed,
            "personalNumber is not an identity number.",
            vec![FieldError::new("personalNumber", "(hidden)", e.to_string())],
        )
    })
}
