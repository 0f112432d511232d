//! Where processed chunks go: a row writer on its own thread, or memory. (A job's
//! stored chunk output is a sink too; see `jobs/documents.rs`.)

use async_trait::async_trait;

use super::writer::WriterThread;
use crate::enricher::RowOutcome;
use crate::error::Result;
use crate::output::{OutputLayout, WriteReport};

/// Receives chunks in input order: each input row with its outcome.
#[async_trait]
pub trait ChunkSink: Send {
    async fn put(&mut self, rows: Vec<Vec<String>>, outcomes: Vec<RowOutcome>) -> Result<()>;
}

/// Projects rows through the layout and writes them on the writer thread.
pub struct WriterSink<'a> {
    layout: &'a OutputLayout,
    writer: WriterThread,
}

impl<'a> WriterSink<'a> {
    pub fn new(layout: &'a OutputLayout, writer: WriterThread) -> Self {
        Self { layout, writer }
    }

    /// Completes the output file.
    pub async fn finish(self) -> Result<WriteReport> {
        self.writer.finish().await
    }

    /// Gives the output up (after an error): no file appears, no partial file stays.
    pub async fn abandon(self) {
        self.writer.abandon().await
    }
}

#[async_trait]
impl ChunkSink for WriterSink<'_> {
    async fn put(&mut self, rows: Vec<Vec<String>>, outcomes: Vec<RowOutcome>) -> Result<()> {
        self.writer
            .send(project(self.layout, &rows, &outcomes))
            .await
    }
}

/// Keeps every outcome in memory, and the projected rows when asked to (and writes
/// them to a file on the way, when given a writer).
pub struct Collector<'a> {
    pub outcomes: Vec<RowOutcome>,
    /// Projected rows, when the driver returns them.
    pub rows: Option<Vec<Vec<String>>>,
    layout: &'a OutputLayout,
    writer: Option<WriterThread>,
}

impl<'a> Collector<'a> {
    pub fn new(layout: &'a OutputLayout, keep_rows: bool, writer: Option<WriterThread>) -> Self {
        Self {
            outcomes: Vec::new(),
            rows: keep_rows.then(Vec::new),
            layout,
            writer,
        }
    }

    /// Gives the output file up, if any (after an error).
    pub async fn abandon_output(&mut self) {
        if let Some(w) = self.writer.take() {
            w.abandon().await;
        }
    }

    /// Completes the output file, if any; returns the truncated-cell count.
    pub async fn finish_output(&mut self) -> Result<u64> {
        match self.writer.take() {
            Some(w) => Ok(w.finish().await?.truncated_cells),
            None => Ok(0),
        }
    }
}

#[async_trait]
impl ChunkSink for Collector<'_> {
    async fn put(&mut self, rows: Vec<Vec<String>>, outcomes: Vec<RowOutcome>) -> Result<()> {
        if self.rows.is_some() || self.writer.is_some() {
            let projected = project(self.layout, &rows, &outcomes);
            if let Some(writer) = &self.writer {
                writer.send(projected.clone()).await?;
            }
            if let Some(kept) = &mut self.rows {
                kept.extend(projected);
            }
        }
        self.outcomes.extend(outcomes);
        Ok(())
    }
}

/// Input rows with their research and opener, in the output's columns.
pub fn project(
    layout: &OutputLayout,
    rows: &[Vec<String>],
    outcomes: &[RowOutcome],
) -> Vec<Vec<String>> {
    rows.iter()
        .zip(outcomes)
        .map(|(row, o)| layout.project(row, o))
        .collect()
}
