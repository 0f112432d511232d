//! `Start`: claim the job, split its input into raw chunks once, queue the chunks that
//! are not done yet (all of them on a first run; the missing ones on a retry or after
//! a crash).

use std::time::Instant;

use super::documents::HeadersDoc;
use super::JobSystem;
use crate::error::Result;
use crate::input::RowReader;
use crate::pipeline::{blocking, ChunkSource, FileChunks, OpenedInput};
use crate::ports::{Job, JobStatus, Task};

impl JobSystem {
    pub(crate) async fn handle_start(&self, job_id: &str) -> Result<()> {
        let job = self.store().get_job(None, job_id).await?;
        match job.status {
            JobStatus::Queued => {
                if !self
                    .store()
                    .transition(job_id, JobStatus::Queued, JobStatus::InProgress)
                    .await?
                {
                    return Ok(()); // another worker claimed it
                }
                self.store()
                    .add_log(
                        job_id,
                        0,
                        job.rows as i64,
                        &format!("Job started (attempt {})", job.attempt),
                    )
                    .await?;
            }
            JobStatus::InProgress => {} // a redelivery or a recovery after a restart
            _ => return Ok(()),
        }
        let job = self.store().get_job(None, job_id).await?;
        let chunks_total = if job.chunks_total == 0 {
            let n = self.split(&job).await?;
            self.store().set_chunks_total(job_id, n).await?;
            self.store()
                .add_log(
                    job_id,
                    0,
                    job.rows as i64,
                    &format!(
                        "Split into {n} chunk{} of up to {} rows",
                        if n == 1 { "" } else { "s" },
                        job.meta.chunk_size
                    ),
                )
                .await?;
            n
        } else {
            job.chunks_total
        };
        let done = self.store().done_chunks(job_id).await?;
        let mut queued = 0;
        for chunk in 0..chunks_total {
            if done.binary_search(&chunk).is_err() {
                self.queue()
                    .enqueue(Task::Chunk {
                        job_id: job_id.to_string(),
                        chunk,
                    })
                    .await?;
                queued += 1;
            }
        }
        if queued == 0 {
            self.queue()
                .enqueue(Task::Finalize {
                    job_id: job_id.to_string(),
                })
                .await?;
        }
        Ok(())
    }

    /// Stream the input once into raw chunk objects (a file source drained into the
    /// job's stored raw chunks). Re-running it writes the same objects again, so a crash
    /// in the middle is harmless.
    async fn split(&self, job: &Job) -> Result<u32> {
        let started = Instant::now();
        let local = self.download(&job.meta.file_path).await?;
        let limit = job.meta.limit.unwrap_or(u64::MAX).min(job.rows);
        let path = local.path.clone();
        let reader = blocking(move || RowReader::open(&path)).await?;
        let headers = reader.headers().to_vec();
        let opened = OpenedInput {
            reader,
            sample: Vec::new(),
        };
        let mut source = FileChunks::spawn(opened, job.meta.chunk_size as usize, Some(limit));
        let mut n = 0u32;
        let stored: Result<()> = async {
            while let Some(rows) = source.next_chunk().await {
                self.put_raw_chunk(job, n, rows?).await?;
                n += 1;
            }
            Ok(())
        }
        .await;
        source.finish().await?;
        stored?;
        let doc = HeadersDoc {
            headers,
            split_seconds: started.elapsed().as_secs_f64(),
        };
        self.put_headers(job, &doc).await?;
        if n == 0 {
            return Err(crate::InputError::HeaderOnly.into());
        }
        Ok(n)
    }
}
