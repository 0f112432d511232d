//! CSV output: UTF-8, RFC 4180 quoting (CRLF line ends), every cell formula-neutralised and
//! cut to Excel's cell limit, because a CSV is usually opened in a spreadsheet.

use std::borrow::Cow;
use std::io::Write;

use super::sanitize::CellCleaner;
use super::{check_width, RowWriter, WriteReport, WriterOptions};
use crate::Error;

/// The UTF-8 byte-order mark; with it, Excel opens a CSV as UTF-8 instead of the locale's
/// legacy code page.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes rows as CSV to any [`Write`]. Use [`CsvRowWriter::into_inner`] to get the
/// destination back (e.g. a `Vec<u8>`), or [`RowWriter::finish`] through a `Box`.
pub struct CsvRowWriter<W: Write> {
    writer: csv::Writer<W>,
    columns: usize,
    cleaner: CellCleaner,
    rows: u64,
}

impl<W: Write> std::fmt::Debug for CsvRowWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvRowWriter")
            .field("columns", &self.columns)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl<W: Write> CsvRowWriter<W> {
    /// Starts a CSV on `destination`: the BOM if `options.csv_bom`, then the header row.
    pub fn new(
        mut destination: W,
        headers: &[String],
        options: &WriterOptions,
    ) -> crate::Result<Self> {
        if headers.is_empty() {
            return Err(Error::Output("the output has no columns".to_string()));
        }
        if options.csv_bom {
            destination.write_all(UTF8_BOM)?;
        }
        let writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(destination);
        let mut this = CsvRowWriter {
            writer,
            columns: headers.len(),
            cleaner: CellCleaner::default(),
            rows: 0,
        };
        this.write_record(headers)?;
        Ok(this)
    }

    fn write_record(&mut self, cells: &[String]) -> crate::Result<()> {
        let cleaner = &mut self.cleaner;
        let record: Vec<Cow<'_, str>> = cells.iter().map(|cell| cleaner.csv(cell)).collect();
        self.writer
            .write_record(record.iter().map(|cell| cell.as_bytes()))
            .map_err(csv_error)
    }

    /// Flushes and returns what was written so far and the destination.
    pub fn into_inner(self) -> crate::Result<(WriteReport, W)> {
        let report = WriteReport {
            rows: self.rows,
            truncated_cells: self.cleaner.truncated_cells,
        };
        let destination = self
            .writer
            .into_inner()
            .map_err(|e| Error::Io(e.into_error()))?;
        Ok((report, destination))
    }
}

impl<W: Write + Send> RowWriter for CsvRowWriter<W> {
    fn write_row(&mut self, cells: &[String]) -> crate::Result<()> {
        check_width(cells, self.columns, self.rows)?;
        self.write_record(cells)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(self: Box<Self>) -> crate::Result<WriteReport> {
        let (report, mut destination) = self.into_inner()?;
        destination.flush()?;
        Ok(report)
    }
}

fn csv_error(error: csv::Error) -> Error {
    if !error.is_io_error() {
        return Error::Output(format!("could not write the CSV: {error}"));
    }
    match error.into_kind() {
        csv::ErrorKind::Io(io) => Error::Io(io),
        other => Error::Output(format!("could not write the CSV: {other:?}")),
    }
}
