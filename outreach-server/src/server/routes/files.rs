//! `POST /files` (multipart upload, streamed to a temp file then into Storage) and
//! `POST /parse_headers` (headers, rows, email-column guess, cost and balance).

use axum::extract::multipart::MultipartError;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::AppJson;
use crate::server::state::{AppState, ServerConfig};
use crate::server::tempfiles::TempCopy;
use crate::server::timed;
use crate::server::uploads::{owned_upload, sanitize_filename, supported_extension, upload_key};

pub fn router(config: &ServerConfig) -> Router<AppState> {
    // Room for the multipart framing around a file of the maximum size; the handler
    // enforces the exact limit on the file's bytes.
    let upload_limit = usize::try_from(config.max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    Router::new()
        .route(
            "/files",
            post(upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/parse_headers", timed(post(parse_headers), config))
}

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge("the upload is larger than the limit".into())
    } else {
        AppError::bad_request("invalid_multipart", e.body_text())
    }
}

async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
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
        let key = upload_key(&user.user_id, &filename);
        let stored = state.jobs.storage().put_file(&key, &temp.path).await;
        temp.remove().await;
        stored?;
        state
            .jobs
            .store()
            .record_file(&user.user_id, None, &filename, &key, "upload")
            .await?;
        tracing::info!(user = %user.user_id, %key, size, "file uploaded");
        return Ok((
            StatusCode::CREATED,
            Json(json!({ "file_path": key, "filename": filename, "size": size })),
        ));
    }
    Err(AppError::bad_request(
        "missing_file",
        "no `file` field in the form",
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParseHeadersRequest {
    file_path: String,
}

async fn parse_headers(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<ParseHeadersRequest>,
) -> AppResult<Json<Value>> {
    owned_upload(&user.user_id, &req.file_path)?;
    // Bounded per user and overall; dropping this future (the request's timeout, a
    // closed connection) stops the reading thread.
    let summary = state.jobs.summarize(&user.user_id, &req.file_path).await?;
    let account = state.jobs.ledger().account(&user.user_id).await?;
    Ok(Json(json!({
        "headers": summary.headers,
        "rows": summary.rows,
        "email_column": summary.email_column,
        "credit_cost": summary.rows,
        "credits_remaining": account.credits_remaining,
    })))
}
