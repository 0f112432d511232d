//! Making untrusted cell text safe to write: the Excel cell limit, CSV formula injection,
//! and characters that XML 1.0 cannot carry.
//!
//! Each function borrows when the cell is already fine, so the common case costs a scan
//! and no allocation.

use std::borrow::Cow;

/// Excel's limit on the length of one cell, counted the way Excel counts: in UTF-16 code
/// units. A cell within it in UTF-16 units is within it in characters too.
pub const EXCEL_CELL_LIMIT: usize = 32_767;

/// Appended to a cell that was cut to fit [`EXCEL_CELL_LIMIT`].
pub const TRUNCATION_MARKER: &str = "… [truncated]";

/// Cuts `cell` so that it fits [`EXCEL_CELL_LIMIT`] with [`TRUNCATION_MARKER`] appended,
/// on a character boundary. Returns `None` when the cell already fits.
pub fn truncate_for_excel(cell: &str) -> Option<String> {
    // UTF-8 never takes fewer bytes than UTF-16 takes code units, so a short byte length
    // settles the common case without counting.
    if cell.len() <= EXCEL_CELL_LIMIT {
        return None;
    }
    if cell.encode_utf16().count() <= EXCEL_CELL_LIMIT {
        return None;
    }
    let budget = EXCEL_CELL_LIMIT - TRUNCATION_MARKER.encode_utf16().count();
    let mut used = 0;
    let mut end = 0;
    for (index, ch) in cell.char_indices() {
        used += ch.len_utf16();
        if used > budget {
            break;
        }
        end = index + ch.len_utf8();
    }
    let mut out = String::with_capacity(end + TRUNCATION_MARKER.len());
    out.push_str(&cell[..end]);
    out.push_str(TRUNCATION_MARKER);
    Some(out)
}

/// True when a spreadsheet opening a CSV could read a cell starting with `ch` as a formula
/// (OWASP "CSV injection": `=`, `+`, `-`, `@`, tab, carriage return).
fn starts_formula(ch: char) -> bool {
    matches!(ch, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// Prefixes a single quote to a cell that would start a formula, so a spreadsheet shows
/// it as text. Anything else is returned untouched.
pub fn neutralise_formula(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(first) if starts_formula(first) => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// True for a character XML 1.0 does not allow in a document: C0 controls other than tab,
/// newline and carriage return, and the non-characters U+FFFE and U+FFFF.
fn xml_forbidden(ch: char) -> bool {
    matches!(ch, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Removes the characters XML 1.0 forbids. Vertical tab and form feed become a space (they
/// separate words); the other controls are dropped.
pub fn strip_xml_forbidden(cell: &str) -> Cow<'_, str> {
    if !cell.chars().any(xml_forbidden) {
        return Cow::Borrowed(cell);
    }
    Cow::Owned(
        cell.chars()
            .filter_map(|ch| match ch {
                '\u{B}' | '\u{C}' => Some(' '),
                ch if xml_forbidden(ch) => None,
                ch => Some(ch),
            })
            .collect(),
    )
}

/// Applies the rules of one output format to each cell and counts truncations.
#[derive(Debug, Default)]
pub(crate) struct CellCleaner {
    pub(crate) truncated_cells: u64,
}

impl CellCleaner {
    /// A CSV cell: formula neutralised first, so the quote survives truncation.
    pub(crate) fn csv<'a>(&mut self, cell: &'a str) -> Cow<'a, str> {
        let cell = neutralise_formula(cell);
        self.fit(cell)
    }

    /// An XLSX cell: forbidden characters removed, then cut to the limit.
    pub(crate) fn xlsx<'a>(&mut self, cell: &'a str) -> Cow<'a, str> {
        let cell = strip_xml_forbidden(cell);
        self.fit(cell)
    }

    fn fit<'a>(&mut self, cell: Cow<'a, str>) -> Cow<'a, str> {
        match truncate_for_excel(&cell) {
            Some(cut) => {
                self.truncated_cells += 1;
                Cow::Owned(cut)
            }
            None => cell,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn utf16_len(s: &str) -> usize {
        s.encode_utf16().count()
    }

    #[test]
    fn short_cells_are_not_truncated() {
        assert_eq!(truncate_for_excel(""), None);
        assert_eq!(truncate_for_excel(&"a".repeat(EXCEL_CELL_LIMIT)), None);
        // 32,767 three-byte characters: long in bytes, exactly at the limit in UTF-16.
        assert_eq!(truncate_for_excel(&"€".repeat(EXCEL_CELL_LIMIT)), None);
    }

    #[test]
    fn one_over_the_limit_is_truncated_to_exactly_the_limit() {
        let cell = "a".repeat(EXCEL_CELL_LIMIT + 1);
        let cut = truncate_for_excel(&cell).unwrap();
        assert_eq!(utf16_len(&cut), EXCEL_CELL_LIMIT);
        assert!(cut.ends_with(TRUNCATION_MARKER));
        let kept = cut.strip_suffix(TRUNCATION_MARKER).unwrap();
        assert_eq!(
            kept,
            "a".repeat(EXCEL_CELL_LIMIT - utf16_len(TRUNCATION_MARKER))
        );
    }

    #[test]
    fn truncation_respects_surrogate_pairs() {
        // Each emoji is 4 bytes and 2 UTF-16 units; the budget (32,754) is even, so the
        // cut falls between two emoji, and a budget of one unit less must not split one.
        let cell = "😀".repeat(20_000);
        let cut = truncate_for_excel(&cell).unwrap();
        let kept = cut.strip_suffix(TRUNCATION_MARKER).unwrap();
        assert_eq!(kept.chars().count(), 16_377);
        assert!(kept.chars().all(|c| c == '😀'));
        assert!(utf16_len(&cut) <= EXCEL_CELL_LIMIT);

        let cell = format!("x{}", "😀".repeat(20_000));
        let cut = truncate_for_excel(&cell).unwrap();
        let kept = cut.strip_suffix(TRUNCATION_MARKER).unwrap();
        assert_eq!(utf16_len(kept), 32_753);
        assert_eq!(utf16_len(&cut), EXCEL_CELL_LIMIT - 1);
    }

    #[test]
    fn formula_triggers_get_a_quote() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "=", "-"] {
            assert_eq!(neutralise_formula(cell), format!("'{cell}"));
        }
        for cell in ["", "a-b", "1-2", " =1", "'=1", "x=y", "é"] {
            assert!(matches!(neutralise_formula(cell), Cow::Borrowed(c) if c == cell));
        }
    }

    #[test]
    fn xml_forbidden_characters_are_removed() {
        assert_eq!(strip_xml_forbidden("a\u{0}b\u{1}c\u{1F}d"), "abcd");
        assert_eq!(strip_xml_forbidden("a\u{B}b\u{C}c"), "a b c");
        assert_eq!(strip_xml_forbidden("a\u{FFFE}\u{FFFF}b"), "ab");
        let allowed = "tab\tnew\nline\rcr \u{7F} \u{85} \u{FFFD} 😀";
        assert!(matches!(strip_xml_forbidden(allowed), Cow::Borrowed(c) if c == allowed));
    }

    #[test]
    fn cleaner_counts_truncations_and_keeps_the_csv_quote() {
        let mut cleaner = CellCleaner::default();
        let long = format!("={}", "1".repeat(40_000));
        let csv = cleaner.csv(&long);
        assert!(csv.starts_with("'=111"));
        assert!(csv.ends_with(TRUNCATION_MARKER));
        assert_eq!(utf16_len(&csv), EXCEL_CELL_LIMIT);
        assert_eq!(cleaner.csv("fine"), "fine");
        let xlsx = cleaner.xlsx(&long);
        assert!(xlsx.starts_with("=111"));
        assert_eq!(utf16_len(&xlsx), EXCEL_CELL_LIMIT);
        assert_eq!(cleaner.xlsx("a\u{1}b"), "ab");
        assert_eq!(cleaner.truncated_cells, 2);
    }
}
