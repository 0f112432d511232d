//! `/metrics`: the Prometheus exposition of a process that runs a job. The counters move
//! as the job runs (rows by sif_status, provider calls by provider and outcome, tasks,
//! jobs finished), the scrape-time gauges are there, HTTP requests are timed by route,
//! and the page passes `promtool check metrics` (Debian's `prometheus` package;
//! `scripts/test-metrics.sh` installs it and sets OUTREACH_PROMTOOL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use outreach_core::config::PipelineConfig;
use outreach_core::jobs::{CreateJob, JobSettings, JobSystem};
use outreach_core::output::OutputFormat;
use outreach_core::ports::JobStatus;
use outreach_core::setup::{BackendConfig, Backends};
use outreach_core::ServiceContext;
use outreach_fake_providers::{FakeOptions, FakeProviders};
use outreach_server::metrics_exporter;
use tower::ServiceExt;

/// The value of the sample `name{labels}` (labels as rendered, in order), or 0.
fn sample(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse::<f64>().ok())?
        })
        .unwrap_or(0.0)
}

async fn scrape(router: &axum::Router) -> String {
    let response = router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

fn promtool_check(page: &str) {
    let promtool = match std::env::var("OUTREACH_PROMTOOL") {
        Ok(p) if !p.is_empty() => p,
        _ if std::env::var("OUTREACH_SKIP_SERVICES").as_deref() == Ok("1") => {
            eprintln!(
                "promtool check skipped: OUTREACH_PROMTOOL is not set and OUTREACH_SKIP_SERVICES=1"
            );
            return;
        }
        _ => panic!(
            "OUTREACH_PROMTOOL is not set: run this through scripts/test-metrics.sh (it installs \
             promtool), or set OUTREACH_SKIP_SERVICES=1 to skip the promtool check"
        ),
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- page ---\n{page}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_as_a_job_runs_and_pass_promtool() {
    let handle = metrics_exporter::install().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fakes = FakeProviders::start(FakeOptions {
        search_latency: Duration::from_millis(1),
        llm_latency: Duration::from_millis(1),
        fail_every: 0,
        ..FakeOptions::default()
    })
    .await;
    let backends = Backends::open(&BackendConfig::local(dir.path()))
        .await
        .unwrap();
    let (serper, llm) = (fakes.serper_url(), fakes.llm_base_url());
    let pipeline = PipelineConfig::from_lookup(|name| match name {
        "SERPER_API_KEY" | "LLM_API_KEY" => Some("fake".into()),
        "SERPER_URL" => Some(serper.clone()),
        "LLM_BASE_URL" => Some(llm.clone()),
        "OUTREACH_SEARCH_RPS" => Some("0".into()),
        // An explicit cap: the rate-limit gauge shows the pace the limiter keeps.
        "OUTREACH_LLM_RPS" => Some("500".into()),
        _ => None,
    });
    let system = JobSystem::new(
        backends.store,
        backends.ledger,
        backends.storage,
        backends.queue,
        pipeline.providers().unwrap(),
        JobSettings {
            chunk_size: 5,
            temp_dir: dir.path().join("tmp"),
            ..JobSettings::default()
        },
    );
    let router =
        metrics_exporter::instrument(metrics_exporter::router(handle, system.clone(), true));
    let before = scrape(&router).await;

    // 12 rows: 11 with an address, one without (an `invalid_email` fallback).
    let input = dir.path().join("in.csv");
    let mut csv = String::from("name,email\n");
    for i in 0..11 {
        csv.push_str(&format!("P{i},p{i}@company{i}.com\n"));
    }
    csv.push_str("Nobody,not-an-address\n");
    std::fs::write(&input, csv).unwrap();
    let key = format!("uploads/u/{}/in.csv", uuid::Uuid::new_v4());
    system.storage().put_file(&key, &input).await.unwrap();
    let job = system
        .create_job(CreateJob {
            user_id: "u".into(),
            file_path: key,
            filename: "in.csv".into(),
            email_col: Some("email".into()),
            columns: Default::default(),
            service: ServiceContext::default(),
            output_columns: None,
            format: OutputFormat::Csv,
            limit: None,
            combined: false,
            charge: false,
            job_id: None,
            campaign: Default::default(),
        })
        .await
        .unwrap();
    let queued = scrape(&router).await;
    assert!(
        sample(&queued, r#"outreach_jobs{status="queued"}"#) >= 1.0,
        "the queued job is not counted:\n{queued}"
    );
    assert!(
        sample(&queued, "outreach_queue_tasks") >= 1.0,
        "the queued Start task is not counted:\n{queued}"
    );

    let worker = system.spawn_worker(2);
    let done = tokio::time::timeout(
        Duration::from_secs(60),
        system.wait_for(&job.id, Duration::from_millis(20), |_| {}),
    )
    .await
    .unwrap()
    .unwrap();
    worker.shutdown().await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);

    let after = scrape(&router).await;
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(
        sample(
            &after,
            r#"outreach_provider_rate_limit_rps{provider="llm"}"#
        ),
        500.0,
        "{after}"
    );
    assert!(
        !after.contains(r#"outreach_provider_rate_limit_rps{provider="search"}"#),
        "no pace without a cap or a word from the provider:\n{after}"
    );
    assert_eq!(
        moved(r#"outreach_rows_processed_total{sif_status="enriched"}"#),
        11.0,
        "{after}"
    );
    assert_eq!(
        moved(r#"outreach_rows_processed_total{sif_status="invalid_email"}"#),
        1.0,
        "{after}"
    );
    // Two searches per row, at most (the company search may be shared), and 2 LLM calls;
    // plus the process's preflight: one search and one completion before the first row.
    let searches = moved(r#"outreach_provider_calls_total{provider="search",outcome="ok"}"#);
    assert!(
        (12.0..=23.0).contains(&searches),
        "{searches} searches\n{after}"
    );
    assert_eq!(
        moved(r#"outreach_provider_calls_total{provider="llm",outcome="ok"}"#),
        23.0,
        "{after}"
    );
    assert!(
        moved(r#"outreach_jobs_finished_total{status="succeeded"}"#) >= 1.0,
        "{after}"
    );
    assert!(
        moved(r#"outreach_tasks_total{task="chunk",outcome="ok"}"#) >= 2.0,
        "{after}"
    );
    assert!(
        moved(r#"outreach_tasks_total{task="finalize",outcome="ok"}"#) >= 1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, r#"outreach_jobs{status="queued"}"#),
        0.0,
        "{after}"
    );
    // The scrapes before this one were timed, by route pattern (a request is recorded
    // once its response is ready, so this page does not count itself).
    assert!(
        sample(
            &after,
            r#"outreach_http_request_duration_seconds_count{method="GET",route="/metrics",status="200"}"#
        ) >= 2.0,
        "{after}"
    );
    for name in [
        "# HELP outreach_rows_processed_total",
        "# TYPE outreach_http_request_duration_seconds histogram",
    ] {
        assert!(after.contains(name), "missing `{name}`:\n{after}");
    }
    promtool_check(&after);
}
