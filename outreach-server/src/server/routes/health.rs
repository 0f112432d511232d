//! `GET /healthz` (liveness, including a database round trip) and `GET /openapi.json`
//! (the document `server::app` generated from the router).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::server::error::{AppError, AppResult};
use crate::server::openapi::{ApiRouter, ErrorBody, OpenApiDocument, Timed};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed_api;

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(timed_api(routes!(healthz), config))
        .routes(routes!(openapi))
}

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    status: String,
}

/// Liveness, including the database.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    responses(
        (status = 200, description = "Alive", body = Health),
        Timed,
        (status = 503, description = "Database unreachable", body = ErrorBody),
    )
)]
async fn healthz(State(state): State<AppState>) -> AppResult<Json<Health>> {
    // A read that touches the database on every backend.
    match state
        .jobs
        .ledger()
        .find_by_email("healthz@outreach.invalid")
        .await
    {
        Ok(_) => Ok(Json(Health {
            status: "ok".into(),
        })),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            Err(AppError::Unavailable {
                code: "unavailable",
                message: "the database is unreachable".into(),
            })
        }
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    responses((status = 200, description = "OpenAPI document", body = Object))
)]
async fn openapi(Extension(doc): Extension<OpenApiDocument>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        doc.0,
    )
}
