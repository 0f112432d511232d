//! XLSX output through `rust_xlsxwriter` in constant-memory mode.
//!
//! Rows go to a temporary file as they arrive (the library flushes each row when the next
//! one starts), and [`XlsxRowWriter::into_inner`] streams the finished zip to the
//! destination, so memory stays flat however many rows there are. Every cell is written
//! with `write_string`: a cell reading `=1+1` is the text `=1+1`, never a formula. Text is
//! cleaned of characters XML 1.0 forbids and cut to Excel's cell limit.
//!
//! `rust_xlsxwriter` panics (`expect`) when writing its temporary sheet file fails, e.g.
//! on a full disk. Each call into it is therefore made under `catch_unwind` and a panic
//! becomes `Error::Output`; after one, the writer refuses further work rather than
//! emit a workbook in an unknown state.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::sanitize::CellCleaner;
use super::{check_width, RowWriter, WriteReport, WriterOptions};
use crate::Error;

/// Excel's sheet size: 1,048,576 rows (one is the header) and 16,384 columns.
const MAX_DATA_ROWS: u64 = 1_048_575;
const MAX_COLUMNS: usize = 16_384;

/// Writes rows as a one-sheet XLSX workbook to any [`Write`]. Nothing reaches the
/// destination before [`XlsxRowWriter::into_inner`] / [`RowWriter::finish`].
pub struct XlsxRowWriter<W: Write + Send> {
    workbook: Workbook,
    destination: W,
    columns: usize,
    cleaner: CellCleaner,
    rows: u64,
    /// Set when a call into the library panicked or failed half-way through a row.
    broken: bool,
}

impl<W: Write + Send> std::fmt::Debug for XlsxRowWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XlsxRowWriter")
            .field("columns", &self.columns)
            .field("rows", &self.rows)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> XlsxRowWriter<W> {
    /// Starts a workbook whose sheet data is kept in `temp_dir` (the system temp directory
    /// when `None`) and writes the bold, frozen header row.
    pub fn new(destination: W, headers: &[String], options: &WriterOptions) -> crate::Result<Self> {
        if headers.is_empty() {
            return Err(Error::Output("the output has no columns".to_string()));
        }
        if headers.len() > MAX_COLUMNS {
            return Err(Error::Output(format!(
                "the output has {} columns but an XLSX sheet holds at most {MAX_COLUMNS}; write CSV instead",
                headers.len()
            )));
        }
        let workbook = guard(|| new_workbook(options.temp_dir.as_deref()))?;
        let mut this = XlsxRowWriter {
            workbook,
            destination,
            columns: headers.len(),
            cleaner: CellCleaner::default(),
            rows: 0,
            broken: false,
        };
        let bold = Format::new().set_bold();
        this.write_cells(0, headers, Some(&bold))?;
        Ok(this)
    }

    fn write_cells(
        &mut self,
        row: u32,
        cells: &[String],
        format: Option<&Format>,
    ) -> crate::Result<()> {
        if self.broken {
            return Err(Error::Output(
                "the XLSX writer failed earlier and cannot continue".to_string(),
            ));
        }
        let cleaner = &mut self.cleaner;
        let workbook = &mut self.workbook;
        let result = guard(|| {
            let sheet = workbook.worksheet_from_index(0)?;
            for (col, cell) in (0u16..).zip(cells) {
                let text = cleaner.xlsx(cell).into_owned();
                match format {
                    Some(format) => sheet.write_string_with_format(row, col, text, format)?,
                    None => sheet.write_string(row, col, text)?,
                };
            }
            Ok(())
        });
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// Writes the workbook to the destination and returns it with the report.
    pub fn into_inner(mut self) -> crate::Result<(WriteReport, W)> {
        if self.broken {
            return Err(Error::Output(
                "the XLSX writer failed earlier; the workbook was not written".to_string(),
            ));
        }
        let workbook = &mut self.workbook;
        let destination = &mut self.destination;
        guard(|| workbook.save_to_writer(&mut *destination))?;
        let report = WriteReport {
            rows: self.rows,
            truncated_cells: self.cleaner.truncated_cells,
        };
        Ok((report, self.destination))
    }
}

impl<W: Write + Send> RowWriter for XlsxRowWriter<W> {
    fn write_row(&mut self, cells: &[String]) -> crate::Result<()> {
        check_width(cells, self.columns, self.rows)?;
        if self.rows >= MAX_DATA_ROWS {
            return Err(Error::Output(format!(
                "an XLSX sheet holds at most {MAX_DATA_ROWS} data rows; write CSV instead"
            )));
        }
        // Fits: `rows` < MAX_DATA_ROWS < u32::MAX.
        let row = u32::try_from(self.rows + 1)
            .map_err(|_| Error::Output("row number out of range".to_string()))?;
        self.write_cells(row, cells, None)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(self: Box<Self>) -> crate::Result<WriteReport> {
        let (report, mut destination) = self.into_inner()?;
        destination.flush()?;
        Ok(report)
    }
}

fn new_workbook(temp_dir: Option<&Path>) -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    if let Some(dir) = temp_dir {
        workbook.set_tempdir(dir)?;
    }
    let sheet: &mut Worksheet = workbook.add_worksheet_with_constant_memory()?;
    sheet.set_freeze_panes(1, 0)?;
    Ok(workbook)
}

/// Runs one call into `rust_xlsxwriter`, turning its errors and its panics into ours.
fn guard<T>(f: impl FnOnce() -> Result<T, XlsxError>) -> crate::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(xlsx_error(error)),
        Err(payload) => {
            let reason = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "internal error".to_string());
            Err(Error::Output(format!("the XLSX writer failed: {reason}")))
        }
    }
}

fn xlsx_error(error: XlsxError) -> Error {
    match error {
        XlsxError::IoError(io) => Error::Io(io),
        XlsxError::TempFileError(dir, io) => Error::Output(format!(
            "cannot create a temporary file in `{}`: {io}",
            dir.display()
        )),
        other => Error::Output(format!("could not write the XLSX: {other}")),
    }
}
