//! `/identity/v1`: identity-bound API tokens (the OAuth token endpoint for member systems, subject
//! tokens for acting on a person's behalf, the caller check) and employee credentials
//! (e-tjänstelegitimation: register, list, revoke, verify).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use ena_core::{ErrorCode, FieldError};
use ena_identity::Refusal;
use ena_identity::employee::{Credential, VerifiedCredential};
use ena_identity::token::{Caller, SUBJECT_TOKEN_TYP, TOKEN_TYPE_JWT};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::ApiCaller;
use crate::callers::{Caller as RouteCaller, Routes};
use crate::extract::{ApiJson, ApiQuery};
use crate::mtls::{MaybePeer, Node, PeerStatus};
use crate::paging::ListPage;
use crate::problem::ApiError;
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(RouteCaller::Protocol, routes!(token))
        .api(RouteCaller::Public, routes!(jwks))
        .api(RouteCaller::Public, routes!(metadata))
        .api(RouteCaller::Person(3), routes!(subject_token))
        .api(RouteCaller::MemberSystem, routes!(caller))
        .api(RouteCaller::MemberNode, routes!(register))
        .api(RouteCaller::MemberNode, routes!(list))
        .api(RouteCaller::MemberNode, routes!(revoke))
        .api(RouteCaller::Public, routes!(verify))
        .api(RouteCaller::MemberNode, routes!(search))
}

/// A refusal as a problem; OAuth clients also find `error` and `error_description`.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        let code = match r.error {
            "invalid_client" | "invalid_token" => ErrorCode::AuthenticationRequired,
            "forbidden" => ErrorCode::PermissionDenied,
            "not_found" => ErrorCode::ResourceNotFound,
            "conflict" => ErrorCode::Conflict,
            "server_error" => return ApiError::internal(&r),
            _ => ErrorCode::InvalidParameter,
        };
        let detail = format!("{}: {}.", r.field, r.reason);
        let mut e = ApiError::invalid(code, detail.clone(), vec![FieldError::new(r.field, "(given)", r.reason)]);
        e.0.error = Some(r.error);
        e.0.error_description = Some(detail);
        e
    }
}

/// The form of the token endpoint (`application/x-www-form-urlencoded`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    /// `client_credentials` or `urn:ietf:params:oauth:grant-type:token-exchange`.
    pub grant_type: String,
    /// The entity identifier of the API's owner (this instance or a member); `resource` is accepted too.
    pub audience: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` with `client_assertion` (private_key_jwt).
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
    /// Token exchange: the subject token the person gave the client, of type
    /// `urn:ietf:params:oauth:token-type:jwt`.
    pub subject_token: Option<String>,
    pub subject_token_type: Option<String>,
}

/// The OAuth 2.0 token endpoint for member systems: client credentials or token exchange (RFC 8693),
/// client authenticated by its federation certificate (node listener, RFC 8705) or `private_key_jwt`.
#[utoipa::path(post, path = "/identity/v1/token", tag = "identity", operation_id = "issueToken",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "access_token (ES256 at+jwt for one audience, five minutes; bound to the client certificate as cnf.x5t#S256 when obtained over mTLS), token_type, expires_in", body = Object),
        (status = 400, description = "invalid_request, invalid_grant (a subject token expired, replayed, for another client, or whose session ended), invalid_target (unknown audience), unsupported_grant_type — a problem carrying error and error_description", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "invalid_client: no certificate and no client assertion, or an assertion that is forged, expired, replayed or from a non-member", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The connection's certificate is revoked or its member suspended", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn token(
    State(state): State<AppState>,
    MaybePeer(peer): MaybePeer,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let peer = match peer {
        Some(PeerStatus::Member(p)) => Some(p),
        Some(PeerStatus::Refused(why)) => {
            return Err(ApiError::new(
                ErrorCode::PermissionDenied,
                format!("The client certificate is not accepted: {why}."),
            ));
        }
        None => None,
    };
    let body = state.tokens.token(peer.as_ref(), &form).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// The keys access and subject tokens are signed with.
#[utoipa::path(get, path = "/identity/v1/jwks", tag = "identity", operation_id = "tokenKeys",
    responses((status = 200, description = "JWK Set", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.tokens.jwks())
}

/// OAuth 2.0 authorization server metadata (RFC 8414) of the token endpoint; the same is in the trust
/// anchor's entity configuration as `oauth_authorization_server`.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "identity", operation_id = "authorizationServerMetadata",
    responses((status = 200, description = "issuer, token_endpoint, jwks_uri, supported grants and client authentication methods", body = Object)))]
pub async fn metadata(State(state): State<AppState>) -> Json<Value> {
    Json(state.tokens.metadata(&state.identity.base_url))
}

/// What the token endpoint supports, for RFC 8414 and the federation metadata.

/// What a person sends to let a member system act for them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubjectTokenIn {
    /// The member system (entity identifier) that may exchange the token.
    pub actor: String,
    /// The party the person acts for: an identity or organisation number (mandates are checked by Mina
    /// ombud, not here).
    pub represents: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubjectTokenOut {
    pub subject_token: String,
    pub subject_token_type: &'static str,
    pub token_typ: &'static str,
    pub expires_at: i64,
}

/// A subject token for the logged-in person (portal session): hand it to the member system named as
/// `actor`, which exchanges it at the token endpoint within two minutes, once.
#[utoipa::path(post, path = "/identity/v1/subject-tokens", tag = "identity", operation_id = "createSubjectToken",
    request_body(content = SubjectTokenIn, content_type = "application/json"),
    responses(
        (status = 201, description = "The subject token and when it expires", body = SubjectTokenOut),
        (status = 400, description = "The actor is not an active member, or represents is not an identity or organisation number", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn subject_token(
    State(state): State<AppState>,
    crate::auth::Person(session): crate::auth::Person,
    ApiJson(body): ApiJson<SubjectTokenIn>,
) -> Result<Response, ApiError> {
    let (token, exp) = state.tokens.subject_token(&session, &body.actor, body.represents.as_deref()).await?;
    let out = SubjectTokenOut {
        subject_token: token,
        subject_token_type: TOKEN_TYPE_JWT,
        token_typ: SUBJECT_TOKEN_TYP,
        expires_at: exp,
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// Who is calling: the access token checked for this instance as audience, against the connection's
/// client certificate when the token is certificate-bound.
#[utoipa::path(get, path = "/identity/v1/caller", tag = "identity", operation_id = "getCaller",
    responses(
        (status = 200, description = "The client, and the person and represented party it acts for", body = Caller),
        (status = 401, description = "No token, or a token that is forged, expired, for another audience, bound to another certificate, or backed by an ended session", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn caller(ApiCaller(caller): ApiCaller) -> Json<Caller> {
    Json(caller)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialIn {
    /// The credential: an `ena-employee+jwt` signed with a key of the issuer's `ena_credential_issuer` metadata.
    pub credential: String,
}

/// Register an employee credential the calling member signed (node listener), so verifiers can check it
/// and see its revocation.
#[utoipa::path(post, path = "/identity/v1/employee-credentials", tag = "identity", operation_id = "registerEmployeeCredential",
    request_body(content = CredentialIn, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Credential),
        (status = 400, description = "Malformed, wrongly signed, expired, or not an identity number; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "Issued by another member than the caller", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "This jti is already registered", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(state): State<AppState>,
    Node(peer): Node,
    ApiJson(body): ApiJson<CredentialIn>,
) -> Result<Response, ApiError> {
    let c = state.employees.register(&peer, &body.credential).await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// The calling member's credentials, newest first (node listener).
#[utoipa::path(get, path = "/identity/v1/employee-credentials", tag = "identity", operation_id = "listEmployeeCredentials",
    params(
        ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("page" = Option<u32>, Query, description = "From 1"),
    ),
    responses(
        (status = 200, description = "A page of credentials, revoked ones with time and reason", body = ListPage<Credential>),
        (status = 400, description = "Bad paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Node(peer): Node,
    query: ApiQuery,
) -> Result<Json<ListPage<Credential>>, ApiError> {
    let p = query.page(Vec::new())?;
    credential_page(&state, &peer, None, p).await
}

async fn credential_page(
    state: &AppState,
    peer: &ena_federation::NodePeer,
    person: Option<&str>,
    p: ena_core::Page,
) -> Result<Json<ListPage<Credential>>, ApiError> {
    Ok(Json(ListPage::of(p, state.employees.list(peer, person, p.limit + 1, p.offset()).await?)))
}

/// One person's credentials among the calling member's: the identity number in the body, never in a URL.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialSearch {
    #[schema(example = "191212121212")]
    pub personal_number: String,
    pub limit: Option<i64>,
    pub page: Option<i64>,
}

/// The calling member's credentials for one person, newest first (node listener).
#[utoipa::path(post, path = "/identity/v1/employee-credential-searches", tag = "identity", operation_id = "searchEmployeeCredentials",
    request_body(content = CredentialSearch, content_type = "application/json"),
    responses(
        (status = 200, description = "A page of that person's credentials", body = ListPage<Credential>),
        (status = 400, description = "Bad identity number or paging; invalid-parameters names it", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    Node(peer): Node,
    ApiJson(body): ApiJson<CredentialSearch>,
) -> Result<Json<ListPage<Credential>>, ApiError> {
    let p = ena_core::Page::new(body.limit, body.page)
        .map_err(|e| ApiError::invalid(ErrorCode::InvalidParameter, "Bad paging.", e))?;
    credential_page(&state, &peer, Some(&body.personal_number), p).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeIn {
    /// The credential's jti.
    pub id: String,
    pub reason: String,
}

/// Revoke one of the calling member's credentials (node listener); verifiers refuse it from now on.
#[utoipa::path(post, path = "/identity/v1/employee-credentials/revoke", tag = "identity", operation_id = "revokeEmployeeCredential",
    request_body(content = RevokeIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Revoked (a second revocation keeps the first time and reason)", body = Credential),
        (status = 400, description = "No reason given", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "The caller registered no such credential", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    Node(peer): Node,
    ApiJson(body): ApiJson<RevokeIn>,
) -> Result<Json<Credential>, ApiError> {
    Ok(Json(state.employees.revoke(&peer, &body.id, &body.reason).await?))
}

/// Verify an employee credential: its issuer resolved through the federation, the signature with the
/// issuer's published key, its times, and the registry (known, not revoked). Refusals are logged.
#[utoipa::path(post, path = "/identity/v1/employee-credentials/verify", tag = "identity", operation_id = "verifyEmployeeCredential",
    request_body(content = CredentialIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Valid: the person, the roles, and the issuing organisation", body = VerifiedCredential),
        (status = 400, description = "Refused: malformed, wrong signature, issuer not in the federation, expired, unregistered or revoked; error_description says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CredentialIn>,
) -> Result<Json<VerifiedCredential>, ApiError> {
    Ok(Json(state.employees.verify(&body.credential).await?))
}
