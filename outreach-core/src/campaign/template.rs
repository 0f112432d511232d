//! Email drafts from Jinja templates (MiniJinja): a subject and a body per variant.
//!
//! # What a template sees
//!
//! - every input column, by a name made of its header (`First Name` → `first_name`),
//!   and all of them by exact header in `row` (`{{ row["First Name"] }}`); a column
//!   whose name collides with one below (`Company` → `company`) is only in `row`;
//! - `sif_personalized` (empty when the row has no opener, so `default` can stand in),
//!   `sif_research` (the JSON text) and the research document itself as `research`,
//!   `person` and `company` (`{{ company.name }}`; a field the research did not find,
//!   or found as "unknown", is empty);
//! - `variant`, the name of the variant being rendered.
//!
//! Two filters beyond Jinja's built-ins: `first_name` (`"Dr. Jane Q. Doe"` → `Jane`,
//! `"DOE, JANE"` → `Jane`) and `default(value, fallback)`, which here also replaces
//! empty and blank values, not only undefined ones.
//!
//! # Errors before anything is charged
//!
//! [`Drafts::compile`] reports syntax errors, and [`Drafts::check`] (given the input's
//! headers) unknown variables and errors a render would hit, each with its template,
//! line and column. Rendering a real row never fails the run: a missing research field
//! is empty (MiniJinja's chainable undefined), and a row whose render still fails gets
//! empty draft cells and a log line.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};

use super::variant;
use super::{DraftSpec, EmailDraft};
use crate::enricher::{RowOutcome, RowStatus};
use crate::error::{InputError, Result};
use crate::fallback;
use crate::research::UNKNOWN;

/// Names a template may use besides the input columns.
const FIXED_NAMES: &[&str] = &[
    "row",
    "sif_personalized",
    "sif_research",
    "research",
    "person",
    "company",
    "variant",
];

/// Global functions MiniJinja provides (the analysis reports them as variables).
const GLOBALS: &[&str] = &["range", "dict", "namespace", "debug", "loop", "self"];

/// Compiled templates of every variant. Cheap to share behind an `Arc`.
pub struct Drafts {
    env: Environment<'static>,
    spec: DraftSpec,
    weights: Vec<u32>,
}

impl fmt::Debug for Drafts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drafts").field("spec", &self.spec).finish()
    }
}

impl Drafts {
    /// Parse every template; a syntax error comes back as `InputError::Template` with
    /// its position. A spec without variants is an error too.
    pub fn compile(spec: &DraftSpec) -> Result<Arc<Drafts>> {
        let spec = spec.clone().normalised();
        if spec.variants.is_empty() {
            return Err(InputError::Other(
                "the email templates are empty: give a subject and a body template".into(),
            )
            .into());
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_filter("first_name", first_name);
        env.add_filter("default", default_filter);
        env.add_filter("d", default_filter);
        for (i, v) in spec.variants.iter().enumerate() {
            for (part, source) in [(Part::Subject, &v.subject), (Part::Body, &v.body)] {
                let name = template_name(i, part);
                env.add_template_owned(name, source.clone())
                    .map_err(|e| template_error(&spec, i, part, source, &e))?;
            }
        }
        let weights = spec.variants.iter().map(|v| v.weight).collect();
        Ok(Arc::new(Drafts { env, spec, weights }))
    }

    pub fn spec(&self) -> &DraftSpec {
        &self.spec
    }

    /// True when rows carry a `variant` column (more than one variant).
    pub fn has_variants(&self) -> bool {
        self.spec.variants.len() > 1
    }

    /// Check the templates against the input's headers: an unknown variable, or an
    /// error a render of an all-empty row hits, is `InputError::Template` with its
    /// position. Call before anything is charged.
    pub fn check(&self, headers: &[String]) -> Result<()> {
        let mut known: HashSet<String> = FIXED_NAMES.iter().map(|s| s.to_string()).collect();
        known.extend(GLOBALS.iter().map(|s| s.to_string()));
        for h in headers {
            known.insert(identifier(h));
            known.insert(h.clone());
        }
        let empty_row = vec![String::new(); headers.len()];
        let sample_research = r#"{"person":{"name":"","title":"","info":[]},"company":{"name":"","info":[],"moat":""}}"#;
        for (i, v) in self.spec.variants.iter().enumerate() {
            for (part, source) in [(Part::Subject, &v.subject), (Part::Body, &v.body)] {
                let name = template_name(i, part);
                let tmpl = self
                    .env
                    .get_template(&name)
                    .map_err(|e| template_error(&self.spec, i, part, source, &e))?;
                let mut unknown: Vec<String> = tmpl
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|n| !known.contains(n))
                    .collect();
                unknown.sort();
                if let Some(var) = unknown.first() {
                    let (line, column) = find_variable(source, var).unwrap_or((1, 1));
                    let mut message = format!("unknown variable `{var}`");
                    if let Some(close) = closest(var, &known) {
                        message.push_str(&format!(" (did you mean `{close}`?)"));
                    }
                    return Err(InputError::Template {
                        template: self.spec.label(i, part.as_str()),
                        line,
                        column,
                        message,
                    }
                    .into());
                }
                let ctx = context(headers, &empty_row, sample_research, "", &v.name);
                tmpl.render(ctx)
                    .map_err(|e| template_error(&self.spec, i, part, source, &e))?;
            }
        }
        Ok(())
    }

    /// The draft for one row: the variant picked for its email, both templates
    /// rendered. Never fails: a render error gives empty cells (and a log line).
    pub fn render(
        &self,
        headers: &[String],
        row: &[String],
        email_cell: &str,
        outcome: &RowOutcome,
    ) -> EmailDraft {
        let index = if self.weights.len() > 1 {
            variant::pick(
                &self.spec.seed,
                &variant::row_key(email_cell, row),
                &self.weights,
            )
        } else {
            0
        };
        let variant = &self.spec.variants[index.min(self.spec.variants.len() - 1)];
        let opener = if outcome.status == RowStatus::Enriched {
            outcome.personalized.as_str()
        } else {
            ""
        };
        let ctx = context(headers, row, &outcome.research, opener, &variant.name);
        let render = |part: Part| {
            self.env
                .get_template(&template_name(index, part))
                .and_then(|t| t.render(ctx.clone()))
                .unwrap_or_else(|e| {
                    tracing::warn!(variant = %variant.name, part = part.as_str(), error = %e, "email template failed on a row");
                    String::new()
                })
        };
        EmailDraft {
            subject: one_line(&render(Part::Subject)),
            body: render(Part::Body).trim().to_string(),
            variant: variant.name.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Subject,
    Body,
}

impl Part {
    fn as_str(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Body => "body",
        }
    }
}

fn template_name(variant: usize, part: Part) -> String {
    format!("{variant}-{}", part.as_str())
}

/// A header as a template variable: lower-case, runs of other characters as `_`.
pub fn identifier(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    for c in header.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        format!("_{out}")
    } else {
        out
    }
}

/// The values a template sees for one row.
fn context(
    headers: &[String],
    row: &[String],
    research_json: &str,
    opener: &str,
    variant: &str,
) -> Value {
    let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
    let mut by_header: BTreeMap<String, Value> = BTreeMap::new();
    for (i, h) in headers.iter().enumerate() {
        let cell = row.get(i).map(String::as_str).unwrap_or("");
        by_header.insert(h.clone(), Value::from(cell));
        let id = identifier(h);
        if !id.is_empty() && !FIXED_NAMES.contains(&id.as_str()) {
            // The first column of a repeated header wins, as in the output layout.
            ctx.entry(id).or_insert_with(|| Value::from(cell));
        }
    }
    let research = if fallback::is_research_fallback(research_json) {
        serde_json::Value::Null
    } else {
        serde_json::from_str::<serde_json::Value>(research_json).unwrap_or_default()
    };
    let part = |key: &str| research.get(key).map(to_value).unwrap_or(Value::UNDEFINED);
    ctx.insert("person".into(), part("person"));
    ctx.insert("company".into(), part("company"));
    ctx.insert("research".into(), to_value(&research));
    ctx.insert("row".into(), Value::from(by_header));
    ctx.insert("sif_personalized".into(), Value::from(opener));
    ctx.insert("sif_research".into(), Value::from(research_json));
    ctx.insert("variant".into(), Value::from(variant));
    Value::from(ctx)
}

/// JSON → template value; `"unknown"` (the research's word for not found) is empty.
fn to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) if s.trim().eq_ignore_ascii_case(UNKNOWN) => Value::from(""),
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => {
            Value::from(items.iter().map(to_value).collect::<Vec<_>>())
        }
        serde_json::Value::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

/// `first_name`: the given name out of a full name.
fn first_name(full: Value) -> String {
    let text = full.as_str().map(str::to_string).unwrap_or_else(|| {
        if full.is_undefined() || full.is_none() {
            String::new()
        } else {
            full.to_string()
        }
    });
    first_name_of(&text)
}

/// `"Dr. Jane Q. Doe"` → `Jane`; `"Doe, Jane"` → `Jane`; `"JANE"` → `Jane`.
pub fn first_name_of(full: &str) -> String {
    const TITLES: &[&str] = &[
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "herr", "frau",
    ];
    let full = full.trim();
    let given = match full.split_once(',') {
        Some((_, after)) if !after.trim().is_empty() => after,
        _ => full,
    };
    let word = given
        .split_whitespace()
        .find(|w| !TITLES.contains(&w.trim_end_matches('.').to_lowercase().as_str()))
        .unwrap_or("");
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    let all_one_case = word
        .chars()
        .filter(|c| c.is_alphabetic())
        .all(char::is_uppercase)
        || word
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(char::is_lowercase);
    if !all_one_case {
        return word.to_string();
    }
    // Capitalise each hyphenated part: "JEAN-LUC" → "Jean-Luc".
    word.split('-')
        .map(|p| {
            let mut chars = p.chars();
            match chars.next() {
                Some(c) => c
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join("-")
}

/// `default(value, fallback="")`: the fallback when the value is undefined, none, or
/// blank text.
fn default_filter(value: Value, fallback: Option<Value>) -> Value {
    let empty = value.is_undefined()
        || value.is_none()
        || value.as_str().is_some_and(|s| s.trim().is_empty());
    if empty {
        fallback.unwrap_or_else(|| Value::from(""))
    } else {
        value
    }
}

/// Subjects are one line: newlines and runs of spaces become one space.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A MiniJinja error as `InputError::Template` with a 1-based line and column.
fn template_error(
    spec: &DraftSpec,
    variant: usize,
    part: Part,
    source: &str,
    e: &minijinja::Error,
) -> crate::Error {
    let (line, column) = match e.range() {
        Some(range) => position(source, range.start),
        None => (e.line().unwrap_or(1), 1),
    };
    let message = match e.detail() {
        Some(detail) => format!("{}: {detail}", kind_text(e.kind())),
        None => kind_text(e.kind()).to_string(),
    };
    InputError::Template {
        template: spec.label(variant, part.as_str()),
        line,
        column,
        message,
    }
    .into()
}

fn kind_text(kind: minijinja::ErrorKind) -> &'static str {
    use minijinja::ErrorKind as K;
    match kind {
        K::SyntaxError => "syntax error",
        K::UndefinedError => "undefined value",
        K::UnknownFilter => "unknown filter",
        K::UnknownTest => "unknown test",
        K::UnknownFunction => "unknown function",
        K::UnknownMethod => "unknown method",
        K::InvalidOperation => "invalid operation",
        K::TooManyArguments => "too many arguments",
        K::MissingArgument => "missing argument",
        K::BadEscape => "bad string escape",
        _ => "template error",
    }
}

/// 1-based (line, column) of a byte offset; columns count characters.
fn position(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Where a variable is first used inside `{{ … }}` or `{% … %}`: (line, column).
fn find_variable(source: &str, name: &str) -> Option<(usize, usize)> {
    let bytes = source.as_bytes();
    let mut inside = false;
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        if !inside && (rest.starts_with("{{") || rest.starts_with("{%")) {
            inside = true;
            i += 2;
            continue;
        }
        if inside && (rest.starts_with("}}") || rest.starts_with("%}")) {
            inside = false;
            i += 2;
            continue;
        }
        if inside && rest.starts_with(name) {
            let before_ok = i == 0 || !is_ident_byte(bytes[i - 1]) && bytes[i - 1] != b'.';
            let after = i + name.len();
            let after_ok = after >= bytes.len() || !is_ident_byte(bytes[after]);
            if before_ok && after_ok {
                return Some(position(source, i));
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    None
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The known name closest to a misspelt one (edit distance ≤ 2).
fn closest<'a>(name: &str, known: &'a HashSet<String>) -> Option<&'a str> {
    known
        .iter()
        .filter(|k| !GLOBALS.contains(&k.as_str()))
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::campaign::VariantSpec;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn spec(subject: &str, body: &str) -> DraftSpec {
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

    fn enriched(research: &str, opener: &str) -> RowOutcome {
        RowOutcome {
            research: research.into(),
            personalized: opener.into(),
            status: RowStatus::Enriched,
            draft: None,
        }
    }

    fn template_err(result: Result<()>) -> (String, usize, usize, String) {
        match result {
            Err(crate::Error::InvalidInput(InputError::Template {
                template,
                line,
                column,
                message,
            })) => (template, line, column, message),
            other => panic!("expected a template error, got {other:?}"),
        }
    }

    const RESEARCH: &str = r#"{"person":{"name":"Jane Doe","info":["VP Sales"]},"company":{"name":"Acme","info":[],"moat":"unknown"},"sources":[]}"#;

    #[test]
    fn renders_columns_opener_research_and_filters() {
        let headers = strings(&["Full Name", "Email", "Company"]);
        let drafts = Drafts::compile(&spec(
            "Quick question for {{ company.name }}",
            "Hi {{ full_name | first_name }},\n\n{{ sif_personalized }}\n\nMoat: {{ company.moat | default('n/a') }} / {{ row[\"Company\"] }}\n",
        ))
        .unwrap();
        drafts.check(&headers).unwrap();
        let row = strings(&["dr. JANE doe", "jane@acme.com", "Acme Inc"]);
        let draft = drafts.render(
            &headers,
            &row,
            "jane@acme.com",
            &enriched(RESEARCH, "Loved your post on pipeline hygiene."),
        );
        assert_eq!(draft.subject, "Quick question for Acme");
        assert_eq!(
            draft.body,
            "Hi Jane,\n\nLoved your post on pipeline hygiene.\n\nMoat: n/a / Acme Inc"
        );
        assert_eq!(draft.variant, "A");
    }

    #[test]
    fn fallback_rows_render_with_defaults() {
        let headers = strings(&["email", "first"]);
        let drafts = Drafts::compile(&spec(
            "Hello {{ first | default('there') }}",
            "{{ sif_personalized | default('I came across your team.') }} {{ person.title | default('') }}{{ company.name }}",
        ))
        .unwrap();
        drafts.check(&headers).unwrap();
        let outcome = RowOutcome {
            research: fallback::research("timeout."),
            personalized: fallback::personalized("research unavailable."),
            status: RowStatus::ProviderFailed,
            draft: None,
        };
        let draft = drafts.render(&headers, &strings(&["x@y.io", " "]), "x@y.io", &outcome);
        assert_eq!(draft.subject, "Hello there");
        assert_eq!(draft.body, "I came across your team.");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err =
            Drafts::compile(&spec("Hi", "Line one\nHi {{ name | first_name }\n")).unwrap_err();
        let (template, line, column, message) = template_err(Err(err));
        assert_eq!(template, "body");
        assert_eq!(line, 2);
        assert!(column > 1, "column {column}");
        assert!(message.starts_with("syntax error"), "{message}");

        let err = Drafts::compile(&spec("{% if x %}open", "b")).unwrap_err();
        let (template, line, _, message) = template_err(Err(err));
        assert_eq!((template.as_str(), line), ("subject", 1));
        assert!(message.starts_with("syntax error"), "{message}");
    }

    #[test]
    fn unknown_variables_are_named_with_position_and_a_suggestion() {
        let headers = strings(&["First Name", "Email"]);
        let drafts = Drafts::compile(&spec(
            "Hi",
            "Hello,\n  {{ first_nme }} at {{ company.name }}",
        ))
        .unwrap();
        let (template, line, column, message) = template_err(drafts.check(&headers));
        assert_eq!(template, "body");
        assert_eq!((line, column), (2, 6));
        assert_eq!(
            message,
            "unknown variable `first_nme` (did you mean `first_name`?)"
        );
    }

    #[test]
    fn unknown_filters_are_reported_before_rendering() {
        let headers = strings(&["email"]);
        let drafts = Drafts::compile(&spec("{{ email | shout }}", "b")).unwrap();
        let (template, line, _, message) = match drafts.check(&headers) {
            Err(e) => template_err(Err(e)),
            Ok(()) => match Drafts::compile(&spec("{{ email | shout }}", "b")) {
                Err(e) => template_err(Err(e)),
                Ok(_) => panic!("an unknown filter passed"),
            },
        };
        assert_eq!((template.as_str(), line), ("subject", 1));
        assert!(message.contains("unknown filter"), "{message}");
    }

    #[test]
    fn variant_errors_name_the_variant() {
        let mut s = spec("a", "b");
        s.variants.push(VariantSpec {
            name: "short".into(),
            subject: "{{ }}".into(),
            body: "b".into(),
            weight: 1,
        });
        let (template, ..) = template_err(Drafts::compile(&s).map(|_| ()));
        assert_eq!(template, "variant `short` subject");
    }

    #[test]
    fn first_names() {
        for (full, first) in [
            ("Jane Doe", "Jane"),
            ("  dr. jane q. doe ", "Jane"),
            ("DOE, JANE", "Jane"),
            ("JEAN-LUC picard", "Jean-Luc"),
            ("McKenzie Smith", "McKenzie"),
            ("", ""),
        ] {
            assert_eq!(first_name_of(full), first, "{full:?}");
        }
    }

    #[test]
    fn identifiers_from_headers() {
        assert_eq!(identifier("First Name"), "first_name");
        assert_eq!(identifier(" Company / Org "), "company_org");
        assert_eq!(identifier("2nd line"), "_2nd_line");
        assert_eq!(identifier("E-mail"), "e_mail");
    }
}
