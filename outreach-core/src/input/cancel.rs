//! A cancel flag for blocking reads. Readers check it in every loop (per record, per
//! cell, per inflated block), so work whose caller has gone away (a timed-out request,
//! a shutting-down server) stops within milliseconds instead of running to the end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// A shared flag; clones see the same state.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Error::Cancelled)` once cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// A guard that cancels when dropped: hold it in the future awaiting the blocking
    /// work, and dropping that future (a timeout, a closed connection) stops the work.
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// Cancels its flag when dropped (see [`Cancel::on_drop`]).
#[derive(Debug)]
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_cancels_every_clone() {
        let cancel = Cancel::new();
        let seen_by_worker = cancel.clone();
        assert!(seen_by_worker.check().is_ok());
        drop(cancel.on_drop());
        assert!(seen_by_worker.is_cancelled());
        assert!(matches!(seen_by_worker.check(), Err(Error::Cancelled)));
    }
}
