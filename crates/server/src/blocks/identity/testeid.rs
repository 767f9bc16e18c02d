//! `/test-eid`: ena's built-in OpenID Connect provider for tests and demos (TEST ONLY). Discovery, JWKS,
//! the person-picker login page, token and userinfo. Present only when the test eID is enabled.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use base64::Engine;
use ena_core::ErrorCode;
use ena_identity::testeid::{
    OAuthError, RegisteredTestClient, TestClient, TestClientError, TestClientInput, TestPerson, TestProvider, encode,
};

use crate::AppState;
use crate::callers::{Caller, Routes};
use crate::paging::ListPage;
use crate::problem::ApiError;
use crate::site::portal::{Lang, Layout};
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(discovery))
        .api(Caller::Public, routes!(jwks))
        .get("/test-eid/authorize", Caller::Protocol, authorize_page)
        .post("/test-eid/authorize", Caller::Protocol, authorize)
        .api(Caller::Protocol, routes!(token))
        .api(Caller::Protocol, routes!(userinfo))
        .get("/test-eid/logout", Caller::Protocol, end_session)
        .api(Caller::Operator, routes!(register_client))
        .api(Caller::Operator, routes!(list_clients))
        .api(Caller::Operator, routes!(remove_client))
        .api(Caller::Public, routes!(api_info))
}

/// About this API (REST API profile VER.06).
#[utoipa::path(get, path = "/identity/v1/api-info", tag = "identity", operation_id = "identityApiInfo",
    responses((status = 200, description = "Name, version, release date, status and documentation of the API", body = crate::apis::ApiInfo)))]
pub async fn api_info() -> Json<crate::apis::ApiInfo> {
    Json(crate::apis::IDENTITY_API.info())
}

fn provider(state: &AppState) -> Result<&TestProvider, ApiError> {
    state
        .identity
        .test_eid
        .as_ref()
        .ok_or_else(|| ApiError::new(ErrorCode::RouteNotFound, "The test eID provider is not enabled on this server."))
}

/// An OAuth error as a problem that also carries `error` and `error_description`.
fn oauth_problem(code: ErrorCode, e: OAuthError) -> ApiError {
    let mut p = ApiError::new(code, e.description.clone());
    p.0.error = Some(e.error);
    p.0.error_description = Some(e.description);
    p
}

/// OpenID Connect discovery of the built-in test eID provider (TEST ONLY).
#[utoipa::path(get, path = "/test-eid/.well-known/openid-configuration", tag = "identity", operation_id = "testEidDiscovery",
    responses(
        (status = 200, description = "Provider metadata: endpoints, PKCE S256, ES256 ID tokens, Sweden Connect acr values", body = Object),
        (status = 404, description = "The test eID is not enabled (production mode)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn discovery(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(provider(&state)?.discovery()))
}

/// The test eID provider's signing keys.
#[utoipa::path(get, path = "/test-eid/jwks", tag = "identity", operation_id = "testEidJwks",
    responses(
        (status = 200, description = "JWK Set", body = Object),
        (status = 404, description = "The test eID is not enabled", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn jwks(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(provider(&state)?.jwks()))
}

pub struct TestEidTexts {
    test_only: &'static str,
    title: &'static str,
    lead: &'static str,
    pick: &'static str,
    login: &'static str,
}

const TEXTS: TestEidTexts = TestEidTexts {
    test_only: "ENDAST FÖR TEST – TEST ONLY. Inga riktiga personer, ingen riktig e-legitimation.",
    title: "Test-e-legitimation",
    lead: "Välj den testperson du vill logga in som. Tjänsten som bad om inloggningen får personens testpersonnummer, namn och tillitsnivå.",
    pick: "Testperson",
    login: "Logga in som vald testperson",
};

#[derive(Template)]
#[template(path = "identity/templates/testeid.html")]
struct PickPage {
    layout: Layout,
    f: &'static TestEidTexts,
    persons: Vec<TestPerson>,
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
    acr_values: String,
}

fn redirect_error(uri: &str, e: &OAuthError, state: &str) -> Response {
    let sep = if uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!(
        "{uri}{sep}error={}&error_description={}&state={}",
        e.error,
        encode(&e.description),
        encode(state)
    ))
    .into_response()
}

/// The operator-registered client `id` (none if there is no such row; the provider's own are in memory).
async fn registered(state: &AppState, id: Option<&String>) -> Result<Option<TestClient>, ApiError> {
    match id {
        Some(id) => state.test_clients.registered(id).await.map_err(|e| ApiError::internal(&e)),
        None => Ok(None),
    }
}

async fn refusal(
    state: &AppState,
    q: &HashMap<String, String>,
) -> Result<ena_identity::testeid::AuthRequest, Response> {
    let p = provider(state).map_err(IntoResponse::into_response)?;
    let client = registered(state, q.get("client_id")).await.map_err(IntoResponse::into_response)?;
    p.check_authorize(q, client.as_ref()).map_err(|(back, e)| match back {
        Some(uri) => redirect_error(&uri, &e, q.get("state").map(String::as_str).unwrap_or_default()),
        None => oauth_problem(ErrorCode::InvalidParameter, e).into_response(),
    })
}

async fn authorize_page(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let request = match refusal(&state, &q).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let Ok(p) = provider(&state) else { return StatusCode::NOT_FOUND.into_response() };
    let page = PickPage {
        layout: Layout::new(Lang::Sv, TEXTS.title, "/test-eid/authorize"),
        f: &TEXTS,
        persons: p.persons().iter().filter(|x| request.min_loa.is_none_or(|m| x.loa >= m.0)).cloned().collect(),
        client_id: request.client_id,
        redirect_uri: request.redirect_uri,
        state: request.state,
        nonce: request.nonce,
        code_challenge: request.code_challenge,
        acr_values: q.get("acr_values").cloned().unwrap_or_default(),
    };
    match page.render() {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html)
            .into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

async fn authorize(State(state): State<AppState>, Form(form): Form<HashMap<String, String>>) -> Response {
    let request = match refusal(&state, &form).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let Ok(p) = provider(&state) else { return StatusCode::NOT_FOUND.into_response() };
    let st = request.state.clone();
    let uri = request.redirect_uri.clone();
    match p.approve(request, form.get("person").map(String::as_str).unwrap_or_default()) {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(e) => redirect_error(&uri, &e, &st),
    }
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(raw.trim()).ok()?).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Token request (authorization code grant, for the documentation).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// `authorization_code`
    pub grant_type: String,
    pub code: String,
    pub redirect_uri: String,
    /// PKCE verifier whose S256 hash was the code_challenge.
    pub code_verifier: String,
    /// Or HTTP Basic authentication.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// Exchange an authorization code (once, with its PKCE verifier) for an ID token and an access token.
#[utoipa::path(post, path = "/test-eid/token", tag = "identity", operation_id = "testEidToken",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "access_token, token_type, expires_in, id_token (ES256 JWT with acr and the personal identity number)", body = Object),
        (status = 400, description = "invalid_grant (unknown, used or expired code; wrong PKCE verifier; other client or redirect_uri) or unsupported_grant_type, as a problem carrying error and error_description", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 401, description = "invalid_client", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let p = provider(&state)?;
    let basic = basic_auth(&headers);
    let id = basic.as_ref().map(|(id, _)| id).or(form.get("client_id"));
    let client = registered(&state, id).await?;
    match p.token(&form, basic, client.as_ref()) {
        Ok(body) => Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()),
        Err(e) if e.error == "invalid_client" => Err(oauth_problem(ErrorCode::AuthenticationRequired, e)),
        Err(e) => Err(oauth_problem(ErrorCode::InvalidParameter, e)),
    }
}

/// Claims of the person an access token was issued for.
#[utoipa::path(get, path = "/test-eid/userinfo", tag = "identity", operation_id = "testEidUserinfo",
    responses(
        (status = 200, description = "sub, name, given_name, family_name and the personal identity number", body = Object),
        (status = 401, description = "invalid_token", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<serde_json::Value>, ApiError> {
    let p = provider(&state)?;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    p.userinfo(bearer.trim()).map(Json).map_err(|e| oauth_problem(ErrorCode::AuthenticationRequired, e))
}

/// RP-initiated logout: back to the client's post-logout page.
async fn end_session(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let p = provider(&state)?;
    let client = registered(&state, q.get("client_id")).await?;
    let to = p.end_session(&q, client.as_ref()).map_err(|e| oauth_problem(ErrorCode::InvalidParameter, e))?;
    Ok(Redirect::to(&to).into_response())
}

impl From<TestClientError> for ApiError {
    fn from(e: TestClientError) -> ApiError {
        match e {
            TestClientError::Invalid(fields) => ApiError::invalid(
                ErrorCode::ValidationFailed,
                "The test client is invalid; see invalid-parameters.",
                fields,
            ),
            TestClientError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            TestClientError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
            TestClientError::Internal(m) => ApiError::internal(&m),
        }
    }
}

/// Register a client of the test eID for an agency's e-service under test (operator). The answer holds
/// the client secret, once; only its SHA-256 is kept. Redirect URIs match exactly.
#[utoipa::path(post, path = "/identity/v1/test-eid-clients", tag = "identity", operation_id = "registerTestEidClient",
    request_body(content = TestClientInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; clientSecret is shown this once", body = RegisteredTestClient),
        (status = 400, description = "Bad client id, name or redirect URI; invalid-parameters names each", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "The test eID is not enabled (production mode)", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The client id is taken", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn register_client(
    State(state): State<AppState>,
    operator: crate::auth::Operator,
    crate::extract::ApiJson(input): crate::extract::ApiJson<TestClientInput>,
) -> Result<Response, ApiError> {
    provider(&state)?;
    let c = state.test_clients.register(&operator.ctx, input).await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// The registered test clients, by client id (operator).
#[utoipa::path(get, path = "/identity/v1/test-eid-clients", tag = "identity", operation_id = "listTestEidClients",
    params(("limit" = Option<u32>, Query, description = "1–100, default 20"), ("page" = Option<u32>, Query, description = "From 1")),
    responses(
        (status = 200, description = "A page of clients (no secrets)", body = ListPage<RegisteredTestClient>),
        (status = 400, description = "Bad paging", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_clients(
    State(state): State<AppState>,
    _operator: crate::auth::Operator,
    query: crate::extract::ApiQuery,
) -> Result<Json<ListPage<RegisteredTestClient>>, ApiError> {
    let p = query.page(Vec::new())?;
    let rows = ena_identity::repo::test_clients(&state.store, p.limit + 1, p.offset())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let (rows, has_more) = p.trim(rows);
    Ok(Json(ListPage { items: rows.into_iter().map(Into::into).collect(), page: p.page, limit: p.limit, has_more }))
}

/// Remove a registered test client (operator); its logins stop at once.
#[utoipa::path(delete, path = "/identity/v1/test-eid-clients/{id}", tag = "identity", operation_id = "removeTestEidClient",
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such client", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn remove_client(
    State(state): State<AppState>,
    operator: crate::auth::Operator,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    state.test_clients.remove(&operator.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
