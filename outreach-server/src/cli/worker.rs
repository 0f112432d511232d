//! `outreach worker`: a process that only runs tasks (job starts, chunks and
//! finalizes, pushes, webhook deliveries). Any number of them, on any machines, share
//! the work through the shared queue (`REDIS_URL`), database (`DATABASE_URL`) and
//! storage (`STORAGE_URL`).

use std::process::ExitCode;

use outreach_server::metrics_exporter;

use super::system::open_from_env;
use super::WorkerArgs;

pub async fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let opened = open_from_env().await?;
    if !opened.durable_queue {
        anyhow::bail!(
            "`outreach worker` needs a shared queue: set REDIS_URL (and DATABASE_URL / STORAGE_URL \
             that every process can reach). On one machine, `outreach serve --workers N` runs \
             workers in-process instead."
        );
    }
    let system = opened.system;
    // This worker runs pushes (opening saved keys) and delivers `job.finished` /
    // `push.finished` to the accounts' webhooks.
    let campaigns = std::sync::Arc::new(super::serve::campaign_state(opened.campaigns.clone())?);
    outreach_server::server::campaigns::serve_tasks(&system, &campaigns);
    let parallel = args
        .parallel
        .unwrap_or_else(|| system.default_parallelism());
    eprintln!(
        "outreach worker: {parallel} task(s) at once, {} rows in flight, rate limits {}",
        system.settings().concurrency,
        if opened.shared_rate_limits {
            "shared through Redis"
        } else {
            "per process"
        }
    );
    if let Some(addr) = &args.metrics_addr {
        let metrics = metrics_exporter::install()?;
        let bound = metrics_exporter::serve_standalone(addr, metrics, system.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
        // The URL on stdout, like `serve`, so scripts can find a free port's number.
        println!("outreach worker metrics on http://{bound}/metrics");
    }
    let worker = system.spawn_worker(parallel);
    super::serve::shutdown_signal().await;
    let grace = super::system::shutdown_grace();
    eprintln!(
        "stopping: finishing the tasks in hand for up to {}s, then handing them back",
        grace.as_secs_f64()
    );
    let took = worker.shutdown_within(grace).await;
    eprintln!("stopped in {:.1}s", took.as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
