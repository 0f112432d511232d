//! Retention and erasure of stored data (issue 12, item 7). Nothing else in the system
//! deletes: uploads, job inputs, chunks and results stay until `sweep` finds them older
//! than the retention period, or `erase_user` removes everything a user stored. The
//! credit ledger is never touched: what was charged and refunded stays accounted for.
//!
//! Objects go before rows: if a sweep stops half-way, the rows still name what is left
//! and the next sweep finishes it.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::ports::{JobStore, Storage};

/// What a sweep or an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub jobs: usize,
    pub uploads: usize,
    pub objects: usize,
}

/// Deletes every object under `prefix`; returns how many.
async fn delete_under(storage: &dyn Storage, prefix: &str) -> Result<usize> {
    let keys = storage.list(prefix).await?;
    for key in &keys {
        storage.delete(key).await?;
    }
    Ok(keys.len())
}

/// Removes finished jobs (their inputs, chunks, results, push records and rows) and
/// uploads older than `cutoff`.
pub async fn sweep(
    store: &dyn JobStore,
    storage: &dyn Storage,
    cutoff: DateTime<Utc>,
) -> Result<Removed> {
    let mut removed = Removed::default();
    for job in store.finished_jobs_before(cutoff).await? {
        // The job's input, chunks, result, and its pushes' records and results.
        for root in ["inputs", "outputs", "pushes"] {
            removed.objects +=
                delete_under(storage, &format!("{root}/{}/{}/", job.user_id, job.id)).await?;
        }
        store.delete_job(&job.id).await?;
        removed.jobs += 1;
    }
    for upload in store.uploads_before(cutoff).await? {
        storage.delete(&upload.id).await?;
        store.delete_file(&upload.user_id, &upload.id).await?;
        removed.objects += 1;
        removed.uploads += 1;
    }
    if removed != Removed::default() {
        tracing::info!(
            jobs = removed.jobs,
            uploads = removed.uploads,
            objects = removed.objects,
            %cutoff,
            "retention: old data removed"
        );
    }
    Ok(removed)
}

/// Whether `user_id` has a push running (its task would write after an erasure).
pub async fn running_pushes(storage: &dyn Storage, user_id: &str) -> Result<bool> {
    let prefix = format!("{}/{user_id}/", crate::campaign::push::record::RUNNING_ROOT);
    Ok(!storage.list(&prefix).await?.is_empty())
}

/// Removes everything `user_id` stored (uploads, job inputs, chunks, results, research,
/// push records and their per-row results, events not yet delivered, logs), the rows of
/// their jobs and files, and their campaign settings (destinations with sealed keys,
/// do-not-contact list, webhook). The caller makes sure no job or push of the user is
/// running ([`running_pushes`]).
pub async fn erase_user(
    store: &dyn JobStore,
    storage: &dyn Storage,
    user_id: &str,
) -> Result<Removed> {
    let mut removed = Removed::default();
    // Push records and results, running-push markers, events not yet delivered.
    for root in [
        "uploads",
        "inputs",
        "outputs",
        "pushes",
        crate::campaign::push::record::RUNNING_ROOT,
        crate::jobs::EVENTS_ROOT,
    ] {
        removed.objects += delete_under(storage, &format!("{root}/{user_id}/")).await?;
    }
    let (_, jobs) = store.list_jobs(user_id, 0, 0).await?;
    removed.jobs = usize::try_from(jobs).unwrap_or(usize::MAX);
    store.erase_user(user_id).await?;
    tracing::info!(
        user = user_id,
        objects = removed.objects,
        jobs = removed.jobs,
        "user data erased"
    );
    Ok(removed)
}
