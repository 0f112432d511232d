//! [`Limit`]: at most N requests in flight, and starts paced by a [`RateLimiter`].
//!
//! The default limiter, [`AdaptiveRateLimiter`](super::AdaptiveRateLimiter), learns the
//! provider's limit from its 429s and rate-limit headers (see `adaptive.rs`); until
//! then only the in-flight bound applies. [`LocalRateLimiter`] is a fixed rate (GCRA
//! from `governor`) for one process. With many worker processes a deployment with a
//! shared Redis uses `backends::redis_rate_limit::RedisRateLimiter` (feature `redis`),
//! which keeps the learned state for all of them, through [`Limit::with_limiter`] or
//! `wrap_search_with`/`wrap_llm_with`.
//!
//! Every attempt runs inside [`rate_headers::observe`], so the headers the adapter
//! received reach the limiter with the outcome ([`RateLimiter::feedback`]).

use std::fmt::Debug;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota};
use tokio::sync::Semaphore;

use super::adaptive::AdaptiveRateLimiter;
use crate::error::{Error, ProviderKind, Result};
use crate::providers::rate_headers::{self, LastHeaders, RateHeaders};
use crate::providers::{
    ChatRequest, ChatResponse, Llm, SearchProvider, SearchQuery, SearchResults,
};

/// When a request was let go, and whether the limiter held it back to get there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub started: tokio::time::Instant,
    pub throttled: bool,
}

/// How an attempt ended, as far as the rate is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A success; `tokens` = the usage the provider reported, if any.
    Success { tokens: Option<u64> },
    /// HTTP 429.
    RateLimited,
    /// Any other failure (says nothing about the rate).
    Failed,
}

/// What [`Limit`] tells the limiter after each attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub ticket: Ticket,
    pub outcome: Outcome,
    /// The rate-limit headers of the response (or the `Retry-After` of a 429 that
    /// came without headers).
    pub headers: Option<RateHeaders>,
    /// The tokens the request was expected to use (0 for search).
    pub estimated_tokens: f64,
}

/// What a limiter believes about its provider now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateSnapshot {
    /// The pace now (requests per second); `None` = only the in-flight bound.
    pub requests_per_second: Option<f64>,
    /// The rate learned from 429s, if any.
    pub learned_per_second: Option<f64>,
    /// How many times a 429 cut the rate.
    pub cuts: u64,
    /// How long every start is paused for (an exhausted bucket).
    pub paused_for: Option<Duration>,
    /// The last rate-limit headers seen.
    pub last_headers: Option<RateHeaders>,
}

/// Spaces request starts out in time.
///
/// # Contract
/// - `until_ready` returns when one more request may start, and counts that start: N
///   calls that return within a window of time T are at most what the configured rate
///   allows in T (for burst 1 and rate R: at most `1 + R·T`).
/// - It never fails: a limiter whose shared state is unreachable falls back to a
///   weaker limit (say, per process) rather than stop the run, and logs that it did.
/// - Dropping the future before it returns may still use up a start (a reservation
///   is not handed back); it never lets more through.
/// - `acquire` is `until_ready` for a request of an estimated size, which may refuse
///   (returning the wait) when the provider has paused every start for longer than
///   `max_wait`; `feedback` hands the limiter each attempt's outcome and headers. A
///   fixed-rate limiter keeps the defaults (always waits, ignores feedback).
#[async_trait]
pub trait RateLimiter: Send + Sync + Debug + 'static {
    async fn until_ready(&self);

    async fn acquire(&self, estimated_tokens: f64, max_wait: Duration) -> Result<Ticket, Duration> {
        let _ = (estimated_tokens, max_wait);
        let asked = tokio::time::Instant::now();
        self.until_ready().await;
        let started = tokio::time::Instant::now();
        Ok(Ticket {
            started,
            throttled: started > asked,
        })
    }

    async fn feedback(&self, feedback: &Feedback) {
        let _ = feedback;
    }

    fn snapshot(&self) -> Option<RateSnapshot> {
        None
    }
}

#[async_trait]
impl<T: RateLimiter + ?Sized> RateLimiter for Arc<T> {
    async fn until_ready(&self) {
        (**self).until_ready().await;
    }

    async fn acquire(&self, estimated_tokens: f64, max_wait: Duration) -> Result<Ticket, Duration> {
        (**self).acquire(estimated_tokens, max_wait).await
    }

    async fn feedback(&self, feedback: &Feedback) {
        (**self).feedback(feedback).await;
    }

    fn snapshot(&self) -> Option<RateSnapshot> {
        (**self).snapshot()
    }
}

/// The rate limit of one process: GCRA (`governor`), burst 1.
#[derive(Debug)]
pub struct LocalRateLimiter {
    limiter: DefaultDirectRateLimiter,
}

impl LocalRateLimiter {
    /// Starts spaced `1/requests_per_second` apart, no burst. `None` when the rate
    /// cannot space anything out: non-positive or NaN (with a warning: it is a
    /// misconfiguration, and blocking every call would be worse), or too large for a
    /// period of at least one nanosecond.
    pub fn per_second(requests_per_second: f64) -> Option<Self> {
        if requests_per_second.is_nan() || requests_per_second <= 0.0 {
            tracing::warn!(
                requests_per_second,
                "ignoring a non-positive request rate: no rate limit applied"
            );
            return None;
        }
        let period = Duration::try_from_secs_f64(1.0 / requests_per_second).ok()?;
        let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::MIN);
        Some(Self {
            limiter: governor::RateLimiter::direct(quota),
        })
    }
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn until_ready(&self) {
        self.limiter.until_ready().await;
    }
}

/// Bounds concurrency (a semaphore) and paces starts (a [`RateLimiter`]) for one
/// provider. Calls wait for a slot, then for the limiter, then go; the limiter is asked
/// last so a request never holds a start while queueing for a slot.
#[derive(Debug)]
pub struct Limit<P> {
    inner: P,
    slots: Semaphore,
    rate: Arc<dyn RateLimiter>,
    max_wait: Duration,
}

impl<P> Limit<P> {
    /// A per-process limit that learns the provider's rate
    /// ([`AdaptiveRateLimiter`]), capped at `requests_per_second` when given.
    /// `concurrency` is clamped to at least 1 (zero would block every call forever).
    pub fn new(inner: P, concurrency: usize, requests_per_second: Option<f64>) -> Self {
        let cap = requests_per_second.filter(|r| {
            let usable = r.is_finite() && *r > 0.0;
            if !usable {
                tracing::warn!(
                    requests_per_second = r,
                    "ignoring an unusable request-rate cap"
                );
            }
            usable
        });
        Self::build(
            inner,
            concurrency,
            Arc::new(AdaptiveRateLimiter::with_cap(cap)),
        )
    }

    /// A limit whose rate is kept by `limiter`, e.g. one shared by every worker
    /// process. `concurrency` stays per process (it bounds this process's sockets).
    pub fn with_limiter(inner: P, concurrency: usize, limiter: Arc<dyn RateLimiter>) -> Self {
        Self::build(inner, concurrency, limiter)
    }

    /// The longest pause of the provider a call waits out; a longer one fails the call
    /// with [`Error::QuotaExhausted`] (default: [`super::DEFAULT_MAX_WAIT`]).
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    fn build(inner: P, concurrency: usize, rate: Arc<dyn RateLimiter>) -> Self {
        let concurrency = concurrency.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner,
            slots: Semaphore::new(concurrency),
            rate,
            max_wait: super::DEFAULT_MAX_WAIT,
        }
    }

    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The limiter (for `outreach check`, logs and benchmarks).
    pub fn limiter(&self) -> &Arc<dyn RateLimiter> {
        &self.rate
    }

    pub(crate) async fn run<T, F, Fut>(
        &self,
        provider: ProviderKind,
        estimated_tokens: f64,
        tokens_used: impl Fn(&T) -> Option<u64>,
        call: F,
    ) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        // The semaphore is never closed, so this cannot fail in practice; if it were
        // closed, the provider is being shut down, which is a cancellation.
        let _slot = self.slots.acquire().await.map_err(|_| Error::Cancelled)?;
        let ticket = self
            .rate
            .acquire(estimated_tokens, self.max_wait)
            .await
            .map_err(|wait| Error::QuotaExhausted {
                provider,
                retry_after: wait,
                message: "its rate-limit headers pause every request that long".into(),
            })?;
        let seen = Arc::new(LastHeaders::default());
        let result = rate_headers::observe(seen.clone(), call()).await;
        let mut headers = seen.take();
        let outcome = match &result {
            Ok(value) => Outcome::Success {
                tokens: tokens_used(value),
            },
            Err(Error::RateLimited { retry_after, .. }) => {
                if headers.is_none() && retry_after.is_some() {
                    headers = Some(RateHeaders {
                        retry_after: *retry_after,
                        ..RateHeaders::default()
                    });
                }
                Outcome::RateLimited
            }
            // A 429 the adapter already judged too long to wait: pause everyone for it.
            Err(Error::QuotaExhausted { retry_after, .. }) => {
                let mut seen = headers.take().unwrap_or_default();
                seen.retry_after = Some(*retry_after);
                headers = Some(seen);
                Outcome::RateLimited
            }
            Err(_) => Outcome::Failed,
        };
        self.rate
            .feedback(&Feedback {
                ticket,
                outcome,
                headers,
                estimated_tokens,
            })
            .await;
        // Only once the provider has set a pace: without one, in-flight calls bound it.
        if let Some(rps) = self.rate.snapshot().and_then(|s| s.requests_per_second) {
            crate::telemetry::provider_rate(provider, rps);
        }
        result
    }
}

/// The tokens a chat request is expected to use: its text at ~4 characters per token
/// plus its completion budget (the limiter corrects this by the usage reported).
pub fn estimate_tokens(request: &ChatRequest) -> f64 {
    let characters: usize = request.messages.iter().map(|m| m.content.len()).sum();
    characters as f64 / 4.0 + f64::from(request.max_tokens.unwrap_or(512))
}

#[async_trait]
impl<P: SearchProvider> SearchProvider for Limit<P> {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        self.run(
            ProviderKind::Search,
            0.0,
            |_| None,
            || self.inner.search(query),
        )
        .await
    }
}

#[async_trait]
impl<P: Llm> Llm for Limit<P> {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let used = |r: &ChatResponse| Some(r.usage.prompt_tokens + r.usage.completion_tokens);
        self.run(ProviderKind::Llm, estimate_tokens(request), used, || {
            self.inner.complete(request)
        })
        .await
    }
    async fn served_models(&self) -> Result<Option<Vec<String>>> {
        self.inner.served_models().await
    }
}
