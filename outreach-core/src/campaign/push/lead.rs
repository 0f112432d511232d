//! A result row as a destination sees it: who the person is, the opener, the email
//! draft and a short research summary, read from the columns a run wrote.

use std::path::Path;

use crate::campaign::{BODY_COLUMN, SUBJECT_COLUMN, VARIANT_COLUMN};
use crate::enricher::RowStatus;
use crate::error::{InputError, Result};
use crate::fallback::PERSONALIZED_PREFIX;
use crate::input::{guess_email_column, ColumnRole, ColumnRoles, RowReader, EMAIL_SAMPLE_ROWS};
use crate::output::{PERSONALIZED_COLUMN, RESEARCH_COLUMN, STATUS_COLUMN};
use crate::research::model::{is_unknown, Research};

/// The longest research summary sent (custom fields are short text in every service).
const SUMMARY_CHARS: usize = 500;

/// One row to push, normalised; adapters map it to their own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lead {
    /// 1-based data row of the pushed file.
    pub row: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub title: String,
    pub website: String,
    /// `sif_personalized` (empty when the run wrote a fallback instead).
    pub opener: String,
    pub subject: String,
    pub body: String,
    pub variant: String,
    /// A line from the verified research: title, company, first facts.
    pub research_summary: String,
    /// The row's `sif_status` says `suppressed`: it is never pushed.
    pub suppressed: bool,
}

impl Lead {
    /// True when the email cell holds one plausible address.
    pub fn has_valid_email(&self) -> bool {
        crate::research::email::parse_email(&self.email).is_some()
    }

    /// The custom fields every destination gets, by our column names.
    pub fn custom_fields(&self) -> Vec<(&'static str, &str)> {
        let mut fields = vec![(PERSONALIZED_COLUMN, self.opener.as_str())];
        if !self.subject.is_empty() || !self.body.is_empty() {
            fields.push((SUBJECT_COLUMN, self.subject.as_str()));
            fields.push((BODY_COLUMN, self.body.as_str()));
        }
        if !self.variant.is_empty() {
            fields.push((VARIANT_COLUMN, self.variant.as_str()));
        }
        fields.push(("sif_research_summary", self.research_summary.as_str()));
        fields
    }
}

/// Where the fields of a [`Lead`] are in a result file's rows.
#[derive(Debug, Clone, Default)]
pub struct LeadColumns {
    email: usize,
    roles: ColumnRoles,
    opener: Option<usize>,
    subject: Option<usize>,
    body: Option<usize>,
    variant: Option<usize>,
    research: Option<usize>,
    status: Option<usize>,
}

impl LeadColumns {
    /// Finds the columns by name; the email column is guessed the way a run guesses it.
    pub fn find(headers: &[String], sample_rows: &[Vec<String>]) -> Result<LeadColumns> {
        let email = guess_email_column(headers, sample_rows).ok_or_else(|| {
            InputError::MissingEmailColumn("the file to push has no email column".into())
        })?;
        let by_name = |name: &str| headers.iter().position(|h| h == name);
        Ok(LeadColumns {
            email,
            roles: ColumnRoles::guess(headers, Some(email)),
            opener: by_name(PERSONALIZED_COLUMN),
            subject: by_name(SUBJECT_COLUMN),
            body: by_name(BODY_COLUMN),
            variant: by_name(VARIANT_COLUMN),
            research: by_name(RESEARCH_COLUMN),
            status: by_name(STATUS_COLUMN),
        })
    }

    /// The lead of one row.
    pub fn lead(&self, row_number: u64, row: &[String]) -> Lead {
        let cell = |i: Option<usize>| {
            i.and_then(|i| row.get(i))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let role = |r: ColumnRole| cell(self.roles.get(r));
        let (mut first_name, mut last_name) =
            (role(ColumnRole::FirstName), role(ColumnRole::LastName));
        if first_name.is_empty() && last_name.is_empty() {
            let full = role(ColumnRole::FullName);
            let mut parts = full.splitn(2, char::is_whitespace);
            first_name = parts.next().unwrap_or_default().trim().to_string();
            last_name = parts.next().unwrap_or_default().trim().to_string();
        }
        let mut opener = cell(self.opener);
        if opener.starts_with(PERSONALIZED_PREFIX.trim_end()) {
            opener.clear();
        }
        let research = Research::from_cell(&cell(self.research));
        Lead {
            row: row_number,
            email: cell(Some(self.email)),
            first_name,
            last_name,
            company: {
                let c = role(ColumnRole::Company);
                match (&research, c.is_empty()) {
                    (Some(r), true) if !is_unknown(&r.company.name) => r.company.name.clone(),
                    _ => c,
                }
            },
            title: role(ColumnRole::Title),
            website: role(ColumnRole::Website),
            opener,
            subject: cell(self.subject),
            body: cell(self.body),
            variant: cell(self.variant),
            research_summary: research.as_ref().map(summary).unwrap_or_default(),
            suppressed: cell(self.status) == RowStatus::Suppressed.as_str(),
        }
    }
}

/// "Head of Sales at Acme: fact; fact" cut to [`SUMMARY_CHARS`].
fn summary(research: &Research) -> String {
    let mut who = Vec::new();
    if !is_unknown(&research.person.title) {
        who.push(research.person.title.clone());
    }
    if !is_unknown(&research.company.name) {
        who.push(research.company.name.clone());
    }
    let facts: Vec<&str> = research.facts().take(3).collect();
    let mut text = who.join(" at ");
    if !facts.is_empty() {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&facts.join("; "));
    }
    match text.char_indices().nth(SUMMARY_CHARS) {
        Some((end, _)) => text[..end].to_string(),
        None => text,
    }
}

/// Reads `path` in batches of `batch_size` leads into `tx`; stops when the receiver is
/// gone. Runs on a blocking thread.
pub(super) fn read_batches(
    path: &Path,
    batch_size: usize,
    tx: &tokio::sync::mpsc::Sender<Result<Vec<Lead>>>,
) {
    let send = |item| tx.blocking_send(item).is_ok();
    let mut reader = match RowReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            send(Err(e));
            return;
        }
    };
    let headers = reader.headers().to_vec();
    // The email guess looks at the first rows; they are kept and pushed first.
    let mut sample = Vec::new();
    for row in reader.by_ref().take(EMAIL_SAMPLE_ROWS) {
        match row {
            Ok(row) => sample.push(row),
            Err(e) => {
                send(Err(e));
                return;
            }
        }
    }
    let columns = match LeadColumns::find(&headers, &sample) {
        Ok(c) => c,
        Err(e) => {
            send(Err(e));
            return;
        }
    };
    let mut batch = Vec::with_capacity(batch_size);
    let mut number = 0u64;
    for row in sample.into_iter().map(Ok).chain(reader) {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                send(Err(e));
                return;
            }
        };
        number += 1;
        batch.push(columns.lead(number, &row));
        if batch.len() == batch_size && !send(Ok(std::mem::take(&mut batch))) {
            return;
        }
    }
    if !batch.is_empty() {
        send(Ok(batch));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_result_row_becomes_a_lead() {
        let headers = strings(&[
            "Email",
            "Full Name",
            "Company",
            "sif_research",
            "sif_personalized",
            "sif_status",
            "email_subject",
            "email_body",
        ]);
        let research = r#"{"person":{"name":"Jane Roe","title":"Head of Sales","info":[]},"company":{"name":"Acme","domain":"acme.com","info":["Acme makes rockets"],"moat":"unknown"},"evidence":[]}"#;
        let row = strings(&[
            "jane@acme.com",
            "Jane van Roe",
            "",
            research,
            "Loved the rocket launch.",
            "ok",
            "Hi Jane",
            "Body",
        ]);
        let columns = LeadColumns::find(&headers, std::slice::from_ref(&row)).unwrap();
        let lead = columns.lead(1, &row);
        assert_eq!(lead.email, "jane@acme.com");
        assert_eq!(
            (lead.first_name.as_str(), lead.last_name.as_str()),
            ("Jane", "van Roe")
        );
        assert_eq!(lead.company, "Acme");
        assert_eq!(lead.opener, "Loved the rocket launch.");
        assert_eq!(
            lead.research_summary,
            "Head of Sales at Acme: Acme makes rockets"
        );
        assert_eq!(
            (lead.subject.as_str(), lead.body.as_str()),
            ("Hi Jane", "Body")
        );
        assert!(!lead.suppressed);

        let fallback = strings(&[
            "bob@beta.io",
            "Bob",
            "Beta",
            "Research unavailable: invalid email.",
            "SIF personalized line unavailable: no research.",
            "suppressed",
            "",
            "",
        ]);
        let lead = columns.lead(2, &fallback);
        assert_eq!(lead.opener, "");
        assert_eq!(lead.research_summary, "");
        assert_eq!(lead.company, "Beta");
        assert!(lead.suppressed);
    }
}
