//! A corpus of hostile prospect files, generated at test time, read through the public
//! `outreach_core::input` API. Every test checks the values that come out, not just that
//! nothing crashed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use outreach_core::input::{read_summary, FileFormat, InputSummary, RowReader};
use outreach_core::{Error, InputError};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use tempfile::TempDir;

// ---------------------------------------------------------------- helpers

fn write(dir: &TempDir, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let reader = RowReader::open(path).unwrap();
    let headers = reader.headers().to_vec();
    let rows = reader.collect::<Result<Vec<_>, _>>().unwrap();
    (headers, rows)
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn input_error<T: std::fmt::Debug>(result: outreach_core::Result<T>) -> InputError {
    match result {
        Err(Error::InvalidInput(e)) => e,
        other => panic!("expected an input error, got {other:?}"),
    }
}

fn open_error(path: &Path) -> InputError {
    input_error(RowReader::open(path))
}

fn xlsx(dir: &TempDir, name: &str, build: impl FnOnce(&mut Workbook)) -> PathBuf {
    let mut workbook = Workbook::new();
    build(&mut workbook);
    let path = dir.path().join(name);
    workbook.save(&path).unwrap();
    path
}

/// Copies an XLSX, passing each entry's bytes through `edit` (by entry name).
fn rewrite_zip(src: &Path, dst: &Path, edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(dst).unwrap());
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.start_file(&name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&edit(&name, bytes)).unwrap();
    }
    out.finish().unwrap();
}

// ---------------------------------------------------------------- CSV dialects

#[test]
fn each_delimiter_is_sniffed() {
    let dir = TempDir::new().unwrap();
    for (name, text) in [
        (
            "comma.csv",
            "name,email\nAnn,ann@acme.com\nBob,bob@beta.io\n",
        ),
        (
            "semi.csv",
            "name;email\nAnn;ann@acme.com\nBob;bob@beta.io\n",
        ),
        (
            "tab.tsv",
            "name\temail\nAnn\tann@acme.com\nBob\tbob@beta.io\n",
        ),
        (
            "pipe.txt",
            "name|email\nAnn|ann@acme.com\nBob|bob@beta.io\n",
        ),
    ] {
        let path = write(&dir, name, text);
        let (headers, data) = rows(&path);
        assert_eq!(headers, s(&["name", "email"]), "{name}");
        assert_eq!(
            data,
            vec![s(&["Ann", "ann@acme.com"]), s(&["Bob", "bob@beta.io"])],
            "{name}"
        );
    }
}

#[test]
fn semicolon_file_with_commas_in_quoted_names() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "eu.csv",
        "Name;E-Mail;Umsatz\n\"Müller, Hans\";h@x.de;1,5\n\"Lee, Ann\";a@y.com;2,25\n",
    );
    let (headers, data) = rows(&path);
    assert_eq!(headers, s(&["Name", "E-Mail", "Umsatz"]));
    assert_eq!(data[0], s(&["Müller, Hans", "h@x.de", "1,5"]));
    assert_eq!(data[1], s(&["Lee, Ann", "a@y.com", "2,25"]));
}

#[test]
fn utf8_bom_is_not_part_of_the_first_header() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "bom.csv",
        b"\xEF\xBB\xBFemail,name\nz@q.io,Zo\xC3\xAB\n",
    );
    let summary = read_summary(&path).unwrap();
    assert_eq!(
        summary,
        InputSummary {
            headers: s(&["email", "name"]),
            rows: 1,
            email_column: Some("email".into()),
        }
    );
    assert_eq!(rows(&path).1, vec![s(&["z@q.io", "Zoë"])]);
}

#[test]
fn windows_1252_bytes_are_decoded() {
    let dir = TempDir::new().unwrap();
    // 0xFC = ü, 0xE9 = é, 0x80 = € in Windows-1252; none of them is valid UTF-8 alone.
    let path = write(
        &dir,
        "excel-de.csv",
        b"Name;Firma;Email\r\nM\xFCller;Caf\xE9 Ol\xE9;m@cafe.de\r\nB\xE4r;\x80uro GmbH;b@euro.de\r\n",
    );
    let (headers, data) = rows(&path);
    assert_eq!(headers, s(&["Name", "Firma", "Email"]));
    assert_eq!(
        data,
        vec![
            s(&["Müller", "Café Olé", "m@cafe.de"]),
            s(&["Bär", "€uro GmbH", "b@euro.de"]),
        ]
    );
}

#[test]
fn windows_1252_after_a_long_utf8_prefix_falls_back_per_field() {
    let dir = TempDir::new().unwrap();
    let mut bytes = b"name,email\n".to_vec();
    // Well past the 64 KiB the detector looks at, all valid UTF-8.
    for i in 0..5000 {
        bytes.extend_from_slice(format!("Zoë {i},z{i}@x.io\n").as_bytes());
    }
    bytes.extend_from_slice(b"M\xFCller,m@x.de\nZo\xC3\xAB last,l@x.io\n");
    let path = write(&dir, "mixed.csv", &bytes);
    let (_, data) = rows(&path);
    assert_eq!(data.len(), 5002);
    assert_eq!(data[0], s(&["Zoë 0", "z0@x.io"]));
    assert_eq!(data[5000], s(&["Müller", "m@x.de"]));
    assert_eq!(data[5001], s(&["Zoë last", "l@x.io"]));
}

#[test]
fn utf16_unicode_text_export_is_read() {
    let dir = TempDir::new().unwrap();
    let text = "Name\tEmail\r\nMüller\tm@x.de\r\n李\tli@x.cn\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let path = write(&dir, "unicode.txt", &bytes);
    let (headers, data) = rows(&path);
    assert_eq!(headers, s(&["Name", "Email"]));
    assert_eq!(data, vec![s(&["Müller", "m@x.de"]), s(&["李", "li@x.cn"])]);
}

#[test]
fn crlf_and_quoted_commas_quotes_and_newlines() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "quoted.csv",
        "name,notes,email\r\n\"Lee, Ann\",\"line one\r\nline two, still notes\",ann@acme.com\r\n\"Bob \"\"The Builder\"\"\",,bob@b.io\r\n",
    );
    let (headers, data) = rows(&path);
    assert_eq!(headers, s(&["name", "notes", "email"]));
    assert_eq!(
        data,
        vec![
            s(&[
                "Lee, Ann",
                "line one\r\nline two, still notes",
                "ann@acme.com"
            ]),
            s(&["Bob \"The Builder\"", "", "bob@b.io"]),
        ]
    );
}

#[test]
fn ragged_rows_are_padded_cut_and_counted() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "ragged.csv",
        "a,b,c\n1\n1,2,3,,\n1,2,3,4,5\n1,2,3\n,,,\n\n1,2\n",
    );
    let mut reader = RowReader::open(&path).unwrap();
    assert_eq!(reader.headers(), s(&["a", "b", "c"]).as_slice());
    let mut got = Vec::new();
    for row in reader.by_ref() {
        got.push(row.unwrap());
    }
    assert_eq!(
        got,
        vec![
            s(&["1", "", ""]),   // short: padded, ragged
            s(&["1", "2", "3"]), // trailing empties: silent
            s(&["1", "2", "3"]), // values 4, 5 dropped: ragged
            s(&["1", "2", "3"]),
            s(&["1", "2", ""]), // short: padded, ragged
        ]
    );
    assert_eq!(reader.ragged_rows(), 3);
    assert_eq!(read_summary(&path).unwrap().rows, 5);
}

#[test]
fn duplicate_and_empty_headers_become_unique() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "dups.csv",
        " Email ,,email,Name,EMAIL,\nx@y.io,a,b,c,d,e\n",
    );
    let (headers, data) = rows(&path);
    assert_eq!(
        headers,
        s(&["Email", "column_2", "email_2", "Name", "EMAIL_3", "column_6"])
    );
    assert_eq!(data, vec![s(&["x@y.io", "a", "b", "c", "d", "e"])]);
    assert_eq!(
        read_summary(&path).unwrap().email_column.as_deref(),
        Some("Email")
    );
}

#[test]
fn blank_lines_before_the_header_and_between_rows_are_skipped() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "gaps.csv",
        "\n\r\n  \n;;\nname;email\n\n;\nAnn;a@b.co\n\n",
    );
    let (headers, data) = rows(&path);
    assert_eq!(headers, s(&["name", "email"]));
    assert_eq!(data, vec![s(&["Ann", "a@b.co"])]);
}

#[test]
fn a_single_column_of_addresses_with_commas_in_names_is_not_split() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "single.csv",
        "contact\nLee, Ann <ann@acme.com>\nbob@beta.io\n",
    );
    let mut reader = RowReader::open(&path).unwrap();
    assert_eq!(reader.headers(), s(&["contact"]).as_slice());
    let data: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(
        data,
        vec![s(&["Lee, Ann <ann@acme.com>"]), s(&["bob@beta.io"])]
    );
    assert_eq!(reader.ragged_rows(), 0);
}

// ---------------------------------------------------------------- unusable files

#[test]
fn zero_byte_files_are_empty() {
    let dir = TempDir::new().unwrap();
    for name in ["empty.csv", "empty.xlsx"] {
        let path = write(&dir, name, b"");
        assert_eq!(open_error(&path), InputError::Empty, "{name}");
        assert_eq!(
            input_error(read_summary(&path)),
            InputError::Empty,
            "{name}"
        );
    }
}

#[test]
fn header_only_files_are_refused() {
    let dir = TempDir::new().unwrap();
    for (name, text) in [
        ("header.csv", "name,email\n"),
        ("header-no-newline.csv", "name,email"),
        ("header-blank-lines.csv", "name,email\n\n\r\n\n"),
        ("header-empty-rows.csv", "name,email\n,\n , \n"),
    ] {
        let path = write(&dir, name, text);
        assert_eq!(open_error(&path), InputError::HeaderOnly, "{name}");
        assert_eq!(
            input_error(read_summary(&path)),
            InputError::HeaderOnly,
            "{name}"
        );
    }
}

#[test]
fn a_text_file_of_blank_lines_has_no_header() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "blank.csv", "\n\r\n   \n,,,\n");
    assert_eq!(open_error(&path), InputError::NoHeader);
}

#[test]
fn unsupported_extensions_are_refused_before_reading() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "leads.pdf", "%PDF-1.7 name,email\n");
    assert_eq!(
        open_error(&path),
        InputError::UnsupportedExtension(".pdf".into())
    );
    assert_eq!(
        input_error(read_summary(&path)),
        InputError::UnsupportedExtension(".pdf".into())
    );
    assert_eq!(
        FileFormat::from_path(Path::new("x.TSV")),
        Ok(FileFormat::Csv)
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = TempDir::new().unwrap();
    for name in ["nope.csv", "nope.xlsx"] {
        let err = RowReader::open(&dir.path().join(name)).unwrap_err();
        assert!(
            matches!(&err, Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn a_text_file_named_xlsx_is_corrupt() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "fake.xlsx", "name,email\nAnn,a@b.co\n");
    let err = open_error(&path);
    assert!(
        matches!(err, InputError::CorruptXlsx(ref why) if !why.is_empty()),
        "{err:?}"
    );
    assert!(matches!(
        input_error(read_summary(&path)),
        InputError::CorruptXlsx(_)
    ));
}

#[test]
fn a_truncated_xlsx_is_corrupt() {
    let dir = TempDir::new().unwrap();
    let full = xlsx(&dir, "full.xlsx", |wb| {
        let ws = wb.add_worksheet();
        for r in 0..200u32 {
            ws.write_string(r, 0, format!("user{r}@example.com"))
                .unwrap();
        }
    });
    let bytes = std::fs::read(&full).unwrap();
    let path = write(&dir, "half.xlsx", &bytes[..bytes.len() / 2]);
    assert!(matches!(open_error(&path), InputError::CorruptXlsx(_)));
}

#[test]
fn an_xlsx_whose_sheet_xml_breaks_midway_yields_rows_then_an_error() {
    let dir = TempDir::new().unwrap();
    let good = xlsx(&dir, "good.xlsx", |wb| {
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "email").unwrap();
        for r in 1..=300u32 {
            ws.write_string(r, 0, format!("u{r}@x.io")).unwrap();
        }
    });
    let broken = dir.path().join("broken.xlsx");
    rewrite_zip(&good, &broken, |name, bytes| {
        if name == "xl/worksheets/sheet1.xml" {
            bytes[..bytes.len() * 2 / 3].to_vec()
        } else {
            bytes
        }
    });
    let mut reader = RowReader::open(&broken).unwrap();
    assert_eq!(reader.headers(), s(&["email"]).as_slice());
    let mut good_rows = Vec::new();
    let mut error = None;
    for row in reader.by_ref() {
        match row {
            Ok(row) => good_rows.push(row),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert!(
        good_rows.len() > 50 && good_rows.len() < 300,
        "{}",
        good_rows.len()
    );
    assert_eq!(good_rows[0], s(&["u1@x.io"]));
    assert!(matches!(
        error,
        Some(Error::InvalidInput(InputError::CorruptXlsx(_)))
    ));
    assert!(reader.next().is_none(), "the iterator ends after an error");
    assert!(matches!(
        input_error(read_summary(&broken)),
        InputError::CorruptXlsx(_)
    ));
}

// ---------------------------------------------------------------- XLSX contents

#[test]
fn the_first_sheet_with_data_is_used() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(&dir, "second.xlsx", |wb| {
        wb.add_worksheet().set_name("Cover").unwrap();
        let ws = wb.add_worksheet().set_name("Leads").unwrap();
        ws.write_string(2, 1, "Email").unwrap();
        ws.write_string(2, 2, "Company").unwrap();
        ws.write_string(3, 1, "ann@acme.com").unwrap();
        ws.write_string(3, 2, "Acme").unwrap();
        let ws = wb.add_worksheet().set_name("Other").unwrap();
        ws.write_string(0, 0, "ignored").unwrap();
    });
    // The header row starts at B3: column A is empty and becomes `column_1`.
    let (headers, data) = rows(&path);
    assert_eq!(headers, s(&["column_1", "Email", "Company"]));
    assert_eq!(data, vec![s(&["", "ann@acme.com", "Acme"])]);
}

#[test]
fn hand_written_sheet_xml_with_inline_strings_errors_and_far_columns() {
    let dir = TempDir::new().unwrap();
    let base = xlsx(&dir, "base.xlsx", |wb| {
        wb.add_worksheet()
            .write_string(0, 0, "placeholder")
            .unwrap();
    });
    // What other producers write: cells without `r`, inline strings, cached formula
    // results, error cells, and a cell at a column far beyond anything real.
    let sheet = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c t="inlineStr"><is><t>email</t></is></c><c t="inlineStr"><is><t>score</t></is></c><c t="inlineStr"><is><t>check</t></is></c></row>
<row r="2"><c t="inlineStr"><is><t>a@b.co</t></is></c><c><v>1.5</v></c><c t="e"><v>#N/A</v></c></row>
<row r="3"><c r="A3" t="str"><f>LOWER("X@Y.IO")</f><v>x@y.io</v></c><c r="C3" t="b"><v>1</v></c><c r="ZZZZ3" t="inlineStr"><is><t>far away</t></is></c></row>
</sheetData></worksheet>"#;
    let path = dir.path().join("crafted.xlsx");
    rewrite_zip(&base, &path, |name, bytes| {
        if name == "xl/worksheets/sheet1.xml" {
            sheet.as_bytes().to_vec()
        } else {
            bytes
        }
    });
    let mut reader = RowReader::open(&path).unwrap();
    assert_eq!(reader.headers(), s(&["email", "score", "check"]).as_slice());
    let data: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(
        data,
        vec![s(&["a@b.co", "1.5", "#N/A"]), s(&["x@y.io", "", "TRUE"])]
    );
    assert_eq!(reader.ragged_rows(), 1);
}

#[test]
fn workbooks_without_data_or_rows_are_refused() {
    let dir = TempDir::new().unwrap();
    let empty = xlsx(&dir, "nothing.xlsx", |wb| {
        wb.add_worksheet();
        wb.add_worksheet();
    });
    assert_eq!(open_error(&empty), InputError::NoData);
    let header_only = xlsx(&dir, "header.xlsx", |wb| {
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "name").unwrap();
        ws.write_string(0, 1, "email").unwrap();
    });
    assert_eq!(open_error(&header_only), InputError::HeaderOnly);
    assert_eq!(
        input_error(read_summary(&header_only)),
        InputError::HeaderOnly
    );
}

#[test]
fn typed_cells_render_as_a_person_reads_them() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(&dir, "typed.xlsx", |wb| {
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        let ws = wb.add_worksheet();
        for (c, h) in ["int", "float", "bool", "date", "datetime", "text", "big"]
            .iter()
            .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_number(1, 0, 42.0).unwrap();
        ws.write_number(1, 1, 3.25).unwrap();
        ws.write_boolean(1, 2, true).unwrap();
        ws.write_datetime_with_format(1, 3, ExcelDateTime::from_ymd(2024, 3, 5).unwrap(), &date)
            .unwrap();
        let dt = ExcelDateTime::from_ymd(2024, 3, 5)
            .unwrap()
            .and_hms(14, 30, 0)
            .unwrap();
        ws.write_datetime_with_format(1, 4, &dt, &datetime).unwrap();
        ws.write_string(1, 5, "Zoë").unwrap();
        ws.write_number(1, 6, 4915112345678.0).unwrap();
        ws.write_number(2, 0, -7.0).unwrap();
        ws.write_number(2, 1, 0.1 + 0.2).unwrap();
        ws.write_boolean(2, 2, false).unwrap();
        ws.write_string(2, 5, "  spaced  ").unwrap();
    });
    let (headers, data) = rows(&path);
    assert_eq!(
        headers,
        s(&["int", "float", "bool", "date", "datetime", "text", "big"])
    );
    assert_eq!(
        data,
        vec![
            s(&[
                "42",
                "3.25",
                "TRUE",
                "2024-03-05",
                "2024-03-05 14:30:00",
                "Zoë",
                "4915112345678"
            ]),
            s(&["-7", "0.3", "FALSE", "", "", "  spaced  ", ""]),
        ]
    );
}

#[test]
fn merged_and_sparse_cells_keep_their_columns() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(&dir, "merged.xlsx", |wb| {
        let ws = wb.add_worksheet();
        for (c, h) in ["name", "email", "company", "notes"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        // A company merged down rows 2–3, and a value merged across columns A–B in row 4.
        ws.merge_range(1, 2, 2, 2, "Acme", &Format::new()).unwrap();
        ws.write_string(1, 0, "Ann").unwrap();
        ws.write_string(1, 1, "ann@acme.com").unwrap();
        ws.write_string(2, 1, "bob@acme.com").unwrap();
        ws.merge_range(3, 0, 3, 1, "wide", &Format::new()).unwrap();
        ws.write_string(3, 3, "last col only").unwrap();
        // Row 5 is missing entirely; row 6 has only column D.
        ws.write_string(5, 3, "sparse").unwrap();
    });
    let (headers, data) = rows(&path);
    assert_eq!(headers, s(&["name", "email", "company", "notes"]));
    assert_eq!(
        data,
        vec![
            s(&["Ann", "ann@acme.com", "Acme", ""]),
            s(&["", "bob@acme.com", "", ""]),
            s(&["wide", "", "", "last col only"]),
            s(&["", "", "", "sparse"]),
        ]
    );
}

#[test]
fn xlsx_values_beyond_the_header_are_dropped_and_counted() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(&dir, "wide.xlsx", |wb| {
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "email").unwrap();
        ws.write_string(0, 1, "name").unwrap();
        ws.write_string(1, 0, "a@b.co").unwrap(); // short: not ragged in a sheet
        ws.write_string(2, 0, "c@d.co").unwrap();
        ws.write_string(2, 3, "stray").unwrap(); // beyond the header
        ws.write_string(3, 5, "only stray").unwrap(); // nothing inside the header
        ws.write_string(4, 0, "e@f.co").unwrap();
        ws.write_string(4, 1, "Eve").unwrap();
    });
    let mut reader = RowReader::open(&path).unwrap();
    let data: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(
        data,
        vec![
            s(&["a@b.co", ""]),
            s(&["c@d.co", ""]),
            s(&["e@f.co", "Eve"])
        ]
    );
    assert_eq!(reader.ragged_rows(), 2);
}

#[test]
fn xlsx_summary_counts_rows_and_guesses_email() {
    let dir = TempDir::new().unwrap();
    let path = xlsx(&dir, "leads.xlsm", |wb| {
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "Full Name").unwrap();
        ws.write_string(0, 1, "Email Status").unwrap();
        ws.write_string(0, 2, "Work Email").unwrap();
        for r in 1..=3000u32 {
            ws.write_string(r, 0, format!("Person {r}")).unwrap();
            ws.write_string(r, 1, "valid").unwrap();
            ws.write_string(r, 2, format!("p{r}@corp.com")).unwrap();
        }
    });
    assert_eq!(
        read_summary(&path).unwrap(),
        InputSummary {
            headers: s(&["Full Name", "Email Status", "Work Email"]),
            rows: 3000,
            email_column: Some("Work Email".into()),
        }
    );
}

#[test]
fn dropping_an_xlsx_reader_early_does_not_hang() {
    let dir = TempDir::new().unwrap();
    // More rows than the reading thread may buffer, so it is blocked on send at drop.
    let path = xlsx(&dir, "many.xlsx", |wb| {
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "email").unwrap();
        for r in 1..=5000u32 {
            ws.write_string(r, 0, format!("u{r}@x.io")).unwrap();
        }
    });
    for _ in 0..3 {
        let mut reader = RowReader::open(&path).unwrap();
        assert_eq!(reader.next().unwrap().unwrap(), s(&["u1@x.io"]));
        drop(reader);
    }
    // The file is still fully readable afterwards.
    assert_eq!(read_summary(&path).unwrap().rows, 5000);
}

#[test]
fn a_row_reader_can_move_to_another_thread() {
    let dir = TempDir::new().unwrap();
    let csv = write(&dir, "a.csv", "email\na@b.co\nc@d.co\n");
    let sheet = xlsx(&dir, "a.xlsx", |wb| {
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "email").unwrap();
        ws.write_string(1, 0, "a@b.co").unwrap();
        ws.write_string(2, 0, "c@d.co").unwrap();
    });
    for path in [csv, sheet] {
        let reader = RowReader::open(&path).unwrap();
        let got = std::thread::spawn(move || reader.map(Result::unwrap).collect::<Vec<_>>())
            .join()
            .unwrap();
        assert_eq!(got, vec![s(&["a@b.co"]), s(&["c@d.co"])], "{path:?}");
    }
}

// ---------------------------------------------------------------- email column

#[test]
fn email_column_is_guessed_from_header_names() {
    let dir = TempDir::new().unwrap();
    for (header, want) in [
        ("First,Last,E-mail Address,Company", Some("E-mail Address")),
        ("name,emailVerified,Business Email", Some("Business Email")),
        ("name,mail", Some("mail")),
        ("name,company", None),
    ] {
        let path = write(&dir, "h.csv", format!("{header}\nx,y,z,w\n"));
        assert_eq!(
            read_summary(&path).unwrap().email_column.as_deref(),
            want,
            "{header}"
        );
    }
}

#[test]
fn email_column_is_guessed_from_contents_when_headers_do_not_help() {
    let dir = TempDir::new().unwrap();
    let mut text = String::from("Field 1;Field 2;Field 3\n");
    for i in 0..80 {
        // Column 2 mostly holds addresses; some cells are blank, one is junk.
        let addr = match i % 10 {
            0 => String::new(),
            5 => "n/a".to_string(),
            _ => format!("lead{i}@firm{i}.com"),
        };
        text.push_str(&format!("Lead {i};{addr};note with @ sign\n"));
    }
    let path = write(&dir, "opaque.csv", text);
    let summary = read_summary(&path).unwrap();
    assert_eq!(summary.rows, 80);
    assert_eq!(summary.email_column.as_deref(), Some("Field 2"));
}

// ---------------------------------------------------------------- size

#[test]
fn a_200k_row_csv_is_counted() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("big.csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(out, "first_name,last_name,email,company").unwrap();
        for i in 0..200_000u32 {
            writeln!(out, "Ann{i},\"Lee, {i}\",ann{i}@acme{}.com,Acme", i % 97).unwrap();
        }
        out.flush().unwrap();
    }
    let summary = read_summary(&path).unwrap();
    assert_eq!(
        summary,
        InputSummary {
            headers: s(&["first_name", "last_name", "email", "company"]),
            rows: 200_000,
            email_column: Some("email".into()),
        }
    );
    let last = RowReader::open(&path).unwrap().last().unwrap().unwrap();
    assert_eq!(
        last,
        s(&["Ann199999", "Lee, 199999", "ann199999@acme82.com", "Acme"])
    );
}

// ---------------------------------------------------------------- property

mod roundtrip {
    use super::*;
    use proptest::prelude::*;

    fn cell() -> impl Strategy<Value = String> {
        // Quotes, spaces, newlines and non-ASCII, but no foreign candidate delimiter:
        // those are the writer's job to quote only for the delimiter it uses.
        proptest::string::string_regex("[a-zA-Z0-9 \"é€\n]{0,12}").unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the csv writer produces with any of our delimiters reads back as the
        /// same table.
        #[test]
        fn written_tables_read_back_identically(
            delim in prop::sample::select(vec![b',', b';', b'\t', b'|']),
            width in 1usize..5,
            body in prop::collection::vec(prop::collection::vec(cell(), 5), 1..30),
        ) {
            let dir = TempDir::new().unwrap();
            let headers: Vec<String> = (0..width).map(|i| format!("h{i}")).collect();
            // A leading `r<i>` keeps every row non-blank (blank rows are skipped by design).
            let table: Vec<Vec<String>> = body
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut row: Vec<String> = r[..width].to_vec();
                    row[0] = format!("r{i}{}", row[0]);
                    row
                })
                .collect();
            let path = dir.path().join("t.csv");
            {
                let mut w = csv::WriterBuilder::new().delimiter(delim).from_path(&path).unwrap();
                w.write_record(&headers).unwrap();
                for row in &table {
                    w.write_record(row).unwrap();
                }
                w.flush().unwrap();
            }
            let (got_headers, got) = rows(&path);
            prop_assert_eq!(got_headers, headers);
            prop_assert_eq!(&got, &table);
            prop_assert_eq!(read_summary(&path).unwrap().rows, table.len() as u64);
        }
    }
}
