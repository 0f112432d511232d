//! The retention task of `outreach serve`: every hour (and once at start) it removes
//! finished jobs and uploads older than `OUTREACH_RETENTION_DAYS` through
//! [`outreach_core::retention::sweep`]. Several servers may run it at once: deleting
//! what is already gone is a no-op.

use std::time::Duration;

use outreach_core::jobs::JobSystem;
use outreach_core::retention;

/// How often the sweep runs.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Sweeps now and then every `every`, forever (abort the task to stop it).
pub async fn run(jobs: JobSystem, keep: Duration, every: Duration) {
    loop {
        let cutoff = chrono::Duration::from_std(keep)
            .ok()
            .and_then(|keep| chrono::Utc::now().checked_sub_signed(keep));
        if let Some(cutoff) = cutoff {
            if let Err(e) =
                retention::sweep(jobs.store().as_ref(), jobs.storage().as_ref(), cutoff).await
            {
                tracing::warn!(error = %e, "retention sweep failed; retrying at the next one");
            }
        }
        tokio::time::sleep(every).await;
    }
}
