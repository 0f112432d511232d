//! What a provider says about its own limits, read from the headers of every response.
//!
//! Groq and OpenAI send, on successes and 429s alike:
//!
//! | header | meaning | examples seen |
//! |---|---|---|
//! | `x-ratelimit-limit-requests` / `-tokens` | the bucket's size (Groq: requests per *day*, tokens per minute) | `14400`, `6000` |
//! | `x-ratelimit-remaining-requests` / `-tokens` | what is left now | `14370`, `5997` |
//! | `x-ratelimit-reset-requests` / `-tokens` | time until the bucket is full again, a Go duration | `2m59.56s`, `7.66s`, `1s`, `6m0s`, `12ms` |
//! | `retry-after` (429 only) | seconds to wait | `2`, `578` |
//!
//! Sources: Groq's rate-limit documentation (<https://console.groq.com/docs/rate-limits>,
//! the `2m59.56s` / `7.66s` examples), the OpenAI community thread "How to get rate
//! limit reset time for response API?" (real chat-completion headers with `12ms` /
//! `9ms`), and the `opendev-http` crate's Groq adapter docs (`1s`, `6m0s`).
//!
//! The adapters do not know about limiters. [`crate::providers::policy::Limit`] runs each
//! call inside [`observe`], and `http.rs` hands the headers of every response to
//! [`report_http`], which passes them to the observer of the call that is running (a
//! tokio task-local: the adapter future is awaited inside the `Limit` future).

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// The rate-limit headers of one response; every field is optional because providers
/// send different subsets (Serper sends none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateHeaders {
    pub limit_requests: Option<u64>,
    pub remaining_requests: Option<u64>,
    pub reset_requests: Option<Duration>,
    pub limit_tokens: Option<u64>,
    pub remaining_tokens: Option<u64>,
    pub reset_tokens: Option<Duration>,
    pub retry_after: Option<Duration>,
}

impl RateHeaders {
    /// Reads the headers named in the module docs; unreadable values are left out.
    pub fn from_headers(headers: &HeaderMap, now: SystemTime) -> Self {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let count = |name: &str| text(name).and_then(|v| v.trim().parse::<u64>().ok());
        let reset = |name: &str| text(name).and_then(parse_reset);
        Self {
            limit_requests: count("x-ratelimit-limit-requests"),
            remaining_requests: count("x-ratelimit-remaining-requests"),
            reset_requests: reset("x-ratelimit-reset-requests"),
            limit_tokens: count("x-ratelimit-limit-tokens"),
            remaining_tokens: count("x-ratelimit-remaining-tokens"),
            reset_tokens: reset("x-ratelimit-reset-tokens"),
            retry_after: super::http::retry_after(headers, now),
        }
    }

    /// True when the response said nothing about limits.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// One line for logs and `outreach check`, e.g.
    /// `requests 14370/14400 (full in 2m59.56s), tokens 5997/6000 (full in 30ms)`.
    pub fn describe(&self) -> String {
        let part =
            |what: &str, remaining: Option<u64>, limit: Option<u64>, reset: Option<Duration>| {
                if remaining.is_none() && limit.is_none() {
                    return None;
                }
                let show = |n: Option<u64>| n.map_or_else(|| "?".to_string(), |n| n.to_string());
                let mut s = format!("{what} {}/{}", show(remaining), show(limit));
                if let Some(reset) = reset {
                    s.push_str(&format!(" (full in {reset:.2?})"));
                }
                Some(s)
            };
        let mut parts: Vec<String> = [
            part(
                "requests",
                self.remaining_requests,
                self.limit_requests,
                self.reset_requests,
            ),
            part(
                "tokens",
                self.remaining_tokens,
                self.limit_tokens,
                self.reset_tokens,
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let Some(wait) = self.retry_after {
            parts.push(format!("retry after {wait:.2?}"));
        }
        if parts.is_empty() {
            "no rate-limit headers".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Parses a reset time: a Go duration (`2m59.56s`, `7.66s`, `6m0s`, `12ms`, `1h2m`,
/// `500us`) or plain seconds (`1.5`).
pub fn parse_reset(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds).ok())
            .flatten();
    }
    let mut total = 0.0f64;
    let mut rest = value;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * seconds_per_unit;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Receives the rate-limit headers of the responses of one call.
pub trait RateObserver: Send + Sync {
    fn observe(&self, headers: &RateHeaders);
}

/// Keeps the last headers seen (what [`crate::providers::policy::Limit`] uses).
#[derive(Debug, Default)]
pub struct LastHeaders(Mutex<Option<RateHeaders>>);

impl LastHeaders {
    pub fn take(&self) -> Option<RateHeaders> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl RateObserver for LastHeaders {
    fn observe(&self, headers: &RateHeaders) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(headers.clone());
    }
}

tokio::task_local! {
    static OBSERVER: Arc<dyn RateObserver>;
}

/// Runs `call` with `observer` receiving the rate-limit headers of every response the
/// call gets (through [`report`]). Scopes nest: an observer further out (the
/// preflight's, around a `Limit`'s) still receives them.
pub async fn observe<F: Future>(observer: Arc<dyn RateObserver>, call: F) -> F::Output {
    let observer = match OBSERVER.try_with(Arc::clone) {
        Ok(outer) => Arc::new(Both(observer, outer)) as Arc<dyn RateObserver>,
        Err(_) => observer,
    };
    OBSERVER.scope(observer, call).await
}

struct Both(Arc<dyn RateObserver>, Arc<dyn RateObserver>);

impl RateObserver for Both {
    fn observe(&self, headers: &RateHeaders) {
        self.0.observe(headers);
        self.1.observe(headers);
    }
}

/// Hands `headers` to the observer of the running call, if there is one. Adapters
/// that are not HTTP (simulated providers in benchmarks) call this directly.
pub fn report(headers: &RateHeaders) {
    if headers.is_empty() {
        return;
    }
    let _ = OBSERVER.try_with(|observer| observer.observe(headers));
}

/// The hook in `http.rs`: every response's headers, successes and errors alike.
pub(crate) fn report_http(headers: &HeaderMap) {
    // Parsing is skipped when nobody listens (a bare adapter).
    if OBSERVER.try_with(|_| ()).is_err() {
        return;
    }
    report(&RateHeaders::from_headers(headers, SystemTime::now()));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn go_durations_and_seconds() {
        let cases = [
            ("2m59.56s", Some(179.56)),
            ("7.66s", Some(7.66)),
            ("1s", Some(1.0)),
            ("6m0s", Some(360.0)),
            ("12ms", Some(0.012)),
            ("1h2m3s", Some(3723.0)),
            ("9m38.4s", Some(578.4)),
            ("1.5", Some(1.5)),
            ("0", Some(0.0)),
            ("", None),
            ("soon", None),
            ("5x", None),
            ("-1", None),
            ("s", None),
        ];
        for (text, expected) in cases {
            let got = parse_reset(text).map(|d| d.as_secs_f64());
            match (got, expected) {
                (Some(g), Some(e)) => assert!((g - e).abs() < 1e-9, "{text}: {g} != {e}"),
                (g, e) => assert_eq!(g, e, "{text}"),
            }
        }
    }

    /// The headers of a Groq 200, as in Groq's documentation.
    fn groq_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("x-ratelimit-limit-requests", "14400"),
            ("x-ratelimit-limit-tokens", "6000"),
            ("x-ratelimit-remaining-requests", "14370"),
            ("x-ratelimit-remaining-tokens", "5997"),
            ("x-ratelimit-reset-requests", "2m59.56s"),
            ("x-ratelimit-reset-tokens", "7.66s"),
        ] {
            h.insert(name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn reads_groq_headers() {
        let parsed = RateHeaders::from_headers(&groq_headers(), SystemTime::now());
        assert_eq!(parsed.limit_requests, Some(14400));
        assert_eq!(parsed.remaining_requests, Some(14370));
        assert_eq!(parsed.reset_requests, Some(Duration::from_millis(179_560)));
        assert_eq!(parsed.limit_tokens, Some(6000));
        assert_eq!(parsed.remaining_tokens, Some(5997));
        assert_eq!(parsed.reset_tokens, Some(Duration::from_millis(7660)));
        assert_eq!(parsed.retry_after, None);
        assert_eq!(
            parsed.describe(),
            "requests 14370/14400 (full in 179.56s), tokens 5997/6000 (full in 7.66s)"
        );
        assert!(RateHeaders::from_headers(&HeaderMap::new(), SystemTime::now()).is_empty());
    }

    #[tokio::test]
    async fn reports_reach_the_observer_of_the_running_call_only() {
        let seen = Arc::new(LastHeaders::default());
        let headers = RateHeaders::from_headers(&groq_headers(), SystemTime::now());
        report(&headers); // nobody listens: dropped
        observe(seen.clone(), async { report_http(&groq_headers()) }).await;
        assert_eq!(seen.take(), Some(headers.clone()));
        report_http(&groq_headers()); // outside the scope again
        assert_eq!(seen.take(), None);
        // Nested scopes: both observers see the headers.
        let inner = Arc::new(LastHeaders::default());
        let inner_ref = inner.clone();
        observe(seen.clone(), async move {
            observe(inner_ref, async { report_http(&groq_headers()) }).await
        })
        .await;
        assert_eq!(seen.take(), Some(headers.clone()));
        assert_eq!(inner.take(), Some(headers));
    }
}
