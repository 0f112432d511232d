//! From lines to campaigns: what happens to a row around its enrichment.
//!
//! - [`suppress`]: the do-not-contact list, applied *before* the enricher: a listed row
//!   makes no provider call, is not charged, keeps its place with status `suppressed`
//!   and empty cells, and is never pushed.
//! - [`template`]: email drafts (subject + body) rendered from MiniJinja templates
//!   *after* the enricher, into the `email_subject` and `email_body` columns.
//! - [`variant`]: A/B variants, several template pairs assigned by a seeded hash of the
//!   row's email, recorded in the `variant` column.
//!
//! A run carries one [`Campaign`] (in `EnricherConfig`); the chunk processor calls
//! [`Campaign::suppressed`] before each row and [`Campaign::draft_rows`] after a chunk.

pub mod push;
pub mod settings;
pub mod suppress;
pub mod template;
pub mod variant;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use suppress::{Entry, ParseReport, SuppressionList};
pub use template::Drafts;

use crate::enricher::{RowOutcome, RowStatus};

/// Output column of the rendered subject.
pub const SUBJECT_COLUMN: &str = "email_subject";
/// Output column of the rendered body.
pub const BODY_COLUMN: &str = "email_body";
/// Output column naming the variant a row got (only with more than one variant).
pub const VARIANT_COLUMN: &str = "variant";

/// One template pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantSpec {
    /// Shown in the `variant` column; `A`, `B`, … when empty.
    #[serde(default)]
    pub name: String,
    pub subject: String,
    pub body: String,
    /// Relative share of rows (default 1: equal shares).
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

/// The templates of a run: one pair, or several with their weights.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftSpec {
    pub variants: Vec<VariantSpec>,
    /// Seeds the variant assignment: the same seed gives every person the same
    /// variant in every run; empty is a valid seed.
    #[serde(default)]
    pub seed: String,
}

impl DraftSpec {
    /// One subject and body, no variants.
    pub fn single(subject: impl Into<String>, body: impl Into<String>) -> Self {
        DraftSpec {
            variants: vec![VariantSpec {
                name: String::new(),
                subject: subject.into(),
                body: body.into(),
                weight: 1,
            }],
            seed: String::new(),
        }
    }

    /// The spec front ends build from their arguments: a single subject/body pair
    /// and/or a list of variants (the single pair becomes the first variant). `None`
    /// when nothing was given; an error when only one of subject and body was.
    pub fn from_parts(
        subject: Option<String>,
        body: Option<String>,
        variants: Vec<VariantSpec>,
        seed: Option<String>,
    ) -> crate::Result<Option<DraftSpec>> {
        let mut all = Vec::with_capacity(variants.len() + 1);
        match (subject, body) {
            (Some(subject), Some(body)) => all.push(VariantSpec {
                name: String::new(),
                subject,
                body,
                weight: 1,
            }),
            (None, None) => {}
            _ => {
                return Err(crate::InputError::Other(
                    "give both a subject template and a body template".into(),
                )
                .into())
            }
        }
        all.extend(variants);
        if all.is_empty() {
            return Ok(None);
        }
        Ok(Some(DraftSpec {
            variants: all,
            seed: seed.unwrap_or_default(),
        }))
    }

    /// Unnamed variants get `A`, `B`, …
    fn normalised(mut self) -> Self {
        for (i, v) in self.variants.iter_mut().enumerate() {
            if v.name.trim().is_empty() {
                v.name = variant_letter(i);
            } else {
                v.name = v.name.trim().to_string();
            }
        }
        self
    }

    /// How errors name a template: `body`, or `variant `B` body` with variants.
    fn label(&self, index: usize, part: &str) -> String {
        if self.variants.len() > 1 {
            let name = self
                .variants
                .get(index)
                .map_or_else(|| variant_letter(index), |v| v.name.clone());
            format!("variant `{name}` {part}")
        } else {
            part.to_string()
        }
    }
}

fn variant_letter(i: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    match letters.get(i) {
        Some(&c) => char::from(c).to_string(),
        None => format!("V{}", i + 1),
    }
}

/// What the templates made of one row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailDraft {
    pub subject: String,
    pub body: String,
    pub variant: String,
}

/// The campaign settings of one run: who not to contact, which templates to render.
#[derive(Debug, Clone, Default)]
pub struct Campaign {
    pub suppression: Option<Arc<SuppressionList>>,
    pub drafts: Option<Arc<Drafts>>,
}

impl Campaign {
    /// The outcome of a listed row (no provider call, nothing charged), or `None` for a
    /// row to enrich.
    pub fn suppressed(&self, email_cell: &str) -> Option<RowOutcome> {
        let list = self.suppression.as_ref()?;
        list.matches(email_cell).then(|| RowOutcome {
            research: String::new(),
            personalized: String::new(),
            status: RowStatus::Suppressed,
            draft: None,
        })
    }

    /// Render the drafts of a chunk's rows (suppressed rows get none).
    pub fn draft_rows(
        &self,
        headers: &[String],
        rows: &[Vec<String>],
        email_index: usize,
        outcomes: &mut [RowOutcome],
    ) {
        let Some(drafts) = &self.drafts else { return };
        for (row, outcome) in rows.iter().zip(outcomes.iter_mut()) {
            if outcome.status == RowStatus::Suppressed {
                continue;
            }
            let email = row.get(email_index).map(String::as_str).unwrap_or("");
            outcome.draft = Some(drafts.render(headers, row, email, outcome));
        }
    }

    /// Which draft columns the output gets.
    pub fn draft_columns(&self) -> DraftColumns {
        match &self.drafts {
            None => DraftColumns::None,
            Some(d) if d.has_variants() => DraftColumns::WithVariant,
            Some(_) => DraftColumns::SubjectBody,
        }
    }
}

/// The draft columns an output layout appends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DraftColumns {
    #[default]
    None,
    SubjectBody,
    WithVariant,
}

impl DraftColumns {
    pub fn for_spec(spec: Option<&DraftSpec>) -> Self {
        match spec {
            None => DraftColumns::None,
            Some(s) if s.variants.len() > 1 => DraftColumns::WithVariant,
            Some(_) => DraftColumns::SubjectBody,
        }
    }

    pub fn names(self) -> &'static [&'static str] {
        match self {
            DraftColumns::None => &[],
            DraftColumns::SubjectBody => &[SUBJECT_COLUMN, BODY_COLUMN],
            DraftColumns::WithVariant => &[SUBJECT_COLUMN, BODY_COLUMN, VARIANT_COLUMN],
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn suppressed_rows_get_empty_cells_and_no_draft() {
        let (list, _) = SuppressionList::parse("acme.com\n");
        let campaign = Campaign {
            suppression: Some(Arc::new(list)),
            drafts: Some(Drafts::compile(&DraftSpec::single("Hi {{ name }}", "Body")).unwrap()),
        };
        let outcome = campaign.suppressed("jane@acme.com").unwrap();
        assert_eq!(outcome.status, RowStatus::Suppressed);
        assert!(outcome.research.is_empty() && outcome.personalized.is_empty());
        assert!(campaign.suppressed("jane@beta.io").is_none());

        let headers = vec!["email".to_string(), "name".to_string()];
        let rows = vec![
            vec!["jane@acme.com".to_string(), "Jane".to_string()],
            vec!["bob@beta.io".to_string(), "Bob".to_string()],
        ];
        let mut outcomes = vec![
            outcome,
            RowOutcome {
                research: String::new(),
                personalized: String::new(),
                status: RowStatus::InvalidEmail,
                draft: None,
            },
        ];
        campaign.draft_rows(&headers, &rows, 0, &mut outcomes);
        assert_eq!(outcomes[0].draft, None);
        assert_eq!(
            outcomes[1].draft.as_ref().map(|d| d.subject.as_str()),
            Some("Hi Bob")
        );
    }

    #[test]
    fn variants_are_named_and_columns_follow() {
        let spec = DraftSpec {
            variants: vec![
                VariantSpec {
                    name: String::new(),
                    subject: "a".into(),
                    body: "a".into(),
                    weight: 1,
                },
                VariantSpec {
                    name: " short ".into(),
                    subject: "b".into(),
                    body: "b".into(),
                    weight: 1,
                },
            ],
            seed: "s".into(),
        };
        let drafts = Drafts::compile(&spec).unwrap();
        let names: Vec<_> = drafts
            .spec()
            .variants
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(names, ["A", "short"]);
        let campaign = Campaign {
            suppression: None,
            drafts: Some(drafts),
        };
        assert_eq!(campaign.draft_columns(), DraftColumns::WithVariant);
        assert_eq!(
            DraftColumns::for_spec(Some(&DraftSpec::single("s", "b"))).names(),
            [SUBJECT_COLUMN, BODY_COLUMN]
        );
    }
}
