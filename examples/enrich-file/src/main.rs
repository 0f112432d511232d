//! Run with `cargo run -p example-enrich-file -- INPUT.csv OUTPUT.xlsx`
//!
//! Embedding outreach from Rust: providers from the usual environment names
//! (`SERPER_API_KEY`, `GROQ_API_KEY`/`LLM_API_KEY`, `SERPER_URL`, `LLM_BASE_URL`,
//! `LLM_MODEL`), a custom service context, progress printed as it goes.

use std::path::PathBuf;

use outreach_core::config::PipelineConfig;
use outreach_core::{enrich_file, EnrichOptions, Progress, ProgressSink, ServiceContext};

/// Prints a line per finished chunk.
struct PrintProgress;

impl ProgressSink for PrintProgress {
    fn on_progress(&self, p: &Progress) {
        eprintln!(
            "{}/{} rows, {} fallbacks, {} provider calls",
            p.rows_done,
            p.rows_total.unwrap_or(0),
            p.fallbacks,
            p.metrics.provider_calls()
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let input = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "examples/prospects.csv".into()),
    );
    let output = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "prospects.enriched.xlsx".into()),
    );

    let mut config = PipelineConfig::from_env();
    config.enricher.service = ServiceContext {
        core_offer: "a data-cleaning service for CRM records".into(),
        cta: "a 20-minute demo".into(),
        ..ServiceContext::default()
    };
    let enricher = config.build()?;
    let summary = enrich_file(
        &enricher,
        &input,
        &output,
        &EnrichOptions::default(),
        &PrintProgress,
    )
    .await?;
    println!(
        "{} rows ({} enriched, {} fallbacks) in {:.1}s → {}",
        summary.rows,
        summary.enriched,
        summary.fallbacks,
        summary.seconds,
        output.display()
    );
    Ok(())
}
