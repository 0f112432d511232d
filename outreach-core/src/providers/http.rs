//! What the HTTP adapters share: building a pooled client, sending a JSON request, and
//! turning HTTP failures into [`Error`] variants exactly once, so the Serper and
//! OpenAI-compatible adapters cannot drift apart in how they report the same failure.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{Error, ProviderKind, Result};

/// The longest provider wait (a 429's `Retry-After`, or the wait its body names) a run
/// sits out; a longer one is [`Error::QuotaExhausted`] and stops the run
/// (`OUTREACH_MAX_WAIT_SECS`).
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(120);

/// `OUTREACH_MAX_WAIT_SECS` from a variable source (already trimmed, non-empty).
pub(crate) fn max_wait_from(var: &dyn Fn(&str) -> Option<String>) -> Option<Duration> {
    var("OUTREACH_MAX_WAIT_SECS")
        .and_then(|v| v.parse::<f64>().ok())
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
}

/// How much of an error body is kept in [`Error::Upstream`]: enough to read the
/// provider's message, short enough for a log line.
const ERROR_BODY_CHARS: usize = 200;

/// One pooled client per adapter. `request_timeout` bounds the whole exchange
/// (connect, send, and reading the body).
pub(crate) fn build_client(
    provider: ProviderKind,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .user_agent(concat!("outreach/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Config(format!("could not build the {provider} HTTP client: {e}")))
}

/// A header value that carries a secret: validated once at construction, and marked
/// sensitive so reqwest and `Debug` output never show it.
pub(crate) fn secret_header(provider: ProviderKind, value: &str) -> Result<HeaderValue> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        // The value itself is a secret: say what is wrong, never echo it.
        Error::Config(format!(
            "the {provider} API key contains characters not allowed in an HTTP header"
        ))
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// What came back: a 2xx body, or a non-2xx answer to classify.
pub(crate) enum Reply {
    Success(bytes::Bytes),
    Failure {
        status: StatusCode,
        headers: HeaderMap,
        body: String,
    },
}

/// Sends the request; only transport failures are errors here, so an adapter can look
/// at a failure's whole body (e.g. to adapt the request and send it again).
pub(crate) async fn send(
    provider: ProviderKind,
    request: reqwest::RequestBuilder,
) -> Result<Reply> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(provider, e))?;
    let status = response.status();
    // Every response, success or not, tells the limiter what the provider allows.
    super::rate_headers::report_http(response.headers());
    if !status.is_success() {
        let headers = response.headers().clone();
        // The body only decorates the error; failing to read it must not hide the status.
        let body = response.text().await.unwrap_or_default();
        return Ok(Reply::Failure {
            status,
            headers,
            body,
        });
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error(provider, e))?;
    Ok(Reply::Success(bytes))
}

/// Parses a 2xx body as `T`; a body we cannot parse is [`Error::BadResponse`], not
/// confused with a transport failure.
pub(crate) fn parse_body<T: DeserializeOwned>(provider: ProviderKind, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::BadResponse {
        provider,
        message: e.to_string(),
    })
}

/// An error body as OpenAI-compatible servers and Serper send it, normalised:
/// `{"error": {"message", "type", "code", "param", "failed_generation"}}` (OpenAI,
/// Groq, vLLM, llama.cpp), `{"error": "text"}` (Ollama's native API), `{"message",
/// "statusCode"}` (Serper), `{"detail": …}` (FastAPI servers such as llama-cpp-python).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub message: String,
    pub kind: Option<String>,
    pub code: Option<String>,
    pub param: Option<String>,
    /// Groq's `json_validate_failed`: the text the model wrote.
    pub failed_generation: Option<String>,
}

impl ErrorBody {
    /// The body's fields, or the raw text as the message when it is not JSON we know.
    pub(crate) fn parse(body: &str) -> Self {
        let text = |v: Option<&serde_json::Value>| -> Option<String> {
            match v? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
            return Self {
                message: body.trim().to_owned(),
                ..Self::default()
            };
        };
        let error = value.get("error");
        match error {
            Some(serde_json::Value::Object(e)) => Self {
                message: text(e.get("message")).unwrap_or_default(),
                kind: text(e.get("type")),
                code: text(e.get("code")),
                param: text(e.get("param")),
                failed_generation: text(e.get("failed_generation")),
            },
            Some(serde_json::Value::String(message)) => Self {
                message: message.clone(),
                ..Self::default()
            },
            _ => Self {
                message: text(value.get("message"))
                    .or_else(|| text(value.get("detail")))
                    .unwrap_or_else(|| body.trim().to_owned()),
                ..Self::default()
            },
        }
    }

    /// The message, short enough for a log line or an error.
    pub(crate) fn short_message(&self) -> String {
        truncate(self.message.trim(), ERROR_BODY_CHARS)
    }

    /// True when the code or message names the model as unknown or retired.
    pub(crate) fn is_model_not_found(&self) -> bool {
        let code = self.code.as_deref().unwrap_or_default();
        if matches!(code, "model_not_found" | "model_decommissioned") {
            return true;
        }
        let m = self.message.to_ascii_lowercase();
        m.contains("model")
            && (m.contains("not found")
                || m.contains("does not exist")
                || m.contains("decommissioned"))
    }

    /// The wait a 429 body names, e.g. Groq's "Please try again in 9m38.016s" or
    /// "try again in 4.77s" (used when no `Retry-After` header came with it).
    pub(crate) fn wait_hint(&self) -> Option<Duration> {
        let lower = self.message.to_ascii_lowercase();
        let start = lower.find("try again in ")? + "try again in ".len();
        parse_go_duration(&lower[start..])
    }
}

/// The leading Go-style duration of `text` ("1h2m3.5s", "9m38.016s", "450ms"); stops at
/// the first character that is not part of it.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = text;
    let mut any = false;
    loop {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            break;
        }
        let Ok(n) = rest[..digits].parse::<f64>() else {
            break;
        };
        let unit_text = &rest[digits..];
        let (scale, len) = if unit_text.starts_with("ms") {
            (0.001, 2)
        } else if unit_text.starts_with('h') {
            (3600.0, 1)
        } else if unit_text.starts_with('m') {
            (60.0, 1)
        } else if unit_text.starts_with('s') {
            (1.0, 1)
        } else {
            break;
        };
        total += n * scale;
        any = true;
        rest = &unit_text[len..];
    }
    any.then(|| Duration::try_from_secs_f64(total).ok())
        .flatten()
}

/// A 429 (already mapped to [`Error::RateLimited`]) whose wait exceeds `max_wait`
/// becomes [`Error::QuotaExhausted`]: waiting that long per row is no plan.
pub(crate) fn over_max_wait(error: Error, body: &ErrorBody, max_wait: Duration) -> Error {
    match error {
        Error::RateLimited {
            provider,
            retry_after,
        } => match retry_after.or_else(|| body.wait_hint()) {
            Some(wait) if wait > max_wait => Error::QuotaExhausted {
                provider,
                retry_after: wait,
                message: body.short_message(),
            },
            wait => Error::RateLimited {
                provider,
                retry_after: wait,
            },
        },
        other => other,
    }
}

/// Maps a non-2xx answer to the error the port contract names for it.
pub(crate) fn status_error(
    provider: ProviderKind,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now: SystemTime,
) -> Error {
    match status.as_u16() {
        code @ (401 | 403) => Error::ProviderAuth {
            provider,
            status: code,
        },
        402 => Error::ProviderOutOfCredit { provider },
        429 => Error::RateLimited {
            provider,
            retry_after: retry_after(headers, now),
        },
        code => Error::Upstream {
            provider,
            status: code,
            body: truncate(body.trim(), ERROR_BODY_CHARS),
        },
    }
}

/// Maps a reqwest failure (no usable status) to `Timeout` or `Network`.
///
/// The URL is dropped from the message: a configured endpoint may carry a token in
/// its query string, and these messages end up in logs and job records.
pub(crate) fn transport_error(provider: ProviderKind, error: reqwest::Error) -> Error {
    // A connect timeout is both `is_connect` and `is_timeout`; "timed out" is the more
    // useful description, so it is checked first.
    if error.is_timeout() {
        return Error::Timeout { provider };
    }
    Error::Network {
        provider,
        message: error_chain(&error.without_url()),
    }
}

/// The error and its sources on one line ("error sending request: connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// The delay a 429 asks for. `Retry-After` may be delay-seconds (some providers send
/// fractions, e.g. `1.5`) or an HTTP-date; OpenAI-style servers may also send
/// `retry-after-ms`, which is more precise and wins when both are present.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(parse_seconds) {
        return Some(ms / 1000);
    }
    header(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, now))
}

/// Parses one `Retry-After` value: seconds, or an HTTP-date (a date in the past means
/// "now").
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    parse_seconds(value).or_else(|| {
        let at = httpdate::parse_http_date(value).ok()?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    })
}

/// A non-negative decimal number as a duration in its unit (seconds here, or
/// milliseconds once divided by the caller).
fn parse_seconds(value: &str) -> Option<Duration> {
    let value = value.trim();
    if !value.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let n: f64 = value.parse().ok()?;
    Duration::try_from_secs_f64(n).ok()
}

/// The first `max` characters (not bytes: never splits a UTF-8 sequence), with an
/// ellipsis when something was cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap()
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let cases = [
            ("1", Some(Duration::from_secs(1))),
            (" 120 ", Some(Duration::from_secs(120))),
            ("1.5", Some(Duration::from_millis(1500))),
            ("0", Some(Duration::ZERO)),
            (
                "Wed, 21 Oct 2015 07:28:30 GMT",
                Some(Duration::from_secs(30)),
            ),
            ("Wed, 21 Oct 2015 07:27:00 GMT", Some(Duration::ZERO)),
            ("-1", None),
            ("soon", None),
            ("", None),
            ("NaN", None),
            ("inf", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_retry_after(value, now()), expected, "{value:?}");
        }
    }

    #[test]
    fn retry_after_ms_wins() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers, now()), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(
            retry_after(&headers, now()),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn status_mapping() {
        let h = HeaderMap::new();
        let p = ProviderKind::Search;
        let map = |code: u16, body: &str| {
            status_error(p, StatusCode::from_u16(code).unwrap(), &h, body, now())
        };
        assert!(matches!(
            map(401, ""),
            Error::ProviderAuth { status: 401, .. }
        ));
        assert!(matches!(
            map(403, ""),
            Error::ProviderAuth { status: 403, .. }
        ));
        assert!(matches!(map(402, ""), Error::ProviderOutOfCredit { .. }));
        assert!(matches!(
            map(429, ""),
            Error::RateLimited {
                retry_after: None,
                ..
            }
        ));
        match map(503, &"é".repeat(500)) {
            Error::Upstream { status, body, .. } => {
                assert_eq!(status, 503);
                assert_eq!(body.chars().count(), ERROR_BODY_CHARS + 1);
            }
            other => panic!("unexpected {other:?}"),
        }
        match map(400, " short ") {
            Error::Upstream { status, body, .. } => {
                assert_eq!((status, body.as_str()), (400, "short"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
