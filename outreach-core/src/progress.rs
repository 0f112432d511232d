//! Progress reporting through a sink the front end supplies (a terminal bar, a Python
//! callback, a job row). The engine never knows which.

use serde::{Deserialize, Serialize};

use crate::metrics::MetricsSnapshot;

/// Where a run stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub rows_done: u64,
    /// Known after the first pass over the file; `None` while counting.
    pub rows_total: Option<u64>,
    pub fallbacks: u64,
    pub metrics: MetricsSnapshot,
}

/// Receives progress. Called from the engine's task: keep it quick (no blocking I/O).
pub trait ProgressSink: Send + Sync {
    fn on_start(&self, _rows_total: Option<u64>) {}
    fn on_progress(&self, _progress: &Progress) {}
    fn on_finish(&self, _progress: &Progress) {}
}

/// The default: reports nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ProgressSink for NoProgress {}
