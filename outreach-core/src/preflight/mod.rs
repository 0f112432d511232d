//! Preflight: one call to each provider before the first row, so a bad key, an
//! unknown model, a request shape the server refuses or a used-up quota costs one
//! search and one tiny completion, not a whole run.
//!
//! [`check`] makes the calls and diagnoses them (`outreach check` prints the result,
//! `GET /healthz?deep=1` returns it). [`Providers::preflight`] runs the same check once
//! per process (per [`Providers`]) and returns an error when a provider would fail every
//! row; every run's providers wait for it right before their first real call
//! ([`lazy`]), so `enrich`, Python's `Pipeline.enrich` and hosted jobs pay for it once,
//! and a run that never calls a provider (suppressed rows, an empty file) not at all.
//! A passed preflight is remembered for good; a failed one for
//! [`FAILED_PREFLIGHT_MEMORY`], after which the next run checks again (the operator may
//! have fixed the cause).
//!
//! The calls go through the same policy stack as the run (retries, limiter, breaker),
//! so a 429 is retried as usual, and the rate-limit headers they bring back both teach
//! the limiter and appear in the report.

mod lazy;

pub(crate) use lazy::Gate;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::OnceCell;

use crate::enricher::Providers;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::providers::llm::{JsonForm, JsonSchemaSpec, ReplyFormat};
use crate::providers::rate_headers::{self, LastHeaders};
use crate::providers::{ChatMessage, ChatRequest, SearchQuery};

/// The preflight's tiny structured answer.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Ping {
    ok: bool,
}

/// The query of the preflight search: any cheap query with results.
pub const PREFLIGHT_QUERY: &str = "example.com";

/// How one provider answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// It answered: the key, model and request shape work.
    Ok,
    /// No key configured: rows get the fallback for this provider.
    NotConfigured,
    /// It failed in a way that may pass (timeout, 5xx, unreachable): the run goes on,
    /// and the circuit breaker stops it if the failures continue.
    Degraded,
    /// It failed in a way every row would repeat: the run must not start.
    Failed,
}

/// The diagnosis of one provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderCheck {
    pub provider: &'static str,
    pub status: CheckStatus,
    /// One line for a person: what works, or what to fix.
    pub message: String,
    /// The model asked (LLM only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The JSON form the completion was asked in, and whether the answer parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// The rate-limit headers the provider sent (`x-ratelimit-*`), described.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<String>,
    pub millis: u64,
}

/// Both providers' diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreflightReport {
    pub search: ProviderCheck,
    pub llm: ProviderCheck,
}

impl PreflightReport {
    /// True when no configured provider failed for good.
    pub fn passed(&self) -> bool {
        self.search.status != CheckStatus::Failed && self.llm.status != CheckStatus::Failed
    }

    /// True when both providers are configured and answered.
    pub fn all_ok(&self) -> bool {
        self.search.status == CheckStatus::Ok && self.llm.status == CheckStatus::Ok
    }
}

/// Errors that mean every row would fail the same way. Beyond the fatal ones (key,
/// balance, quota), a 4xx to a request of exactly the run's shape is one: a model
/// that does not exist (404), a parameter the model refuses (400), a body the server
/// cannot take (413, 422).
fn stops_the_run(error: &Error) -> bool {
    match error {
        Error::Upstream { status, .. } => (400..500).contains(status) && *status != 429,
        Error::Cancelled => false,
        other => other.is_fatal(),
    }
}

/// Calls each configured provider once and diagnoses the answers; returns the report
/// and, when a provider would fail every row, that provider's error.
pub async fn check_detailed(
    providers: &Providers,
    model: Option<&str>,
) -> (PreflightReport, Option<Error>) {
    let mut stopping = None;
    let search = match &providers.search {
        None => not_configured(
            "search",
            "SERPER_API_KEY is not set: rows get the research fallback",
        ),
        Some(search) => {
            let (result, headers, millis) =
                timed(search.search(&SearchQuery::new(PREFLIGHT_QUERY))).await;
            let (status, message) = match result {
                Ok(results) => (
                    CheckStatus::Ok,
                    format!(
                        "key accepted; {} results for a test query",
                        results.organic.len()
                    ),
                ),
                Err(e) => diagnose(e, &mut stopping),
            };
            ProviderCheck {
                provider: "search",
                status,
                message,
                model: None,
                json: None,
                rate_limits: headers,
                millis,
            }
        }
    };
    let llm = match &providers.llm {
        None => not_configured(
            "llm",
            "GROQ_API_KEY / LLM_API_KEY is not set: rows get the fallbacks",
        ),
        Some(llm) => {
            let request = ChatRequest {
                messages: vec![
                    ChatMessage::system("You answer with one JSON object and nothing else."),
                    ChatMessage::user(r#"Reply with {"ok": true}."#),
                ],
                // The strongest structured form, so the preflight negotiates the form the
                // run's research calls will use (and the adapter remembers it).
                format: ReplyFormat::JsonSchema(JsonSchemaSpec::for_type::<Ping>("preflight")),
                // Room for a reasoning model to think briefly and still answer.
                max_tokens: Some(256),
                ..ChatRequest::default()
            };
            let (result, headers, millis) = timed(llm.complete(&request)).await;
            let mut json = None;
            let (status, message) = match result {
                Ok(response) => {
                    let parsed = serde_json::from_str::<serde_json::Value>(response.content.trim())
                        .is_ok_and(|v| v.is_object());
                    let form = response.json_form.map_or(
                        "none (the server ignored response_format)",
                        JsonForm::as_str,
                    );
                    json = Some(if parsed {
                        format!("JSON form that works: {form}; the answer parsed as a JSON object")
                    } else {
                        format!(
                            "JSON form that works: {form}; but the answer was not a JSON object"
                        )
                    });
                    match model {
                        Some(m) => match unserved(&**llm, m).await {
                            Some(error) => diagnose(error, &mut stopping),
                            None => (
                                CheckStatus::Ok,
                                format!("key accepted; model `{m}` answered"),
                            ),
                        },
                        None => (CheckStatus::Ok, "key accepted; the model answered".into()),
                    }
                }
                Err(e) => diagnose(e, &mut stopping),
            };
            ProviderCheck {
                provider: "llm",
                status,
                message,
                model: model.map(str::to_owned),
                json,
                rate_limits: headers,
                millis,
            }
        }
    };
    (PreflightReport { search, llm }, stopping)
}

/// When the completion answered, the endpoint may still have used another model than
/// the one named (llama-cpp-python answers for any name with the model it has): if it
/// lists the models it serves and `model` is not among them, the model is not found.
/// An endpoint that cannot list them (or fails to) is taken at its word.
async fn unserved(llm: &dyn crate::providers::Llm, model: &str) -> Option<Error> {
    let served = match llm.served_models().await {
        Ok(Some(served)) => served,
        Ok(None) => return None,
        Err(e) => {
            tracing::debug!(error = %e, "the LLM endpoint did not list its models");
            return None;
        }
    };
    // Ollama lists `name:latest` and answers to `name` too.
    let latest = format!("{model}:latest");
    if served.iter().any(|id| *id == model || *id == latest) {
        return None;
    }
    const SHOWN: usize = 10;
    let mut names = served
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if served.len() > SHOWN {
        names.push_str(&format!(", … ({} in all)", served.len()));
    }
    Some(Error::ModelNotFound {
        provider: crate::error::ProviderKind::Llm,
        model: model.to_owned(),
        message: format!(
            "the endpoint serves {names}; it answered the test request with one of those instead"
        ),
    })
}

/// [`check_detailed`] without the error.
pub async fn check(providers: &Providers, model: Option<&str>) -> PreflightReport {
    check_detailed(providers, model).await.0
}

fn not_configured(provider: &'static str, message: &str) -> ProviderCheck {
    ProviderCheck {
        provider,
        status: CheckStatus::NotConfigured,
        message: message.into(),
        model: None,
        json: None,
        rate_limits: None,
        millis: 0,
    }
}

fn diagnose(error: Error, stopping: &mut Option<Error>) -> (CheckStatus, String) {
    let message = match &error {
        Error::Upstream {
            status: 404, body, ..
        } => {
            format!("the model or endpoint was not found (HTTP 404): {body}")
        }
        other => other.to_string(),
    };
    if stops_the_run(&error) {
        if stopping.is_none() {
            let provider = match &error {
                Error::Upstream { provider, .. } => Some(*provider),
                _ => None,
            };
            *stopping = Some(match provider {
                // A 4xx is not fatal per row elsewhere; before the run it is.
                Some(provider) => Error::PreflightFailed {
                    provider,
                    message: message.clone(),
                },
                None => error,
            });
        }
        (CheckStatus::Failed, message)
    } else {
        (CheckStatus::Degraded, message)
    }
}

async fn timed<T>(
    call: impl std::future::Future<Output = Result<T>>,
) -> (Result<T>, Option<String>, u64) {
    let seen = Arc::new(LastHeaders::default());
    let started = Instant::now();
    let result = rate_headers::observe(seen.clone(), call).await;
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    (result, seen.take().map(|h| h.describe()), millis)
}

/// A report and when it was made.
type Dated = (Instant, Arc<PreflightReport>);

/// The preflight of one [`Providers`], run at most once successfully. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct PreflightOnce {
    skip: bool,
    passed: Arc<OnceCell<Arc<PreflightReport>>>,
    /// One check at a time: runs starting together wait for the first one's answer.
    running: Arc<tokio::sync::Mutex<()>>,
    /// The last failure, answered again for [`FAILED_PREFLIGHT_MEMORY`].
    failed: Arc<Mutex<Option<(Instant, Error)>>>,
    /// The last deep health check, reused for [`DEEP_HEALTH_MAX_AGE`].
    recent: Arc<Mutex<Option<Dated>>>,
}

impl PreflightOnce {
    /// A preflight that never calls the providers (for tests and embedders whose
    /// providers are not remote services).
    pub fn skip() -> Self {
        Self {
            skip: true,
            ..Self::default()
        }
    }
}

/// How long a failed preflight is answered from memory: the runs (chunks, jobs) that
/// start meanwhile fail at once instead of each asking the providers again. After it,
/// the next run checks again (the operator may have fixed the cause).
pub const FAILED_PREFLIGHT_MEMORY: Duration = Duration::from_secs(60);

/// How long a deep health report is reused: `/healthz?deep=1` is unauthenticated, and
/// every fresh check costs a search and a completion.
pub const DEEP_HEALTH_MAX_AGE: Duration = Duration::from_secs(60);

impl Providers {
    /// True while the preflight has neither passed nor been skipped: the next
    /// [`Self::preflight`] will call the providers.
    pub fn preflight_pending(&self) -> bool {
        !self.preflight.skip && self.preflight.passed.get().is_none()
    }

    /// Runs the preflight unless it passed before in this process; an error when a
    /// provider would fail every row (the run must not start). `Ok(None)` when the
    /// preflight is skipped.
    pub async fn preflight(&self) -> Result<Option<Arc<PreflightReport>>> {
        if self.preflight.skip {
            return Ok(None);
        }
        if let Some(report) = self.preflight.passed.get() {
            return Ok(Some(report.clone()));
        }
        let _one_at_a_time = self.preflight.running.lock().await;
        if let Some(report) = self.preflight.passed.get() {
            return Ok(Some(report.clone()));
        }
        if let Some((at, error)) = &*self
            .preflight
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            if at.elapsed() < FAILED_PREFLIGHT_MEMORY {
                return Err(lazy::replay(error));
            }
        }
        // Counted in the process's provider metrics, not in the run's summary: the
        // preflight is the process's cost, paid once, not a cost of these rows.
        let (report, stopping) =
            crate::metrics::scoped(Arc::new(Metrics::default()), check_detailed(self, None)).await;
        if let Some(error) = stopping {
            tracing::error!(%error, "preflight failed: the run does not start");
            *self
                .preflight
                .failed
                .lock()
                .unwrap_or_else(PoisonError::into_inner) =
                Some((Instant::now(), lazy::replay(&error)));
            return Err(error);
        }
        for check in [&report.search, &report.llm] {
            if check.status == CheckStatus::Degraded {
                tracing::warn!(provider = check.provider, message = %check.message, "preflight: provider degraded; starting anyway");
            }
        }
        let report = Arc::new(report);
        let _ = self.preflight.passed.set(report.clone());
        Ok(Some(report))
    }

    /// The report for `GET /healthz?deep=1`: a fresh [`check`], or the last one when
    /// it is younger than [`DEEP_HEALTH_MAX_AGE`].
    pub async fn deep_check(&self) -> Arc<PreflightReport> {
        let recent = |once: &PreflightOnce| {
            once.recent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .filter(|(at, _)| at.elapsed() < DEEP_HEALTH_MAX_AGE)
                .map(|(_, report)| report.clone())
        };
        if let Some(report) = recent(&self.preflight) {
            return report;
        }
        let report = Arc::new(check(self, None).await);
        *self
            .preflight
            .recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), report.clone()));
        report
    }
}
