//! `outreach check`: one search and one tiny chat completion with the configured
//! providers, and a diagnosis per provider (key accepted, model found, JSON mode,
//! rate-limit headers seen). The calls and the diagnosis are the core's preflight
//! (`outreach_core::preflight`), the same one `enrich` and job start run.
//!
//! Exit status: 0 when both providers answered, 1 when one is not configured or
//! failed (the run would fall back or stop), so scripts can gate on it.

use std::process::ExitCode;

use outreach_core::config::PipelineConfig;
use outreach_core::preflight::{self, CheckStatus, ProviderCheck};

use super::CheckArgs;

pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut config = PipelineConfig::from_env();
    args.providers.apply(&mut config);
    let model = config.llm.as_ref().map(|l| l.model.clone());
    let providers = config.providers()?;
    let report = preflight::check(&providers, model.as_deref()).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let search_url = config.serper.as_ref().map(|s| s.url.clone());
        let llm_url = config.llm.as_ref().map(|l| l.base_url.clone());
        print_check(&report.search, search_url.as_deref());
        print_check(&report.llm, llm_url.as_deref());
    }
    Ok(if report.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_check(check: &ProviderCheck, endpoint: Option<&str>) {
    let mark = match check.status {
        CheckStatus::Ok => "ok",
        CheckStatus::NotConfigured => "not configured",
        CheckStatus::Degraded => "degraded",
        CheckStatus::Failed => "FAILED",
    };
    let name = match check.provider {
        "search" => "search",
        _ => "LLM",
    };
    match endpoint {
        Some(url) => println!("{name}: {mark} ({url}, {} ms)", check.millis),
        None => println!("{name}: {mark}"),
    }
    println!("  {}", check.message);
    if let Some(json) = &check.json {
        println!("  {json}");
    }
    match &check.rate_limits {
        Some(limits) => println!("  rate limits: {limits}"),
        None if check.status != CheckStatus::NotConfigured => {
            println!("  rate limits: no headers (the limit is learned from 429s)")
        }
        None => {}
    }
}
