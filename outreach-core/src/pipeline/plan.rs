//! The plan of a run, built once before any provider call: headers, the email column
//! (guessed from a sample of `EMAIL_SAMPLE_ROWS` rows unless named), the role columns
//! (name, company, title, …), the template check, the output layout (with the draft
//! columns) and the number of rows the run covers.

use std::path::PathBuf;
use std::sync::Arc;

use super::{blocking, blocking_cancellable};
use crate::campaign::{Drafts, SuppressionList};
use crate::error::Result;
use crate::input::{self, ColumnOverrides, ProspectColumns, RowReader, EMAIL_SAMPLE_ROWS};
use crate::output::OutputLayout;

/// What a run asks of its input: the driver's options, the run's templates.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// The email column's header; guessed when `None`.
    pub email_column: Option<String>,
    /// The user's choice of role columns; the rest are guessed.
    pub columns: ColumnOverrides,
    /// Restrict and order the output columns.
    pub output_columns: Option<Vec<String>>,
    /// Stop after this many rows.
    pub limit: Option<u64>,
    /// Templates, checked against the headers; the layout gets their columns.
    pub drafts: Option<Arc<Drafts>>,
    /// Count the rows (within `limit`) on this do-not-contact list (job creation does,
    /// so they are not charged).
    pub count_suppressed: Option<Arc<SuppressionList>>,
}

/// What every driver needs to know before the first row.
#[derive(Debug, Clone)]
pub struct Plan {
    pub headers: Vec<String>,
    /// Where each row holds its email and its role columns.
    pub columns: ProspectColumns,
    pub layout: OutputLayout,
    /// Data rows the run covers (the file's rows, capped by `limit`).
    pub rows: u64,
    /// Rows on [`PlanRequest::count_suppressed`] (0 when not asked).
    pub suppressed: u64,
}

/// A file opened for a run: its reader, positioned after the sample rows it already
/// read for the email guess (they are the first rows of the run).
pub struct OpenedInput {
    pub reader: RowReader,
    pub sample: Vec<Vec<String>>,
}

impl Plan {
    /// The email cell's position in each row.
    pub fn email_index(&self) -> usize {
        self.columns.email
    }

    /// The email column's header.
    pub fn email_column(&self) -> &str {
        self.headers
            .get(self.columns.email)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Opens `path`, reads a sample, resolves the columns and the output layout, and
    /// counts the rows (a second, cheap pass). A file with a header and no rows is
    /// refused. The reader comes back positioned after the sample, for the run.
    pub async fn open(path: PathBuf, req: PlanRequest) -> Result<(Plan, OpenedInput)> {
        blocking(move || {
            let reader = RowReader::open(&path)?;
            build(reader, &req, || Ok(input::read_summary(&path)?.rows))
        })
        .await
    }

    /// [`Plan::open`] for a check only (job creation): no reader kept, and the reading
    /// stops if this future is dropped (a timed-out request, a closed connection).
    pub async fn inspect(path: PathBuf, req: PlanRequest) -> Result<Plan> {
        blocking_cancellable(move |cancel| {
            let reader = RowReader::open_cancellable(&path, cancel.clone())?;
            let (mut plan, opened) = build(reader, &req, || {
                Ok(input::read_summary_cancellable(&path, &cancel)?.rows)
            })?;
            if let Some(list) = req.count_suppressed.as_deref().filter(|l| !l.is_empty()) {
                let OpenedInput { reader, sample } = opened;
                let within = usize::try_from(plan.rows).unwrap_or(usize::MAX);
                let email = plan.columns.email;
                let mut n = 0u64;
                for row in sample.into_iter().map(Ok).chain(reader).take(within) {
                    if list.matches(row?.get(email).map(String::as_str).unwrap_or("")) {
                        n += 1;
                    }
                }
                plan.suppressed = n;
            }
            Ok(plan)
        })
        .await
    }

    /// The plan for rows already in memory. With no rows and no email column named,
    /// there is nothing to guess from and nothing to enrich: the first column stands in.
    pub fn for_rows(headers: &[String], rows: &[Vec<String>], req: &PlanRequest) -> Result<Plan> {
        let sample = &rows[..rows.len().min(EMAIL_SAMPLE_ROWS)];
        let email_index =
            match input::resolve_email_column(headers, req.email_column.as_deref(), sample) {
                Ok(i) => i,
                Err(_) if rows.is_empty() && req.email_column.is_none() => 0,
                Err(e) => return Err(e.into()),
            };
        let count = rows.len() as u64;
        let mut plan = resolve(headers.to_vec(), email_index, req, count)?;
        if let Some(list) = req.count_suppressed.as_deref().filter(|l| !l.is_empty()) {
            let within = usize::try_from(plan.rows).unwrap_or(usize::MAX);
            plan.suppressed = rows
                .iter()
                .take(within)
                .filter(|r| list.matches(r.get(email_index).map(String::as_str).unwrap_or("")))
                .count() as u64;
        }
        Ok(plan)
    }
}

/// The sample, the columns, the layout and the count, once for every driver.
fn build(
    mut reader: RowReader,
    req: &PlanRequest,
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
    let email_index = input::resolve_email_column(&headers, req.email_column.as_deref(), &sample)?;
    // Everything that can be refused from the headers is checked before counting.
    let mut plan = resolve(headers, email_index, req, 0)?;
    let rows = count_rows()?;
    plan.rows = req.limit.map_or(rows, |l| rows.min(l));
    Ok((plan, OpenedInput { reader, sample }))
}

/// Role columns, template check and layout for these headers.
fn resolve(headers: Vec<String>, email_index: usize, req: &PlanRequest, rows: u64) -> Result<Plan> {
    let columns = ProspectColumns::resolve(&headers, email_index, &req.columns)?;
    // Template errors surface here, before any provider call or charge.
    if let Some(drafts) = &req.drafts {
        drafts.check(&headers)?;
    }
    let draft_columns =
        crate::campaign::DraftColumns::for_spec(req.drafts.as_deref().map(Drafts::spec));
    let layout = OutputLayout::with_drafts(&headers, req.output_columns.as_deref(), draft_columns)?;
    Ok(Plan {
        headers,
        columns,
        layout,
        rows: req.limit.map_or(rows, |l| rows.min(l)),
        suppressed: 0,
    })
}
