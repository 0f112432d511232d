//! The one error type of the HTTP API and its single status table.
//!
//! Every error body is `{"error": {"code", "message"}}` (plus `needed`/`available` for
//! 402). A 5xx body says only that something failed; the detail goes to the log, so
//! no path, SQL or provider body ever reaches a client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use outreach_core::{Error as CoreError, InputError};
use serde_json::json;

#[derive(Debug)]
pub enum AppError {
    /// 400: the request is malformed or names something it may not.
    BadRequest { code: &'static str, message: String },
    /// 401: no valid bearer token.
    Unauthorized(String),
    /// 402: not enough credits for the job.
    InsufficientCredits { needed: i64, available: i64 },
    /// 404: absent, or not the caller's (the two are indistinguishable on purpose).
    NotFound,
    /// 405: the path exists but not with this method.
    MethodNotAllowed,
    /// 408: the request took longer than the configured timeout.
    Timeout,
    /// 409: the resource is not in a state that allows this.
    Conflict { code: &'static str, message: String },
    /// 413: body or upload over the limit.
    PayloadTooLarge(String),
    /// 429: too much at once from this caller (e.g. files being read); try again.
    TooManyRequests { code: &'static str, message: String },
    /// 415: not a `.csv` or `.xlsx` file (or not a JSON request).
    UnsupportedMediaType(String),
    /// 422: the file is unreadable as a prospect list.
    Unprocessable(String),
    /// 502: Stripe (or another upstream) failed; detail logged.
    Upstream(String),
    /// 503: a dependency is down or a feature is not configured.
    Unavailable { code: &'static str, message: String },
    /// 500: detail logged, never sent.
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        AppError::Internal(detail.to_string())
    }

    /// The status table: one place that decides what each error is on the wire.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::InsufficientCredits { .. } => StatusCode::PAYMENT_REQUIRED,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Timeout => StatusCode::REQUEST_TIMEOUT,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The short snake_case code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. } => code,
            AppError::Unauthorized(_) => "unauthorized",
            AppError::InsufficientCredits { .. } => "insufficient_credits",
            AppError::NotFound => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Timeout => "timeout",
            AppError::Conflict { code, .. } => code,
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_file_type",
            AppError::TooManyRequests { code, .. } => code,
            AppError::Unprocessable(_) => "unreadable_file",
            AppError::Upstream(_) => "upstream_error",
            AppError::Unavailable { code, .. } => code,
            AppError::Internal(_) => "internal_error",
        }
    }

    fn message(&self) -> String {
        match self {
            AppError::BadRequest { message, .. }
            | AppError::Conflict { message, .. }
            | AppError::TooManyRequests { message, .. }
            | AppError::Unavailable { message, .. } => message.clone(),
            AppError::Unauthorized(m)
            | AppError::PayloadTooLarge(m)
            | AppError::UnsupportedMediaType(m)
            | AppError::Unprocessable(m) => m.clone(),
            AppError::InsufficientCredits { needed, available } => {
                format!("this needs {needed} credits; {available} available")
            }
            AppError::NotFound => "not found".into(),
            AppError::MethodNotAllowed => "method not allowed on this path".into(),
            AppError::Timeout => "the request took too long".into(),
            AppError::Upstream(_) => "the payment provider failed; try again".into(),
            AppError::Internal(_) => "internal error".into(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            AppError::Internal(detail) => tracing::error!(%detail, "internal error"),
            AppError::Upstream(detail) => tracing::warn!(%detail, "upstream error"),
            AppError::Unavailable { message, .. } => tracing::warn!(%message, "unavailable"),
            _ => tracing::debug!(
                status = status.as_u16(),
                code = self.code(),
                "request refused"
            ),
        }
        let mut error = json!({ "code": self.code(), "message": self.message() });
        if let AppError::InsufficientCredits { needed, available } = self {
            error["needed"] = json!(needed);
            error["available"] = json!(available);
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

impl From<CoreError> for AppError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidInput(input) => from_input(input),
            CoreError::InsufficientCredits { needed, available } => {
                AppError::InsufficientCredits { needed, available }
            }
            CoreError::NotFound(_) => AppError::NotFound,
            CoreError::Conflict(message) => AppError::Conflict {
                code: "conflict",
                message,
            },
            CoreError::AlreadyExists(message) => AppError::Conflict {
                code: "already_exists",
                message,
            },
            CoreError::Busy(message) => AppError::TooManyRequests {
                code: "busy",
                message,
            },
            CoreError::InvalidKey { reason, .. } => {
                AppError::bad_request("invalid_path", format!("invalid file_path: {reason}"))
            }
            other => AppError::internal(other),
        }
    }
}

/// Unreadable files are 422; wrong requests about a readable file are 400.
fn from_input(e: InputError) -> AppError {
    let message = e.to_string();
    match e {
        InputError::UnsupportedExtension(_) => AppError::UnsupportedMediaType(message),
        InputError::TooLarge { .. } | InputError::InflatesTooMuch { .. } => {
            AppError::PayloadTooLarge(message)
        }
        InputError::MissingEmailColumn(_)
        | InputError::UnknownColumn(_)
        | InputError::DuplicateColumn(_)
        | InputError::Other(_) => AppError::bad_request("invalid_input", message),
        _ => AppError::Unprocessable(message),
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::internal(format!("I/O: {e}"))
    }
}
