//! Refunds of a job's credits: ledger entries keyed per job and attempt (see
//! `keys.rs`), so no retry or race refunds twice.

use super::JobSystem;
use crate::error::{Error, Result};
use crate::ports::{Applied, NewEntry};

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
