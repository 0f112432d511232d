//! `POST /jobs/{id}/push` (`{"to": "instantly", "campaign": "…"}`; the campaign
//! defaults to the saved destination's) starts a push of a finished job's result with
//! the account's saved key and do-not-contact list; `GET /jobs/{id}/pushes` lists the
//! job's pushes; `GET /jobs/{id}/pushes/{push}` shows one, with its per-row results
//! once it has ended. A push is a task on the job queue, run by any worker (this
//! process's or an `outreach worker`'s): see `outreach_core::jobs` (push notes) for
//! how it records progress and resumes after a restart.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use outreach_core::campaign::push::DestinationKind;
use outreach_core::ports::JobStatus;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::destinations::{campaigns, kind};
use crate::server::auth::AuthUser;
use crate::server::campaigns::destination_context;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::{AppJson, AppPath};
use crate::server::openapi::{ApiRouter, Authed, ErrorBody, JsonBody, NotFound, Timed};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed_api;

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(timed_api(routes!(push), config))
        .routes(timed_api(routes!(list), config))
        .routes(timed_api(routes!(detail), config))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PushRequest {
    to: String,
    #[serde(default)]
    campaign: Option<String>,
}

/// Push a finished job's rows to a saved destination (a push of its own).
#[utoipa::path(post, path = "/jobs/{id}/push", operation_id = "pushJob",
    params(("id" = String, Path, description = "The job")), request_body = PushRequest, security(("bearer" = [])),
    responses((status = 202, description = "Started: `push` (id, status, counts)", body = Object),
        (status = 200, description = "The same push is already running: that one", body = Object),
        JsonBody, Authed, NotFound, Timed,
        (status = 409, description = "The job has no result, or the destination is not saved", body = ErrorBody),
        (status = 503, description = "Campaign settings or OUTREACH_SECRETS_KEY missing on this server", body = ErrorBody)))]
async fn push(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
    AppJson(req): AppJson<PushRequest>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let campaigns = campaigns(&state)?;
    let kind = kind(&req.to)?;
    let job = state.jobs.store().get_job(Some(&user.user_id), &id).await?;
    if !(job.status == JobStatus::Succeeded && job.result_path.is_some()) {
        return Err(AppError::Conflict {
            code: "job_not_finished",
            message: format!(
                "the job has no result to push (it is {})",
                job.status.as_str()
            ),
        });
    }
    let saved = campaigns
        .settings
        .destinations(&user.user_id)
        .await?
        .into_iter()
        .find(|d| d.kind == kind)
        .ok_or_else(|| AppError::Conflict {
            code: "destination_not_configured",
            message: format!("save a {kind} API key first (PUT /destinations/{kind})"),
        })?;
    let secrets = campaigns
        .secrets
        .as_ref()
        .ok_or_else(|| AppError::Unavailable {
            code: "secrets_key_missing",
            message: "set OUTREACH_SECRETS_KEY on the server to use saved destination keys".into(),
        })?;
    // Checked here so a key that no longer opens is a 500 now, not a failed push later.
    secrets
        .open(&destination_context(&user.user_id, kind), &saved.sealed_key)
        .map_err(|e| AppError::internal(e.to_string()))?;
    let campaign = req
        .campaign
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or(saved.campaign);
    if campaign.is_empty() && kind != DestinationKind::Hubspot {
        return Err(AppError::bad_request(
            "invalid_request",
            format!("campaign is required for {kind}"),
        ));
    }
    let (record, started) = state
        .jobs
        .start_push(&user.user_id, &job.id, kind, &campaign)
        .await?;
    tracing::info!(user = %user.user_id, job = %job.id, push = %record.id, destination = %kind, started, "push requested");
    let code = if started {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(json!({"push": record}))))
}

/// The job's pushes, newest first.
#[utoipa::path(get, path = "/jobs/{id}/pushes", operation_id = "listPushes",
    params(("id" = String, Path, description = "The job")), security(("bearer" = [])),
    responses((status = 200, description = "`pushes`, newest first", body = Object), Authed, NotFound, Timed, (status = 503, description = "Campaign settings are not available on this server", body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<Value>> {
    // The job must be the caller's: another user's job is a 404.
    let job = state.jobs.store().get_job(Some(&user.user_id), &id).await?;
    let pushes = state.jobs.push_records(&user.user_id, &job.id).await?;
    Ok(Json(json!({"pushes": pushes})))
}

/// A push with its progress, and its per-row results once it ended.
#[utoipa::path(get, path = "/jobs/{id}/pushes/{push}", operation_id = "getPush",
    params(("id" = String, Path, description = "The job"), ("push" = String, Path, description = "The push")), security(("bearer" = [])),
    responses((status = 200, description = "`push`, and `results` (row, email, status, reason) once it ended", body = Object), Authed, NotFound, Timed, (status = 503, description = "Campaign settings are not available on this server", body = ErrorBody)))]
async fn detail(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath((id, push_id)): AppPath<(String, String)>,
) -> AppResult<Json<Value>> {
    let job = state.jobs.store().get_job(Some(&user.user_id), &id).await?;
    let record = state
        .jobs
        .push_record(&user.user_id, &job.id, &push_id)
        .await?;
    let mut body = json!({"push": record});
    if !record.is_running() {
        let results = state
            .jobs
            .push_results(&user.user_id, &job.id, &push_id)
            .await?;
        body["results"] = json!(results);
    }
    Ok(Json(body))
}
