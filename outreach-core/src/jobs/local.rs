//! A job run in this process until it ends: what `outreach enrich` does with its local
//! job, and what the pipeline benchmark measures.

use std::time::Duration;

use super::{JobSystem, WorkerHandle};
use crate::error::Result;
use crate::ports::Job;

/// A worker of this process serving the system's queue while one job runs.
#[derive(Debug)]
pub struct LocalRun {
    system: JobSystem,
    job_id: String,
    worker: WorkerHandle,
}

impl JobSystem {
    /// Starts a worker (default parallelism) for `job_id`'s tasks.
    pub fn run_locally(&self, job_id: &str) -> LocalRun {
        LocalRun {
            system: self.clone(),
            job_id: job_id.to_string(),
            worker: self.spawn_worker(self.default_parallelism()),
        }
    }
}

impl LocalRun {
    /// Waits until the job ends, calling `on_update` whenever its progress changes
    /// (polled every `poll`).
    pub async fn wait(&self, poll: Duration, on_update: impl FnMut(&Job)) -> Result<Job> {
        self.system.wait_for(&self.job_id, poll, on_update).await
    }

    /// Stops the worker once its running tasks are done.
    pub async fn finish(self) {
        self.worker.shutdown().await;
    }

    /// Stops the worker now (Ctrl-C); finished chunks stay for the next run.
    pub fn abort(self) {
        self.worker.abort();
    }
}
