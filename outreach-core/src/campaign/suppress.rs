//! The do-not-contact list: emails and whole domains that must never be researched,
//! charged or pushed.
//!
//! Entries come one per line (`jane@acme.com`, `acme.com`, `@acme.com`; `#` starts a
//! comment) or as a CSV whose header names an email or domain column. Both sides of a
//! comparison are normalised the same way: trimmed, lower-cased, `mailto:` and
//! `Name <addr>` wrappers removed, and the plus-tag dropped (`jane+news@acme.com` is
//! `jane@acme.com`). A domain entry covers its subdomains (`acme.com` suppresses
//! `jane@eu.acme.com`).

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{InputError, Result};

/// Header names (lower-cased, trimmed) read as entry columns in a CSV list.
const ENTRY_HEADERS: &[&str] = &[
    "email",
    "e-mail",
    "email address",
    "e-mail address",
    "mail",
    "domain",
    "domains",
    "website",
    "emails",
];

/// A parsed do-not-contact list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuppressionList {
    emails: HashSet<String>,
    domains: HashSet<String>,
}

/// What parsing a list found, for the person who uploaded it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseReport {
    /// Entries added (after normalisation; duplicates count once).
    pub added: u64,
    /// Lines or cells that are neither an email nor a domain, with their 1-based line.
    pub rejected: Vec<RejectedEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedEntry {
    pub line: u64,
    pub value: String,
}

/// One normalised entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Entry {
    Email(String),
    Domain(String),
}

impl Entry {
    /// Parse one entry: an address, `domain.tld` or `@domain.tld`. `None` for anything
    /// else (names, blank cells, a bare TLD).
    pub fn parse(raw: &str) -> Option<Entry> {
        let s = unwrap_address(raw);
        if s.is_empty() {
            return None;
        }
        if let Some(domain) = s.strip_prefix('@') {
            return normalise_domain(domain).map(Entry::Domain);
        }
        if s.contains('@') {
            return normalise_email(s).map(Entry::Email);
        }
        normalise_domain(s).map(Entry::Domain)
    }

    /// The entry as a line of a list file (`@domain` for domains).
    pub fn to_line(&self) -> String {
        match self {
            Entry::Email(e) => e.clone(),
            Entry::Domain(d) => format!("@{d}"),
        }
    }
}

impl SuppressionList {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.emails.len() + self.domains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Add one entry; false when it was already there.
    pub fn insert(&mut self, entry: Entry) -> bool {
        match entry {
            Entry::Email(e) => self.emails.insert(e),
            Entry::Domain(d) => self.domains.insert(d),
        }
    }

    /// Every entry of `other` added to this list.
    pub fn extend(&mut self, other: &SuppressionList) {
        self.emails.extend(other.emails.iter().cloned());
        self.domains.extend(other.domains.iter().cloned());
    }

    /// Entries in a stable order (emails, then domains, each sorted).
    pub fn entries(&self) -> Vec<Entry> {
        let mut emails: Vec<_> = self.emails.iter().cloned().map(Entry::Email).collect();
        let mut domains: Vec<_> = self.domains.iter().cloned().map(Entry::Domain).collect();
        emails.sort();
        domains.sort();
        emails.extend(domains);
        emails
    }

    /// The list as text [`SuppressionList::parse`] reads back (one entry per line).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for entry in self.entries() {
            out.push_str(&entry.to_line());
            out.push('\n');
        }
        out
    }

    /// Parse a list: one entry per line, or a CSV (`,` `;` or tab) whose header names an
    /// email or domain column. A CSV without such a header contributes every cell that is
    /// an email address. Blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> (SuppressionList, ParseReport) {
        let mut list = SuppressionList::new();
        let report = list.add_text(text);
        (list, report)
    }

    /// Read a list file (UTF-8, optional BOM; invalid bytes are replaced).
    pub fn from_path(path: &Path) -> Result<(SuppressionList, ParseReport)> {
        let bytes = std::fs::read(path).map_err(|e| {
            InputError::Other(format!(
                "cannot read the do-not-contact list {}: {e}",
                path.display()
            ))
        })?;
        Ok(Self::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// Add the entries of `text` (see [`SuppressionList::parse`]).
    pub fn add_text(&mut self, text: &str) -> ParseReport {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        match csv_delimiter(first) {
            Some(delimiter) => self.add_csv(text, delimiter),
            None => self.add_lines(text),
        }
    }

    fn add_lines(&mut self, text: &str) -> ParseReport {
        let mut report = ParseReport::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match Entry::parse(line) {
                Some(entry) => {
                    if self.insert(entry) {
                        report.added += 1;
                    }
                }
                None => report.rejected.push(RejectedEntry {
                    line: n as u64 + 1,
                    value: line.chars().take(200).collect(),
                }),
            }
        }
        report
    }

    fn add_csv(&mut self, text: &str, delimiter: u8) -> ParseReport {
        let mut report = ParseReport::default();
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let mut columns: Option<Vec<usize>> = None;
        for (n, record) in reader.records().enumerate() {
            let Ok(record) = record else { continue };
            let line = record.position().map_or(n as u64 + 1, |p| p.line());
            let Some(cols) = &columns else {
                let named: Vec<usize> = record
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| ENTRY_HEADERS.contains(&h.trim().to_lowercase().as_str()))
                    .map(|(i, _)| i)
                    .collect();
                if named.is_empty() {
                    // No header: every cell that is an address counts, this row included.
                    columns = Some(Vec::new());
                    self.add_addresses(&record, &mut report);
                } else {
                    columns = Some(named);
                }
                continue;
            };
            if cols.is_empty() {
                self.add_addresses(&record, &mut report);
                continue;
            }
            for &i in cols {
                let cell = record.get(i).unwrap_or("").trim();
                if cell.is_empty() {
                    continue;
                }
                match Entry::parse(cell) {
                    Some(entry) => {
                        if self.insert(entry) {
                            report.added += 1;
                        }
                    }
                    None => report.rejected.push(RejectedEntry {
                        line,
                        value: cell.chars().take(200).collect(),
                    }),
                }
            }
        }
        report
    }

    fn add_addresses(&mut self, record: &csv::StringRecord, report: &mut ParseReport) {
        for cell in record.iter() {
            if let Some(entry @ Entry::Email(_)) = Entry::parse(cell) {
                if self.insert(entry) {
                    report.added += 1;
                }
            }
        }
    }

    /// True when the email cell's address, or its domain or a parent domain, is listed.
    /// A cell that is not an address is never suppressed (it falls back as invalid).
    pub fn matches(&self, email_cell: &str) -> bool {
        let Some(address) = normalise_email(unwrap_address(email_cell)) else {
            return false;
        };
        if self.emails.contains(&address) {
            return true;
        }
        let Some((_, mut domain)) = address.split_once('@') else {
            return false;
        };
        loop {
            if self.domains.contains(domain) {
                return true;
            }
            match domain.split_once('.') {
                Some((_, parent)) if parent.contains('.') => domain = parent,
                _ => return false,
            }
        }
    }
}

/// The delimiter of a CSV line, when the line has one outside an address.
fn csv_delimiter(line: &str) -> Option<u8> {
    [b'\t', b';', b',']
        .into_iter()
        .find(|d| line.as_bytes().contains(d))
}

/// `Name <addr>`, `mailto:addr`, quotes and whitespace removed.
fn unwrap_address(raw: &str) -> &str {
    let mut s = raw.trim().trim_matches('"').trim();
    if let (Some(start), Some(end)) = (s.rfind('<'), s.rfind('>')) {
        if start < end {
            s = s[start + 1..end].trim();
        }
    }
    // `get` and not `[..7]`: the seventh byte may fall inside a character.
    if s.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
    {
        s = &s[7..];
    }
    s.trim()
}

/// `user@domain`, lower-cased, plus-tag removed; `None` unless it looks like an address.
fn normalise_email(s: &str) -> Option<String> {
    let (user, domain) = s.rsplit_once('@')?;
    let user = user.trim().to_lowercase();
    let user = user.split('+').next().unwrap_or("");
    if user.is_empty() || user.contains(char::is_whitespace) || user.contains('@') {
        return None;
    }
    let domain = normalise_domain(domain)?;
    Some(format!("{user}@{domain}"))
}

/// `domain.tld`, lower-cased, without a scheme, `www.`, path or trailing dot.
fn normalise_domain(s: &str) -> Option<String> {
    let mut d = s.trim().to_lowercase();
    for scheme in ["https://", "http://"] {
        if let Some(rest) = d.strip_prefix(scheme) {
            d = rest.to_string();
        }
    }
    let d = d.split(['/', '?', '#']).next().unwrap_or("");
    let d = d.strip_prefix("www.").unwrap_or(d).trim_end_matches('.');
    let labels: Vec<&str> = d.split('.').collect();
    let valid = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    valid.then(|| d.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_text_is_rejected_not_a_panic() {
        // Found by schemathesis: the seventh byte fell inside `¹`.
        for raw in ["\u{c5}\u{e4}\u{92}\u{b9}H", "U\u{94}F\u{5638d}\u{d7}"] {
            assert_eq!(Entry::parse(raw), None, "{raw:?}");
        }
        // A prefix that only looks like `mailto:` up to a multibyte character stays.
        assert_eq!(
            Entry::parse("mailto\u{e9}x@acme.com"),
            Some(Entry::Email("mailto\u{e9}x@acme.com".into()))
        );
        assert_eq!(
            Entry::parse("MAILTO:Jane@Acme.com"),
            Some(Entry::Email("jane@acme.com".into()))
        );
    }

    #[test]
    fn lines_take_emails_domains_and_at_domains() {
        let (list, report) = SuppressionList::parse(
            "# our do-not-contact list\n Jane+News@ACME.com \n\nbeta.io\n@Gamma.co.uk\nnot an entry\n",
        );
        assert_eq!(report.added, 3);
        assert_eq!(
            report.rejected,
            vec![RejectedEntry {
                line: 6,
                value: "not an entry".into()
            }]
        );
        assert!(list.matches("jane@acme.com"));
        assert!(list.matches("  JANE+promo@Acme.Com "));
        assert!(list.matches("Jane Doe <jane@acme.com>"));
        assert!(
            !list.matches("john@acme.com"),
            "an email entry is not its domain"
        );
        assert!(list.matches("anyone@beta.io"));
        assert!(list.matches("x@eu.beta.io"), "subdomains are covered");
        assert!(!list.matches("x@notbeta.io"));
        assert!(list.matches("mailto:someone@gamma.co.uk"));
        assert!(
            !list.matches("someone@co.uk"),
            "a parent suffix is not the domain"
        );
        assert!(!list.matches("not an email"));
    }

    #[test]
    fn csv_reads_the_named_columns() {
        let (list, report) = SuppressionList::parse(
            "Name,Email,Company Domain\nJane,jane@acme.com,acme.com\nJohn,,\nBob,bob@beta.io,x\n",
        );
        // `Company Domain` is not an entry header; `Email` is.
        assert_eq!(report.added, 2);
        assert!(list.matches("jane@acme.com"));
        assert!(!list.matches("other@acme.com"));
        assert!(list.matches("bob@beta.io"));

        let (list, report) = SuppressionList::parse("email;domain\n;acme.com\nx@y.io;\n");
        assert_eq!(report.added, 2);
        assert!(list.matches("anyone@acme.com"));
        assert!(list.matches("x@y.io"));
    }

    #[test]
    fn csv_without_a_header_takes_the_addresses() {
        let (list, report) = SuppressionList::parse("jane@acme.com,Jane\nbob@beta.io,Bob\n");
        assert_eq!(report.added, 2);
        assert!(list.matches("bob@beta.io"));
        assert!(!list.matches("x@acme.com"));
    }

    #[test]
    fn text_round_trips() {
        let (list, _) = SuppressionList::parse("b@x.io\na@x.io\n@z.com\nwww.y.com\n");
        assert_eq!(list.to_text(), "a@x.io\nb@x.io\n@y.com\n@z.com\n");
        let (again, _) = SuppressionList::parse(&list.to_text());
        assert_eq!(again, list);
    }

    #[test]
    fn websites_normalise_to_their_domain() {
        assert_eq!(
            Entry::parse("https://www.Acme.com/about"),
            Some(Entry::Domain("acme.com".into()))
        );
        assert_eq!(Entry::parse("com"), None);
        assert_eq!(Entry::parse("@"), None);
        assert_eq!(Entry::parse("a b@x.io"), None);
    }
}
