//! Refusing XLSX decompression bombs before calamine opens the workbook.
//!
//! calamine inflates the shared-string table whole when it opens a workbook, and a cell
//! (an inline string, or a shared one repeated across a row) whole when it reads it.
//! A 1 MB file holding one 1 GB string took a server to 2.9 GB; 50 M tiny shared strings
//! to 2.7 GB. So before calamine sees the file, every part is checked twice:
//!
//! 1. the sizes the zip directory declares: their sum against
//!    [`MAX_XLSX_UNCOMPRESSED_BYTES`], and its ratio to the file's size against
//!    [`MAX_XLSX_RATIO`] (above [`RATIO_FLOOR_BYTES`]);
//! 2. the bytes each part actually inflates to, streamed through a 64 KiB buffer (so
//!    memory stays flat): a part larger than it declared is refused, and so is a
//!    shared-string table with more than [`MAX_SHARED_STRINGS`] entries.
//!
//! The second pass costs one extra inflate of at most 200 MB (well under a second in
//! release builds) and checks the cancel flag after every block.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use memchr::memmem;
use zip::ZipArchive;

use super::cancel::Cancel;
use super::limits::{
    MAX_SHARED_STRINGS, MAX_XLSX_RATIO, MAX_XLSX_UNCOMPRESSED_BYTES, RATIO_FLOOR_BYTES,
};
use crate::error::{InputError, Result};

fn corrupt(e: impl std::fmt::Display) -> InputError {
    InputError::CorruptXlsx(e.to_string())
}

/// Checks `path` (an XLSX file) against the bounds above. Errors:
/// [`InputError::InflatesTooMuch`] (too large once inflated),
/// [`InputError::SuspiciousCompression`] (ratio, lying sizes, too many strings),
/// [`InputError::CorruptXlsx`], [`crate::Error::Cancelled`].
pub(crate) fn check_workbook(path: &Path, cancel: &Cancel) -> Result<()> {
    let file = File::open(path)?;
    let compressed = file.metadata()?.len().max(1);
    let mut archive = ZipArchive::new(BufReader::new(file)).map_err(corrupt)?;

    let mut declared = 0u64;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(corrupt)?;
        declared = declared.saturating_add(entry.size());
    }
    check_totals(declared, compressed)?;

    let mut inflated = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        cancel.check()?;
        let mut entry = archive.by_index(i).map_err(corrupt)?;
        let name = entry.name().map_err(corrupt)?.into_owned();
        let declared_entry = entry.size();
        let mut strings = name
            .to_ascii_lowercase()
            .ends_with("sharedstrings.xml")
            .then(SharedStringCounter::default);
        let mut read = 0u64;
        loop {
            cancel.check()?;
            let n = match entry.read(&mut buf) {
                Ok(n) => n,
                // The zip crate itself stops a part at its declared size.
                Err(e) if e.to_string().contains("declared") => {
                    return Err(lying_part(&name, declared_entry, &e.to_string()).into())
                }
                Err(e) => return Err(corrupt(format!("{name}: {e}")).into()),
            };
            if n == 0 {
                break;
            }
            read += n as u64;
            inflated += n as u64;
            if read > declared_entry {
                return Err(lying_part(&name, declared_entry, "").into());
            }
            check_totals(inflated, compressed)?;
            if let Some(counter) = strings.as_mut() {
                if counter.feed(&buf[..n]) > MAX_SHARED_STRINGS {
                    return Err(InputError::SuspiciousCompression(format!(
                        "the workbook has more than {MAX_SHARED_STRINGS} distinct strings"
                    ))
                    .into());
                }
            }
        }
    }
    Ok(())
}

fn lying_part(name: &str, declared: u64, detail: &str) -> InputError {
    tracing::warn!(
        part = name,
        declared,
        detail,
        "XLSX part inflates beyond its declared size"
    );
    InputError::SuspiciousCompression(format!(
        "part `{name}` inflates to more than the {declared} bytes it declares"
    ))
}

fn check_totals(uncompressed: u64, compressed: u64) -> Result<(), InputError> {
    if uncompressed > MAX_XLSX_UNCOMPRESSED_BYTES {
        return Err(InputError::InflatesTooMuch {
            limit: MAX_XLSX_UNCOMPRESSED_BYTES,
        });
    }
    if uncompressed > RATIO_FLOOR_BYTES && uncompressed / compressed > MAX_XLSX_RATIO {
        return Err(InputError::SuspiciousCompression(format!(
            "the workbook inflates more than {MAX_XLSX_RATIO}:1"
        )));
    }
    Ok(())
}

/// Counts `<si>` / `<si …>` elements across buffer boundaries.
#[derive(Default)]
struct SharedStringCounter {
    /// The last bytes of the previous block: a tag may straddle two blocks.
    carry: Vec<u8>,
    count: u64,
}

impl SharedStringCounter {
    fn feed(&mut self, block: &[u8]) -> u64 {
        let mut window = std::mem::take(&mut self.carry);
        window.extend_from_slice(block);
        for start in memmem::find_iter(&window, b"<si") {
            // Counted only with the byte after `<si` in view; a match at the very end
            // is carried and counted with the next block.
            if let Some(next) = window.get(start + 3) {
                if matches!(next, b'>' | b' ' | b'/' | b'\t' | b'\r' | b'\n') {
                    self.count += 1;
                }
            }
        }
        let keep = window.len().min(3);
        self.carry = window.split_off(window.len() - keep);
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_shared_strings_across_block_boundaries() {
        let xml = b"<sst><si><t>a</t></si><si ><t>b</t></si><sift/><si>".repeat(3);
        for split in 0..xml.len() {
            let mut c = SharedStringCounter::default();
            c.feed(&xml[..split]);
            assert_eq!(c.feed(&xml[split..]), 9, "split at {split}");
        }
    }
}
