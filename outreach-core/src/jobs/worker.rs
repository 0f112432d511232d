//! Workers: take tasks from the queue, run them, ack or retry with backoff, and fail
//! the job (refunding it) when a task cannot succeed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::credits::undelivered_credits;
use super::{keys, JobSystem};
use crate::error::{Error, Result};
use crate::ports::{Delivery, Job, JobFinish, JobStatus, Task};
use crate::telemetry;

/// How long `receive` waits before checking for shutdown.
const POLL: Duration = Duration::from_millis(500);

/// What [`JobSystem::sweep_stalled`] last saw of each unfinished job.
#[derive(Debug, Default)]
pub struct StallTracker(
    std::collections::HashMap<String, ((JobStatus, u64, u32), tokio::time::Instant)>,
);

/// How long a stopping worker lets its running tasks finish before it hands them back
/// (`OUTREACH_SHUTDOWN_GRACE_SECS`). Below the 10 s a container runtime waits between
/// SIGTERM and SIGKILL.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// A running worker loop.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    /// Set when the grace period is over: running tasks stop and are handed back.
    hand_back: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stop taking tasks and wait for the running ones to finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.join.await;
    }

    /// Stop taking tasks, let the running ones finish for up to `grace`, then stop them
    /// and hand their deliveries back to the queue (ready for another worker at once,
    /// no lease has to lapse). Returns how long it took.
    pub async fn shutdown_within(mut self, grace: Duration) -> Duration {
        let started = tokio::time::Instant::now();
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, &mut self.join).await.is_err() {
            tracing::info!(
                ?grace,
                "grace period over; handing back the tasks still running"
            );
            let _ = self.hand_back.send(true);
            let _ = self.join.await;
        }
        started.elapsed()
    }

    /// Stop now; unacked tasks are redelivered later (or recovered on restart).
    pub fn abort(self) {
        self.join.abort();
    }
}

impl JobSystem {
    /// Queue the work an in-process queue lost in a crash: a `Start` for every queued or
    /// running job (`Start` re-queues exactly the chunks not done), a `Push` for every
    /// running push (it resumes after its last recorded row), a `Deliver` for every
    /// stored event. Returns how many tasks were queued. Harmless with a durable queue
    /// too, since every task is idempotent.
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
        let pushes = self.recover_pushes().await?;
        let events = self.recover_events().await?;
        if pushes + events > 0 {
            tracing::info!(
                pushes,
                events,
                "recovered running pushes and undelivered events"
            );
        }
        Ok(jobs.len() + pushes + events)
    }

    /// Re-queue jobs (and pushes) that look stalled: queued or running, and no progress
    /// seen by this sweeper for `stall_after`. Covers a queue that lost its tasks (a Redis restart
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
        // Running pushes whose recorded progress has not moved either.
        for (user_id, job_id, push_id, last_row) in self.running_pushes().await? {
            let id = format!("push:{push_id}");
            let key = (JobStatus::InProgress, last_row, 0);
            let since = match seen.0.get(&id) {
                Some((k, t)) if *k == key => *t,
                _ => now,
            };
            if now.duration_since(since) >= stall_after {
                tracing::warn!(push = %push_id, "push made no progress for {stall_after:?}; re-queueing it");
                self.queue()
                    .enqueue(Task::Push {
                        user_id,
                        job_id,
                        push_id,
                    })
                    .await?;
                requeued += 1;
                alive.insert(id, (key, now));
            } else {
                alive.insert(id, (key, since));
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
        let (hand_back, handing_back) = watch::channel(false);
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
                // Not cancelled by the stop signal: a receive dropped halfway could leave
                // a task delivered to nobody until its lease lapses. It returns within
                // `POLL`; what it brings after the stop goes straight back.
                let delivery = system.queue().receive(POLL).await;
                if *stopped.borrow() {
                    if let Ok(Some(delivery)) = delivery {
                        match system.queue().release(&delivery).await {
                            Ok(()) => telemetry::handed_back(),
                            Err(e) => {
                                tracing::warn!(error = %e, "could not hand a task back; it is redelivered when its lease lapses")
                            }
                        }
                    }
                    break;
                }
                match delivery {
                    Ok(Some(delivery)) => {
                        let system = system.clone();
                        let handing_back = handing_back.clone();
                        running.spawn(async move {
                            system.process_leased(delivery, handing_back).await;
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
        WorkerHandle {
            stop,
            hand_back,
            join,
        }
    }

    /// [`JobSystem::process`] under a lease: renews it every lease/3 while the task
    /// runs; stops the task if the lease is lost (another worker has it now), and hands
    /// it back to the queue when `hand_back` turns true (shutdown).
    pub async fn process_leased(&self, delivery: Delivery, mut hand_back: watch::Receiver<bool>) {
        let queue = self.queue();
        tokio::select! {
            () = self.process(delivery.clone()) => {}
            () = heartbeat(queue.as_ref(), &delivery) => {
                tracing::warn!(task = ?delivery.task, "lost the task's lease (another worker may run it now); stopping it");
            }
            true = async { hand_back.wait_for(|h| *h).await.is_ok() } => {
                match queue.release(&delivery).await {
                    Ok(()) => {
                        telemetry::handed_back();
                        tracing::info!(task = ?delivery.task, "handed the task back");
                    }
                    Err(e) => tracing::warn!(task = ?delivery.task, error = %e, "could not hand the task back; it is redelivered when its lease lapses"),
                }
            }
        }
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
            Task::Push {
                user_id,
                job_id,
                push_id,
            } => self.handle_push(user_id, job_id, push_id).await,
            // Deliveries keep their own attempts and backoff.
            Task::Deliver { user_id, event_id } => {
                return self.process_deliver(&delivery, user_id, event_id).await;
            }
        };
        let outcome = match result {
            Ok(()) => {
                telemetry::task_done(&task, "ok");
                self.queue().ack(&delivery).await
            }
            Err(e) if is_permanent(&e) || delivery.attempt >= self.settings().max_attempts => {
                tracing::warn!(?task, attempt = delivery.attempt, error = %e, "task failed for good; failing its job or push");
                telemetry::task_done(&task, "failed");
                let message = if is_permanent(&e) {
                    user_message(&e)
                } else {
                    format!(
                        "gave up after {} attempts: {}",
                        delivery.attempt,
                        user_message(&e)
                    )
                };
                let failed = match &task {
                    Task::Push {
                        user_id,
                        job_id,
                        push_id,
                    } => self.fail_push(user_id, job_id, push_id, &message).await,
                    _ => match task.job_id() {
                        Some(job_id) => self.fail_job(job_id, &message).await,
                        None => Ok(()),
                    },
                };
                match failed {
                    Ok(()) => self.queue().ack(&delivery).await,
                    Err(fail) => {
                        tracing::error!(error = %fail, "could not mark the job or push failed; will retry");
                        self.queue()
                            .retry(&delivery, backoff(delivery.attempt))
                            .await
                    }
                }
            }
            Err(e) => {
                tracing::info!(?task, attempt = delivery.attempt, error = %e, "task failed; retrying");
                telemetry::task_done(&task, "retry");
                self.queue()
                    .retry(&delivery, backoff(delivery.attempt))
                    .await
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(?task, error = %e, "could not ack/retry the task; it will be redelivered");
        }
    }

    /// Mark the job failed with a readable error and refund what it did not deliver:
    /// every reserved row but the charged rows of its recorded chunks
    /// ([`undelivered_credits`]). A retry charges exactly that again.
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
        let (mut credits, mut refunded) = (0, Ok(()));
        if job.status == JobStatus::Failed {
            // Counted after the status flipped: no chunk records any more (see
            // `credits.rs`). Idempotent: a second fail (or a crash between these lines)
            // pays once.
            let totals = self.store().chunk_progress(job_id).await?.totals;
            credits = undelivered_credits(&job, &totals);
            refunded = self
                .refund(
                    &job.user_id,
                    job_id,
                    credits,
                    keys::refund(job_id, job.attempt),
                    "job refund",
                )
                .await;
        }
        if won {
            // Told once, by the fail that flipped the status (the refund is retried).
            self.notify_finished(&job, job.rows_processed, credits)
                .await;
        }
        refunded?;
        if won {
            crate::telemetry::job_finished(JobStatus::Failed);
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

/// Renews the delivery's lease every third of the lease; returns only when the lease is
/// lost. A failed renewal (queue unreachable) is retried at the next beat: the lease
/// has two more beats of margin.
async fn heartbeat(queue: &dyn crate::ports::JobQueue, delivery: &Delivery) {
    let every = (queue.lease() / 3).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        match queue.renew(delivery).await {
            Ok(true) => telemetry::lease_renewed(),
            Ok(false) => {
                telemetry::lease_lost();
                return;
            }
            Err(e) => tracing::warn!(error = %e, "could not renew a task's lease; will try again"),
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
