//! Policies that wrap any [`SearchProvider`] or [`Llm`] and implement the same trait,
//! like object_store's `LimitStore<T>`: the adapters stay plain HTTP clients, and
//! retries, limits and metering are layered on without branching inside them.
//!
//! - [`Retry`] retries transient failures with exponential backoff and full jitter,
//!   honouring `Retry-After`;
//! - [`Limit`] bounds in-flight requests and requests per second;
//! - [`Metered`] counts attempts and tokens into [`Metrics`].
//!
//! [`wrap_search`] and [`wrap_llm`] stack them in the order the engine needs, with a
//! per-process rate limit; [`wrap_search_with`] and [`wrap_llm_with`] build the same
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

mod limit;
mod metered;
mod retry;

use std::sync::Arc;
use std::time::Duration;

pub use limit::{Limit, LocalRateLimiter, RateLimiter};
pub use metered::Metered;
pub use retry::Retry;

use super::{Llm, SearchProvider};
use crate::metrics::Metrics;

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_SEARCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Longer than search: a reasoning model writing JSON can take tens of seconds.
pub const DEFAULT_LLM_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// The longest `Retry-After` we are willing to wait. A provider asking for more is
    /// not going to recover within one row's patience: the error goes back to the
    /// caller at once (it still carries the requested delay).
    pub max_retry_after: Duration,
    /// Requests in flight at once (at least 1).
    pub concurrency: usize,
    /// Request starts per second, `None` for unlimited.
    pub requests_per_second: Option<f64>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl ProviderPolicy {
    /// Defaults for a search API: 3 retries (250 ms base, 8 s cap, `Retry-After` up to
    /// 60 s), 64 in flight, 200 requests/s (so the default 64 rows in flight, ~4 calls each at real latencies, are never throttled below ~50 rows/s), 10 s to connect, 30 s per request.
    pub fn search() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            concurrency: 64,
            requests_per_second: Some(200.0),
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

/// `Retry(Limit(Metered(inner)))` as a trait object for the engine and front ends.
///
/// Why this order:
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
/// built with its own rate).
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

fn stack<P>(inner: P, policy: &ProviderPolicy, metrics: Arc<Metrics>) -> Retry<Limit<Metered<P>>> {
    let metered = Metered::new(inner, metrics.clone());
    let limited = Limit::new(metered, policy.concurrency, policy.requests_per_second);
    Retry::new(limited, policy, metrics)
}

fn stack_with<P>(
    inner: P,
    policy: &ProviderPolicy,
    metrics: Arc<Metrics>,
    limiter: Arc<dyn RateLimiter>,
) -> Retry<Limit<Metered<P>>> {
    let metered = Metered::new(inner, metrics.clone());
    let limited = Limit::with_limiter(metered, policy.concurrency, limiter);
    Retry::new(limited, policy, metrics)
}
