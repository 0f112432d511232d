//! Policies that wrap any [`SearchProvider`] or [`Llm`] and implement the same trait,
//! like object_store's `LimitStore<T>`: the adapters stay plain HTTP clients, and
//! retries, limits and metering are layered on without branching inside them.
//!
//! - [`Retry`] retries transient failures with exponential backoff and full jitter,
//!   honouring `Retry-After`;
//! - [`Limit`] bounds in-flight requests and paces starts at the rate the provider
//!   allows, learned from its 429s and rate-limit headers ([`AdaptiveRateLimiter`]);
//! - [`Metered`] counts attempts and tokens into [`Metrics`];
//! - [`Breaker`] stops the run when the provider fails the same way many times in a row.
//!
//! [`wrap_search`] and [`wrap_llm`] stack them in the order the engine needs, with a
//! per-process limiter; [`wrap_search_with`] and [`wrap_llm_with`] build the same
//! stack around a [`RateLimiter`] of the caller's (one shared by all workers).
//!
//! ```
//! use std::sync::Arc;
//! use outreach_core::metrics::Metrics;
//! use outreach_core::providers::{wrap_search, ProviderPolicy, SerperClient, SerperConfig};
//!
//! # fn main() -> outreach_core::Result<()> {
//! let metrics = Arc::new(Metrics::default());
//! let policy = ProviderPolicy::search();
//! let serper = SerperClient::new(SerperConfig::new("key").with_timeouts(&policy))?;
//! let search = wrap_search(serper, &policy, metrics.clone());
//! # let _ = search;
//! # Ok(())
//! # }
//! ```

mod adaptive;
mod breaker;
mod limit;
mod metered;
mod retry;

use std::sync::Arc;
use std::time::Duration;

pub use adaptive::{
    AdaptiveConfig, AdaptiveRateLimiter, RateState, BOOKING_HORIZON, LONG_RETRY_AFTER,
};
pub use breaker::{Breaker, DEFAULT_BREAKER_COOLDOWN, DEFAULT_BREAKER_FAILURES};
pub use limit::{
    estimate_tokens, Feedback, Limit, LocalRateLimiter, Outcome, RateLimiter, RateSnapshot, Ticket,
};
pub use metered::Metered;
pub use retry::Retry;

use super::{Llm, SearchProvider};
use crate::metrics::Metrics;

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_SEARCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Longer than search: a reasoning model writing JSON can take tens of seconds.
pub const DEFAULT_LLM_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest provider wait (`Retry-After`, an exhausted bucket) a run sits out
/// (`OUTREACH_MAX_WAIT_SECS`); a longer one stops the run. The adapters' own.
pub const DEFAULT_MAX_WAIT: Duration = super::http::DEFAULT_MAX_WAIT;

/// How one provider is called: retries, limits and timeouts.
///
/// The timeouts are applied by the adapters when they build their HTTP client (see
/// `SerperConfig::with_timeouts` / `LlmConfig::with_timeouts`); the rest by the
/// policies that [`wrap_search`] / [`wrap_llm`] stack.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderPolicy {
    /// Retries after the first attempt (so at most `max_retries + 1` requests).
    pub max_retries: u32,
    /// The first backoff step; each further step doubles, up to `max_delay`. The actual
    /// sleep is drawn uniformly from zero to the step ("full jitter").
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest wait the provider may ask for (`Retry-After`, or a pause until an
    /// exhausted bucket refills): `OUTREACH_MAX_WAIT_SECS`. A provider asking for more
    /// is not coming back within the run: the call fails with
    /// [`crate::Error::QuotaExhausted`], which stops the run.
    pub max_retry_after: Duration,
    /// Requests in flight at once (at least 1). Until the provider pushes back, this
    /// is the only bound.
    pub concurrency: usize,
    /// An explicit cap on request starts per second (`OUTREACH_SEARCH_RPS` /
    /// `OUTREACH_LLM_RPS`); `None` = only what the provider's limits teach.
    pub requests_per_second: Option<f64>,
    /// Consecutive failures of one kind that stop the run ([`Breaker`]); 0 = never.
    pub breaker_failures: u32,
    /// How long an open breaker fails calls before it lets one through again.
    pub breaker_cooldown: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl ProviderPolicy {
    /// Defaults for a search API: 3 retries (250 ms base, 8 s cap), waits of up to
    /// 120 s, 64 in flight, no fixed request rate (learned from the provider), the
    /// breaker at 20 failures in a row, 10 s to connect, 30 s per request.
    pub fn search() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: DEFAULT_MAX_WAIT,
            concurrency: 64,
            requests_per_second: None,
            breaker_failures: DEFAULT_BREAKER_FAILURES,
            breaker_cooldown: DEFAULT_BREAKER_COOLDOWN,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_SEARCH_TIMEOUT,
        }
    }

    /// Defaults for an LLM: as [`Self::search`], with 60 s per request.
    pub fn llm() -> Self {
        Self {
            request_timeout: DEFAULT_LLM_TIMEOUT,
            ..Self::search()
        }
    }
}

impl Default for ProviderPolicy {
    /// The search defaults ([`ProviderPolicy::search`]).
    fn default() -> Self {
        Self::search()
    }
}

/// `Breaker(Retry(Limit(Metered(inner))))` as a trait object for the engine and front
/// ends.
///
/// Why this order:
/// - `Breaker` outermost: it judges calls after their retries, so a transient error
///   that a retry cured is not a failure.
/// - `Limit` inside `Retry`: every attempt, retries included, takes its own
///   concurrency slot and rate-limit token, so a burst of retries cannot exceed the
///   provider's limits; and the slot is released while a retry sleeps through its
///   backoff, so rows waiting to retry do not starve rows ready to go.
/// - `Metered` innermost: it counts requests that actually reach the provider (each
///   attempt), not logical calls.
pub fn wrap_search<S: SearchProvider>(
    inner: S,
    policy: &ProviderPolicy,
    metrics: Arc<Metrics>,
) -> Arc<dyn SearchProvider> {
    Arc::new(stack(inner, policy, metrics))
}

/// The same stack as [`wrap_search`], for an [`Llm`].
pub fn wrap_llm<L: Llm>(inner: L, policy: &ProviderPolicy, metrics: Arc<Metrics>) -> Arc<dyn Llm> {
    Arc::new(stack(inner, policy, metrics))
}

/// [`wrap_search`] with the rate kept by `limiter` instead of a per-process limiter
/// built from `policy.requests_per_second` (which is then not used: the limiter was
/// built with its own cap).
pub fn wrap_search_with<S: SearchProvider>(
    inner: S,
    policy: &ProviderPolicy,
    metrics: Arc<Metrics>,
    limiter: Arc<dyn RateLimiter>,
) -> Arc<dyn SearchProvider> {
    Arc::new(stack_with(inner, policy, metrics, limiter))
}

/// [`wrap_llm`] with the rate kept by `limiter` (see [`wrap_search_with`]).
pub fn wrap_llm_with<L: Llm>(
    inner: L,
    policy: &ProviderPolicy,
    metrics: Arc<Metrics>,
    limiter: Arc<dyn RateLimiter>,
) -> Arc<dyn Llm> {
    Arc::new(stack_with(inner, policy, metrics, limiter))
}

type Stack<P> = Breaker<Retry<Limit<Metered<P>>>>;

fn stack<P>(inner: P, policy: &ProviderPolicy, metrics: Arc<Metrics>) -> Stack<P> {
    let metered = Metered::new(inner, metrics.clone());
    let limited = Limit::new(metered, policy.concurrency, policy.requests_per_second)
        .with_max_wait(policy.max_retry_after);
    let retried = Retry::new(limited, policy, metrics);
    Breaker::new(retried, policy.breaker_failures, policy.breaker_cooldown)
}

fn stack_with<P>(
    inner: P,
    policy: &ProviderPolicy,
    metrics: Arc<Metrics>,
    limiter: Arc<dyn RateLimiter>,
) -> Stack<P> {
    let metered = Metered::new(inner, metrics.clone());
    let limited = Limit::with_limiter(metered, policy.concurrency, limiter)
        .with_max_wait(policy.max_retry_after);
    let retried = Retry::new(limited, policy, metrics);
    Breaker::new(retried, policy.breaker_failures, policy.breaker_cooldown)
}
