//! Refunds of a job's credits: ledger entries keyed per job and attempt (see
//! `keys.rs`), so no retry or race refunds twice.
//!
//! A job that stops early (failed or cancelled) refunds its [`undelivered_credits`],
//! one count for both: the rows of its recorded chunks are what the user gets (in a
//! retry's result; a chunk that did not finish is redone), so they are charged and
//! nothing else is. The count is taken after the status left `in_progress`, and the
//! store records a chunk only while the job is `in_progress` (checked in the record's
//! own transaction), so no chunk can be recorded after the count: it is exact.

use super::JobSystem;
use crate::error::{Error, Result};
use crate::ports::{Applied, ChunkStats, Job, NewEntry};

/// The rows of a job that are charged, from its recorded chunks' totals: their rows,
/// minus those that fell back for provider reasons (refundable), minus every row on the
/// do-not-contact list (never charged; all of them are counted out, processed or not,
/// so the user is never short).
pub(crate) fn delivered_rows(job: &Job, totals: &ChunkStats) -> u64 {
    let suppressed = job.meta.campaign.as_ref().map_or(0, |c| c.suppressed_rows);
    totals
        .rows
        .saturating_sub(totals.refundable)
        .saturating_sub(suppressed)
}

/// The credits of a job's rows that were not delivered: its cost minus its
/// [`delivered_rows`] (never negative). Rows of a chunk that stopped halfway count as not
/// delivered: the chunk is redone by a retry.
pub(crate) fn undelivered_credits(job: &Job, totals: &ChunkStats) -> i64 {
    let cost = job.meta.credit_cost;
    if cost <= 0 {
        return 0;
    }
    let delivered = i64::try_from(delivered_rows(job, totals)).unwrap_or(i64::MAX);
    (cost - delivered).max(0)
}

impl JobSystem {
    /// Apply a refund entry; record it on the job only when it was newly applied.
    pub(crate) async fn refund(
        &self,
        user_id: &str,
        job_id: &str,
        credits: i64,
        key: String,
        why: &str,
    ) -> Result<()> {
        if credits <= 0 {
            return Ok(());
        }
        let applied = self
            .ledger()
            .apply(NewEntry {
                user_id: user_id.to_string(),
                change: credits,
                amount_usd: None,
                reason: format!("{why}: {job_id}"),
                idempotency_key: key,
            })
            .await?;
        if let Applied::Applied { .. } = applied {
            match self.store().add_credits_refunded(job_id, credits).await {
                // A refund for a job whose row was never written (creation failed).
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
