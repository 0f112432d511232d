//! Writing enriched rows as XLSX or CSV, safely.
//!
//! A run's output is the input list with three new columns, [`RESEARCH_COLUMN`],
//! [`PERSONALIZED_COLUMN`] and [`STATUS_COLUMN`] ([`SOURCES_COLUMN`] on request); [`OutputLayout`] decides which columns go out and in what
//! order, and a [`RowWriter`] from [`create_writer`] writes the rows, in input order.
//!
//! # Safety rules every writer keeps
//!
//! Cells come from untrusted input and from LLM text, so each one is cleaned on the way out
//! (see [`sanitize`]):
//! - **CSV**: a cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading
//!   `'` so a spreadsheet shows it as text (OWASP CSV-injection advice). This applies to
//!   every cell, headers and input columns included; it means a value such as `-5` reads
//!   `'-5`. Quoting follows RFC 4180 with CRLF line ends; UTF-8, with an optional BOM.
//! - **XLSX**: every cell is written as a string, never a formula; characters XML 1.0
//!   forbids (C0 controls other than tab, newline and CR) are removed.
//! - **Both**: a cell longer than Excel's 32,767-character limit is cut and ends with
//!   [`sanitize::TRUNCATION_MARKER`]; [`WriteReport::truncated_cells`] counts them.
//!
//! # Memory
//!
//! Constant in the number of rows: CSV streams through a buffer; XLSX uses
//! `rust_xlsxwriter`'s constant-memory mode (rows go to a temporary file, the zip is
//! streamed out at the end).
//!
//! # Files
//!
//! [`create_writer`] writes to a hidden partial file beside the destination and renames it
//! into place in [`RowWriter::finish`]: a failed or abandoned run leaves no half-written
//! result behind, and a missing directory is reported before any row is written.

mod csv_writer;
mod file;
mod format;
mod layout;
pub mod sanitize;
mod xlsx_writer;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use csv_writer::CsvRowWriter;
pub use format::OutputFormat;
pub use layout::OutputLayout;
pub use xlsx_writer::XlsxRowWriter;

use crate::Error;

/// The output column holding the research JSON.
pub const RESEARCH_COLUMN: &str = "sif_research";
/// The output column holding the personalized opening line.
pub const PERSONALIZED_COLUMN: &str = "sif_personalized";
/// The output column saying why the row holds what it holds (`enriched`, `no_signal`, …).
pub const STATUS_COLUMN: &str = "sif_status";
/// The optional output column with the evidence URLs, one per line.
pub const SOURCES_COLUMN: &str = "sif_sources";

/// What a finished writer wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteReport {
    /// Data rows written (the header row not included).
    pub rows: u64,
    /// Cells (headers included) cut to Excel's cell limit.
    pub truncated_cells: u64,
}

/// How writers behave where there is a choice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WriterOptions {
    /// Start a CSV with a UTF-8 byte-order mark, so Excel opens it as UTF-8 rather than in
    /// the locale's legacy code page. Off by default: other tools may keep the BOM as part
    /// of the first header.
    pub csv_bom: bool,
    /// Where XLSX writing keeps its temporary sheet data. When `None`: the output file's
    /// directory for [`create_writer`], the system temp directory for [`create_writer_to`].
    pub temp_dir: Option<PathBuf>,
}

/// A sink of output rows, written in order. `Send` so it can live in a blocking task.
///
/// # Contract
///
/// - Every row has exactly as many cells as the headers the writer was created with;
///   another count is an `Error::Output` and writes nothing.
/// - Nothing is complete until [`RowWriter::finish`] returns `Ok`; dropping a writer
///   abandons the output (a path-based writer removes its partial file).
/// - After an error the writer may refuse further rows; start again rather than continue.
pub trait RowWriter: Send {
    /// Writes one row after the previous ones.
    fn write_row(&mut self, cells: &[String]) -> crate::Result<()>;
    /// Completes the output and reports what was written.
    fn finish(self: Box<Self>) -> crate::Result<WriteReport>;
}

/// Creates a writer for `path` in `format`, writing `headers` first.
///
/// The file appears at `path` only when [`RowWriter::finish`] succeeds (replacing any file
/// there). Errors at once, before any row, when the directory does not exist, `path` is a
/// directory, or the directory is not writable.
pub fn create_writer(
    path: &Path,
    format: OutputFormat,
    headers: &[String],
) -> crate::Result<Box<dyn RowWriter>> {
    create_writer_with(path, format, headers, &WriterOptions::default())
}

/// [`create_writer`] with options.
pub fn create_writer_with(
    path: &Path,
    format: OutputFormat,
    headers: &[String],
    options: &WriterOptions,
) -> crate::Result<Box<dyn RowWriter>> {
    Ok(Box::new(file::FileRowWriter::create(
        path, format, headers, options,
    )?))
}

/// Creates a writer onto any destination, writing `headers` first.
///
/// CSV streams to `destination` as rows arrive. XLSX keeps its sheet data in a temporary
/// file (see [`WriterOptions::temp_dir`]) and writes the workbook to `destination` in
/// [`RowWriter::finish`]. To get a `Vec<u8>` back, use [`CsvRowWriter`] or
/// [`XlsxRowWriter`] directly and their `into_inner`.
pub fn create_writer_to(
    destination: Box<dyn Write + Send>,
    format: OutputFormat,
    headers: &[String],
) -> crate::Result<Box<dyn RowWriter>> {
    create_writer_to_with(destination, format, headers, &WriterOptions::default())
}

/// [`create_writer_to`] with options.
pub fn create_writer_to_with(
    destination: Box<dyn Write + Send>,
    format: OutputFormat,
    headers: &[String],
    options: &WriterOptions,
) -> crate::Result<Box<dyn RowWriter>> {
    Ok(match format {
        OutputFormat::Csv => Box::new(CsvRowWriter::new(destination, headers, options)?),
        OutputFormat::Xlsx => Box::new(XlsxRowWriter::new(destination, headers, options)?),
    })
}

/// Rejects a row whose cell count differs from the header's: a layout bug that would
/// shift values under the wrong headers.
fn check_width(cells: &[String], columns: usize, rows_written: u64) -> crate::Result<()> {
    if cells.len() == columns {
        return Ok(());
    }
    Err(Error::Output(format!(
        "data row {} has {} cells but the output has {columns} columns",
        rows_written + 1,
        cells.len()
    )))
}
