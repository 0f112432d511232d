//! Jobs: create (reserve credits, queue), list, detail with logs and timings, retry,
//! cancel. Every lookup is scoped to the caller: another user's job is a 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};

use outreach_core::campaign::{DraftSpec, VariantSpec};
use outreach_core::jobs::{CampaignRequest, CreateJob};
use outreach_core::output::OutputFormat;
use outreach_core::ports::{Job, JobLog, JobStatus, Timing};
use outreach_core::ServiceContext;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::{AppJson, AppPath, AppQuery, Page};
use crate::server::openapi::{
    schemas, ApiRouter, Authed, BadInput, ErrorBody, JobStateConflict, JsonBody, NotFound,
    ReadsUpload, ShortOfCredits, Timed,
};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed_api;
use crate::server::uploads::owned_upload;

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(timed_api(routes!(create, list), config))
        .routes(timed_api(routes!(detail), config))
        .routes(timed_api(routes!(retry), config))
        .routes(timed_api(routes!(cancel), config))
}

/// `POST /jobs`: what to run. Only `file_path` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "file_path": "uploads/3f1c…/people.csv",
    "service": { "core_offer": "bookkeeping for agencies", "cta": "a 15-minute call" },
    "format": "csv",
    "limit": 100,
    "subject_template": "Quick question, {{ first_name }}",
    "body_template": "Hi {{ first_name }},\n\n{{ sif_personalized }}",
    "suppress": ["@competitor.com"]
}))]
pub struct CreateJobRequest {
    /// `file_path` from `POST /files`.
    #[schema(min_length = 1)]
    file_path: String,
    /// The email column's header (guessed when absent).
    #[serde(default)]
    email_col: Option<String>,
    /// Headers of the name / company / title / LinkedIn / website columns.
    #[serde(default)]
    #[schema(schema_with = schemas::column_overrides)]
    columns: outreach_core::input::ColumnOverrides,
    /// What you sell and how to ask (defaults in `GET /ui/config.json`).
    #[serde(default)]
    #[schema(schema_with = schemas::service_context)]
    service: ServiceContext,
    /// Restricts and orders the exported columns.
    #[serde(default)]
    output_columns: Option<Vec<String>>,
    #[serde(default)]
    #[schema(schema_with = schemas::optional_output_format)]
    format: Option<OutputFormat>,
    /// Process only the first rows.
    #[serde(default)]
    #[schema(minimum = 1)]
    limit: Option<u64>,
    #[serde(default)]
    combined: bool,
    /// MiniJinja template of the email subject (with `body_template`).
    #[serde(default)]
    subject_template: Option<String>,
    /// MiniJinja template of the email body.
    #[serde(default)]
    body_template: Option<String>,
    /// A/B variants, each `{name, subject, body, weight}`.
    #[serde(default)]
    #[schema(value_type = Vec<VariantSchema>)]
    variants: Vec<VariantSpec>,
    /// Seeds the variant assignment (same seed, same variant per person).
    #[serde(default)]
    variant_seed: Option<String>,
    /// Do-not-contact entries for this run (`jane@acme.com`, `acme.com`, `@acme.com`).
    #[serde(default)]
    suppress: Vec<String>,
}

/// The schema of the core's `VariantSpec` (one template pair).
#[derive(ToSchema)]
#[schema(as = Variant)]
#[allow(dead_code)]
pub struct VariantSchema {
    /// Shown in the `variant` column; `A`, `B`, … when empty.
    #[schema(required = false)]
    name: String,
    subject: String,
    body: String,
    /// Relative share of rows (default 1).
    #[schema(required = false, minimum = 0, maximum = 4294967295_u64)]
    weight: u32,
}

/// `POST /jobs` answers the new job's id and charge.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "job_id": "6b0d3c4e-6f0a-4c1e-9a53-0f6f1b2f7a10",
    "status": "queued",
    "rows": 2,
    "credits_charged": 2
}))]
pub struct JobCreated {
    job_id: String,
    #[schema(schema_with = schemas::job_status)]
    status: JobStatus,
    rows: u64,
    credits_charged: i64,
}

/// A page of the caller's jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    jobs: Vec<JobSummary>,
    total: u64,
    offset: u64,
    limit: u64,
}

/// Create a job: reserve one credit per row and queue it.
#[utoipa::path(
    post,
    path = "/jobs",
    operation_id = "createJob",
    request_body = CreateJobRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Queued", body = JobCreated, links(
            ("GetJob" = (operation_id = "getJob", parameters(("id" = "$response.body#/job_id")))),
            ("JobEvents" = (operation_id = "jobEvents", parameters(("id" = "$response.body#/job_id")))),
            ("DownloadResult" = (operation_id = "downloadResult", parameters(("id" = "$response.body#/job_id")))),
            ("PreviewResult" = (operation_id = "previewResult", parameters(("id" = "$response.body#/job_id")))),
            ("RetryJob" = (operation_id = "retryJob", parameters(("id" = "$response.body#/job_id")))),
            ("CancelJob" = (operation_id = "cancelJob", parameters(("id" = "$response.body#/job_id")))),
        )),
        JsonBody, Authed, NotFound, Timed, ReadsUpload, ShortOfCredits,
        (status = 409, description = "A job with this id exists", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<CreateJobRequest>,
) -> AppResult<(StatusCode, Json<JobCreated>)> {
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
    // The account's do-not-contact list applies to every job, with the job's own.
    let suppression =
        super::suppression::with_account_list(&state, &user.user_id, &req.suppress).await?;
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
        Json(JobCreated {
            job_id: job.id,
            status: job.status,
            rows: job.rows,
            credits_charged: job.credits_charged,
        }),
    ))
}

/// The caller's jobs, newest first.
#[utoipa::path(
    get,
    path = "/jobs",
    operation_id = "listJobs",
    params(Page),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Jobs", body = JobList),
        BadInput, Authed, Timed,
    )
)]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(page): AppQuery<Page>,
) -> AppResult<Json<JobList>> {
    let (jobs, total) = state
        .jobs
        .store()
        .list_jobs(&user.user_id, page.offset, page.limit())
        .await?;
    Ok(Json(JobList {
        jobs: jobs.iter().map(JobSummary::from).collect(),
        total,
        offset: page.offset,
        limit: page.limit(),
    }))
}

/// A job with what was asked, its timings and its log.
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    operation_id = "getJob",
    params(JobId),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Job detail (the summary plus the request, timings and logs)", body = JobDetail),
        Authed, NotFound, Timed,
    )
)]
async fn detail(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<JobDetail>> {
    let job = state.jobs.store().get_job(Some(&user.user_id), &id).await?;
    let logs = state.jobs.store().logs(&job.id).await?;
    Ok(Json(JobDetail::new(&job, &logs)))
}

/// Run a failed job again (charged again).
#[utoipa::path(
    post,
    path = "/jobs/{id}/retry",
    operation_id = "retryJob",
    params(JobId),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job", body = JobSummary),
        BadInput, Authed, NotFound, Timed, JobStateConflict, ShortOfCredits,
    )
)]
async fn retry(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<JobSummary>> {
    let system = state.jobs.clone();
    let job = run_to_completion(async move { system.retry_job(&user.user_id, &id).await }).await?;
    Ok(Json(JobSummary::from(&job)))
}

/// Stop a queued or running job; unprocessed rows are refunded.
#[utoipa::path(
    post,
    path = "/jobs/{id}/cancel",
    operation_id = "cancelJob",
    params(JobId),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job", body = JobSummary),
        BadInput, Authed, NotFound, Timed, JobStateConflict,
    )
)]
async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<JobSummary>> {
    let system = state.jobs.clone();
    let job = run_to_completion(async move { system.cancel_job(&user.user_id, &id).await }).await?;
    Ok(Json(JobSummary::from(&job)))
}

/// The `{id}` of the paths on one job.
#[derive(utoipa::IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
#[allow(dead_code)]
pub struct JobId(#[param(min_length = 1)] String);

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
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobSummary {
    pub id: String,
    #[schema(schema_with = schemas::job_status)]
    pub status: JobStatus,
    pub filename: String,
    pub rows: u64,
    pub rows_processed: u64,
    #[schema(minimum = 0, maximum = 100)]
    pub progress_percent: f64,
    pub created_at: DateTime<Utc>,
    #[schema(schema_with = schemas::optional_timestamp, required = true)]
    pub started_at: Option<DateTime<Utc>>,
    #[schema(schema_with = schemas::optional_timestamp, required = true)]
    pub finished_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub error: Option<String>,
    #[schema(minimum = 1)]
    pub attempt: u32,
    #[schema(schema_with = schemas::output_format)]
    pub format: OutputFormat,
    pub credits_charged: i64,
    pub credits_refunded: i64,
    pub download_ready: bool,
}

impl From<&Job> for JobSummary {
    fn from(job: &Job) -> Self {
        Self {
            id: job.id.clone(),
            status: job.status,
            filename: job.filename.clone(),
            rows: job.rows,
            rows_processed: job.rows_processed,
            progress_percent: job.progress_percent,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            error: job.error.clone(),
            attempt: job.attempt,
            format: job.meta.format,
            credits_charged: job.credits_charged,
            credits_refunded: job.credits_refunded,
            download_ready: job.result_path.is_some(),
        }
    }
}

/// One line of a job's log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobLogLine {
    pub step: i64,
    pub total: i64,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// The summary plus what was asked, the timings and the log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub summary: JobSummary,
    pub email_col: String,
    #[schema(required = true)]
    pub output_columns: Option<Vec<String>>,
    #[schema(required = true)]
    pub limit: Option<u64>,
    pub combined: bool,
    #[schema(schema_with = schemas::service_context)]
    pub service: ServiceContext,
    /// A finished job's figures (null until the job ends).
    #[schema(schema_with = schemas::timing, required = true)]
    pub timing: Option<Timing>,
    pub logs: Vec<JobLogLine>,
}

impl JobDetail {
    pub fn new(job: &Job, logs: &[JobLog]) -> Self {
        Self {
            summary: JobSummary::from(job),
            email_col: job.meta.email_col.clone(),
            output_columns: job.meta.output_columns.clone(),
            limit: job.meta.limit,
            combined: job.meta.combined,
            service: job.meta.service.clone(),
            timing: job.timing(),
            logs: logs
                .iter()
                .map(|l| JobLogLine {
                    step: l.step,
                    total: l.total,
                    message: l.message.clone(),
                    created_at: l.created_at,
                })
                .collect(),
        }
    }
}
