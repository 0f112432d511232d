//! What the destination adapters share: one HTTP client per adapter, and failures
//! classified by `providers::http` exactly as search and LLM failures are.

use std::time::SystemTime;

use reqwest::StatusCode;

use super::DestinationConfig;
use crate::error::{Error, ProviderKind, Result};
use crate::providers::http::{self, ErrorBody, Reply};

pub(super) const PROVIDER: ProviderKind = ProviderKind::Destination;

pub(super) fn client(config: &DestinationConfig) -> Result<reqwest::Client> {
    http::build_client(
        PROVIDER,
        config.policy.connect_timeout,
        config.policy.request_timeout,
    )
}

pub(super) fn secret(value: &str) -> Result<reqwest::header::HeaderValue> {
    http::secret_header(PROVIDER, value)
}

/// A non-2xx answer that is not a per-lead verdict: the error the policies act on.
pub(super) fn failure(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> Error {
    match http::status_error(PROVIDER, status, headers, body, SystemTime::now()) {
        // The destination's own message is what the user needs (e.g. "campaign not
        // found"), not the raw body.
        Error::Upstream { status, .. } if status < 500 => Error::Upstream {
            provider: PROVIDER,
            status,
            body: message(body),
        },
        other => other,
    }
}

/// The destination's message from an error body (JSON `message`/`error`, or text).
pub(super) fn message(body: &str) -> String {
    // Fastify (Instantly) sends `{"statusCode", "error": "Bad Request", "message"}`:
    // the top-level `message` is the useful part, not `error`.
    let top = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned));
    let text = match top {
        Some(m) => {
            ErrorBody::parse(&serde_json::json!({ "message": m }).to_string()).short_message()
        }
        None => ErrorBody::parse(body).short_message(),
    };
    if text.is_empty() {
        "no message".to_string()
    } else {
        text
    }
}

pub(super) async fn send(request: reqwest::RequestBuilder) -> Result<Reply> {
    http::send(PROVIDER, request).await
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    http::parse_body(PROVIDER, bytes)
}
