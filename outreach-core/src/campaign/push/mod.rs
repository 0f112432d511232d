//! Push a finished job's rows to the tool that sends them: a sequencer (Instantly,
//! Smartlead, lemlist) or a CRM (HubSpot).
//!
//! One [`Destination`] per service, each a plain HTTP adapter that maps a batch of
//! normalised [`Lead`]s to the service's wire format and its answer back to one
//! [`LeadResult`] per lead. The engine's provider policies wrap them the same way they
//! wrap search and LLM providers ([`wrap_destination`]: `Retry(Limit(adapter))`), paced
//! to each service's documented rate limit ([`DestinationKind::requests_per_second`]).
//!
//! # Rules every push keeps
//! - **Idempotent.** Each adapter uses its service's own dedupe or upsert (Instantly
//!   `skip_if_in_campaign`, Smartlead's per-campaign dedupe, lemlist `deduplicate=true`,
//!   HubSpot upsert by `email`), so a second push of the same rows creates nothing new:
//!   its rows come back `skipped` (duplicate).
//! - **Suppressed rows are never sent.** A row whose `sif_status` is `suppressed`, or
//!   whose address is on the push's [`SuppressionList`], is `skipped` before any call.
//! - **Per row, a result.** `pushed` (created), `skipped` (duplicate or suppressed) or
//!   `rejected` with the destination's reason. A rejected key stops the push at once
//!   ([`Error::ProviderAuth`]); other request failures (after retries) reject that
//!   batch's rows with the reason and the push goes on.
//! - **Bounded memory.** Rows are read and pushed a batch at a time.

mod access;
mod batch;
mod hubspot;
mod instantly;
mod lead;
mod lemlist;
pub mod record;
mod smartlead;
mod wire;

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use access::PushAccess;
pub use hubspot::HubSpot;
pub use instantly::Instantly;
pub use lead::{Lead, LeadColumns};
pub use lemlist::Lemlist;
pub use record::PushRecord;
pub use smartlead::Smartlead;

use super::SuppressionList;
use crate::error::{Error, ProviderKind, Result};
use crate::metrics::Metrics;
use crate::providers::policy::{Limit, Retry};
use crate::providers::ProviderPolicy;

/// The services a push can go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DestinationKind {
    Instantly,
    Smartlead,
    Lemlist,
    Hubspot,
}

impl DestinationKind {
    pub const ALL: [DestinationKind; 4] = [
        DestinationKind::Instantly,
        DestinationKind::Smartlead,
        DestinationKind::Lemlist,
        DestinationKind::Hubspot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::Instantly => "instantly",
            DestinationKind::Smartlead => "smartlead",
            DestinationKind::Lemlist => "lemlist",
            DestinationKind::Hubspot => "hubspot",
        }
    }

    /// The environment variable holding the API key (the CLI reads it).
    pub fn key_env(self) -> &'static str {
        match self {
            DestinationKind::Instantly => "INSTANTLY_API_KEY",
            DestinationKind::Smartlead => "SMARTLEAD_API_KEY",
            DestinationKind::Lemlist => "LEMLIST_API_KEY",
            DestinationKind::Hubspot => "HUBSPOT_ACCESS_TOKEN",
        }
    }

    /// The environment variable that overrides the base URL (tests, proxies).
    pub fn url_env(self) -> &'static str {
        match self {
            DestinationKind::Instantly => "INSTANTLY_URL",
            DestinationKind::Smartlead => "SMARTLEAD_URL",
            DestinationKind::Lemlist => "LEMLIST_URL",
            DestinationKind::Hubspot => "HUBSPOT_URL",
        }
    }

    /// The public API's base URL.
    pub fn default_base_url(self) -> &'static str {
        match self {
            DestinationKind::Instantly => "https://api.instantly.ai",
            DestinationKind::Smartlead => "https://server.smartlead.ai",
            DestinationKind::Lemlist => "https://api.lemlist.com",
            DestinationKind::Hubspot => "https://api.hubapi.com",
        }
    }

    /// The documented request rate we stay under:
    /// - Instantly API v2: 100 requests per 10 seconds per workspace
    ///   (developer.instantly.ai, "Rate limit");
    /// - Smartlead: 10 requests per 2 seconds (Smartlead API documentation,
    ///   "Rate limits");
    /// - lemlist: 20 requests per 2 seconds (developer.lemlist.com, "Rate limits");
    /// - HubSpot private apps: 100 requests per 10 seconds on Free/Starter, the
    ///   lowest tier (developers.hubspot.com, "API usage guidelines").
    pub fn requests_per_second(self) -> f64 {
        match self {
            DestinationKind::Instantly => 10.0,
            DestinationKind::Smartlead => 5.0,
            DestinationKind::Lemlist => 10.0,
            DestinationKind::Hubspot => 10.0,
        }
    }

    /// Retries, pacing and timeouts for this service.
    pub fn policy(self) -> ProviderPolicy {
        ProviderPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
            concurrency: 4,
            requests_per_second: Some(self.requests_per_second()),
            ..ProviderPolicy::search()
        }
    }
}

impl std::fmt::Display for DestinationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DestinationKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        DestinationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == lower)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown destination `{s}`: use instantly, smartlead, lemlist or hubspot"
                ))
            })
    }
}

/// Where a push goes: the service, its key, the campaign (unused by HubSpot), and the
/// base URL (the public API unless overridden).
#[derive(Clone)]
pub struct DestinationConfig {
    pub kind: DestinationKind,
    pub api_key: String,
    pub campaign: String,
    pub base_url: Option<String>,
    pub policy: ProviderPolicy,
}

impl Debug for DestinationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never in logs or debug output.
        f.debug_struct("DestinationConfig")
            .field("kind", &self.kind)
            .field("campaign", &self.campaign)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl DestinationConfig {
    pub fn new(
        kind: DestinationKind,
        api_key: impl Into<String>,
        campaign: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            api_key: api_key.into(),
            campaign: campaign.into(),
            base_url: None,
            policy: kind.policy(),
        }
    }

    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    fn base_url(&self) -> String {
        self.base_url
            .clone()
            .unwrap_or_else(|| self.kind.default_base_url().to_string())
            .trim_end_matches('/')
            .to_string()
    }
}

/// What happened to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushStatus {
    /// Created in the destination.
    Pushed,
    /// Not created: already there (duplicate; HubSpot updates its properties), or
    /// suppressed (never sent).
    Skipped,
    /// The destination refused it, or the request failed; `reason` says why.
    Rejected,
}

impl PushStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PushStatus::Pushed => "pushed",
            PushStatus::Skipped => "skipped",
            PushStatus::Rejected => "rejected",
        }
    }
}

/// A destination's answer for one lead of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadResult {
    pub status: PushStatus,
    pub reason: String,
}

impl LeadResult {
    pub fn pushed() -> Self {
        Self {
            status: PushStatus::Pushed,
            reason: String::new(),
        }
    }
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self {
            status: PushStatus::Skipped,
            reason: reason.into(),
        }
    }
    pub fn rejected(reason: impl Into<String>) -> Self {
        Self {
            status: PushStatus::Rejected,
            reason: reason.into(),
        }
    }
}

/// One row's result in a push report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowResult {
    /// 1-based data row of the pushed file.
    pub row: u64,
    pub email: String,
    pub status: PushStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// Totals of a push.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSummary {
    pub rows: u64,
    pub pushed: u64,
    pub skipped: u64,
    pub rejected: u64,
}

impl PushSummary {
    /// Counts one row's result.
    pub fn count(&mut self, status: PushStatus) {
        self.rows += 1;
        match status {
            PushStatus::Pushed => self.pushed += 1,
            PushStatus::Skipped => self.skipped += 1,
            PushStatus::Rejected => self.rejected += 1,
        }
    }
}

/// A service leads are pushed to.
///
/// # Contract
/// - `push_batch` gets at most [`Destination::batch_size`] leads and returns exactly
///   one [`LeadResult`] per lead, in order.
/// - A lead that is already in the campaign (or CRM) is never created twice: it comes
///   back [`PushStatus::Skipped`].
/// - A failure of the whole request is an `Err` classified like provider errors
///   (401/403 [`Error::ProviderAuth`], 429 [`Error::RateLimited`] with the
///   `Retry-After` wait, 5xx [`Error::Upstream`]), so [`Retry`] can act on it.
#[async_trait]
pub trait Destination: Send + Sync + Debug + 'static {
    fn kind(&self) -> DestinationKind;
    fn batch_size(&self) -> usize;
    async fn push_batch(&self, leads: &[Lead]) -> Result<Vec<LeadResult>>;
}

#[async_trait]
impl<D: Destination + ?Sized> Destination for Arc<D> {
    fn kind(&self) -> DestinationKind {
        (**self).kind()
    }
    fn batch_size(&self) -> usize {
        (**self).batch_size()
    }
    async fn push_batch(&self, leads: &[Lead]) -> Result<Vec<LeadResult>> {
        (**self).push_batch(leads).await
    }
}

#[async_trait]
impl<D: Destination> Destination for Limit<D> {
    fn kind(&self) -> DestinationKind {
        self.inner().kind()
    }
    fn batch_size(&self) -> usize {
        self.inner().batch_size()
    }
    async fn push_batch(&self, leads: &[Lead]) -> Result<Vec<LeadResult>> {
        self.run(
            ProviderKind::Destination,
            0.0,
            |_| None,
            || self.inner().push_batch(leads),
        )
        .await
    }
}

#[async_trait]
impl<D: Destination> Destination for Retry<D> {
    fn kind(&self) -> DestinationKind {
        self.inner().kind()
    }
    fn batch_size(&self) -> usize {
        self.inner().batch_size()
    }
    async fn push_batch(&self, leads: &[Lead]) -> Result<Vec<LeadResult>> {
        self.run(|| self.inner().push_batch(leads)).await
    }
}

/// `Retry(Limit(destination))` with the policy's retries and pace (the same order and
/// reasons as `providers::wrap_search`).
pub fn wrap_destination<D: Destination>(
    inner: D,
    policy: &ProviderPolicy,
    metrics: Arc<Metrics>,
) -> Arc<dyn Destination> {
    let limited = Limit::new(inner, policy.concurrency, policy.requests_per_second);
    Arc::new(Retry::new(limited, policy, metrics))
}

/// The adapter for `config`, wrapped in its policy.
pub fn build_destination(config: &DestinationConfig) -> Result<Arc<dyn Destination>> {
    let metrics = Arc::new(Metrics::default());
    Ok(match config.kind {
        DestinationKind::Instantly => {
            wrap_destination(Instantly::new(config)?, &config.policy, metrics)
        }
        DestinationKind::Smartlead => {
            wrap_destination(Smartlead::new(config)?, &config.policy, metrics)
        }
        DestinationKind::Lemlist => {
            wrap_destination(Lemlist::new(config)?, &config.policy, metrics)
        }
        DestinationKind::Hubspot => {
            wrap_destination(HubSpot::new(config)?, &config.policy, metrics)
        }
    })
}

/// What a push takes besides the destination.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// People never to push (on top of rows already marked `suppressed`).
    pub suppression: Option<Arc<SuppressionList>>,
    /// Rows up to this data row (1-based) are left out, neither sent nor reported: a
    /// resumed push starts after the last row it recorded.
    pub resume_after: u64,
}

/// Pushes every row of a result file (CSV or XLSX) and calls `on_row` with each row's
/// result, in row order. Returns the totals, or the error that stopped the push (a
/// rejected key, an unreadable file); rows reported before it stay reported.
pub async fn push_file(
    path: &Path,
    destination: &dyn Destination,
    options: &PushOptions,
    mut on_row: impl FnMut(&RowResult) + Send,
) -> Result<PushSummary> {
    let batch_size = destination.batch_size().max(1);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<Lead>>>(2);
    let path = path.to_path_buf();
    // The reader is synchronous: it runs on a blocking thread and hands batches over a
    // bounded channel, so memory holds at most a few batches whatever the file size.
    let reader = tokio::task::spawn_blocking(move || lead::read_batches(&path, batch_size, &tx));
    let mut summary = PushSummary::default();
    let mut outcome = Ok(());
    while let Some(batch) = rx.recv().await {
        let mut batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        batch.retain(|lead| lead.row > options.resume_after);
        if batch.is_empty() {
            continue;
        }
        if let Err(e) = push_batch(destination, options, batch, &mut summary, &mut on_row).await {
            outcome = Err(e);
            break;
        }
    }
    drop(rx);
    // The reader stops on its own once the channel is closed.
    let _ = reader.await;
    outcome.map(|()| summary)
}

/// Pushes already-read leads (the embedding API and the tests); same rules as
/// [`push_file`].
pub async fn push_leads(
    leads: Vec<Lead>,
    destination: &dyn Destination,
    options: &PushOptions,
    mut on_row: impl FnMut(&RowResult) + Send,
) -> Result<PushSummary> {
    let mut summary = PushSummary::default();
    let batch_size = destination.batch_size().max(1);
    let resume_after = options.resume_after;
    let mut leads = leads
        .into_iter()
        .filter(|lead| lead.row > resume_after)
        .peekable();
    while leads.peek().is_some() {
        let batch: Vec<Lead> = leads.by_ref().take(batch_size).collect();
        push_batch(destination, options, batch, &mut summary, &mut on_row).await?;
    }
    Ok(summary)
}

async fn push_batch(
    destination: &dyn Destination,
    options: &PushOptions,
    batch: Vec<Lead>,
    summary: &mut PushSummary,
    on_row: &mut (impl FnMut(&RowResult) + Send),
) -> Result<()> {
    let mut results: Vec<Option<LeadResult>> = Vec::with_capacity(batch.len());
    let mut to_send = Vec::new();
    for lead in &batch {
        let early = if lead.suppressed
            || options
                .suppression
                .as_ref()
                .is_some_and(|list| list.matches(&lead.email))
        {
            Some(LeadResult::skipped("suppressed"))
        } else if !lead.has_valid_email() {
            Some(LeadResult::rejected("no valid email address"))
        } else {
            to_send.push(lead.clone());
            None
        };
        results.push(early);
    }
    let sent = if to_send.is_empty() {
        Vec::new()
    } else {
        match destination.push_batch(&to_send).await {
            Ok(sent) if sent.len() == to_send.len() => sent,
            Ok(sent) => {
                let reason = format!(
                    "{} answered {} results for {} leads",
                    destination.kind(),
                    sent.len(),
                    to_send.len()
                );
                vec![LeadResult::rejected(reason); to_send.len()]
            }
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                tracing::warn!(destination = %destination.kind(), error = %e, "a push batch failed");
                vec![LeadResult::rejected(e.to_string()); to_send.len()]
            }
        }
    };
    let mut sent = sent.into_iter();
    for (lead, early) in batch.iter().zip(results) {
        let result = match early {
            Some(r) => r,
            None => sent
                .next()
                .unwrap_or_else(|| LeadResult::rejected("no result")),
        };
        summary.count(result.status);
        on_row(&RowResult {
            row: lead.row,
            email: lead.email.clone(),
            status: result.status,
            reason: result.reason,
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_name_their_settings() {
        for kind in DestinationKind::ALL {
            assert_eq!(kind.as_str().parse::<DestinationKind>().unwrap(), kind);
            assert!(kind.key_env().ends_with("_API_KEY") || kind.key_env().ends_with("_TOKEN"));
            assert!(kind.requests_per_second() > 0.0);
        }
        assert_eq!(
            " HubSpot ".parse::<DestinationKind>().unwrap(),
            DestinationKind::Hubspot
        );
        assert!("apollo".parse::<DestinationKind>().is_err());
    }

    #[test]
    fn config_debug_hides_the_key() {
        let config = DestinationConfig::new(DestinationKind::Instantly, "sk-secret", "c1");
        assert!(!format!("{config:?}").contains("sk-secret"));
    }
}
