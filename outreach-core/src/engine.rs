//! The file-to-file run: stream rows out of the input, enrich them chunk by chunk with
//! many rows in flight, write them out in input order.
//!
//! Three stages connected by bounded channels, so memory is bounded by
//! `chunk_size × chunks in flight`, never by the file:
//! reader (blocking thread) → enrichment (async, `buffered` keeps chunk order) →
//! writer (blocking thread). The output is written to a temporary file beside the
//! target and renamed at the end, so a failed run never leaves a file that looks done.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};

use crate::chunk::{process_chunk, RowObserver};
use crate::enricher::{Enricher, RowOutcome, RowStatus};
use crate::error::{Error, Result};
use crate::input::{self, Cancel, ColumnOverrides, ProspectColumns, RowReader};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::output::{self, OutputFormat, OutputLayout, WriteReport};
use crate::progress::{Progress, ProgressSink};

/// Rows read to guess the email column.
const EMAIL_SAMPLE_ROWS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnrichOptions {
    /// The email column's header; guessed when `None`.
    pub email_column: Option<String>,
    /// Headers of the name / company / title / LinkedIn / website columns; guessed
    /// from the headers where not given (an empty name turns a role off).
    pub columns: ColumnOverrides,
    /// Restrict and order the output columns.
    pub output_columns: Option<Vec<String>>,
    /// Output format; `None` = from the output path's extension, else XLSX.
    pub format: Option<OutputFormat>,
    /// Rows per chunk: the unit of progress and, for jobs, of checkpointing.
    pub chunk_size: usize,
    /// Rows in flight at once. Real APIs answer in ~0.1–1 s, so throughput is
    /// `concurrency / latency`; 64 gives ~90 rows/s at 0.7 s per row.
    pub concurrency: usize,
    /// Process only the first N data rows (previews).
    pub limit: Option<u64>,
}

impl Default for EnrichOptions {
    fn default() -> Self {
        Self {
            email_column: None,
            columns: ColumnOverrides::default(),
            output_columns: None,
            format: None,
            chunk_size: 50,
            concurrency: 64,
            limit: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub rows: u64,
    pub enriched: u64,
    pub fallbacks: u64,
    pub invalid_emails: u64,
    /// Rows on the do-not-contact list (not researched, not charged).
    #[serde(default)]
    pub suppressed: u64,
    /// Rows that fell back for reasons other than their input (refundable).
    pub refundable: u64,
    pub email_column: String,
    pub truncated_cells: u64,
    pub ragged_rows: u64,
    pub metrics: MetricsSnapshot,
    pub seconds: f64,
}

impl RunSummary {
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Tallies of row statuses.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    rows: u64,
    enriched: u64,
    invalid: u64,
    suppressed: u64,
    refundable: u64,
}

impl Tally {
    fn add(&mut self, outcomes: &[RowOutcome]) {
        for o in outcomes {
            self.rows += 1;
            match o.status {
                RowStatus::Enriched => self.enriched += 1,
                RowStatus::InvalidEmail => self.invalid += 1,
                RowStatus::Suppressed => self.suppressed += 1,
                _ => {}
            }
            if o.is_refundable() {
                self.refundable += 1;
            }
        }
    }
}

/// Progress by row: every finished row (in any order) moves the count by one.
struct RowProgress<'a> {
    sink: &'a dyn ProgressSink,
    total: u64,
    metrics: &'a Metrics,
    done: AtomicU64,
    fallbacks: AtomicU64,
}

impl<'a> RowProgress<'a> {
    fn new(sink: &'a dyn ProgressSink, total: u64, metrics: &'a Metrics) -> Self {
        Self {
            sink,
            total,
            metrics,
            done: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        }
    }
}

impl RowObserver for RowProgress<'_> {
    fn row_done(&self, outcome: &RowOutcome) {
        let fallbacks = if outcome.status == RowStatus::Enriched {
            self.fallbacks.load(Ordering::Relaxed)
        } else {
            self.fallbacks.fetch_add(1, Ordering::Relaxed) + 1
        };
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.sink.on_progress(&Progress {
            rows_done: done,
            rows_total: Some(self.total),
            fallbacks,
            metrics: self.metrics.snapshot(),
        });
    }
}

/// Enrich `input` into `output`.
pub async fn enrich_file(
    enricher: &Enricher,
    input: &Path,
    output: &Path,
    options: &EnrichOptions,
    progress: &dyn ProgressSink,
) -> Result<RunSummary> {
    let started = Instant::now();
    for warning in enricher.missing_key_warnings() {
        tracing::warn!("{warning}");
    }
    let format = options
        .format
        .or_else(|| OutputFormat::from_path(output))
        .unwrap_or_default();
    let chunk_size = options.chunk_size.max(1);
    let concurrency = options.concurrency.max(1);

    let opened = open_input(input.to_path_buf(), options.email_column.clone()).await?;
    let email_index = opened.email_index;
    let email_column = opened.reader.headers()[email_index].clone();
    let columns = ProspectColumns::resolve(opened.reader.headers(), email_index, &options.columns)?;
    enricher.config().service.validate()?;
    let campaign = &enricher.config().campaign;
    let headers = opened.reader.headers().to_vec();
    // Template errors surface here, before any provider call.
    if let Some(drafts) = &campaign.drafts {
        drafts.check(&headers)?;
    }
    let layout = OutputLayout::with_drafts(
        &headers,
        options.output_columns.as_deref(),
        campaign.draft_columns(),
    )?;

    let total = count_rows(input.to_path_buf()).await?;
    let total = options.limit.map_or(total, |l| total.min(l));
    progress.on_start(Some(total));

    let (chunk_tx, chunk_rx) = mpsc::channel::<Result<Vec<Vec<String>>>>(2);
    let reader = spawn_reader(opened, chunk_size, options.limit, chunk_tx);
    let partial = partial_path(output);
    let mut guard = PartialGuard::new(partial.clone());
    let (write_tx, write_rx) = mpsc::channel::<Vec<Vec<String>>>(4);
    let writer = spawn_writer(
        partial.clone(),
        format,
        layout.headers().to_vec(),
        write_rx,
        guard.abandoned.clone(),
    );

    let in_flight = Arc::new(Semaphore::new(concurrency));
    let chunks_in_flight = concurrency.div_ceil(chunk_size) + 1;
    let rows_progress = RowProgress::new(progress, total, enricher.metrics());
    let chunks = futures::stream::unfold(chunk_rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    });
    let results = chunks
        .map(|chunk| {
            let in_flight = &in_flight;
            let columns = &columns;
            let headers = &headers;
            let rows_progress = &rows_progress;
            async move {
                let rows = chunk?;
                let mut outcomes =
                    process_chunk(enricher, &rows, columns, in_flight, rows_progress).await?;
                campaign.draft_rows(headers, &rows, email_index, &mut outcomes);
                Ok::<_, Error>((rows, outcomes))
            }
        })
        .buffered(chunks_in_flight);
    // Boxed (not stack-pinned) so it can be dropped before joining the reader: the
    // reader may be blocked sending into the channel this stream owns.
    let mut results = Box::pin(results);

    let mut tally = Tally::default();
    let run: Result<()> = async {
        while let Some(next) = results.next().await {
            let (rows, outcomes) = next?;
            tally.add(&outcomes);
            let projected = rows
                .iter()
                .zip(&outcomes)
                .map(|(row, o)| layout.project(row, o))
                .collect();
            write_tx
                .send(projected)
                .await
                .map_err(|_| Error::Output("the writer stopped early".into()))?;
        }
        Ok(())
    }
    .await;
    drop(results);
    drop(write_tx);

    let written = join_blocking(writer).await;
    let read = join_blocking(reader).await;
    let finished = run
        .and(written)
        .and_then(|report| read.map(|ragged| (report, ragged)));
    // On error the guard removes the partial file as it drops.
    let (report, ragged_rows) = finished?;
    std::fs::rename(&partial, output)?;
    guard.disarm();

    let summary = RunSummary {
        rows: tally.rows,
        enriched: tally.enriched,
        fallbacks: tally.rows - tally.enriched,
        invalid_emails: tally.invalid,
        suppressed: tally.suppressed,
        refundable: tally.refundable,
        email_column,
        truncated_cells: report.truncated_cells,
        ragged_rows,
        metrics: enricher.metrics().snapshot(),
        seconds: started.elapsed().as_secs_f64(),
    };
    progress.on_finish(&Progress {
        rows_done: summary.rows,
        rows_total: Some(total),
        fallbacks: summary.fallbacks,
        metrics: summary.metrics,
    });
    Ok(summary)
}

/// Enrich rows already in memory (a Python list of dicts, a DataFrame): outcomes in
/// input order. `columns` says where each row holds the email and the role columns;
/// `headers` name the cells (for the email templates).
pub async fn enrich_rows(
    enricher: &Enricher,
    headers: &[String],
    rows: Vec<Vec<String>>,
    columns: &ProspectColumns,
    options: &EnrichOptions,
    progress: &dyn ProgressSink,
) -> Result<Vec<RowOutcome>> {
    let campaign = &enricher.config().campaign;
    if let Some(drafts) = &campaign.drafts {
        drafts.check(headers)?;
    }
    for warning in enricher.missing_key_warnings() {
        tracing::warn!("{warning}");
    }
    enricher.config().service.validate()?;
    let limit = options
        .limit
        .map_or(rows.len(), |l| rows.len().min(l as usize));
    let rows = &rows[..limit];
    let total = rows.len() as u64;
    progress.on_start(Some(total));
    let in_flight = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let chunk_size = options.chunk_size.max(1);
    let chunks_in_flight = options.concurrency.max(1).div_ceil(chunk_size) + 1;
    let rows_progress = RowProgress::new(progress, total, enricher.metrics());
    let mut results = Box::pin(
        futures::stream::iter(rows.chunks(chunk_size))
            .map(|chunk| async {
                let mut outcomes =
                    process_chunk(enricher, chunk, columns, &in_flight, &rows_progress).await?;
                campaign.draft_rows(headers, chunk, columns.email, &mut outcomes);
                Ok::<_, Error>(outcomes)
            })
            .buffered(chunks_in_flight),
    );
    let mut out = Vec::with_capacity(rows.len());
    let mut tally = Tally::default();
    while let Some(outcomes) = results.next().await {
        let outcomes = outcomes?;
        tally.add(&outcomes);
        out.extend(outcomes);
    }
    progress.on_finish(&Progress {
        rows_done: tally.rows,
        rows_total: Some(total),
        fallbacks: tally.rows - tally.enriched,
        metrics: enricher.metrics().snapshot(),
    });
    Ok(out)
}

/// The reader, positioned after the sample rows it already read for the email guess.
pub struct OpenedInput {
    pub reader: RowReader,
    pub sample: Vec<Vec<String>>,
    pub email_index: usize,
}

/// Open the file, read a sample, resolve the email column.
pub async fn open_input(path: PathBuf, email_column: Option<String>) -> Result<OpenedInput> {
    blocking(move || {
        let mut reader = RowReader::open(&path)?;
        let mut sample = Vec::with_capacity(EMAIL_SAMPLE_ROWS);
        for row in reader.by_ref().take(EMAIL_SAMPLE_ROWS) {
            sample.push(row?);
        }
        if sample.is_empty() {
            return Err(crate::InputError::HeaderOnly.into());
        }
        let email_index =
            input::resolve_email_column(reader.headers(), email_column.as_deref(), &sample)?;
        Ok(OpenedInput {
            reader,
            sample,
            email_index,
        })
    })
    .await
}

async fn count_rows(path: PathBuf) -> Result<u64> {
    blocking(move || Ok(input::read_summary(&path)?.rows)).await
}

/// Reads chunks on a blocking thread; returns the count of ragged rows.
fn spawn_reader(
    opened: OpenedInput,
    chunk_size: usize,
    limit: Option<u64>,
    tx: mpsc::Sender<Result<Vec<Vec<String>>>>,
) -> tokio::task::JoinHandle<Result<u64>> {
    tokio::task::spawn_blocking(move || {
        let OpenedInput {
            mut reader, sample, ..
        } = opened;
        let limit = limit.unwrap_or(u64::MAX);
        let mut sent = 0u64;
        let mut chunk = Vec::with_capacity(chunk_size);
        let mut rows = sample.into_iter().map(Ok).chain(reader.by_ref());
        loop {
            if sent >= limit {
                break;
            }
            match rows.next() {
                Some(Ok(row)) => {
                    chunk.push(row);
                    sent += 1;
                    if chunk.len() == chunk_size
                        && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
                    {
                        return Ok(0); // the run stopped; its error is reported there
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.blocking_send(Err(e));
                    return Ok(0);
                }
                None => break,
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(Ok(chunk));
        }
        drop(rows);
        Ok(reader.ragged_rows())
    })
}

fn spawn_writer(
    path: PathBuf,
    format: OutputFormat,
    headers: Vec<String>,
    mut rx: mpsc::Receiver<Vec<Vec<String>>>,
    abandoned: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Result<WriteReport>> {
    tokio::task::spawn_blocking(move || {
        let mut writer = output::create_writer(&path, format, &headers)?;
        while let Some(rows) = rx.blocking_recv() {
            for row in &rows {
                writer.write_row(row)?;
            }
        }
        let report = writer.finish();
        // The run was dropped (cancelled) while this thread finished: leave nothing.
        if abandoned.load(Ordering::SeqCst) {
            let _ = std::fs::remove_file(&path);
        }
        report
    })
}

/// Removes the partial output file unless the run completed. It also flags the writer
/// thread, which may still be finishing after a cancelled run was dropped, so whichever
/// of the two ends last removes the file.
struct PartialGuard {
    path: PathBuf,
    abandoned: Arc<AtomicBool>,
    armed: bool,
}

impl PartialGuard {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            abandoned: Arc::new(AtomicBool::new(false)),
            armed: true,
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for PartialGuard {
    fn drop(&mut self) {
        if self.armed {
            self.abandoned.store(true, Ordering::SeqCst);
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn partial_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    output.with_file_name(format!(".{name}.partial"))
}

/// Run blocking file work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    join_blocking(tokio::task::spawn_blocking(f)).await
}

/// Run blocking file work that checks a [`Cancel`] flag: if the returned future is
/// dropped (a timed-out request, a closed connection, a shutdown), the flag is set and
/// the work stops at its next check instead of holding a thread to the end.
pub async fn blocking_cancellable<T: Send + 'static>(
    f: impl FnOnce(Cancel) -> Result<T> + Send + 'static,
) -> Result<T> {
    let cancel = Cancel::new();
    let _stop_when_dropped = cancel.on_drop();
    join_blocking(tokio::task::spawn_blocking(move || f(cancel))).await
}

async fn join_blocking<T>(handle: tokio::task::JoinHandle<Result<T>>) -> Result<T> {
    handle
        .await
        .map_err(|e| Error::Io(std::io::Error::other(format!("worker thread failed: {e}"))))?
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn dropping_a_cancellable_blocking_call_stops_its_work() {
        let (tx, rx) = std::sync::mpsc::channel();
        let work = blocking_cancellable(move |cancel| {
            let started = Instant::now();
            while !cancel.is_cancelled() && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = tx.send(started.elapsed());
            cancel.check()
        });
        // A deadline drops the future, as a request timeout does.
        let timed_out = tokio::time::timeout(Duration::from_millis(50), work).await;
        assert!(timed_out.is_err());
        let ran = rx.recv_timeout(Duration::from_secs(5));
        assert!(
            matches!(ran, Ok(d) if d < Duration::from_secs(2)),
            "the blocking loop ran {ran:?}"
        );
    }
}
