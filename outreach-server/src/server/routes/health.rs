//! `GET /healthz` (liveness, including a database round trip), `GET /healthz?deep=1`
//! (plus the providers' preflight: key, model, JSON form, rate-limit headers) and
//! `GET /openapi.json` (the document `server::app` generated from the router).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use outreach_core::preflight::CheckStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::server::error::{AppError, AppResult};
use crate::server::extract::AppQuery;
use crate::server::openapi::{ApiRouter, BadInput, ErrorBody, OpenApiDocument, Timed};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed_api;

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(timed_api(routes!(healthz), config))
        .routes(routes!(openapi))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    /// `1`, `true` or `yes`: also call each provider once (one search, one tiny
    /// completion) and report the diagnosis; the report is reused for a minute.
    #[serde(default)]
    deep: Option<String>,
}

/// Liveness, and with `deep=1` the providers' diagnosis.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`; with `deep=1`: `ok` (both providers answered), `degraded` (one is not
    /// configured, or failed in a way that may pass) or `failing` (one would fail every
    /// row: key, model, quota).
    status: String,
    /// With `deep=1`: per provider (`search`, `llm`) its status, a one-line message,
    /// the model, the JSON form that works and the rate-limit headers seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    providers: Option<serde_json::Value>,
}

/// Liveness, including the database; `deep=1` adds the providers' preflight.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    params(HealthQuery),
    responses(
        (status = 200, description = "Alive (with `deep=1`, the providers' diagnosis in `status` and `providers`)", body = Health),
        BadInput, Timed,
        (status = 503, description = "Database unreachable", body = ErrorBody),
    )
)]
async fn healthz(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<HealthQuery>,
) -> AppResult<Json<Health>> {
    database_health(&state).await?;
    let deep = query
        .deep
        .is_some_and(|d| matches!(d.as_str(), "1" | "true" | "yes"));
    if !deep {
        return Ok(Json(Health {
            status: "ok".into(),
            providers: None,
        }));
    }
    // The server is alive either way (200); `status` says what the providers answered.
    let report = state.jobs.providers().deep_check().await;
    let status = if !report.passed() {
        "failing"
    } else if report.all_ok() {
        "ok"
    } else {
        "degraded"
    };
    let not_ok = |s: CheckStatus| s != CheckStatus::Ok;
    if not_ok(report.search.status) || not_ok(report.llm.status) {
        tracing::warn!(search = %report.search.message, llm = %report.llm.message, "deep health check: providers not all ok");
    }
    Ok(Json(Health {
        status: status.into(),
        providers: serde_json::to_value(&*report).ok(),
    }))
}

async fn database_health(state: &AppState) -> AppResult<()> {
    // A read that touches the database on every backend.
    match state
        .jobs
        .ledger()
        .find_by_email("healthz@outreach.invalid")
        .await
    {
        Ok(_) => Ok(()),
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
