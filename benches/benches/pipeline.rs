//! Pipeline benchmarks with simulated providers. Run with
//! `cargo bench -p outreach-benches` (add `-- quick` for a smaller run, `-- throughput`
//! for the throughput-bound section alone).
//!
//! Every run takes the path `outreach enrich` takes (ARCHITECTURE.md, "Entry points"):
//! a local job on the embedded backends (SQLite, local files, in-process queue) in a
//! fresh data directory — input stored, job created, split, chunks enriched and
//! stored, finalized, result copied out — timed from the input copy to the output file.
//!
//! 1. Latency-bound: fake Serper/LLM HTTP servers answering in 100 ms / 300 ms; the
//!    pipeline on default settings against a baseline measured in the same run that
//!    processes rows one at a time, as the seed did per worker.
//! 2. Cost: provider calls and tokens per row, two-call vs combined mode, on a list
//!    with five prospects per company.
//! 3. Throughput-bound: instant in-process providers, 100k rows read → enriched →
//!    XLSX; wall time and peak RSS (VmHWM) of this process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use outreach_core::config::PipelineConfig;
use outreach_core::jobs::{keys, CreateJob, JobSettings, JobSystem};
use outreach_core::output::OutputFormat;
use outreach_core::ports::JobStatus;
use outreach_core::providers::openai::LlmConfig;
use outreach_core::providers::serper::SerperConfig;
use outreach_core::providers::{
    ChatRequest, ChatResponse, Llm, SearchHit, SearchProvider, SearchQuery, SearchResults,
};
use outreach_core::setup::{BackendConfig, Backends};
use outreach_core::{Metrics, Mode, Providers, ServiceContext};
use outreach_fake_providers::{FakeOptions, FakeProviders};

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it, and then a smoke-sized run checks the harness still works.
    let benching = std::env::args().any(|a| a == "--bench");
    let quick = !benching || std::env::args().any(|a| a == "quick");
    let smoke = !benching;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Throughput first, so the peak RSS reading is this section's alone.
    let rows = if smoke {
        500
    } else if quick {
        20_000
    } else {
        100_000
    };
    let input = dir.path().join("big.csv");
    write_prospects(&input, rows, 5);
    let out = dir.path().join("big.xlsx");
    let started = Instant::now();
    let providers = Providers {
        search: Some(Arc::new(InstantSearch)),
        llm: Some(Arc::new(InstantLlm)),
        metrics: Arc::new(Metrics::default()),
        // In-process fakes: nothing to check before the first row.
        preflight: outreach_core::preflight::PreflightOnce::skip(),
    };
    let options = Options {
        concurrency: 256,
        chunk_size: 500,
        ..Options::default()
    };
    let summary = run(&rt, providers, &input, &out, &options);
    let secs = started.elapsed().as_secs_f64();
    println!("## instant providers, {rows} rows → XLSX (the CLI's local job)");
    println!(
        "wall {secs:.2} s, {:.0} rows/s, peak RSS {} MB, output {} MB",
        rows as f64 / secs,
        peak_rss_mb(),
        std::fs::metadata(&out).unwrap().len() / 1_000_000
    );
    println!("job phases (s): {}", summary.phases);
    assert_eq!(summary.rows, rows as u64);
    // Baseline in the same run: the I/O floor, the same file read and written as XLSX
    // with the same two new columns but no enrichment at all.
    let floor = io_floor(&input, &dir.path().join("floor.xlsx"));
    println!(
        "baseline (read → XLSX, no enrichment): {floor:.2} s; the full pipeline costs {:.2}× the I/O floor",
        secs / floor
    );
    if std::env::args().any(|a| a == "throughput") {
        return; // `-- throughput`: this section alone (profiling, A/B runs)
    }

    // Latency-bound, over HTTP.
    let fakes = rt.block_on(FakeProviders::start(FakeOptions {
        search_latency: Duration::from_millis(100),
        llm_latency: Duration::from_millis(300),
        fail_every: 0,
        ..FakeOptions::default()
    }));
    let config = PipelineConfig {
        serper: Some(SerperConfig {
            url: fakes.serper_url(),
            ..SerperConfig::new("bench")
        }),
        llm: Some(LlmConfig {
            base_url: fakes.llm_base_url(),
            ..LlmConfig::new("bench")
        }),
        ..PipelineConfig::default()
    };
    let baseline_rows = if smoke {
        3
    } else if quick {
        10
    } else {
        20
    };
    let pipeline_rows = if smoke {
        100
    } else if quick {
        300
    } else {
        1500
    };
    let small = dir.path().join("latency.csv");
    // Unique companies: no cache help, the hardest case for throughput.
    write_prospects(&small, pipeline_rows, 1);
    let sequential = Options {
        concurrency: 1,
        limit: Some(baseline_rows as u64),
        ..Options::default()
    };
    let base = run(
        &rt,
        config.providers().unwrap(),
        &small,
        &dir.path().join("seq.xlsx"),
        &sequential,
    );
    let fast = run(
        &rt,
        config.providers().unwrap(),
        &small,
        &dir.path().join("par.xlsx"),
        &Options::default(),
    );
    println!("\n## 100 ms search / 300 ms LLM over HTTP, default settings");
    println!(
        "baseline (one row at a time): {baseline_rows} rows, {:.2} rows/s",
        base.rows_per_second()
    );
    println!(
        "pipeline (defaults):          {pipeline_rows} rows, {:.2} rows/s",
        fast.rows_per_second()
    );
    println!(
        "speed-up: {:.1}×",
        fast.rows_per_second() / base.rows_per_second()
    );

    // Cost per row, both modes, five prospects per company.
    let list = dir.path().join("cost.csv");
    let cost_rows = if smoke { 50 } else { 500 };
    write_prospects(&list, cost_rows, 5);
    println!("\n## cost per row, {cost_rows} rows, 5 prospects per company");
    println!("| mode | search calls/row | LLM calls/row | total calls/row | prompt tokens/row | completion tokens/row |");
    println!("|---|---|---|---|---|---|");
    for mode in [Mode::TwoCall, Mode::Combined] {
        let s = run(
            &rt,
            config.providers().unwrap(),
            &list,
            &dir.path().join("cost.xlsx"),
            &Options {
                mode,
                ..Options::default()
            },
        );
        let per = |n: u64| n as f64 / s.rows as f64;
        println!(
            "| {mode:?} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} |",
            per(s.search_calls),
            per(s.llm_calls),
            per(s.search_calls + s.llm_calls),
            per(s.prompt_tokens),
            per(s.completion_tokens)
        );
    }
}

/// The knobs of a run (the CLI's `--concurrency`, `--chunk-size`, `--limit`,
/// `--combined`); defaults as the CLI's.
struct Options {
    concurrency: usize,
    chunk_size: u32,
    limit: Option<u64>,
    mode: Mode,
}

impl Default for Options {
    fn default() -> Self {
        let d = JobSettings::default();
        Self {
            concurrency: d.concurrency,
            chunk_size: d.chunk_size,
            limit: None,
            mode: Mode::TwoCall,
        }
    }
}

/// What a run did, from the finished job's timing document.
struct Summary {
    rows: u64,
    seconds: f64,
    search_calls: u64,
    llm_calls: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    /// The timing document's `seconds` (split, chunks_total, finalize, wall).
    phases: serde_json::Value,
}

impl Summary {
    fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

/// `input` → `out` the way `outreach enrich` runs it: a local job in a fresh data dir.
fn run(
    rt: &tokio::runtime::Runtime,
    providers: Providers,
    input: &Path,
    out: &Path,
    options: &Options,
) -> Summary {
    rt.block_on(async {
        let data = tempfile::tempdir_in(out.parent().unwrap()).unwrap();
        let backends = Backends::open(&BackendConfig::local(data.path()))
            .await
            .unwrap();
        let settings = JobSettings {
            chunk_size: options.chunk_size,
            concurrency: options.concurrency,
            temp_dir: data.path().join("tmp"),
            ..JobSettings::default()
        };
        let system = JobSystem::new(
            backends.store,
            backends.ledger,
            backends.storage,
            backends.queue,
            providers,
            settings,
        );
        system
            .ledger()
            .ensure_account("local", "local@localhost", 0)
            .await
            .unwrap();
        let started = Instant::now();
        let job_id = uuid::Uuid::new_v4().to_string();
        let key = keys::input("local", &job_id, "input.csv");
        system.storage().put_file(&key, input).await.unwrap();
        let job = system
            .create_job(CreateJob {
                user_id: "local".into(),
                file_path: key,
                filename: "input.csv".into(),
                email_col: None,
                columns: Default::default(),
                service: ServiceContext::default(),
                output_columns: None,
                format: OutputFormat::from_path(out).unwrap_or_default(),
                limit: options.limit,
                combined: options.mode == Mode::Combined,
                charge: false,
                job_id: Some(job_id),
                campaign: Default::default(),
            })
            .await
            .unwrap();
        let local = system.run_locally(&job.id);
        // The CLI's poll interval.
        let done = local
            .wait(Duration::from_millis(200), |_| {})
            .await
            .unwrap();
        local.finish().await;
        assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
        system
            .storage()
            .get_to_file(done.result_path.as_deref().unwrap(), out)
            .await
            .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let timing = done.timing.unwrap_or_default();
        let n = |path: &[&str]| {
            path.iter()
                .try_fold(&timing, |v, k| v.get(k))
                .and_then(|v| v.as_u64())
                .unwrap_or(0)
        };
        Summary {
            rows: done.rows_processed,
            seconds,
            search_calls: n(&["provider_calls", "search"]),
            llm_calls: n(&["provider_calls", "llm"]),
            prompt_tokens: n(&["tokens", "prompt"]),
            completion_tokens: n(&["tokens", "completion"]),
            phases: timing.get("seconds").cloned().unwrap_or_default(),
        }
    })
}

/// Seconds to stream `input` through the reader and the XLSX writer, cells untouched.
fn io_floor(input: &Path, out: &Path) -> f64 {
    let started = Instant::now();
    let mut reader = outreach_core::input::RowReader::open(input).unwrap();
    let layout = outreach_core::output::OutputLayout::new(reader.headers(), None).unwrap();
    let mut writer = outreach_core::output::create_writer(
        out,
        outreach_core::output::OutputFormat::Xlsx,
        layout.headers(),
    )
    .unwrap();
    let outcome = outreach_core::RowOutcome {
        research: "{}".into(),
        personalized: "opener".into(),
        status: outreach_core::RowStatus::Enriched,
        draft: None,
    };
    for row in reader.by_ref() {
        let row = row.unwrap();
        writer.write_row(&layout.project(&row, &outcome)).unwrap();
    }
    writer.finish().unwrap();
    started.elapsed().as_secs_f64()
}

fn write_prospects(path: &Path, rows: usize, per_company: usize) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(["first_name", "last_name", "title", "company", "email"])
        .unwrap();
    for i in 0..rows {
        let c = i / per_company;
        w.write_record([
            format!("First{i}"),
            format!("Last{i}"),
            "VP Sales".to_string(),
            format!("Company {c}"),
            format!("first{i}.last{i}@company{c}.com"),
        ])
        .unwrap();
    }
    w.flush().unwrap();
}

fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

#[derive(Debug)]
struct InstantSearch;

#[async_trait::async_trait]
impl SearchProvider for InstantSearch {
    async fn search(&self, q: &SearchQuery) -> outreach_core::Result<SearchResults> {
        Ok(SearchResults {
            organic: (0..3)
                .map(|i| SearchHit {
                    title: format!("{} result {i}", q.q),
                    link: format!("https://example.com/{}/{i}", q.q.replace(' ', "-")),
                    snippet: "A typical snippet of about one hundred and fifty characters describing the company, its products, its customers and recent news.".into(),
                })
                .collect(),
            knowledge_graph: None,
        })
    }
}

#[derive(Debug)]
struct InstantLlm;

#[async_trait::async_trait]
impl Llm for InstantLlm {
    async fn complete(&self, request: &ChatRequest) -> outreach_core::Result<ChatResponse> {
        let content = outreach_fake_providers::llm_answer(
            &serde_json::to_value(WireRequest(request)).unwrap(),
        );
        Ok(ChatResponse {
            content,
            ..ChatResponse::default()
        })
    }
}

/// The request as the OpenAI wire format has it, for the fake's answer logic.
struct WireRequest<'a>(&'a ChatRequest);

impl serde::Serialize for WireRequest<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v = serde_json::json!({ "messages": self.0.messages });
        if self.0.format.is_json() {
            v["response_format"] = serde_json::json!({"type": "json_object"});
        }
        v.serialize(s)
    }
}
