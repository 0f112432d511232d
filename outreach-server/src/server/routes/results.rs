//! A finished job's result: `GET /jobs/{id}/download` streams the file with a proper
//! name and content type; `GET /jobs/{id}/preview?limit=N` returns its first rows as
//! JSON for the web UI. Both read the stored result through a temporary copy, so memory
//! never holds the file.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use outreach_core::output::OutputFormat;
use outreach_core::ports::{Job, JobStatus};
use serde::{Deserialize, Serialize};
use tokio_util::io::ReaderStream;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::{AppPath, AppQuery};
use crate::server::openapi::{schemas, ApiRouter, Authed, BadInput, NoResultYet, NotFound, Timed};
use crate::server::routes::jobs::JobId;
use crate::server::state::{AppState, ServerConfig};
use crate::server::tempfiles::TempCopy;
use crate::server::timed_api;

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(download))
        .routes(timed_api(routes!(preview), config))
}

/// The result file in the response body.
pub struct ResultFile;

impl utoipa::PartialSchema for ResultFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::Schema::Object(schemas::binary()).into()
    }
}

impl ToSchema for ResultFile {}

/// The caller's job, finished with a result (else 404 / 409).
async fn finished_job(state: &AppState, user: &AuthUser, id: &str) -> AppResult<(Job, String)> {
    let job = state.jobs.store().get_job(Some(&user.user_id), id).await?;
    match (&job.status, &job.result_path) {
        (JobStatus::Succeeded, Some(path)) => {
            let path = path.clone();
            Ok((job, path))
        }
        _ => Err(AppError::Conflict {
            code: "job_not_finished",
            message: format!("the job has no result (it is {})", job.status.as_str()),
        }),
    }
}

/// The result file.
#[utoipa::path(
    get,
    path = "/jobs/{id}/download",
    operation_id = "downloadResult",
    params(JobId),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The result (`<input stem>.enriched.xlsx` or `.csv`)", content(
            (inline(ResultFile) = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "text/csv"),
        )),
        Authed, NotFound, NoResultYet,
    )
)]
async fn download(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Response> {
    let (job, key) = finished_job(&state, &user, &id).await?;
    let copy = TempCopy::fetch(&state, &key).await?;
    let file = tokio::fs::File::open(&copy.path).await?;
    let len = file.metadata().await?.len();
    // The copy (and its directory) lives as long as the body stream.
    let stream = ReaderStream::new(file).map(move |chunk| {
        let _keep = &copy;
        chunk
    });
    let name = download_name(&job.filename, job.meta.format);
    Ok((
        [
            (CONTENT_TYPE, content_type(job.meta.format).to_string()),
            (CONTENT_LENGTH, len.to_string()),
            (CONTENT_DISPOSITION, content_disposition(&name)),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

pub fn content_type(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        OutputFormat::Csv => "text/csv; charset=utf-8",
    }
}

/// `<input stem>.enriched.<ext>`.
pub fn download_name(input: &str, format: OutputFormat) -> String {
    let stem = match input.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => input,
    };
    format!("{stem}.enriched.{}", format.extension())
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266/5987).
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// Rows to return (default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

/// The first rows of a result.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// The first rows of the result as JSON.
#[utoipa::path(
    get,
    path = "/jobs/{id}/preview",
    operation_id = "previewResult",
    params(JobId, PreviewQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "First rows", body = Preview),
        BadInput, Authed, NotFound, Timed, NoResultYet,
    )
)]
async fn preview(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<PreviewQuery>,
) -> AppResult<Json<Preview>> {
    let limit = q.limit.unwrap_or(10).clamp(1, 100);
    let (_, key) = finished_job(&state, &user, &id).await?;
    let copy = TempCopy::fetch(&state, &key).await?;
    let path = copy.path.clone();
    let read = tokio::task::spawn_blocking(move || -> outreach_core::Result<_> {
        let reader = outreach_core::input::RowReader::open(&path)?;
        let headers = reader.headers().to_vec();
        let rows = reader
            .take(limit)
            .collect::<outreach_core::Result<Vec<_>>>()?;
        Ok((headers, rows))
    })
    .await
    .map_err(AppError::internal);
    copy.remove().await;
    let (headers, rows) =
        read?.map_err(|e| AppError::internal(format!("reading a result: {e}")))?;
    Ok(Json(Preview { headers, rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names() {
        assert_eq!(
            download_name("leads.csv", OutputFormat::Xlsx),
            "leads.enriched.xlsx"
        );
        assert_eq!(
            download_name("a.b.xlsx", OutputFormat::Csv),
            "a.b.enriched.csv"
        );
        assert_eq!(
            download_name("noext", OutputFormat::Xlsx),
            "noext.enriched.xlsx"
        );
        assert_eq!(
            content_disposition("Müller \"x\".xlsx"),
            "attachment; filename=\"M_ller _x_.xlsx\"; filename*=UTF-8''M%C3%BCller%20%22x%22.xlsx"
        );
    }
}
