//! Rows of the first non-empty worksheet of an XLSX workbook, streamed.
//!
//! calamine's cell reader borrows the workbook, so it cannot live in a struct next to it.
//! A dedicated thread owns both and sends finished rows through a bounded channel:
//! the reader is `Send + 'static`, memory stays at most [`CHANNEL_ROWS`] rows (plus the
//! shared-string table calamine loads at open), and dropping the reader stops the thread
//! at its next send.
//!
//! Cells are placed by their column index, so sparse rows and merged ranges (whose value
//! sits in the top-left cell only) never shift values into the wrong column.
//!
//! Before calamine opens the file, `zip_check` refuses decompression bombs; while
//! reading, cells over [`MAX_CELL_CHARS`] and rows over [`MAX_ROW_BYTES`] fail the file,
//! and the cancel flag is checked at every cell.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use calamine::{DataRef, Reader, Xlsx, XlsxError};

use super::cancel::Cancel;
use super::cell_text::render;
use super::limits::{MAX_CELL_CHARS, MAX_COLUMNS, MAX_ROW_BYTES};
use super::zip_check::check_workbook;
use crate::error::{Error, InputError, Result};

/// Rows buffered between the reading thread and the consumer.
const CHANNEL_ROWS: usize = 1024;

enum Msg {
    Header(Vec<String>),
    /// A data row cut to the header width; `dropped_beyond` marks non-empty cells cut off.
    Row {
        cells: Vec<String>,
        dropped_beyond: bool,
    },
    /// A data row whose only values lay beyond the header: nothing to yield, but counted.
    LostRow,
    End,
    Failed(InputError),
}

/// Why the reading thread stopped early.
enum Stop {
    ReceiverGone,
    Cancelled,
    Failed(InputError),
}

impl From<InputError> for Stop {
    fn from(e: InputError) -> Self {
        Stop::Failed(e)
    }
}

fn corrupt(e: XlsxError) -> InputError {
    InputError::CorruptXlsx(e.to_string())
}

fn vanished() -> InputError {
    InputError::CorruptXlsx("the workbook reader stopped unexpectedly".into())
}

/// The consumer side: receives rows produced by the reading thread.
#[derive(Debug)]
pub(crate) struct XlsxRows {
    rx: Receiver<Msg>,
    finished: bool,
    cancel: Cancel,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Header(h) => write!(f, "Header({} cells)", h.len()),
            Msg::Row { cells, .. } => write!(f, "Row({} cells)", cells.len()),
            Msg::LostRow => f.write_str("LostRow"),
            Msg::End => f.write_str("End"),
            Msg::Failed(e) => write!(f, "Failed({e})"),
        }
    }
}

impl XlsxRows {
    /// Opens the workbook and returns the source with the raw header cells (up to the
    /// last non-empty one).
    pub(crate) fn open(path: &Path, cancel: &Cancel) -> Result<(XlsxRows, Vec<String>)> {
        // Opened here, not in the thread, so a missing file is an I/O error to the caller.
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Err(InputError::Empty.into());
        }
        check_workbook(path, cancel)?;
        let (tx, rx) = sync_channel(CHANNEL_ROWS);
        // Logs from the thread stay inside the caller's span (job id, file name, …).
        let span = tracing::Span::current();
        let thread_cancel = cancel.clone();
        std::thread::Builder::new()
            .name("outreach-xlsx-rows".into())
            .spawn(move || span.in_scope(|| produce(file, &tx, &thread_cancel)))?;
        let mut rows = XlsxRows {
            rx,
            finished: false,
            cancel: cancel.clone(),
        };
        match rows.rx.recv() {
            Ok(Msg::Header(header)) => Ok((rows, header)),
            Ok(Msg::Failed(e)) => Err(e.into()),
            Ok(Msg::End) => Err(InputError::NoData.into()),
            Ok(Msg::Row { .. }) | Ok(Msg::LostRow) | Err(_) => {
                rows.finished = true;
                Err(rows.vanished())
            }
        }
    }

    /// The thread hung up without a last word: it was cancelled, or it died.
    fn vanished(&self) -> Error {
        if self.cancel.is_cancelled() {
            Error::Cancelled
        } else {
            vanished().into()
        }
    }

    /// The next data row and whether non-empty cells beyond the header were cut off.
    /// `on_lost_row` is called for rows that held values only beyond the header.
    pub(crate) fn next_row(
        &mut self,
        mut on_lost_row: impl FnMut(),
    ) -> Result<Option<(Vec<String>, bool)>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            match self.rx.recv() {
                Ok(Msg::LostRow) => on_lost_row(),
                other => return self.settle(other),
            }
        }
    }

    fn settle(
        &mut self,
        msg: std::result::Result<Msg, std::sync::mpsc::RecvError>,
    ) -> Result<Option<(Vec<String>, bool)>> {
        match msg {
            Ok(Msg::Row {
                cells,
                dropped_beyond,
            }) => Ok(Some((cells, dropped_beyond))),
            Ok(Msg::End) => {
                self.finished = true;
                Ok(None)
            }
            Ok(Msg::Failed(e)) => {
                self.finished = true;
                Err(e.into())
            }
            // A second header cannot happen; a hang-up without `End` means the thread died.
            Ok(Msg::Header(_)) | Ok(Msg::LostRow) | Err(_) => {
                self.finished = true;
                Err(self.vanished())
            }
        }
    }
}

/// Thread body: read, send, and always finish with `End` or `Failed` unless nobody listens.
fn produce(file: File, tx: &SyncSender<Msg>, cancel: &Cancel) {
    let last = match read_workbook(file, tx, cancel) {
        Ok(()) => Msg::End,
        Err(Stop::Failed(e)) => Msg::Failed(e),
        Err(Stop::ReceiverGone) | Err(Stop::Cancelled) => return,
    };
    // The receiver may be gone by now; nothing is left to clean up either way.
    let _ = tx.send(last);
}

fn read_workbook(
    file: File,
    tx: &SyncSender<Msg>,
    cancel: &Cancel,
) -> std::result::Result<(), Stop> {
    let mut workbook = Xlsx::new(BufReader::new(file)).map_err(corrupt)?;
    for name in workbook.sheet_names() {
        let mut cells = match workbook.worksheet_cells_reader(&name) {
            Ok(cells) => cells,
            // Chart sheets and the like hold no rows.
            Err(XlsxError::NotAWorksheet(kind)) => {
                tracing::debug!(sheet = %name, %kind, "skipping a sheet that is not a worksheet");
                continue;
            }
            Err(e) => return Err(corrupt(e).into()),
        };
        let mut rows = RowAssembler::default();
        while let Some(cell) = cells.next_cell().map_err(corrupt)? {
            if cancel.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            let (row, col) = cell.get_position();
            rows.put(row, col, cell.get_value(), tx)?;
        }
        rows.flush(tx)?;
        if rows.width.is_some() {
            tracing::debug!(sheet = %name, "read XLSX sheet");
            return Ok(());
        }
        tracing::debug!(sheet = %name, "skipping an empty sheet");
    }
    Err(InputError::NoData.into())
}

/// Collects the cells of one row at a time; the first row with content is the header and
/// fixes the width of all later rows.
#[derive(Default)]
struct RowAssembler {
    current: Option<u32>,
    cells: Vec<String>,
    /// Bytes of the cells kept in `cells`.
    bytes: usize,
    has_content: bool,
    dropped_beyond: bool,
    width: Option<usize>,
}

impl RowAssembler {
    fn put(
        &mut self,
        row: u32,
        col: u32,
        value: &DataRef<'_>,
        tx: &SyncSender<Msg>,
    ) -> std::result::Result<(), Stop> {
        if self.current != Some(row) {
            self.flush(tx)?;
            self.current = Some(row);
        }
        let text = render(value);
        if text.is_empty() {
            return Ok(());
        }
        if text.len() > MAX_CELL_CHARS && text.chars().count() > MAX_CELL_CHARS {
            return Err(too_long(
                row,
                format!("a cell is longer than {MAX_CELL_CHARS} characters"),
            ));
        }
        let blank = text.trim().is_empty();
        let col = col as usize;
        if col >= self.width.unwrap_or(MAX_COLUMNS) {
            self.dropped_beyond |= !blank;
            return Ok(());
        }
        self.bytes += text.len();
        if self.bytes > MAX_ROW_BYTES {
            return Err(too_long(
                row,
                format!("the row is longer than {MAX_ROW_BYTES} bytes"),
            ));
        }
        if self.cells.len() <= col {
            self.cells.resize(col + 1, String::new());
        }
        self.cells[col] = text;
        self.has_content |= !blank;
        Ok(())
    }

    fn flush(&mut self, tx: &SyncSender<Msg>) -> std::result::Result<(), Stop> {
        let mut cells = std::mem::take(&mut self.cells);
        self.bytes = 0;
        let has_content = std::mem::take(&mut self.has_content);
        let dropped_beyond = std::mem::take(&mut self.dropped_beyond);
        if !has_content {
            if dropped_beyond && self.width.is_some() {
                return tx.send(Msg::LostRow).map_err(|_| Stop::ReceiverGone);
            }
            // A blank row; or, before the header, cells past Excel's column limit.
            return Ok(());
        }
        let msg = match self.width {
            None => {
                // The header ends at its last non-blank cell: formatted-but-empty cells to
                // the right are not columns.
                let len = cells
                    .iter()
                    .rposition(|c| !c.trim().is_empty())
                    .map_or(0, |i| i + 1);
                cells.truncate(len);
                self.width = Some(len);
                Msg::Header(cells)
            }
            Some(_) => Msg::Row {
                cells,
                dropped_beyond,
            },
        };
        tx.send(msg).map_err(|_| Stop::ReceiverGone)
    }
}

/// A cell or row over its bound, in the sheet's 1-based row numbering.
fn too_long(row: u32, message: String) -> Stop {
    Stop::Failed(InputError::BadRow {
        row: u64::from(row) + 1,
        message,
    })
}
