//! [`Limit`]: at most N requests in flight and at most R request starts per second.
//!
//! The rate is kept by a [`RateLimiter`]. [`LocalRateLimiter`] (GCRA from `governor`)
//! holds it within one process; with many worker processes each would allow R, so a
//! deployment with a shared Redis uses `backends::redis_rate_limit::RedisRateLimiter`
//! (feature `redis`), which holds R across all of them, through
//! [`Limit::with_limiter`] or `wrap_search_with`/`wrap_llm_with`.

use std::fmt::Debug;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::providers::{
    ChatRequest, ChatResponse, Llm, SearchProvider, SearchQuery, SearchResults,
};

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
#[async_trait]
pub trait RateLimiter: Send + Sync + Debug + 'static {
    async fn until_ready(&self);
}

#[async_trait]
impl<T: RateLimiter + ?Sized> RateLimiter for Arc<T> {
    async fn until_ready(&self) {
        (**self).until_ready().await;
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

/// Bounds concurrency (a semaphore) and rate (a [`RateLimiter`]) for one provider.
/// Calls wait for a slot, then for the rate limiter, then go; the rate is asked last so
/// a request never holds a start while queueing for a slot.
///
/// The rate allows no burst: starts are spaced `1/R` apart. With a burst of R, a
/// fresh limiter would let R requests through in the first instant and the provider
/// could see up to 2R in one second.
#[derive(Debug)]
pub struct Limit<P> {
    inner: P,
    slots: Semaphore,
    rate: Option<Arc<dyn RateLimiter>>,
}

impl<P> Limit<P> {
    /// A per-process limit. `concurrency` is clamped to at least 1 (zero would block
    /// every call forever). `requests_per_second` of `None`, or one too large to space
    /// out, means unlimited; a non-positive or NaN rate is treated as unlimited too,
    /// with a warning, rather than blocking every call.
    pub fn new(inner: P, concurrency: usize, requests_per_second: Option<f64>) -> Self {
        let rate = requests_per_second
            .and_then(LocalRateLimiter::per_second)
            .map(|limiter| Arc::new(limiter) as Arc<dyn RateLimiter>);
        Self::build(inner, concurrency, rate)
    }

    /// A limit whose rate is kept by `limiter`, e.g. one shared by every worker
    /// process. `concurrency` stays per process (it bounds this process's sockets).
    pub fn with_limiter(inner: P, concurrency: usize, limiter: Arc<dyn RateLimiter>) -> Self {
        Self::build(inner, concurrency, Some(limiter))
    }

    fn build(inner: P, concurrency: usize, rate: Option<Arc<dyn RateLimiter>>) -> Self {
        let concurrency = concurrency.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner,
            slots: Semaphore::new(concurrency),
            rate,
        }
    }

    pub fn inner(&self) -> &P {
        &self.inner
    }

    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        // The semaphore is never closed, so this cannot fail in practice; if it were
        // closed, the provider is being shut down, which is a cancellation.
        let _slot = self.slots.acquire().await.map_err(|_| Error::Cancelled)?;
        if let Some(rate) = &self.rate {
            rate.until_ready().await;
        }
        call().await
    }
}

#[async_trait]
impl<P: SearchProvider> SearchProvider for Limit<P> {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        self.run(|| self.inner.search(query)).await
    }
}

#[async_trait]
impl<P: Llm> Llm for Limit<P> {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        self.run(|| self.inner.complete(request)).await
    }
}
