use proptest::prelude::*;

use super::*;
use crate::research::model::{ReplyCompany, ReplyPerson};
use crate::research::parse_email;

fn prospect() -> Prospect {
    let mut p = Prospect::from_email(parse_email("jane@northwind-logistics.com").unwrap_or_else(
        || crate::research::EmailParts {
            username: "x".into(),
            domain: "x.invalid".into(),
        },
    ));
    p.name = Some("Jane Doe".into());
    p.company = Some("Northwind Logistics".into());
    p
}

fn docs() -> Vec<SourceDoc> {
    vec![
        SourceDoc {
            url: "https://www.linkedin.com/in/janedoe".into(),
            texts: vec![
                "Jane Doe – VP Sales – Northwind Logistics | LinkedIn".into(),
                "Jane Doe. VP Sales at Northwind Logistics since 2019. Led the team to 1,200 customers.".into(),
            ],
        },
        SourceDoc {
            url: "https://northwind-logistics.com/news".into(),
            texts: vec![
                "Northwind Logistics opens Rotterdam hub".into(),
                "Northwind Logistics opened a cross-dock hub in Rotterdam in March 2024, its “third in Europe”.".into(),
            ],
        },
        SourceDoc {
            url: "https://www.linkedin.com/in/jane-doe-chef".into(),
            texts: vec![
                "Jane Doe - Pastry Chef - Blue Bakery".into(),
                "Jane Doe, pastry chef at Blue Bakery in Lyon, won the 2022 Golden Whisk award.".into(),
            ],
        },
    ]
}

fn ev(fact: &str, url: &str, quote: &str) -> Evidence {
    Evidence {
        fact: fact.into(),
        url: url.into(),
        quote: quote.into(),
    }
}

fn reply(person: &[&str], company: &[&str], moat: &str, evidence: Vec<Evidence>) -> ResearchReply {
    ResearchReply {
        person: ReplyPerson {
            name: "Jane Doe".into(),
            title: "VP Sales".into(),
            info: person.iter().map(|s| s.to_string()).collect(),
        },
        company: ReplyCompany {
            name: "Northwind Logistics".into(),
            info: company.iter().map(|s| s.to_string()).collect(),
            moat: moat.into(),
        },
        evidence,
    }
}

#[test]
fn normalisation_ignores_case_whitespace_quotes_and_dashes() {
    assert_eq!(normalise("  “Third  in\nEurope”  "), "third in europe");
    assert_eq!(normalise("Jane Doe – VP"), "jane doe - vp");
    assert_eq!(normalise("it’s"), normalise("it's"));
    assert_eq!(normalise("wait…"), "wait...");
}

#[test]
fn numbers_and_names_are_extracted() {
    let n = numbers("1,200 customers in 2019, 3.5x growth. Version 2.");
    for want in ["1200", "2019", "3.5", "2"] {
        assert!(n.contains(want), "{want} in {n:?}");
    }
    assert_eq!(
        proper_names("Leads Sales at Northwind Logistics in Rotterdam"),
        vec!["sales", "northwind", "logistics", "rotterdam"]
    );
    assert_eq!(proper_names("Opened a Series-B round"), vec!["series", "b"]);
    // A name with a digit stays whole, as the quote's words keep it.
    assert_eq!(
        proper_names("A B2B platform on G2, built by Web3 Labs"),
        vec!["b2b", "g2", "web3", "labs"]
    );
    assert_eq!(
        proper_names("Globex opened. Then Initech"),
        vec!["globex", "initech"]
    );
}

#[test]
fn a_supported_fact_with_a_real_span_is_kept() {
    let r = reply(
        &["VP Sales at Northwind Logistics since 2019"],
        &["Opened a cross-dock hub in Rotterdam in March 2024"],
        "unknown",
        vec![
            ev(
                "VP Sales at Northwind Logistics since 2019",
                "https://www.linkedin.com/in/janedoe",
                "VP Sales at Northwind Logistics since 2019",
            ),
            ev(
                "Opened a cross-dock hub in Rotterdam in March 2024",
                "https://northwind-logistics.com/news",
                "opened a cross-dock hub in Rotterdam in March 2024, its \"third in Europe\"",
            ),
        ],
    );
    let v = verify(&r, &prospect(), &docs());
    assert_eq!(v.dropped, vec![]);
    assert_eq!(v.research.identity, Identity::Confirmed);
    assert_eq!(v.research.person.info.len(), 1);
    assert_eq!(v.research.company.info.len(), 1);
    assert_eq!(v.research.evidence.len(), 2);
    assert_eq!(
        v.research.sources,
        vec![
            "https://www.linkedin.com/in/janedoe".to_string(),
            "https://northwind-logistics.com/news".to_string()
        ]
    );
    assert_eq!(v.research.company.domain, "northwind-logistics.com");
    assert_eq!(v.research.version, RESEARCH_VERSION);
}

#[test]
fn each_failure_is_dropped_with_its_reason() {
    let li = "https://www.linkedin.com/in/janedoe";
    let cases = [
        // invented URL
        (
            ev(
                "VP Sales since 2019",
                "https://made-up.example/x",
                "VP Sales at Northwind Logistics since 2019",
            ),
            DropReason::UnknownUrl,
        ),
        // quote not in the source
        (
            ev(
                "VP Sales since 2019",
                li,
                "VP Sales at Northwind Logistics since 2017",
            ),
            DropReason::QuoteNotInSource,
        ),
        // number not in the quote
        (
            ev(
                "VP Sales since 2017",
                li,
                "VP Sales at Northwind Logistics since 2019",
            ),
            DropReason::Unsupported("2017".into()),
        ),
        // proper name not in the quote
        (
            ev(
                "VP Sales at Northwind in Berlin",
                li,
                "VP Sales at Northwind Logistics since 2019",
            ),
            DropReason::Unsupported("berlin".into()),
        ),
        // too short to prove anything
        (ev("VP Sales", li, "VP Sales"), DropReason::QuoteNotInSource),
        // a stranger's page
        (
            ev(
                "Won the 2022 Golden Whisk award",
                "https://www.linkedin.com/in/jane-doe-chef",
                "won the 2022 Golden Whisk award",
            ),
            DropReason::WrongSubject,
        ),
    ];
    for (e, want) in cases {
        let fact = e.fact.clone();
        let r = reply(&[&fact], &[], "unknown", vec![e]);
        let v = verify(&r, &prospect(), &docs());
        assert_eq!(v.dropped, vec![(fact.clone(), want)], "{fact}");
        assert!(v.research.has_no_facts());
        assert_eq!(v.research.identity, Identity::Unsure);
        assert_eq!(
            v.research.person.title, UNKNOWN,
            "an unconfirmed title is not delivered: {fact}"
        );
    }
}

#[test]
fn names_with_digits_are_supported_by_a_quote_that_says_them() {
    // These were dropped: the fact's `B2B` became the names `b`, `b`, never among the
    // quote's words (`b2b`).
    for (fact, quote) in [
        (
            "Acme sells a B2B invoicing platform",
            "Acme sells a B2B invoicing platform to mid-size firms",
        ),
        (
            "First0 Last0 leads revenue at Company 0",
            "First0 Last0 leads revenue at Company 0 since 2021",
        ),
        (
            "Rated 4.8 on G2 by finance teams",
            "rated 4.8 on G2 by finance teams",
        ),
    ] {
        assert_eq!(supported_by(fact, &normalise(quote)), Ok(()), "{fact}");
    }
    // …and still not by a quote that lacks them.
    assert!(supported_by(
        "Acme sells a B2B platform",
        &normalise("Acme sells a B2C platform")
    )
    .is_err());
    assert!(supported_by("Rated 4.8 on G2", &normalise("rated 4.8 on Capterra")).is_err());
}

#[test]
fn a_fact_without_evidence_and_a_moat_without_support_are_dropped() {
    let r = reply(&["Loves sailing"], &[], "Best routing AI in Europe", vec![]);
    let v = verify(&r, &prospect(), &docs());
    assert_eq!(v.dropped.len(), 2);
    assert_eq!(v.research.company.moat, UNKNOWN);
    assert_eq!(v.research.identity, Identity::Unsure);
}

#[test]
fn company_only_when_no_person_fact_survives() {
    let r = reply(
        &["Pastry chef at Blue Bakery"],
        &["Northwind Logistics opens Rotterdam hub"],
        "unknown",
        vec![
            ev(
                "Pastry chef at Blue Bakery",
                "https://www.linkedin.com/in/jane-doe-chef",
                "pastry chef at Blue Bakery in Lyon",
            ),
            ev(
                "Northwind Logistics opens Rotterdam hub",
                "https://northwind-logistics.com/news",
                "Northwind Logistics opens Rotterdam hub",
            ),
        ],
    );
    let v = verify(&r, &prospect(), &docs());
    assert_eq!(v.research.identity, Identity::CompanyOnly);
    assert!(v.dropped_a_stranger());
    assert!(v.research.person.info.is_empty());
}

// ---- property: for any model answer, every delivered fact verifies ----

/// An independent, simpler statement of what "verifies" means.
fn oracle(e: &Evidence, docs: &[SourceDoc]) -> bool {
    let q = normalise(&e.quote);
    let facts_numbers = numbers(&normalise(&e.fact));
    docs.iter().filter(|d| d.url == e.url).any(|d| {
        d.texts.iter().any(|t| normalise(t).contains(&q))
            && facts_numbers.iter().all(|n| numbers(&q).contains(n))
            && proper_names(&e.fact).iter().all(|n| words(&q).contains(n))
    }) && q.chars().count() >= 12
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Jane",
        "Doe",
        "Northwind",
        "Logistics",
        "Rotterdam",
        "hub",
        "opened",
        "sales",
        "VP",
        "2019",
        "1,200",
        "customers",
        "Blue",
        "Bakery",
        "chef",
        "Lyon",
        "Series",
        "B",
        "B2B",
        "Web3",
        "raised",
        "$5M",
        "in",
        "at",
        "the",
        "a",
        "since",
        "Berlin",
        "2024",
        "team",
        "“third”",
        "—",
    ])
    .prop_map(str::to_string)
}

fn phrase() -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 1..9).prop_map(|w| w.join(" "))
}

/// A fact drawn from a source (sometimes altered), or made up.
fn fact_and_evidence() -> impl Strategy<Value = (String, Evidence)> {
    let d = docs();
    let urls: Vec<String> = d
        .iter()
        .map(|d| d.url.clone())
        .chain(["https://invented.example/".to_string()])
        .collect();
    let texts: Vec<String> = d.iter().flat_map(|d| d.texts.clone()).collect();
    (
        prop::sample::select(texts),
        0usize..40,
        1usize..60,
        prop::sample::select(urls),
        phrase(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(text, start, len, url, invented, use_span, upper)| {
            let chars: Vec<char> = text.chars().collect();
            let s = start.min(chars.len());
            let e = (s + len).min(chars.len());
            let span: String = chars[s..e].iter().collect();
            let quote = if use_span {
                span.clone()
            } else {
                invented.clone()
            };
            let quote = if upper { quote.to_uppercase() } else { quote };
            let fact = if use_span { span } else { invented };
            (fact.clone(), Evidence { fact, url, quote })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn every_delivered_fact_verifies(
        person in prop::collection::vec(fact_and_evidence(), 0..5),
        company in prop::collection::vec(fact_and_evidence(), 0..5),
        extra in prop::collection::vec(fact_and_evidence(), 0..3),
        moat in phrase(),
    ) {
        let mut evidence: Vec<Evidence> = person.iter().chain(&company).map(|(_, e)| e.clone()).collect();
        evidence.extend(extra.into_iter().map(|(_, e)| e));
        let p: Vec<&str> = person.iter().map(|(f, _)| f.as_str()).collect();
        let c: Vec<&str> = company.iter().map(|(f, _)| f.as_str()).collect();
        let r = reply(&p, &c, &moat, evidence);
        let d = docs();
        let v = verify(&r, &prospect(), &d);
        let delivered: Vec<&str> = v.research.facts().collect();
        prop_assert_eq!(delivered.len(), v.research.evidence.len());
        for fact in delivered {
            let e = v.research.evidence.iter().find(|e| e.fact == fact);
            prop_assert!(e.is_some(), "no evidence for {}", fact);
            let e = e.unwrap_or_else(|| unreachable!());
            prop_assert!(oracle(e, &d), "{:?} does not verify", e);
            prop_assert!(!e.url.contains("jane-doe-chef") || v.research.company.info.iter().any(|f| f == fact),
                "a stranger's page supports a person fact: {:?}", e);
        }
        for url in &v.research.sources {
            prop_assert!(d.iter().any(|x| &x.url == url));
        }
    }
}
