//! Counters shared by the provider policies and the engine. Atomics, so many rows in
//! flight can count without a lock.
//!
//! Besides the process-wide [`Metrics`] a run owns, a future can be run under a
//! *scope* ([`scoped`]): every count made while polling it is also added to the scope's
//! own `Metrics`. Jobs use this for per-chunk figures while chunks run concurrently
//! through the same providers.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

#[derive(Debug, Default)]
pub struct Metrics {
    pub search_calls: AtomicU64,
    pub llm_calls: AtomicU64,
    pub search_cache_hits: AtomicU64,
    pub research_cache_hits: AtomicU64,
    pub retries: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub facts_verified: AtomicU64,
    pub facts_dropped: AtomicU64,
    pub opener_claim_retries: AtomicU64,
    pub openers_rejected: AtomicU64,
}

/// A plain copy of [`Metrics`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsSnapshot {
    pub search_calls: u64,
    pub llm_calls: u64,
    pub search_cache_hits: u64,
    pub research_cache_hits: u64,
    pub retries: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Facts that passed the verifier and were delivered.
    pub facts_verified: u64,
    /// Facts the verifier dropped (no evidence, invented, a stranger's).
    pub facts_dropped: u64,
    /// Opener retries asked because a line named something no source states.
    pub opener_claim_retries: u64,
    /// Openers replaced by the fallback because the retry still made such claims.
    pub openers_rejected: u64,
}

impl MetricsSnapshot {
    pub fn provider_calls(&self) -> u64 {
        self.search_calls + self.llm_calls
    }
    pub fn cache_hits(&self) -> u64 {
        self.search_cache_hits + self.research_cache_hits
    }
}

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    SearchCalls,
    LlmCalls,
    SearchCacheHits,
    ResearchCacheHits,
    Retries,
    PromptTokens,
    CompletionTokens,
    FactsVerified,
    FactsDropped,
    OpenerClaimRetries,
    OpenersRejected,
}

tokio::task_local! {
    static SCOPE: Arc<Metrics>;
}

/// Run `f`, adding every count it makes to `metrics` as well.
pub async fn scoped<F: Future>(metrics: Arc<Metrics>, f: F) -> F::Output {
    SCOPE.scope(metrics, f).await
}

impl Metrics {
    fn counter(&self, c: Counter) -> &AtomicU64 {
        match c {
            Counter::SearchCalls => &self.search_calls,
            Counter::LlmCalls => &self.llm_calls,
            Counter::SearchCacheHits => &self.search_cache_hits,
            Counter::ResearchCacheHits => &self.research_cache_hits,
            Counter::Retries => &self.retries,
            Counter::PromptTokens => &self.prompt_tokens,
            Counter::CompletionTokens => &self.completion_tokens,
            Counter::FactsVerified => &self.facts_verified,
            Counter::FactsDropped => &self.facts_dropped,
            Counter::OpenerClaimRetries => &self.opener_claim_retries,
            Counter::OpenersRejected => &self.openers_rejected,
        }
    }

    /// Add `n` here and to the current scope, if any.
    pub fn count(&self, c: Counter, n: u64) {
        self.counter(c).fetch_add(n, Ordering::Relaxed);
        let _ = SCOPE.try_with(|scope| {
            if !std::ptr::eq(scope.as_ref(), self) {
                scope.counter(c).fetch_add(n, Ordering::Relaxed);
            }
        });
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            search_calls: get(&self.search_calls),
            llm_calls: get(&self.llm_calls),
            search_cache_hits: get(&self.search_cache_hits),
            research_cache_hits: get(&self.research_cache_hits),
            retries: get(&self.retries),
            prompt_tokens: get(&self.prompt_tokens),
            completion_tokens: get(&self.completion_tokens),
            facts_verified: get(&self.facts_verified),
            facts_dropped: get(&self.facts_dropped),
            opener_claim_retries: get(&self.opener_claim_retries),
            openers_rejected: get(&self.openers_rejected),
        }
    }
}
