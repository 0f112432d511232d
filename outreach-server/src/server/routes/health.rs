//! `GET /healthz` (liveness, including a database round trip), `GET /healthz?deep=1`
//! (plus the providers' preflight: key, model, JSON mode, rate-limit headers) and
//! `GET /openapi.json`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use outreach_core::preflight::CheckStatus;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::server::error::{AppError, AppResult};
use crate::server::extract::AppQuery;
use crate::server::openapi;
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed;

pub fn router(config: &ServerConfig) -> Router<AppState> {
    Router::new()
        .route("/healthz", timed(get(healthz), config))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
}

#[derive(Debug, Default, Deserialize)]
struct HealthQuery {
    /// `1`/`true`: also call the providers (cached for a minute).
    #[serde(default)]
    deep: Option<String>,
}

async fn healthz(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<HealthQuery>,
) -> AppResult<Response> {
    let deep = query
        .deep
        .is_some_and(|d| matches!(d.as_str(), "1" | "true" | "yes"));
    let Json(body) = database_health(&state).await?;
    if !deep {
        return Ok(Json(body).into_response());
    }
    let report = state.jobs.providers().deep_check().await;
    let status = if !report.passed() {
        "failing"
    } else if report.all_ok() {
        "ok"
    } else {
        "degraded"
    };
    let code = if report.passed() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let not_ok = |s: CheckStatus| s != CheckStatus::Ok;
    if not_ok(report.search.status) || not_ok(report.llm.status) {
        tracing::warn!(search = %report.search.message, llm = %report.llm.message, "deep health check: providers not all ok");
    }
    Ok((
        code,
        Json(json!({ "status": status, "providers": &*report })),
    )
        .into_response())
}

async fn database_health(state: &AppState) -> AppResult<Json<Value>> {
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
