//! Rows of a delimited text file, streamed with one reused record buffer.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;

use csv::{ByteRecord, ReaderBuilder};

use super::cancel::Cancel;
use super::delimiter::sniff_delimiter;
use super::encoding::{
    decode_field, detect, prefix_text, DecodeReader, Detected, FieldDecoding, PREFIX_LEN,
};
use super::limits::MAX_ROW_BYTES;
use crate::error::{Error, InputError, Result};

/// A CSV source positioned on non-blank records only.
pub(crate) struct CsvRows {
    reader: csv::Reader<Box<dyn Read + Send>>,
    record: ByteRecord,
    decoding: FieldDecoding,
    mixed_warned: bool,
}

impl std::fmt::Debug for CsvRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvRows")
            .field("decoding", &self.decoding)
            .field("position", &self.record.position())
            .finish_non_exhaustive()
    }
}

impl CsvRows {
    /// Opens `path`, choosing encoding and delimiter from its first [`PREFIX_LEN`] bytes.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path)?;
        let prefix = read_prefix(&mut file)?;
        if prefix.is_empty() {
            return Err(InputError::Empty.into());
        }
        let is_whole_file = prefix.len() < PREFIX_LEN;
        let detected = detect(&prefix, is_whole_file);
        let delimiter = sniff_delimiter(&prefix_text(&prefix, detected), !is_whole_file);
        tracing::debug!(
            path = %path.display(),
            encoding = ?detected,
            delimiter = %char::from(delimiter).escape_default(),
            "reading CSV"
        );

        // The prefix was consumed from the file; put it back in front (minus any BOM).
        let bom_len = match detected {
            Detected::Utf8 { bom_len } | Detected::Utf16 { bom_len, .. } => bom_len,
            Detected::Windows1252 => 0,
        };
        let mut head = Cursor::new(prefix);
        head.set_position(bom_len as u64);
        let body = head.chain(file);
        let (source, decoding): (Box<dyn Read + Send>, FieldDecoding) = match detected {
            Detected::Utf8 { .. } => (Box::new(body), FieldDecoding::Utf8),
            Detected::Windows1252 => (Box::new(body), FieldDecoding::Windows1252),
            Detected::Utf16 { encoding, .. } => (
                Box::new(DecodeReader::new(body, encoding)),
                FieldDecoding::Utf8,
            ),
        };

        let reader = ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(source);
        Ok(CsvRows {
            reader,
            record: ByteRecord::new(),
            decoding,
            mixed_warned: false,
        })
    }

    /// Moves to the next record that has any non-blank field. `false` at end of file.
    /// The csv crate already skips empty lines; rows of bare delimiters (`,,,`) are
    /// skipped here.
    pub(crate) fn advance(&mut self) -> Result<bool> {
        loop {
            if !self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(csv_error)?
            {
                return Ok(false);
            }
            if self.record.as_slice().len() > MAX_ROW_BYTES {
                return Err(InputError::BadRow {
                    row: self.record.position().map_or(0, csv::Position::line),
                    message: format!("the row is longer than {MAX_ROW_BYTES} bytes"),
                }
                .into());
            }
            if self.record.iter().any(|f| !f.trim_ascii().is_empty()) {
                return Ok(true);
            }
        }
    }

    /// The current record as text.
    pub(crate) fn fields(&mut self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.record.len());
        for field in self.record.iter() {
            let (text, surprise) = decode_field(field, self.decoding);
            if surprise && !self.mixed_warned {
                self.mixed_warned = true;
                tracing::warn!(
                    line = self.record.position().map(csv::Position::line),
                    expected = ?self.decoding,
                    "the file mixes UTF-8 and Windows-1252; each field is decoded as \
                     whichever it is (logged once per file)"
                );
            }
            out.push(text);
        }
        out
    }

    /// Counts the remaining non-blank records without decoding them.
    pub(crate) fn count_remaining(&mut self, cancel: &Cancel) -> Result<u64> {
        let mut n = 0u64;
        while self.advance()? {
            n += 1;
            if n.is_multiple_of(1024) {
                cancel.check()?;
            }
        }
        Ok(n)
    }
}

/// Reads up to [`PREFIX_LEN`] bytes; fewer only at end of file.
fn read_prefix(file: &mut File) -> Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(PREFIX_LEN);
    file.by_ref()
        .take(PREFIX_LEN as u64)
        .read_to_end(&mut prefix)?;
    Ok(prefix)
}

/// I/O failures stay I/O errors (the caller may retry); the rest is a bad file.
fn csv_error(e: csv::Error) -> Error {
    if e.is_io_error() {
        if let csv::ErrorKind::Io(io) = e.into_kind() {
            return Error::Io(io);
        }
        return InputError::Csv("I/O error".into()).into();
    }
    InputError::Csv(e.to_string()).into()
}
