//! The job-finished port: front ends learn that a job reached a terminal status
//! (succeeded, failed, cancelled) without the core knowing how they tell anyone (the
//! server sends a signed `job.finished` webhook). Called only by the finisher that won
//! the status compare-and-set, so a redelivered finalize or fail never tells twice.

use serde::Serialize;

use crate::ports::{Job, JobStatus};

/// What a finished job reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinishedJob {
    /// Whose job (the account the event goes to); not part of the payload.
    #[serde(skip)]
    pub user_id: String,
    pub job_id: String,
    pub status: JobStatus,
    pub rows: u64,
    pub rows_processed: u64,
    /// Credits reserved when the job was created.
    pub credits_charged: i64,
    /// Credits given back by this finish (failed rows, the whole attempt, unprocessed rows).
    pub credits_refunded: i64,
    /// Where the result is downloaded (`/jobs/{id}/download`), for a succeeded job.
    pub download_path: Option<String>,
    pub error: Option<String>,
}

impl FinishedJob {
    pub(crate) fn new(job: &Job, rows_processed: u64, refunded: i64) -> Self {
        Self {
            user_id: job.user_id.clone(),
            job_id: job.id.clone(),
            status: job.status,
            rows: job.rows,
            rows_processed,
            credits_charged: job.meta.credit_cost,
            credits_refunded: refunded.max(0),
            download_path: (job.status == JobStatus::Succeeded)
                .then(|| format!("/jobs/{}/download", job.id)),
            error: job.error.clone(),
        }
    }
}

/// Told once per job when it ends. Must not block: implementations hand the work to a
/// task of their own (delivery, retries).
pub trait JobNotifier: Send + Sync + std::fmt::Debug {
    fn job_finished(&self, event: FinishedJob);
}
