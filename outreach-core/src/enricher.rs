//! One row, start to finish: validate the email, read what the row says about the
//! prospect, search (cached), synthesise research, verify every fact against the
//! search results (dropping strangers' facts), write an opener that says only what the
//! sources say, fall back or abstain where anything fails. Only fatal provider errors
//! (bad key, no balance) escape as `Err`; everything else becomes a fallback cell and a
//! `sif_status`.
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
use crate::input::ProspectColumns;
use crate::metrics::{Counter, Metrics};
use crate::personalize::{
    check_opener, personalize_request, retry_request, salvage, AllowedClaims, OpenerProblem,
};
use crate::providers::{Llm, SearchProvider, SearchQuery, SearchResults};
use crate::research::prompt::{findings, research_request, Findings};
use crate::research::verify::{source_docs, verify, SourceDoc, Verified};
use crate::research::{
    parse::parse_json_object, parse_email, Evidence, Identity, Person, Prospect, Research,
    ResearchReply, RESEARCH_VERSION,
};
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

/// Why a row holds what it holds: the `sif_status` output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// Verified research (at least one fact that passed the verifier), and an opener
    /// or the opener fallback.
    Enriched,
    /// The search found nothing verifiable about the person or the company.
    NoSignal,
    /// Only facts about someone who may not be this person were found; they were dropped.
    IdentityUnsure,
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
    /// Every status, in the order the README lists them.
    pub const ALL: [RowStatus; 7] = [
        RowStatus::Enriched,
        RowStatus::NoSignal,
        RowStatus::IdentityUnsure,
        RowStatus::InvalidEmail,
        RowStatus::MissingKey,
        RowStatus::ProviderFailed,
        RowStatus::Suppressed,
    ];

    /// The `sif_status` cell text.
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Enriched => "enriched",
            RowStatus::NoSignal => "no_signal",
            RowStatus::IdentityUnsure => "identity_unsure",
            RowStatus::InvalidEmail => "invalid_email",
            RowStatus::MissingKey => "missing_key",
            RowStatus::ProviderFailed => "provider_failed",
            RowStatus::Suppressed => "suppressed",
        }
    }

    pub fn is_fallback(self) -> bool {
        self != RowStatus::Enriched
    }
}

impl std::fmt::Display for RowStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The new cells of a row.
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

    /// True when the row is paid for: it delivered verified research, or (for a row
    /// that abstained from research) a validated opener built from the row's own columns
    /// and the service context. Everything else is refunded.
    pub fn is_charged(&self) -> bool {
        match self.status {
            RowStatus::Enriched => true,
            RowStatus::NoSignal | RowStatus::IdentityUnsure => {
                !fallback::is_personalized_fallback(&self.personalized)
            }
            RowStatus::InvalidEmail
            | RowStatus::MissingKey
            | RowStatus::ProviderFailed
            | RowStatus::Suppressed => false,
        }
    }

    /// True when the row was reserved but is not paid for (see [`RowOutcome::is_charged`]).
    /// A suppressed row is not: it was never reserved, so there is nothing to give back.
    pub fn is_refundable(&self) -> bool {
        self.status != RowStatus::Suppressed && !self.is_charged()
    }

    /// The evidence URLs of the research cell, one per line (the optional `sif_sources`
    /// column); empty for a fallback.
    pub fn sources_cell(&self) -> String {
        Research::from_cell(&self.research)
            .map(|r| r.sources.join("\n"))
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct EnricherConfig {
    pub mode: Mode,
    pub service: ServiceContext,
    /// Entries kept in each cache (search results, finished rows). Bounds memory on
    /// huge files; an evicted domain is simply searched again.
    pub cache_capacity: usize,
    /// Benchmarks only: deliver the model's facts and openers without the verifier and
    /// the claim check (the behaviour before evidence), as the baseline the checks'
    /// cost is measured against. Never set this for users.
    pub skip_checks: bool,
    /// Do-not-contact list and email templates of this run.
    pub campaign: Campaign,
}

impl Default for EnricherConfig {
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            service: ServiceContext::default(),
            cache_capacity: 20_000,
            skip_checks: false,
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
    /// Its providers wait for the process's preflight right before their first call.
    pub fn enricher(&self, config: EnricherConfig) -> Enricher {
        let gate = crate::preflight::Gate::new(self.clone());
        Enricher::new(
            self.search.clone().map(|s| gate.search(s)),
            self.llm.clone().map(|l| gate.llm(l)),
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
    /// What the service context allows an opener to claim; the same for every row.
    service_claims: AllowedClaims,
}

/// What the searches returned for one row: the prompt text and the citable sources.
struct Found {
    findings: Findings,
    docs: Vec<SourceDoc>,
}

/// Research succeeded (verified) or produced the cells to write instead.
enum ResearchStep {
    Done(Verified),
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
        let service_claims = AllowedClaims::new([config.service.claim_text().as_str()]);
        Self {
            search,
            llm,
            service_claims,
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

    /// Enrich one input row: the email cell and the columns that say who the prospect is.
    pub async fn enrich_row(
        &self,
        row: &[String],
        columns: &ProspectColumns,
    ) -> Result<RowOutcome> {
        let email_cell = row.get(columns.email).map(String::as_str).unwrap_or("");
        let Some(email) = parse_email(email_cell) else {
            return Ok(RowOutcome::fallback(
                fallback::research_invalid_email(),
                "invalid email.",
                RowStatus::InvalidEmail,
            ));
        };
        self.enrich_prospect(Prospect::from_row(email, row, &columns.roles))
            .await
    }

    /// Enrich one prospect (duplicates of a finished row are answered from the cache).
    pub async fn enrich_prospect(&self, prospect: Prospect) -> Result<RowOutcome> {
        let key = cache_key(&prospect);
        let guard = match self.row_cache.get_value_or_guard_async(&key).await {
            Ok(hit) => {
                self.metrics.count(Counter::ResearchCacheHits, 1);
                return Ok(hit);
            }
            Err(guard) => guard,
        };
        let outcome = self.enrich_uncached(&prospect).await?;
        if outcome.status != RowStatus::ProviderFailed && outcome.status != RowStatus::MissingKey {
            let _ = guard.insert(outcome.clone());
        }
        Ok(outcome)
    }

    /// Research alone, for one-off use: the research cell (JSON or fallback) and the
    /// parsed, verified document when it holds at least one fact. Always two-call style.
    pub async fn research(&self, email_cell: &str) -> Result<(String, Option<Research>)> {
        let Some(email) = parse_email(email_cell) else {
            return Ok((fallback::research_invalid_email(), None));
        };
        let prospect = Prospect::from_email(email);
        let (Some(search), Some(llm)) = (&self.search, &self.llm) else {
            let cell = if self.search.is_none() {
                fallback::research_missing_search_key()
            } else {
                fallback::research_missing_llm_key()
            };
            return Ok((cell, None));
        };
        let found = match self.search_both(search.as_ref(), &prospect).await {
            Ok(f) => f,
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => return Ok((provider_fallback(&e).research, None)),
        };
        Ok(
            match self.synthesise(llm.as_ref(), &prospect, &found).await? {
                ResearchStep::Done(v) if !v.research.has_no_facts() => {
                    (v.research.to_json(), Some(v.research))
                }
                ResearchStep::Done(v) => (abstention(&v).research, None),
                ResearchStep::Fallback(outcome) => (outcome.research, None),
            },
        )
    }

    /// An opener for a research JSON document and this enricher's service context:
    /// the line, or the personalized fallback text. The line may name only what the
    /// document's facts and names and the service context state.
    pub async fn personalize(&self, research_json: &str) -> Result<String> {
        if fallback::is_research_fallback(research_json) {
            return Ok(fallback::personalized("research unavailable."));
        }
        let Some(llm) = &self.llm else {
            return Ok(fallback::personalized("missing GROQ_API_KEY."));
        };
        let research = Research::from_cell(research_json);
        let allowed = match &research {
            Some(r) => self.allowed_claims(r, ""),
            None => AllowedClaims::new([research_json, &self.config.service.claim_text()]),
        };
        Ok(
            match self
                .write_opener(llm.as_ref(), Some(research_json), "", &allowed, None)
                .await?
            {
                Ok(line) => line,
                Err(reason) => fallback::personalized(&reason),
            },
        )
    }

    async fn enrich_uncached(&self, prospect: &Prospect) -> Result<RowOutcome> {
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
        let found = match self.search_both(search.as_ref(), prospect).await {
            Ok(f) => f,
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => return Ok(provider_fallback(&e)),
        };
        match self.config.mode {
            Mode::TwoCall => self.two_call(llm.as_ref(), prospect, found).await,
            Mode::Combined => self.combined(llm.as_ref(), prospect, found).await,
        }
    }

    /// Both queries, concurrently, through the cache (no company search for a free-mail
    /// address without a company column).
    async fn search_both(&self, search: &dyn SearchProvider, prospect: &Prospect) -> Result<Found> {
        let (person_q, company_q) = prospect.queries();
        let company_search = async {
            match &company_q {
                Some(q) => self.cached_search(search, q).await.map(Some),
                None => Ok(None),
            }
        };
        let (person, company) =
            futures::try_join!(self.cached_search(search, &person_q), company_search)?;
        let mut results: Vec<&SearchResults> = vec![person.as_ref()];
        results.extend(company.as_deref());
        let docs = source_docs(&results);
        let findings = findings(
            prospect,
            &person_q,
            &person,
            company_q.as_deref(),
            company.as_deref(),
        );
        Ok(Found { findings, docs })
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

    async fn two_call(
        &self,
        llm: &dyn Llm,
        prospect: &Prospect,
        found: Found,
    ) -> Result<RowOutcome> {
        let verified = match self.synthesise(llm, prospect, &found).await? {
            ResearchStep::Done(v) => v,
            ResearchStep::Fallback(outcome) => return Ok(outcome),
        };
        self.deliver(llm, prospect, verified, None).await
    }

    /// Research from the findings (invalid JSON is retried once, with the conversation),
    /// then verified.
    async fn synthesise(
        &self,
        llm: &dyn Llm,
        prospect: &Prospect,
        found: &Found,
    ) -> Result<ResearchStep> {
        let mut previous: Option<String> = None;
        for attempt in 0..2 {
            let request = research_request(&found.findings, previous.as_deref());
            let reply = match llm.complete(&request).await {
                Ok(r) => r,
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => return Ok(ResearchStep::Fallback(provider_fallback(&e))),
            };
            if let Some(reply) = parse_json_object::<ResearchReply>(&reply.content) {
                return Ok(ResearchStep::Done(
                    self.check_research(&reply, prospect, found),
                ));
            }
            tracing::debug!(attempt, finish = ?reply.finish_reason, "research reply was not valid JSON");
            previous = Some(reply.content);
        }
        Ok(ResearchStep::Fallback(invalid_json_fallback()))
    }

    /// The verifier, counted in the metrics (or, for the benchmark baseline, nothing).
    fn check_research(
        &self,
        reply: &ResearchReply,
        prospect: &Prospect,
        found: &Found,
    ) -> Verified {
        if self.config.skip_checks {
            return unchecked(reply, prospect);
        }
        let verified = verify(reply, prospect, &found.docs);
        self.metrics
            .count(Counter::FactsVerified, verified.facts_kept() as u64);
        self.metrics
            .count(Counter::FactsDropped, verified.dropped.len() as u64);
        if !verified.dropped.is_empty() {
            tracing::debug!(dropped = ?verified.dropped, "facts dropped by the verifier");
        }
        verified
    }

    /// Verified research in hand: write (or check) the opener and settle the status.
    /// `first_opener` is the combined mode's line, written alongside the research.
    async fn deliver(
        &self,
        llm: &dyn Llm,
        prospect: &Prospect,
        verified: Verified,
        first_opener: Option<String>,
    ) -> Result<RowOutcome> {
        let row = prospect.row_lines();
        if verified.research.has_no_facts() {
            let mut outcome = abstention(&verified);
            if self.config.service.copy.opener_without_research {
                let allowed = AllowedClaims::new([row.as_str(), &self.config.service.claim_text()]);
                if let Ok(line) = self.write_opener(llm, None, &row, &allowed, None).await? {
                    outcome.personalized = line;
                }
            }
            return Ok(outcome);
        }
        let research_json = verified.research.to_json();
        let allowed = self.allowed_claims(&verified.research, &row);
        let first = match first_opener {
            Some(line) => match self.check(&line, &allowed) {
                Ok(line) => Some(Ok(line)),
                Err(problem) => Some(Err((line, problem))),
            },
            None => None,
        };
        let personalized = match first {
            Some(Ok(line)) => Ok(line),
            Some(Err(failed)) => {
                self.write_opener(llm, Some(&research_json), &row, &allowed, Some(failed))
                    .await?
            }
            None => {
                self.write_opener(llm, Some(&research_json), &row, &allowed, None)
                    .await?
            }
        };
        Ok(RowOutcome {
            research: research_json,
            personalized: personalized.unwrap_or_else(|reason| fallback::personalized(&reason)),
            status: RowStatus::Enriched,
            draft: None,
        })
    }

    /// What an opener may mention: the verified facts and names, the row, the service.
    fn allowed_claims(&self, research: &Research, row: &str) -> AllowedClaims {
        let names = [
            research.person.name.as_str(),
            research.person.title.as_str(),
            research.company.name.as_str(),
            research.company.domain.as_str(),
        ];
        AllowedClaims::new(research.facts().chain(names).chain([row])).union(&self.service_claims)
    }

    fn check(
        &self,
        line: &str,
        allowed: &AllowedClaims,
    ) -> std::result::Result<String, OpenerProblem> {
        let claims = (!self.config.skip_checks).then_some(allowed);
        check_opener(line, &self.config.service.copy, claims)
    }

    /// The opener: one call, one retry naming what broke the rules, then salvage or
    /// fall back. `first_reply` is an opener already written (combined mode) that
    /// failed the checks.
    async fn write_opener(
        &self,
        llm: &dyn Llm,
        research_json: Option<&str>,
        row: &str,
        allowed: &AllowedClaims,
        first_reply: Option<(String, OpenerProblem)>,
    ) -> Result<std::result::Result<String, String>> {
        let request = personalize_request(research_json, row, &self.config.service);
        let (reply, problem) = match first_reply {
            Some(failed) => failed,
            None => {
                let reply = match llm.complete(&request).await {
                    Ok(r) => r.content,
                    Err(e) if e.is_fatal() => return Err(e),
                    Err(e) => return Ok(Err(format!("{}.", e.short_reason()))),
                };
                match self.check(&reply, allowed) {
                    Ok(line) => return Ok(Ok(line)),
                    Err(problem) => (reply, problem),
                }
            }
        };
        tracing::debug!(?problem, "opener failed the checks; retrying once");
        if matches!(problem, OpenerProblem::Unsupported(_)) {
            self.metrics.count(Counter::OpenerClaimRetries, 1);
        }
        let retry = retry_request(request, &reply, &problem);
        let second = match llm.complete(&retry).await {
            Ok(r) => r.content,
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => return Ok(Err(format!("{}.", e.short_reason()))),
        };
        Ok(match self.check(&second, allowed) {
            Ok(line) => Ok(line),
            Err(problem) => {
                let claims = (!self.config.skip_checks).then_some(allowed);
                match salvage(&second, &self.config.service.copy, claims) {
                    Some(line) => Ok(line),
                    None => {
                        if matches!(problem, OpenerProblem::Unsupported(_)) {
                            self.metrics.count(Counter::OpenersRejected, 1);
                        }
                        Err(problem.reason())
                    }
                }
            }
        })
    }

    async fn combined(
        &self,
        llm: &dyn Llm,
        prospect: &Prospect,
        found: Found,
    ) -> Result<RowOutcome> {
        let service = &self.config.service;
        let mut parsed = None;
        let mut previous: Option<String> = None;
        for attempt in 0..2 {
            let reply = match llm
                .complete(&combined_request(
                    &found.findings,
                    service,
                    previous.as_deref(),
                ))
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
        let verified = self.check_research(&research, prospect, &found);
        // An opener written alongside research that lost all its facts is not used.
        let first = (!verified.research.has_no_facts()).then_some(opener);
        self.deliver(llm, prospect, verified, first).await
    }
}

/// The row cache key: the address and everything the row says about the prospect.
fn cache_key(p: &Prospect) -> String {
    let f = |v: &Option<String>| v.as_deref().unwrap_or("").to_lowercase();
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        p.email.address(),
        f(&p.name),
        f(&p.company),
        f(&p.title),
        f(&p.website_domain)
    )
}

/// The cells of a row whose research kept no fact: `identity_unsure` when facts were
/// dropped because their source was about someone else, else `no_signal`.
fn abstention(v: &Verified) -> RowOutcome {
    if v.dropped_a_stranger() {
        RowOutcome::fallback(
            fallback::research_identity_unsure(),
            "no verified research.",
            RowStatus::IdentityUnsure,
        )
    } else {
        RowOutcome::fallback(
            fallback::research_no_signal(),
            "no verified research.",
            RowStatus::NoSignal,
        )
    }
}

/// The benchmark baseline: the model's facts as delivered before the verifier existed.
fn unchecked(reply: &ResearchReply, prospect: &Prospect) -> Verified {
    let research = Research {
        person: Person {
            name: reply.person.name.clone(),
            title: reply.person.title.clone(),
            info: reply.person.info.clone(),
        },
        company: crate::research::Company {
            name: reply.company.name.clone(),
            domain: prospect
                .company_domains()
                .into_iter()
                .next()
                .unwrap_or_else(|| crate::research::UNKNOWN.into()),
            info: reply.company.info.clone(),
            moat: reply.company.moat.clone(),
        },
        evidence: reply
            .evidence
            .iter()
            .map(|e| Evidence {
                fact: e.fact.clone(),
                url: e.url.clone(),
                quote: e.quote.clone(),
            })
            .collect(),
        identity: Identity::Unsure,
        sources: reply.evidence.iter().map(|e| e.url.clone()).collect(),
        version: RESEARCH_VERSION,
    };
    Verified {
        research,
        dropped: Vec::new(),
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
