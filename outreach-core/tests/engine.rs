#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The engine end to end on in-process fake providers: order, fallbacks, caching,
//! fatal errors, modes, output columns.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use outreach_core::output::OutputFormat;
use outreach_core::providers::ChatRequest;
use outreach_core::{
    enrich_file, EnrichOptions, EnricherConfig, Error, Mode, NoProgress, ProviderKind,
};
use support::FnLlm;
use support::*;

const HEADER: [&str; 3] = ["id", "name", "email"];

fn csv_options() -> EnrichOptions {
    EnrichOptions {
        format: Some(OutputFormat::Csv),
        ..EnrichOptions::default()
    }
}

#[tokio::test]
async fn every_row_in_order_with_research_and_opener() {
    let dir = tempfile::tempdir().unwrap();
    let rows = prospects(120, 1);
    let input = write_csv(dir.path(), "in.csv", &HEADER, &rows);
    let out = dir.path().join("out.csv");
    let e = enricher(
        Some(echo_search()),
        Some(good_llm()),
        EnricherConfig::default(),
    );
    let summary = enrich_file(&e, &input, &out, &csv_options(), &NoProgress)
        .await
        .unwrap();

    let (headers, got) = read_csv(&out);
    assert_eq!(
        headers,
        [
            "id",
            "name",
            "email",
            "sif_research",
            "sif_personalized",
            "sif_status"
        ]
    );
    assert_eq!(got.len(), 120);
    for (i, row) in got.iter().enumerate() {
        assert_eq!(row[..3], rows[i][..], "row {i} moved");
        let research: serde_json::Value = serde_json::from_str(&row[3]).unwrap();
        assert_eq!(
            research["person"]["name"], rows[i][1],
            "row {i} got another row's research"
        );
        // The invented fact and its source were dropped; the two shown ones kept.
        assert_eq!(research["sources"].as_array().unwrap().len(), 2);
        assert_eq!(research["evidence"].as_array().unwrap().len(), 2);
        assert_eq!(research["identity"], "confirmed");
        assert_eq!(research["version"], 2);
        assert_eq!(
            row[4],
            format!("Noticed {} is hiring. We make outreach easier.", rows[i][1])
        );
        assert_eq!(row[5], "enriched");
    }
    assert_eq!(summary.metrics.facts_verified, 240);
    assert_eq!(summary.metrics.facts_dropped, 120);
    assert_eq!(summary.rows, 120);
    assert_eq!(summary.enriched, 120);
    assert_eq!(summary.fallbacks, 0);
    assert_eq!(summary.email_column, "email");
}

#[tokio::test]
async fn invalid_emails_fall_back_without_calls() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = prospects(6, 1);
    rows[1][2] = "john@".into();
    rows[3][2] = "a@b".into();
    rows[5][2] = "@acme.io".into();
    let input = write_csv(dir.path(), "in.csv", &HEADER, &rows);
    let out = dir.path().join("out.csv");
    let search = echo_search();
    let llm = good_llm();
    let e = enricher(
        Some(search.clone()),
        Some(llm.clone()),
        EnricherConfig::default(),
    );
    let summary = enrich_file(&e, &input, &out, &csv_options(), &NoProgress)
        .await
        .unwrap();

    let (_, got) = read_csv(&out);
    for i in [1, 3, 5] {
        assert_eq!(got[i][3], "Research unavailable: invalid email.");
        assert_eq!(
            got[i][4],
            "SIF personalized line unavailable: invalid email."
        );
    }
    assert!(got[0][3].starts_with('{'));
    assert_eq!(
        search.calls.load(Ordering::SeqCst),
        6,
        "3 valid rows × 2 queries"
    );
    assert_eq!(
        llm.calls.load(Ordering::SeqCst),
        6,
        "3 valid rows × 2 LLM calls"
    );
    assert_eq!(summary.invalid_emails, 3);
    assert_eq!(summary.refundable, 3, "abstentions are not charged");
    assert_eq!(got[1][5], "invalid_email");
}

/// Five prospects per company: the seed spends 4.0 calls per row; sharing the domain
/// query brings it to 3.2, combined mode to 2.2.
#[tokio::test]
async fn shared_domain_queries_cut_calls_per_row() {
    for (mode, max_calls_per_row, llm_calls) in
        [(Mode::TwoCall, 3.2, 100), (Mode::Combined, 2.3, 50)]
    {
        let dir = tempfile::tempdir().unwrap();
        let input = write_csv(dir.path(), "in.csv", &HEADER, &prospects(50, 5));
        let out = dir.path().join("out.csv");
        let search = echo_search();
        let llm = good_llm();
        let config = EnricherConfig {
            mode,
            ..EnricherConfig::default()
        };
        let e = enricher(Some(search.clone()), Some(llm.clone()), config);
        let summary = enrich_file(&e, &input, &out, &csv_options(), &NoProgress)
            .await
            .unwrap();

        assert_eq!(summary.enriched, 50, "{mode:?}");
        assert_eq!(
            search.calls.load(Ordering::SeqCst),
            60,
            "{mode:?}: 50 person + 10 company queries"
        );
        assert_eq!(llm.calls.load(Ordering::SeqCst), llm_calls, "{mode:?}");
        let calls = search.calls.load(Ordering::SeqCst) + llm.calls.load(Ordering::SeqCst);
        assert!(
            calls as f64 / 50.0 <= max_calls_per_row,
            "{mode:?}: {calls} calls"
        );
        assert_eq!(summary.metrics.search_cache_hits, 40, "{mode:?}");
        let (_, got) = read_csv(&out);
        assert!(
            got.iter()
                .all(|r| r[4].ends_with('.') && !r[4].starts_with("SIF")),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn duplicate_emails_are_researched_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = prospects(10, 10);
    for row in rows.iter_mut().skip(5) {
        row[1] = "Person 0".into();
        row[2] = "person0@company0.com".into();
    }
    rows[6][2] = " Person0@Company0.COM ".into();
    let input = write_csv(dir.path(), "in.csv", &HEADER, &rows);
    let out = dir.path().join("out.csv");
    let llm = good_llm();
    let e = enricher(
        Some(echo_search()),
        Some(llm.clone()),
        EnricherConfig::default(),
    );
    let summary = enrich_file(
        &e,
        &input,
        &out,
        &EnrichOptions {
            concurrency: 1,
            ..csv_options()
        },
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(llm.calls.load(Ordering::SeqCst), 2 * 5, "5 distinct people");
    assert_eq!(summary.metrics.research_cache_hits, 5);
    let (_, got) = read_csv(&out);
    assert_eq!(got[0][3], got[9][3]);
    assert_eq!(got[6][4], got[0][4]);
}

#[tokio::test]
async fn missing_keys_complete_with_fallbacks() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), "in.csv", &HEADER, &prospects(7, 1));
    let out = dir.path().join("out.csv");
    let e = enricher(None, None, EnricherConfig::default());
    let summary = enrich_file(&e, &input, &out, &csv_options(), &NoProgress)
        .await
        .unwrap();
    let (_, got) = read_csv(&out);
    assert_eq!(got.len(), 7);
    assert!(got
        .iter()
        .all(|r| r[3] == "Research unavailable: missing SERPER_API_KEY."));
    assert!(got
        .iter()
        .all(|r| r[4] == "SIF personalized line unavailable: missing GROQ_API_KEY."));
    assert_eq!(summary.refundable, 7);

    // Search configured, LLM not: no search call is wasted.
    let search = echo_search();
    let e = enricher(Some(search.clone()), None, EnricherConfig::default());
    enrich_file(&e, &input, &out, &csv_options(), &NoProgress)
        .await
        .unwrap();
    let (_, got) = read_csv(&out);
    assert!(got
        .iter()
        .all(|r| r[3] == "Research unavailable: missing GROQ_API_KEY."));
    assert_eq!(search.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_rejected_key_stops_the_run_with_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), "in.csv", &HEADER, &prospects(500, 1));
    let out = dir.path().join("out.csv");
    let llm = llm_fn(|_| {
        Err(Error::ProviderAuth {
            provider: ProviderKind::Llm,
            status: 401,
        })
    });
    let e = enricher(
        Some(echo_search()),
        Some(llm.clone()),
        EnricherConfig::default(),
    );
    let err = enrich_file(&e, &input, &out, &csv_options(), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ProviderAuth { status: 401, .. }),
        "{err:?}"
    );
    assert!(
        llm.calls.load(Ordering::SeqCst) < 200,
        "the run went on after a bad key"
    );
    assert!(!out.exists(), "no output file for a failed run");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().count() == 1,
        "partial file left behind"
    );
}

#[tokio::test]
async fn provider_failures_and_bad_json_become_refundable_fallbacks() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), "in.csv", &HEADER, &prospects(4, 1));
    let out = dir.path().join("out.csv");
    // Row 0's person search fails; others' research replies are never valid JSON.
    let search = search_fn(|q| {
        if q.q.starts_with("Person 0 ") {
            Err(Error::Upstream {
                provider: ProviderKind::Search,
                status: 503,
                body: "down".into(),
            })
        } else {
            Ok(Default::default())
        }
    });
    let llm = llm_fn(|_: &ChatRequest| Ok("I could not find anything, sorry!".into()));
    let e = enricher(Some(search), Some(llm.clone()), EnricherConfig::default());
    let summary = enrich_file(&e, &input, &out, &csv_options(), &NoProgress)
        .await
        .unwrap();
    let (_, got) = read_csv(&out);
    assert_eq!(got[0][3], "Research unavailable: provider error 503.");
    for row in &got[1..] {
        assert_eq!(row[3], "Research unavailable: invalid research JSON.");
        assert_eq!(
            row[4],
            "SIF personalized line unavailable: research unavailable."
        );
    }
    assert_eq!(
        llm.calls.load(Ordering::SeqCst),
        6,
        "one retry per invalid reply"
    );
    assert_eq!(summary.refundable, 4);
}

#[tokio::test]
async fn long_openers_are_retried_once_then_fall_back() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), "in.csv", &HEADER, &prospects(2, 1));
    let out = dir.path().join("out.csv");
    let long = vec!["word"; 30].join(" ") + ".";
    let first_fails = {
        let long = long.clone();
        llm_fn(move |req| {
            if req.format.is_json() {
                return Ok(good_answer(req));
            }
            // Row 0 recovers on the retry; row 1 never does.
            let is_retry = req.messages.len() > 2;
            let row0 = req.messages[1].content.contains("person0@");
            Ok(if is_retry && row0 {
                "Nice and short.".into()
            } else {
                long.clone()
            })
        })
    };
    let e = enricher(
        Some(echo_search()),
        Some(first_fails.clone()),
        EnricherConfig::default(),
    );
    let summary = enrich_file(&e, &input, &out, &csv_options(), &NoProgress)
        .await
        .unwrap();
    let (_, got) = read_csv(&out);
    assert_eq!(got[0][4], "Nice and short.");
    assert_eq!(
        got[1][4],
        "SIF personalized line unavailable: a sentence of 30 words (max 25)."
    );
    assert!(
        got[1][3].starts_with('{'),
        "research is kept when only the opener failed"
    );
    assert_eq!(first_fails.calls.load(Ordering::SeqCst), 2 * 3);
    // Verified research was delivered on both rows: both are enriched and charged.
    assert_eq!(summary.enriched, 2);
    assert_eq!(summary.refundable, 0);
}

#[tokio::test]
async fn output_columns_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), "in.csv", &HEADER, &prospects(30, 1));
    let out = dir.path().join("out.csv");
    let e = enricher(
        Some(echo_search()),
        Some(good_llm()),
        EnricherConfig::default(),
    );
    let options = EnrichOptions {
        output_columns: Some(vec!["email".into(), "sif_personalized".into(), "id".into()]),
        limit: Some(7),
        ..csv_options()
    };
    let summary = enrich_file(&e, &input, &out, &options, &NoProgress)
        .await
        .unwrap();
    let (headers, got) = read_csv(&out);
    assert_eq!(headers, ["email", "sif_personalized", "id"]);
    assert_eq!(got.len(), 7);
    assert_eq!(got[6][2], "6");
    assert_eq!(summary.rows, 7);

    let bad = EnrichOptions {
        output_columns: Some(vec!["nope".into()]),
        ..csv_options()
    };
    let err = enrich_file(&e, &input, &out, &bad, &NoProgress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn missing_email_column_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Vec<String>> = (0..3).map(|i| vec![i.to_string(), "x".into()]).collect();
    let input = write_csv(dir.path(), "in.csv", &["id", "name"], &rows);
    let e = enricher(None, None, EnricherConfig::default());
    let err = enrich_file(
        &e,
        &input,
        &dir.path().join("o.csv"),
        &csv_options(),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    let _ = Arc::new(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), "in.csv", &HEADER, &prospects(200, 1));
    let out = dir.path().join("out.xlsx");
    let slow = Arc::new(FnLlm {
        f: Box::new(|req| Ok(good_answer(req))),
        delay: std::time::Duration::from_millis(20),
        calls: Default::default(),
    });
    let e = enricher(Some(echo_search()), Some(slow), EnricherConfig::default());
    let options = EnrichOptions::default();
    let run = enrich_file(&e, &input, &out, &options, &NoProgress);
    let cancelled = tokio::time::timeout(std::time::Duration::from_millis(150), run).await;
    assert!(cancelled.is_err(), "the run should still have been going");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["in.csv"], "files left after cancelling: {left:?}");
}
