//! What a user has stored, for quotas, retention and erasure (issue 12, item 7): the
//! recorded size of their files, what is old enough to delete, and deleting the rows of
//! jobs and files. The ledger is never touched here: credits stay accounted for.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;

/// A stored object and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub user_id: String,
    /// A job id (for jobs) or a storage key (for uploads).
    pub id: String,
}

/// Stored data per user.
///
/// # Contract
/// - `stored_bytes` is the sum of the sizes set with `set_file_size` over the user's
///   file records (0 without any).
/// - `finished_jobs_before(cutoff)` lists jobs in a terminal status that finished (or,
///   without a finish time, were created) before `cutoff`; `uploads_before(cutoff)`
///   lists file records of type `upload` created before `cutoff`.
/// - `delete_job` removes a job with its chunks, logs, progress and file records;
///   `delete_file` one file record; both are no-ops when already gone.
/// - `erase_user` removes every job and file record of the user and their campaign
///   settings (destinations, do-not-contact entries, webhook), and nothing else.
#[async_trait]
pub trait UserData: Send + Sync + Debug + 'static {
    async fn stored_bytes(&self, user_id: &str) -> Result<u64>;
    async fn set_file_size(&self, user_id: &str, storage_path: &str, bytes: u64) -> Result<()>;
    async fn finished_jobs_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<Owned>>;
    async fn uploads_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<Owned>>;
    async fn delete_job(&self, job_id: &str) -> Result<()>;
    async fn delete_file(&self, user_id: &str, storage_path: &str) -> Result<()>;
    async fn erase_user(&self, user_id: &str) -> Result<()>;
}
