//! `outreach enrich`: a local job in `OUTREACH_DATA_DIR`. Chunks are checkpointed as
//! they finish, so a run stopped by Ctrl-C or a crash resumes when the same command is
//! run again, re-using every finished chunk (no second provider call for them).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use outreach_core::config::PipelineConfig;
use std::sync::Arc;

use outreach_core::campaign::{DraftSpec, SuppressionList};
use outreach_core::jobs::{keys, CampaignRequest, CreateJob, JobSettings, JobSystem};
use outreach_core::output::OutputFormat;
use outreach_core::ports::{Job, JobStatus};
use outreach_core::setup::{BackendConfig, Backends};
use outreach_core::{EnrichOptions, Mode, ServiceContext};

use super::local_runs::LocalRuns;
use super::progress_bar::JobProgressBar;
use super::EnrichArgs;

/// The user every local run belongs to (no credits are charged locally).
const LOCAL_USER: &str = "local";
/// How often a local run records its rows done and the bar reads them.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

pub async fn run(args: EnrichArgs) -> anyhow::Result<ExitCode> {
    let mut config = PipelineConfig::from_env();
    apply_overrides(&mut config, &args)?;
    let providers = config.providers()?;
    for warning in config.build()?.missing_key_warnings() {
        eprintln!("warning: {warning}");
    }

    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(OutputFormat::from_path))
        .unwrap_or_default();
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.input, format));
    let filename = args
        .input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("the input path has no file name")?;
    if !args.input.is_file() {
        anyhow::bail!("cannot read {}: no such file", args.input.display());
    }

    let backend_config = BackendConfig::from_env();
    let data_dir = backend_config.data_dir.clone();
    let backends = Backends::open(&backend_config).await?;
    let defaults = EnrichOptions::default();
    let settings = JobSettings {
        chunk_size: args.chunk_size.unwrap_or(defaults.chunk_size).max(1) as u32,
        concurrency: args.concurrency.unwrap_or(defaults.concurrency).max(1),
        temp_dir: data_dir.join("tmp"),
        // As often as the bar below reads the job (200 ms), so it moves row by row: the
        // store is local, and the default (1 s) suits a database shared by many workers.
        progress_every: PROGRESS_EVERY,
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
        .ensure_account(LOCAL_USER, "local@localhost", 0)
        .await?;

    let campaign = campaign_request(&args)?;
    let request = CreateJob {
        user_id: LOCAL_USER.into(),
        file_path: String::new(),
        filename: filename.clone(),
        email_col: args.email_col.clone(),
        columns: args.column_overrides(),
        service: config.enricher.service.clone(),
        output_columns: args.columns.clone(),
        format,
        limit: args.limit,
        combined: config.enricher.mode == Mode::Combined,
        charge: false,
        job_id: None,
        campaign,
    };
    let runs = LocalRuns::new(&data_dir);
    let fingerprint = runs
        .fingerprint(&args.input, &request, system.settings().chunk_size)
        .await?;
    let job = match resumable(&system, &runs, &fingerprint).await? {
        Some(job) => {
            eprintln!(
                "resuming the unfinished run of this file ({} of {} rows already done)",
                job.rows_processed, job.rows
            );
            if job.status == JobStatus::Failed {
                system.retry_job(LOCAL_USER, &job.id).await?
            } else {
                system.recover().await?;
                job
            }
        }
        None => {
            let job_id = uuid::Uuid::new_v4().to_string();
            let key = keys::input(LOCAL_USER, &job_id, &filename);
            system.storage().put_file(&key, &args.input).await?;
            let job = system
                .create_job(CreateJob {
                    file_path: key,
                    job_id: Some(job_id),
                    ..request
                })
                .await?;
            runs.remember(&fingerprint, &job.id)?;
            job
        }
    };

    let run = system.run_locally(&job.id);
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(JobProgressBar::new);
    let waited = {
        let wait = run.wait(PROGRESS_EVERY, |j| {
            if let Some(bar) = &bar {
                bar.update(j);
            }
        });
        tokio::select! {
            r = wait => Some(r?),
            _ = tokio::signal::ctrl_c() => None,
        }
    };
    let Some(finished) = waited else {
        run.abort();
        if let Some(bar) = &bar {
            bar.finish();
        }
        let now = system.store().get_job(None, &job.id).await?;
        eprintln!(
            "interrupted after {} of {} rows; run the same command again to resume",
            now.rows_processed, now.rows
        );
        return Ok(ExitCode::from(130));
    };
    if let Some(bar) = &bar {
        bar.finish();
    }
    run.finish().await;

    match finished.status {
        JobStatus::Succeeded => {
            let result = finished
                .result_path
                .clone()
                .context("the job finished without a result")?;
            // `get_to_file` writes beside the target and renames: no half-written file.
            system
                .storage()
                .get_to_file(&result, &output)
                .await
                .with_context(|| format!("cannot write {}", output.display()))?;
            runs.forget(&fingerprint);
            println!("{}", summary_line(&finished, &output));
            Ok(ExitCode::SUCCESS)
        }
        JobStatus::Failed => {
            eprintln!(
                "error: {}",
                finished.error.as_deref().unwrap_or("the run failed")
            );
            eprintln!(
                "finished chunks are kept: fix the cause and run the same command again to resume"
            );
            Ok(ExitCode::FAILURE)
        }
        other => anyhow::bail!("the run ended as {}", other.as_str()),
    }
}

/// The unfinished job of an earlier identical command, if any.
async fn resumable(
    system: &JobSystem,
    runs: &LocalRuns,
    fingerprint: &str,
) -> anyhow::Result<Option<Job>> {
    let Some(job_id) = runs.lookup(fingerprint) else {
        return Ok(None);
    };
    match system.store().get_job(None, &job_id).await {
        Ok(job)
            if matches!(
                job.status,
                JobStatus::Queued | JobStatus::InProgress | JobStatus::Failed
            ) =>
        {
            Ok(Some(job))
        }
        Ok(_) | Err(outreach_core::Error::NotFound(_)) => {
            runs.forget(fingerprint);
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn apply_overrides(config: &mut PipelineConfig, args: &EnrichArgs) -> anyhow::Result<()> {
    args.providers.apply(config);
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
    args.apply_copy_rules(&mut config.enricher.service);
    config
        .enricher
        .service
        .validate()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

fn read_service(path: &Path) -> anyhow::Result<ServiceContext> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the service file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        let fields: Vec<&str> = outreach_core::service::SERVICE_FIELDS
            .iter()
            .map(|f| f.name)
            .collect();
        format!(
            "{} is not a service JSON object (fields: {}, copy)",
            path.display(),
            fields.join(", ")
        )
    })
}

/// The do-not-contact list and templates named on the command line. Template errors
/// are reported (with line and column) when the job is created, before any call.
fn campaign_request(args: &EnrichArgs) -> anyhow::Result<CampaignRequest> {
    let suppression = match &args.suppress {
        Some(path) => {
            let (list, report) = SuppressionList::from_path(path)?;
            for bad in report.rejected.iter().take(5) {
                eprintln!(
                    "warning: {} line {}: `{}` is neither an email nor a domain; skipped",
                    path.display(),
                    bad.line,
                    bad.value
                );
            }
            Some(Arc::new(list))
        }
        None => None,
    };
    let read = |path: &Option<PathBuf>, what: &str| -> anyhow::Result<Option<String>> {
        path.as_ref()
            .map(|p| {
                std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read the {what} template {}", p.display()))
            })
            .transpose()
    };
    let (variants, seed) = match &args.variants {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the variants file {}", path.display()))?;
            let spec: DraftSpec = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a variants JSON object ({{\"seed\": …, \"variants\": [{{\"name\", \"subject\", \"body\", \"weight\"}}]}})",
                    path.display()
                )
            })?;
            (spec.variants, Some(spec.seed))
        }
        None => (Vec::new(), None),
    };
    let drafts = DraftSpec::from_parts(
        read(&args.subject_template, "subject")?,
        read(&args.body_template, "body")?,
        variants,
        seed,
    )?;
    Ok(CampaignRequest {
        suppression,
        drafts,
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

fn summary_line(job: &Job, output: &Path) -> String {
    let t = job.timing().unwrap_or_default();
    let suppressed = job.meta.campaign.as_ref().map_or(0, |c| c.suppressed_rows);
    // Suppressed rows count among the fallbacks (no line), but are shown on their own.
    let fallbacks = t.fallbacks.saturating_sub(suppressed);
    let truncated = t.truncated_cells;
    let mut line = format!(
        "{} rows, {} lines written, {} fallbacks ({} not chargeable), {} provider calls ({} search, {} LLM), {} cache hits, {} retries, {:.1}s ({:.1} rows/s) → {}",
        job.rows,
        job.rows.saturating_sub(fallbacks + suppressed),
        fallbacks,
        t.refundable_rows,
        t.provider_calls.total,
        t.provider_calls.search,
        t.provider_calls.llm,
        t.cache_hits,
        t.retries,
        t.seconds.wall,
        t.rows_per_second,
        output.display()
    );
    if suppressed > 0 {
        line.push_str(&format!(
            " ({suppressed} rows on the do-not-contact list, skipped)"
        ));
    }
    if truncated > 0 {
        line.push_str(&format!(
            " ({truncated} cells truncated to Excel's 32,767-character limit)"
        ));
    }
    line
}
