//! Workers: take tasks from the queue, run them, ack or retry with backoff, and fail
//! the job (refunding it) when a task cannot succeed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::{keys, JobSystem};
use crate::error::{Error, Result};
use crate::ports::{Delivery, Job, JobFinish, JobStatus, Task};

/// How long `receive` waits before checking for shutdown.
const POLL: Duration = Duration::from_millis(500);

/// What [`JobSystem::sweep_stalled`] last saw of each unfinished job.
#[derive(Debug, Default)]
pub struct StallTracker(
    std::collections::HashMap<String, ((JobStatus, u64, u32), tokio::time::Instant)>,
);

/// A running worker loop.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stop taking tasks and wait for the running ones to finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.join.await;
    }

    /// Stop now; unacked tasks are redelivered later (or recovered on restart).
    pub fn abort(self) {
        self.join.abort();
    }
}

impl JobSystem {
    /// Queue the work an in-process queue lost in a crash: a `Start` for every queued or
    /// running job (`Start` re-queues exactly the chunks not done). Harmless with a
    /// durable queue too, since every task is idempotent.
    pub async fn recover(&self) -> Result<usize> {
        let jobs = self
            .store()
            .jobs_with_status(&[JobStatus::Queued, JobStatus::InProgress])
            .await?;
        for job in &jobs {
            self.queue()
                .enqueue(Task::Start {
                    job_id: job.id.clone(),
                })
                .await?;
        }
        if !jobs.is_empty() {
            tracing::info!(jobs = jobs.len(), "recovered unfinished jobs");
        }
        Ok(jobs.len())
    }

    /// Re-queue jobs that look stalled: queued or running, and no progress seen by this
    /// sweeper for `stall_after`. Covers a queue that lost its tasks (a Redis restart
    /// without persistence, a flushed stream). Returns how many were re-queued.
    ///
    /// `Start` re-queues only the chunks not done, and every task is idempotent, so a
    /// false alarm costs at most a chunk processed twice; choose `stall_after` well above
    /// the visibility timeout to make that rare.
    pub async fn sweep_stalled(
        &self,
        seen: &mut StallTracker,
        stall_after: Duration,
    ) -> Result<usize> {
        let jobs = self
            .store()
            .jobs_with_status(&[JobStatus::Queued, JobStatus::InProgress])
            .await?;
        let now = tokio::time::Instant::now();
        let mut requeued = 0;
        let mut alive = std::collections::HashMap::new();
        for job in jobs {
            let key = (job.status, job.rows_processed, job.attempt);
            let since = match seen.0.get(&job.id) {
                Some((k, t)) if *k == key => *t,
                _ => now,
            };
            if now.duration_since(since) >= stall_after {
                tracing::warn!(job = %job.id, "job made no progress for {stall_after:?}; re-queueing it");
                self.queue()
                    .enqueue(Task::Start {
                        job_id: job.id.clone(),
                    })
                    .await?;
                requeued += 1;
                alive.insert(job.id, (key, now));
            } else {
                alive.insert(job.id, (key, since));
            }
        }
        seen.0 = alive;
        Ok(requeued)
    }

    /// Run tasks until shut down, up to `parallel` at once. Rows in flight are bounded
    /// separately by `JobSettings::concurrency`, so `parallel` only needs to be large
    /// enough to keep that many rows busy: `concurrency / chunk_size + 1`.
    pub fn spawn_worker(&self, parallel: usize) -> WorkerHandle {
        let (stop, mut stopped) = watch::channel(false);
        let system = self.clone();
        let join = tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(parallel.max(1)));
            let mut running = JoinSet::new();
            let mut stalls = StallTracker::default();
            let mut next_sweep = tokio::time::Instant::now() + system.settings().stall_after;
            loop {
                if *stopped.borrow() {
                    break;
                }
                if tokio::time::Instant::now() >= next_sweep {
                    let stall_after = system.settings().stall_after;
                    if let Err(e) = system.sweep_stalled(&mut stalls, stall_after).await {
                        tracing::warn!(error = %e, "stall sweep failed");
                    }
                    next_sweep = tokio::time::Instant::now() + stall_after / 4;
                }
                let permit = tokio::select! {
                    p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    _ = stopped.changed() => break,
                };
                let delivery = tokio::select! {
                    d = system.queue().receive(POLL) => d,
                    _ = stopped.changed() => break,
                };
                match delivery {
                    Ok(Some(delivery)) => {
                        let system = system.clone();
                        running.spawn(async move {
                            system.process(delivery).await;
                            drop(permit);
                        });
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "queue receive failed; backing off");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                while running.try_join_next().is_some() {}
            }
            while running.join_next().await.is_some() {}
        });
        WorkerHandle { stop, join }
    }

    /// Default task parallelism for this system's settings.
    pub fn default_parallelism(&self) -> usize {
        let s = self.settings();
        s.concurrency.div_ceil(s.chunk_size.max(1) as usize) + 1
    }

    /// Run one delivery to completion: ack on success, retry transient failures with
    /// backoff, fail the job on permanent ones or when attempts run out.
    pub async fn process(&self, delivery: Delivery) {
        let task = delivery.task.clone();
        let result = match &task {
            Task::Start { job_id } => self.handle_start(job_id).await,
            Task::Chunk { job_id, chunk } => self.handle_chunk(job_id, *chunk).await,
            Task::Finalize { job_id } => self.handle_finalize(job_id).await,
        };
        let outcome = match result {
            Ok(()) => self.queue().ack(&delivery).await,
            Err(e) if is_permanent(&e) || delivery.attempt >= self.settings().max_attempts => {
                tracing::warn!(?task, attempt = delivery.attempt, error = %e, "task failed for good; failing the job");
                let message = if is_permanent(&e) {
                    user_message(&e)
                } else {
                    format!(
                        "gave up after {} attempts: {}",
                        delivery.attempt,
                        user_message(&e)
                    )
                };
                match self.fail_job(task.job_id(), &message).await {
                    Ok(()) => self.queue().ack(&delivery).await,
                    Err(fail) => {
                        tracing::error!(error = %fail, "could not mark the job failed; will retry");
                        self.queue()
                            .retry(&delivery, backoff(delivery.attempt))
                            .await
                    }
                }
            }
            Err(e) => {
                tracing::info!(?task, attempt = delivery.attempt, error = %e, "task failed; retrying");
                self.queue()
                    .retry(&delivery, backoff(delivery.attempt))
                    .await
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(?task, error = %e, "could not ack/retry the task; it will be redelivered");
        }
    }

    /// Mark the job failed with a readable error and refund the attempt in full.
    pub async fn fail_job(&self, job_id: &str, message: &str) -> Result<()> {
        let job = match self.store().get_job(None, job_id).await {
            Ok(job) => job,
            Err(Error::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if job.status == JobStatus::Queued {
            self.store()
                .transition(job_id, JobStatus::Queued, JobStatus::InProgress)
                .await?;
        }
        let won = self
            .store()
            .finish(
                job_id,
                JobFinish {
                    status: JobStatus::Failed,
                    result_path: None,
                    error: Some(message.to_string()),
                    timing: None,
                },
            )
            .await?;
        let job: Job = self.store().get_job(None, job_id).await?;
        if job.status == JobStatus::Failed {
            // Idempotent: a second fail (or a crash between these lines) pays once.
            self.refund(
                &job.user_id,
                job_id,
                job.meta.credit_cost,
                keys::refund(job_id, job.attempt),
                "job refund",
            )
            .await?;
        }
        if won {
            self.store()
                .add_log(
                    job_id,
                    job.rows_processed as i64,
                    job.rows as i64,
                    &format!("Job failed: {message}"),
                )
                .await?;
        }
        Ok(())
    }

    /// Wait until the job ends, calling `on_update` whenever its progress changes.
    pub async fn wait_for(
        &self,
        job_id: &str,
        poll: Duration,
        mut on_update: impl FnMut(&Job),
    ) -> Result<Job> {
        let mut last = None;
        loop {
            let job = self.store().get_job(None, job_id).await?;
            let seen = (job.status, job.rows_processed);
            if last != Some(seen) {
                on_update(&job);
                last = Some(seen);
            }
            if job.status.is_terminal() {
                return Ok(job);
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// Errors no retry will cure: bad input, rejected keys, an exhausted provider account.
fn is_permanent(e: &Error) -> bool {
    matches!(e, Error::InvalidInput(_) | Error::Output(_)) || stops_the_run(e)
}

/// Provider errors every row would repeat (bad key, unknown model, exhausted quota, an
/// open circuit breaker…): [`Error::is_fatal`] without cancellations.
fn stops_the_run(e: &Error) -> bool {
    e.is_fatal() && !matches!(e, Error::Cancelled)
}

/// What the job's `error` says: the cause in plain words, no internals.
fn user_message(e: &Error) -> String {
    match e {
        Error::InvalidInput(_) => e.to_string(),
        e if stops_the_run(e) => e.to_string(),
        Error::Output(m) => format!("could not write the result: {m}"),
        _ => "an internal error stopped the job; it can be retried".to_string(),
    }
}

/// 1 s, 2 s, 4 s … capped at a minute.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}
