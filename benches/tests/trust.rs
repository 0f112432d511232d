//! End to end: the fake web serves same-name strangers for 30% of people, the fake model
//! invents a company fact in 30% of its answers and a claim in 30% of its first openers.
//! With the checks, nothing invented and nothing about a stranger is delivered, and the
//! share of rows still enriched is asserted; the same run without the checks is the
//! baseline for the extra LLM calls. Figures for benches/README.md:
//! `cargo test -p outreach-benches --test trust -- --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::Path;

use outreach_core::config::PipelineConfig;
use outreach_core::input::ColumnRoles;
use outreach_core::output::OutputFormat;
use outreach_core::providers::openai::LlmConfig;
use outreach_core::providers::serper::SerperConfig;
use outreach_core::research::verify::{normalise, numbers, proper_names};
use outreach_core::research::{parse_email, Prospect};
use outreach_core::{enrich_file, EnrichOptions, EnricherConfig, NoProgress, RunSummary};
use outreach_fake_providers::{serper_answer_with, FakeOptions, FakeProviders};
use serde_json::Value;

const ROWS: usize = 100;
const STRANGERS: u8 = 30;
const HEADERS: [&str; 4] = ["first_name", "last_name", "company", "email"];
/// Words only a stranger's page or an invention contains.
const NEVER: [&str; 6] = [
    "pastry",
    "bakery",
    "lyon",
    "golden whisk",
    "hamburg",
    "300 staff",
];

fn write_input(path: &Path) -> Vec<Vec<String>> {
    let firsts = [
        "Jane", "Omar", "Lena", "Raj", "Mia", "Tom", "Ana", "Kofi", "Ivy", "Sam",
    ];
    let lasts = [
        "Doe", "Reed", "Park", "Shah", "Lund", "Cole", "Ruiz", "Mensah", "Chen", "Berg",
    ];
    let mut rows = Vec::new();
    for i in 0..ROWS {
        let company = format!("Northwind Group {}", i / 5);
        let domain = format!("northwind-group-{}.com", i / 5);
        let (f, l) = (firsts[i % 10], lasts[(i / 10) % 10]);
        rows.push(vec![
            f.to_string(),
            l.to_string(),
            company,
            format!("{}.{}@{domain}", f.to_lowercase(), l.to_lowercase()),
        ]);
    }
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(HEADERS).unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
    rows
}

struct Run {
    summary: RunSummary,
    out: Vec<Vec<String>>,
}

async fn run(fakes: &FakeProviders, input: &Path, out: &Path, skip_checks: bool) -> Run {
    let config = PipelineConfig {
        serper: Some(SerperConfig {
            url: fakes.serper_url(),
            ..SerperConfig::new("test")
        }),
        llm: Some(LlmConfig {
            base_url: fakes.llm_base_url(),
            ..LlmConfig::new("test")
        }),
        ..PipelineConfig::default()
    };
    let enricher = config.providers().unwrap().enricher(EnricherConfig {
        skip_checks,
        ..EnricherConfig::default()
    });
    let options = EnrichOptions {
        format: Some(OutputFormat::Csv),
        output_columns: Some(
            [
                "first_name",
                "last_name",
                "company",
                "email",
                "sif_research",
                "sif_personalized",
                "sif_status",
            ]
            .map(String::from)
            .to_vec(),
        ),
        ..EnrichOptions::default()
    };
    let summary = enrich_file(&enricher, input, out, &options, &NoProgress)
        .await
        .unwrap();
    let mut r = csv::Reader::from_path(out).unwrap();
    let out = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    Run { summary, out }
}

/// The (url, texts) of every result the fake web returned for this row's queries.
fn row_sources(row: &[String]) -> Vec<(String, Vec<String>)> {
    let headers: Vec<String> = HEADERS.map(String::from).to_vec();
    let roles = ColumnRoles::guess(&headers, Some(3));
    let prospect = Prospect::from_row(parse_email(&row[3]).unwrap(), row, &roles);
    let (person_q, company_q) = prospect.queries();
    let mut out = Vec::new();
    for q in std::iter::once(person_q).chain(company_q) {
        let v = serper_answer_with(&q, STRANGERS);
        for hit in v["organic"].as_array().into_iter().flatten() {
            out.push((
                hit["link"].as_str().unwrap().to_string(),
                vec![
                    hit["title"].as_str().unwrap().to_string(),
                    hit["snippet"].as_str().unwrap().to_string(),
                ],
            ));
        }
        if let Some(site) = v["knowledgeGraph"]["website"].as_str() {
            let kg = &v["knowledgeGraph"];
            let mut texts = vec![kg["title"].as_str().unwrap_or("").to_string()];
            texts.extend(kg["description"].as_str().map(str::to_string));
            for (k, val) in kg["attributes"].as_object().into_iter().flatten() {
                texts.push(format!("{k}: {}", val.as_str().unwrap_or("")));
            }
            out.push((site.to_string(), texts));
        }
    }
    out
}

/// Independently of the verifier: the fact's evidence URL is one of this row's results,
/// its quote a span of that result's title or snippet, its numbers and names in the quote.
fn evidence_verifies(fact: &str, evidence: &[Value], sources: &[(String, Vec<String>)]) -> bool {
    evidence.iter().filter(|e| e["fact"] == fact).any(|e| {
        let quote = normalise(e["quote"].as_str().unwrap_or(""));
        let url = e["url"].as_str().unwrap_or("");
        sources.iter().filter(|(u, _)| u == url).any(|(_, texts)| {
            texts.iter().any(|t| normalise(t).contains(&quote))
                && numbers(&normalise(fact)).is_subset(&numbers(&quote))
                && proper_names(fact)
                    .iter()
                    .all(|n| quote.contains(n.as_str()))
        })
    })
}

fn mentions_invention(text: &str) -> bool {
    let t = text.to_lowercase();
    NEVER.iter().any(|w| t.contains(w))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_inventions_are_never_delivered() {
    let fakes = FakeProviders::start(FakeOptions {
        stranger_percent: STRANGERS,
        invented_fact_percent: 30,
        invented_claim_percent: 30,
        ..FakeOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let rows = write_input(&input);

    // Baseline: the same run without the checks.
    let base = run(&fakes, &input, &dir.path().join("base.csv"), true).await;
    let tainted_before = base
        .out
        .iter()
        .filter(|r| mentions_invention(&r[4]) || mentions_invention(&r[5]))
        .count();

    let checked = run(&fakes, &input, &dir.path().join("checked.csv"), false).await;
    let (mut facts, mut verified, mut enriched, mut confirmed, mut tainted) = (0, 0, 0, 0, 0);
    let mut statuses = HashSet::new();
    for (row, got) in rows.iter().zip(&checked.out) {
        assert_eq!(&got[..4], &row[..], "rows in input order");
        statuses.insert(got[6].clone());
        if mentions_invention(&got[4]) || mentions_invention(&got[5]) {
            tainted += 1;
        }
        if got[6] == "enriched" {
            enriched += 1;
        }
        let Ok(research) = serde_json::from_str::<Value>(&got[4]) else {
            assert_ne!(got[6], "enriched", "an enriched row carries research JSON");
            continue;
        };
        let sources = row_sources(row);
        let evidence = research["evidence"].as_array().cloned().unwrap_or_default();
        let delivered: Vec<&str> = research["person"]["info"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(research["company"]["info"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .chain(
                research["company"]["moat"]
                    .as_str()
                    .filter(|m| *m != "unknown"),
            )
            .collect();
        for fact in delivered {
            facts += 1;
            if evidence_verifies(fact, &evidence, &sources) {
                verified += 1;
            }
        }
        if research["identity"] == "confirmed" {
            confirmed += 1;
        }
    }
    let llm_base = base.summary.metrics.llm_calls;
    let llm_checked = checked.summary.metrics.llm_calls;
    println!("## Lines you can trust: {ROWS} rows, 30% same-name strangers, 30% invented facts, 30% invented opener claims");
    println!("without checks (baseline): {tainted_before} of {ROWS} rows delivered an invented claim or a stranger's facts; {llm_base} LLM calls");
    println!(
        "with checks: {tainted} rows with an invented claim or a stranger's facts; {verified} of {facts} delivered facts verify ({:.0}%); {enriched} of {ROWS} rows enriched; {confirmed} with the person confirmed; {} facts dropped; {} opener retries for claims; {llm_checked} LLM calls = {:.2}x the baseline",
        100.0 * verified as f64 / facts.max(1) as f64,
        checked.summary.metrics.facts_dropped,
        checked.summary.metrics.opener_claim_retries,
        llm_checked as f64 / llm_base.max(1) as f64
    );
    assert!(
        tainted_before >= 30,
        "the fakes must produce the problem: {tainted_before}"
    );
    assert_eq!(tainted, 0, "nothing invented or a stranger's is delivered");
    assert!(facts > 0);
    assert_eq!(verified, facts, "every delivered fact verifies");
    // Strangers' rows keep their company facts: every row is still enriched.
    assert_eq!(enriched, ROWS, "statuses: {statuses:?}");
    assert!((55..=85).contains(&confirmed), "{confirmed} confirmed");
    assert!(checked.summary.metrics.facts_dropped > 0);
    assert!(checked.summary.metrics.opener_claim_retries > 0);
}
