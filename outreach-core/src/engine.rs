//! The engine: a run outside the job system (the Python binding, the examples,
//! embedding the library). A thin driver of [`crate::pipeline`]: a file source or rows
//! in memory, the chunk processor, a writer or a collector.
//!
//! Memory is bounded by `chunk_size × chunks in flight`, never by the file: the reader
//! and the writer run on their own threads behind bounded channels, and the output file
//! appears only when complete.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::chunk::RowObserver;
use crate::enricher::{Enricher, RowOutcome, RowStatus};
use crate::error::Result;
use crate::input::{ColumnOverrides, ProspectColumns};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::output::{OutputFormat, OutputLayout};
use crate::pipeline::{
    run_chunks, ChunkSource, Collector, FileChunks, MemoryChunks, Plan, PlanRequest, Processor,
    WriterSink, WriterThread,
};
use crate::progress::{Progress, ProgressSink};

pub use crate::pipeline::{blocking, blocking_cancellable};

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

/// Progress by row: every finished row (in any order) moves the count by one.
struct RowProgress<'a> {
    sink: &'a dyn ProgressSink,
    total: u64,
    metrics: &'a Metrics,
    done: AtomicU64,
    fallbacks: AtomicU64,
}

impl<'a> RowProgress<'a> {
    fn start(sink: &'a dyn ProgressSink, total: u64, metrics: &'a Metrics) -> Self {
        sink.on_start(Some(total));
        Self {
            sink,
            total,
            metrics,
            done: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        }
    }

    fn finish(&self, rows_done: u64, fallbacks: u64) {
        self.sink.on_finish(&Progress {
            rows_done,
            rows_total: Some(self.total),
            fallbacks,
            metrics: self.metrics.snapshot(),
        });
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

/// Checks before any provider call: the service context; warnings for missing keys.
/// Returns what the plan needs from the options and the run's templates.
fn prepare(enricher: &Enricher, options: &EnrichOptions) -> Result<PlanRequest> {
    enricher.config().service.validate()?;
    for warning in enricher.missing_key_warnings() {
        tracing::warn!("{warning}");
    }
    Ok(PlanRequest {
        email_column: options.email_column.clone(),
        columns: options.columns.clone(),
        output_columns: options.output_columns.clone(),
        limit: options.limit,
        drafts: enricher.config().campaign.drafts.clone(),
        count_suppressed: None,
    })
}

/// Enrich `input` into `output`, streaming (memory bounded by the chunks in flight).
pub async fn enrich_file(
    enricher: &Enricher,
    input: &Path,
    output: &Path,
    options: &EnrichOptions,
    progress: &dyn ProgressSink,
) -> Result<RunSummary> {
    let started = Instant::now();
    let request = prepare(enricher, options)?;
    let format = options
        .format
        .or_else(|| OutputFormat::from_path(output))
        .unwrap_or_default();
    let (plan, opened) = Plan::open(input.to_path_buf(), request).await?;
    let writer =
        WriterThread::create(output.to_path_buf(), format, plan.layout.headers().to_vec()).await?;
    let rows_progress = RowProgress::start(progress, plan.rows, enricher.metrics());
    let processor = Processor::new(
        enricher,
        &plan.headers,
        &plan.columns,
        options.concurrency,
        options.chunk_size,
        &rows_progress,
    );
    let mut source = FileChunks::spawn(opened, options.chunk_size, options.limit);
    let mut sink = WriterSink::new(&plan.layout, writer);
    let run = run_chunks(&mut source, &processor, &mut sink).await;
    let read = source.finish().await;
    let (tally, ragged_rows) = match run.and_then(|tally| read.map(|ragged| (tally, ragged))) {
        Ok(done) => done,
        Err(e) => {
            sink.abandon().await;
            return Err(e);
        }
    };
    let report = sink.finish().await?;
    let summary = tally.summary(
        plan.email_column(),
        report.truncated_cells,
        ragged_rows,
        enricher.metrics().snapshot(),
        started.elapsed().as_secs_f64(),
    );
    rows_progress.finish(summary.rows, summary.fallbacks);
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
    let request = prepare(enricher, options)?;
    if let Some(drafts) = &request.drafts {
        drafts.check(headers)?;
    }
    let mut rows = rows;
    if let Some(limit) = options.limit {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    let total = rows.len() as u64;
    let rows_progress = RowProgress::start(progress, total, enricher.metrics());
    let processor = Processor::new(
        enricher,
        headers,
        columns,
        options.concurrency,
        options.chunk_size,
        &rows_progress,
    );
    // Only outcomes are kept: the layout projects nothing here.
    let layout = OutputLayout::new(&[], None)?;
    let mut sink = Collector::new(&layout, false, None);
    let mut source = MemoryChunks::new(rows, options.chunk_size);
    let tally = run_chunks(&mut source, &processor, &mut sink).await?;
    rows_progress.finish(tally.rows, tally.fallbacks());
    Ok(sink.outcomes)
}

/// A run over a table: the output headers, the outcomes or projected rows, the summary.
#[derive(Debug, Clone)]
pub struct TableRun {
    /// The output columns.
    pub headers: Vec<String>,
    /// One per processed row, in input order.
    pub outcomes: Vec<RowOutcome>,
    /// The output rows, when asked for.
    pub rows: Option<Vec<Vec<String>>>,
    pub summary: RunSummary,
}

/// Where a table run goes besides memory.
#[derive(Debug, Clone)]
pub struct TableOutput {
    /// Also write the output rows to this file.
    pub path: Option<PathBuf>,
    pub format: OutputFormat,
    /// Return the projected output rows (else only outcomes).
    pub keep_rows: bool,
}

/// Enrich rows held in memory under `headers`, optionally writing the output file too
/// (opened before any provider call, so a bad path fails at once).
pub async fn enrich_table(
    enricher: &Enricher,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    options: &EnrichOptions,
    output: TableOutput,
    progress: &dyn ProgressSink,
) -> Result<TableRun> {
    let request = prepare(enricher, options)?;
    let plan = Plan::for_rows(&headers, &rows, &request)?;
    let mut rows = rows;
    rows.truncate(usize::try_from(plan.rows).unwrap_or(usize::MAX));
    let mut source = MemoryChunks::new(rows, options.chunk_size);
    run_table_from(enricher, &plan, &mut source, options, output, progress).await
}

/// Enrich a file into memory (and optionally a file): the rows are read in chunks as
/// the run goes, the outcomes kept.
pub async fn enrich_file_to_memory(
    enricher: &Enricher,
    input: &Path,
    options: &EnrichOptions,
    output: TableOutput,
    progress: &dyn ProgressSink,
) -> Result<TableRun> {
    let request = prepare(enricher, options)?;
    let (plan, opened) = Plan::open(input.to_path_buf(), request).await?;
    let mut source = FileChunks::spawn(opened, options.chunk_size, options.limit);
    let run = run_table_from(enricher, &plan, &mut source, options, output, progress).await;
    let ragged = source.finish().await;
    let mut run = run?;
    run.summary.ragged_rows = ragged?;
    Ok(run)
}

async fn run_table_from(
    enricher: &Enricher,
    plan: &Plan,
    source: &mut dyn ChunkSource,
    options: &EnrichOptions,
    output: TableOutput,
    progress: &dyn ProgressSink,
) -> Result<TableRun> {
    let started = Instant::now();
    let writer = match output.path {
        Some(path) => {
            Some(WriterThread::create(path, output.format, plan.layout.headers().to_vec()).await?)
        }
        None => None,
    };
    let rows_progress = RowProgress::start(progress, plan.rows, enricher.metrics());
    let processor = Processor::new(
        enricher,
        &plan.headers,
        &plan.columns,
        options.concurrency,
        options.chunk_size,
        &rows_progress,
    );
    let mut sink = Collector::new(&plan.layout, output.keep_rows, writer);
    let tally = match run_chunks(source, &processor, &mut sink).await {
        Ok(tally) => tally,
        Err(e) => {
            sink.abandon_output().await;
            return Err(e);
        }
    };
    let truncated = sink.finish_output().await?;
    let summary = tally.summary(
        plan.email_column(),
        truncated,
        0,
        enricher.metrics().snapshot(),
        started.elapsed().as_secs_f64(),
    );
    rows_progress.finish(summary.rows, summary.fallbacks);
    Ok(TableRun {
        headers: plan.layout.headers().to_vec(),
        outcomes: sink.outcomes,
        rows: sink.rows,
        summary,
    })
}
