//! `Finalize`: merge the chunks in input order into the result file, mark the job
//! succeeded (a compare-and-set: exactly one finisher wins), then refund the rows that
//! fell back for provider reasons. A redelivered finalize redoes nothing that is done.

use std::time::Instant;

use super::{keys, JobSystem};
use crate::campaign::DraftColumns;
use crate::error::{Error, Result};
use crate::output::OutputLayout;
use crate::pipeline::{blocking, ChunkSink, WriterSink, WriterThread};
use crate::ports::{
    ChunkProgress, Job, JobFinish, JobStatus, ProviderCalls, Timing, TimingSeconds, TokenCounts,
};

impl JobSystem {
    pub(crate) async fn handle_finalize(&self, job_id: &str) -> Result<()> {
        let job = self.store().get_job(None, job_id).await?;
        match job.status {
            JobStatus::InProgress => {}
            // Finished, but the refund may not have landed before a crash.
            JobStatus::Succeeded => return self.refund_failed_rows(&job).await,
            _ => return Ok(()),
        }
        let progress = self.store().chunk_progress(job_id).await?;
        if job.chunks_total == 0 || progress.chunks_done < job.chunks_total {
            return Ok(()); // the last chunk will queue another finalize
        }
        let started = Instant::now();
        let result_key = keys::result(&job.user_id, job_id, job.meta.format.extension());
        let (bytes, truncated) = self.write_result(&job, &result_key).await?;
        let timing = timing_json(
            &job,
            &progress,
            self.split_seconds(&job).await,
            started.elapsed().as_secs_f64(),
            truncated,
        );
        let won = self
            .store()
            .finish(
                job_id,
                JobFinish {
                    status: JobStatus::Succeeded,
                    result_path: Some(result_key.clone()),
                    error: None,
                    timing: Some(timing),
                },
            )
            .await?;
        if won {
            crate::telemetry::job_finished(JobStatus::Succeeded);
            self.store()
                .record_file(
                    &job.user_id,
                    Some(job_id),
                    &job.filename,
                    &result_key,
                    "final_output",
                )
                .await?;
            self.store()
                .add_log(
                    job_id,
                    progress.rows_processed as i64,
                    job.rows as i64,
                    &format!(
                        "Job succeeded: {} rows, {} fallbacks, {bytes} bytes",
                        progress.rows_processed, progress.totals.fallbacks
                    ),
                )
                .await?;
        }
        let job = self.store().get_job(None, job_id).await?;
        if job.status == JobStatus::Succeeded {
            let refunded = self.refund_failed_rows(&job).await;
            if won {
                // Told once, by the finalize that flipped the status, even when the
                // refund must be retried (it is idempotent and its amount is fixed).
                let amount = failed_rows_refund(&job, &progress);
                self.notify_finished(&job, progress.rows_processed, amount)
                    .await;
            }
            refunded?;
        }
        Ok(())
    }

    async fn refund_failed_rows(&self, job: &Job) -> Result<()> {
        if job.meta.credit_cost <= 0 {
            return Ok(());
        }
        let progress = self.store().chunk_progress(&job.id).await?;
        let credits = failed_rows_refund(job, &progress);
        self.refund(
            &job.user_id,
            &job.id,
            credits,
            keys::refund_rows(&job.id, job.attempt),
            "job refund (failed rows)",
        )
        .await
    }

    async fn split_seconds(&self, job: &Job) -> f64 {
        self.headers_doc(job)
            .await
            .map(|d| d.split_seconds)
            .unwrap_or(0.0)
    }

    /// The stored chunks (raw rows with their outputs), in order, drained into a writer
    /// on a local file, which is then uploaded.
    async fn write_result(&self, job: &Job, result_key: &str) -> Result<(u64, u64)> {
        let headers = self.headers(job).await?;
        let drafts = job.meta.campaign.as_ref().and_then(|c| c.drafts.as_ref());
        let layout = OutputLayout::with_drafts(
            &headers,
            job.meta.output_columns.as_deref(),
            DraftColumns::for_spec(drafts),
        )?;
        let dir = self.temp_dir().await?;
        let path = dir
            .path()
            .join(format!("result.{}", job.meta.format.extension()));
        let writer =
            WriterThread::create(path.clone(), job.meta.format, layout.headers().to_vec()).await?;
        let mut sink = WriterSink::new(&layout, writer);
        for n in 0..job.chunks_total {
            let raw = self.raw_chunk(job, n).await?;
            let out = self
                .chunk_output(job, n)
                .await?
                .ok_or_else(|| Error::NotFound(format!("the output of chunk {n}")))?;
            if raw.rows.len() != out.outcomes.len() {
                return Err(Error::Output(format!(
                    "chunk {n} has {} rows but {} results",
                    raw.rows.len(),
                    out.outcomes.len()
                )));
            }
            sink.put(raw.rows, out.outcomes).await?;
        }
        let report = sink.finish().await?;
        let bytes = self.storage().put_file(result_key, &path).await?;
        // Removing the temp dir is file I/O: off the async threads.
        let _ = blocking(move || {
            drop(dir);
            Ok(())
        })
        .await;
        Ok((bytes, report.truncated_cells))
    }
}

/// The credits a succeeded job gives back: its rows that failed for provider reasons.
fn failed_rows_refund(job: &Job, progress: &ChunkProgress) -> i64 {
    if job.meta.credit_cost <= 0 {
        return 0;
    }
    (progress.totals.refundable as i64).min(job.meta.credit_cost)
}

fn timing_json(
    job: &Job,
    p: &ChunkProgress,
    split: f64,
    finalize: f64,
    truncated: u64,
) -> serde_json::Value {
    let wall = job
        .started_at
        .map(|s| (chrono::Utc::now() - s).num_milliseconds() as f64 / 1000.0)
        .unwrap_or(0.0);
    let t = &p.totals;
    let timing = Timing {
        seconds: TimingSeconds {
            split: round(split),
            chunks_total: round(t.millis as f64 / 1000.0),
            finalize: round(finalize),
            wall: round(wall),
        },
        rows: p.rows_processed,
        rows_per_second: if wall > 0.0 {
            round(p.rows_processed as f64 / wall)
        } else {
            0.0
        },
        provider_calls: ProviderCalls {
            search: t.search_calls,
            llm: t.llm_calls,
            total: t.search_calls + t.llm_calls,
        },
        cache_hits: t.cache_hits,
        retries: t.retries,
        fallbacks: t.fallbacks,
        refundable_rows: t.refundable,
        tokens: TokenCounts {
            prompt: t.prompt_tokens,
            completion: t.completion_tokens,
        },
        truncated_cells: truncated,
    };
    // Plain numbers and nested structs: serialising cannot fail.
    serde_json::to_value(timing).unwrap_or_default()
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
