//! Properties: whatever text goes in, reading the file back gives exactly the cleaned
//! text, in order, and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Cursor;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use outreach_core::output::sanitize::{neutralise_formula, strip_xml_forbidden};
use outreach_core::output::{CsvRowWriter, RowWriter, WriterOptions, XlsxRowWriter};
use proptest::prelude::*;

/// Rows of 1..4 equal-width cells of any text, short enough to stay under the cell limit.
fn table() -> impl Strategy<Value = Vec<Vec<String>>> {
    (1usize..4).prop_flat_map(|width| {
        prop::collection::vec(prop::collection::vec(any::<String>(), width), 0..12)
    })
}

fn headers(width: usize) -> Vec<String> {
    (0..width).map(|i| format!("col{i}")).collect()
}

proptest! {
    #[test]
    fn csv_reads_back_as_the_neutralised_text(rows in table()) {
        let width = rows.first().map_or(1, Vec::len);
        let mut writer = CsvRowWriter::new(Vec::new(), &headers(width), &WriterOptions::default()).unwrap();
        for row in &rows {
            writer.write_row(row).unwrap();
        }
        let (report, bytes) = writer.into_inner().unwrap();
        prop_assert_eq!(report.rows, rows.len() as u64);
        prop_assert_eq!(report.truncated_cells, 0);

        let read: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes.as_slice())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        let expected: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|c| neutralise_formula(c).into_owned()).collect())
            .collect();
        prop_assert_eq!(read, expected);
    }
}

proptest! {
    // Each case builds a whole workbook; fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn xlsx_reads_back_as_the_text_minus_xml_forbidden_characters(rows in table()) {
        let width = rows.first().map_or(1, Vec::len);
        let mut writer = XlsxRowWriter::new(Vec::new(), &headers(width), &WriterOptions::default()).unwrap();
        for row in &rows {
            writer.write_row(row).unwrap();
        }
        let (report, bytes) = writer.into_inner().unwrap();
        prop_assert_eq!(report.rows, rows.len() as u64);

        let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
        let range = workbook.worksheet_range_at(0).unwrap().unwrap();
        let mut read = vec![vec![String::new(); width]; rows.len() + 1];
        for (r, c, cell) in range.used_cells() {
            read[r][c] = match cell {
                Data::String(s) => s.clone(),
                other => panic!("not a string: {other:?}"),
            };
        }
        prop_assert_eq!(&read[0], &headers(width));
        let expected: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|c| strip_xml_forbidden(c).into_owned()).collect())
            .collect();
        prop_assert_eq!(&read[1..], expected.as_slice());
    }
}
