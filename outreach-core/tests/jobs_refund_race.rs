#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A job that ends while a chunk is being recorded: the refund counted when it ended and
//! the chunks it recorded must agree, whichever comes first. The interleaving is forced,
//! not hoped for: a store wrapper ends the job (fail or cancel, refund included) inside
//! the chunk's `record_chunk` call, just before the record reaches the database, which
//! is the worst moment: after any status check the worker made beforehand.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use outreach_core::backends::memory_queue::MemoryQueue;
use outreach_core::backends::object_storage::ObjectStorage;
use outreach_core::backends::sqlite::SqliteStore;
use outreach_core::jobs::{JobSettings, JobSystem};
use outreach_core::ports::{
    ChunkProgress, ChunkStats, CreditLedger, Job, JobFinish, JobLog, JobRecords, JobStatus,
    JobStore, NewJob, Owned, Storage, UserData,
};
use outreach_core::preflight::PreflightOnce;
use outreach_core::{Providers, Result};
use support::*;

const USER: &str = "user-1";

/// How the job ends inside the first `record_chunk`.
#[derive(Debug, Clone, Copy)]
enum End {
    Fail,
    Cancel,
}

/// The SQLite store, except that the first `record_chunk` first ends the job through
/// the job system (status change and refund), then records.
#[derive(Debug)]
struct EndsJobWhileRecording {
    inner: Arc<SqliteStore>,
    system: OnceLock<JobSystem>,
    end: End,
    fired: AtomicBool,
}

#[async_trait]
impl JobStore for EndsJobWhileRecording {
    async fn record_chunk(
        &self,
        id: &str,
        chunk: u32,
        stats: ChunkStats,
    ) -> Result<Option<ChunkProgress>> {
        if !self.fired.swap(true, Ordering::SeqCst) {
            let system = self.system.get().expect("system set before the run");
            match self.end {
                End::Fail => system.fail_job(id, "the provider went away").await?,
                End::Cancel => {
                    system.cancel_job(USER, id).await?;
                }
            }
        }
        self.inner.record_chunk(id, chunk, stats).await
    }

    async fn create_job(&self, job: NewJob) -> Result<Job> {
        self.inner.create_job(job).await
    }
    async fn get_job(&self, user_id: Option<&str>, id: &str) -> Result<Job> {
        self.inner.get_job(user_id, id).await
    }
    async fn list_jobs(&self, user_id: &str, offset: u64, limit: u64) -> Result<(Vec<Job>, u64)> {
        self.inner.list_jobs(user_id, offset, limit).await
    }
    async fn transition(&self, id: &str, from: JobStatus, to: JobStatus) -> Result<bool> {
        self.inner.transition(id, from, to).await
    }
    async fn set_chunks_total(&self, id: &str, chunks_total: u32) -> Result<()> {
        self.inner.set_chunks_total(id, chunks_total).await
    }
    async fn record_chunk_rows(&self, id: &str, chunk: u32, rows: u64) -> Result<u64> {
        self.inner.record_chunk_rows(id, chunk, rows).await
    }
    async fn chunk_progress(&self, id: &str) -> Result<ChunkProgress> {
        self.inner.chunk_progress(id).await
    }
    async fn done_chunks(&self, id: &str) -> Result<Vec<u32>> {
        self.inner.done_chunks(id).await
    }
    async fn finish(&self, id: &str, finish: JobFinish) -> Result<bool> {
        self.inner.finish(id, finish).await
    }
    async fn retry(&self, id: &str) -> Result<Option<u32>> {
        self.inner.retry(id).await
    }
    async fn add_credits_refunded(&self, id: &str, credits: i64) -> Result<()> {
        self.inner.add_credits_refunded(id, credits).await
    }
    async fn add_credits_charged(&self, id: &str, credits: i64) -> Result<()> {
        self.inner.add_credits_charged(id, credits).await
    }
    async fn jobs_with_status(&self, statuses: &[JobStatus]) -> Result<Vec<Job>> {
        self.inner.jobs_with_status(statuses).await
    }
}

#[async_trait]
impl JobRecords for EndsJobWhileRecording {
    async fn add_log(&self, id: &str, step: i64, total: i64, message: &str) -> Result<()> {
        self.inner.add_log(id, step, total, message).await
    }
    async fn logs(&self, id: &str) -> Result<Vec<JobLog>> {
        self.inner.logs(id).await
    }
    async fn record_file(
        &self,
        user_id: &str,
        job_id: Option<&str>,
        original_name: &str,
        storage_path: &str,
        file_type: &str,
    ) -> Result<()> {
        self.inner
            .record_file(user_id, job_id, original_name, storage_path, file_type)
            .await
    }
}

#[async_trait]
impl UserData for EndsJobWhileRecording {
    async fn stored_bytes(&self, user_id: &str) -> Result<u64> {
        self.inner.stored_bytes(user_id).await
    }
    async fn set_file_size(&self, user_id: &str, storage_path: &str, bytes: u64) -> Result<()> {
        self.inner.set_file_size(user_id, storage_path, bytes).await
    }
    async fn finished_jobs_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<Owned>> {
        self.inner.finished_jobs_before(cutoff).await
    }
    async fn uploads_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<Owned>> {
        self.inner.uploads_before(cutoff).await
    }
    async fn delete_job(&self, job_id: &str) -> Result<()> {
        self.inner.delete_job(job_id).await
    }
    async fn delete_file(&self, user_id: &str, storage_path: &str) -> Result<()> {
        self.inner.delete_file(user_id, storage_path).await
    }
    async fn erase_user(&self, user_id: &str) -> Result<()> {
        self.inner.erase_user(user_id).await
    }
}

fn system(
    store: Arc<dyn JobStore>,
    db: Arc<SqliteStore>,
    storage: Arc<ObjectStorage>,
    dir: &std::path::Path,
) -> JobSystem {
    JobSystem::new(
        store,
        db,
        storage,
        Arc::new(MemoryQueue::new(Duration::from_secs(30))),
        Providers {
            search: Some(echo_search()),
            llm: Some(good_llm()),
            metrics: Default::default(),
            preflight: PreflightOnce::skip(),
        },
        JobSettings {
            chunk_size: 5,
            concurrency: 4,
            temp_dir: dir.join("tmp"),
            ..JobSettings::default()
        },
    )
}

async fn wait_until_settled(system: &JobSystem, job_id: &str) -> Job {
    // One task at a time, in queue order: start, chunk 0 (ends the job), chunk 1.
    let worker = system.spawn_worker(1);
    tokio::time::timeout(
        Duration::from_secs(60),
        system.wait_for(job_id, Duration::from_millis(10), |_| {}),
    )
    .await
    .expect("job did not end in time")
    .unwrap();
    // The chunk whose record raced the end is finished only once the worker is idle.
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.shutdown().await;
    system.store().get_job(None, job_id).await.unwrap()
}

/// Ends the job while its first chunk records, then checks the refund against the
/// chunks recorded: every credit is either refunded or a recorded chunk's row.
async fn refund_matches_recorded_chunks(end: End) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        SqliteStore::open(&dir.path().join("db.sqlite"))
            .await
            .unwrap(),
    );
    let storage = Arc::new(ObjectStorage::local(&dir.path().join("files")).unwrap());
    db.ensure_account(USER, "u@example.com", 100).await.unwrap();
    let hooked = Arc::new(EndsJobWhileRecording {
        inner: db.clone(),
        system: OnceLock::new(),
        end,
        fired: AtomicBool::new(false),
    });
    let system = system(hooked.clone(), db.clone(), storage.clone(), dir.path());
    hooked.system.set(system.clone()).unwrap();

    let path = write_csv(
        dir.path(),
        "upload.csv",
        &["id", "name", "email"],
        &prospects(10, 1),
    );
    let key = format!("uploads/{USER}/race/prospects.csv");
    storage.put_file(&key, &path).await.unwrap();
    let job = system.create_job(job_request(USER, key)).await.unwrap();
    assert_eq!(job.meta.credit_cost, 10);
    let ended = wait_until_settled(&system, &job.id).await;
    let expected = match end {
        End::Fail => JobStatus::Failed,
        End::Cancel => JobStatus::Cancelled,
    };
    assert_eq!(ended.status, expected);

    let totals = db.chunk_progress(&job.id).await.unwrap().totals;
    let charged_rows = (totals.rows - totals.refundable) as i64;
    assert_eq!(
        ended.credits_refunded,
        10 - charged_rows,
        "{end:?}: refunded {} of 10 credits, but the recorded chunks hold {charged_rows} \
         charged rows ({:?} recorded): a chunk recorded after the refund was counted",
        ended.credits_refunded,
        db.done_chunks(&job.id).await.unwrap(),
    );
    let balance = db.account(USER).await.unwrap().credits_remaining;
    assert_eq!(
        balance,
        100 - charged_rows,
        "{end:?}: the balance is the bill"
    );
    let (entries, _) = db.entries(USER, 0, 100).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.change).sum::<i64>(), balance);

    if let End::Fail = end {
        // A retry charges back what was refunded and delivers all 10 rows for 10 credits.
        let retried = system.retry_job(USER, &job.id).await.unwrap();
        assert_eq!(retried.status, JobStatus::Queued);
        let done = wait_until_settled(&system, &job.id).await;
        assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
        assert_eq!(done.rows_processed, 10);
        assert_eq!(db.account(USER).await.unwrap().credits_remaining, 90);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_while_a_chunk_records_refunds_exactly_what_was_not_recorded() {
    refund_matches_recorded_chunks(End::Fail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_while_a_chunk_records_refunds_exactly_what_was_not_recorded() {
    refund_matches_recorded_chunks(End::Cancel).await;
}
