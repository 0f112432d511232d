//! Where chunks come from: a file read on a blocking thread into a bounded channel, or
//! rows already in memory. (A job's stored raw chunks are a source too; see
//! `jobs/documents.rs`.)

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::join_blocking;
use super::plan::OpenedInput;
use crate::error::Result;

/// Rows of a run, a chunk at a time, in input order.
#[async_trait]
pub trait ChunkSource: Send {
    /// The next chunk; `None` when the rows are exhausted.
    async fn next_chunk(&mut self) -> Option<Result<Vec<Vec<String>>>>;
}

/// A file's rows, read on a blocking thread into a bounded channel (two chunks ahead),
/// so memory is bounded by the chunk size, never by the file.
pub struct FileChunks {
    rx: mpsc::Receiver<Result<Vec<Vec<String>>>>,
    reader: tokio::task::JoinHandle<Result<u64>>,
}

impl FileChunks {
    /// Starts reading `opened` (sample rows first) in chunks of `chunk_size`, stopping
    /// after `limit` rows.
    pub fn spawn(opened: OpenedInput, chunk_size: usize, limit: Option<u64>) -> Self {
        let chunk_size = chunk_size.max(1);
        let (tx, rx) = mpsc::channel(2);
        let reader = tokio::task::spawn_blocking(move || {
            let OpenedInput {
                mut reader, sample, ..
            } = opened;
            let limit = usize::try_from(limit.unwrap_or(u64::MAX)).unwrap_or(usize::MAX);
            let mut chunk = Vec::with_capacity(chunk_size);
            let rows = sample.into_iter().map(Ok).chain(reader.by_ref());
            for row in rows.take(limit) {
                match row {
                    Ok(row) => {
                        chunk.push(row);
                        if chunk.len() == chunk_size
                            && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
                        {
                            return Ok(0); // the run stopped; its error is reported there
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return Ok(0);
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = tx.blocking_send(Ok(chunk));
            }
            Ok(reader.ragged_rows())
        });
        Self { rx, reader }
    }

    /// Stops reading (if not done) and returns the count of ragged rows read.
    pub async fn finish(self) -> Result<u64> {
        drop(self.rx);
        join_blocking(self.reader).await
    }
}

#[async_trait]
impl ChunkSource for FileChunks {
    async fn next_chunk(&mut self) -> Option<Result<Vec<Vec<String>>>> {
        self.rx.recv().await
    }
}

/// Rows held in memory, moved out a chunk at a time.
pub struct MemoryChunks {
    rows: std::vec::IntoIter<Vec<String>>,
    chunk_size: usize,
}

impl MemoryChunks {
    pub fn new(rows: Vec<Vec<String>>, chunk_size: usize) -> Self {
        Self {
            rows: rows.into_iter(),
            chunk_size: chunk_size.max(1),
        }
    }
}

#[async_trait]
impl ChunkSource for MemoryChunks {
    async fn next_chunk(&mut self) -> Option<Result<Vec<Vec<String>>>> {
        let chunk: Vec<_> = self.rows.by_ref().take(self.chunk_size).collect();
        (!chunk.is_empty()).then_some(Ok(chunk))
    }
}
