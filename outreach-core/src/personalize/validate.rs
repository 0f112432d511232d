//! Validation of an opener: the model's text is cleaned of the wrapping models add, then
//! checked against the rules (1–2 sentences, each ≤ 25 words, no template placeholders).

pub const MAX_SENTENCES: usize = 2;
pub const MAX_WORDS_PER_SENTENCE: usize = 25;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenerProblem {
    Empty,
    Placeholder(String),
    TooManySentences(usize),
    SentenceTooLong(usize),
}

impl OpenerProblem {
    /// A short reason for the fallback cell.
    pub fn reason(&self) -> String {
        match self {
            OpenerProblem::Empty => "empty response.".into(),
            OpenerProblem::Placeholder(p) => format!("template placeholder {p}."),
            OpenerProblem::TooManySentences(n) => format!("{n} sentences (max {MAX_SENTENCES})."),
            OpenerProblem::SentenceTooLong(n) => {
                format!("a sentence of {n} words (max {MAX_WORDS_PER_SENTENCE}).")
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
            OpenerProblem::TooManySentences(n) => format!(
                "Your reply had {n} sentences. Use one or two sentences, each of {MAX_WORDS_PER_SENTENCE} words or fewer."
            ),
            OpenerProblem::SentenceTooLong(n) => format!(
                "One sentence had {n} words. Keep every sentence to {MAX_WORDS_PER_SENTENCE} words or fewer, one or two sentences."
            ),
        }
    }
}

/// Clean and check. `Ok` holds the text to write into the cell.
pub fn validate_opener(raw: &str) -> Result<String, OpenerProblem> {
    let text = clean(raw);
    if text.is_empty() {
        return Err(OpenerProblem::Empty);
    }
    if let Some(p) = find_placeholder(&text) {
        return Err(OpenerProblem::Placeholder(p));
    }
    let sentences = sentences(&text);
    if sentences.len() > MAX_SENTENCES {
        return Err(OpenerProblem::TooManySentences(sentences.len()));
    }
    if let Some(longest) = sentences.iter().map(|s| s.split_whitespace().count()).max() {
        if longest > MAX_WORDS_PER_SENTENCE {
            return Err(OpenerProblem::SentenceTooLong(longest));
        }
    }
    Ok(text)
}

/// After the retry also failed on sentence count: keep the first two sentences when
/// they alone obey the rules. A short, valid opener beats a fallback.
pub fn salvage(raw: &str) -> Option<String> {
    let text = clean(raw);
    let sentences = sentences(&text);
    let kept = sentences.get(..MAX_SENTENCES)?.join(" ");
    validate_opener(&kept).ok()
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
            Err(OpenerProblem::TooManySentences(3))
        );
        let long = vec!["word"; 26].join(" ") + ".";
        assert_eq!(
            validate_opener(&long),
            Err(OpenerProblem::SentenceTooLong(26))
        );
        let ok = vec!["word"; 25].join(" ") + ".";
        assert!(validate_opener(&ok).is_ok());
    }

    #[test]
    fn salvage_keeps_two_valid_sentences() {
        assert_eq!(
            salvage("One here. Two here. Three here.").as_deref(),
            Some("One here. Two here.")
        );
        let long = vec!["word"; 30].join(" ");
        assert_eq!(salvage(&format!("{long}. Two. Three.")), None);
    }
}
