//! One store poller per job, shared by every event stream of that job.
//!
//! A stream subscribes to the job's [`watch`] channel; the first subscriber starts a
//! task that reads the job every `events_poll` and publishes it. The task ends when the
//! job reaches a terminal status or when its last subscriber leaves, so the number of
//! store reads depends on the jobs being watched, never on how many streams watch them
//! (issue 12, item 8). Subscribing and the task's decision to stop both happen under
//! the registry's lock: a subscriber never joins a poller that is about to stop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use outreach_core::ports::{Job, JobStore};
use tokio::sync::watch;

/// What a poller publishes: nothing yet, the job as last read, or why it stopped.
pub type Snapshot = Option<Result<Job, String>>;

#[derive(Debug)]
struct Entry {
    generation: u64,
    sender: Arc<watch::Sender<Snapshot>>,
}

#[derive(Debug, Default)]
struct Inner {
    pollers: Mutex<HashMap<String, Entry>>,
    generations: AtomicU64,
    reads: AtomicU64,
}

/// The registry of running pollers; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct JobWatch {
    inner: Arc<Inner>,
}

impl JobWatch {
    /// A receiver of `job_id`'s snapshots, starting its poller if none runs. The caller
    /// must already have checked that `user_id` owns the job.
    pub fn subscribe(
        &self,
        store: Arc<dyn JobStore>,
        user_id: &str,
        job_id: &str,
        every: Duration,
    ) -> watch::Receiver<Snapshot> {
        let mut pollers = self.lock();
        if let Some(entry) = pollers.get(job_id) {
            return entry.sender.subscribe();
        }
        let (sender, receiver) = watch::channel(None);
        let sender = Arc::new(sender);
        let generation = self.inner.generations.fetch_add(1, Ordering::Relaxed);
        pollers.insert(
            job_id.to_string(),
            Entry {
                generation,
                sender: sender.clone(),
            },
        );
        drop(pollers);
        tokio::spawn(self.clone().poll(
            store,
            user_id.to_string(),
            job_id.to_string(),
            every,
            generation,
            sender,
        ));
        receiver
    }

    /// Store reads made by all pollers so far (tests and logs).
    pub fn reads(&self) -> u64 {
        self.inner.reads.load(Ordering::Relaxed)
    }

    /// Pollers running now.
    pub fn pollers(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.pollers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes this poller's entry when nobody listens (or `always`): `true` if it did.
    fn retire(&self, job_id: &str, generation: u64, always: bool) -> bool {
        let mut pollers = self.lock();
        let Some(entry) = pollers.get(job_id) else {
            return true;
        };
        if entry.generation != generation {
            return true;
        }
        if always || entry.sender.receiver_count() == 0 {
            pollers.remove(job_id);
            return true;
        }
        false
    }

    async fn poll(
        self,
        store: Arc<dyn JobStore>,
        user_id: String,
        job_id: String,
        every: Duration,
        generation: u64,
        sender: Arc<watch::Sender<Snapshot>>,
    ) {
        loop {
            tokio::select! {
                _ = sender.closed() => {
                    if self.retire(&job_id, generation, false) {
                        return;
                    }
                    // Someone subscribed as the last one left: keep going.
                    tokio::time::sleep(every).await;
                    continue;
                }
                _ = tokio::time::sleep(every) => {}
            }
            self.inner.reads.fetch_add(1, Ordering::Relaxed);
            let read = store.get_job(Some(&user_id), &job_id).await;
            let last = match &read {
                Ok(job) => job.status.is_terminal(),
                Err(e) => {
                    tracing::warn!(job = %job_id, error = %e, "events: could not read the job");
                    true
                }
            };
            sender.send_replace(Some(read.map_err(|e| e.to_string())));
            if last {
                // Subscribers keep the final snapshot; a later one starts afresh.
                self.retire(&job_id, generation, true);
                return;
            }
        }
    }
}
