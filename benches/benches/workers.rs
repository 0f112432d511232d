//! Scale-out benchmark: the same 5,000-row job run by 1, 2 and 4 `outreach worker`
//! processes sharing PostgreSQL, Redis and S3 (moto), against fake providers answering
//! in 100 ms (search) / 300 ms (LLM). Rows/s for each, in one run.
//!
//! Run with `scripts/bench-workers.sh` (starts the servers, builds the release binary).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use outreach_core::jobs::{CreateJob, JobSettings, JobSystem};
use outreach_core::output::OutputFormat;
use outreach_core::ports::NewEntry;
use outreach_core::setup::{BackendConfig, Backends};
use outreach_core::ServiceContext;
use outreach_fake_providers::{FakeOptions, FakeProviders};

const ROWS: usize = 5000;

fn main() {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let (Some(pg), Some(redis), Some(s3)) = (
        var("OUTREACH_TEST_POSTGRES_URL"),
        var("OUTREACH_TEST_REDIS_URL"),
        var("OUTREACH_TEST_S3_URL"),
    ) else {
        eprintln!(
            "workers bench: needs PostgreSQL, Redis and S3; run scripts/bench-workers.sh (skipped)"
        );
        return;
    };
    let bin = var("OUTREACH_BIN").unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/outreach").into()
    });
    let rows = var("OUTREACH_BENCH_ROWS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROWS);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let fakes = rt.block_on(FakeProviders::start(FakeOptions {
        search_latency: Duration::from_millis(100),
        llm_latency: Duration::from_millis(300),
        fail_every: 0,
        ..FakeOptions::default()
    }));
    println!("## {rows} rows, 100 ms search / 300 ms LLM, PostgreSQL + Redis + S3");
    println!("| workers | seconds | rows/s | vs 1 worker |");
    println!("|---|---|---|---|");
    let mut base = None;
    for (db, workers) in [(4u32, 1usize), (5, 2), (6, 4)] {
        let (secs, done) = rt.block_on(run(&pg, &redis, &s3, db, workers, rows, &bin, &fakes));
        let rate = done as f64 / secs;
        let base_rate = *base.get_or_insert(rate);
        println!(
            "| {workers} | {secs:.1} | {rate:.1} | {:.2}× |",
            rate / base_rate
        );
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    pg: &str,
    redis: &str,
    s3: &str,
    db: u32,
    workers: usize,
    rows: usize,
    bin: &str,
    fakes: &FakeProviders,
) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let redis_url = format!("{}/{db}", redis.trim_end_matches('/'));
    let storage_url = format!(
        "{}/bench-{}",
        s3.trim_end_matches('/'),
        uuid::Uuid::new_v4()
    );
    let b = Backends::open(&BackendConfig {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(pg.into()),
        storage_url: Some(storage_url.clone()),
        redis_url: Some(redis_url.clone()),
        visibility_timeout: Duration::from_secs(60),
    })
    .await
    .unwrap();
    let system = JobSystem::new(
        b.store,
        b.ledger,
        b.storage,
        b.queue,
        outreach_core::config::PipelineConfig::default()
            .providers()
            .unwrap(),
        JobSettings {
            temp_dir: dir.path().join("tmp"),
            ..JobSettings::default()
        },
    );
    let user = format!("bench-{}", uuid::Uuid::new_v4());
    system
        .ledger()
        .ensure_account(&user, "bench@example.test", 0)
        .await
        .unwrap();
    system
        .ledger()
        .apply(NewEntry {
            user_id: user.clone(),
            change: rows as i64,
            amount_usd: None,
            reason: "bench".into(),
            idempotency_key: format!("grant:{user}"),
        })
        .await
        .unwrap();
    let path = dir.path().join("input.csv");
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(["id", "email"]).unwrap();
    for i in 0..rows {
        // Every row its own company: no cache help, as in the pipeline latency bench.
        w.write_record([i.to_string(), format!("p{i}@company{i}.com")])
            .unwrap();
    }
    w.flush().unwrap();
    let key = format!("uploads/{user}/x/input.csv");
    system.storage().put_file(&key, &path).await.unwrap();

    let started = Instant::now();
    let job = system
        .create_job(CreateJob {
            user_id: user.clone(),
            file_path: key,
            filename: "input.csv".into(),
            email_col: None,
            columns: Default::default(),
            service: ServiceContext::default(),
            output_columns: None,
            format: OutputFormat::Csv,
            limit: None,
            combined: false,
            charge: true,
            job_id: None,
            campaign: Default::default(),
        })
        .await
        .unwrap();
    let mut children: Vec<Child> = (0..workers)
        .map(|i| {
            Command::new(bin)
                .arg("worker")
                .env("DATABASE_URL", pg)
                .env("REDIS_URL", &redis_url)
                .env("STORAGE_URL", &storage_url)
                .env("OUTREACH_DATA_DIR", dir.path().join(format!("w{i}")))
                .env("OUTREACH_SEARCH_RPS", "0")
                .env("OUTREACH_LLM_RPS", "0")
                .env("SERPER_URL", fakes.serper_url())
                .env("SERPER_API_KEY", "fake")
                .env("LLM_BASE_URL", fakes.llm_base_url())
                .env("LLM_API_KEY", "fake")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let done = loop {
        let j = system.store().get_job(None, &job.id).await.unwrap();
        if j.status.is_terminal() {
            assert_eq!(
                j.status,
                outreach_core::ports::JobStatus::Succeeded,
                "{:?}",
                j.error
            );
            break j.rows_processed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secs = started.elapsed().as_secs_f64();
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    (secs, done)
}
