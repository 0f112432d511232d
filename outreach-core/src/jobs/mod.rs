//! The chunked job lifecycle: `queued → in_progress → succeeded | failed | cancelled`.
//!
//! A job's work is a handful of idempotent tasks on the [`JobQueue`]:
//! - `Start` claims the job (a compare-and-set on its status), splits the input into
//!   fixed-size raw chunks in [`Storage`], and enqueues one `Chunk` task per chunk not
//!   yet done;
//! - `Chunk` enriches one chunk and stores its output; its existence means "done", so a
//!   redelivered task costs no provider call. Progress is derived from the recorded
//!   chunks, so concurrent chunks never lose an update; while a chunk runs it reports
//!   its rows done about once a second (`JobStore::record_chunk_rows`, which never
//!   counts a row twice) and stops at its next row once the job is cancelled;
//! - `Finalize` merges chunks in input order into the result file, marks the job
//!   succeeded (exactly one finisher wins) and refunds rows that failed for provider
//!   reasons.
//!
//! Any number of workers, in any number of processes, can run these tasks. Credits are
//! reserved before the job exists and refunded through idempotency-keyed ledger
//! entries, so no retry or race can charge or refund twice.

mod create;
mod credits;
mod documents;
mod events;
mod files;
mod finalize;
pub mod keys;
mod local;
mod notify;
mod push;
mod split;
mod work_chunk;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;

use quick_cache::sync::Cache;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::campaign::{Campaign, Drafts, SuppressionList};
use crate::enricher::{Enricher, EnricherConfig, Mode, Providers};
use crate::input::ParseGate;
use crate::ports::{CreditLedger, Job, JobQueue, JobStore, Storage};

pub use create::{CampaignRequest, CreateJob};
pub use events::{event_key, EventSender, Sent, StoredEvent, EVENTS_ROOT};
pub use local::LocalRun;
pub use notify::{FinishedJob, JobNotifier};
pub use worker::{StallTracker, WorkerHandle, DEFAULT_SHUTDOWN_GRACE};

/// Tuning of the job system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobSettings {
    /// Rows per chunk: the unit of progress, recovery and retry.
    pub chunk_size: u32,
    /// Rows in flight at once in this process, across all its chunks.
    pub concurrency: usize,
    /// Deliveries of one task before it is dead-lettered and its job failed.
    pub max_attempts: u32,
    /// Where temporary files (downloaded inputs, results being written) go.
    pub temp_dir: PathBuf,
    /// Rows a job may have (0 = unlimited).
    pub max_rows: u64,
    /// A queued or running job without visible progress for this long is re-queued
    /// (see `JobSystem::sweep_stalled`). Keep it well above the queue's visibility
    /// timeout.
    pub stall_after: std::time::Duration,
    /// How often a running chunk reports its rows done and checks for a cancel
    /// (progress by row; the cancel stops the chunk at its next row).
    pub progress_every: std::time::Duration,
    /// Input files read at once in this process (headers, job creation), overall
    /// (`OUTREACH_MAX_PARSES`, default: the number of CPUs) and per user
    /// (`OUTREACH_MAX_PARSES_PER_USER`, default 2). See [`crate::input::ParseGate`].
    pub max_parses: usize,
    pub max_parses_per_user: usize,
    /// Attempts at delivering an outgoing event before it is dead-lettered
    /// (`OUTREACH_WEBHOOK_ATTEMPTS`, default 10).
    pub webhook_attempts: u32,
    /// The wait after a failed delivery, doubling per attempt up to an hour
    /// (`OUTREACH_WEBHOOK_BACKOFF_SECS`, default 2 s: ten attempts span about 34 min).
    pub webhook_backoff: std::time::Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            chunk_size: 50,
            concurrency: 64,
            max_attempts: 5,
            temp_dir: std::env::temp_dir(),
            max_rows: 0,
            stall_after: std::time::Duration::from_secs(1800),
            progress_every: std::time::Duration::from_secs(1),
            max_parses: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_parses_per_user: 2,
            webhook_attempts: 10,
            webhook_backoff: std::time::Duration::from_secs(2),
        }
    }
}

impl JobSettings {
    /// Defaults, overridden by `OUTREACH_CHUNK_SIZE`, `OUTREACH_CONCURRENCY`,
    /// `OUTREACH_MAX_ATTEMPTS`, `OUTREACH_MAX_ROWS`, `OUTREACH_STALL_AFTER_SECS`,
    /// `OUTREACH_WEBHOOK_ATTEMPTS`, `OUTREACH_WEBHOOK_BACKOFF_SECS`;
    /// temporary files under `<data_dir>/tmp`.
    pub fn from_env(data_dir: &std::path::Path) -> Self {
        let num = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| *v > 0.0)
        };
        let d = Self::default();
        Self {
            chunk_size: num("OUTREACH_CHUNK_SIZE").map_or(d.chunk_size, |v| v as u32),
            concurrency: num("OUTREACH_CONCURRENCY").map_or(d.concurrency, |v| v as usize),
            max_attempts: num("OUTREACH_MAX_ATTEMPTS").map_or(d.max_attempts, |v| v as u32),
            max_rows: num("OUTREACH_MAX_ROWS").map_or(d.max_rows, |v| v as u64),
            stall_after: num("OUTREACH_STALL_AFTER_SECS")
                .map_or(d.stall_after, std::time::Duration::from_secs_f64),
            max_parses: num("OUTREACH_MAX_PARSES").map_or(d.max_parses, |v| v as usize),
            max_parses_per_user: num("OUTREACH_MAX_PARSES_PER_USER")
                .map_or(d.max_parses_per_user, |v| v as usize),
            webhook_attempts: num("OUTREACH_WEBHOOK_ATTEMPTS")
                .map_or(d.webhook_attempts, |v| v as u32),
            webhook_backoff: num("OUTREACH_WEBHOOK_BACKOFF_SECS")
                .map_or(d.webhook_backoff, std::time::Duration::from_secs_f64),
            temp_dir: data_dir.join("tmp"),
            progress_every: d.progress_every,
        }
    }
}

/// Everything the job lifecycle needs, shared by the API side (create, retry, cancel)
/// and the workers.
#[derive(Debug, Clone)]
pub struct JobSystem {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn JobStore>,
    ledger: Arc<dyn CreditLedger>,
    storage: Arc<dyn Storage>,
    queue: Arc<dyn JobQueue>,
    providers: Providers,
    settings: JobSettings,
    /// One enricher per recent job, so the chunks of a job share its caches.
    enrichers: Cache<String, Arc<Enricher>>,
    /// Rows in flight in this process.
    in_flight: Arc<Semaphore>,
    /// Input files being read (headers, job creation) in this process.
    parses: ParseGate,
    /// Told once per job when it ends (`JobSystem::set_notifier`).
    notifier: std::sync::RwLock<Option<Arc<dyn JobNotifier>>>,
    /// Delivers stored outgoing events (`JobSystem::set_event_sender`).
    event_sender: std::sync::RwLock<Option<Arc<dyn EventSender>>>,
    /// Opens saved destinations for push tasks (`JobSystem::set_push_access`).
    push_access: std::sync::RwLock<Option<Arc<dyn crate::campaign::push::PushAccess>>>,
    /// Push starts in this process, one at a time (`JobSystem::start_push`).
    push_starts: tokio::sync::Mutex<()>,
}

impl JobSystem {
    pub fn new(
        store: Arc<dyn JobStore>,
        ledger: Arc<dyn CreditLedger>,
        storage: Arc<dyn Storage>,
        queue: Arc<dyn JobQueue>,
        providers: Providers,
        settings: JobSettings,
    ) -> Self {
        let in_flight = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let parses = ParseGate::new(settings.max_parses, settings.max_parses_per_user);
        Self {
            inner: Arc::new(Inner {
                store,
                ledger,
                storage,
                queue,
                providers,
                settings,
                enrichers: Cache::new(32),
                in_flight,
                parses,
                notifier: std::sync::RwLock::new(None),
                event_sender: std::sync::RwLock::new(None),
                push_access: std::sync::RwLock::new(None),
                push_starts: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.inner.store
    }
    pub fn ledger(&self) -> &Arc<dyn CreditLedger> {
        &self.inner.ledger
    }
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }
    pub fn queue(&self) -> &Arc<dyn JobQueue> {
        &self.inner.queue
    }
    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }
    pub fn settings(&self) -> &JobSettings {
        &self.inner.settings
    }
    /// Who is told when a job of this process ends (replaces any earlier one).
    pub fn set_notifier(&self, notifier: Arc<dyn JobNotifier>) {
        let mut slot = self
            .inner
            .notifier
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *slot = Some(notifier);
    }

    /// Who delivers outgoing events (`job.finished`, `push.finished`) for this
    /// process's workers (replaces any earlier one). Without one, no event is stored.
    pub fn set_event_sender(&self, sender: Arc<dyn EventSender>) {
        let mut slot = self
            .inner
            .event_sender
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *slot = Some(sender);
    }

    pub(crate) fn event_sender(&self) -> Option<Arc<dyn EventSender>> {
        self.inner
            .event_sender
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Tells the notifier, if any, that `job` ended, and stores `job.finished` for
    /// delivery. Call only where the finish won.
    pub(crate) async fn notify_finished(&self, job: &Job, rows_processed: u64, refunded: i64) {
        let notifier = self
            .inner
            .notifier
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let event = FinishedJob::new(job, rows_processed, refunded);
        match serde_json::to_value(&event) {
            Ok(data) => self.emit_logged(&job.user_id, "job.finished", data).await,
            Err(e) => tracing::error!(error = %e, "could not encode job.finished"),
        }
        if let Some(n) = notifier {
            n.job_finished(event);
        }
    }

    /// The bound on input files read at once (per user and overall).
    pub fn parse_gate(&self) -> &ParseGate {
        &self.inner.parses
    }

    /// The enricher for a job: its service context, mode and campaign (the stored
    /// do-not-contact list, the compiled templates), this process's providers.
    async fn enricher_for(&self, job: &Job) -> crate::Result<Arc<Enricher>> {
        if let Some(e) = self.inner.enrichers.get(&job.id) {
            return Ok(e);
        }
        let config = EnricherConfig {
            mode: if job.meta.combined {
                Mode::Combined
            } else {
                Mode::TwoCall
            },
            service: job.meta.service.clone(),
            campaign: self.campaign_for(job).await?,
            ..EnricherConfig::default()
        };
        let enricher = Arc::new(self.inner.providers.enricher(config));
        self.inner
            .enrichers
            .insert(job.id.clone(), enricher.clone());
        Ok(enricher)
    }

    async fn campaign_for(&self, job: &Job) -> crate::Result<Campaign> {
        let Some(spec) = &job.meta.campaign else {
            return Ok(Campaign::default());
        };
        let suppression = match &spec.suppression_key {
            Some(key) => {
                let bytes = self.storage().get(key).await?;
                let (list, _) = SuppressionList::parse(&String::from_utf8_lossy(&bytes));
                Some(Arc::new(list))
            }
            None => None,
        };
        let drafts = match &spec.drafts {
            Some(d) => Some(Drafts::compile(d)?),
            None => None,
        };
        Ok(Campaign {
            suppression,
            drafts,
        })
    }
}
