//! `POST /jobs/{id}/push` (`{"to": "instantly", "campaign": "…"}`; the campaign
//! defaults to the saved destination's) starts a push of a finished job's result with
//! the account's saved key and do-not-contact list; `GET /jobs/{id}/pushes` lists the
//! job's pushes; `GET /jobs/{id}/pushes/{push}` shows one, with its per-row results
//! once it has ended. See `server::campaigns` for how a push runs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use outreach_core::campaign::push::{DestinationConfig, DestinationKind, RowResult};
use outreach_core::ports::JobStatus;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::destinations::{campaigns, kind};
use crate::server::auth::AuthUser;
use crate::server::campaigns::{
    destination_context, record_key, results_key, start_push, PushRecord, PushStart,
};
use crate::server::error::{AppError, AppResult};
use crate::server::extract::{AppJson, AppPath};
use crate::server::openapi::{ApiRouter, Authed, ErrorBody, JsonBody, NotFound, Timed};
use crate::server::state::{AppState, ServerConfig};
use crate::server::tempfiles::TempCopy;
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
    let result_key = match (&job.status, &job.result_path) {
        (JobStatus::Succeeded, Some(path)) => path.clone(),
        _ => {
            return Err(AppError::Conflict {
                code: "job_not_finished",
                message: format!(
                    "the job has no result to push (it is {})",
                    job.status.as_str()
                ),
            })
        }
    };
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
    let api_key = secrets
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
    let mut config = DestinationConfig::new(kind, api_key, campaign);
    if let Some(url) = campaigns.base_urls.get(&kind) {
        config = config.with_base_url(url.clone());
    }
    let suppression = campaigns.account_list(&user.user_id).await?;
    let result = TempCopy::fetch(&state, &result_key).await?;
    let (record, started) = start_push(
        campaigns,
        state.jobs.storage().clone(),
        PushStart {
            user_id: user.user_id.clone(),
            job_id: job.id.clone(),
            result,
            config,
            suppression,
        },
    )
    .await?;
    tracing::info!(user = %user.user_id, job = %job.id, push = %record.id, destination = %kind, started, "push requested");
    let code = if started {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(json!({"push": record}))))
}

async fn read_record(
    state: &AppState,
    user_id: &str,
    job_id: &str,
    push_id: &str,
) -> AppResult<PushRecord> {
    let bytes = state
        .jobs
        .storage()
        .get(&record_key(user_id, job_id, push_id))
        .await?;
    serde_json::from_slice(&bytes).map_err(AppError::internal)
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
    let prefix = format!("pushes/{}/{}/", user.user_id, job.id);
    let mut pushes = Vec::new();
    for key in state.jobs.storage().list(&prefix).await? {
        let Some(push_id) = key
            .strip_prefix(&prefix)
            .and_then(|name| name.strip_suffix(".json"))
        else {
            continue;
        };
        pushes.push(read_record(&state, &user.user_id, &job.id, push_id).await?);
    }
    pushes.sort_by_key(|p| std::cmp::Reverse(p.created_at));
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
    if !push_id.starts_with("push_") || !push_id[5..].chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let record = read_record(&state, &user.user_id, &job.id, &push_id).await?;
    let mut body = json!({"push": record});
    if record.status != "running" {
        let results: Vec<RowResult> = match state
            .jobs
            .storage()
            .get(&results_key(&user.user_id, &job.id, &push_id))
            .await
        {
            Ok(bytes) => String::from_utf8_lossy(&bytes)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        body["results"] = json!(results);
    }
    Ok(Json(body))
}
