//! The `JobQueue` port: pending work, delivered at least once.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A unit of work. Every handler is idempotent, so a redelivery is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Task {
    /// Claim a queued job, split its input into chunks, enqueue the chunk tasks.
    Start { job_id: String },
    /// Enrich one chunk of a job.
    Chunk { job_id: String, chunk: u32 },
    /// Merge a finished job's chunks into the result file.
    Finalize { job_id: String },
    /// Push a finished job's result to a destination (`jobs::push`); a redelivery
    /// resumes after the last row the push recorded.
    Push {
        user_id: String,
        job_id: String,
        push_id: String,
    },
    /// Deliver a stored outgoing event (`jobs::events`) to the account's webhook.
    Deliver { user_id: String, event_id: String },
}

impl Task {
    /// The job this task works on (`None` for an event delivery).
    pub fn job_id(&self) -> Option<&str> {
        match self {
            Task::Start { job_id }
            | Task::Chunk { job_id, .. }
            | Task::Finalize { job_id }
            | Task::Push { job_id, .. } => Some(job_id),
            Task::Deliver { .. } => None,
        }
    }

    /// A short name for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Start { .. } => "start",
            Task::Chunk { .. } => "chunk",
            Task::Finalize { .. } => "finalize",
            Task::Push { .. } => "push",
            Task::Deliver { .. } => "deliver",
        }
    }
}

/// A received task, leased to its receiver. Until acked (or released) it is invisible
/// to others; a lease not renewed lapses and the task is delivered again (the worker is
/// presumed dead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Opaque handle for `ack`/`retry`.
    pub id: String,
    pub task: Task,
    /// 1 on the first delivery, 2 on the next, …
    pub attempt: u32,
}

/// Work distribution.
///
/// # Contract
/// - At-least-once: a task enqueued is delivered until acked. A delivery is leased for
///   [`JobQueue::lease`]; `renew` extends the lease by that much again (a heartbeat,
///   sent by the worker every lease/3 while the task runs), so a long task on a live
///   worker is never handed out twice. A delivery whose lease lapses is delivered again
///   (to any receiver).
/// - `receive` waits up to `wait` for a task and returns `None` when there is none.
/// - `retry` hands a task back to run again after `delay` (backoff), counting an
///   attempt; `ack` removes it for good. Both are harmless on an unknown/expired id.
/// - `attempt` counts deliveries of the same enqueued task (redeliveries and retries),
///   so a worker can dead-letter a task that keeps failing.
/// - `renew` returns `false` when the delivery is no longer this receiver's (its lease
///   lapsed, it was acked or retried, or the id is unknown); it never revives a delivery.
/// - `release` hands a task back at once (a worker shutting down), ready for the next
///   receiver without waiting for the lease to lapse.
#[async_trait]
pub trait JobQueue: Send + Sync + Debug + 'static {
    async fn enqueue(&self, task: Task) -> Result<()>;
    async fn receive(&self, wait: Duration) -> Result<Option<Delivery>>;
    async fn ack(&self, delivery: &Delivery) -> Result<()>;
    async fn retry(&self, delivery: &Delivery, delay: Duration) -> Result<()>;
    /// How long a delivery is held without a renewal.
    fn lease(&self) -> Duration;
    /// Extends the delivery's lease to a full [`JobQueue::lease`] from now.
    async fn renew(&self, delivery: &Delivery) -> Result<bool>;
    /// Tasks not yet acked (waiting, delayed or leased), for the queue-depth gauge;
    /// `None` when the backend cannot tell cheaply.
    async fn depth(&self) -> Result<Option<u64>> {
        Ok(None)
    }
    /// Hands the task back for immediate redelivery (counts as an attempt, like a retry).
    async fn release(&self, delivery: &Delivery) -> Result<()> {
        self.retry(delivery, Duration::ZERO).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every variant survives the JSON the Redis queue stores (the shared suite sends
    /// the ones with a job through each backend).
    #[test]
    fn tasks_roundtrip_as_json() {
        let tasks = [
            Task::Push {
                user_id: "u".into(),
                job_id: "j".into(),
                push_id: "push_1".into(),
            },
            Task::Deliver {
                user_id: "u".into(),
                event_id: "evt_1".into(),
            },
        ];
        for task in tasks {
            let json = serde_json::to_string(&task).unwrap();
            assert!(
                json.contains(&format!("\"type\":\"{}\"", task.kind())),
                "{json}"
            );
            assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), task);
        }
        assert_eq!(
            Task::Deliver {
                user_id: "u".into(),
                event_id: "e".into()
            }
            .job_id(),
            None
        );
    }
}
