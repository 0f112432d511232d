//! `POST /files` (multipart upload, streamed to a temp file then into Storage) and
//! `POST /parse_headers` (headers, rows, email-column guess, cost and balance).

use axum::extract::multipart::MultipartError;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::AppJson;
use crate::server::openapi::{
    ApiRouter, Authed, ErrorBody, JsonBody, NotFound, ReadsUpload, Timed,
};
use crate::server::state::{AppState, ServerConfig};
use crate::server::tempfiles::TempCopy;
use crate::server::timed_api;
use crate::server::uploads::{
    owned_upload, sanitize_filename, stored_bytes, supported_extension, upload_key,
};

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    // Room for the multipart framing around a file of the maximum size; the handler
    // enforces the exact limit on the file's bytes.
    let upload_limit = usize::try_from(config.max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    ApiRouter::new()
        .routes(routes!(upload).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(timed_api(routes!(parse_headers), config))
}

/// The multipart form of `POST /files`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The CSV or XLSX file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Where an upload was stored: pass `file_path` to `POST /parse_headers` and `POST /jobs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Uploaded {
    file_path: String,
    filename: String,
    size: u64,
}

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge("the upload is larger than the limit".into())
    } else {
        AppError::bad_request("invalid_multipart", e.body_text())
    }
}

/// Upload a CSV or XLSX file (multipart field `file`).
#[utoipa::path(
    post,
    path = "/files",
    operation_id = "uploadFile",
    request_body(content = inline(UploadForm), content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = Uploaded, links(
            ("ParseHeaders" = (operation_id = "parseHeaders", request_body = json!({ "file_path": "$response.body#/file_path" }))),
            ("CreateJob" = (operation_id = "createJob", request_body = json!({ "file_path": "$response.body#/file_path" }))),
        )),
        crate::server::openapi::BadInput, Authed,
        (status = 413, description = "Larger than OUTREACH_MAX_UPLOAD_BYTES, or over the storage quota (OUTREACH_USER_QUOTA_BYTES)", body = ErrorBody),
        (status = 415, description = "Not .csv or .xlsx", body = ErrorBody),
    )
)]
async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<Uploaded>)> {
    let mut multipart = multipart.map_err(|r| {
        AppError::bad_request(
            "invalid_multipart",
            format!(
                "{} (send multipart/form-data with a `file` field)",
                r.body_text()
            ),
        )
    })?;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let raw_name = field
            .file_name()
            .ok_or_else(|| {
                AppError::bad_request("missing_filename", "the `file` field has no file name")
            })?
            .to_string();
        let filename = sanitize_filename(&raw_name)
            .ok_or_else(|| AppError::bad_request("missing_filename", "the file name is empty"))?;
        if supported_extension(&filename).is_none() {
            return Err(AppError::UnsupportedMediaType(format!(
                "`{filename}` is not a .csv or .xlsx file"
            )));
        }
        // Over the quota nothing is read: the answer comes before the body. Everything
        // the user has stored counts (uploads, job chunks and results, push records);
        // only uploads are refused, so a job never fails on its own output.
        let quota = state.config.user_quota_bytes;
        let used = if quota > 0 {
            stored_bytes(state.jobs.storage().as_ref(), &user.user_id).await?
        } else {
            0
        };
        if quota > 0 && used >= quota {
            return Err(quota_exceeded(used, quota));
        }
        let limit = state.config.max_upload_bytes;
        let temp = TempCopy::new(&state.config.temp_dir, &filename).await?;
        let mut file = tokio::fs::File::create(&temp.path).await?;
        let mut size: u64 = 0;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            size += chunk.len() as u64;
            if size > limit {
                drop(file);
                temp.remove().await;
                return Err(AppError::PayloadTooLarge(format!(
                    "the file is larger than the limit of {limit} bytes"
                )));
            }
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        drop(file);
        if quota > 0 && used.saturating_add(size) > quota {
            temp.remove().await;
            return Err(quota_exceeded(used, quota));
        }
        let key = upload_key(&user.user_id, &filename);
        let stored = state.jobs.storage().put_file(&key, &temp.path).await;
        temp.remove().await;
        stored?;
        state
            .jobs
            .store()
            .record_file(&user.user_id, None, &filename, &key, "upload")
            .await?;
        state
            .jobs
            .store()
            .set_file_size(&user.user_id, &key, size)
            .await?;
        tracing::info!(user = %user.user_id, %key, size, "file uploaded");
        return Ok((
            StatusCode::CREATED,
            Json(Uploaded {
                file_path: key,
                filename,
                size,
            }),
        ));
    }
    Err(AppError::bad_request(
        "missing_file",
        "no `file` field in the form",
    ))
}

fn quota_exceeded(used: u64, quota: u64) -> AppError {
    AppError::PayloadTooLarge(format!(
        "storage quota exceeded: {used} of {quota} bytes are in use; delete data (DELETE /me/data) or wait for old files to expire"
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParseHeadersRequest {
    /// `file_path` from `POST /files`.
    file_path: String,
}

/// What an upload holds and what running it costs.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadSummary {
    headers: Vec<String>,
    rows: u64,
    /// The guessed email column.
    #[schema(required = true)]
    email_column: Option<String>,
    credit_cost: u64,
    credits_remaining: i64,
}

/// Headers, row count, email-column guess, cost and balance of an upload.
#[utoipa::path(
    post,
    path = "/parse_headers",
    operation_id = "parseHeaders",
    request_body = ParseHeadersRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Summary", body = UploadSummary),
        JsonBody, Authed, NotFound, Timed, ReadsUpload,
    )
)]
async fn parse_headers(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<ParseHeadersRequest>,
) -> AppResult<Json<UploadSummary>> {
    owned_upload(&user.user_id, &req.file_path)?;
    // Bounded per user and overall; dropping this future (the request's timeout, a
    // closed connection) stops the reading thread.
    let summary = state.jobs.summarize(&user.user_id, &req.file_path).await?;
    let account = state.jobs.ledger().account(&user.user_id).await?;
    Ok(Json(UploadSummary {
        headers: summary.headers,
        rows: summary.rows,
        email_column: summary.email_column,
        credit_cost: summary.rows,
        credits_remaining: account.credits_remaining,
    }))
}
