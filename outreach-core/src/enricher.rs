//! One row, start to finish: validate the email, search (cached), synthesise research,
//! write the opener, fall back where anything fails. Only fatal provider errors (bad
//! key, no balance) escape as `Err`; everything else becomes a fallback cell.
//!
//! Cost notes: the `<domain>` query is shared by everyone at a company, so search
//! results are cached per query, and concurrent identical queries wait for the first
//! one instead of calling twice (quick_cache's placeholder guards). Duplicate emails are
//! researched once: finished rows are cached per normalised address.

use std::sync::Arc;

use quick_cache::sync::Cache;
use serde::{Deserialize, Serialize};

use crate::campaign::{Campaign, EmailDraft};
use crate::combined::{combined_request, CombinedReply};
use crate::error::Result;
use crate::fallback;
use crate::metrics::{Counter, Metrics};
use crate::personalize::{self, personalize_request, retry_request, salvage, validate_opener};
use crate::providers::{Llm, SearchProvider, SearchQuery, SearchResults};
use crate::research::prompt::{findings, research_request, Findings};
use crate::research::{self, parse::parse_json_object, parse_email, EmailParts, Research};
use crate::{Error, ServiceContext};

/// How the LLM is asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The seed's design: one call for research JSON, one for the opener.
    #[default]
    TwoCall,
    /// One JSON-mode call for both; a second only when the opener fails validation.
    Combined,
}

/// Why a row holds what it holds. Drives refunds: only rows that failed for reasons
/// other than the input itself are refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// Research JSON and an opener.
    Enriched,
    /// The email cell is not an address; no provider was called.
    InvalidEmail,
    /// A provider key is not configured.
    MissingKey,
    /// A provider failed (after retries) or its output stayed invalid.
    ProviderFailed,
    /// On the do-not-contact list: no provider call, not charged, never pushed.
    Suppressed,
}

impl RowStatus {
    pub fn is_fallback(self) -> bool {
        self != RowStatus::Enriched
    }
    /// True when the user should not pay for this row. `Suppressed` is not: such a row
    /// was never charged, so there is nothing to give back.
    pub fn is_refundable(self) -> bool {
        matches!(self, RowStatus::MissingKey | RowStatus::ProviderFailed)
    }
}

/// The two new cells of a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowOutcome {
    pub research: String,
    pub personalized: String,
    pub status: RowStatus,
    /// The email drafted from the run's templates, when it has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<EmailDraft>,
}

impl RowOutcome {
    fn fallback(research: String, personalized_reason: &str, status: RowStatus) -> Self {
        Self {
            research,
            personalized: fallback::personalized(personalized_reason),
            status,
            draft: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EnricherConfig {
    pub mode: Mode,
    pub service: ServiceContext,
    /// Entries kept in each cache (search results, finished rows). Bounds memory on
    /// huge files; an evicted domain is simply searched again.
    pub cache_capacity: usize,
    /// Do-not-contact list and email templates of this run.
    pub campaign: Campaign,
}

impl Default for EnricherConfig {
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            service: ServiceContext::default(),
            cache_capacity: 20_000,
            campaign: Campaign::default(),
        }
    }
}

/// The providers a process shares between runs and jobs, already wrapped in their
/// policies, with the metrics they report into. `None` = key missing.
#[derive(Debug, Clone)]
pub struct Providers {
    pub search: Option<Arc<dyn SearchProvider>>,
    pub llm: Option<Arc<dyn Llm>>,
    pub metrics: Arc<Metrics>,
    /// The once-per-process preflight ([`crate::preflight`]); `PreflightOnce::skip()`
    /// for providers that are not remote services.
    pub preflight: crate::preflight::PreflightOnce,
}

impl Providers {
    /// An enricher over these providers (fresh caches, this job's settings).
    pub fn enricher(&self, config: EnricherConfig) -> Enricher {
        Enricher::new(
            self.search.clone(),
            self.llm.clone(),
            config,
            self.metrics.clone(),
        )
    }
}

/// Research + personalization for single rows. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Enricher {
    search: Option<Arc<dyn SearchProvider>>,
    llm: Option<Arc<dyn Llm>>,
    config: EnricherConfig,
    metrics: Arc<Metrics>,
    search_cache: Cache<String, Arc<SearchResults>>,
    row_cache: Cache<String, RowOutcome>,
}

/// Research succeeded or produced the cells to write instead.
enum ResearchStep {
    Done(Research, Findings),
    Fallback(RowOutcome),
}

impl Enricher {
    /// `search`/`llm` are `None` when their key is missing: rows then get the fallbacks.
    /// Pass providers already wrapped in their policies; `metrics` receives cache hits.
    pub fn new(
        search: Option<Arc<dyn SearchProvider>>,
        llm: Option<Arc<dyn Llm>>,
        config: EnricherConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        let capacity = config.cache_capacity.max(1);
        Self {
            search,
            llm,
            config,
            metrics,
            search_cache: Cache::new(capacity),
            row_cache: Cache::new(capacity),
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn config(&self) -> &EnricherConfig {
        &self.config
    }

    /// Human-readable warnings about missing keys (logged once per run by the engine).
    pub fn missing_key_warnings(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.search.is_none() {
            out.push("SERPER_API_KEY is not set: every row gets the research fallback");
        }
        if self.llm.is_none() {
            out.push("GROQ_API_KEY / LLM_API_KEY is not set: every row gets the fallbacks");
        }
        out
    }

    /// Enrich one row given its email cell.
    pub async fn enrich_row(&self, email_cell: &str) -> Result<RowOutcome> {
        let Some(email) = parse_email(email_cell) else {
            return Ok(RowOutcome::fallback(
                fallback::research_invalid_email(),
                "invalid email.",
                RowStatus::InvalidEmail,
            ));
        };
        let key = email.address();
        let guard = match self.row_cache.get_value_or_guard_async(&key).await {
            Ok(hit) => {
                self.metrics.count(Counter::ResearchCacheHits, 1);
                return Ok(hit);
            }
            Err(guard) => guard,
        };
        let outcome = self.enrich_email(&email).await?;
        if outcome.status == RowStatus::Enriched {
            let _ = guard.insert(outcome.clone());
        }
        Ok(outcome)
    }

    /// Research alone, for one-off use: the research cell (JSON or fallback) and the
    /// parsed document when there is one. Always two-call style (no opener).
    pub async fn research(&self, email_cell: &str) -> Result<(String, Option<Research>)> {
        let Some(email) = parse_email(email_cell) else {
            return Ok((fallback::research_invalid_email(), None));
        };
        let (Some(search), Some(llm)) = (&self.search, &self.llm) else {
            let cell = if self.search.is_none() {
                fallback::research_missing_search_key()
            } else {
                fallback::research_missing_llm_key()
            };
            return Ok((cell, None));
        };
        let found = match self.search_both(search.as_ref(), &email).await {
            Ok(f) => f,
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => return Ok((provider_fallback(&e).research, None)),
        };
        Ok(match self.synthesise(llm.as_ref(), found).await? {
            ResearchStep::Done(r, _) => (r.to_json(), Some(r)),
            ResearchStep::Fallback(outcome) => (outcome.research, None),
        })
    }

    /// An opener for a research JSON document and this enricher's service context:
    /// the line, or the personalized fallback text.
    pub async fn personalize(&self, research_json: &str) -> Result<String> {
        if fallback::is_research_fallback(research_json) {
            return Ok(fallback::personalized("research unavailable."));
        }
        let Some(llm) = &self.llm else {
            return Ok(fallback::personalized("missing GROQ_API_KEY."));
        };
        Ok(
            match self.write_opener(llm.as_ref(), research_json, None).await? {
                Ok(line) => line,
                Err(reason) => fallback::personalized(&reason),
            },
        )
    }

    async fn enrich_email(&self, email: &EmailParts) -> Result<RowOutcome> {
        let (Some(search), Some(llm)) = (&self.search, &self.llm) else {
            let research = if self.search.is_none() {
                fallback::research_missing_search_key()
            } else {
                fallback::research_missing_llm_key()
            };
            let reason = if self.llm.is_none() {
                "missing GROQ_API_KEY."
            } else {
                "research unavailable."
            };
            return Ok(RowOutcome::fallback(
                research,
                reason,
                RowStatus::MissingKey,
            ));
        };
        let found = match self.search_both(search.as_ref(), email).await {
            Ok(f) => f,
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => return Ok(provider_fallback(&e)),
        };
        match self.config.mode {
            Mode::TwoCall => self.two_call(llm.as_ref(), found).await,
            Mode::Combined => self.combined(llm.as_ref(), found).await,
        }
    }

    /// Both queries, concurrently, through the cache.
    async fn search_both(
        &self,
        search: &dyn SearchProvider,
        email: &EmailParts,
    ) -> Result<Findings> {
        let (person_q, company_q) = research::queries(email);
        let (person, company) = futures::try_join!(
            self.cached_search(search, &person_q),
            self.cached_search(search, &company_q)
        )?;
        Ok(findings(
            &email.address(),
            &person_q,
            &person,
            &company_q,
            &company,
        ))
    }

    async fn cached_search(
        &self,
        search: &dyn SearchProvider,
        q: &str,
    ) -> Result<Arc<SearchResults>> {
        let key = q.trim().to_lowercase();
        match self.search_cache.get_value_or_guard_async(&key).await {
            Ok(hit) => {
                self.metrics.count(Counter::SearchCacheHits, 1);
                Ok(hit)
            }
            Err(guard) => {
                let results = Arc::new(search.search(&SearchQuery::new(q)).await?);
                let _ = guard.insert(results.clone());
                Ok(results)
            }
        }
    }

    async fn two_call(&self, llm: &dyn Llm, found: Findings) -> Result<RowOutcome> {
        let (research, _findings) = match self.synthesise(llm, found).await? {
            ResearchStep::Done(r, f) => (r, f),
            ResearchStep::Fallback(outcome) => return Ok(outcome),
        };
        let research_json = research.to_json();
        let personalized = self.write_opener(llm, &research_json, None).await?;
        Ok(finish(research_json, personalized))
    }

    /// Research JSON from the findings; invalid JSON is retried once.
    async fn synthesise(&self, llm: &dyn Llm, found: Findings) -> Result<ResearchStep> {
        let mut previous: Option<String> = None;
        for attempt in 0..2 {
            let request = research_request(&found, previous.as_deref());
            let reply = match llm.complete(&request).await {
                Ok(r) => r,
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => return Ok(ResearchStep::Fallback(provider_fallback(&e))),
            };
            if let Some(research) = parse_json_object::<Research>(&reply.content) {
                let research = research.sanitize(&found.urls);
                return Ok(ResearchStep::Done(research, found));
            }
            tracing::debug!(attempt, finish = ?reply.finish_reason, "research reply was not valid JSON");
            previous = Some(reply.content);
        }
        Ok(ResearchStep::Fallback(invalid_json_fallback()))
    }

    /// The opener for a research document: one call, one retry on a rule violation,
    /// then salvage or fall back. `first_reply` is an opener already written (combined
    /// mode) that failed validation.
    async fn write_opener(
        &self,
        llm: &dyn Llm,
        research_json: &str,
        first_reply: Option<(String, personalize::OpenerProblem)>,
    ) -> Result<std::result::Result<String, String>> {
        let request = personalize_request(research_json, &self.config.service);
        let (reply, problem) = match first_reply {
            Some(failed) => failed,
            None => {
                let reply = match llm.complete(&request).await {
                    Ok(r) => r.content,
                    Err(e) if e.is_fatal() => return Err(e),
                    Err(e) => return Ok(Err(format!("{}.", e.short_reason()))),
                };
                match validate_opener(&reply) {
                    Ok(line) => return Ok(Ok(line)),
                    Err(problem) => (reply, problem),
                }
            }
        };
        tracing::debug!(?problem, "opener failed validation; retrying once");
        let retry = retry_request(request, &reply, &problem);
        let second = match llm.complete(&retry).await {
            Ok(r) => r.content,
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => return Ok(Err(format!("{}.", e.short_reason()))),
        };
        Ok(match validate_opener(&second) {
            Ok(line) => Ok(line),
            Err(problem) => salvage(&second).ok_or_else(|| problem.reason()),
        })
    }

    async fn combined(&self, llm: &dyn Llm, found: Findings) -> Result<RowOutcome> {
        let service = &self.config.service;
        let mut parsed = None;
        let mut previous: Option<String> = None;
        for attempt in 0..2 {
            let reply = match llm
                .complete(&combined_request(&found, service, previous.as_deref()))
                .await
            {
                Ok(r) => r,
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => return Ok(provider_fallback(&e)),
            };
            if let Some(p) = parse_json_object::<CombinedReply>(&reply.content) {
                parsed = Some(p);
                break;
            }
            tracing::debug!(attempt, finish = ?reply.finish_reason, "combined reply was not valid JSON");
            previous = Some(reply.content);
        }
        let Some(CombinedReply { research, opener }) = parsed else {
            return Ok(invalid_json_fallback());
        };
        let research_json = research.sanitize(&found.urls).to_json();
        let personalized = match validate_opener(&opener) {
            Ok(line) => Ok(line),
            Err(problem) => {
                self.write_opener(llm, &research_json, Some((opener, problem)))
                    .await?
            }
        };
        Ok(finish(research_json, personalized))
    }
}

fn finish(research_json: String, personalized: std::result::Result<String, String>) -> RowOutcome {
    match personalized {
        Ok(line) => RowOutcome {
            research: research_json,
            personalized: line,
            status: RowStatus::Enriched,
            draft: None,
        },
        Err(reason) => RowOutcome {
            research: research_json,
            personalized: fallback::personalized(&reason),
            status: RowStatus::ProviderFailed,
            draft: None,
        },
    }
}

fn provider_fallback(e: &Error) -> RowOutcome {
    let reason = format!("{}.", e.short_reason());
    RowOutcome::fallback(
        fallback::research(&reason),
        "research unavailable.",
        RowStatus::ProviderFailed,
    )
}

fn invalid_json_fallback() -> RowOutcome {
    RowOutcome::fallback(
        fallback::research_invalid_json(),
        "research unavailable.",
        RowStatus::ProviderFailed,
    )
}
