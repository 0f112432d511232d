//! The mechanical verifier: a fact reaches the user only with evidence that checks out.
//!
//! For each fact the model returned (person info, company info, the moat), one of its
//! evidence entries must pass all of:
//! 1. the URL is a search result this row's queries returned ([`SourceDoc`]);
//! 2. the quote is a span of that result's title or snippet, after normalising case,
//!    whitespace, quote marks and dashes ([`normalise`]);
//! 3. the fact's numbers and proper names all appear in the quote, and at least half of
//!    its content words do ([`supported_by`]);
//! 4. the source is about the right subject ([`super::identity`]).
//!
//! A fact that fails is dropped, never repaired; the caller counts the drops.

use std::collections::HashSet;

use super::identity::{Anchors, Subject};
use super::model::{
    is_unknown, Company, Evidence, Identity, Person, Research, ResearchReply, RESEARCH_VERSION,
    UNKNOWN,
};
use super::prospect::Prospect;
use crate::providers::SearchResults;

/// Organic results per query shown to the model (and so citable).
pub const HITS_PER_QUERY: usize = 5;
/// Shortest quote accepted, in characters after normalising: shorter spans ("the", "VP")
/// occur everywhere and prove nothing.
const MIN_QUOTE_CHARS: usize = 12;

/// One citable search result: its URL and the texts a quote may come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDoc {
    pub url: String,
    /// Title, snippet (and a knowledge panel's description and attribute lines).
    pub texts: Vec<String>,
}

impl SourceDoc {
    /// Everything the source says, normalised, for the identity rules.
    pub fn normalised_text(&self) -> String {
        normalise(&self.texts.join(" \n "))
    }
}

/// The citable sources of a row's searches, in the order the prompt shows them.
pub fn source_docs(results: &[&SearchResults]) -> Vec<SourceDoc> {
    let mut out = Vec::new();
    for r in results {
        if let Some(kg) = &r.knowledge_graph {
            if let Some(site) = &kg.website {
                let mut texts = vec![kg.title.clone()];
                texts.extend(kg.description.clone());
                texts.extend(
                    kg.attributes
                        .iter()
                        .take(6)
                        .map(|(k, v)| format!("{k}: {v}")),
                );
                out.push(SourceDoc {
                    url: site.clone(),
                    texts,
                });
            }
        }
        for hit in r.organic.iter().take(HITS_PER_QUERY) {
            out.push(SourceDoc {
                url: hit.link.clone(),
                texts: vec![hit.title.clone(), hit.snippet.clone()],
            });
        }
    }
    out
}

/// Why a fact was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// No evidence entry names this fact.
    NoEvidence,
    /// The URL is not one of this row's search results.
    UnknownUrl,
    /// The quote is not a span of the result's title or snippet.
    QuoteNotInSource,
    /// The quote does not contain this number or name of the fact.
    Unsupported(String),
    /// The source is not about this person at this company (or not about the company).
    WrongSubject,
}

/// The verifier's result for one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub research: Research,
    /// Facts dropped, with the reason of their last evidence entry.
    pub dropped: Vec<(String, DropReason)>,
}

impl Verified {
    pub fn facts_kept(&self) -> usize {
        self.research.evidence.len()
    }

    /// True when a person fact was dropped because its source was about someone else.
    pub fn dropped_a_stranger(&self) -> bool {
        self.dropped
            .iter()
            .any(|(_, r)| *r == DropReason::WrongSubject)
    }
}

/// Verify the model's reply against the row's sources and what the row says.
pub fn verify(reply: &ResearchReply, prospect: &Prospect, docs: &[SourceDoc]) -> Verified {
    let anchors = Anchors::new(prospect, reply, docs);
    // Normalised once per reply, not once per fact and evidence entry.
    let sourced = Sources {
        docs,
        texts: docs
            .iter()
            .map(|d| d.texts.iter().map(|t| normalise(t)).collect())
            .collect(),
    };
    let evidence_facts: Vec<String> = reply.evidence.iter().map(|e| normalise(&e.fact)).collect();
    let mut dropped = Vec::new();
    let mut evidence = Vec::new();
    let mut seen = HashSet::new();
    let mut keep = |fact: &str, subject: Subject, dropped: &mut Vec<(String, DropReason)>| {
        let fact = fact.trim();
        if is_unknown(fact) || !seen.insert(normalise(fact)) {
            return false;
        }
        match check_fact(
            fact,
            &reply.evidence,
            &evidence_facts,
            &sourced,
            subject,
            &anchors,
        ) {
            Ok(e) => {
                evidence.push(e);
                true
            }
            Err(reason) => {
                dropped.push((fact.to_string(), reason));
                false
            }
        }
    };
    let person_info: Vec<String> = reply
        .person
        .info
        .iter()
        .filter(|f| keep(f, Subject::Person, &mut dropped))
        .map(|f| f.trim().to_string())
        .collect();
    let company_info: Vec<String> = reply
        .company
        .info
        .iter()
        .filter(|f| keep(f, Subject::Company, &mut dropped))
        .map(|f| f.trim().to_string())
        .collect();
    let moat = if keep(&reply.company.moat, Subject::Company, &mut dropped) {
        reply.company.moat.trim().to_string()
    } else {
        UNKNOWN.to_string()
    };
    let identity = if !person_info.is_empty() {
        Identity::Confirmed
    } else if !company_info.is_empty() || !is_unknown(&moat) {
        Identity::CompanyOnly
    } else {
        Identity::Unsure
    };
    let mut sources: Vec<String> = Vec::new();
    for e in &evidence {
        if !sources.contains(&e.url) {
            sources.push(e.url.clone());
        }
    }
    let person_name = prospect
        .name
        .clone()
        .or_else(|| {
            let name = reply.person.name.trim();
            (identity == Identity::Confirmed
                && (anchors.model_name_accepted || anchors.matches_person(name)))
            .then(|| name.to_string())
        })
        .unwrap_or_else(|| UNKNOWN.to_string());
    let title = prospect
        .title
        .clone()
        .or_else(|| {
            let t = reply.person.title.trim();
            let shown = !is_unknown(t)
                && identity == Identity::Confirmed
                && docs.iter().any(|d| {
                    anchors.allows(d, Subject::Person)
                        && d.normalised_text().contains(&normalise(t))
                });
            shown.then(|| t.to_string())
        })
        .unwrap_or_else(|| UNKNOWN.to_string());
    let company_name = prospect
        .company
        .clone()
        .or_else(|| anchors.model_company.clone())
        .unwrap_or_else(|| UNKNOWN.to_string());
    let domain = prospect
        .company_domains()
        .into_iter()
        .next()
        .unwrap_or_else(|| UNKNOWN.to_string());
    Verified {
        research: Research {
            person: Person {
                name: person_name,
                title,
                info: person_info,
            },
            company: Company {
                name: company_name,
                domain,
                info: company_info,
                moat,
            },
            evidence,
            identity,
            sources,
            version: RESEARCH_VERSION,
        },
        dropped,
    }
}

/// The row's sources with their texts normalised (`texts[i]` for `docs[i]`).
struct Sources<'a> {
    docs: &'a [SourceDoc],
    texts: Vec<Vec<String>>,
}

/// The first evidence entry for `fact` that passes every check, or why the last failed.
/// `evidence_facts[i]` is `evidence[i].fact` normalised.
fn check_fact(
    fact: &str,
    evidence: &[Evidence],
    evidence_facts: &[String],
    sources: &Sources,
    subject: Subject,
    anchors: &Anchors,
) -> Result<Evidence, DropReason> {
    let wanted = normalise(fact);
    let mut last = DropReason::NoEvidence;
    for (e, _) in evidence
        .iter()
        .zip(evidence_facts)
        .filter(|(_, f)| **f == wanted)
    {
        match check_evidence(fact, e, sources, subject, anchors) {
            Ok(()) => {
                return Ok(Evidence {
                    fact: fact.to_string(),
                    url: e.url.trim().to_string(),
                    quote: e.quote.trim().to_string(),
                })
            }
            Err(r) => last = r,
        }
    }
    Err(last)
}

fn check_evidence(
    fact: &str,
    e: &Evidence,
    sources: &Sources,
    subject: Subject,
    anchors: &Anchors,
) -> Result<(), DropReason> {
    let url = e.url.trim();
    let candidates: Vec<(&SourceDoc, &Vec<String>)> = sources
        .docs
        .iter()
        .zip(&sources.texts)
        .filter(|(d, _)| d.url == url)
        .collect();
    if candidates.is_empty() {
        return Err(DropReason::UnknownUrl);
    }
    let quote = normalise(&e.quote);
    if quote.chars().count() < MIN_QUOTE_CHARS {
        return Err(DropReason::QuoteNotInSource);
    }
    let mut reason = DropReason::QuoteNotInSource;
    for (doc, texts) in candidates {
        if !texts.iter().any(|t| t.contains(&quote)) {
            continue;
        }
        if let Err(missing) = supported_by(fact, &quote) {
            reason = DropReason::Unsupported(missing);
            continue;
        }
        if !anchors.allows(doc, subject) {
            reason = DropReason::WrongSubject;
            continue;
        }
        return Ok(());
    }
    Err(reason)
}

/// Lower case; curly and straight quote marks removed; dashes unified to `-`; `…` as
/// `...`; runs of whitespace as one space. Both sides of every comparison go through it.
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\'' | '`' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{201C}'
            | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{00AB}' | '\u{00BB}' | '\u{2039}'
            | '\u{203A}' | '\u{00B4}' => {}
            '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
            | '\u{2212}' => out.push('-'),
            '\u{2026}' => out.push_str("..."),
            c if c.is_whitespace() => out.push(' '),
            c => out.extend(c.to_lowercase()),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The words of a normalised text: alphanumeric runs.
pub fn words(normalised: &str) -> HashSet<String> {
    normalised
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The numbers in a text: digit runs, with `,` thousands separators removed and a
/// decimal point kept (`1,200` → `1200`, `3.5` → `3.5`).
pub fn numbers(text: &str) -> HashSet<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = HashSet::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut n = String::new();
        while i < chars.len() {
            let c = chars[i];
            let joins = (c == ',' || c == '.')
                && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                && !n.is_empty();
            if c.is_ascii_digit() {
                n.push(c);
            } else if joins {
                if c == '.' {
                    n.push('.');
                }
            } else {
                break;
            }
            i += 1;
        }
        out.insert(n);
    }
    out
}

/// Sentence-starting words that are not names (so "Leads the team" needs no "Leads" in
/// its quote). Everything else capitalised counts as a proper name.
pub(crate) const COMMON_STARTERS: &[&str] = &[
    "a",
    "an",
    "the",
    "i",
    "we",
    "our",
    "you",
    "your",
    "they",
    "their",
    "he",
    "she",
    "his",
    "her",
    "its",
    "it",
    "this",
    "that",
    "these",
    "those",
    "there",
    "here",
    "as",
    "at",
    "in",
    "on",
    "for",
    "from",
    "with",
    "by",
    "of",
    "to",
    "and",
    "but",
    "or",
    "so",
    "since",
    "after",
    "before",
    "when",
    "while",
    "if",
    "how",
    "what",
    "why",
    "who",
    "where",
    "with",
    "without",
    "leads",
    "led",
    "runs",
    "ran",
    "heads",
    "headed",
    "manages",
    "managed",
    "oversees",
    "founded",
    "co-founded",
    "cofounded",
    "joined",
    "works",
    "worked",
    "serves",
    "served",
    "previously",
    "formerly",
    "currently",
    "recently",
    "raised",
    "launched",
    "acquired",
    "announced",
    "opened",
    "expanded",
    "hired",
    "provides",
    "offers",
    "builds",
    "sells",
    "makes",
    "helps",
    "operates",
    "specializes",
    "specialises",
    "focuses",
    "based",
    "headquartered",
    "employs",
    "has",
    "had",
    "is",
    "was",
    "are",
    "were",
    "over",
    "more",
    "about",
    "around",
    "nearly",
    "almost",
    "approximately",
    "across",
    "global",
    "leading",
    "speaker",
    "author",
    "host",
    "member",
    "partner",
    "owner",
    "former",
    "senior",
    "chief",
    "head",
    "vp",
    "director",
    "manager",
    "engineer",
    "saw",
    "noticed",
    "congrats",
    "congratulations",
    "loved",
    "curious",
    "quick",
    "given",
    "scaling",
    "running",
    "growing",
    "managing",
    "helping",
    "building",
    "leading",
    "seeing",
    "reading",
    "impressive",
    "great",
    "nice",
    "love",
    "most",
    "many",
    "teams",
    "companies",
    "any",
    "every",
    "each",
    "all",
    "one",
    "would",
    "could",
    "might",
    "may",
    "can",
    "do",
    "does",
    "did",
    "not",
    "no",
    "yes",
    "just",
    "still",
    "also",
    "now",
    "then",
    "once",
    "happy",
    "glad",
    "hope",
    "wanted",
    "worth",
    "wondering",
    "imagine",
    "ever",
    "are",
    "should",
    "thanks",
    "hi",
    "hey",
    "kudos",
    "big",
    "exciting",
    "interesting",
    "sounds",
    "looks",
    "seems",
    "keeping",
    "handling",
    "juggling",
    "expanding",
    "adding",
    "opening",
    "moving",
    "shipping",
    "hiring",
    "launching",
    "rolling",
    "coordinating",
    "planning",
    "routing",
    "navigating",
    "balancing",
    "turning",
    "cutting",
    "saving",
    "reducing",
    "getting",
    "finding",
    "making",
    "taking",
    "bringing",
    "clearly",
    "given",
    "between",
    "beyond",
    "behind",
    "because",
    "though",
    "although",
    "whether",
    "which",
    "whose",
    "let",
    "lets",
    "thats",
    "theres",
    "heres",
    "whats",
    "youre",
    "youve",
    "weve",
    "im",
    "ive",
    "id",
    "ill",
    "theyre",
    "dont",
    "cant",
    "wont",
    "isnt",
    "plenty",
    "fewer",
    "less",
    "much",
    "some",
    "several",
    "few",
    "both",
    "either",
    "neither",
    "only",
    "even",
    "really",
    "probably",
    "likely",
    "perhaps",
    "maybe",
    "usually",
    "often",
    "rather",
    "instead",
    "otherwise",
    "meanwhile",
    "besides",
    "especially",
    "particularly",
    "new",
    "fresh",
    "recent",
    "latest",
    "first",
    "next",
    "last",
    "strong",
    "smart",
    "growth",
    "congratulations",
    "such",
    "hard",
    "tough",
    "easy",
    "fast",
    "faster",
    "quickly",
];

/// Words that carry no content (ignored by the overlap check).
const STOPWORDS: &[&str] = &[
    "with", "from", "that", "this", "their", "they", "have", "has", "been", "were", "which",
    "into", "over", "about", "more", "than", "also", "such", "other", "its", "company", "team",
    "teams",
];

/// The capitalised words of `text` that are names: every word starting with a capital
/// letter, except a common sentence starter in first position, normalised and split on
/// punctuation like [`words`] splits the quote (`Series-B` → `series`, `b`; `B2B` →
/// `b2b`, `Web3` → `web3`: a name with a digit stays whole, or it could never be found
/// among the quote's words). Bare numbers are left to [`numbers`].
pub fn proper_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    for raw in text.split_whitespace() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let capital = word.chars().next().is_some_and(char::is_uppercase);
        let lower = normalise(word);
        let starter = sentence_start && COMMON_STARTERS.contains(&lower.as_str());
        let first_person = word == "I" || word.starts_with("I'") || word.starts_with("I\u{2019}");
        if capital && !starter && !first_person {
            out.extend(
                lower
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.chars().any(char::is_alphabetic))
                    .map(str::to_string),
            );
        }
        sentence_start = raw.ends_with(['.', '!', '?', ':']) || word.is_empty() && sentence_start;
    }
    out
}

/// Whether the (normalised) quote supports the fact: every number and proper name of
/// the fact is in the quote, and at least half of its content words are (a five-letter
/// prefix match, so "expanding" finds "expanded"). `Err` names the first thing missing.
pub fn supported_by(fact: &str, normalised_quote: &str) -> Result<(), String> {
    let quote_numbers = numbers(normalised_quote);
    for n in numbers(&normalise(fact)) {
        if !quote_numbers.contains(&n) {
            return Err(n);
        }
    }
    let quote_words = words(normalised_quote);
    for name in proper_names(fact) {
        if !quote_words.contains(&name) {
            return Err(name);
        }
    }
    let content: Vec<String> = words(&normalise(fact))
        .into_iter()
        .filter(|w| {
            w.chars().count() >= 4
                && !w.chars().all(|c| c.is_ascii_digit())
                && !STOPWORDS.contains(&w.as_str())
        })
        .collect();
    let prefix = |w: &str| w.chars().take(5).collect::<String>();
    let quote_prefixes: HashSet<String> = quote_words.iter().map(|w| prefix(w)).collect();
    let matched = content
        .iter()
        .filter(|w| quote_prefixes.contains(&prefix(w)))
        .count();
    if matched * 2 < content.len() {
        let missing = content
            .iter()
            .find(|w| !quote_prefixes.contains(&prefix(w)))
            .cloned()
            .unwrap_or_default();
        return Err(missing);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
