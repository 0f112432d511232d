//! Pipeline benchmarks with simulated providers. Run with
//! `cargo bench -p outreach-benches` (add `-- quick` for a smaller run).
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
use outreach_core::providers::openai::LlmConfig;
use outreach_core::providers::serper::SerperConfig;
use outreach_core::providers::{
    ChatRequest, ChatResponse, Llm, SearchHit, SearchProvider, SearchQuery, SearchResults,
};
use outreach_core::{
    enrich_file, EnrichOptions, Enricher, EnricherConfig, Metrics, Mode, NoProgress, RunSummary,
};
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
    let summary = rt.block_on(async {
        let e = Enricher::new(
            Some(Arc::new(InstantSearch)),
            Some(Arc::new(InstantLlm)),
            EnricherConfig::default(),
            Arc::new(Metrics::default()),
        );
        let options = EnrichOptions {
            concurrency: 256,
            chunk_size: 500,
            ..Default::default()
        };
        enrich_file(&e, &input, &out, &options, &NoProgress)
            .await
            .unwrap()
    });
    let secs = started.elapsed().as_secs_f64();
    println!("## instant providers, {rows} rows → XLSX");
    println!(
        "wall {secs:.2} s, {:.0} rows/s, peak RSS {} MB, output {} MB",
        rows as f64 / secs,
        peak_rss_mb(),
        std::fs::metadata(&out).unwrap().len() / 1_000_000
    );
    assert_eq!(summary.rows, rows as u64);
    // Baseline in the same run: the I/O floor, the same file read and written as XLSX
    // with the same two new columns but no enrichment at all.
    let floor = io_floor(&input, &dir.path().join("floor.xlsx"));
    println!(
        "baseline (read → XLSX, no enrichment): {floor:.2} s; the full pipeline costs {:.2}× the I/O floor",
        secs / floor
    );

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
    let sequential = EnrichOptions {
        concurrency: 1,
        limit: Some(baseline_rows as u64),
        ..Default::default()
    };
    let base = run(
        &rt,
        &config,
        &small,
        &dir.path().join("seq.xlsx"),
        &sequential,
    );
    let fast = run(
        &rt,
        &config,
        &small,
        &dir.path().join("par.xlsx"),
        &EnrichOptions::default(),
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
        let mut c = config.clone();
        c.enricher.mode = mode;
        let s = run(
            &rt,
            &c,
            &list,
            &dir.path().join("cost.xlsx"),
            &EnrichOptions::default(),
        );
        let per = |n: u64| n as f64 / s.rows as f64;
        println!(
            "| {mode:?} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} |",
            per(s.metrics.search_calls),
            per(s.metrics.llm_calls),
            per(s.metrics.provider_calls()),
            per(s.metrics.prompt_tokens),
            per(s.metrics.completion_tokens)
        );
    }
}

fn run(
    rt: &tokio::runtime::Runtime,
    config: &PipelineConfig,
    input: &Path,
    out: &Path,
    options: &EnrichOptions,
) -> RunSummary {
    rt.block_on(async {
        let e = config.build().unwrap();
        enrich_file(&e, input, out, options, &NoProgress)
            .await
            .unwrap()
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
