//! Hostile inputs from the security review (issue 12, items 1 and 2), each performed
//! against the public `outreach_core::input` API with the bound it must hit. Sizes are
//! kept small enough for a debug build; the figures of the original attack are in the
//! comments.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use outreach_core::input::{limits, read_summary, read_summary_cancellable, Cancel, RowReader};
use outreach_core::{Error, InputError};
use rust_xlsxwriter::Workbook;
use tempfile::TempDir;

fn write(dir: &TempDir, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn input_error<T: std::fmt::Debug>(result: outreach_core::Result<T>) -> InputError {
    match result {
        Err(Error::InvalidInput(e)) => e,
        other => panic!("expected an input error, got {other:?}"),
    }
}

/// A one-sheet workbook (header `email`, one data row) whose shared-string table is
/// replaced by `shared` (an `<sst>` document).
fn workbook_with_shared_strings(dir: &TempDir, name: &str, shared: &[u8]) -> PathBuf {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "email").unwrap();
    sheet.write_string(1, 0, "a@b.co").unwrap();
    let plain = dir.path().join(format!("plain-{name}"));
    workbook.save(&plain).unwrap();
    let path = dir.path().join(name);
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&plain).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let entry_name = entry.name().unwrap().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(9));
        out.start_file(&entry_name, options).unwrap();
        if entry_name == "xl/sharedStrings.xml" {
            out.write_all(shared).unwrap();
        } else {
            out.write_all(&bytes).unwrap();
        }
    }
    out.finish().unwrap();
    path
}

/// One shared string of `len` bytes, standing in for the cell `A1`/`A2` strings.
fn one_big_string(len: usize) -> Vec<u8> {
    let mut xml = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2"><si><t>email</t></si><si><t>"#.to_vec();
    xml.resize(xml.len() + len, b'a');
    xml.extend_from_slice(b"</t></si></sst>");
    xml
}

/// Rewrites the uncompressed size the zip records (local header and central directory)
/// for the entry `name`: the sizes a hostile file would lie about.
fn patch_declared_size(path: &Path, name: &str, size: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut patched = 0;
    let mut i = 0;
    while i + 46 <= bytes.len() {
        let sig = u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        let (size_at, name_len_at, name_at) = match sig {
            0x0403_4b50 => (22, 26, 30),
            0x0201_4b50 => (24, 28, 46),
            _ => {
                i += 1;
                continue;
            }
        };
        let len = u16::from_le_bytes(
            bytes[i + name_len_at..i + name_len_at + 2]
                .try_into()
                .unwrap(),
        ) as usize;
        if bytes.get(i + name_at..i + name_at + len) == Some(name.as_bytes()) {
            bytes[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
        i += 4;
    }
    assert_eq!(patched, 2, "local header and central directory entry");
    std::fs::write(path, bytes).unwrap();
}

// ---------------------------------------------------------------- item 1: headers

#[test]
fn a_header_of_identical_names_is_read_in_linear_time() {
    // The review: 80 KB of identical names took 26 s, 160 KB 89 s (quadratic). Here
    // 16,384 of them (Excel's width, ~100 KB) against a same-run baseline of distinct
    // names of the same length.
    let dir = TempDir::new().unwrap();
    let n = limits::MAX_COLUMNS;
    let same = vec!["email"; n].join(",");
    let distinct = (0..n)
        .map(|i| format!("{:05}", i))
        .collect::<Vec<_>>()
        .join(",");
    let row = vec!["x"; n].join(",");
    let same_path = write(&dir, "same.csv", format!("{same}\n{row}\n"));
    let distinct_path = write(&dir, "distinct.csv", format!("{distinct}\n{row}\n"));

    let t = Instant::now();
    let baseline = read_summary(&distinct_path).unwrap();
    let baseline_time = t.elapsed();
    let t = Instant::now();
    let summary = read_summary(&same_path).unwrap();
    let elapsed = t.elapsed();

    assert_eq!(baseline.headers.len(), n);
    assert_eq!(summary.headers.len(), n);
    assert_eq!(summary.headers[n - 1], format!("email_{n}"));
    assert!(
        elapsed < baseline_time * 10 + Duration::from_millis(200),
        "identical names took {elapsed:?}, distinct ones {baseline_time:?}"
    );
}

#[test]
fn more_columns_than_excel_holds_are_refused() {
    let dir = TempDir::new().unwrap();
    let n = limits::MAX_COLUMNS + 1;
    let header = (0..n)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let path = write(&dir, "wide.csv", format!("{header}\n1\n"));
    assert_eq!(
        input_error(RowReader::open(&path)),
        InputError::TooManyColumns {
            columns: n,
            limit: limits::MAX_COLUMNS
        }
    );
}

#[test]
fn a_header_over_the_byte_limit_is_refused() {
    let dir = TempDir::new().unwrap();
    // 40 names of 8,000 bytes: 320 KB of header in few columns.
    let header = (0..40)
        .map(|i| format!("{i}{}", "h".repeat(8_000)))
        .collect::<Vec<_>>()
        .join(",");
    let path = write(&dir, "long-header.csv", format!("{header}\nx\n"));
    assert_eq!(
        input_error(RowReader::open(&path)),
        InputError::HeaderTooLong {
            limit: limits::MAX_HEADER_BYTES
        }
    );
}

#[test]
fn a_row_over_the_byte_limit_is_refused_while_counting() {
    let dir = TempDir::new().unwrap();
    let long = "y".repeat(limits::MAX_ROW_BYTES + 10);
    let path = write(
        &dir,
        "long-row.csv",
        format!("email,notes\na@b.co,ok\nc@d.co,{long}\n"),
    );
    match input_error(read_summary(&path)) {
        InputError::BadRow { row, message } => {
            assert_eq!(row, 3);
            assert!(message.contains("longer than"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cancelled_read_stops_within_milliseconds() {
    // The review: blocking reads kept running after the request's 408 and held up
    // SIGTERM. A reader whose flag is set stops at its next row.
    let dir = TempDir::new().unwrap();
    let mut text = String::from("email,name\n");
    for i in 0..400_000 {
        text.push_str(&format!("p{i}@example.com,Person {i}\n"));
    }
    let path = write(&dir, "many.csv", text);
    let t = Instant::now();
    assert_eq!(read_summary(&path).unwrap().rows, 400_000);
    let full = t.elapsed();
    eprintln!("a full read of 400,000 rows: {full:?}");

    let cancel = Cancel::new();
    let reader = {
        let (path, cancel) = (path.clone(), cancel.clone());
        std::thread::spawn(move || read_summary_cancellable(&path, &cancel))
    };
    std::thread::sleep(full / 10);
    let cancelled_at = Instant::now();
    cancel.cancel();
    let result = reader.join().unwrap();
    let stop = cancelled_at.elapsed();
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(
        stop < full / 4 + Duration::from_millis(20),
        "stopped {stop:?} after the flag; a full read takes {full:?}"
    );
}

// ---------------------------------------------------------------- item 2: XLSX bombs

#[test]
fn a_workbook_inflating_over_100_to_1_is_refused_before_calamine_reads_it() {
    // The review: a 1 MB file holding a 1 GB shared string took the server to 2.9 GB.
    // Here 24 MB of one string compress to well under 1% of that.
    let dir = TempDir::new().unwrap();
    let path = workbook_with_shared_strings(&dir, "bomb.xlsx", &one_big_string(24_000_000));
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 100_000, "the fixture is a bomb: {size} bytes");
    match input_error(read_summary(&path)) {
        InputError::SuspiciousCompression(m) => assert!(m.contains("100:1"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_workbook_declaring_more_than_200_mb_is_refused_without_inflating() {
    let dir = TempDir::new().unwrap();
    let path = workbook_with_shared_strings(&dir, "declared.xlsx", &one_big_string(10));
    patch_declared_size(&path, "xl/sharedStrings.xml", 250_000_000);
    assert_eq!(
        input_error(read_summary(&path)),
        InputError::InflatesTooMuch {
            limit: limits::MAX_XLSX_UNCOMPRESSED_BYTES
        }
    );
}

#[test]
fn a_part_inflating_beyond_its_declared_size_is_refused() {
    // Declared sizes are the attacker's to choose: a part that says 4 KB and inflates
    // to 2 MB is refused when the inflated bytes pass the declared size.
    let dir = TempDir::new().unwrap();
    let path = workbook_with_shared_strings(&dir, "liar.xlsx", &one_big_string(2_000_000));
    patch_declared_size(&path, "xl/sharedStrings.xml", 4_000);
    match input_error(read_summary(&path)) {
        InputError::SuspiciousCompression(m) => assert!(m.contains("declares"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_xlsx_cell_longer_than_excel_allows_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = workbook_with_shared_strings(&dir, "long-cell.xlsx", &one_big_string(40_000));
    match input_error(read_summary(&path)) {
        InputError::BadRow { row, message } => {
            assert_eq!(row, 2);
            assert!(message.contains("32767"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_ordinary_workbook_still_reads() {
    let dir = TempDir::new().unwrap();
    let path = workbook_with_shared_strings(&dir, "ok.xlsx", &one_big_string(30_000));
    let summary = read_summary(&path).unwrap();
    assert_eq!(summary.headers, ["email"]);
    assert_eq!(summary.rows, 1);
}
