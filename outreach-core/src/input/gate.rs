//! How many input files are read at once: a few per user and a bounded number
//! overall, so reading (blocking threads, inflated XLSX tables) cannot be multiplied by
//! sending many requests. Three concurrent bomb uploads once took a server to 8.6 GB.
//!
//! A read waits for a slot of its user (two by default) and then for one of the
//! process (one per CPU by default), so one account never holds more than its share
//! and others keep being served. Waiting costs no thread; the caller's own deadline
//! (the request timeout) bounds it. A user with too many reads already waiting is
//! refused at once ([`Error::Busy`], a 429 on the API).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// Reads of one user beyond their running slots that may wait before more are refused.
pub const MAX_WAITING_PER_USER: usize = 256;

/// Counts concurrent reads per user and overall. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct ParseGate {
    overall: Arc<Semaphore>,
    per_user: usize,
    max_waiting: usize,
    users: Arc<Mutex<HashMap<String, UserEntry>>>,
}

#[derive(Debug)]
struct UserEntry {
    running: Arc<Semaphore>,
    /// Reads of this user running or waiting.
    holders: usize,
}

impl Default for ParseGate {
    /// As many reads at once as the machine has CPUs, two per user.
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cpus, 2)
    }
}

impl ParseGate {
    pub fn new(overall: usize, per_user: usize) -> Self {
        Self::with_waiting(overall, per_user, MAX_WAITING_PER_USER)
    }

    /// [`ParseGate::new`] with a chosen bound on reads waiting per user.
    pub fn with_waiting(overall: usize, per_user: usize, max_waiting: usize) -> Self {
        Self {
            overall: Arc::new(Semaphore::new(overall.max(1))),
            per_user: per_user.max(1),
            max_waiting,
            users: Arc::default(),
        }
    }

    /// A slot for one read by `user`, released when the permit (or this future, while
    /// it waits) is dropped.
    pub async fn enter(&self, user: &str) -> Result<ParsePermit> {
        let running = {
            let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            let entry = users.entry(user.to_string()).or_insert_with(|| UserEntry {
                running: Arc::new(Semaphore::new(self.per_user)),
                holders: 0,
            });
            if entry.holders >= self.per_user + self.max_waiting {
                return Err(Error::Busy(format!(
                    "{} files are already being read for this account; try again when they finish",
                    entry.holders
                )));
            }
            entry.holders += 1;
            entry.running.clone()
        };
        let slot = UserSlot {
            user: user.to_string(),
            users: self.users.clone(),
        };
        let user_permit = running
            .acquire_owned()
            .await
            .map_err(|_| Error::Cancelled)?;
        let permit = self
            .overall
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Cancelled)?;
        Ok(ParsePermit {
            _permit: permit,
            _user_permit: user_permit,
            _slot: slot,
        })
    }

    /// Reads of `user` running or waiting (for tests and metrics).
    pub fn active_for(&self, user: &str) -> usize {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.get(user).map_or(0, |e| e.holders)
    }
}

/// One read's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct ParsePermit {
    _permit: OwnedSemaphorePermit,
    _user_permit: OwnedSemaphorePermit,
    _slot: UserSlot,
}

#[derive(Debug)]
struct UserSlot {
    user: String,
    users: Arc<Mutex<HashMap<String, UserEntry>>>,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = users.get_mut(&self.user) {
            entry.holders = entry.holders.saturating_sub(1);
            if entry.holders == 0 {
                users.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn times_out(gate: &ParseGate, user: &str) -> bool {
        tokio::time::timeout(Duration::from_millis(50), gate.enter(user))
            .await
            .is_err()
    }

    #[tokio::test]
    async fn a_user_waits_for_their_share_and_others_are_served() {
        let gate = ParseGate::with_waiting(3, 1, 1);
        let a = gate.enter("a").await.unwrap();
        assert!(times_out(&gate, "a").await, "a's second read waits");
        assert_eq!(
            gate.active_for("a"),
            1,
            "a dropped wait gives its place back"
        );
        let b = gate.enter("b").await;
        assert!(b.is_ok(), "b is not held up by a");
        drop(a);
        assert_eq!(gate.active_for("a"), 0);
        assert!(gate.enter("a").await.is_ok());
    }

    #[tokio::test]
    async fn too_many_waiting_reads_of_one_user_are_refused() {
        let gate = ParseGate::with_waiting(4, 1, 2);
        let _running = gate.enter("a").await.unwrap();
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.enter("a").await.map(|_| ()) })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(gate.active_for("a"), 3);
        assert!(matches!(gate.enter("a").await, Err(Error::Busy(_))));
        for w in waiting {
            w.abort();
        }
    }

    #[tokio::test]
    async fn the_overall_bound_holds_across_users() {
        let gate = ParseGate::new(2, 2);
        let _a = gate.enter("a").await.unwrap();
        let _b = gate.enter("b").await.unwrap();
        assert!(times_out(&gate, "c").await, "two slots, both taken");
    }
}
