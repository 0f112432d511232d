//! A cap on open event streams per user. One user once opened 10,000 SSE streams, each
//! polling the database every 500 ms; now the sixth concurrent stream of one user is
//! refused with `429` (a browser tab needs one per job it shows).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open streams per user; cheap to clone.
#[derive(Debug, Clone)]
pub struct StreamCap {
    per_user: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl Default for StreamCap {
    /// Five streams per user.
    fn default() -> Self {
        Self::new(5)
    }
}

impl StreamCap {
    pub fn new(per_user: usize) -> Self {
        Self {
            per_user: per_user.max(1),
            open: Arc::default(),
        }
    }

    /// A slot for one stream of `user` (released when dropped), or `None` at the cap.
    pub fn open(&self, user: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(user.to_string()).or_insert(0);
        if *n >= self.per_user {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            user: user.to_string(),
            open: self.open.clone(),
        })
    }

    /// Streams of `user` open now.
    pub fn open_for(&self, user: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(user).copied().unwrap_or(0)
    }

    pub fn per_user(&self) -> usize {
        self.per_user
    }
}

/// One open stream; dropping it (the stream ended or the client left) frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    user: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}
