//! Header names a person and a program can both rely on: trimmed, never empty, never
//! duplicated. Duplicates are compared case-insensitively because column lookups
//! (`resolve_email_column`, output column lists) fall back to case-insensitive matching,
//! and two columns that differ only in case would make that ambiguous.

use std::collections::HashSet;

/// Cleans a raw header row: trims each name, names empty ones `column_<1-based index>`,
/// and suffixes repeats `_2`, `_3`, … (skipping suffixes that already exist as names).
///
/// ```
/// use outreach_core::input::unique_headers;
/// let raw = vec![" email ".into(), "".into(), "Email".into(), "email".into()];
/// assert_eq!(unique_headers(raw), ["email", "column_2", "Email_2", "email_3"]);
/// ```
pub fn unique_headers(raw: Vec<String>) -> Vec<String> {
    let base: Vec<String> = raw
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let name = name.trim().trim_start_matches('\u{feff}').trim();
            if name.is_empty() {
                format!("column_{}", i + 1)
            } else {
                name.to_string()
            }
        })
        .collect();

    // Every name as written, so a generated `email_2` never collides with a real one.
    let written: HashSet<String> = base.iter().map(|n| n.to_lowercase()).collect();
    let mut used: HashSet<String> = HashSet::with_capacity(base.len());
    let mut out = Vec::with_capacity(base.len());
    for name in base {
        let key = name.to_lowercase();
        if used.insert(key.clone()) {
            out.push(name);
            continue;
        }
        let mut n = 2u32;
        loop {
            let candidate = format!("{name}_{n}");
            let candidate_key = format!("{key}_{n}");
            if !written.contains(&candidate_key) && used.insert(candidate_key) {
                out.push(candidate);
                break;
            }
            n += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn trims_and_names_empty_columns_by_position() {
        assert_eq!(
            unique_headers(s(&["  Name ", "", "\t", "Email"])),
            s(&["Name", "column_2", "column_3", "Email"])
        );
    }

    #[test]
    fn numbers_duplicates_in_order() {
        assert_eq!(
            unique_headers(s(&["email", "email", "email"])),
            s(&["email", "email_2", "email_3"])
        );
    }

    #[test]
    fn generated_names_do_not_collide_with_real_ones() {
        assert_eq!(
            unique_headers(s(&["email", "email", "email_2"])),
            s(&["email", "email_3", "email_2"])
        );
        assert_eq!(
            unique_headers(s(&["column_2", ""])),
            s(&["column_2", "column_2_2"])
        );
    }

    #[test]
    fn duplicates_differing_only_in_case_are_numbered() {
        assert_eq!(
            unique_headers(s(&["Email", "EMAIL"])),
            s(&["Email", "EMAIL_2"])
        );
    }

    #[test]
    fn strips_a_stray_byte_order_mark() {
        assert_eq!(unique_headers(s(&["\u{feff}name"])), s(&["name"]));
    }

    #[test]
    fn empty_header_row_stays_empty() {
        assert!(unique_headers(Vec::new()).is_empty());
    }
}
