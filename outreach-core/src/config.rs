//! Building an [`Enricher`] from configuration: the DESIGN.md environment names, with
//! every field overridable by the front end (flags, Python arguments).

use std::sync::Arc;

use crate::enricher::{Enricher, EnricherConfig, Providers};
use crate::error::Result;
use crate::metrics::Metrics;
use crate::providers::openai::{LlmConfig, OpenAiClient};
use crate::providers::policy::{
    wrap_llm, wrap_llm_with, wrap_search, wrap_search_with, ProviderPolicy, RateLimiter,
};
use crate::providers::serper::{SerperClient, SerperConfig};

/// Everything needed to enrich rows. `None` providers mean "key missing": rows get the
/// fallbacks and the run still completes.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub serper: Option<SerperConfig>,
    pub llm: Option<LlmConfig>,
    pub search_policy: ProviderPolicy,
    pub llm_policy: ProviderPolicy,
    pub enricher: EnricherConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            serper: None,
            llm: None,
            search_policy: ProviderPolicy::search(),
            llm_policy: ProviderPolicy::llm(),
            enricher: EnricherConfig::default(),
        }
    }
}

impl PipelineConfig {
    /// `SERPER_API_KEY`, `SERPER_URL`, `GROQ_API_KEY`/`LLM_API_KEY`, `LLM_BASE_URL`,
    /// `LLM_MODEL`; plus the optional tuning names `OUTREACH_SEARCH_RPS`,
    /// `OUTREACH_LLM_RPS` (explicit caps; `0` = none, the default: the rate is learned
    /// from the provider), `OUTREACH_SEARCH_CONCURRENCY`, `OUTREACH_LLM_CONCURRENCY`,
    /// `OUTREACH_SEARCH_TIMEOUT_SECS`, `OUTREACH_LLM_TIMEOUT_SECS` (whole-request
    /// timeouts), `OUTREACH_MAX_WAIT_SECS` (default 120), `OUTREACH_BREAKER_FAILURES`
    /// (default 20, `0` = off), and through the client configs `LLM_REASONING_EFFORT`.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut config = Self {
            serper: SerperConfig::from_lookup(&lookup),
            llm: LlmConfig::from_lookup(&lookup),
            ..Self::default()
        };
        let number = |name: &str| lookup(name).and_then(|v| v.trim().parse::<f64>().ok());
        if let Some(rps) = number("OUTREACH_SEARCH_RPS") {
            config.search_policy.requests_per_second = (rps > 0.0).then_some(rps);
        }
        if let Some(rps) = number("OUTREACH_LLM_RPS") {
            config.llm_policy.requests_per_second = (rps > 0.0).then_some(rps);
        }
        if let Some(n) = number("OUTREACH_SEARCH_CONCURRENCY") {
            config.search_policy.concurrency = (n as usize).max(1);
        }
        if let Some(n) = number("OUTREACH_LLM_CONCURRENCY") {
            config.llm_policy.concurrency = (n as usize).max(1);
        }
        // A slow local model (llama.cpp on a few cores) needs longer than the hosted
        // APIs' default; `LLM_REASONING_EFFORT` and `OUTREACH_MAX_WAIT_SECS` are read by
        // `LlmConfig::from_lookup` / `SerperConfig::from_lookup` above.
        let secs = |name: &str| {
            number(name)
                .filter(|s| *s > 0.0)
                .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
        };
        if let Some(timeout) = secs("OUTREACH_SEARCH_TIMEOUT_SECS") {
            config.search_policy.request_timeout = timeout;
        }
        if let Some(timeout) = secs("OUTREACH_LLM_TIMEOUT_SECS") {
            config.llm_policy.request_timeout = timeout;
        }
        if let Some(secs) = number("OUTREACH_MAX_WAIT_SECS").filter(|s| *s >= 0.0) {
            let wait = std::time::Duration::try_from_secs_f64(secs)
                .unwrap_or(crate::providers::policy::DEFAULT_MAX_WAIT);
            config.search_policy.max_retry_after = wait;
            config.llm_policy.max_retry_after = wait;
        }
        if let Some(n) = number("OUTREACH_BREAKER_FAILURES").filter(|n| *n >= 0.0) {
            config.search_policy.breaker_failures = n as u32;
            config.llm_policy.breaker_failures = n as u32;
        }
        config
    }

    /// Build the HTTP adapters, wrap them in their policies, and return the enricher.
    pub fn build(&self) -> Result<Enricher> {
        self.build_with_metrics(Arc::new(Metrics::default()))
    }

    pub fn build_with_metrics(&self, metrics: Arc<Metrics>) -> Result<Enricher> {
        Ok(self
            .providers_with_metrics(metrics)?
            .enricher(self.enricher.clone()))
    }

    /// The HTTP adapters wrapped in their policies, to share between jobs.
    pub fn providers(&self) -> Result<Providers> {
        self.providers_with_metrics(Arc::new(Metrics::default()))
    }

    pub fn providers_with_metrics(&self, metrics: Arc<Metrics>) -> Result<Providers> {
        self.providers_with(metrics, None)
    }

    /// The providers, rate-limited by `shared` limiters when given (one budget for all
    /// workers, e.g. GCRA in Redis) instead of this process's own.
    pub fn providers_with(
        &self,
        metrics: Arc<Metrics>,
        shared: Option<SharedLimiters>,
    ) -> Result<Providers> {
        let search = match &self.serper {
            Some(c) => {
                let client = SerperClient::new(c.clone().with_timeouts(&self.search_policy))?;
                Some(match shared.as_ref().and_then(|s| s.search.clone()) {
                    Some(limiter) => {
                        wrap_search_with(client, &self.search_policy, metrics.clone(), limiter)
                    }
                    None => wrap_search(client, &self.search_policy, metrics.clone()),
                })
            }
            None => None,
        };
        let llm = match &self.llm {
            Some(c) => {
                let client = OpenAiClient::new(c.clone().with_timeouts(&self.llm_policy))?;
                Some(match shared.as_ref().and_then(|s| s.llm.clone()) {
                    Some(limiter) => {
                        wrap_llm_with(client, &self.llm_policy, metrics.clone(), limiter)
                    }
                    None => wrap_llm(client, &self.llm_policy, metrics.clone()),
                })
            }
            None => None,
        };
        Ok(Providers {
            search,
            llm,
            metrics,
            preflight: Default::default(),
        })
    }
}

/// Rate limiters shared by every worker (see `setup::Backends::shared_limiters`).
#[derive(Debug, Clone, Default)]
pub struct SharedLimiters {
    pub search: Option<Arc<dyn RateLimiter>>,
    pub llm: Option<Arc<dyn RateLimiter>>,
}
