#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The job lifecycle on the embedded backends (SQLite, local files, in-process queue)
//! with in-process fake providers: charge, progress, finalize, refunds, failure, retry,
//! cancel, redelivery and crash recovery.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use outreach_core::backends::memory_queue::MemoryQueue;
use outreach_core::backends::object_storage::ObjectStorage;
use outreach_core::backends::sqlite::SqliteStore;
use outreach_core::jobs::{keys, CreateJob, FinishedJob, JobNotifier, JobSettings, JobSystem};
use outreach_core::ports::{CreditLedger, JobRecords, JobStatus, JobStore, Storage};
use outreach_core::preflight::PreflightOnce;
use outreach_core::providers::policy::Metered;
use outreach_core::providers::{Llm, SearchProvider};
use outreach_core::{Error, Metrics, ProviderKind, Providers};
use support::*;

const USER: &str = "user-1";

struct Env {
    dir: tempfile::TempDir,
    db: Arc<SqliteStore>,
    storage: Arc<ObjectStorage>,
}

impl Env {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(
            SqliteStore::open(&dir.path().join("db.sqlite"))
                .await
                .unwrap(),
        );
        let storage = Arc::new(ObjectStorage::local(&dir.path().join("files")).unwrap());
        Self { dir, db, storage }
    }

    /// A job system over this environment's database and files, with a fresh queue
    /// (as after a process restart) and these providers.
    fn system(&self, search: Arc<FnSearch>, llm: Arc<FnLlm>, chunk_size: u32) -> JobSystem {
        self.system_with(
            search,
            llm,
            chunk_size,
            JobSettings::default().progress_every,
        )
    }

    /// [`Env::system`] with running chunks reporting rows (and seeing a cancel) every
    /// `progress_every`.
    fn system_with(
        &self,
        search: Arc<FnSearch>,
        llm: Arc<FnLlm>,
        chunk_size: u32,
        progress_every: Duration,
    ) -> JobSystem {
        self.build(
            search,
            llm,
            chunk_size,
            progress_every,
            PreflightOnce::skip(),
        )
    }

    /// [`Env::system`] whose providers are preflighted, as a server's are.
    fn system_preflighted(&self, search: Arc<FnSearch>, llm: Arc<FnLlm>) -> JobSystem {
        self.build(
            search,
            llm,
            5,
            JobSettings::default().progress_every,
            PreflightOnce::default(),
        )
    }

    fn build(
        &self,
        search: Arc<FnSearch>,
        llm: Arc<FnLlm>,
        chunk_size: u32,
        progress_every: Duration,
        preflight: PreflightOnce,
    ) -> JobSystem {
        // Metered, as the real policy stack is, so jobs can report provider calls.
        let metrics = Arc::new(Metrics::default());
        let providers = Providers {
            search: Some(Arc::new(Metered::new(search, metrics.clone())) as Arc<dyn SearchProvider>),
            llm: Some(Arc::new(Metered::new(llm, metrics.clone())) as Arc<dyn Llm>),
            metrics,
            preflight,
        };
        JobSystem::new(
            self.db.clone(),
            self.db.clone(),
            self.storage.clone(),
            Arc::new(MemoryQueue::new(Duration::from_secs(30))),
            providers,
            JobSettings {
                chunk_size,
                concurrency: 8,
                temp_dir: self.dir.path().join("tmp"),
                progress_every,
                ..JobSettings::default()
            },
        )
    }

    /// A fresh environment whose user holds `credits`.
    async fn with_credits(credits: i64) -> Self {
        let env = Self::new().await;
        env.db
            .ensure_account(USER, "u@example.com", credits)
            .await
            .unwrap();
        env
    }

    /// Uploads `rows` and creates the job on them (charged, CSV out).
    async fn submit(&self, system: &JobSystem, rows: &[Vec<String>]) -> outreach_core::ports::Job {
        system
            .create_job(request(self.upload(rows).await))
            .await
            .unwrap()
    }

    async fn upload(&self, rows: &[Vec<String>]) -> String {
        let path = write_csv(
            self.dir.path(),
            "upload.csv",
            &["id", "name", "email"],
            rows,
        );
        let key = format!("uploads/{USER}/{}/prospects.csv", uuid::Uuid::new_v4());
        self.storage.put_file(&key, &path).await.unwrap();
        key
    }
}

fn request(file_path: String) -> CreateJob {
    job_request(USER, file_path)
}

async fn run_to_end(system: &JobSystem, job_id: &str) -> outreach_core::ports::Job {
    let worker = system.spawn_worker(3);
    let job = tokio::time::timeout(
        Duration::from_secs(60),
        system.wait_for(job_id, Duration::from_millis(20), |_| {}),
    )
    .await
    .expect("job did not finish in time")
    .unwrap();
    // Shutting down waits for the task in hand: a finalize refunds failed rows right
    // after it flips the status, so read the job again once it is settled.
    worker.shutdown().await;
    let _ = job;
    system.store().get_job(None, job_id).await.unwrap()
}

async fn ledger_sum(db: &SqliteStore, user: &str) -> i64 {
    let (entries, _) = db.entries(user, 0, 10_000).await.unwrap();
    entries.iter().map(|e| e.change).sum()
}

async fn read_result(env: &Env, key: &str) -> Vec<Vec<String>> {
    let path = env.dir.path().join("result.csv");
    env.storage.get_to_file(key, &path).await.unwrap();
    read_csv(&path).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_charges_enriches_in_order_and_refunds_provider_failures() {
    let env = Env::with_credits(100).await;
    let mut rows = prospects(23, 1);
    rows[4][2] = "not-an-email".into();
    let search = search_fn(|q| {
        if q.q.starts_with("Person 7 ") {
            Err(Error::Upstream {
                provider: ProviderKind::Search,
                status: 503,
                body: String::new(),
            })
        } else {
            Ok(echo_results(q))
        }
    });
    let system = env.system(search, good_llm(), 5);
    let upload = env.upload(&rows).await;
    let job = system.create_job(request(upload.clone())).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.meta.credit_cost, 23);
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 77);
    // The caller's upload is the job's input, read in place: no copy (issue 12, item 7).
    assert_eq!(job.meta.file_path, upload);
    assert!(env.storage.exists(&upload).await.unwrap());
    assert!(!env
        .storage
        .exists(&keys::input(USER, &job.id, "prospects.csv"))
        .await
        .unwrap());

    let done = run_to_end(&system, &job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    assert_eq!(done.rows_processed, 23);
    assert_eq!(done.progress_percent, 100.0);
    assert_eq!(done.chunks_total, 5);
    let result = done.result_path.clone().unwrap();
    assert_eq!(result, format!("outputs/{USER}/{}/result.csv", job.id));
    let got = read_result(&env, &result).await;
    assert_eq!(got.len(), 23);
    for (g, r) in got.iter().zip(&rows) {
        assert_eq!(g[..3], r[..]);
    }
    assert_eq!(got[7][3], "Research unavailable: provider error 503.");
    assert_eq!(got[7][5], "provider_failed");
    assert_eq!(got[4][5], "invalid_email");
    assert_eq!(got[0][5], "enriched");
    // Two refunds: the provider failure and the invalid email (abstentions are not charged).
    let account = env.db.account(USER).await.unwrap();
    assert_eq!(account.credits_remaining, 79);
    assert_eq!(done.credits_refunded, 2);
    assert_eq!(ledger_sum(&env.db, USER).await, 79);
    let timing = done.timing.unwrap();
    assert_eq!(timing["fallbacks"], 2);
    assert_eq!(timing["provider_calls"]["llm"], 2 * 21);
    let logs = env.db.logs(&job.id).await.unwrap();
    assert_eq!(
        logs.iter()
            .filter(|l| l.message.starts_with("Chunk "))
            .count(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_balance_is_refused_before_anything_exists() {
    let env = Env::with_credits(5).await;
    let system = env.system(echo_search(), good_llm(), 5);
    let err = system
        .create_job(request(env.upload(&prospects(8, 1)).await))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InsufficientCredits {
                needed: 8,
                available: 5
            }
        ),
        "{err:?}"
    );
    assert_eq!(env.db.list_jobs(USER, 0, 10).await.unwrap().1, 0);
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 5);
    let left = env.storage.list(&format!("inputs/{USER}")).await.unwrap();
    assert!(left.is_empty(), "a refused job left files: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_key_fails_and_refunds_and_retry_redoes_only_missing_chunks() {
    let env = Env::with_credits(100).await;
    let rows = prospects(20, 1);
    // The LLM key "expires" once 10 rows are done: chunks 0-1 finish, the rest fail.
    let llm = llm_fn(|req| {
        let row: usize = req.messages[1]
            .content
            .split("person")
            .nth(1)
            .and_then(|s| s.split('@').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if row >= 10 {
            Err(Error::ProviderAuth {
                provider: ProviderKind::Llm,
                status: 401,
            })
        } else {
            Ok(good_answer(req))
        }
    });
    let system = env.system(echo_search(), llm, 5);
    let job = env.submit(&system, &rows).await;
    let failed = run_to_end(&system, &job.id).await;
    assert_eq!(failed.status, JobStatus::Failed);
    let error = failed.error.clone().unwrap();
    assert!(error.contains("rejected the API key"), "{error}");

    // Chunks 0-1 finished; those that finished after the job failed are stored but
    // not recorded (a retry records them without calling a provider).
    let mut stored = Vec::new();
    for chunk in 0..4 {
        let key = keys::chunk_output(USER, &job.id, chunk);
        if env.storage.exists(&key).await.unwrap() {
            stored.push(chunk);
        }
    }
    assert!(stored.contains(&0) && stored.contains(&1), "{stored:?}");
    let recorded = env.db.done_chunks(&job.id).await.unwrap();
    assert!(recorded.iter().all(|c| stored.contains(c)), "{recorded:?}");
    // The failure refunds what was not delivered: exactly the rows of the chunks
    // recorded stay charged (no chunk records once the job has failed).
    let held = 100 - env.db.account(USER).await.unwrap().credits_remaining;
    assert_eq!(
        held,
        5 * recorded.len() as i64,
        "failed job kept {held} credits; recorded chunks {recorded:?}"
    );
    let failed = env.db.get_job(None, &job.id).await.unwrap();
    assert_eq!(failed.credits_charged - failed.credits_refunded, held);
    let good = good_llm();
    let system = env.system(echo_search(), good.clone(), 5);
    let retried = system.retry_job(USER, &job.id).await.unwrap();
    assert_eq!(retried.status, JobStatus::Queued);
    assert_eq!(retried.attempt, 2);
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 80);
    let done = run_to_end(&system, &job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    // Only the rows of the chunks not done before were enriched again.
    let redone_rows = 20 - 5 * stored.len() as u64;
    assert_eq!(good.calls.load(Ordering::SeqCst), 2 * redone_rows);
    let got = read_result(&env, done.result_path.as_deref().unwrap()).await;
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|r| r[3].starts_with('{')));
    assert_eq!(ledger_sum(&env.db, USER).await, 80);
    // A retry of a succeeded job is refused and charges nothing.
    assert!(matches!(
        system.retry_job(USER, &job.id).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 80);
}

/// Collects the job-finished events.
#[derive(Debug, Default)]
struct Told(std::sync::Mutex<Vec<FinishedJob>>);

impl JobNotifier for Told {
    fn job_finished(&self, event: FinishedJob) {
        self.0.lock().unwrap().push(event);
    }
}

/// The row number in a prospect's research or opener request (`person<N>@…`).
fn row_of(req: &outreach_core::providers::ChatRequest) -> usize {
    req.messages[1]
        .content
        .split("person")
        .nth(1)
        .and_then(|s| s.split('@').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_stopping_error_refunds_only_the_rows_not_delivered() {
    let env = Env::with_credits(100).await;
    let mut rows = prospects(20, 1);
    rows[2][2] = "not-an-email".into(); // in chunk 0: refundable, though delivered
                                        // The daily quota runs out at row 10 (chunk 2): a 429 asking for 9m38s.
    let llm = llm_fn(|req| {
        if row_of(req) >= 10 {
            Err(Error::QuotaExhausted {
                provider: ProviderKind::Llm,
                retry_after: Duration::from_secs(578),
                message: "tokens per day (TPD): Limit 200000, Used 199950".into(),
            })
        } else {
            Ok(good_answer(req))
        }
    });
    let system = env.system(echo_search(), llm, 5);
    let told = Arc::new(Told::default());
    system.set_notifier(told.clone());
    let job = env.submit(&system, &rows).await;
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 80);
    // One task at a time, in queue order: start, chunk 0, chunk 1, chunk 2 (fails).
    let worker = system.spawn_worker(1);
    let failed = tokio::time::timeout(
        Duration::from_secs(60),
        system.wait_for(&job.id, Duration::from_millis(20), |_| {}),
    )
    .await
    .expect("job did not finish in time")
    .unwrap();
    worker.shutdown().await;
    assert_eq!(failed.status, JobStatus::Failed);
    let error = failed.error.clone().unwrap();
    assert!(error.contains("quota is exhausted"), "{error}");
    assert!(error.contains("9m38s"), "{error}");
    assert_eq!(env.db.done_chunks(&job.id).await.unwrap(), vec![0, 1]);
    // Charged: the 9 valid rows of chunks 0-1. Refunded: 10 unprocessed rows + the
    // invalid email = 11.
    let failed = env.db.get_job(None, &job.id).await.unwrap();
    assert_eq!(failed.credits_refunded, 11);
    let events = told.0.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "told once: {events:?}");
    assert_eq!(
        (events[0].status, events[0].credits_refunded),
        (JobStatus::Failed, 11),
        "the job.finished event reports what the failure refunded"
    );
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 91);
    assert_eq!(ledger_sum(&env.db, USER).await, 91);

    // The retry charges what the failure refunded; the finished job costs its 19
    // charged rows in all.
    let system = env.system(echo_search(), good_llm(), 5);
    let retried = system.retry_job(USER, &job.id).await.unwrap();
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 80);
    assert_eq!(retried.credits_charged, 20 + 11);
    let done = run_to_end(&system, &job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 81);
    assert_eq!(ledger_sum(&env.db, USER).await, 81);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_model_costs_one_preflight_and_fails_the_job_refunded() {
    let env = Env::with_credits(100).await;
    let search = echo_search();
    let llm = llm_fn(|_| {
        Err(Error::ModelNotFound {
            provider: ProviderKind::Llm,
            model: "gpt-nope".into(),
            message: "The model `gpt-nope` does not exist".into(),
        })
    });
    let system = env.system_preflighted(search.clone(), llm.clone());
    let job = env.submit(&system, &prospects(20, 1)).await;
    let failed = run_to_end(&system, &job.id).await;
    assert_eq!(failed.status, JobStatus::Failed);
    let error = failed.error.clone().unwrap();
    assert!(error.contains("gpt-nope"), "{error}");
    // Four chunks, three tasks at a time: one search and one completion in all.
    assert_eq!(search.calls.load(Ordering::SeqCst), 1);
    assert_eq!(llm.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        search.queries.lock().unwrap().clone(),
        [outreach_core::preflight::PREFLIGHT_QUERY]
    );
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 100);
    assert_eq!(ledger_sum(&env.db, USER).await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_preflight_runs_before_the_first_provider_call_not_before_the_job() {
    use outreach_core::campaign::SuppressionList;
    use outreach_core::jobs::CampaignRequest;

    let env = Env::with_credits(100).await;
    let search = echo_search();
    let llm = good_llm();
    let system = env.system_preflighted(search.clone(), llm.clone());
    // Every row on the do-not-contact list: no provider call at all, not even the
    // preflight.
    let (list, _) = SuppressionList::parse("@company0.com\n@company1.com\n@company2.com\n");
    let mut req = request(env.upload(&prospects(3, 1)).await);
    req.campaign = CampaignRequest {
        suppression: Some(Arc::new(list)),
        drafts: None,
    };
    let job = system.create_job(req).await.unwrap();
    let done = run_to_end(&system, &job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    let got = read_result(&env, done.result_path.as_deref().unwrap()).await;
    assert!(got.iter().all(|r| r[5] == "suppressed"), "{got:?}");
    assert_eq!(search.calls.load(Ordering::SeqCst), 0);
    assert_eq!(llm.calls.load(Ordering::SeqCst), 0);

    // A job with rows to enrich: the preflight once, then the rows' own calls; a second
    // job in the same process does not check again.
    for _ in 0..2 {
        let job = env.submit(&system, &prospects(4, 1)).await;
        let done = run_to_end(&system, &job.id).await;
        assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    }
    let queries = search.queries.lock().unwrap().clone();
    assert_eq!(
        queries[0],
        outreach_core::preflight::PREFLIGHT_QUERY,
        "{queries:?}"
    );
    assert_eq!(
        queries
            .iter()
            .filter(|q| *q == outreach_core::preflight::PREFLIGHT_QUERY)
            .count(),
        1,
        "{queries:?}"
    );
    // Two LLM calls per row, plus the preflight's one.
    assert_eq!(llm.calls.load(Ordering::SeqCst), 2 * 8 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_stops_new_chunks_and_refunds_unprocessed_rows() {
    let env = Env::with_credits(100).await;
    let slow = Arc::new(FnLlm {
        f: Box::new(|req| Ok(good_answer(req))),
        delay: Duration::from_millis(40),
        calls: Default::default(),
    });
    let system = env.system(echo_search(), slow.clone(), 2);
    let job = env.submit(&system, &prospects(40, 1)).await;
    let worker = system.spawn_worker(1);
    loop {
        if env.db.get_job(None, &job.id).await.unwrap().rows_processed >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cancelled = system.cancel_job(USER, &job.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let charged_rows = cancelled.rows_processed as i64;
    assert!((4..40).contains(&charged_rows));
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.shutdown().await;

    let after = env.db.get_job(None, &job.id).await.unwrap();
    assert_eq!(after.status, JobStatus::Cancelled);
    assert!(
        after.rows_processed <= cancelled.rows_processed + 2,
        "chunks kept starting after cancel"
    );
    assert!(slow.calls.load(Ordering::SeqCst) <= 2 * (after.rows_processed + 2));
    assert_eq!(
        env.db.account(USER).await.unwrap().credits_remaining,
        100 - charged_rows
    );
    assert_eq!(ledger_sum(&env.db, USER).await, 100 - charged_rows);
    assert!(matches!(
        system.cancel_job(USER, &job.id).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        system.cancel_job("someone-else", &job.id).await,
        Err(Error::NotFound(_))
    ));
}

fn slow_llm(delay: Duration) -> Arc<FnLlm> {
    Arc::new(FnLlm {
        f: Box::new(|req| Ok(good_answer(req))),
        delay,
        calls: Default::default(),
    })
}

/// Samples the job's `(rows_processed, progress_percent)` every few milliseconds until
/// it ends (or `stop` is set).
fn sample_progress(
    db: Arc<SqliteStore>,
    job_id: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(u64, f64)>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            let job = db.get_job(None, &job_id).await.unwrap();
            seen.push((job.rows_processed, job.progress_percent));
            if job.status.is_terminal() || stop.load(Ordering::SeqCst) {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
}

/// Waits (at most 30 s) until the job reports at least `rows` rows processed.
async fn wait_for_rows(db: &SqliteStore, job_id: &str, rows: u64) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while db.get_job(None, job_id).await.unwrap().rows_processed < rows {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the job's progress did not move");
}

fn assert_monotonic(seen: &[(u64, f64)]) {
    for pair in seen.windows(2) {
        assert!(
            pair[1].0 >= pair[0].0 && pair[1].1 >= pair[0].1,
            "progress went backwards: {:?} then {:?}",
            pair[0],
            pair[1]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn progress_moves_by_row_within_a_chunk_and_ends_exact() {
    let env = Env::with_credits(100).await;
    // 30 rows in one chunk, 8 at a time, 2 × 40 ms per row: about 0.3 s of work.
    let llm = slow_llm(Duration::from_millis(40));
    let system = env.system_with(echo_search(), llm, 50, Duration::from_millis(20));
    let job = env.submit(&system, &prospects(30, 1)).await;
    let sampler = sample_progress(env.db.clone(), job.id.clone(), Default::default());
    let done = run_to_end(&system, &job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    let seen = sampler.await.unwrap();
    assert_monotonic(&seen);
    let partial: std::collections::BTreeSet<u64> = seen
        .iter()
        .map(|(rows, _)| *rows)
        .filter(|rows| (1..30).contains(rows))
        .collect();
    assert!(
        partial.len() >= 3,
        "the one chunk's progress was seen at only {partial:?} rows: {seen:?}"
    );
    assert_eq!(done.rows_processed, 30);
    assert_eq!(done.progress_percent, 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redelivered_chunk_never_counts_a_row_twice() {
    let env = Env::with_credits(100).await;
    let llm = slow_llm(Duration::from_millis(40));
    let first = env.system_with(echo_search(), llm.clone(), 50, Duration::from_millis(20));
    let job = env.submit(&first, &prospects(30, 1)).await;
    let worker = first.spawn_worker(1);
    wait_for_rows(&env.db, &job.id, 10).await;
    // The worker dies mid-chunk; after a restart the chunk runs again from its first row.
    worker.abort();
    let reported = env.db.get_job(None, &job.id).await.unwrap().rows_processed;
    assert!((10..30).contains(&reported), "{reported}");
    let second = env.system_with(echo_search(), llm, 50, Duration::from_millis(20));
    assert_eq!(second.recover().await.unwrap(), 1);
    let sampler = sample_progress(env.db.clone(), job.id.clone(), Default::default());
    let done = run_to_end(&second, &job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    let seen = sampler.await.unwrap();
    assert_monotonic(&seen);
    assert!(
        seen.iter().all(|(rows, _)| (reported..=30).contains(rows)),
        "rows counted twice or lost: {seen:?}"
    );
    assert_eq!(done.rows_processed, 30, "exact after the redelivery");
    assert_eq!(
        read_result(&env, done.result_path.as_deref().unwrap())
            .await
            .len(),
        30
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_stops_a_running_chunk_at_its_next_row() {
    let env = Env::with_credits(100).await;
    // 50 rows in one chunk, 8 at a time, 2 × 60 ms per row: about 0.8 s of work.
    let llm = slow_llm(Duration::from_millis(60));
    let system = env.system_with(echo_search(), llm.clone(), 50, Duration::from_millis(20));
    let job = env.submit(&system, &prospects(50, 1)).await;
    let worker = system.spawn_worker(1);
    wait_for_rows(&env.db, &job.id, 8).await;
    let cancelled = system.cancel_job(USER, &job.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let calls_at_cancel = llm.calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(800)).await;
    worker.shutdown().await;
    let calls = llm.calls.load(Ordering::SeqCst);
    // Rows already started finish (8 in flight, 2 calls each); rows that start before
    // the next check (20 ms: at most another 8) may too. Nothing after that.
    assert!(
        calls <= calls_at_cancel + 2 * 16,
        "{calls} LLM calls, {calls_at_cancel} when cancelled: the chunk ran on"
    );
    assert!(
        calls < 2 * 50,
        "every row of the cancelled chunk was enriched"
    );
    assert!(matches!(
        env.storage.get(&keys::chunk_output(USER, &job.id, 0)).await,
        Err(Error::NotFound(_))
    ));
    let after = env.db.get_job(None, &job.id).await.unwrap();
    assert_eq!(after.status, JobStatus::Cancelled);
    // No chunk was finished, so nothing was delivered and everything is refunded.
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_resumes_from_finished_chunks_without_repeating_them() {
    let env = Env::with_credits(1000).await;
    let rows = prospects(60, 1);
    let first = Arc::new(FnLlm {
        f: Box::new(|req| Ok(good_answer(req))),
        delay: Duration::from_millis(15),
        calls: Default::default(),
    });
    let system = env.system(echo_search(), first.clone(), 5);
    let job = env.submit(&system, &rows).await;
    let worker = system.spawn_worker(2);
    // "Crash" once a few chunks are recorded.
    loop {
        let j = env.db.get_job(None, &job.id).await.unwrap();
        if j.rows_processed >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    worker.abort();
    drop(system);
    let done_at_crash = env.db.done_chunks(&job.id).await.unwrap().len() as u64;

    let second = good_llm();
    let system = env.system(echo_search(), second.clone(), 5);
    assert_eq!(system.recover().await.unwrap(), 1);
    let done = run_to_end(&system, &job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    let redone = second.calls.load(Ordering::SeqCst);
    assert!(
        redone <= 2 * (60 - 5 * done_at_crash),
        "{redone} calls after restart; {done_at_crash} chunks were done"
    );
    let got = read_result(&env, done.result_path.as_deref().unwrap()).await;
    assert_eq!(got.len(), 60);
    for (g, r) in got.iter().zip(&rows) {
        assert_eq!(g[..3], r[..]);
        assert!(g[3].starts_with('{'));
    }
    assert_eq!(
        env.db.account(USER).await.unwrap().credits_remaining,
        940,
        "charged once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redelivered_tasks_do_no_work_twice() {
    let env = Env::with_credits(100).await;
    let search = search_fn(|q| {
        if q.q.starts_with("Person 1 ") {
            Err(Error::Timeout {
                provider: ProviderKind::Search,
            })
        } else {
            Ok(echo_results(q))
        }
    });
    let llm = good_llm();
    let system = env.system(search, llm.clone(), 5);
    let job = env.submit(&system, &prospects(10, 1)).await;
    let done = run_to_end(&system, &job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    let calls = llm.calls.load(Ordering::SeqCst);
    let balance = env.db.account(USER).await.unwrap().credits_remaining;
    assert_eq!(balance, 91, "one provider failure refunded");

    // Deliver every task again, as an at-least-once queue may.
    let queue = system.queue().clone();
    for task in [
        outreach_core::ports::Task::Start {
            job_id: job.id.clone(),
        },
        outreach_core::ports::Task::Chunk {
            job_id: job.id.clone(),
            chunk: 0,
        },
        outreach_core::ports::Task::Chunk {
            job_id: job.id.clone(),
            chunk: 1,
        },
        outreach_core::ports::Task::Finalize {
            job_id: job.id.clone(),
        },
        outreach_core::ports::Task::Finalize {
            job_id: job.id.clone(),
        },
    ] {
        queue.enqueue(task).await.unwrap();
    }
    let worker = system.spawn_worker(3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.shutdown().await;
    assert_eq!(
        llm.calls.load(Ordering::SeqCst),
        calls,
        "no provider call for done work"
    );
    assert_eq!(
        env.db.account(USER).await.unwrap().credits_remaining,
        91,
        "no second refund"
    );
    assert_eq!(ledger_sum(&env.db, USER).await, 91);
    let again = env.db.get_job(None, &job.id).await.unwrap();
    assert_eq!(again.result_path, done.result_path);
    assert_eq!(again.finished_at, done.finished_at, "finalized once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_creations_against_a_balance_of_ten() {
    let env = Env::with_credits(10).await;
    let system = env.system(echo_search(), good_llm(), 5);
    let key = env.upload(&prospects(1, 1)).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let system = system.clone();
            let key = key.clone();
            tokio::spawn(async move { system.create_job(request(key)).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::InsufficientCredits {
                needed: 1,
                available: 0,
            }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(ok, 10);
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 0);
    assert_eq!(ledger_sum(&env.db, USER).await, 0);
    assert_eq!(env.db.list_jobs(USER, 0, 200).await.unwrap().1, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stall_sweeper_requeues_jobs_whose_tasks_were_lost() {
    let env = Env::with_credits(100).await;
    // Created through one queue, which is then lost (a Redis restart without persistence).
    let lost = env.system(echo_search(), good_llm(), 5);
    let job = env.submit(&lost, &prospects(12, 1)).await;
    drop(lost);

    let system = env.system(echo_search(), good_llm(), 5);
    let mut seen = outreach_core::jobs::StallTracker::default();
    // Seen for the first time: not stalled yet.
    assert_eq!(
        system
            .sweep_stalled(&mut seen, Duration::from_secs(60))
            .await
            .unwrap(),
        0
    );
    // No progress since: stalled.
    assert_eq!(
        system
            .sweep_stalled(&mut seen, Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    let done = run_to_end(&system, &job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    assert_eq!(done.rows_processed, 12);
    // Finished jobs are not swept.
    assert_eq!(
        system
            .sweep_stalled(&mut seen, Duration::ZERO)
            .await
            .unwrap(),
        0
    );
}

/// The do-not-contact list is applied before any provider call: listed rows are not
/// searched, not charged, keep their place with empty cells; the others get drafts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suppressed_rows_cost_nothing_and_keep_their_place_and_drafts_are_rendered() {
    use outreach_core::campaign::{DraftSpec, SuppressionList};
    use outreach_core::jobs::CampaignRequest;

    let env = Env::with_credits(50).await;
    // 12 prospects, 3 per company: person4 by address (with a plus-tag and capitals in
    // the list), company3 (persons 9, 10, 11) by domain.
    let rows = prospects(12, 3);
    let (list, report) = SuppressionList::parse("Person4+news@Company1.com\n@company3.com\n");
    assert_eq!(report.added, 2);
    let search = echo_search();
    let system = env.system(search.clone(), good_llm(), 5);
    let mut req = request(env.upload(&rows).await);
    req.campaign = CampaignRequest {
        suppression: Some(Arc::new(list)),
        drafts: Some(DraftSpec::single(
            "{{ name | first_name }}, quick one",
            "Hi {{ name | first_name }},\n{{ sif_personalized }}\n{{ company.name }}",
        )),
    };
    let job = system.create_job(req).await.unwrap();
    assert_eq!(job.credits_charged, 8, "4 suppressed rows are not charged");
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 42);

    let job = run_to_end(&system, &job.id).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(
        env.db.account(USER).await.unwrap().credits_remaining,
        42,
        "nothing refunded, nothing more charged"
    );
    assert_eq!(ledger_sum(&env.db, USER).await, 42);

    let queries = search.queries.lock().unwrap().clone();
    // The person query is "<name> <domain>" ("Person 4 company1.com") when the row has a
    // name column: compare without case and spaces.
    for q in &queries {
        let flat = q.to_lowercase().replace(' ', "");
        assert!(
            !flat.contains("person4") && !flat.contains("company3"),
            "searched a suppressed row: {q}"
        );
    }
    assert_eq!(
        queries
            .iter()
            .filter(|q| q.to_lowercase().starts_with("person"))
            .count(),
        8
    );

    let path = env.dir.path().join("result.csv");
    env.storage
        .get_to_file(job.result_path.as_deref().unwrap(), &path)
        .await
        .unwrap();
    let (headers, out) = read_csv(&path);
    assert_eq!(
        headers,
        [
            "id",
            "name",
            "email",
            "sif_research",
            "sif_personalized",
            "sif_status",
            "email_subject",
            "email_body"
        ]
    );
    assert_eq!(out.len(), 12);
    for (i, row) in out.iter().enumerate() {
        assert_eq!(row[0], i.to_string(), "row order kept");
        if i == 4 || i >= 9 {
            assert_eq!(
                &row[3..],
                ["", "", "suppressed", "", ""],
                "suppressed row {i} has empty cells and says why"
            );
        } else {
            assert!(row[3].starts_with('{'), "row {i} researched");
            assert_eq!(row[5], "enriched");
            assert_eq!(row[6], "Person, quick one");
            // The template's `company.name` is the delivered research's: the fake model's
            // "Acme" appears in no search result, so it is not delivered as a fact.
            let research: serde_json::Value = serde_json::from_str(&row[3]).unwrap();
            let company = match research["company"]["name"].as_str() {
                Some("unknown") | None => "",
                Some(name) => name,
            };
            let expected = format!("Hi Person,\n{}\n{company}", row[4]);
            assert_eq!(
                row[7],
                expected.trim_end(),
                "minijinja drops a last newline"
            );
        }
    }
}

/// A template error is reported with its position before anything is charged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_error_is_reported_before_any_charge() {
    use outreach_core::campaign::DraftSpec;
    use outreach_core::InputError;

    let env = Env::with_credits(50).await;
    let search = echo_search();
    let system = env.system(search.clone(), good_llm(), 5);
    let mut req = request(env.upload(&prospects(3, 1)).await);
    req.campaign.drafts = Some(DraftSpec::single("Hi {{ nme }}", "Body"));
    let err = system.create_job(req).await.unwrap_err();
    match err {
        Error::InvalidInput(InputError::Template {
            template,
            line,
            column,
            message,
        }) => {
            assert_eq!((template.as_str(), line, column), ("subject", 1, 7));
            assert_eq!(message, "unknown variable `nme` (did you mean `name`?)");
        }
        other => panic!("expected a template error, got {other:?}"),
    }
    assert_eq!(env.db.account(USER).await.unwrap().credits_remaining, 50);
    let (jobs, _) = JobStore::list_jobs(&*env.db, USER, 0, 10).await.unwrap();
    assert!(jobs.is_empty());
    assert_eq!(search.calls.load(Ordering::SeqCst), 0);
}
