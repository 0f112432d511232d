//! One pipeline, three drivers.
//!
//! Every run — a file through the engine (Python, the examples), a job's split, chunk
//! and finalize tasks (the CLI, the server, workers), rows held in memory (Python) —
//! is made of the same pieces, written once:
//!
//! - a [`Plan`]: headers, email column (sampled once, `EMAIL_SAMPLE_ROWS` rows), output
//!   layout and row count, built before any provider call;
//! - a [`ChunkSource`]: a file read on a blocking thread into a bounded channel
//!   ([`FileChunks`]), rows in memory ([`MemoryChunks`]), or a job's stored raw chunks;
//! - one chunk processor ([`crate::chunk::process_chunk`]) run by [`run_chunks`], many
//!   rows in flight, chunks kept in order;
//! - a [`ChunkSink`]: a row writer on its own thread ([`WriterSink`], which writes a
//!   partial file and renames it only when complete), a job's stored chunk output, or
//!   an in-memory [`Collector`].
//!
//! The drivers (`engine.rs`, `jobs/*`, the Python binding) only choose a source and a
//! sink.

mod plan;
mod run;
mod sink;
mod source;
mod writer;

pub use plan::{OpenedInput, Plan, PlanRequest};
pub use run::{run_chunks, Processor, Tally};
pub use sink::{ChunkSink, Collector, WriterSink};
pub use source::{ChunkSource, FileChunks, MemoryChunks};
pub use writer::WriterThread;

use crate::error::{Error, Result};
use crate::input::Cancel;

/// Run blocking file work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    join_blocking(tokio::task::spawn_blocking(f)).await
}

/// Run blocking file work that checks a [`Cancel`] flag: if the returned future is
/// dropped (a timed-out request, a closed connection, a shutdown), the flag is set and
/// the work stops at its next check instead of holding a thread to the end.
pub async fn blocking_cancellable<T: Send + 'static>(
    f: impl FnOnce(Cancel) -> Result<T> + Send + 'static,
) -> Result<T> {
    let cancel = Cancel::new();
    let _stop_when_dropped = cancel.on_drop();
    join_blocking(tokio::task::spawn_blocking(move || f(cancel))).await
}

pub(crate) async fn join_blocking<T>(handle: tokio::task::JoinHandle<Result<T>>) -> Result<T> {
    handle
        .await
        .map_err(|e| Error::Io(std::io::Error::other(format!("worker thread failed: {e}"))))?
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[tokio::test]
    async fn dropping_a_cancellable_blocking_call_stops_its_work() {
        let (tx, rx) = std::sync::mpsc::channel();
        let work = blocking_cancellable(move |cancel| {
            let started = Instant::now();
            while !cancel.is_cancelled() && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = tx.send(started.elapsed());
            cancel.check()
        });
        // A deadline drops the future, as a request timeout does.
        let timed_out = tokio::time::timeout(Duration::from_millis(50), work).await;
        assert!(timed_out.is_err());
        let ran = rx.recv_timeout(Duration::from_secs(5));
        assert!(
            matches!(ran, Ok(d) if d < Duration::from_secs(2)),
            "the blocking loop ran {ran:?}"
        );
    }
}
