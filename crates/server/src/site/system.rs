//! Liveness, readiness and Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use ena_core::ErrorCode;
use ena_store::Dialect;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::callers::{Caller, Routes};
use crate::problem::ApiError;
use utoipa_axum::routes;

pub fn router() -> Routes {
    Routes::new()
        .api(Caller::Public, routes!(healthz))
        .api(Caller::Public, routes!(readyz))
        .api(Caller::Public, routes!(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` (liveness) or `ready` (readiness).
    pub status: &'static str,
    /// `sqlite` or `postgres` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// Liveness: the process answers. Touches nothing else.
#[utoipa::path(get, path = "/healthz", tag = "system", operation_id = "healthz",
    responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok", database: None })
}

/// Readiness: the database answers a query.
#[utoipa::path(get, path = "/readyz", tag = "system", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready to serve: the database answered", body = Health),
        (status = 503, description = "The database does not answer", body = crate::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::new(ErrorCode::ServiceUnavailable, "The database does not answer.")
    })?;
    let database = match state.store.dialect() {
        Dialect::Sqlite => "sqlite",
        Dialect::Postgres => "postgres",
    };
    Ok(Json(Health { status: "ready", database: Some(database) }))
}

/// Prometheus text exposition: request counts and latency histograms per route, database pool gauges.
#[utoipa::path(get, path = "/metrics", tag = "system", operation_id = "metrics",
    responses((status = 200, description = "Metrics in the Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let stats = state.store.pool_stats();
    metrics::gauge!("db_pool_connections", "state" => "open").set(f64::from(stats.size));
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(stats.idle));
    metrics::gauge!("db_pool_connections", "state" => "max").set(f64::from(stats.max));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}
