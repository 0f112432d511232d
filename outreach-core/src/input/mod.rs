//! Reading prospect files (CSV or XLSX) as a stream of rows.
//!
//! Input is untrusted and may be large, so everything here streams: [`read_summary`]
//! counts a million rows without holding them, and [`RowReader`] yields one row at a time.
//! Every row is exactly as wide as the header, so later stages can index columns freely.
//!
//! - [`FileFormat`] picks the reader by extension.
//! - CSV: encoding (UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252) and
//!   delimiter (`,` `;` tab `|`) are decided on the first 64 KiB, then the file is
//!   streamed (`encoding`, `delimiter`, `csv_rows`).
//! - XLSX: the first worksheet holding data is streamed cell by cell on a helper thread
//!   (`xlsx_rows`), cells rendered as Excel shows them (`cell_text`).
//! - Header names are cleaned by [`unique_headers`]; rows are padded or cut to the header
//!   width (`row_shape`); [`guess_email_column`] / [`resolve_email_column`] find the
//!   address column.
//!
//! Blank rows are skipped everywhere; the first non-blank row is the header.
//!
//! Hostile files are bounded ([`limits`]): columns, header and row bytes, XLSX cell
//! length, and XLSX decompression (`zip_check`, before calamine opens the file). Every
//! loop checks a [`Cancel`] flag, so a caller that gives up stops the work.

mod cancel;
mod cell_text;
mod column_roles;
mod csv_rows;
mod delimiter;
mod email_column;
mod encoding;
mod format;
mod gate;
mod headers;
pub mod limits;
mod row_shape;
mod xlsx_rows;
mod zip_check;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use cancel::{Cancel, CancelOnDrop};
pub use column_roles::{ColumnOverrides, ColumnRole, ColumnRoles, ProspectColumns};
pub use email_column::{guess_email_column, resolve_email_column, EMAIL_SAMPLE_ROWS};
pub use format::FileFormat;
pub use gate::{ParseGate, ParsePermit};
pub use headers::unique_headers;

use csv_rows::CsvRows;
use row_shape::RowShaper;
use xlsx_rows::XlsxRows;

use crate::error::{InputError, Result};

/// What the upload step shows before a run: columns, how many rows will cost credits,
/// and which column looks like the email address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InputSummary {
    pub headers: Vec<String>,
    /// Data rows (non-blank rows after the header).
    pub rows: u64,
    /// The guessed email column's header, if any column is convincing.
    pub email_column: Option<String>,
}

/// Headers, data-row count and email-column guess, in bounded memory (streams the file).
///
/// A file with a header but no data rows is an error ([`InputError::HeaderOnly`]):
/// there is nothing a caller could run.
pub fn read_summary(path: &Path) -> Result<InputSummary> {
    read_summary_cancellable(path, &Cancel::new())
}

/// [`read_summary`] that stops with [`crate::Error::Cancelled`] soon after `cancel` is set.
pub fn read_summary_cancellable(path: &Path, cancel: &Cancel) -> Result<InputSummary> {
    let mut reader = RowReader::open_cancellable(path, cancel.clone())?;
    let mut sample = Vec::with_capacity(EMAIL_SAMPLE_ROWS);
    while sample.len() < EMAIL_SAMPLE_ROWS {
        match reader.next() {
            Some(row) => sample.push(row?),
            None => break,
        }
    }
    let rows = sample.len() as u64 + reader.count_remaining()?;
    let email_column =
        guess_email_column(&reader.headers, &sample).and_then(|i| reader.headers.get(i).cloned());
    Ok(InputSummary {
        headers: reader.headers,
        rows,
        email_column,
    })
}

enum Source {
    Csv(CsvRows),
    Xlsx(XlsxRows),
}

/// A streaming reader of data rows. Every row has exactly `headers().len()` cells.
///
/// `open` reads the header and the first data row, so an unusable file fails there
/// rather than on the first `next()`. After an `Err` item the iterator ends.
/// The reader is `Send + 'static`: it can move into a blocking task or a worker thread.
pub struct RowReader {
    headers: Vec<String>,
    source: Source,
    shaper: RowShaper,
    /// The first data row, read by `open` to detect header-only files.
    pending: Option<Vec<String>>,
    done: bool,
    cancel: Cancel,
}

impl std::fmt::Debug for RowReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowReader")
            .field("headers", &self.headers)
            .field("ragged_rows", &self.shaper.ragged())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl RowReader {
    /// Opens a CSV or XLSX file (by extension) and reads its header row.
    ///
    /// Errors: [`InputError::UnsupportedExtension`], [`InputError::Empty`] (0 bytes),
    /// [`InputError::NoHeader`] (a text file with only blank lines),
    /// [`InputError::NoData`] (a workbook whose sheets are all empty),
    /// [`InputError::HeaderOnly`], [`InputError::CorruptXlsx`], [`InputError::Csv`], the
    /// [`limits`] errors ([`InputError::TooManyColumns`], [`InputError::HeaderTooLong`],
    /// [`InputError::BadRow`], [`InputError::InflatesTooMuch`],
    /// [`InputError::SuspiciousCompression`]), and I/O errors.
    pub fn open(path: &Path) -> Result<RowReader> {
        Self::open_cancellable(path, Cancel::new())
    }

    /// [`RowReader::open`] whose reading stops with [`crate::Error::Cancelled`] soon after
    /// `cancel` is set (checked per row, per XLSX cell and per inflated block).
    pub fn open_cancellable(path: &Path, cancel: Cancel) -> Result<RowReader> {
        let (source, raw_headers, short_is_ragged) = match FileFormat::from_path(path)? {
            FileFormat::Csv => {
                let mut csv = CsvRows::open(path)?;
                if !csv.advance()? {
                    return Err(InputError::NoHeader.into());
                }
                let raw = csv.fields();
                (Source::Csv(csv), raw, true)
            }
            FileFormat::Xlsx => {
                let (xlsx, raw) = XlsxRows::open(path, &cancel)?;
                (Source::Xlsx(xlsx), raw, false)
            }
        };
        check_header(&raw_headers)?;
        cancel.check()?;
        let headers = unique_headers(raw_headers);
        let mut reader = RowReader {
            shaper: RowShaper::new(headers.len(), short_is_ragged),
            headers,
            source,
            pending: None,
            done: false,
            cancel,
        };
        match reader.next_shaped()? {
            Some(row) => reader.pending = Some(row),
            None => return Err(InputError::HeaderOnly.into()),
        }
        Ok(reader)
    }

    /// The cleaned header names (see [`unique_headers`]).
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Rows seen so far whose width differed from the header: rows with non-empty values
    /// past the last header column (those values are dropped), and, in CSV, rows with
    /// fewer cells (padded with `""`). Trailing empty cells do not count, and neither do
    /// XLSX rows that simply end early (spreadsheets store no empty cells).
    pub fn ragged_rows(&self) -> u64 {
        self.shaper.ragged()
    }

    fn next_shaped(&mut self) -> Result<Option<Vec<String>>> {
        self.cancel.check()?;
        let RowReader { source, shaper, .. } = self;
        match source {
            Source::Csv(csv) => Ok(if csv.advance()? {
                Some(shaper.shape(csv.fields(), false))
            } else {
                None
            }),
            Source::Xlsx(xlsx) => Ok(xlsx
                .next_row(|| shaper.lost_row())?
                .map(|(cells, dropped_beyond)| shaper.shape(cells, dropped_beyond))),
        }
    }

    /// Counts the rows not yet yielded and consumes them. CSV rows are counted without
    /// being decoded (and without updating `ragged_rows`).
    pub(crate) fn count_remaining(&mut self) -> Result<u64> {
        let mut n = u64::from(self.pending.take().is_some());
        if self.done {
            return Ok(n);
        }
        self.done = true;
        match &mut self.source {
            Source::Csv(csv) => n += csv.count_remaining(&self.cancel)?,
            Source::Xlsx(_) => {
                while self.next_shaped()?.is_some() {
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

/// The header's bounds: column count, then total bytes (before any per-name work).
fn check_header(raw: &[String]) -> Result<()> {
    if raw.len() > limits::MAX_COLUMNS {
        return Err(InputError::TooManyColumns {
            columns: raw.len(),
            limit: limits::MAX_COLUMNS,
        }
        .into());
    }
    let bytes: usize = raw.iter().map(String::len).sum();
    if bytes > limits::MAX_HEADER_BYTES {
        return Err(InputError::HeaderTooLong {
            limit: limits::MAX_HEADER_BYTES,
        }
        .into());
    }
    Ok(())
}

impl Iterator for RowReader {
    type Item = Result<Vec<String>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(row) = self.pending.take() {
            return Some(Ok(row));
        }
        if self.done {
            return None;
        }
        match self.next_shaped() {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_reader_is_send_and_static() {
        fn assert_send_static<T: Send + 'static>() {}
        assert_send_static::<RowReader>();
        assert_send_static::<InputSummary>();
    }
}
