//! `Start`: claim the job, split its input into raw chunks once, queue the chunks that
//! are not done yet (all of them on a first run; the missing ones on a retry or after
//! a crash).

use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{keys, JobSystem};
use crate::error::{Error, Result};
use crate::input::RowReader;
use crate::ports::{Job, JobStatus, Task};

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RawChunk {
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HeadersDoc {
    pub headers: Vec<String>,
    pub split_seconds: f64,
}

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

    /// Stream the input once into raw chunk objects. Re-running it writes the same
    /// objects again, so a crash in the middle is harmless.
    async fn split(&self, job: &Job) -> Result<u32> {
        let started = Instant::now();
        let local = self.download(&job.meta.file_path).await?;
        let chunk_size = job.meta.chunk_size.max(1) as usize;
        let limit = job.meta.limit.unwrap_or(u64::MAX).min(job.rows);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<Vec<String>>>>(2);
        let path = local.path.clone();
        let reader = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            let mut reader = RowReader::open(&path)?;
            let headers = reader.headers().to_vec();
            let mut chunk = Vec::with_capacity(chunk_size);
            for row in reader
                .by_ref()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
            {
                chunk.push(row?);
                if chunk.len() == chunk_size
                    && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
                {
                    return Ok(headers);
                }
            }
            if !chunk.is_empty() {
                let _ = tx.blocking_send(Ok(chunk));
            }
            Ok(headers)
        });
        let mut n = 0u32;
        while let Some(rows) = rx.recv().await {
            let doc = serde_json::to_vec(&RawChunk { rows: rows? }).map_err(json_error)?;
            self.storage()
                .put(&keys::raw_chunk(&job.user_id, &job.id, n), Bytes::from(doc))
                .await?;
            n += 1;
        }
        let headers = reader.await.map_err(|e| {
            Error::Io(std::io::Error::other(format!("reader thread failed: {e}")))
        })??;
        let doc = HeadersDoc {
            headers,
            split_seconds: started.elapsed().as_secs_f64(),
        };
        let bytes = serde_json::to_vec(&doc).map_err(json_error)?;
        self.storage()
            .put(&keys::headers(&job.user_id, &job.id), Bytes::from(bytes))
            .await?;
        if n == 0 {
            return Err(crate::InputError::HeaderOnly.into());
        }
        Ok(n)
    }
}

pub(crate) fn json_error(e: serde_json::Error) -> Error {
    Error::Output(format!("could not encode or decode a chunk: {e}"))
}
