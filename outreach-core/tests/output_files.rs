//! Output files written through the public API and read back with the `csv` reader and
//! `calamine`, as a spreadsheet user would see them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use calamine::{open_workbook, open_workbook_from_rs, Data, Reader, Xlsx};
use outreach_core::output::sanitize::{EXCEL_CELL_LIMIT, TRUNCATION_MARKER};
use outreach_core::output::{
    create_writer, create_writer_to, create_writer_with, CsvRowWriter, OutputFormat, OutputLayout,
    RowWriter, WriteReport, WriterOptions, XlsxRowWriter,
};
use outreach_core::Error;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Writes `rows` under `headers` to `path` and returns the report.
fn write_file(
    path: &Path,
    format: OutputFormat,
    headers: &[&str],
    rows: &[Vec<String>],
) -> WriteReport {
    let mut writer = create_writer(path, format, &strings(headers)).unwrap();
    for row in rows {
        writer.write_row(row).unwrap();
    }
    writer.finish().unwrap()
}

fn read_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => panic!("every output cell must be a string, got {other:?}"),
    }
}

fn xlsx_rows<R: std::io::Read + std::io::Seek>(mut workbook: Xlsx<R>) -> Vec<Vec<String>> {
    let range = workbook.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(range.start(), Some((0, 0)), "the sheet starts at A1");
    range
        .rows()
        .map(|row| row.iter().map(cell_text).collect())
        .collect()
}

fn read_xlsx(path: &Path) -> Vec<Vec<String>> {
    xlsx_rows(open_workbook::<Xlsx<_>, _>(path).unwrap())
}

/// Files in `dir` other than `keep`: a finished writer must leave no partial files.
fn other_files(dir: &Path, keep: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != keep)
        .collect()
}

/// A `Write` whose bytes the test can still read after the writer took ownership.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_neutralises_every_formula_trigger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let cells = [
        "=1+1",
        "+1",
        "-1",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "=HYPERLINK(\"http://e.vil\")",
    ];
    let row: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
    let headers: Vec<String> = (0..cells.len()).map(|i| format!("c{i}")).collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    write_file(&path, OutputFormat::Csv, &headers, &[row]);

    let rows = read_csv(&std::fs::read(&path).unwrap());
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1],
        strings(&[
            "'=1+1",
            "'+1",
            "'-1",
            "'@SUM(A1)",
            "'\tx",
            "'\rx",
            "'=HYPERLINK(\"http://e.vil\")"
        ])
    );
}

#[test]
fn csv_leaves_formula_characters_alone_when_not_first() {
    let mut writer = CsvRowWriter::new(
        Vec::new(),
        &strings(&["a", "b", "c", "d"]),
        &WriterOptions::default(),
    )
    .unwrap();
    writer
        .write_row(&strings(&["co-founder", "a=b", " -1", "x@y.com"]))
        .unwrap();
    let (report, bytes) = writer.into_inner().unwrap();
    assert_eq!(
        report,
        WriteReport {
            rows: 1,
            truncated_cells: 0
        }
    );
    assert_eq!(
        read_csv(&bytes)[1],
        strings(&["co-founder", "a=b", " -1", "x@y.com"])
    );
}

#[test]
fn csv_neutralises_input_columns_and_headers_too() {
    let layout = OutputLayout::new(&strings(&["=name", "email"]), None).unwrap();
    let mut writer =
        CsvRowWriter::new(Vec::new(), layout.headers(), &WriterOptions::default()).unwrap();
    let row = layout.project(
        &strings(&["@evil", "-x@y.com"]),
        &outcome("{\"a\":1}", "-- hi"),
    );
    writer.write_row(&row).unwrap();
    let (_, bytes) = writer.into_inner().unwrap();
    let rows = read_csv(&bytes);
    assert_eq!(
        rows,
        vec![
            strings(&[
                "'=name",
                "email",
                "sif_research",
                "sif_personalized",
                "sif_status"
            ]),
            strings(&["'@evil", "'-x@y.com", "{\"a\":1}", "'-- hi", "enriched"]),
        ]
    );
}

#[test]
fn csv_quoting_roundtrips_commas_newlines_and_quotes() {
    let tricky = strings(&[
        "Doe, Jane",
        "line one\nline two",
        "windows\r\nbreak",
        "she said \"hi\"",
        "",
        "naïve café 😀",
        "'already quoted",
    ]);
    let headers: Vec<String> = (0..tricky.len()).map(|i| format!("h{i}")).collect();
    let mut writer = CsvRowWriter::new(Vec::new(), &headers, &WriterOptions::default()).unwrap();
    writer.write_row(&tricky).unwrap();
    writer
        .write_row(&strings(&["2", "", "", "", "", "", ""]))
        .unwrap();
    let (report, bytes) = writer.into_inner().unwrap();
    assert_eq!(report.rows, 2);

    let rows = read_csv(&bytes);
    assert_eq!(
        rows,
        vec![
            headers.clone(),
            tricky,
            strings(&["2", "", "", "", "", "", ""])
        ]
    );

    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.starts_with('\u{feff}'), "no BOM by default");
    assert!(
        text.starts_with("h0,h1,h2,h3,h4,h5,h6\r\n"),
        "RFC 4180 CRLF: {text:?}"
    );
    assert!(text.contains("\"Doe, Jane\""));
    assert!(text.contains("\"she said \"\"hi\"\"\""));
    assert!(text.ends_with("2,,,,,,\r\n"));
}

#[test]
fn csv_bom_is_optional() {
    let options = WriterOptions {
        csv_bom: true,
        ..WriterOptions::default()
    };
    let writer = CsvRowWriter::new(Vec::new(), &strings(&["name"]), &options).unwrap();
    let (_, bytes) = writer.into_inner().unwrap();
    assert_eq!(bytes, b"\xEF\xBB\xBFname\r\n");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bom.csv");
    let mut writer =
        create_writer_with(&path, OutputFormat::Csv, &strings(&["name"]), &options).unwrap();
    writer.write_row(&strings(&["Zoë"])).unwrap();
    writer.finish().unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        "\u{feff}name\r\nZoë\r\n".as_bytes()
    );
}

#[test]
fn csv_long_cells_are_truncated_and_counted() {
    let long = "x".repeat(40_000);
    let exact = "y".repeat(EXCEL_CELL_LIMIT);
    let mut writer =
        CsvRowWriter::new(Vec::new(), &strings(&["a", "b"]), &WriterOptions::default()).unwrap();
    writer.write_row(&[long.clone(), exact.clone()]).unwrap();
    writer
        .write_row(&[format!("={long}"), "short".to_string()])
        .unwrap();
    writer.write_row(&strings(&["ok", "ok"])).unwrap();
    let (report, bytes) = writer.into_inner().unwrap();
    assert_eq!(
        report,
        WriteReport {
            rows: 3,
            truncated_cells: 2
        }
    );

    let rows = read_csv(&bytes);
    let cut = &rows[1][0];
    assert_eq!(cut.chars().count(), EXCEL_CELL_LIMIT);
    assert!(cut.ends_with(TRUNCATION_MARKER));
    assert!(cut
        .strip_suffix(TRUNCATION_MARKER)
        .unwrap()
        .chars()
        .all(|c| c == 'x'));
    assert_eq!(
        rows[1][1], exact,
        "a cell exactly at the limit is kept whole"
    );
    assert!(
        rows[2][0].starts_with("'=xxx"),
        "the neutralising quote survives truncation"
    );
    assert_eq!(rows[2][0].chars().count(), EXCEL_CELL_LIMIT);
    assert_eq!(rows[3], strings(&["ok", "ok"]));
}

// ---------------------------------------------------------------- XLSX

#[test]
fn xlsx_roundtrips_headers_values_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.xlsx");
    let layout = OutputLayout::new(&strings(&["email", "name", "sif_research"]), None).unwrap();
    let rows: Vec<Vec<String>> = (0..250)
        .map(|i| {
            layout.project(
                &[
                    format!("p{i}@example.com"),
                    format!("Person {i}"),
                    "old".into(),
                ],
                &outcome(
                    &format!("{{\"person\":{{\"name\":\"Person {i}\"}}}}"),
                    &format!("Hello number {i}."),
                ),
            )
        })
        .collect();
    let headers: Vec<&str> = layout.headers().iter().map(String::as_str).collect();
    let report = write_file(&path, OutputFormat::Xlsx, &headers, &rows);
    assert_eq!(
        report,
        WriteReport {
            rows: 250,
            truncated_cells: 0
        }
    );

    let read = read_xlsx(&path);
    assert_eq!(read.len(), 251);
    assert_eq!(
        read[0],
        strings(&[
            "email",
            "name",
            "sif_research",
            "sif_personalized",
            "sif_status"
        ])
    );
    assert_eq!(&read[1..], rows.as_slice());
    assert_eq!(
        read[250],
        strings(&[
            "p249@example.com",
            "Person 249",
            "{\"person\":{\"name\":\"Person 249\"}}",
            "Hello number 249.",
            "enriched"
        ])
    );
    assert_eq!(other_files(dir.path(), &path), Vec::<PathBuf>::new());
}

#[test]
fn xlsx_cells_are_literal_strings_never_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("literal.xlsx");
    let row = strings(&[
        "=1+1",
        "+1",
        "-1",
        "@SUM(A1)",
        "1234",
        "TRUE",
        "_x0041_",
        "a & <b> \"c\"",
        "  padded  ",
        "",
        "line one\nline two",
    ]);
    let headers: Vec<String> = (0..row.len()).map(|i| format!("h{i}")).collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    write_file(
        &path,
        OutputFormat::Xlsx,
        &headers,
        &[row.clone(), strings(&["z"; 11])],
    );

    let read = read_xlsx(&path);
    // XLSX needs no `'` prefix: the text is stored as text, exactly.
    assert_eq!(read[1], row);
    assert_eq!(read[2], strings(&["z"; 11]));

    let mut workbook: Xlsx<_> = open_workbook(&path).unwrap();
    let formulas = workbook.worksheet_formula("Sheet1").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no cell may hold a formula"
    );
}

#[test]
fn xlsx_long_cells_are_truncated_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.xlsx");
    let long = "é".repeat(40_000);
    let exact = "y".repeat(EXCEL_CELL_LIMIT);
    let rows = vec![
        vec![long.clone(), exact.clone()],
        vec!["short".to_string(), long.clone()],
        strings(&["a", "b"]),
    ];
    let report = write_file(&path, OutputFormat::Xlsx, &["research", "other"], &rows);
    assert_eq!(
        report,
        WriteReport {
            rows: 3,
            truncated_cells: 2
        }
    );

    let read = read_xlsx(&path);
    for cut in [&read[1][0], &read[2][1]] {
        assert!(cut.chars().count() <= EXCEL_CELL_LIMIT);
        assert_eq!(cut.encode_utf16().count(), EXCEL_CELL_LIMIT);
        assert!(cut.ends_with(TRUNCATION_MARKER));
        assert!(cut
            .strip_suffix(TRUNCATION_MARKER)
            .unwrap()
            .chars()
            .all(|c| c == 'é'));
    }
    assert_eq!(read[1][1], exact);
    assert_eq!(read[2][0], "short");
    assert_eq!(read[3], strings(&["a", "b"]));
}

#[test]
fn xlsx_control_characters_do_not_break_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("controls.xlsx");
    let rows = vec![
        strings(&[
            "nul\u{0}bell\u{7}esc\u{1B}end",
            "tab\tkept",
            "vt\u{B}ff\u{C}x",
        ]),
        strings(&["\u{1}\u{2}\u{3}", "\u{FFFE}ok\u{FFFF}", "after"]),
    ];
    let report = write_file(&path, OutputFormat::Xlsx, &["a", "b\u{1}", "c"], &rows);
    assert_eq!(report.rows, 2);

    let read = read_xlsx(&path);
    assert_eq!(
        read,
        vec![
            strings(&["a", "b", "c"]),
            strings(&["nulbellescend", "tab\tkept", "vt ff x"]),
            strings(&["", "ok", "after"]),
        ]
    );
}

#[test]
fn xlsx_to_any_writer_buffers_and_writes_on_finish() {
    let buf = SharedBuf::default();
    let mut writer = create_writer_to(
        Box::new(buf.clone()),
        OutputFormat::Xlsx,
        &strings(&["k", "v"]),
    )
    .unwrap();
    writer.write_row(&strings(&["one", "=1"])).unwrap();
    writer.write_row(&strings(&["two", "2"])).unwrap();
    assert!(buf.bytes().is_empty(), "XLSX is written at finish");
    let report = writer.finish().unwrap();
    assert_eq!(report.rows, 2);

    let read = xlsx_rows(open_workbook_from_rs(Cursor::new(buf.bytes())).unwrap());
    assert_eq!(
        read,
        vec![
            strings(&["k", "v"]),
            strings(&["one", "=1"]),
            strings(&["two", "2"])
        ]
    );
}

#[test]
fn xlsx_writer_into_inner_returns_the_bytes() {
    let mut writer =
        XlsxRowWriter::new(Vec::new(), &strings(&["only"]), &WriterOptions::default()).unwrap();
    writer.write_row(&strings(&["value"])).unwrap();
    let (report, bytes) = writer.into_inner().unwrap();
    assert_eq!(
        report,
        WriteReport {
            rows: 1,
            truncated_cells: 0
        }
    );
    assert_eq!(&bytes[..2], b"PK", "an XLSX is a zip");
    let read = xlsx_rows(open_workbook_from_rs(Cursor::new(bytes)).unwrap());
    assert_eq!(read, vec![strings(&["only"]), strings(&["value"])]);
}

#[test]
fn csv_to_any_writer_streams() {
    let buf = SharedBuf::default();
    let mut writer =
        create_writer_to(Box::new(buf.clone()), OutputFormat::Csv, &strings(&["k"])).unwrap();
    writer.write_row(&strings(&["+v"])).unwrap();
    let report = writer.finish().unwrap();
    assert_eq!(report.rows, 1);
    assert_eq!(buf.bytes(), b"k\r\n'+v\r\n");
}

// ---------------------------------------------------------------- paths and errors

#[test]
fn a_missing_directory_is_a_clear_error_before_any_row() {
    let dir = tempfile::tempdir().unwrap();
    for format in [OutputFormat::Csv, OutputFormat::Xlsx] {
        let path = dir.path().join("no/such/dir").join(format!("out.{format}"));
        match create_writer(&path, format, &strings(&["a"])) {
            Err(Error::Output(message)) => {
                assert!(message.contains("does not exist"), "{message}");
                assert!(message.contains("no/such/dir"), "{message}");
            }
            Err(other) => panic!("expected Error::Output, got {other:?}"),
            Ok(_) => panic!("writing under a missing directory must fail"),
        }
    }
}

#[test]
fn a_directory_or_a_file_as_parent_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = create_writer(dir.path(), OutputFormat::Csv, &strings(&["a"])).err();
    assert!(
        matches!(&err, Some(Error::Output(m)) if m.contains("is a directory")),
        "{err:?}"
    );

    let file = dir.path().join("plain.txt");
    std::fs::write(&file, "x").unwrap();
    let err = create_writer(&file.join("out.xlsx"), OutputFormat::Xlsx, &strings(&["a"])).err();
    assert!(
        matches!(&err, Some(Error::Output(m)) if m.contains("is not a directory")),
        "{err:?}"
    );
}

#[test]
fn nothing_appears_at_the_path_until_finish_and_a_dropped_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for format in [OutputFormat::Csv, OutputFormat::Xlsx] {
        let path = dir.path().join(format!("pending.{format}"));
        let mut writer = create_writer(&path, format, &strings(&["a"])).unwrap();
        writer.write_row(&strings(&["1"])).unwrap();
        assert!(!path.exists(), "{format}: result visible before finish");
        drop(writer);
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{format}: partial file left behind"
        );
    }
}

#[test]
fn finish_replaces_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("again.csv");
    std::fs::write(&path, "old contents that are longer than the new ones\n").unwrap();
    write_file(&path, OutputFormat::Csv, &["a"], &[strings(&["new"])]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\r\nnew\r\n");
}

#[test]
fn a_row_of_the_wrong_width_is_refused() {
    for format in [OutputFormat::Csv, OutputFormat::Xlsx] {
        let buf = SharedBuf::default();
        let mut writer =
            create_writer_to(Box::new(buf.clone()), format, &strings(&["a", "b"])).unwrap();
        writer.write_row(&strings(&["1", "2"])).unwrap();
        match writer.write_row(&strings(&["3"])) {
            Err(Error::Output(message)) => assert_eq!(
                message,
                "data row 2 has 1 cells but the output has 2 columns"
            ),
            other => panic!("{format}: expected Error::Output, got {other:?}"),
        }
        writer.write_row(&strings(&["3", "4"])).unwrap();
        assert_eq!(writer.finish().unwrap().rows, 2, "{format}");
    }
}

#[test]
fn an_unusable_xlsx_temp_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        temp_dir: Some(dir.path().join("missing")),
        ..WriterOptions::default()
    };
    let err = XlsxRowWriter::new(Vec::new(), &strings(&["a"]), &options).err();
    assert!(
        matches!(&err, Some(Error::Output(m)) if m.contains("temporary file") && m.contains("missing")),
        "{err:?}"
    );
}

#[test]
fn no_columns_is_an_error() {
    for format in [OutputFormat::Csv, OutputFormat::Xlsx] {
        let err = create_writer_to(Box::new(Vec::new()), format, &[]).err();
        assert!(
            matches!(&err, Some(Error::Output(m)) if m == "the output has no columns"),
            "{format}: {err:?}"
        );
    }
}

fn outcome(research: &str, personalized: &str) -> outreach_core::RowOutcome {
    outreach_core::RowOutcome {
        research: research.into(),
        personalized: personalized.into(),
        status: outreach_core::RowStatus::Enriched,
        draft: None,
    }
}
