//! Which output columns come from where: the input's columns, then the new ones
//! (and the email draft columns when the run has templates).

use std::collections::HashSet;

use crate::campaign::{DraftColumns, BODY_COLUMN, SUBJECT_COLUMN, VARIANT_COLUMN};
use crate::enricher::RowOutcome;
use crate::error::InputError;

use super::{PERSONALIZED_COLUMN, RESEARCH_COLUMN, SOURCES_COLUMN, STATUS_COLUMN};

/// Where one output column takes its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The input column at this index.
    Input(usize),
    Research,
    Personalized,
    Status,
    Sources,
    Subject,
    Body,
    Variant,
}

/// Which output columns come from where.
///
/// Built once per run from the input headers; [`OutputLayout::project`] then turns each
/// input row and its outcome into an output row with exactly `headers().len()` cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLayout {
    headers: Vec<String>,
    sources: Vec<Source>,
}

impl OutputLayout {
    /// Output = every input column except any named `sif_research`, `sif_personalized`,
    /// `sif_status` or `sif_sources` (they are replaced), then `sif_research`,
    /// `sif_personalized`, `sif_status`.
    ///
    /// With `output_columns = Some(list)`, exactly those columns in that order. The list may
    /// name the sif columns, including the optional `sif_sources` (the evidence URLs, one
    /// per line); every other name must be an input header (matched exactly;
    /// when the input repeats a header, the first such column is used), else
    /// `InputError::UnknownColumn`. A name listed twice is `InputError::DuplicateColumn`, and
    /// an empty list is an error too: it would export nothing.
    ///
    /// Input headers are compared after trimming surrounding whitespace when deciding
    /// whether an input column is a sif column, so ` sif_research` is replaced as well.
    pub fn new(
        input_headers: &[String],
        output_columns: Option<&[String]>,
    ) -> crate::Result<OutputLayout> {
        Self::with_drafts(input_headers, output_columns, DraftColumns::None)
    }

    /// [`OutputLayout::new`] for a run with email templates: the default layout ends
    /// with `email_subject`, `email_body` (and `variant` with several variants); input
    /// columns of those names are replaced. A selected list may name them.
    pub fn with_drafts(
        input_headers: &[String],
        output_columns: Option<&[String]>,
        drafts: DraftColumns,
    ) -> crate::Result<OutputLayout> {
        match output_columns {
            None => Ok(Self::default_layout(input_headers, drafts)),
            Some(list) => Self::selected(input_headers, list, drafts),
        }
    }

    fn default_layout(input_headers: &[String], drafts: DraftColumns) -> OutputLayout {
        let mut headers = Vec::with_capacity(input_headers.len() + 6);
        let mut sources = Vec::with_capacity(input_headers.len() + 6);
        for (index, header) in input_headers.iter().enumerate() {
            if is_sif_column(header) || drafts.names().contains(&header.trim()) {
                continue;
            }
            headers.push(header.clone());
            sources.push(Source::Input(index));
        }
        headers.push(RESEARCH_COLUMN.to_string());
        sources.push(Source::Research);
        headers.push(PERSONALIZED_COLUMN.to_string());
        sources.push(Source::Personalized);
        headers.push(STATUS_COLUMN.to_string());
        sources.push(Source::Status);
        for name in drafts.names() {
            headers.push(name.to_string());
            sources.push(draft_source(name).unwrap_or(Source::Variant));
        }
        OutputLayout { headers, sources }
    }

    fn selected(
        input_headers: &[String],
        list: &[String],
        drafts: DraftColumns,
    ) -> crate::Result<OutputLayout> {
        if list.is_empty() {
            return Err(InputError::Other(
                "the list of output columns is empty: name at least one column, or omit the list to export all"
                    .to_string(),
            )
            .into());
        }
        let mut seen = HashSet::with_capacity(list.len());
        let mut sources = Vec::with_capacity(list.len());
        for name in list {
            if !seen.insert(name.as_str()) {
                return Err(InputError::DuplicateColumn(name.clone()).into());
            }
            let source = if name == RESEARCH_COLUMN {
                Source::Research
            } else if name == PERSONALIZED_COLUMN {
                Source::Personalized
            } else if name == STATUS_COLUMN {
                Source::Status
            } else if name == SOURCES_COLUMN {
                Source::Sources
            } else if let Some(source) =
                draft_source(name).filter(|_| drafts.names().contains(&name.as_str()))
            {
                source
            } else {
                match input_headers.iter().position(|h| h == name) {
                    Some(index) => Source::Input(index),
                    None => return Err(InputError::UnknownColumn(name.clone()).into()),
                }
            };
            sources.push(source);
        }
        Ok(OutputLayout {
            headers: list.to_vec(),
            sources,
        })
    }

    /// The output header row.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Build one output row from an input row and its outcome (drafts included).
    ///
    /// A short (ragged) input row yields empty cells for its missing columns; cells beyond
    /// the input headers are ignored.
    pub fn project(&self, input_row: &[String], outcome: &RowOutcome) -> Vec<String> {
        let draft = outcome.draft.as_ref();
        self.sources
            .iter()
            .map(|source| match *source {
                Source::Input(index) => input_row.get(index).cloned().unwrap_or_default(),
                Source::Research => outcome.research.clone(),
                Source::Personalized => outcome.personalized.clone(),
                Source::Status => outcome.status.as_str().to_string(),
                Source::Sources => outcome.sources_cell(),
                Source::Subject => draft.map(|d| d.subject.clone()).unwrap_or_default(),
                Source::Body => draft.map(|d| d.body.clone()).unwrap_or_default(),
                Source::Variant => draft.map(|d| d.variant.clone()).unwrap_or_default(),
            })
            .collect()
    }
}

fn draft_source(name: &str) -> Option<Source> {
    match name {
        SUBJECT_COLUMN => Some(Source::Subject),
        BODY_COLUMN => Some(Source::Body),
        VARIANT_COLUMN => Some(Source::Variant),
        _ => None,
    }
}

/// True for an input header that names one of the columns this crate writes.
fn is_sif_column(header: &str) -> bool {
    let header = header.trim();
    [
        RESEARCH_COLUMN,
        PERSONALIZED_COLUMN,
        STATUS_COLUMN,
        SOURCES_COLUMN,
    ]
    .contains(&header)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::enricher::RowStatus;

    fn o(r: &str, p: &str) -> RowOutcome {
        RowOutcome {
            research: r.into(),
            personalized: p.into(),
            status: RowStatus::Enriched,
            draft: None,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ragged_rows_are_padded_and_extra_cells_dropped() {
        let layout = OutputLayout::new(&strings(&["a", "b"]), None).unwrap();
        assert_eq!(
            layout.project(&strings(&["1"]), &o("r", "p")),
            strings(&["1", "", "r", "p", "enriched"])
        );
        assert_eq!(
            layout.project(&strings(&["1", "2", "3"]), &o("r", "p")),
            strings(&["1", "2", "r", "p", "enriched"])
        );
    }

    #[test]
    fn padded_sif_header_is_replaced() {
        let layout = OutputLayout::new(&strings(&[" sif_research ", "x"]), None).unwrap();
        assert_eq!(
            layout.headers(),
            strings(&["x", RESEARCH_COLUMN, PERSONALIZED_COLUMN, STATUS_COLUMN]).as_slice()
        );
        assert_eq!(
            layout.project(&strings(&["old", "1"]), &o("new", "p")),
            strings(&["1", "new", "p", "enriched"])
        );
    }

    #[test]
    fn repeated_input_header_selects_the_first() {
        let headers = strings(&["Name", "Name"]);
        let list = strings(&["Name"]);
        let layout = OutputLayout::new(&headers, Some(&list)).unwrap();
        assert_eq!(
            layout.project(&strings(&["first", "second"]), &o("r", "p")),
            strings(&["first"])
        );
    }

    #[test]
    fn empty_selection_is_an_error() {
        let err = OutputLayout::new(&strings(&["a"]), Some(&[]))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid input: the list of output columns is empty: name at least one column, or omit the list to export all")
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod status_and_sources {
    use super::*;
    use crate::enricher::RowStatus;

    #[test]
    fn status_by_default_sources_on_request() {
        let headers = vec!["email".to_string(), "sif_status".to_string()];
        let layout = OutputLayout::new(&headers, None).unwrap();
        assert_eq!(
            layout.headers(),
            ["email", "sif_research", "sif_personalized", "sif_status"]
        );
        let research = r#"{"person":{"name":"J","title":"unknown","info":[]},"company":{"name":"A","domain":"a.io","info":["x"],"moat":"unknown"},"evidence":[],"identity":"company_only","sources":["https://a.io/1","https://b.io/2"],"version":2}"#;
        let outcome = RowOutcome {
            research: research.into(),
            personalized: "Hi.".into(),
            status: RowStatus::NoSignal,
            draft: None,
        };
        let row = vec!["a@a.io".to_string(), "old".to_string()];
        assert_eq!(layout.project(&row, &outcome)[3], "no_signal");
        let list = vec![
            "email".to_string(),
            "sif_sources".to_string(),
            "sif_status".to_string(),
        ];
        let layout = OutputLayout::new(&headers, Some(&list)).unwrap();
        assert_eq!(
            layout.project(&row, &outcome),
            ["a@a.io", "https://a.io/1\nhttps://b.io/2", "no_signal"]
        );
    }

    #[test]
    fn draft_columns_follow_the_sif_columns_and_replace_input_ones() {
        use crate::campaign::EmailDraft;
        fn strings(items: &[&str]) -> Vec<String> {
            items.iter().map(|s| s.to_string()).collect()
        }
        let headers = strings(&["email", "email_subject", "x"]);
        let layout = OutputLayout::with_drafts(&headers, None, DraftColumns::WithVariant).unwrap();
        assert_eq!(
            layout.headers(),
            strings(&[
                "email",
                "x",
                RESEARCH_COLUMN,
                PERSONALIZED_COLUMN,
                STATUS_COLUMN,
                "email_subject",
                "email_body",
                "variant"
            ])
            .as_slice()
        );
        let outcome = RowOutcome {
            research: "r".into(),
            personalized: "p".into(),
            status: RowStatus::Enriched,
            draft: Some(EmailDraft {
                subject: "S".into(),
                body: "B".into(),
                variant: "A".into(),
            }),
        };
        assert_eq!(
            layout.project(&strings(&["e", "old", "1"]), &outcome),
            strings(&["e", "1", "r", "p", "enriched", "S", "B", "A"])
        );
        // Without templates an input `email_subject` is an ordinary column.
        let plain = OutputLayout::new(&headers, None).unwrap();
        assert_eq!(plain.headers()[1], "email_subject");
        let list = strings(&["email_body", "email"]);
        let picked =
            OutputLayout::with_drafts(&headers, Some(&list), DraftColumns::SubjectBody).unwrap();
        assert_eq!(
            picked.project(&strings(&["e", "old", "1"]), &outcome),
            strings(&["B", "e"])
        );
    }
}
