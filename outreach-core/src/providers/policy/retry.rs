//! [`Retry`]: bounded retries with exponential backoff and full jitter.
//!
//! `backon` drives the loop (attempt, decide, sleep). Its own jitter adds up to one
//! extra step on top of the exponential delay; we want "full jitter" (a uniform draw
//! between zero and the step, which spreads a herd of failing rows best), and a floor
//! from `Retry-After`. Both fit in backon's `adjust` hook, so the jitter is applied
//! there and backon's is left off.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};

use super::ProviderPolicy;
use crate::error::{Error, Result};
use crate::metrics::{Counter, Metrics};
use crate::providers::{
    ChatRequest, ChatResponse, Llm, SearchProvider, SearchQuery, SearchResults,
};

/// Retries the inner provider's transient failures ([`Error::is_retryable`]: 429, 5xx,
/// timeouts, connection errors). Fatal errors, 4xx and unreadable answers are returned
/// at once: repeating the same request cannot change them. Each retry is counted in
/// [`Metrics::retries`].
#[derive(Debug)]
pub struct Retry<P> {
    inner: P,
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
    metrics: Arc<Metrics>,
}

impl<P> Retry<P> {
    /// Uses `max_retries`, `base_delay`, `max_delay` and `max_retry_after` from `policy`.
    pub fn new(inner: P, policy: &ProviderPolicy, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            max_retries: policy.max_retries,
            base_delay: policy.base_delay,
            max_delay: policy.max_delay.max(policy.base_delay),
            max_retry_after: policy.max_retry_after,
            metrics,
        }
    }

    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries run out.
    pub(crate) async fn run<T, F, Fut>(&self, attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_factor(2.0)
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(usize::try_from(self.max_retries).unwrap_or(usize::MAX));
        let mut retries = 0u32;
        let result = attempt
            .retry(backoff)
            .when(should_retry)
            .adjust(|error, step| self.delay(error, step))
            .notify(|error, delay| {
                retries += 1;
                self.metrics.count(Counter::Retries, 1);
                if let Some(kind) = crate::telemetry::error_provider(error) {
                    crate::telemetry::provider_retry(kind);
                }
                tracing::debug!(%error, ?delay, retry = retries, "retrying provider call");
            })
            .await;
        match result {
            // A wait longer than a run sits out: the quota is gone for now. Said
            // once, as an error that stops the run instead of failing every row.
            Err(Error::RateLimited {
                provider,
                retry_after: Some(wait),
            }) if wait > self.max_retry_after => Err(Error::QuotaExhausted {
                provider,
                retry_after: wait,
                message: "Retry-After".into(),
            }),
            Err(error) => {
                if should_retry(&error) {
                    tracing::warn!(%error, retries, "giving up on provider call");
                }
                Err(error)
            }
            ok => ok,
        }
    }

    /// The sleep before the next attempt, or `None` to stop: no backoff step left, or
    /// the provider asked for a longer wait than we accept.
    fn delay(&self, error: &Error, step: Option<Duration>) -> Option<Duration> {
        let jittered = step?.mul_f64(rand::random::<f64>());
        match error.retry_after() {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(wait.max(jittered)),
            None => Some(jittered),
        }
    }
}

fn should_retry(error: &Error) -> bool {
    error.is_retryable() && !error.is_fatal()
}

#[async_trait]
impl<P: SearchProvider> SearchProvider for Retry<P> {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        self.run(|| self.inner.search(query)).await
    }
}

#[async_trait]
impl<P: Llm> Llm for Retry<P> {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        self.run(|| self.inner.complete(request)).await
    }
    async fn served_models(&self) -> Result<Option<Vec<String>>> {
        self.inner.served_models().await
    }
}
