//! The `JobStore` suite: the rules of its `# Contract`, including under concurrency.

use std::sync::Arc;

use chrono::Utc;

use super::fresh_id;
use crate::error::Error;
use crate::output::OutputFormat;
use crate::ports::{ChunkStats, Job, JobFinish, JobMeta, JobStatus, JobStore, NewJob};
use crate::ServiceContext;

/// Runs every job check.
pub async fn run_all(jobs: Arc<dyn JobStore>) {
    create_get_list_scoped(&*jobs).await;
    claim_is_exactly_once(jobs.clone()).await;
    record_chunk_is_idempotent_and_progress_derived(jobs.clone()).await;
    record_chunk_only_while_running(jobs.clone()).await;
    chunk_rows_advance_progress_once(&*jobs).await;
    finish_exactly_once(jobs.clone()).await;
    retry_only_from_failed(jobs.clone()).await;
    logs_in_order(&*jobs).await;
    jobs_with_status_oldest_first(&*jobs).await;
    done_chunks_sorted(&*jobs).await;
    credits_refunded_accumulates(&*jobs).await;
    credits_charged_accumulates(&*jobs).await;
    unknown_job_is_not_found(&*jobs).await;
    record_file_is_idempotent(&*jobs).await;
}

/// A job to create: fresh id, `rows` rows, a full `JobMeta`.
pub fn new_job(user: &str, rows: u64) -> NewJob {
    let id = fresh_id("job");
    NewJob {
        meta: JobMeta {
            file_path: format!("inputs/{user}/{id}/prospects.csv"),
            email_col: "email".into(),
            columns: Default::default(),
            service: ServiceContext::default(),
            credit_cost: rows as i64,
            output_columns: Some(vec!["name".into(), "email".into()]),
            format: OutputFormat::Csv,
            chunk_size: 50,
            limit: None,
            combined: false,
            campaign: None,
        },
        id,
        user_id: user.to_owned(),
        filename: "prospects.csv".into(),
        rows,
        credits_charged: rows as i64,
    }
}

fn stats(rows: u64, seed: u64) -> ChunkStats {
    ChunkStats {
        rows,
        fallbacks: seed % 3,
        refundable: seed % 2,
        search_calls: 2 * rows,
        llm_calls: 2 * rows,
        cache_hits: seed,
        retries: seed % 5,
        prompt_tokens: 1000 * rows,
        completion_tokens: 100 * rows,
        millis: 10 + seed,
    }
}

fn sum(all: &[ChunkStats]) -> ChunkStats {
    all.iter().fold(ChunkStats::default(), |a, s| ChunkStats {
        rows: a.rows + s.rows,
        fallbacks: a.fallbacks + s.fallbacks,
        refundable: a.refundable + s.refundable,
        search_calls: a.search_calls + s.search_calls,
        llm_calls: a.llm_calls + s.llm_calls,
        cache_hits: a.cache_hits + s.cache_hits,
        retries: a.retries + s.retries,
        prompt_tokens: a.prompt_tokens + s.prompt_tokens,
        completion_tokens: a.completion_tokens + s.completion_tokens,
        millis: a.millis + s.millis,
    })
}

async fn create_started(jobs: &dyn JobStore, rows: u64) -> Job {
    let user = fresh_id("user");
    let job = jobs.create_job(new_job(&user, rows)).await.unwrap();
    assert!(jobs
        .transition(&job.id, JobStatus::Queued, JobStatus::InProgress)
        .await
        .unwrap());
    jobs.get_job(None, &job.id).await.unwrap()
}

fn ids(jobs: &[Job]) -> Vec<String> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

/// A created job reads back as created; `get_job` is scoped to its owner; `list_jobs`
/// is newest first, with the total, and pages with offset/limit.
pub async fn create_get_list_scoped(jobs: &dyn JobStore) {
    let owner = fresh_id("user");
    let stranger = fresh_id("user");
    let before = Utc::now() - chrono::Duration::seconds(5);
    let mut created = Vec::new();
    for rows in [3, 30, 300] {
        let new = new_job(&owner, rows);
        let job = jobs.create_job(new.clone()).await.unwrap();
        assert_eq!(job.id, new.id);
        assert_eq!(job.user_id, owner);
        assert_eq!(job.status, JobStatus::Queued, "a new job is queued");
        assert_eq!(job.filename, new.filename);
        assert_eq!(job.rows, rows);
        assert_eq!(job.meta, new.meta, "meta round-trips");
        assert_eq!(job.credits_charged, new.credits_charged);
        assert_eq!(job.credits_refunded, 0);
        assert_eq!(job.attempt, 1, "the first run is attempt 1");
        assert_eq!((job.chunks_total, job.rows_processed), (0, 0));
        assert_eq!(job.progress_percent, 0.0);
        assert_eq!((job.started_at, job.finished_at), (None, None));
        assert_eq!((job.result_path.clone(), job.error.clone()), (None, None));
        assert_eq!(job.timing, None);
        assert!(
            job.created_at > before && job.created_at < Utc::now() + chrono::Duration::seconds(5)
        );
        created.push(job);
    }
    let first = &created[0];
    assert_eq!(
        &jobs.get_job(Some(&owner), &first.id).await.unwrap(),
        first,
        "get_job returns what create_job returned"
    );
    assert_eq!(
        &jobs.get_job(None, &first.id).await.unwrap(),
        first,
        "workers see every job"
    );
    assert!(
        matches!(
            jobs.get_job(Some(&stranger), &first.id).await,
            Err(Error::NotFound(_))
        ),
        "another user's job must be NotFound"
    );
    assert!(matches!(
        jobs.get_job(Some(&owner), &fresh_id("job")).await,
        Err(Error::NotFound(_))
    ));
    assert!(
        matches!(
            jobs.create_job(new_job(&owner, 1)).await.map(|_| ()),
            Ok(())
        ),
        "a second job for the same user is fine"
    );
    let mut dup = new_job(&stranger, 1);
    dup.id = first.id.clone();
    assert!(
        jobs.create_job(dup).await.is_err(),
        "a job id cannot be reused (even by another user)"
    );
    assert_eq!(
        jobs.get_job(None, &first.id).await.unwrap().user_id,
        owner,
        "a refused duplicate changes nothing"
    );

    let (all, total) = jobs.list_jobs(&owner, 0, 100).await.unwrap();
    assert_eq!(total, 4);
    assert_eq!(all.len(), 4);
    let expected: Vec<String> = created.iter().rev().map(|j| j.id.clone()).collect();
    assert_eq!(ids(&all[1..]), expected, "list_jobs is newest first");
    for pair in all.windows(2) {
        assert!(
            pair[0].created_at >= pair[1].created_at,
            "newest first by created_at"
        );
    }
    let (page, total) = jobs.list_jobs(&owner, 1, 2).await.unwrap();
    assert_eq!(total, 4, "total counts all jobs, not the page");
    assert_eq!(ids(&page), ids(&all[1..3]), "offset/limit page");
    let (page, total) = jobs.list_jobs(&owner, 10, 2).await.unwrap();
    assert!(page.is_empty());
    assert_eq!(total, 4);
    let (theirs, total) = jobs.list_jobs(&stranger, 0, 100).await.unwrap();
    assert!(theirs.is_empty(), "list_jobs is scoped to the user");
    assert_eq!(total, 0);
}

/// 50 concurrent claims (queued → in_progress): exactly one wins; `started_at` is set;
/// a terminal transition sets `finished_at`.
pub async fn claim_is_exactly_once(jobs: Arc<dyn JobStore>) {
    let user = fresh_id("user");
    let job = jobs.create_job(new_job(&user, 10)).await.unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let jobs = jobs.clone();
            let id = job.id.clone();
            tokio::spawn(async move {
                jobs.transition(&id, JobStatus::Queued, JobStatus::InProgress)
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one of 50 concurrent claims wins");
    let claimed = jobs.get_job(None, &job.id).await.unwrap();
    assert_eq!(claimed.status, JobStatus::InProgress);
    let started = claimed
        .started_at
        .expect("moving to in_progress sets started_at");
    assert!(started >= job.created_at);
    assert_eq!(claimed.finished_at, None);

    assert!(
        !jobs
            .transition(&job.id, JobStatus::Queued, JobStatus::InProgress)
            .await
            .unwrap(),
        "a transition from a status the job is not in does nothing"
    );
    assert!(jobs
        .transition(&job.id, JobStatus::InProgress, JobStatus::Cancelled)
        .await
        .unwrap());
    let cancelled = jobs.get_job(None, &job.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(
        cancelled.finished_at.is_some(),
        "a terminal status sets finished_at"
    );
    assert_eq!(cancelled.started_at, Some(started), "started_at is kept");
}

/// 20 chunks recorded concurrently, each three times: progress counts each chunk once,
/// the job's `rows_processed`/`progress_percent` follow, a later different duplicate
/// changes nothing.
pub async fn record_chunk_is_idempotent_and_progress_derived(jobs: Arc<dyn JobStore>) {
    const CHUNKS: u32 = 20;
    let chunk_stats: Vec<ChunkStats> = (0..CHUNKS)
        .map(|i| stats(10 + u64::from(i), u64::from(i)))
        .collect();
    let expected = sum(&chunk_stats);
    let job = create_started(&*jobs, expected.rows).await;
    jobs.set_chunks_total(&job.id, CHUNKS).await.unwrap();

    let tasks: Vec<_> = (0..3)
        .flat_map(|_| 0..CHUNKS)
        .map(|i| {
            let jobs = jobs.clone();
            let id = job.id.clone();
            let s = chunk_stats[i as usize];
            tokio::spawn(async move { jobs.record_chunk(&id, i, s).await })
        })
        .collect();
    let mut max_done = 0;
    for task in tasks {
        let p = task
            .await
            .unwrap()
            .unwrap()
            .expect("a running job's chunk records");
        assert_eq!(p.chunks_total, CHUNKS);
        assert!(
            (1..=CHUNKS).contains(&p.chunks_done),
            "chunks_done {}",
            p.chunks_done
        );
        assert_eq!(
            p.rows_processed, p.totals.rows,
            "rows_processed is the rows of the chunks"
        );
        assert!(
            p.rows_processed <= expected.rows,
            "a chunk was counted twice"
        );
        max_done = max_done.max(p.chunks_done);
    }
    assert_eq!(max_done, CHUNKS, "the last record sees every chunk");

    let progress = jobs.chunk_progress(&job.id).await.unwrap();
    assert_eq!(progress.chunks_done, CHUNKS);
    assert_eq!(progress.chunks_total, CHUNKS);
    assert_eq!(progress.rows_processed, expected.rows);
    assert_eq!(
        progress.totals, expected,
        "totals sum every chunk exactly once"
    );
    let stored = jobs.get_job(None, &job.id).await.unwrap();
    assert_eq!(
        stored.rows_processed, expected.rows,
        "the job's rows_processed follows"
    );
    assert_eq!(stored.progress_percent, 100.0, "every chunk done is 100 %");
    assert_eq!(stored.chunks_total, CHUNKS);

    let again = jobs
        .record_chunk(&job.id, 3, stats(9999, 9999))
        .await
        .unwrap();
    assert_eq!(
        again,
        Some(progress),
        "a later duplicate with other numbers changes nothing"
    );

    // Partial progress is by rows.
    let partial = create_started(&*jobs, 100).await;
    jobs.set_chunks_total(&partial.id, 4).await.unwrap();
    let p = jobs
        .record_chunk(&partial.id, 0, stats(25, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.chunks_done, p.rows_processed), (1, 25));
    let stored = jobs.get_job(None, &partial.id).await.unwrap();
    assert_eq!(stored.rows_processed, 25);
    assert!(
        (stored.progress_percent - 25.0).abs() < 1e-9,
        "25 of 100 rows is 25 %, got {}",
        stored.progress_percent
    );
}

/// A chunk records only while its job is `in_progress`: not before the job is
/// claimed, not after it failed, was cancelled or succeeded (nothing changes, `None`).
/// And against a concurrent finish, the record and the status change are ordered:
/// either the chunk is recorded and the finish sees it, or the finish comes first and
/// the chunk is not recorded; never a chunk recorded on a finished job.
pub async fn record_chunk_only_while_running(jobs: Arc<dyn JobStore>) {
    let queued = jobs
        .create_job(new_job(&fresh_id("user"), 10))
        .await
        .unwrap();
    assert_eq!(
        jobs.record_chunk(&queued.id, 0, stats(10, 1))
            .await
            .unwrap(),
        None,
        "a queued job records no chunk"
    );
    assert!(jobs.done_chunks(&queued.id).await.unwrap().is_empty());

    let ends: [(&str, JobFinish); 3] = [
        ("failed", failure()),
        (
            "cancelled",
            JobFinish {
                status: JobStatus::Cancelled,
                result_path: None,
                error: None,
                timing: None,
            },
        ),
        (
            "succeeded",
            JobFinish {
                status: JobStatus::Succeeded,
                result_path: Some("outputs/r.csv".into()),
                error: None,
                timing: None,
            },
        ),
    ];
    for (what, end) in ends {
        let job = create_started(&*jobs, 20).await;
        jobs.set_chunks_total(&job.id, 2).await.unwrap();
        assert!(jobs
            .record_chunk(&job.id, 0, stats(10, 1))
            .await
            .unwrap()
            .is_some());
        assert!(jobs.finish(&job.id, end).await.unwrap());
        let before = jobs.get_job(None, &job.id).await.unwrap();
        assert_eq!(
            jobs.record_chunk(&job.id, 1, stats(10, 2)).await.unwrap(),
            None,
            "a {what} job records no chunk"
        );
        assert_eq!(jobs.done_chunks(&job.id).await.unwrap(), [0]);
        let after = jobs.get_job(None, &job.id).await.unwrap();
        assert_eq!(
            (after.rows_processed, after.progress_percent),
            (before.rows_processed, before.progress_percent),
            "a refused record of a {what} job changes no progress"
        );
        assert_eq!(jobs.chunk_progress(&job.id).await.unwrap().totals.rows, 10);
    }

    // Records racing a failure: every chunk recorded was recorded before the status
    // changed, so the chunks counted right after the finish are all there will be.
    for _ in 0..5 {
        const CHUNKS: u32 = 20;
        let job = create_started(&*jobs, 10 * u64::from(CHUNKS)).await;
        jobs.set_chunks_total(&job.id, CHUNKS).await.unwrap();
        let records: Vec<_> = (0..CHUNKS)
            .map(|i| {
                let jobs = jobs.clone();
                let id = job.id.clone();
                tokio::spawn(async move { jobs.record_chunk(&id, i, stats(10, 0)).await })
            })
            .collect();
        let finish = {
            let jobs = jobs.clone();
            let id = job.id.clone();
            tokio::spawn(async move {
                assert!(jobs.finish(&id, failure()).await.unwrap());
                jobs.chunk_progress(&id).await.unwrap().chunks_done
            })
        };
        let counted_at_finish = finish.await.unwrap();
        let mut recorded = 0;
        for record in records {
            if record.await.unwrap().unwrap().is_some() {
                recorded += 1;
            }
        }
        assert_eq!(
            jobs.chunk_progress(&job.id).await.unwrap().chunks_done,
            recorded,
            "a record that returned None recorded a chunk"
        );
        assert_eq!(
            counted_at_finish, recorded,
            "a chunk was recorded after its job failed"
        );
    }
}

/// Progress by row: reports of running chunks move `rows_processed` forward, a
/// redelivered chunk's reports (starting again from 0) never count a row twice, nothing
/// lowers it, and it is exact once every chunk is recorded.
pub async fn chunk_rows_advance_progress_once(jobs: &dyn JobStore) {
    let job = create_started(jobs, 100).await;
    jobs.set_chunks_total(&job.id, 2).await.unwrap();
    assert_eq!(jobs.record_chunk_rows(&job.id, 0, 10).await.unwrap(), 10);
    assert_eq!(jobs.record_chunk_rows(&job.id, 1, 5).await.unwrap(), 15);
    assert_eq!(jobs.record_chunk_rows(&job.id, 0, 30).await.unwrap(), 35);
    let stored = jobs.get_job(None, &job.id).await.unwrap();
    assert_eq!(stored.rows_processed, 35);
    assert!(
        (stored.progress_percent - 35.0).abs() < 1e-9,
        "35 of 100 rows is 35 %, got {}",
        stored.progress_percent
    );
    // Chunk 0 redelivered: its new run reports from the start again.
    for rows in [4, 20, 30] {
        assert_eq!(
            jobs.record_chunk_rows(&job.id, 0, rows).await.unwrap(),
            35,
            "a redelivery's report of {rows} rows counted again"
        );
    }
    assert_eq!(jobs.record_chunk_rows(&job.id, 0, 45).await.unwrap(), 50);
    // Recording chunk 0 (50 rows) replaces its report; chunk 1's report still counts.
    let p = jobs
        .record_chunk(&job.id, 0, stats(50, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        p.rows_processed, 50,
        "chunk progress counts recorded chunks"
    );
    assert_eq!(
        jobs.get_job(None, &job.id).await.unwrap().rows_processed,
        55
    );
    // A late report for a recorded chunk changes nothing.
    assert_eq!(jobs.record_chunk_rows(&job.id, 0, 10).await.unwrap(), 55);
    assert_eq!(jobs.record_chunk_rows(&job.id, 1, 49).await.unwrap(), 99);
    assert!(jobs
        .record_chunk(&job.id, 1, stats(50, 2))
        .await
        .unwrap()
        .is_some());
    let stored = jobs.get_job(None, &job.id).await.unwrap();
    assert_eq!(stored.rows_processed, 100, "exact at the end");
    assert_eq!(stored.progress_percent, 100.0);
    assert!(matches!(
        jobs.record_chunk_rows(&fresh_id("job"), 0, 1).await,
        Err(Error::NotFound(_))
    ));
}

/// 20 concurrent finishes: exactly one wins and its fields are the ones stored; only
/// an in-progress job can finish.
pub async fn finish_exactly_once(jobs: Arc<dyn JobStore>) {
    let queued = jobs
        .create_job(new_job(&fresh_id("user"), 5))
        .await
        .unwrap();
    let done = JobFinish {
        status: JobStatus::Succeeded,
        result_path: Some("outputs/x/result.csv".into()),
        error: None,
        timing: None,
    };
    assert!(
        !jobs.finish(&queued.id, done.clone()).await.unwrap(),
        "a queued job cannot finish"
    );
    assert_eq!(
        jobs.get_job(None, &queued.id).await.unwrap().status,
        JobStatus::Queued
    );

    let job = create_started(&*jobs, 5).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let jobs = jobs.clone();
            let id = job.id.clone();
            tokio::spawn(async move {
                let finish = JobFinish {
                    status: JobStatus::Succeeded,
                    result_path: Some(format!("outputs/{i}/result.xlsx")),
                    error: None,
                    timing: Some(serde_json::json!({ "finisher": i })),
                };
                (i, jobs.finish(&id, finish).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, won) = task.await.unwrap();
        if won.unwrap() {
            winners.push(i);
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 20 concurrent finishes wins"
    );
    let w = winners[0];
    let finished = jobs.get_job(None, &job.id).await.unwrap();
    assert_eq!(finished.status, JobStatus::Succeeded);
    assert_eq!(
        finished.result_path,
        Some(format!("outputs/{w}/result.xlsx")),
        "the winner's result is stored"
    );
    assert_eq!(finished.timing, Some(serde_json::json!({ "finisher": w })));
    assert!(finished.finished_at.is_some(), "finish sets finished_at");
    assert!(
        !jobs.finish(&job.id, done).await.unwrap(),
        "finish twice: one result"
    );

    let failing = create_started(&*jobs, 5).await;
    assert!(jobs
        .finish(
            &failing.id,
            JobFinish {
                status: JobStatus::Failed,
                result_path: None,
                error: Some("LLM provider rejected the API key".into()),
                timing: None,
            },
        )
        .await
        .unwrap());
    let failed = jobs.get_job(None, &failing.id).await.unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(
        failed.error.as_deref(),
        Some("LLM provider rejected the API key")
    );
    assert!(failed.finished_at.is_some());
}

fn failure() -> JobFinish {
    JobFinish {
        status: JobStatus::Failed,
        result_path: Some("outputs/partial.csv".into()),
        error: Some("boom".into()),
        timing: None,
    }
}

/// `retry` works only on failed jobs, increments `attempt`, clears the failed run's
/// fields, keeps recorded chunks, and wins once under concurrency.
pub async fn retry_only_from_failed(jobs: Arc<dyn JobStore>) {
    let job = jobs
        .create_job(new_job(&fresh_id("user"), 5))
        .await
        .unwrap();
    assert_eq!(
        jobs.retry(&job.id).await.unwrap(),
        None,
        "a queued job is not retried"
    );
    assert!(jobs
        .transition(&job.id, JobStatus::Queued, JobStatus::InProgress)
        .await
        .unwrap());
    assert_eq!(
        jobs.retry(&job.id).await.unwrap(),
        None,
        "a running job is not retried"
    );
    assert!(jobs
        .record_chunk(&job.id, 0, stats(2, 0))
        .await
        .unwrap()
        .is_some());
    assert!(jobs.finish(&job.id, failure()).await.unwrap());

    assert_eq!(jobs.retry(&job.id).await.unwrap(), Some(2));
    let retried = jobs.get_job(None, &job.id).await.unwrap();
    assert_eq!(retried.status, JobStatus::Queued);
    assert_eq!(retried.attempt, 2);
    assert_eq!(retried.error, None, "retry clears error");
    assert_eq!(retried.finished_at, None, "retry clears finished_at");
    assert_eq!(retried.result_path, None, "retry clears result_path");
    assert_eq!(
        jobs.done_chunks(&job.id).await.unwrap(),
        [0],
        "recorded chunks stay"
    );
    assert_eq!(
        jobs.retry(&job.id).await.unwrap(),
        None,
        "retrying a queued job again"
    );

    assert!(jobs
        .transition(&job.id, JobStatus::Queued, JobStatus::InProgress)
        .await
        .unwrap());
    assert!(
        jobs.get_job(None, &job.id)
            .await
            .unwrap()
            .started_at
            .is_some(),
        "the new attempt has a start"
    );
    assert!(jobs.finish(&job.id, failure()).await.unwrap());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let jobs = jobs.clone();
            let id = job.id.clone();
            tokio::spawn(async move { jobs.retry(&id).await })
        })
        .collect();
    let mut attempts = Vec::new();
    for task in tasks {
        if let Some(a) = task.await.unwrap().unwrap() {
            attempts.push(a);
        }
    }
    assert_eq!(
        attempts,
        [3],
        "10 concurrent retries of a failed job: one wins"
    );

    let ok = create_started(&*jobs, 1).await;
    assert!(jobs
        .finish(
            &ok.id,
            JobFinish {
                status: JobStatus::Succeeded,
                result_path: Some("outputs/r.xlsx".into()),
                error: None,
                timing: None,
            },
        )
        .await
        .unwrap());
    assert_eq!(
        jobs.retry(&ok.id).await.unwrap(),
        None,
        "a succeeded job is not retried"
    );
    assert_eq!(jobs.get_job(None, &ok.id).await.unwrap().attempt, 1);
}

/// Logs come back in the order written, and only the job's own.
pub async fn logs_in_order(jobs: &dyn JobStore) {
    let user = fresh_id("user");
    let job = jobs.create_job(new_job(&user, 10)).await.unwrap();
    let other = jobs.create_job(new_job(&user, 10)).await.unwrap();
    assert!(jobs.logs(&job.id).await.unwrap().is_empty());
    for step in 0..10 {
        jobs.add_log(&job.id, step, 10, &format!("Chunk {step} completed"))
            .await
            .unwrap();
        jobs.add_log(&other.id, step, 10, "other").await.unwrap();
    }
    let logs = jobs.logs(&job.id).await.unwrap();
    assert_eq!(logs.len(), 10, "only the job's own logs");
    for (i, log) in logs.iter().enumerate() {
        assert_eq!(log.job_id, job.id);
        assert_eq!(log.step, i as i64, "logs in the order written");
        assert_eq!(log.total, 10);
        assert_eq!(log.message, format!("Chunk {i} completed"));
    }
    for pair in logs.windows(2) {
        assert!(pair[0].id < pair[1].id);
        assert!(pair[0].created_at <= pair[1].created_at);
    }
}

/// `jobs_with_status` returns jobs of those statuses, any user, oldest first.
pub async fn jobs_with_status_oldest_first(jobs: &dyn JobStore) {
    let a = jobs
        .create_job(new_job(&fresh_id("user"), 1))
        .await
        .unwrap();
    let b = jobs
        .create_job(new_job(&fresh_id("user"), 1))
        .await
        .unwrap();
    let c = jobs
        .create_job(new_job(&fresh_id("user"), 1))
        .await
        .unwrap();
    let d = jobs
        .create_job(new_job(&fresh_id("user"), 1))
        .await
        .unwrap();
    assert!(jobs
        .transition(&b.id, JobStatus::Queued, JobStatus::InProgress)
        .await
        .unwrap());
    assert!(jobs
        .transition(&d.id, JobStatus::Queued, JobStatus::Failed)
        .await
        .unwrap());

    let wanted = [JobStatus::Queued, JobStatus::InProgress];
    let found = jobs.jobs_with_status(&wanted).await.unwrap();
    assert!(
        found.iter().all(|j| wanted.contains(&j.status)),
        "only jobs in the requested statuses"
    );
    for pair in found.windows(2) {
        assert!(pair[0].created_at <= pair[1].created_at, "oldest first");
    }
    let ours: Vec<String> = found
        .iter()
        .filter(|j| [&a.id, &b.id, &c.id, &d.id].contains(&&j.id))
        .map(|j| j.id.clone())
        .collect();
    assert_eq!(
        ours,
        [a.id.clone(), b.id.clone(), c.id.clone()],
        "oldest first, any user"
    );

    let failed = jobs.jobs_with_status(&[JobStatus::Failed]).await.unwrap();
    assert!(failed.iter().any(|j| j.id == d.id));
    assert!(failed.iter().all(|j| j.status == JobStatus::Failed));
    assert!(jobs.jobs_with_status(&[]).await.unwrap().is_empty());
}

/// `done_chunks` is the recorded chunk indices, ascending.
pub async fn done_chunks_sorted(jobs: &dyn JobStore) {
    let job = create_started(jobs, 100).await;
    assert!(jobs.done_chunks(&job.id).await.unwrap().is_empty());
    for chunk in [5, 1, 3, 0, 3] {
        assert!(jobs
            .record_chunk(&job.id, chunk, stats(10, 0))
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(jobs.done_chunks(&job.id).await.unwrap(), [0, 1, 3, 5]);
}

/// `add_credits_refunded` adds.
pub async fn credits_refunded_accumulates(jobs: &dyn JobStore) {
    let job = jobs
        .create_job(new_job(&fresh_id("user"), 10))
        .await
        .unwrap();
    jobs.add_credits_refunded(&job.id, 3).await.unwrap();
    jobs.add_credits_refunded(&job.id, 4).await.unwrap();
    assert_eq!(
        jobs.get_job(None, &job.id).await.unwrap().credits_refunded,
        7
    );
}

/// `add_credits_charged` adds (a retry's charge) and touches nothing else: a job's
/// `credits_charged - credits_refunded` is what it holds, whatever order charges and
/// refunds come in, also concurrently.
pub async fn credits_charged_accumulates(jobs: &dyn JobStore) {
    let job = jobs
        .create_job(new_job(&fresh_id("user"), 10))
        .await
        .unwrap();
    assert_eq!(job.credits_charged, 10, "the creation's charge");
    jobs.add_credits_refunded(&job.id, 6).await.unwrap();
    jobs.add_credits_charged(&job.id, 6).await.unwrap();
    jobs.add_credits_refunded(&job.id, 2).await.unwrap();
    jobs.add_credits_charged(&job.id, 2).await.unwrap();
    let stored = jobs.get_job(None, &job.id).await.unwrap();
    assert_eq!(
        (stored.credits_charged, stored.credits_refunded),
        (18, 8),
        "charges and refunds add up separately"
    );
    assert_eq!(
        stored.credits_charged - stored.credits_refunded,
        10,
        "the job holds its full cost again"
    );
    assert_eq!(
        (
            stored.status,
            stored.rows_processed,
            stored.meta.credit_cost
        ),
        (job.status, job.rows_processed, job.meta.credit_cost),
        "nothing else changes"
    );
    let adds: Vec<_> = (1..=10)
        .map(|n| jobs.add_credits_charged(&job.id, n))
        .collect();
    for add in futures::future::join_all(adds).await {
        add.unwrap();
    }
    assert_eq!(
        jobs.get_job(None, &job.id).await.unwrap().credits_charged,
        18 + 55,
        "concurrent charges all count"
    );
    let other = jobs
        .create_job(new_job(&fresh_id("user"), 3))
        .await
        .unwrap();
    assert_eq!(
        jobs.get_job(None, &other.id).await.unwrap().credits_charged,
        3,
        "another job's charge is its own"
    );
}

/// Every method naming a job that does not exist is `NotFound`.
pub async fn unknown_job_is_not_found(jobs: &dyn JobStore) {
    let id = fresh_id("missing");
    let nf = |what: &str, r: Result<(), Error>| {
        assert!(
            matches!(r, Err(Error::NotFound(_))),
            "{what} on an unknown job must be NotFound, got {r:?}"
        );
    };
    nf("get_job", jobs.get_job(None, &id).await.map(|_| ()));
    nf(
        "transition",
        jobs.transition(&id, JobStatus::Queued, JobStatus::InProgress)
            .await
            .map(|_| ()),
    );
    nf("set_chunks_total", jobs.set_chunks_total(&id, 3).await);
    nf(
        "record_chunk",
        jobs.record_chunk(&id, 0, stats(1, 0)).await.map(|_| ()),
    );
    nf("chunk_progress", jobs.chunk_progress(&id).await.map(|_| ()));
    nf("done_chunks", jobs.done_chunks(&id).await.map(|_| ()));
    nf("finish", jobs.finish(&id, failure()).await.map(|_| ()));
    nf("retry", jobs.retry(&id).await.map(|_| ()));
    nf(
        "add_credits_refunded",
        jobs.add_credits_refunded(&id, 1).await,
    );
    nf(
        "add_credits_charged",
        jobs.add_credits_charged(&id, 1).await,
    );
    nf("add_log", jobs.add_log(&id, 0, 0, "x").await);
    nf("logs", jobs.logs(&id).await.map(|_| ()));
    nf(
        "record_file",
        jobs.record_file(
            "u",
            Some(&id),
            "a.csv",
            &format!("outputs/{id}"),
            "final_output",
        )
        .await,
    );
}

/// Recording the same file twice (a finalize delivered twice) is not an error.
pub async fn record_file_is_idempotent(jobs: &dyn JobStore) {
    let user = fresh_id("user");
    let job = jobs.create_job(new_job(&user, 1)).await.unwrap();
    let path = format!("outputs/{user}/{}/result.xlsx", job.id);
    for _ in 0..2 {
        jobs.record_file(&user, Some(&job.id), "prospects.csv", &path, "final_output")
            .await
            .unwrap();
    }
    jobs.record_file(
        &user,
        None,
        "upload.csv",
        &format!("inputs/{user}/upload.csv"),
        "input",
    )
    .await
    .unwrap();
}
