//! Running chunks: the source's chunks through [`process_chunk`] with many rows in
//! flight (`buffered` keeps chunk order), drained into the sink.

use std::sync::Arc;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::sink::ChunkSink;
use super::source::ChunkSource;
use crate::chunk::{process_chunk, RowObserver};
use crate::enricher::{Enricher, RowOutcome, RowStatus};
use crate::error::{Error, Result};
use crate::input::ProspectColumns;
use crate::metrics::MetricsSnapshot;
use crate::RunSummary;

/// The chunk processor: one enricher, the columns it reads, a bound on rows in flight.
/// Each chunk goes through [`process_chunk`] (the do-not-contact list first, then the
/// enricher), then the run's templates render its drafts.
pub struct Processor<'a> {
    pub enricher: &'a Enricher,
    /// The input's headers (the templates' variables).
    pub headers: &'a [String],
    pub columns: &'a ProspectColumns,
    /// Rows in flight, shared by every chunk of the run (or of the process).
    pub in_flight: Arc<Semaphore>,
    /// Chunks started ahead of the one being drained.
    pub chunks_in_flight: usize,
    pub observer: &'a dyn RowObserver,
}

impl<'a> Processor<'a> {
    /// A processor with `concurrency` rows in flight over chunks of `chunk_size`.
    pub fn new(
        enricher: &'a Enricher,
        headers: &'a [String],
        columns: &'a ProspectColumns,
        concurrency: usize,
        chunk_size: usize,
        observer: &'a dyn RowObserver,
    ) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            enricher,
            headers,
            columns,
            in_flight: Arc::new(Semaphore::new(concurrency)),
            chunks_in_flight: concurrency.div_ceil(chunk_size.max(1)) + 1,
            observer,
        }
    }

    /// One chunk's outcomes (with their drafts), in order.
    pub async fn process(&self, rows: &[Vec<String>]) -> Result<Vec<RowOutcome>> {
        let mut outcomes = process_chunk(
            self.enricher,
            rows,
            self.columns,
            &self.in_flight,
            self.observer,
        )
        .await?;
        self.enricher.config().campaign.draft_rows(
            self.headers,
            rows,
            self.columns.email,
            &mut outcomes,
        );
        Ok(outcomes)
    }
}

/// Runs every chunk of `source` through `processor` into `sink`, in order; returns the
/// tally of row statuses.
pub async fn run_chunks(
    source: &mut dyn ChunkSource,
    processor: &Processor<'_>,
    sink: &mut dyn ChunkSink,
) -> Result<Tally> {
    let chunks = futures::stream::unfold(source, |source| async move {
        source.next_chunk().await.map(|chunk| (chunk, source))
    });
    let results = chunks
        .map(|chunk| async move {
            let rows = chunk?;
            let outcomes = processor.process(&rows).await?;
            Ok::<_, Error>((rows, outcomes))
        })
        .buffered(processor.chunks_in_flight.max(1));
    let mut results = Box::pin(results);
    let mut tally = Tally::default();
    while let Some(next) = results.next().await {
        let (rows, outcomes) = next?;
        tally.add(&outcomes);
        sink.put(rows, outcomes).await?;
    }
    Ok(tally)
}

/// Counts of row statuses: the one place a run's figures are tallied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub rows: u64,
    pub enriched: u64,
    pub invalid_emails: u64,
    /// Rows on the do-not-contact list (not researched, not charged).
    #[serde(default)]
    pub suppressed: u64,
    /// Rows that fell back for reasons other than their input (refundable).
    pub refundable: u64,
}

impl Tally {
    /// The tally of these outcomes.
    pub fn of(outcomes: &[RowOutcome]) -> Self {
        let mut t = Self::default();
        t.add(outcomes);
        t
    }

    pub fn add(&mut self, outcomes: &[RowOutcome]) {
        for o in outcomes {
            self.rows += 1;
            match o.status {
                RowStatus::Enriched => self.enriched += 1,
                RowStatus::InvalidEmail => self.invalid_emails += 1,
                RowStatus::Suppressed => self.suppressed += 1,
                _ => {}
            }
            if o.is_refundable() {
                self.refundable += 1;
            }
        }
    }

    /// Rows that carry a fallback.
    pub fn fallbacks(&self) -> u64 {
        self.rows - self.enriched
    }

    /// The run's summary from this tally and what the reader and writer reported.
    pub fn summary(
        &self,
        email_column: &str,
        truncated_cells: u64,
        ragged_rows: u64,
        metrics: MetricsSnapshot,
        seconds: f64,
    ) -> RunSummary {
        RunSummary {
            rows: self.rows,
            enriched: self.enriched,
            fallbacks: self.fallbacks(),
            invalid_emails: self.invalid_emails,
            suppressed: self.suppressed,
            refundable: self.refundable,
            email_column: email_column.to_string(),
            truncated_cells,
            ragged_rows,
            metrics,
            seconds,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn outcome(status: RowStatus) -> RowOutcome {
        RowOutcome {
            research: "r".into(),
            personalized: "p".into(),
            status,
            draft: None,
        }
    }

    #[test]
    fn the_tally_counts_each_status_once() {
        let t = Tally::of(&[
            outcome(RowStatus::Enriched),
            outcome(RowStatus::InvalidEmail),
            outcome(RowStatus::MissingKey),
            outcome(RowStatus::ProviderFailed),
            outcome(RowStatus::Enriched),
            outcome(RowStatus::Suppressed),
        ]);
        let s = t.summary("email", 1, 2, MetricsSnapshot::default(), 0.5);
        assert_eq!(
            (
                s.rows,
                s.enriched,
                s.fallbacks,
                s.invalid_emails,
                s.suppressed,
                s.refundable
            ),
            // Refunded: the invalid address and both provider failures; a suppressed
            // row was never charged, so it is not refunded either.
            (6, 2, 4, 1, 1, 3)
        );
        assert_eq!(
            (s.email_column.as_str(), s.truncated_cells, s.ragged_rows),
            ("email", 1, 2)
        );
    }
}
