//! What the HTTP adapters share: building a pooled client, sending a JSON request, and
//! turning HTTP failures into [`Error`] variants exactly once, so the Serper and
//! OpenAI-compatible adapters cannot drift apart in how they report the same failure.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{Error, ProviderKind, Result};

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

/// Sends the request and parses a 2xx body as `T`; every failure becomes an [`Error`].
///
/// The body is read as bytes first so that a 2xx body we cannot parse is reported as
/// [`Error::BadResponse`] and not confused with a transport failure.
pub(crate) async fn send_json<T: DeserializeOwned>(
    provider: ProviderKind,
    request: reqwest::RequestBuilder,
) -> Result<T> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(provider, e))?;
    let status = response.status();
    if !status.is_success() {
        let headers = response.headers().clone();
        // The body only decorates the error; failing to read it must not hide the status.
        let body = response.text().await.unwrap_or_default();
        return Err(status_error(
            provider,
            status,
            &headers,
            &body,
            SystemTime::now(),
        ));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error(provider, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::BadResponse {
        provider,
        message: e.to_string(),
    })
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
