//! `Chunk`: enrich one chunk. Its stored output is the proof it is done: a redelivered
//! task (or a resumed run) finds it and makes no provider call.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::documents::ChunkOutput;
use super::JobSystem;
use crate::chunk::RowObserver;
use crate::enricher::RowOutcome;
use crate::error::{Error, Result};
use crate::metrics::{scoped, Metrics};
use crate::pipeline::Processor;
use crate::ports::{ChunkStats, Job, JobStatus, Task};

impl JobSystem {
    pub(crate) async fn handle_chunk(&self, job_id: &str, chunk: u32) -> Result<()> {
        let job = self.store().get_job(None, job_id).await?;
        if job.status != JobStatus::InProgress {
            return Ok(()); // cancelled, failed or already finished: start nothing new
        }
        let stats = match self.chunk_output(&job, chunk).await? {
            Some(done) => done.stats,
            None => match self.enrich_chunk(&job, chunk).await {
                Ok(stats) => stats,
                Err(Error::Cancelled) => {
                    tracing::info!(job = job_id, chunk, "job cancelled; chunk stopped");
                    return Ok(());
                }
                Err(e) => return Err(e),
            },
        };
        // The store records a chunk only while its job runs, checking the status in the
        // record's own transaction. A chunk that finishes after its job failed (or was
        // cancelled) is stored but not recorded, so the refund counted when the job
        // ended (rows not delivered) and a retry's charge count the same chunks; no
        // chunk can slip in between a status check and that refund. A retry records it
        // from the stored output, with no provider call.
        let Some(progress) = self.store().record_chunk(job_id, chunk, stats).await? else {
            tracing::info!(
                job = job_id,
                chunk,
                "job no longer running; chunk stored, not recorded"
            );
            return Ok(());
        };
        self.store()
            .add_log(
                job_id,
                progress.rows_processed as i64,
                job.rows as i64,
                &format!(
                    "Chunk {}/{} completed ({} rows, {} fallbacks)",
                    chunk + 1,
                    progress.chunks_total.max(job.chunks_total),
                    stats.rows,
                    stats.fallbacks
                ),
            )
            .await?;
        if progress.chunks_done >= progress.chunks_total.max(job.chunks_total) {
            self.queue()
                .enqueue(Task::Finalize {
                    job_id: job_id.to_string(),
                })
                .await?;
        }
        Ok(())
    }

    /// The chunk processor on the stored raw chunk, drained into the chunk's stored
    /// output.
    async fn enrich_chunk(&self, job: &Job, chunk: u32) -> Result<ChunkStats> {
        let started = Instant::now();
        let raw = self.raw_chunk(job, chunk).await?;
        let headers = self.headers(job).await?;
        let email_index = headers
            .iter()
            .position(|h| *h == job.meta.email_col)
            .ok_or_else(|| crate::InputError::MissingEmailColumn(job.meta.email_col.clone()))?;
        let columns =
            crate::input::ProspectColumns::resolve(&headers, email_index, &job.meta.columns)?;
        let enricher = self.enricher_for(job).await?;
        let metrics = Arc::new(Metrics::default());
        let watch = ChunkWatch::default();
        let processor = Processor {
            enricher: &enricher,
            headers: &headers,
            columns: &columns,
            in_flight: self.inner.in_flight.clone(),
            chunks_in_flight: 1,
            observer: &watch,
        };
        let work = scoped(metrics.clone(), processor.process(&raw.rows));
        let outcomes = self.watch_chunk(job, chunk, &watch, work).await?;
        crate::telemetry::rows_enriched(&outcomes);
        let m = metrics.snapshot();
        let stats = ChunkStats {
            rows: outcomes.len() as u64,
            fallbacks: outcomes.iter().filter(|o| o.status.is_fallback()).count() as u64,
            refundable: outcomes.iter().filter(|o| o.is_refundable()).count() as u64,
            search_calls: m.search_calls,
            llm_calls: m.llm_calls,
            cache_hits: m.cache_hits(),
            retries: m.retries,
            prompt_tokens: m.prompt_tokens,
            completion_tokens: m.completion_tokens,
            millis: started.elapsed().as_millis() as u64,
        };
        self.put_chunk_output(job, chunk, &ChunkOutput { outcomes, stats })
            .await?;
        Ok(stats)
    }

    /// Runs `work` while reporting its rows done (at most once per `progress_every`)
    /// and watching the job's status: once it is no longer running, the chunk stops at
    /// its next row.
    async fn watch_chunk<T>(
        &self,
        job: &Job,
        chunk: u32,
        watch: &ChunkWatch,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        // The ticker stops between store calls, never inside one: a store call dropped
        // mid-transaction could leave its connection holding a lock.
        let finished = tokio::sync::Notify::new();
        let ticker = async {
            let mut tick = tokio::time::interval(self.settings().progress_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await; // the first tick is immediate
            let mut reported = 0;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = finished.notified() => return,
                }
                let done = watch.done.load(Ordering::Relaxed);
                if done > reported {
                    match self.store().record_chunk_rows(&job.id, chunk, done).await {
                        Ok(_) => reported = done,
                        Err(e) => {
                            tracing::warn!(job = %job.id, chunk, error = %e, "could not report progress")
                        }
                    }
                }
                match self.store().get_job(None, &job.id).await {
                    Ok(now) if now.status != JobStatus::InProgress => {
                        watch.cancelled.store(true, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(job = %job.id, error = %e, "could not read the job's status")
                    }
                }
            }
        };
        let work = async {
            let result = work.await;
            // Stored as a permit if the ticker is busy: it stops at its next wait.
            finished.notify_one();
            result
        };
        let (result, ()) = tokio::join!(work, ticker);
        result
    }
}

/// A running chunk's rows done, and whether its job was cancelled.
#[derive(Debug, Default)]
struct ChunkWatch {
    done: AtomicU64,
    cancelled: AtomicBool,
}

impl RowObserver for ChunkWatch {
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn row_done(&self, _outcome: &RowOutcome) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}
