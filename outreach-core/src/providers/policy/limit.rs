//! [`Limit`]: at most N requests in flight and at most R request starts per second.

use std::future::Future;
use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::providers::{
    ChatRequest, ChatResponse, Llm, SearchProvider, SearchQuery, SearchResults,
};

/// Bounds concurrency (a semaphore) and rate (a GCRA limiter from `governor`) for one
/// provider. Calls wait for a slot, then for a token, then go; the token is taken
/// last so a request never holds a token while queueing for a slot.
///
/// The rate allows no burst: starts are spaced `1/R` apart. With a burst of R, a
/// fresh limiter would let R requests through in the first instant and the provider
/// could see up to 2R in one second.
#[derive(Debug)]
pub struct Limit<P> {
    inner: P,
    slots: Semaphore,
    rate: Option<DefaultDirectRateLimiter>,
}

impl<P> Limit<P> {
    /// `concurrency` is clamped to at least 1 (zero would block every call forever).
    /// `requests_per_second` of `None`, or one too large to space out, means
    /// unlimited; a non-positive or NaN rate is treated as unlimited too, with a
    /// warning, rather than blocking every call.
    pub fn new(inner: P, concurrency: usize, requests_per_second: Option<f64>) -> Self {
        let concurrency = concurrency.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner,
            slots: Semaphore::new(concurrency),
            rate: requests_per_second.and_then(rate_limiter),
        }
    }

    pub fn inner(&self) -> &P {
        &self.inner
    }

    async fn run<T, F, Fut>(&self, call: F) -> Result<T>
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

fn rate_limiter(requests_per_second: f64) -> Option<DefaultDirectRateLimiter> {
    if requests_per_second.is_nan() || requests_per_second <= 0.0 {
        tracing::warn!(
            requests_per_second,
            "ignoring a non-positive request rate: no rate limit applied"
        );
        return None;
    }
    let period = Duration::try_from_secs_f64(1.0 / requests_per_second).ok()?;
    let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::MIN);
    Some(RateLimiter::direct(quota))
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
