//! Building the job system from the environment, shared by `serve` and `worker` so both
//! read the same names (DESIGN.md) and get the same backends, limits and settings.

use std::path::PathBuf;

use outreach_core::config::PipelineConfig;
use outreach_core::jobs::{JobSettings, JobSystem};
use outreach_core::setup::{BackendConfig, Backends};

pub struct Opened {
    pub system: JobSystem,
    /// Password sign-ins for the built-in web sign-in (same database as the jobs).
    pub accounts: std::sync::Arc<dyn outreach_core::ports::LocalAccounts>,
    /// Per-account destinations, do-not-contact list and webhook (same database).
    pub campaigns: std::sync::Arc<dyn outreach_core::campaign::settings::CampaignSettings>,
    pub data_dir: PathBuf,
    /// False for the in-process queue (tasks die with the process).
    pub durable_queue: bool,
    pub shared_rate_limits: bool,
}

/// Backends from `DATABASE_URL` / `STORAGE_URL` / `REDIS_URL` / `OUTREACH_DATA_DIR`,
/// providers from the provider names, rate limits shared through Redis when it is
/// configured, job settings from `OUTREACH_*`.
pub async fn open_from_env() -> anyhow::Result<Opened> {
    let backend_config = BackendConfig::from_env();
    let data_dir = backend_config.data_dir.clone();
    let backends = Backends::open(&backend_config).await?;
    let pipeline = PipelineConfig::from_env();
    for warning in pipeline.build()?.missing_key_warnings() {
        eprintln!("warning: {warning}");
    }
    let shared = backends.shared_limiters(&pipeline).await?;
    let shared_rate_limits = shared.is_some();
    let providers = pipeline.providers_with(Default::default(), shared)?;
    let durable_queue = backends.durable_queue;
    let accounts = backends.accounts.clone();
    let campaigns = backends.campaigns.clone();
    let system = JobSystem::new(
        backends.store,
        backends.ledger,
        backends.storage,
        backends.queue,
        providers,
        JobSettings::from_env(&data_dir),
    );
    Ok(Opened {
        system,
        accounts,
        campaigns,
        data_dir,
        durable_queue,
        shared_rate_limits,
    })
}

/// How long a stopping process lets running tasks finish before handing them back to
/// the queue: `OUTREACH_SHUTDOWN_GRACE_SECS` (default 8 s).
pub fn shutdown_grace() -> std::time::Duration {
    std::env::var("OUTREACH_SHUTDOWN_GRACE_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(
            outreach_core::jobs::DEFAULT_SHUTDOWN_GRACE,
            std::time::Duration::from_secs_f64,
        )
}
