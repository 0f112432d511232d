//! Counters shared by the provider policies and the engine. Atomics, so many rows in
//! flight can count without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

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
}

/// A plain copy of [`Metrics`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    pub search_calls: u64,
    pub llm_calls: u64,
    pub search_cache_hits: u64,
    pub research_cache_hits: u64,
    pub retries: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl MetricsSnapshot {
    pub fn provider_calls(&self) -> u64 {
        self.search_calls + self.llm_calls
    }
    pub fn cache_hits(&self) -> u64 {
        self.search_cache_hits + self.research_cache_hits
    }
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
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
        }
    }
}
