//! `GET /healthz` (liveness, including a database round trip) and `GET /openapi.json`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::server::error::{AppError, AppResult};
use crate::server::openapi;
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed;

pub fn router(config: &ServerConfig) -> Router<AppState> {
    Router::new()
        .route("/healthz", timed(get(healthz), config))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
}

async fn healthz(State(state): State<AppState>) -> AppResult<Json<Value>> {
    // A read that touches the database on every backend.
    match state
        .jobs
        .ledger()
        .find_by_email("healthz@outreach.invalid")
        .await
    {
        Ok(_) => Ok(Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            Err(AppError::Unavailable {
                code: "unavailable",
                message: "the database is unreachable".into(),
            })
        }
    }
}
