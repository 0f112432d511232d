//! Jobs: create (reserve credits, queue), list, detail with logs and timings, retry,
//! cancel. Every lookup is scoped to the caller: another user's job is a 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

use outreach_core::campaign::{DraftSpec, SuppressionList, VariantSpec};
use outreach_core::jobs::{CampaignRequest, CreateJob};
use outreach_core::output::OutputFormat;
use outreach_core::ports::{Job, JobLog};
use outreach_core::ServiceContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::{AppJson, AppPath, AppQuery, Page};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed;
use crate::server::uploads::owned_upload;

pub fn router(config: &ServerConfig) -> Router<AppState> {
    Router::new()
        .route("/jobs", timed(post(create).get(list), config))
        .route("/jobs/{id}", timed(get(detail), config))
        .route("/jobs/{id}/retry", timed(post(retry), config))
        .route("/jobs/{id}/cancel", timed(post(cancel), config))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateJobRequest {
    file_path: String,
    #[serde(default)]
    email_col: Option<String>,
    /// Headers of the name / company / title / LinkedIn / website columns.
    #[serde(default)]
    columns: outreach_core::input::ColumnOverrides,
    #[serde(default)]
    service: ServiceContext,
    #[serde(default)]
    output_columns: Option<Vec<String>>,
    #[serde(default)]
    format: Option<OutputFormat>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    combined: bool,
    /// Email drafts: one subject/body template pair (MiniJinja)…
    #[serde(default)]
    subject_template: Option<String>,
    #[serde(default)]
    body_template: Option<String>,
    /// …and/or A/B variants, each `{name, subject, body, weight}`.
    #[serde(default)]
    variants: Vec<VariantSpec>,
    /// Seeds the variant assignment (same seed, same variant per person).
    #[serde(default)]
    variant_seed: Option<String>,
    /// Do-not-contact entries for this run (`jane@acme.com`, `acme.com`, `@acme.com`).
    #[serde(default)]
    suppress: Vec<String>,
}

async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<CreateJobRequest>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let filename = owned_upload(&user.user_id, &req.file_path)?.to_string();
    if req.limit == Some(0) {
        return Err(AppError::bad_request(
            "invalid_request",
            "limit must be at least 1",
        ));
    }
    let drafts = DraftSpec::from_parts(
        req.subject_template,
        req.body_template,
        req.variants,
        req.variant_seed,
    )?;
    let suppression = if req.suppress.is_empty() {
        None
    } else {
        let (list, _) = SuppressionList::parse(&req.suppress.join("\n"));
        Some(Arc::new(list))
    };
    let system = state.jobs.clone();
    let user_id = user.user_id.clone();
    let job = run_to_completion(async move {
        system
            .create_job(CreateJob {
                user_id,
                file_path: req.file_path,
                filename,
                email_col: req.email_col.filter(|c| !c.trim().is_empty()),
                columns: req.columns,
                service: req.service,
                output_columns: req.output_columns,
                format: req.format.unwrap_or_default(),
                limit: req.limit,
                combined: req.combined,
                charge: true,
                job_id: None,
                campaign: CampaignRequest {
                    suppression,
                    drafts,
                },
            })
            .await
    })
    .await?;
    tracing::info!(user = %user.user_id, job = %job.id, rows = job.rows, "job created");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "job_id": job.id,
            "status": job.status,
            "rows": job.rows,
            "credits_charged": job.credits_charged,
        })),
    ))
}

async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(page): AppQuery<Page>,
) -> AppResult<Json<Value>> {
    let (jobs, total) = state
        .jobs
        .store()
        .list_jobs(&user.user_id, page.offset, page.limit())
        .await?;
    Ok(Json(json!({
        "jobs": jobs.iter().map(job_summary).collect::<Vec<_>>(),
        "total": total,
        "offset": page.offset,
        "limit": page.limit(),
    })))
}

async fn detail(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<Value>> {
    let job = state.jobs.store().get_job(Some(&user.user_id), &id).await?;
    let logs = state.jobs.store().logs(&job.id).await?;
    Ok(Json(job_detail(&job, &logs)))
}

async fn retry(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<Value>> {
    let system = state.jobs.clone();
    let job = run_to_completion(async move { system.retry_job(&user.user_id, &id).await }).await?;
    Ok(Json(job_summary(&job)))
}

async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<Value>> {
    let system = state.jobs.clone();
    let job = run_to_completion(async move { system.cancel_job(&user.user_id, &id).await }).await?;
    Ok(Json(job_summary(&job)))
}

/// Runs a multi-step core operation (charge, then create or queue) on its own task, so
/// a request that times out or a client that hangs up cannot stop it halfway, e.g.
/// between the credit reservation and the job row.
async fn run_to_completion<T: Send + 'static>(
    operation: impl std::future::Future<Output = outreach_core::Result<T>> + Send + 'static,
) -> AppResult<T> {
    match tokio::spawn(operation).await {
        Ok(result) => Ok(result?),
        Err(e) => Err(AppError::internal(format!(
            "job operation task failed: {e}"
        ))),
    }
}

/// A job as the list shows it. Storage keys stay internal.
pub(crate) fn job_summary(job: &Job) -> Value {
    json!({
        "id": job.id,
        "status": job.status,
        "filename": job.filename,
        "rows": job.rows,
        "rows_processed": job.rows_processed,
        "progress_percent": job.progress_percent,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "attempt": job.attempt,
        "format": job.meta.format,
        "credits_charged": job.credits_charged,
        "credits_refunded": job.credits_refunded,
        "download_ready": job.result_path.is_some(),
    })
}

/// The summary plus what was asked, the timings and the log.
pub(crate) fn job_detail(job: &Job, logs: &[JobLog]) -> Value {
    let mut v = job_summary(job);
    v["email_col"] = json!(job.meta.email_col);
    v["output_columns"] = json!(job.meta.output_columns);
    v["limit"] = json!(job.meta.limit);
    v["combined"] = json!(job.meta.combined);
    v["service"] = json!(job.meta.service);
    v["timing"] = job.timing.clone().unwrap_or(Value::Null);
    v["logs"] = logs
        .iter()
        .map(|l| json!({ "step": l.step, "total": l.total, "message": l.message, "created_at": l.created_at }))
        .collect();
    v
}
