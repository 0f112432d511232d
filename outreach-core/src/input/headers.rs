//! Header names a person and a program can both rely on: trimmed, never empty, never
//! duplicated. Duplicates are compared case-insensitively because column lookups
//! (`resolve_email_column`, output column lists) fall back to case-insensitive matching,
//! and two columns that differ only in case would make that ambiguous.

use std::collections::{HashMap, HashSet};

/// Cleans a raw header row: trims each name, names empty ones `column_<1-based index>`,
/// and suffixes repeats `_2`, `_3`, … (skipping suffixes that already exist as names).
///
/// Linear in the number of columns: each name remembers the next suffix to try, so
/// 16,384 identical names cost 16,384 probes, not 16,384² / 2. (A review measured the
/// old probe-from-2 loop at 26 s for an 80 KB header.) A probe is skipped only when its
/// name was written in the file (at most one skip per written name) or generated for
/// the same base name earlier (never, as the counter only grows), so the total work is
/// bounded by twice the column count.
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
    // Per lower-cased name: the next suffix worth trying.
    let mut next_suffix: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::with_capacity(base.len());
    for name in base {
        let key = name.to_lowercase();
        if used.insert(key.clone()) {
            out.push(name);
            continue;
        }
        let n = next_suffix.entry(key.clone()).or_insert(2);
        loop {
            let candidate_key = format!("{key}_{n}");
            let suffix = *n;
            *n += 1;
            if !written.contains(&candidate_key) && used.insert(candidate_key) {
                out.push(format!("{name}_{suffix}"));
                break;
            }
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
    fn many_identical_names_take_linear_time() {
        // 16,384 copies (Excel's column limit) of one name, plus written names that sit
        // on the suffixes the generator would try: the old probe-from-2 loop needed
        // ~134 M probes here; this takes ~33 k. Compared against a same-run baseline of
        // as many distinct names, with a generous factor.
        let n = 16_384;
        let mut same = vec!["email".to_string(); n];
        for i in (2..200).step_by(3) {
            same.push(format!("email_{i}"));
        }
        let distinct: Vec<String> = (0..same.len()).map(|i| format!("c{i}")).collect();
        let time = |v: Vec<String>| {
            let t = std::time::Instant::now();
            let out = unique_headers(v);
            (t.elapsed(), out)
        };
        let (baseline, _) = time(distinct);
        let (elapsed, out) = time(same);
        let unique: HashSet<String> = out.iter().map(|h| h.to_lowercase()).collect();
        assert_eq!(unique.len(), out.len(), "all names are distinct");
        assert_eq!(out[1], "email_3", "email_2 is taken by a written name");
        assert!(
            elapsed < baseline * 20 + std::time::Duration::from_millis(50),
            "{elapsed:?} for identical names vs {baseline:?} for distinct ones"
        );
    }

    #[test]
    fn suffixes_never_collide_across_base_names() {
        let out = unique_headers(s(&["a", "a_2", "a", "a_2", "a", "a_2_2", "a_2"]));
        assert_eq!(
            out,
            s(&["a", "a_2", "a_3", "a_2_3", "a_4", "a_2_2", "a_2_4"])
        );
    }

    #[test]
    fn empty_header_row_stays_empty() {
        assert!(unique_headers(Vec::new()).is_empty());
    }
}
