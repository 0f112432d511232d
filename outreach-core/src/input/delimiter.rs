//! Guessing the CSV delimiter from the first lines of a file.
//!
//! Exports from European Excel use `;`, "Unicode text" uses tabs, some CRMs use `|`.
//! For each candidate we count occurrences outside quotes on every line. Only candidates
//! that occur in the first line (the header) are eligible; among them we keep the one
//! whose (non-zero) count is the same on the most lines; a higher count breaks ties, then
//! the order `,` `;` tab `|`. Counting outside quotes matters: `"Müller, Hans";h@x.de`
//! has a comma, but it is data. A header with no candidate at all means a single column,
//! and then the candidate the data uses least is chosen, so no cell gets split.

/// Candidates in order of preference when the evidence is equal.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Lines looked at; the header and a few dozen rows are plenty.
const MAX_LINES: usize = 50;

/// The delimiter for `text` (a prefix of the file). `truncated` says the prefix was cut,
/// so its last line may be partial and is ignored.
pub(crate) fn sniff_delimiter(text: &str, truncated: bool) -> u8 {
    let lines = count_per_line(text, truncated);
    let Some(header) = lines.first() else {
        return b',';
    };
    if header.iter().all(|&n| n == 0) {
        return least_used(&lines);
    }
    let mut best: Option<(u8, usize, usize)> = None; // (delimiter, lines agreeing, count)
    for (k, &delim) in CANDIDATES.iter().enumerate() {
        if header[k] == 0 {
            continue;
        }
        let counts: Vec<usize> = lines.iter().map(|c| c[k]).collect();
        let Some((mode, agreeing)) = nonzero_mode(&counts) else {
            continue;
        };
        let better = match best {
            None => true,
            Some((_, best_agree, best_mode)) => {
                agreeing > best_agree || (agreeing == best_agree && mode > best_mode)
            }
        };
        if better {
            best = Some((delim, agreeing, mode));
        }
    }
    best.map_or(b',', |(delim, _, _)| delim)
}

/// For a single-column file: the candidate occurring least often (ties: preference order).
fn least_used(lines: &[[usize; 4]]) -> u8 {
    let mut best = (CANDIDATES[0], usize::MAX);
    for (k, &delim) in CANDIDATES.iter().enumerate() {
        let total: usize = lines.iter().map(|c| c[k]).sum();
        if total < best.1 {
            best = (delim, total);
        }
    }
    best.0
}

/// Per non-blank line, how often each candidate occurs outside quoted fields.
///
/// Mirrors the CSV parser's view of quotes: a `"` opens a quoted field only at the start
/// of a field (line start or right after a candidate delimiter, spaces allowed), `""`
/// inside quotes is an escaped quote, and newlines inside quotes do not end a line. A
/// stray inch mark (`27" monitor`) therefore does not swallow the rest of the prefix.
fn count_per_line(text: &str, truncated: bool) -> Vec<[usize; 4]> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut counts = [0usize; 4];
    let mut in_quotes = false;
    let mut has_content = false;
    let mut at_field_start = true;
    let mut i = 0;
    while i < bytes.len() && lines.len() < MAX_LINES {
        let b = bytes[i];
        i += 1;
        if in_quotes {
            if b == b'"' {
                if bytes.get(i) == Some(&b'"') {
                    i += 1; // escaped quote
                } else {
                    in_quotes = false;
                }
            }
            continue;
        }
        match b {
            b'\n' | b'\r' => {
                if has_content {
                    lines.push(counts);
                }
                counts = [0; 4];
                has_content = false;
                at_field_start = true;
            }
            b'"' if at_field_start => {
                in_quotes = true;
                has_content = true;
                at_field_start = false;
            }
            b' ' => {}
            _ => {
                if let Some(k) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[k] += 1;
                    at_field_start = true;
                } else {
                    at_field_start = false;
                }
                has_content = true;
            }
        }
    }
    if has_content && !truncated && lines.len() < MAX_LINES {
        lines.push(counts);
    }
    lines
}

/// The most frequent non-zero value and on how many lines it occurs (ties → larger value).
fn nonzero_mode(counts: &[usize]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for &c in counts.iter().filter(|&&c| c > 0) {
        let agreeing = counts.iter().filter(|&&x| x == c).count();
        let better = match best {
            None => true,
            Some((mode, n)) => agreeing > n || (agreeing == n && c > mode),
        };
        if better {
            best = Some((c, agreeing));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_delimiter_is_found() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n", false), b',');
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3\n", false), b';');
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2\t3\n", false), b'\t');
        assert_eq!(sniff_delimiter("a|b|c\r\n1|2|3\r\n", false), b'|');
    }

    #[test]
    fn delimiters_inside_quotes_do_not_count() {
        let text = "name;email\n\"Müller, Hans\";h@x.de\n\"Lee, Ann\";a@y.com\n";
        assert_eq!(sniff_delimiter(text, false), b';');
        let text = "name,notes\nAnn,\"a;b;c\nd;e;f\"\nBob,x\n";
        assert_eq!(sniff_delimiter(text, false), b',');
    }

    #[test]
    fn stray_and_escaped_quotes_do_not_hide_later_lines() {
        // The inch mark is not an opening quote; if it were, every later line would look
        // quoted and the semicolons would go uncounted.
        let text = "item;price\n27\" monitor;199\nlamp;20\ndesk;80\n";
        assert_eq!(count_per_line(text, false), vec![[0, 1, 0, 0]; 4]);
        assert_eq!(sniff_delimiter(text, false), b';');
        // `""` inside quotes is one literal quote; the comma after it is still quoted.
        let text = "a|b\n \"say \"\"hi\"\", ok\"|1\n2|3\n";
        assert_eq!(count_per_line(text, false), vec![[0, 0, 0, 1]; 3]);
        assert_eq!(sniff_delimiter(text, false), b'|');
    }

    #[test]
    fn consistency_beats_frequency() {
        // Commas are frequent but vary per line; semicolons are one per line every time.
        let text = "name;notes\nAnn;a,b,c,d\nBob;e\nCy;f,g\n";
        assert_eq!(sniff_delimiter(text, false), b';');
    }

    #[test]
    fn a_cut_last_line_is_ignored_and_single_columns_default_to_comma() {
        assert_eq!(sniff_delimiter("a;b\n1;2\n3;4\n5,6,7,8,9", true), b';');
        assert_eq!(sniff_delimiter("email\na@b.co\n", false), b',');
        assert_eq!(sniff_delimiter("", false), b',');
    }

    #[test]
    fn only_delimiters_seen_in_the_header_are_eligible() {
        // Every data line has exactly one comma, the header none: still semicolons.
        let text = "name;email\nLee, Ann;a@b.co\nMüller, Hans;h@x.de\nKim, Jo;k@y.io\n";
        assert_eq!(sniff_delimiter(text, false), b';');
    }

    #[test]
    fn single_column_files_pick_a_delimiter_the_data_does_not_use() {
        let text = "notes\ncall back, maybe\nsent deck, no reply\nlunch; friday\n";
        assert_eq!(sniff_delimiter(text, false), b'\t');
        assert_eq!(sniff_delimiter("notes\nhello, world\n", false), b';');
    }
}
