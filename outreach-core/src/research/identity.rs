//! The right person or none. A person fact counts only when its source is about this
//! person at this company: it names the person and the company (name or domain), or it
//! is on the company's own domain. A company fact counts only when its source names the
//! company or is on its domain. A same-name stranger elsewhere fails both.

use super::model::{is_unknown, ResearchReply};
use super::prospect::{name_words, on_domain, Prospect};
use super::verify::{normalise, words, SourceDoc};

/// Whom a fact is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Person,
    Company,
}

/// Legal suffixes ignored when matching a company name.
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "sarl",
    "bv",
    "nv",
    "plc",
    "corp",
    "corporation",
    "co",
    "company",
    "the",
    "group",
    "holdings",
    "srl",
    "spa",
    "oy",
    "ab",
    "as",
    "kg",
    "pty",
    "pte",
];

/// What identifies the person and the company of this row.
#[derive(Debug, Clone)]
pub struct Anchors {
    /// The person's name words (first and last must both appear).
    person: Option<Vec<String>>,
    /// Company names as normalised word sequences.
    company_names: Vec<String>,
    /// The company's own domains.
    domains: Vec<String>,
    /// The model's person name was used as the anchor (it matched the address).
    pub model_name_accepted: bool,
    /// The model's company name, when the company's own site shows it.
    pub model_company: Option<String>,
}

impl Anchors {
    pub fn new(prospect: &Prospect, reply: &ResearchReply, docs: &[SourceDoc]) -> Anchors {
        let domains = prospect.company_domains();
        let own_site_says = |name: &str| {
            let n = company_phrase(name);
            !n.is_empty()
                && docs.iter().any(|d| {
                    domains.iter().any(|dom| on_domain(&d.url, dom))
                        && contains_phrase(&d.normalised_text(), &n)
                })
        };
        let model_company = (!is_unknown(&reply.company.name)
            && prospect.company.is_none()
            && own_site_says(&reply.company.name))
        .then(|| reply.company.name.trim().to_string());
        let mut company_names: Vec<String> = prospect
            .company
            .iter()
            .chain(model_company.iter())
            .map(|n| company_phrase(n))
            .filter(|n| !n.is_empty())
            .collect();
        // The domain's first label is a name too: `northwind-logistics.com` → "northwind logistics".
        for d in &domains {
            if let Some(label) = d.split('.').next() {
                let phrase = normalise(&label.replace(['-', '_'], " "));
                if phrase.chars().count() >= 3 && !company_names.contains(&phrase) {
                    company_names.push(phrase);
                }
            }
        }
        let mut model_name_accepted = false;
        let person = prospect
            .known_name()
            .or_else(|| {
                // The model's name only when the address spells its last name
                // (`jdoe@` for "Jane Doe"): otherwise it may be whoever the search found.
                let words = name_words(&reply.person.name);
                let last = words.last()?;
                let ok = words.len() >= 2
                    && last.chars().count() >= 3
                    && prospect.email.username.contains(last.as_str());
                model_name_accepted = ok;
                ok.then(|| reply.person.name.clone())
            })
            .map(|n| name_words(&n))
            .filter(|w| !w.is_empty());
        Anchors {
            person,
            company_names,
            domains,
            model_name_accepted,
            model_company,
        }
    }

    /// True when `name` has the anchor's first and last name words (so the model's
    /// spelling of a confirmed person's name may be shown).
    pub fn matches_person(&self, name: &str) -> bool {
        let Some(anchor) = &self.person else {
            return false;
        };
        let have = name_words(name);
        anchor.first().is_some_and(|f| have.contains(f))
            && anchor.last().is_some_and(|l| have.contains(l))
    }

    /// True when a fact about `subject` may come from `doc`.
    pub fn allows(&self, doc: &SourceDoc, subject: Subject) -> bool {
        if self.domains.iter().any(|d| on_domain(&doc.url, d)) {
            return true;
        }
        let text = format!("{} {}", doc.normalised_text(), normalise(&doc.url));
        let names_company = self.names_company(&text);
        match subject {
            Subject::Company => names_company,
            Subject::Person => names_company && self.names_person(&text),
        }
    }

    fn names_company(&self, text: &str) -> bool {
        self.company_names.iter().any(|n| contains_phrase(text, n))
            || self.domains.iter().any(|d| text.contains(d.as_str()))
    }

    /// First and last name words both appear (a middle name may be missing).
    fn names_person(&self, text: &str) -> bool {
        let Some(name) = &self.person else {
            return false;
        };
        let have = words(text);
        match (name.first(), name.last()) {
            (Some(first), Some(last)) => have.contains(first) && have.contains(last),
            _ => false,
        }
    }
}

/// A company name as the words to look for: normalised, alphanumerics only, legal
/// suffixes dropped (`Northwind Logistics, Inc.` → `northwind logistics`).
fn company_phrase(name: &str) -> String {
    normalise(name)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !LEGAL_SUFFIXES.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// True when the words of `phrase` appear in a row in `text` (both normalised).
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let squashed: String = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    !phrase.is_empty() && format!(" {squashed} ").contains(&format!(" {phrase} "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::research::model::{ReplyCompany, ReplyPerson};
    use crate::research::parse_email;

    fn reply(name: &str, company: &str) -> ResearchReply {
        ResearchReply {
            person: ReplyPerson {
                name: name.into(),
                title: "unknown".into(),
                info: vec![],
            },
            company: ReplyCompany {
                name: company.into(),
                info: vec![],
                moat: "unknown".into(),
            },
            evidence: vec![],
        }
    }

    fn doc(url: &str, title: &str, snippet: &str) -> SourceDoc {
        SourceDoc {
            url: url.into(),
            texts: vec![title.into(), snippet.into()],
        }
    }

    fn prospect(email: &str, name: Option<&str>, company: Option<&str>) -> Prospect {
        let mut p = Prospect::from_email(parse_email(email).unwrap_or_else(|| {
            crate::research::EmailParts {
                username: "x".into(),
                domain: "x.invalid".into(),
            }
        }));
        p.name = name.map(str::to_string);
        p.company = company.map(str::to_string);
        p
    }

    #[test]
    fn person_at_this_company_is_confirmed() {
        let p = prospect(
            "jane@northwind-logistics.com",
            Some("Jane Doe"),
            Some("Northwind Logistics"),
        );
        let a = Anchors::new(&p, &reply("Jane Doe", "Northwind"), &[]);
        let linkedin = doc(
            "https://www.linkedin.com/in/janedoe",
            "Jane Doe - VP Sales - Northwind Logistics | LinkedIn",
            "Jane Doe. VP Sales at Northwind Logistics.",
        );
        assert!(a.allows(&linkedin, Subject::Person));
        let own_site = doc(
            "https://northwind-logistics.com/team",
            "Our team",
            "Jane leads sales.",
        );
        assert!(a.allows(&own_site, Subject::Person));
    }

    #[test]
    fn same_name_stranger_is_not_them() {
        let p = prospect(
            "jane@northwind-logistics.com",
            Some("Jane Doe"),
            Some("Northwind Logistics"),
        );
        let a = Anchors::new(&p, &reply("Jane Doe", "Northwind"), &[]);
        let stranger = doc(
            "https://www.linkedin.com/in/jane-doe-42",
            "Jane Doe - Pastry Chef - Blue Bakery | LinkedIn",
            "Jane Doe is a pastry chef in Lyon.",
        );
        assert!(!a.allows(&stranger, Subject::Person));
        assert!(!a.allows(&stranger, Subject::Company));
        // Named company but another person: not this person.
        let colleague = doc(
            "https://news.example.com/x",
            "John Roe joins Northwind Logistics",
            "John Roe is the new CFO of Northwind Logistics.",
        );
        assert!(!a.allows(&colleague, Subject::Person));
        assert!(a.allows(&colleague, Subject::Company));
    }

    #[test]
    fn domain_label_names_the_company_and_legal_suffixes_are_ignored() {
        let p = prospect("jane.doe@northwind-logistics.com", None, None);
        let a = Anchors::new(&p, &reply("unknown", "unknown"), &[]);
        let d = doc(
            "https://www.linkedin.com/in/jd",
            "Jane Doe – Northwind Logistics, Inc.",
            "VP Sales",
        );
        assert!(
            a.allows(&d, Subject::Person),
            "name from the address, company from the domain"
        );
        assert_eq!(
            company_phrase("Northwind Logistics, Inc."),
            "northwind logistics"
        );
    }

    #[test]
    fn free_mail_without_company_confirms_nobody() {
        let p = prospect("jane.doe@gmail.com", None, None);
        let a = Anchors::new(&p, &reply("Jane Doe", "Acme"), &[]);
        let d = doc(
            "https://www.linkedin.com/in/jd",
            "Jane Doe - Acme",
            "Jane Doe at Acme",
        );
        assert!(!a.allows(&d, Subject::Person));
        assert!(!a.allows(&d, Subject::Company));
    }

    #[test]
    fn model_name_counts_only_when_the_address_spells_it() {
        let p = prospect("jdoe@acme.io", None, None);
        let d = doc(
            "https://x.com/a",
            "Jane Doe of Acme",
            "Jane Doe runs Acme sales",
        );
        assert!(Anchors::new(&p, &reply("Jane Doe", "Acme"), &[]).allows(&d, Subject::Person));
        let d2 = doc(
            "https://x.com/b",
            "Mark Smith of Acme",
            "Mark Smith runs Acme sales",
        );
        assert!(!Anchors::new(&p, &reply("Mark Smith", "Acme"), &[]).allows(&d2, Subject::Person));
    }
}
