//! The opener claim check: every proper name, number and date an opener mentions must
//! come from the verified research, the row's own columns or the user's service context.

use crate::research::verify::{normalise, numbers, proper_names, words};

/// Number words that state a quantity as much as digits do.
const NUMBER_WORDS: &[&str] = &[
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "hundred",
    "hundreds",
    "thousand",
    "thousands",
    "million",
    "millions",
    "billion",
    "billions",
    "dozen",
    "dozens",
];

/// What an opener may draw on, normalised once per row.
#[derive(Debug, Clone)]
pub struct AllowedClaims {
    words: std::collections::HashSet<String>,
    numbers: std::collections::HashSet<String>,
}

impl AllowedClaims {
    /// `sources`: the verified facts and names, the row's values, the service context.
    pub fn new<'a>(sources: impl IntoIterator<Item = &'a str>) -> AllowedClaims {
        let text = sources.into_iter().collect::<Vec<_>>().join("\n");
        let n = normalise(&text);
        AllowedClaims {
            numbers: numbers(&n),
            words: words(&n),
        }
    }

    /// These claims and `other`'s together: the same as [`AllowedClaims::new`] over both
    /// source lists (sources are joined with a line break, and neither words nor numbers
    /// run across one).
    pub fn union(mut self, other: &AllowedClaims) -> AllowedClaims {
        self.words.extend(other.words.iter().cloned());
        self.numbers.extend(other.numbers.iter().cloned());
        self
    }

    /// The names, numbers and number words of `opener` that none of the sources state,
    /// in order of appearance, each once.
    pub fn unsupported(&self, opener: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |s: String| {
            if !out.contains(&s) {
                out.push(s);
            }
        };
        for name in proper_names(opener) {
            if !self.words.contains(&name) {
                push(name);
            }
        }
        let n = normalise(opener);
        for num in numbers(&n) {
            if !self.numbers.contains(&num) {
                push(num);
            }
        }
        for w in n.split(|c: char| !c.is_alphanumeric()) {
            if NUMBER_WORDS.contains(&w) && !self.words.contains(w) {
                push(w.to_string());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> AllowedClaims {
        AllowedClaims::new([
            "Opened a cross-dock hub in Rotterdam in March 2024",
            "Name: Jane Doe\nCompany: Northwind Logistics",
            "Core offer: route planning for 3PLs\nCall to action: a 15-minute call",
        ])
    }

    #[test]
    fn names_and_numbers_from_the_sources_pass() {
        let a = allowed();
        assert_eq!(
            a.unsupported("Saw Northwind Logistics opened a Rotterdam hub in March 2024; does routing keep up?"),
            Vec::<String>::new()
        );
        assert_eq!(
            a.unsupported("Worth a 15-minute call, Jane?"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn invented_names_numbers_and_dates_are_named() {
        let a = allowed();
        assert_eq!(
            a.unsupported("Congrats on the Series C and the new Hamburg office with 300 staff."),
            vec!["series", "c", "hamburg", "300"]
        );
        assert_eq!(
            a.unsupported("Since June, three new hubs."),
            vec!["june", "three"]
        );
        assert_eq!(
            a.unsupported("Globex clients love route planning."),
            vec!["globex"]
        );
    }

    #[test]
    fn common_sentence_starters_and_i_are_not_names() {
        let a = allowed();
        assert_eq!(
            a.unsupported("Scaling a network is hard. I'd love to help."),
            Vec::<String>::new()
        );
    }
}
