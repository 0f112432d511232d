//! The user's copy rules, per job: the opener's language, its length, forbidden words
//! and phrases, and free-text instructions. Defaults are the seed's (English, two
//! sentences of at most 25 words) plus a list of spam triggers and AI tells.

use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// Spam triggers and phrases that mark a line as machine-written. Matched without case,
/// on word boundaries (the dashes anywhere).
pub const DEFAULT_FORBIDDEN: &[&str] = &[
    "\u{2014}",
    " \u{2013} ",
    "I hope this finds you well",
    "I hope this email finds you well",
    "I hope this message finds you well",
    "I hope you're doing well",
    "I hope you are doing well",
    "I came across",
    "I stumbled upon",
    "I wanted to reach out",
    "I'm reaching out",
    "I am reaching out",
    "just checking in",
    "touch base",
    "circle back",
    "synergy",
    "synergies",
    "leverage",
    "game-changer",
    "game changer",
    "revolutionize",
    "revolutionise",
    "cutting-edge",
    "best-in-class",
    "world-class",
    "delve",
    "in today's fast-paced",
    "ever-evolving",
    "unlock",
    "elevate",
    "seamless",
    "seamlessly",
    "tapestry",
    "testament to",
    "act now",
    "limited time",
    "risk-free",
    "guaranteed",
    "no obligation",
    "click here",
    "buy now",
];

pub const DEFAULT_LANGUAGE: &str = "English";
pub const DEFAULT_SENTENCES: usize = 2;
pub const DEFAULT_WORDS_PER_SENTENCE: usize = 25;

/// Limits of the rules themselves (a rule set is user input too).
pub const MAX_INSTRUCTIONS_CHARS: usize = 500;
pub const MAX_FORBIDDEN_ENTRIES: usize = 100;
pub const MAX_FORBIDDEN_CHARS: usize = 100;
pub const MAX_LANGUAGE_CHARS: usize = 40;
pub const SENTENCES_RANGE: std::ops::RangeInclusive<usize> = 1..=4;
pub const WORDS_RANGE: std::ops::RangeInclusive<usize> = 5..=60;

/// The limits [`CopyRules::validate`] enforces, for forms (`/ui/config.json`) and
/// bindings that check before they send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CopyLimits {
    pub language_max_chars: usize,
    /// Inclusive bounds of `sentences`.
    pub sentences: [usize; 2],
    /// Inclusive bounds of `words_per_sentence`.
    pub words_per_sentence: [usize; 2],
    pub forbidden_max_entries: usize,
    pub forbidden_max_chars: usize,
    pub instructions_max_chars: usize,
}

/// The copy-rule limits.
pub const COPY_LIMITS: CopyLimits = CopyLimits {
    language_max_chars: MAX_LANGUAGE_CHARS,
    sentences: [*SENTENCES_RANGE.start(), *SENTENCES_RANGE.end()],
    words_per_sentence: [*WORDS_RANGE.start(), *WORDS_RANGE.end()],
    forbidden_max_entries: MAX_FORBIDDEN_ENTRIES,
    forbidden_max_chars: MAX_FORBIDDEN_CHARS,
    instructions_max_chars: MAX_INSTRUCTIONS_CHARS,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CopyRules {
    /// The opener's language, in English words ("German", "Brazilian Portuguese").
    pub language: String,
    /// Most sentences an opener may have.
    pub sentences: usize,
    /// Most words per sentence.
    pub words_per_sentence: usize,
    /// Words and phrases the opener must not contain (replaces the default list).
    pub forbidden: Vec<String>,
    /// Free-text instructions for the writer ("mention our Berlin office", "informal").
    pub instructions: String,
    /// For a row without verified research: write an opener from the row's own columns
    /// and the service context instead of the fallback line.
    pub opener_without_research: bool,
}

impl Default for CopyRules {
    fn default() -> Self {
        Self {
            language: DEFAULT_LANGUAGE.into(),
            sentences: DEFAULT_SENTENCES,
            words_per_sentence: DEFAULT_WORDS_PER_SENTENCE,
            forbidden: DEFAULT_FORBIDDEN.iter().map(|s| s.to_string()).collect(),
            instructions: String::new(),
            opener_without_research: false,
        }
    }
}

impl CopyRules {
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |m: String| Err(InputError::InvalidService(m));
        let lang = self.language.trim();
        if lang.is_empty() || lang.chars().count() > MAX_LANGUAGE_CHARS {
            return bad(format!(
                "`copy.language` must be a language name of 1 to {MAX_LANGUAGE_CHARS} characters"
            ));
        }
        if !SENTENCES_RANGE.contains(&self.sentences) {
            return bad(format!(
                "`copy.sentences` is {}; it must be between {} and {}",
                self.sentences,
                SENTENCES_RANGE.start(),
                SENTENCES_RANGE.end()
            ));
        }
        if !WORDS_RANGE.contains(&self.words_per_sentence) {
            return bad(format!(
                "`copy.words_per_sentence` is {}; it must be between {} and {}",
                self.words_per_sentence,
                WORDS_RANGE.start(),
                WORDS_RANGE.end()
            ));
        }
        if self.forbidden.len() > MAX_FORBIDDEN_ENTRIES {
            return bad(format!(
                "`copy.forbidden` has {} entries; the limit is {MAX_FORBIDDEN_ENTRIES}",
                self.forbidden.len()
            ));
        }
        if let Some(long) = self
            .forbidden
            .iter()
            .find(|f| f.chars().count() > MAX_FORBIDDEN_CHARS)
        {
            return bad(format!(
                "a `copy.forbidden` entry is {} characters long; the limit is {MAX_FORBIDDEN_CHARS}",
                long.chars().count()
            ));
        }
        let n = self.instructions.chars().count();
        if n > MAX_INSTRUCTIONS_CHARS {
            return bad(format!(
                "`copy.instructions` is {n} characters long; the limit is {MAX_INSTRUCTIONS_CHARS}"
            ));
        }
        Ok(())
    }

    /// The rules as the writer's prompt states them.
    pub fn to_prompt(&self) -> String {
        let sentences = if self.sentences == 1 {
            "one sentence".to_string()
        } else {
            format!("one to {} sentences", self.sentences)
        };
        let mut s = format!(
            "Write in {}. Rules: {sentences}; every sentence {} words or fewer; no greeting, no sign-off, \
no placeholders like [Name].",
            self.language.trim(),
            self.words_per_sentence
        );
        let shown: Vec<&str> = self
            .forbidden
            .iter()
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
            .collect();
        if !shown.is_empty() {
            let list: Vec<String> = shown
                .iter()
                .map(|f| match *f {
                    "\u{2014}" => "em dashes".to_string(),
                    "\u{2013}" => "en dashes".to_string(),
                    other => format!("\"{other}\""),
                })
                .collect();
            s.push_str(&format!(" Never use: {}.", list.join(", ")));
        }
        if !self.instructions.trim().is_empty() {
            s.push_str(&format!(
                " The user's instructions: {}",
                self.instructions.trim()
            ));
        }
        s
    }

    /// The first forbidden entry `text` contains, as the user wrote it.
    pub fn find_forbidden(&self, text: &str) -> Option<String> {
        let hay = fold(text);
        self.forbidden.iter().find_map(|entry| {
            let needle = fold(entry);
            if needle.trim().is_empty() {
                return None;
            }
            let wordy_start = needle.chars().next().is_some_and(char::is_alphanumeric);
            let wordy_end = needle.chars().last().is_some_and(char::is_alphanumeric);
            let found = hay.match_indices(needle.as_str()).any(|(i, m)| {
                let before = hay[..i].chars().next_back();
                let after = hay[i + m.len()..].chars().next();
                (!wordy_start || !before.is_some_and(char::is_alphanumeric))
                    && (!wordy_end || !after.is_some_and(char::is_alphanumeric))
            });
            found.then(|| entry.trim().to_string())
        })
    }
}

/// Lower case, curly quotes straightened, whitespace collapsed (dashes kept: an em
/// dash is not a hyphen).
fn fold(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    let trimmed_edges = s.starts_with(' ') || s.ends_with(' ');
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if trimmed_edges {
        // Keep the spaces around a spaced dash entry (" – ").
        let lead = if s.starts_with(' ') { " " } else { "" };
        let trail = if s.ends_with(' ') { " " } else { "" };
        format!("{lead}{joined}{trail}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_catch_ai_tells_on_word_boundaries() {
        let r = CopyRules::default();
        assert_eq!(
            r.find_forbidden("I came across your post"),
            Some("I came across".into())
        );
        assert_eq!(
            r.find_forbidden("Great launch \u{2014} congrats"),
            Some("\u{2014}".into())
        );
        assert_eq!(
            r.find_forbidden("Real SYNERGY here"),
            Some("synergy".into())
        );
        assert_eq!(
            r.find_forbidden("I hope this finds you well."),
            Some("I hope this finds you well".into())
        );
        assert_eq!(
            r.find_forbidden("I’m reaching out about routes"),
            Some("I'm reaching out".into())
        );
        // Not inside other words, hyphens are fine.
        assert_eq!(
            r.find_forbidden("Your cross-dock hub in Rotterdam grew fast."),
            None
        );
        assert_eq!(r.find_forbidden("Leveraged buyouts"), None);
        assert_eq!(r.find_forbidden("Pages 3 – 5"), Some("\u{2013}".into()));
    }

    #[test]
    fn user_lists_replace_the_defaults() {
        let r = CopyRules {
            forbidden: vec!["cheap".into()],
            ..CopyRules::default()
        };
        assert_eq!(r.find_forbidden("a cheap idea"), Some("cheap".into()));
        assert_eq!(r.find_forbidden("synergy"), None);
    }

    #[test]
    fn validation_names_the_field_and_the_limit() {
        assert_eq!(CopyRules::default().validate(), Ok(()));
        let msg = |r: CopyRules| {
            r.validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(msg(CopyRules {
            sentences: 9,
            ..CopyRules::default()
        })
        .contains("`copy.sentences` is 9"));
        assert!(msg(CopyRules {
            words_per_sentence: 2,
            ..CopyRules::default()
        })
        .contains("words_per_sentence"));
        assert!(msg(CopyRules {
            instructions: "x".repeat(501),
            ..CopyRules::default()
        })
        .contains("501"));
        assert!(msg(CopyRules {
            language: String::new(),
            ..CopyRules::default()
        })
        .contains("language"));
        assert!(msg(CopyRules {
            forbidden: vec!["x".repeat(101)],
            ..CopyRules::default()
        })
        .contains("forbidden"));
    }

    #[test]
    fn prompt_states_the_rules() {
        let r = CopyRules {
            language: "German".into(),
            sentences: 1,
            words_per_sentence: 18,
            instructions: "Be informal.".into(),
            ..CopyRules::default()
        };
        let p = r.to_prompt();
        assert!(p.contains("Write in German"));
        assert!(p.contains("one sentence;"));
        assert!(p.contains("18 words"));
        assert!(p.contains("em dashes"));
        assert!(p.contains("Be informal."));
    }
}
