//! The plan of a run, built once before any provider call: headers, the email column
//! (guessed from a sample of `EMAIL_SAMPLE_ROWS` rows unless named), the output layout
//! and the number of rows the run covers.

use std::path::PathBuf;

use super::{blocking, blocking_cancellable};
use crate::error::Result;
use crate::input::{self, RowReader, EMAIL_SAMPLE_ROWS};
use crate::output::OutputLayout;

/// What every driver needs to know before the first row. Column roles beyond the email
/// (name, company, title) belong beside `email_index`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub headers: Vec<String>,
    pub email_index: usize,
    pub layout: OutputLayout,
    /// Data rows the run covers (the file's rows, capped by `limit`).
    pub rows: u64,
}

/// A file opened for a run: its reader, positioned after the sample rows it already
/// read for the email guess (they are the first rows of the run).
pub struct OpenedInput {
    pub reader: RowReader,
    pub sample: Vec<Vec<String>>,
}

impl Plan {
    /// The email column's header.
    pub fn email_column(&self) -> &str {
        self.headers
            .get(self.email_index)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Opens `path`, reads a sample, resolves the email column and the output layout,
    /// and counts the rows (a second, cheap pass). A file with a header and no rows is
    /// refused. The reader comes back positioned after the sample, for the run.
    pub async fn open(
        path: PathBuf,
        email_column: Option<String>,
        output_columns: Option<Vec<String>>,
        limit: Option<u64>,
    ) -> Result<(Plan, OpenedInput)> {
        blocking(move || {
            let reader = RowReader::open(&path)?;
            let (plan, opened) = build(reader, email_column, output_columns, limit, || {
                Ok(input::read_summary(&path)?.rows)
            })?;
            Ok((plan, opened))
        })
        .await
    }

    /// [`Plan::open`] for a check only (job creation): no reader kept, and the reading
    /// stops if this future is dropped (a timed-out request, a closed connection).
    pub async fn inspect(
        path: PathBuf,
        email_column: Option<String>,
        output_columns: Option<Vec<String>>,
        limit: Option<u64>,
    ) -> Result<Plan> {
        blocking_cancellable(move |cancel| {
            let reader = RowReader::open_cancellable(&path, cancel.clone())?;
            let (plan, _) = build(reader, email_column, output_columns, limit, || {
                Ok(input::read_summary_cancellable(&path, &cancel)?.rows)
            })?;
            Ok(plan)
        })
        .await
    }

    /// The plan for rows already in memory. With no rows and no email column named,
    /// there is nothing to guess from and nothing to enrich: the first column stands in.
    pub fn for_rows(
        headers: &[String],
        rows: &[Vec<String>],
        email_column: Option<&str>,
        output_columns: Option<&[String]>,
        limit: Option<u64>,
    ) -> Result<Plan> {
        let sample = &rows[..rows.len().min(EMAIL_SAMPLE_ROWS)];
        let email_index = match input::resolve_email_column(headers, email_column, sample) {
            Ok(i) => i,
            Err(_) if rows.is_empty() && email_column.is_none() => 0,
            Err(e) => return Err(e.into()),
        };
        let layout = OutputLayout::new(headers, output_columns)?;
        let count = rows.len() as u64;
        Ok(Plan {
            headers: headers.to_vec(),
            email_index,
            layout,
            rows: limit.map_or(count, |l| count.min(l)),
        })
    }
}

/// The sample, the email column, the layout and the count, once for every driver.
fn build(
    mut reader: RowReader,
    email_column: Option<String>,
    output_columns: Option<Vec<String>>,
    limit: Option<u64>,
    count_rows: impl FnOnce() -> Result<u64>,
) -> Result<(Plan, OpenedInput)> {
    let mut sample = Vec::with_capacity(EMAIL_SAMPLE_ROWS);
    for row in reader.by_ref().take(EMAIL_SAMPLE_ROWS) {
        sample.push(row?);
    }
    if sample.is_empty() {
        return Err(crate::InputError::HeaderOnly.into());
    }
    let headers = reader.headers().to_vec();
    let email_index = input::resolve_email_column(&headers, email_column.as_deref(), &sample)?;
    let layout = OutputLayout::new(&headers, output_columns.as_deref())?;
    let rows = count_rows()?;
    let plan = Plan {
        headers,
        email_index,
        layout,
        rows: limit.map_or(rows, |l| rows.min(l)),
    };
    Ok((plan, OpenedInput { reader, sample }))
}
