//! `outreach enrich`: one file in, one enriched file out, on the embedded defaults.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use outreach_core::config::PipelineConfig;
use outreach_core::output::OutputFormat;
use outreach_core::{EnrichOptions, Mode, NoProgress, ProgressSink, RunSummary, ServiceContext};

use super::progress_bar::TerminalProgress;
use super::EnrichArgs;

pub async fn run(args: EnrichArgs) -> anyhow::Result<ExitCode> {
    let mut config = PipelineConfig::from_env();
    apply_overrides(&mut config, &args)?;
    let enricher = config.build()?;

    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(OutputFormat::from_path));
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.input, format.unwrap_or_default()));
    let defaults = EnrichOptions::default();
    let options = EnrichOptions {
        email_column: args.email_col.clone(),
        output_columns: args.columns.clone(),
        format,
        chunk_size: args.chunk_size.unwrap_or(defaults.chunk_size),
        concurrency: args.concurrency.unwrap_or(defaults.concurrency),
        limit: args.limit,
    };

    let progress: Box<dyn ProgressSink> = if !args.quiet && std::io::stderr().is_terminal() {
        Box::new(TerminalProgress::new())
    } else {
        Box::new(NoProgress)
    };
    let run =
        outreach_core::enrich_file(&enricher, &args.input, &output, &options, progress.as_ref());
    let summary = tokio::select! {
        result = run => result?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted");
            return Ok(ExitCode::from(130));
        }
    };
    println!("{}", summary_line(&summary, &output));
    Ok(ExitCode::SUCCESS)
}

fn apply_overrides(config: &mut PipelineConfig, args: &EnrichArgs) -> anyhow::Result<()> {
    if let Some(url) = &args.serper_url {
        if let Some(serper) = config.serper.as_mut() {
            serper.url = url.clone();
        }
    }
    if let Some(llm) = config.llm.as_mut() {
        if let Some(url) = &args.llm_base_url {
            llm.base_url = url.clone();
        }
        if let Some(model) = &args.model {
            llm.model = model.clone();
        }
    }
    if let Some(rps) = args.search_rps {
        config.search_policy.requests_per_second = (rps > 0.0).then_some(rps);
    }
    if let Some(rps) = args.llm_rps {
        config.llm_policy.requests_per_second = (rps > 0.0).then_some(rps);
    }
    if args.combined {
        config.enricher.mode = Mode::Combined;
    }
    if let Some(path) = &args.service {
        config.enricher.service = read_service(path)?;
    }
    Ok(())
}

fn read_service(path: &Path) -> anyhow::Result<ServiceContext> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the service file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a service JSON object (fields: core_offer, key_differentiator, cta, timeline, goal, fallback_action)",
            path.display()
        )
    })
}

/// `<input stem>.enriched.<ext>` beside the input.
fn default_output(input: &Path, format: OutputFormat) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    input.with_file_name(format!("{stem}.enriched.{}", format.extension()))
}

fn summary_line(s: &RunSummary, output: &Path) -> String {
    let mut line = format!(
        "{} rows, {} lines written, {} fallbacks ({} invalid emails), {} provider calls ({} search, {} LLM), {} cache hits, {} retries, {:.1}s ({:.1} rows/s) → {}",
        s.rows,
        s.enriched,
        s.fallbacks,
        s.invalid_emails,
        s.metrics.provider_calls(),
        s.metrics.search_calls,
        s.metrics.llm_calls,
        s.metrics.cache_hits(),
        s.metrics.retries,
        s.seconds,
        s.rows_per_second(),
        output.display()
    );
    if s.truncated_cells > 0 {
        line.push_str(&format!(
            " ({} cells truncated to Excel's limit)",
            s.truncated_cells
        ));
    }
    line
}
