//! Finding the column that holds the prospect's email address.
//!
//! Names win over contents because a person chose them; contents decide only when no
//! header is convincing (exported sheets with `Field 3`-style headers, or no header words
//! at all). Columns such as `Email Status` or `email_verified` mention email but hold
//! flags, so they never win by name alone.

use crate::error::InputError;

/// How many data rows callers should sample for content-based guessing.
pub const EMAIL_SAMPLE_ROWS: usize = 50;

/// Header names (normalised) that are certainly the address column, best first.
const EXACT_BEST: &[&str] = &["email", "emailaddress", "emailadresse", "eaddress"];
/// Also the address, but qualified; a plain `email` beats these.
const EXACT_GOOD: &[&str] = &[
    "workemail",
    "businessemail",
    "contactemail",
    "primaryemail",
    "professionalemail",
    "companyemail",
    "officeemail",
    "workemailaddress",
    "businessemailaddress",
    "email1",
    "emailid",
    "emails",
    "mail",
    "mailaddress",
    "courriel",
    "correo",
    "correoelectronico",
];
/// Word stems that turn an email-ish header into metadata about the email.
const METADATA_STEMS: &[&str] = &[
    "status", "verif", "valid", "invalid", "bounce", "optout", "optin", "unsub", "sent", "open",
    "click", "domain", "type", "count", "date", "score", "confiden", "source", "provider",
    "quality", "result", "catchall", "deliver", "flag", "format", "consent",
];

/// Lower case, alphanumerics only: `E-Mail Address` → `emailaddress`.
fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Lower rank is better; `None` means the name says nothing about an address column.
fn name_rank(header: &str) -> Option<u8> {
    let n = normalise(header);
    if EXACT_BEST.contains(&n.as_str()) {
        Some(0)
    } else if EXACT_GOOD.contains(&n.as_str()) {
        Some(1)
    } else if n.contains("email") && !is_metadata(header) {
        // `personalemail`, `email_work`, `prospectemail`: plausible, less certain.
        Some(2)
    } else {
        None
    }
}

/// True when a word of the header says the column describes the address rather than
/// holding it: `Email Status`, `emailVerified`, `EMAILSTATUS`, `E-mail opt out`.
/// Matching whole words (not substrings) keeps `Representative Email` an address column.
fn is_metadata(header: &str) -> bool {
    words(header).iter().any(|word| {
        // A word glued to the prefix (`emailstatus`) is judged by what follows it.
        let rest = word.strip_prefix("email").unwrap_or(word);
        word == "opt"
            || METADATA_STEMS
                .iter()
                .any(|stem| word.starts_with(stem) || rest.starts_with(stem))
    })
}

/// Lower-case words, split on anything not alphanumeric and on camelCase boundaries.
fn words(header: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in header.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// True for text shaped like `local@domain.tld` (optionally `mailto:`-prefixed).
/// Deliberately loose: it recognises a column, it does not validate addresses.
pub(crate) fn looks_like_email(cell: &str) -> bool {
    let cell = cell.trim();
    let cell = cell
        .strip_prefix("mailto:")
        .or_else(|| cell.strip_prefix("MAILTO:"))
        .unwrap_or(cell);
    if cell.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((local, domain)) = cell.split_once('@') else {
        return false;
    };
    if local.is_empty() || domain.contains('@') {
        return false;
    }
    let Some((host, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    !host.is_empty()
        && !host.starts_with('.')
        && tld.chars().count() >= 2
        && tld.chars().all(char::is_alphanumeric)
}

/// The column whose sampled non-empty cells are mostly email-shaped (at least half).
fn guess_by_content(width: usize, sample_rows: &[Vec<String>]) -> Option<usize> {
    let mut best: Option<(usize, f64, usize)> = None; // (column, share, hits)
    for col in 0..width {
        let mut filled = 0usize;
        let mut hits = 0usize;
        for row in sample_rows {
            let Some(cell) = row.get(col) else { continue };
            if cell.trim().is_empty() {
                continue;
            }
            filled += 1;
            if looks_like_email(cell) {
                hits += 1;
            }
        }
        if hits == 0 {
            continue;
        }
        let share = hits as f64 / filled as f64;
        if share < 0.5 {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, best_share, best_hits)) => {
                share > best_share || (share == best_share && hits > best_hits)
            }
        };
        if better {
            best = Some((col, share, hits));
        }
    }
    best.map(|(col, _, _)| col)
}

/// Best guess for the email column: by header name first, else by sampled contents
/// (pass the first [`EMAIL_SAMPLE_ROWS`] data rows). `None` when nothing is convincing.
pub fn guess_email_column(headers: &[String], sample_rows: &[Vec<String>]) -> Option<usize> {
    let by_name = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| name_rank(h).map(|rank| (rank, i)))
        .min();
    if let Some((_, col)) = by_name {
        return Some(col);
    }
    guess_by_content(headers.len(), sample_rows)
}

/// The email column to use: `requested` matched exactly, then trimmed and
/// case-insensitively; no request (or a blank one) falls back to
/// [`guess_email_column`]. The error lists the available headers so a person can fix
/// the request.
pub fn resolve_email_column(
    headers: &[String],
    requested: Option<&str>,
    sample_rows: &[Vec<String>],
) -> Result<usize, InputError> {
    match requested.filter(|r| !r.trim().is_empty()) {
        Some(name) => {
            if let Some(i) = headers.iter().position(|h| h == name) {
                return Ok(i);
            }
            let wanted = name.trim().to_lowercase();
            headers
                .iter()
                .position(|h| h.trim().to_lowercase() == wanted)
                .ok_or_else(|| {
                    InputError::MissingEmailColumn(format!(
                        "there is no column named `{}`; the columns are: {}",
                        name.trim(),
                        list_headers(headers)
                    ))
                })
        }
        None => guess_email_column(headers, sample_rows).ok_or_else(|| {
            InputError::MissingEmailColumn(format!(
                "no column looks like email addresses; name the email column (one of: {})",
                list_headers(headers)
            ))
        }),
    }
}

/// `a, b, c` — capped so a 500-column sheet does not produce a 500-name message.
fn list_headers(headers: &[String]) -> String {
    const SHOWN: usize = 20;
    if headers.is_empty() {
        return "(none)".into();
    }
    let mut text = headers
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if headers.len() > SHOWN {
        text.push_str(&format!(" … and {} more", headers.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn common_header_spellings_are_found() {
        for (headers, want) in [
            (h(&["Name", "Email"]), 1),
            (h(&["Name", "E-mail"]), 1),
            (h(&["E-Mail Address", "Company"]), 0),
            (h(&["Company", "Work Email"]), 1),
            (h(&["first", "last", "mail"]), 2),
            (h(&["Business_Email", "x"]), 0),
            (h(&["contact email", "x"]), 0),
            (h(&["x", "Prospect Email"]), 1),
        ] {
            assert_eq!(guess_email_column(&headers, &[]), Some(want), "{headers:?}");
        }
    }

    #[test]
    fn exact_name_beats_qualified_and_metadata_columns() {
        let headers = h(&["Email Status", "Work Email", "Email"]);
        assert_eq!(guess_email_column(&headers, &[]), Some(2));
        let headers = h(&["email_verified", "Personal Email", "Work Email"]);
        assert_eq!(guess_email_column(&headers, &[]), Some(2));
    }

    #[test]
    fn metadata_is_judged_by_whole_words() {
        for meta in [
            "Email Status",
            "emailVerified",
            "EMAILSTATUS",
            "E-mail opt out",
            "email_bounced",
            "Email Open Count",
        ] {
            assert!(is_metadata(meta), "{meta}");
            assert_eq!(name_rank(meta), None, "{meta}");
        }
        for address in [
            "Representative Email",
            "Prospect Email",
            "Email 2",
            "emailAddress",
        ] {
            assert!(!is_metadata(address), "{address}");
            assert!(name_rank(address).is_some(), "{address}");
        }
        assert_eq!(
            words("workEmail-Address 2"),
            ["work", "email", "address", "2"]
        );
    }

    #[test]
    fn metadata_columns_alone_do_not_win_by_name() {
        let headers = h(&["Email Status", "Contact"]);
        let rows = vec![
            h(&["valid", "ann@acme.com"]),
            h(&["invalid", "bob@acme.io"]),
        ];
        assert_eq!(guess_email_column(&headers, &rows), Some(1));
        assert_eq!(guess_email_column(&headers, &[]), None);
    }

    #[test]
    fn contents_decide_when_headers_are_unhelpful() {
        let headers = h(&["Field 1", "Field 2", "Field 3"]);
        let rows = vec![
            h(&["Ann", "Acme", "ann@acme.com"]),
            h(&["Bob", "Beta", ""]),
            h(&["Cy", "see a@b", "cy@beta.co.uk"]),
        ];
        assert_eq!(guess_email_column(&headers, &rows), Some(2));
    }

    #[test]
    fn a_column_with_few_addresses_is_not_chosen() {
        let headers = h(&["notes"]);
        let rows = vec![
            h(&["call ann@acme.com"]),
            h(&["x@y.com"]),
            h(&["no"]),
            h(&["later"]),
        ];
        assert_eq!(guess_email_column(&headers, &rows), None);
    }

    #[test]
    fn email_shapes() {
        for ok in ["a@b.co", " ann.lee+x@mail.acme.com ", "mailto:z@q.io"] {
            assert!(looks_like_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a@b",
            "@b.com",
            "a b@c.com",
            "a@@b.com",
            "a@.com",
            "a@b.c",
            "ab.com",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }

    #[test]
    fn resolve_prefers_exact_then_case_insensitive() {
        let headers = h(&["email", "Email ", "EMAIL_2"]);
        assert_eq!(resolve_email_column(&headers, Some("Email "), &[]), Ok(1));
        assert_eq!(resolve_email_column(&headers, Some("email_2"), &[]), Ok(2));
        assert_eq!(resolve_email_column(&headers, Some("  EMAIL"), &[]), Ok(0));
    }

    #[test]
    fn resolve_without_request_guesses() {
        let headers = h(&["name", "Work Email"]);
        assert_eq!(resolve_email_column(&headers, None, &[]), Ok(1));
        assert_eq!(resolve_email_column(&headers, Some("  "), &[]), Ok(1));
    }

    #[test]
    fn resolve_errors_list_the_headers() {
        let headers = h(&["name", "company"]);
        assert_eq!(
            resolve_email_column(&headers, Some("mail"), &[]),
            Err(InputError::MissingEmailColumn(
                "there is no column named `mail`; the columns are: name, company".into()
            ))
        );
        assert_eq!(
            resolve_email_column(&headers, None, &[h(&["Ann", "Acme"])]),
            Err(InputError::MissingEmailColumn(
                "no column looks like email addresses; name the email column (one of: name, company)"
                    .into()
            ))
        );
    }

    #[test]
    fn long_header_lists_are_capped() {
        let headers: Vec<String> = (1..=25).map(|i| format!("c{i}")).collect();
        let Err(InputError::MissingEmailColumn(msg)) = resolve_email_column(&headers, None, &[])
        else {
            unreachable!("no column can be an email column here");
        };
        assert!(msg.ends_with("c19, c20 … and 5 more)"), "{msg}");
    }
}
