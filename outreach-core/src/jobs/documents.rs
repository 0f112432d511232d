//! The job's stored documents, next to the keys that name them (`keys.rs`): the raw
//! rows of each chunk and the input's headers (written when the job is split), and each
//! chunk's output (its existence means the chunk is done).

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{keys, JobSystem};
use crate::enricher::RowOutcome;
use crate::error::{Error, Result};
use crate::ports::{ChunkStats, Job};

/// The rows of one chunk, as read from the input.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RawChunk {
    pub rows: Vec<Vec<String>>,
}

/// The input's header row, and how long the split took.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HeadersDoc {
    pub headers: Vec<String>,
    pub split_seconds: f64,
}

/// A finished chunk: one outcome per raw row, and its numbers.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ChunkOutput {
    pub outcomes: Vec<RowOutcome>,
    pub stats: ChunkStats,
}

impl JobSystem {
    pub(crate) async fn put_raw_chunk(
        &self,
        job: &Job,
        n: u32,
        rows: Vec<Vec<String>>,
    ) -> Result<()> {
        self.put_doc(
            &keys::raw_chunk(&job.user_id, &job.id, n),
            &RawChunk { rows },
        )
        .await
    }

    pub(crate) async fn raw_chunk(&self, job: &Job, n: u32) -> Result<RawChunk> {
        self.get_doc(&keys::raw_chunk(&job.user_id, &job.id, n))
            .await
    }

    pub(crate) async fn put_headers(&self, job: &Job, doc: &HeadersDoc) -> Result<()> {
        self.put_doc(&keys::headers(&job.user_id, &job.id), doc)
            .await
    }

    pub(crate) async fn headers_doc(&self, job: &Job) -> Result<HeadersDoc> {
        self.get_doc(&keys::headers(&job.user_id, &job.id)).await
    }

    pub(crate) async fn headers(&self, job: &Job) -> Result<Vec<String>> {
        Ok(self.headers_doc(job).await?.headers)
    }

    pub(crate) async fn put_chunk_output(
        &self,
        job: &Job,
        n: u32,
        doc: &ChunkOutput,
    ) -> Result<()> {
        self.put_doc(&keys::chunk_output(&job.user_id, &job.id, n), doc)
            .await
    }

    /// The chunk's output; `None` while the chunk is not done.
    pub(crate) async fn chunk_output(&self, job: &Job, n: u32) -> Result<Option<ChunkOutput>> {
        match self
            .get_doc(&keys::chunk_output(&job.user_id, &job.id, n))
            .await
        {
            Ok(doc) => Ok(Some(doc)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put_doc(&self, key: &str, doc: &impl Serialize) -> Result<()> {
        let bytes = serde_json::to_vec(doc).map_err(json_error)?;
        self.storage().put(key, Bytes::from(bytes)).await?;
        Ok(())
    }

    async fn get_doc<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let bytes = self.storage().get(key).await?;
        serde_json::from_slice(&bytes).map_err(json_error)
    }
}

fn json_error(e: serde_json::Error) -> Error {
    Error::Output(format!("could not encode or decode a chunk: {e}"))
}
