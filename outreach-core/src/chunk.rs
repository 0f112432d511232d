//! Processing a chunk of rows: every row through the enricher, many at once, results in
//! input order. A semaphore shared by all chunks bounds rows in flight, so the next
//! chunk can start while the last rows of this one are still waiting on the network.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::enricher::{Enricher, RowOutcome};
use crate::error::{Error, Result};

/// Enrich `rows` (each a full input row) using the cell at `email_index`.
/// Returns one outcome per row, in order. A fatal provider error (bad key, no balance)
/// cancels the rest of the chunk and is returned.
pub async fn process_chunk(
    enricher: &Enricher,
    rows: &[Vec<String>],
    email_index: usize,
    in_flight: &Arc<Semaphore>,
) -> Result<Vec<RowOutcome>> {
    let tasks = rows.iter().map(|row| async move {
        let email = row.get(email_index).map(String::as_str).unwrap_or("");
        // The do-not-contact list comes first: a listed row never reaches a provider.
        if let Some(outcome) = enricher.config().campaign.suppressed(email) {
            return Ok(outcome);
        }
        let _permit = in_flight.acquire().await.map_err(|_| Error::Cancelled)?;
        enricher.enrich_row(email).await
    });
    futures::future::try_join_all(tasks).await
}
