//! Processing a chunk of rows: every row through the enricher, many at once, results in
//! input order. A semaphore shared by all chunks bounds rows in flight, so the next
//! chunk can start while the last rows of this one are still waiting on the network.
//!
//! Every driver (the file engine, the job handlers, the Python binding) runs its rows
//! through [`process_chunk`]; a [`RowObserver`] lets the driver see each finished row
//! (progress by row) and stop the chunk at the next row (a cancelled job).

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::enricher::{Enricher, RowOutcome};
use crate::error::{Error, Result};
use crate::input::ProspectColumns;

/// What a driver watches while a chunk runs. Called from the chunk's tasks: keep it
/// quick (atomics, a channel send), no blocking I/O.
pub trait RowObserver: Send + Sync {
    /// Checked before each row starts; `true` stops the chunk with [`Error::Cancelled`]
    /// before that row makes any provider call.
    fn cancelled(&self) -> bool {
        false
    }
    /// A row finished (in any order: rows of a chunk run concurrently).
    fn row_done(&self, _outcome: &RowOutcome) {}
}

/// Observes nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unobserved;

impl RowObserver for Unobserved {}

/// Enrich `rows` (each a full input row) read through `columns` (email + roles).
/// Returns one outcome per row, in order. A fatal provider error (bad key, no balance)
/// cancels the rest of the chunk and is returned; so does [`Error::Cancelled`] once
/// `observer` says the run is cancelled.
pub async fn process_chunk(
    enricher: &Enricher,
    rows: &[Vec<String>],
    columns: &ProspectColumns,
    in_flight: &Arc<Semaphore>,
    observer: &dyn RowObserver,
) -> Result<Vec<RowOutcome>> {
    let tasks = rows.iter().map(|row| async move {
        let email = row.get(columns.email).map(String::as_str).unwrap_or("");
        // The do-not-contact list comes first: a listed row never reaches a provider.
        if let Some(outcome) = enricher.config().campaign.suppressed(email) {
            observer.row_done(&outcome);
            return Ok(outcome);
        }
        let _permit = in_flight.acquire().await.map_err(|_| Error::Cancelled)?;
        if observer.cancelled() {
            return Err(Error::Cancelled);
        }
        let outcome = enricher.enrich_row(row, columns).await?;
        observer.row_done(&outcome);
        Ok(outcome)
    });
    futures::future::try_join_all(tasks).await
}
