//! `/signatures/v1`: the signature service — sign a document digest as the logged-in person (LoA ≥ 3,
//! portal session), verify a signature (public), the service's keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ena_core::{ErrorCode, FieldError};
use ena_identity::signature::{SignatureError, Signed, Verified, parse_digest};
use serde::Deserialize;
use sha2::Digest;
use utoipa::ToSchema;

use crate::AppState;
use crate::apis::{ApiInfo, SIGNATURES_API};
use crate::callers::{Caller, Routes};
use crate::extract::ApiJson;
use crate::problem::ApiError;
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(api_info))
        .api(Caller::Person(3), routes!(sign))
        .api(Caller::Public, routes!(verify))
        .api(Caller::Public, routes!(jwks))
}

impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> ApiError {
        let code = if e.field == "loa" { ErrorCode::PermissionDenied } else { ErrorCode::ValidationFailed };
        ApiError::invalid(
            code,
            format!("{}: {}.", e.field, e.reason),
            vec![FieldError::new(e.field, "(given)", e.reason)],
        )
    }
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/signatures/v1/api-info", tag = "signatures", operation_id = "signaturesApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = ApiInfo)))]
pub async fn api_info() -> Json<ApiInfo> {
    Json(SIGNATURES_API.info())
}

/// The document to sign or verify: its SHA-256 (base64url) or the document itself (base64).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentIn {
    /// SHA-256 of the document, base64url.
    pub sha256: Option<String>,
    /// The document, base64 (at most the body limit).
    pub document: Option<String>,
    /// For verify: the detached JWS (`header..signature`).
    pub signature: Option<String>,
}

fn digest_of(body: &DocumentIn) -> Result<[u8; 32], ApiError> {
    match (&body.sha256, &body.document) {
        (Some(d), None) => Ok(parse_digest(d)?),
        (None, Some(doc)) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(doc.trim()).map_err(|_| {
                ApiError::invalid(
                    ErrorCode::ValidationFailed,
                    "document is not base64.",
                    vec![FieldError::new("document", "(bytes)", "not base64")],
                )
            })?;
            Ok(sha2::Sha256::digest(&bytes).into())
        }
        _ => Err(ApiError::invalid(
            ErrorCode::ValidationFailed,
            "Give either sha256 or document.",
            vec![FieldError::missing("sha256", "give exactly one of sha256 and document")],
        )),
    }
}

/// Sign a document as the logged-in person (portal session at LoA ≥ 3): a detached JWS over its SHA-256
/// carrying signer, LoA, time and the transparency-log index of the signing event.
#[utoipa::path(post, path = "/signatures/v1/sign", tag = "signatures", operation_id = "signDocument",
    request_body(content = DocumentIn, content_type = "application/json"),
    responses(
        (status = 201, description = "The signature (compact JWS, detached payload), the digest and the log index", body = Object),
        (status = 400, description = "Neither or both of sha256 and document, or not a 32-byte digest", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 403, description = "The session's level of assurance is below 3", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn sign(
    State(state): State<AppState>,
    crate::auth::Person(session): crate::auth::Person,
    ApiJson(body): ApiJson<DocumentIn>,
) -> Result<Response, ApiError> {
    let digest = digest_of(&body)?;
    let signed: Signed = state.signatures.sign(&session, &digest).await?;
    Ok((StatusCode::CREATED, Json(signed)).into_response())
}

/// Verify a signature: the JWS with the service's published key, the log entry it names (same digest and
/// signer) and that entry's inclusion in the latest signed checkpoint.
#[utoipa::path(post, path = "/signatures/v1/verify", tag = "signatures", operation_id = "verifySignature",
    request_body(content = DocumentIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Valid: who signed, at which level and when, and the proven log entry", body = Object),
        (status = 400, description = "Invalid: a modified document, a forged or altered signature, or a log entry that does not match; invalid-parameters says which", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DocumentIn>,
) -> Result<Json<Verified>, ApiError> {
    let digest = digest_of(&body)?;
    let Some(sig) = body.signature.as_deref() else {
        return Err(ApiError::invalid(
            ErrorCode::ValidationFailed,
            "signature is required.",
            vec![FieldError::missing("signature", "required")],
        ));
    };
    Ok(Json(state.signatures.verify(&digest, sig).await?))
}

/// The signature service's public keys (also in the trust anchor's entity configuration).
#[utoipa::path(get, path = "/signatures/v1/jwks", tag = "signatures", operation_id = "signatureKeys",
    responses((status = 200, description = "JWK Set", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.signatures.jwks())
}
