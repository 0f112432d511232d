//! The `JobStore` port: jobs and their chunks; `JobRecords`: their logs and file metadata.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::output::OutputFormat;
use crate::ServiceContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    InProgress,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::InProgress => "in_progress",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        Some(match s {
            "queued" => JobStatus::Queued,
            "in_progress" => JobStatus::InProgress,
            "succeeded" => JobStatus::Succeeded,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// What a job was asked to do (the seed's `meta_json`, plus what resuming needs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobMeta {
    /// Storage key of the input file.
    pub file_path: String,
    pub email_col: String,
    /// Headers of the role columns (name, company, …) the user chose; the rest guessed.
    #[serde(default)]
    pub columns: crate::input::ColumnOverrides,
    pub service: ServiceContext,
    pub credit_cost: i64,
    pub output_columns: Option<Vec<String>>,
    pub format: OutputFormat,
    pub chunk_size: u32,
    pub limit: Option<u64>,
    pub combined: bool,
    /// Do-not-contact snapshot and email templates, when the job has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<JobCampaign>,
}

/// The campaign part of a job, fixed when it is created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCampaign {
    /// Storage key of the job's copy of the do-not-contact list (account + run lists
    /// merged at creation, so a later edit does not change a running job).
    #[serde(default)]
    pub suppression_key: Option<String>,
    /// Rows on the list: not charged.
    #[serde(default)]
    pub suppressed_rows: u64,
    #[serde(default)]
    pub drafts: Option<crate::campaign::DraftSpec>,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub user_id: String,
    pub status: JobStatus,
    pub filename: String,
    pub rows: u64,
    /// Set once the input is split; until then 0.
    pub chunks_total: u32,
    pub rows_processed: u64,
    pub progress_percent: f64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub result_path: Option<String>,
    pub error: Option<String>,
    pub meta: JobMeta,
    pub timing: Option<serde_json::Value>,
    /// 1 for the first run; a retry of a failed job increments it.
    pub attempt: u32,
    /// Every charge for the job: the first reservation plus each retry's.
    pub credits_charged: i64,
    pub credits_refunded: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    pub id: String,
    pub user_id: String,
    pub filename: String,
    pub rows: u64,
    pub meta: JobMeta,
    pub credits_charged: i64,
}

/// A finished chunk's numbers, stored once per (job, attempt-independent) chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkStats {
    pub rows: u64,
    pub fallbacks: u64,
    /// Rows to refund (provider failures, missing keys).
    pub refundable: u64,
    pub search_calls: u64,
    pub llm_calls: u64,
    pub cache_hits: u64,
    pub retries: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub millis: u64,
}

/// Progress derived from the recorded chunks (never from a counter that concurrent
/// chunks could overwrite).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkProgress {
    pub chunks_done: u32,
    pub chunks_total: u32,
    pub rows_processed: u64,
    pub totals: ChunkStats,
}

/// A finished job's figures (`Job::timing`). Stored as JSON, so a reader built before
/// a field existed still reads the rest; every field defaults to zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timing {
    pub seconds: TimingSeconds,
    /// Rows processed.
    pub rows: u64,
    /// Rows per wall-clock second.
    pub rows_per_second: f64,
    pub provider_calls: ProviderCalls,
    pub cache_hits: u64,
    pub retries: u64,
    /// Rows that carry a fallback string.
    pub fallbacks: u64,
    /// Fallback rows whose credits were refunded (provider failures, missing keys).
    pub refundable_rows: u64,
    pub tokens: TokenCounts,
    /// Cells cut to Excel's limit.
    pub truncated_cells: u64,
}

/// Where a job's time went, in seconds (millisecond precision).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimingSeconds {
    pub split: f64,
    /// The chunks' own time, summed (exceeds `wall` when chunks run in parallel).
    pub chunks_total: f64,
    pub finalize: f64,
    /// From start to finish.
    pub wall: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderCalls {
    pub search: u64,
    pub llm: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenCounts {
    pub prompt: u64,
    pub completion: u64,
}

impl Job {
    /// The stored figures, typed; `None` until the job has finished (or if the stored
    /// value is not a timing object).
    pub fn timing(&self) -> Option<Timing> {
        self.timing
            .as_ref()
            .and_then(|t| serde_json::from_value(t.clone()).ok())
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFinish {
    pub status: JobStatus,
    pub result_path: Option<String>,
    pub error: Option<String>,
    pub timing: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobLog {
    pub id: i64,
    pub job_id: String,
    pub step: i64,
    pub total: i64,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// Jobs: the small core the lifecycle's correctness rests on (state, compare-and-set,
/// chunk records). Logs and file records, append-only bookkeeping, are the
/// [`JobRecords`] supertrait.
///
/// # Contract
/// - `get_job(Some(user), id)` returns the job only if it belongs to `user`, else
///   [`crate::Error::NotFound`]; `None` is for workers (no scoping).
/// - `transition(id, from, to)` is a compare-and-set on the status: it returns `true`
///   for exactly one of any number of concurrent callers. Moving to `in_progress` sets
///   `started_at` (if unset); moving to a terminal status sets `finished_at`.
/// - `record_chunk` is idempotent per (job, chunk): the first record wins, later ones
///   change nothing. It returns the progress derived from all recorded chunks and
///   updates the job's `rows_processed` / `progress_percent` from it. It records only
///   while the job is `in_progress`, checked atomically with the record (against any
///   concurrent `finish`/`transition`): otherwise it records nothing and returns
///   `None`. So once a job has left `in_progress`, its recorded chunks are final, and a
///   refund counted from them then is exact.
/// - `record_chunk_rows(id, chunk, rows)` reports rows done so far by a running chunk
///   (progress by row). Per (job, chunk) the largest report counts, and a recorded
///   chunk's own rows replace it, so a redelivered chunk never counts a row twice. The
///   job's `rows_processed` is the recorded chunks' rows plus the reports of the
///   others; it never decreases (neither method lowers it) and is exact once every
///   chunk is recorded. Returns the job's `rows_processed`.
/// - `finish` is `transition` from `in_progress` plus the result fields, in one
///   statement: exactly one finisher wins.
/// - `retry` moves a `failed` job back to `queued`, increments `attempt`, clears
///   `error`/`finished_at` (and `started_at`/`result_path`: the next run is a fresh
///   one); returns the new attempt, or `None` if it was not failed. Recorded chunks
///   stay.
/// - Any method naming a job that does not exist is [`crate::Error::NotFound`].
#[async_trait]
pub trait JobStore: JobRecords + super::UserData {
    async fn create_job(&self, job: NewJob) -> Result<Job>;
    async fn get_job(&self, user_id: Option<&str>, id: &str) -> Result<Job>;
    /// Newest first, with the total count.
    async fn list_jobs(&self, user_id: &str, offset: u64, limit: u64) -> Result<(Vec<Job>, u64)>;
    async fn transition(&self, id: &str, from: JobStatus, to: JobStatus) -> Result<bool>;
    async fn set_chunks_total(&self, id: &str, chunks_total: u32) -> Result<()>;
    async fn record_chunk(
        &self,
        id: &str,
        chunk: u32,
        stats: ChunkStats,
    ) -> Result<Option<ChunkProgress>>;
    async fn record_chunk_rows(&self, id: &str, chunk: u32, rows: u64) -> Result<u64>;
    async fn chunk_progress(&self, id: &str) -> Result<ChunkProgress>;
    /// Indices of recorded chunks, ascending.
    async fn done_chunks(&self, id: &str) -> Result<Vec<u32>>;
    async fn finish(&self, id: &str, finish: JobFinish) -> Result<bool>;
    async fn retry(&self, id: &str) -> Result<Option<u32>>;
    async fn add_credits_refunded(&self, id: &str, credits: i64) -> Result<()>;
    /// A retry's charge, added to `credits_charged`.
    async fn add_credits_charged(&self, id: &str, credits: i64) -> Result<()>;
    /// Jobs in these statuses (any user), oldest first: recovery after a restart.
    async fn jobs_with_status(&self, statuses: &[JobStatus]) -> Result<Vec<Job>>;
}

/// A job's append-only records: its log lines and the files it produced.
///
/// # Contract
/// - `add_log` on a job that does not exist is [`crate::Error::NotFound`]; `logs`
///   returns the lines in the order they were added.
/// - `record_file` is idempotent per (user, storage path); naming a job that does not
///   exist is [`crate::Error::NotFound`].
#[async_trait]
pub trait JobRecords: Send + Sync + Debug + 'static {
    async fn add_log(&self, id: &str, step: i64, total: i64, message: &str) -> Result<()>;
    async fn logs(&self, id: &str) -> Result<Vec<JobLog>>;
    /// File metadata (the seed's `files` table).
    async fn record_file(
        &self,
        user_id: &str,
        job_id: Option<&str>,
        original_name: &str,
        storage_path: &str,
        file_type: &str,
    ) -> Result<()>;
}
