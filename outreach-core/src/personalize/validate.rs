//! Validation of an opener: the model's text is cleaned of the wrapping models add, then
//! checked against the user's copy rules (sentences, words per sentence, forbidden
//! phrases), template placeholders, and the claim check (names and numbers it may use).

use super::claims::AllowedClaims;
use super::rules::CopyRules;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenerProblem {
    Empty,
    Placeholder(String),
    TooManySentences {
        found: usize,
        max: usize,
    },
    SentenceTooLong {
        found: usize,
        max: usize,
    },
    Forbidden(String),
    /// Names, numbers or dates no source states.
    Unsupported(Vec<String>),
}

impl OpenerProblem {
    /// A short reason for the fallback cell.
    pub fn reason(&self) -> String {
        match self {
            OpenerProblem::Empty => "empty response.".into(),
            OpenerProblem::Placeholder(p) => format!("template placeholder {p}."),
            OpenerProblem::TooManySentences { found, max } => {
                format!("{found} sentences (max {max}).")
            }
            OpenerProblem::SentenceTooLong { found, max } => {
                format!("a sentence of {found} words (max {max}).")
            }
            OpenerProblem::Forbidden(f) => format!("forbidden phrase \"{f}\"."),
            OpenerProblem::Unsupported(items) => {
                format!("unsupported claims ({}).", items.join(", "))
            }
        }
    }

    /// The feedback line sent with the single retry.
    pub fn feedback(&self) -> String {
        match self {
            OpenerProblem::Empty => "Your reply was empty. Write the opening line.".into(),
            OpenerProblem::Placeholder(p) => format!(
                "Your reply contained the placeholder {p}. Use the real names from the research or rephrase without them."
            ),
            OpenerProblem::TooManySentences { found, max } => format!(
                "Your reply had {found} sentences. Use at most {max}."
            ),
            OpenerProblem::SentenceTooLong { found, max } => format!(
                "One sentence had {found} words. Keep every sentence to {max} words or fewer."
            ),
            OpenerProblem::Forbidden(f) => format!(
                "Your reply used \"{f}\", which is not allowed. Rewrite it without that."
            ),
            OpenerProblem::Unsupported(items) => format!(
                "Your reply mentions {}, which neither the research facts, the prospect's row nor our service state. \
Rewrite it without them; mention only what those sources say.",
                items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// Clean and check form only (the seed's rules: placeholders, 2 sentences × 25 words).
pub fn validate_opener(raw: &str) -> Result<String, OpenerProblem> {
    check_form(raw, &CopyRules::default())
}

/// Clean and check everything: form, the copy rules, and (when given) the claims.
/// `Ok` holds the text to write into the cell.
pub fn check_opener(
    raw: &str,
    rules: &CopyRules,
    allowed: Option<&AllowedClaims>,
) -> Result<String, OpenerProblem> {
    let text = check_form(raw, rules)?;
    if let Some(f) = rules.find_forbidden(&text) {
        return Err(OpenerProblem::Forbidden(f));
    }
    if let Some(allowed) = allowed {
        let missing = allowed.unsupported(&text);
        if !missing.is_empty() {
            return Err(OpenerProblem::Unsupported(missing));
        }
    }
    Ok(text)
}

fn check_form(raw: &str, rules: &CopyRules) -> Result<String, OpenerProblem> {
    let text = clean(raw);
    if text.is_empty() {
        return Err(OpenerProblem::Empty);
    }
    if let Some(p) = find_placeholder(&text) {
        return Err(OpenerProblem::Placeholder(p));
    }
    let sentences = sentences(&text);
    if sentences.len() > rules.sentences {
        return Err(OpenerProblem::TooManySentences {
            found: sentences.len(),
            max: rules.sentences,
        });
    }
    if let Some(longest) = sentences.iter().map(|s| s.split_whitespace().count()).max() {
        if longest > rules.words_per_sentence {
            return Err(OpenerProblem::SentenceTooLong {
                found: longest,
                max: rules.words_per_sentence,
            });
        }
    }
    Ok(text)
}

/// After the retry also failed on sentence count: keep the first sentences when they
/// alone obey every rule. A short, valid opener beats a fallback.
pub fn salvage(raw: &str, rules: &CopyRules, allowed: Option<&AllowedClaims>) -> Option<String> {
    let text = clean(raw);
    let sentences = sentences(&text);
    let kept = sentences.get(..rules.sentences)?.join(" ");
    check_opener(&kept, rules, allowed).ok()
}

/// Strip what models wrap around the line: a preface ending in a colon, labels,
/// markdown emphasis, wrapping quotes, line breaks.
fn clean(raw: &str) -> String {
    let mut lines: Vec<&str> = raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // "Here's a personalized opening line:" on its own line.
    if lines.len() > 1 && lines.first().is_some_and(|l| l.ends_with(':')) {
        lines.remove(0);
    }
    let mut text = lines.join(" ").replace("**", "").replace('*', "");
    for label in ["opening line:", "opener:", "line:", "subject:"] {
        if text.to_lowercase().starts_with(label) {
            text = text[label.len()..].trim_start().to_string();
        }
    }
    let mut text = text.trim().to_string();
    loop {
        let t = text.trim();
        let stripped = [('"', '"'), ('“', '”'), ('\'', '\''), ('`', '`')]
            .iter()
            .find_map(|(open, close)| {
                let inner = t.strip_prefix(*open)?.strip_suffix(*close)?;
                (!inner.contains(*open) || *open != *close).then(|| inner.to_string())
            });
        match stripped {
            Some(inner) => text = inner,
            None => break,
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `[Name]`, `{company}`, `<First Name>`, `{{x}}` — any bracketed word is a template slot.
fn find_placeholder(text: &str) -> Option<String> {
    for (open, close) in [('[', ']'), ('{', '}'), ('<', '>')] {
        let mut rest = text;
        while let Some(start) = rest.find(open) {
            let after = &rest[start + open.len_utf8()..];
            let Some(end) = after.find(close) else { break };
            let inner = &after[..end];
            if !inner.is_empty() && inner.len() <= 40 && inner.chars().any(char::is_alphabetic) {
                return Some(format!("{open}{inner}{close}"));
            }
            rest = &after[end..];
        }
    }
    None
}

/// Split into sentences at `.`, `!` or `?` followed by whitespace, not after a common
/// abbreviation (so "e.g. faster" or "Dr. Smith" stay one sentence).
fn sentences(text: &str) -> Vec<String> {
    const ABBREVIATIONS: [&str; 10] = [
        "e.g.", "i.e.", "dr.", "mr.", "mrs.", "ms.", "vs.", "inc.", "etc.", "st.",
    ];
    let mut out = Vec::new();
    let mut current = String::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
        let trimmed = word.trim_end_matches(['"', '\'', ')', '”', '’']);
        let ends = trimmed.ends_with(['.', '!', '?']);
        let abbreviation = ABBREVIATIONS.contains(&word.to_lowercase().as_str());
        if ends && !abbreviation && i + 1 < words.len() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_wrapping() {
        let cases = [
            (
                "\"Saw Acme just opened a Berlin office.\"",
                "Saw Acme just opened a Berlin office.",
            ),
            (
                "Here's a personalized opening line:\n\n“Saw Acme just opened a Berlin office.”",
                "Saw Acme just opened a Berlin office.",
            ),
            (
                "**Opener:** Saw Acme just opened\na Berlin office.",
                "Saw Acme just opened a Berlin office.",
            ),
            (
                "Congrats on the Series B, e.g. more hiring ahead. How is onboarding going?",
                "Congrats on the Series B, e.g. more hiring ahead. How is onboarding going?",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(validate_opener(raw).as_deref(), Ok(want), "{raw:?}");
        }
    }

    #[test]
    fn rejects_rule_breakers() {
        assert_eq!(validate_opener("  "), Err(OpenerProblem::Empty));
        assert_eq!(
            validate_opener("Hi [Name], loved the launch."),
            Err(OpenerProblem::Placeholder("[Name]".into()))
        );
        assert_eq!(
            validate_opener("Hi {first_name}, loved the launch."),
            Err(OpenerProblem::Placeholder("{first_name}".into()))
        );
        assert_eq!(
            validate_opener("One. Two. Three."),
            Err(OpenerProblem::TooManySentences { found: 3, max: 2 })
        );
        let long = vec!["word"; 26].join(" ") + ".";
        assert_eq!(
            validate_opener(&long),
            Err(OpenerProblem::SentenceTooLong { found: 26, max: 25 })
        );
        let ok = vec!["word"; 25].join(" ") + ".";
        assert!(validate_opener(&ok).is_ok());
    }

    #[test]
    fn salvage_keeps_two_valid_sentences() {
        let r = CopyRules::default();
        assert_eq!(
            salvage("One here. Two here. Three here.", &r, None).as_deref(),
            Some("One here. Two here.")
        );
        let long = vec!["word"; 30].join(" ");
        assert_eq!(salvage(&format!("{long}. Two. Three."), &r, None), None);
    }

    #[test]
    fn copy_rules_and_claims_are_checked() {
        let rules = CopyRules {
            sentences: 1,
            words_per_sentence: 8,
            ..CopyRules::default()
        };
        assert_eq!(
            check_opener("One here. Two here.", &rules, None),
            Err(OpenerProblem::TooManySentences { found: 2, max: 1 })
        );
        assert_eq!(
            check_opener("one two three four five six seven eight nine", &rules, None),
            Err(OpenerProblem::SentenceTooLong { found: 9, max: 8 })
        );
        assert_eq!(
            check_opener("Great news \u{2014} truly.", &rules, None),
            Err(OpenerProblem::Forbidden("\u{2014}".into()))
        );
        let allowed = AllowedClaims::new(["Northwind opened a hub in Rotterdam"]);
        assert_eq!(
            check_opener("Saw the Rotterdam hub open.", &rules, Some(&allowed)).as_deref(),
            Ok("Saw the Rotterdam hub open.")
        );
        let err = check_opener("Saw the Hamburg hub open.", &rules, Some(&allowed));
        assert_eq!(err, Err(OpenerProblem::Unsupported(vec!["hamburg".into()])));
        assert!(err
            .err()
            .map(|e| e.feedback())
            .unwrap_or_default()
            .contains("\"hamburg\""));
    }
}
