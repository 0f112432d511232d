//! A basic limit on sign-in attempts, in memory: after `max_failures` wrong passwords
//! for one key (an email, or a client address) within `window`, further attempts for
//! that key are refused until the window, counted from the first failure, has passed.
//! A successful sign-in clears its email's count. Sign-ups count against the client
//! address the same way, so one address cannot create accounts without bound.
//!
//! Checked before the password is hashed, so a flood of guesses costs no Argon2 work.
//! Per process: with several server processes each keeps its own counts, which only
//! multiplies the allowance by the number of processes. Behind a reverse proxy the
//! client address is the proxy's, so the per-email limit is the one that matters there
//! (the per-address limit is set higher for that reason).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys tracked before expired ones are swept out.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_failures: u32,
    pub window: Duration,
}

#[derive(Debug)]
pub struct LoginLimiter {
    per_email: Limits,
    per_client: Limits,
    counts: Mutex<HashMap<Key, Window>>,
}

/// What attempts are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A normalised email.
    Email(String),
    /// A client's IP address.
    Client(String),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    hits: u32,
}

impl Default for LoginLimiter {
    /// 10 failures per email and 50 per client address, per 15 minutes.
    fn default() -> Self {
        let window = Duration::from_secs(15 * 60);
        Self::new(
            Limits {
                max_failures: 10,
                window,
            },
            Limits {
                max_failures: 50,
                window,
            },
        )
    }
}

impl LoginLimiter {
    pub fn new(per_email: Limits, per_client: Limits) -> Self {
        Self {
            per_email,
            per_client,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn limits(&self, key: &Key) -> Limits {
        match key {
            Key::Email(_) => self.per_email,
            Key::Client(_) => self.per_client,
        }
    }

    /// `Err(wait)` when any of the keys is over its limit.
    pub fn check(&self, keys: &[Key]) -> Result<(), Duration> {
        let now = Instant::now();
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = None::<Duration>;
        for key in keys {
            let limits = self.limits(key);
            if let Some(w) = counts.get(key) {
                let elapsed = now.duration_since(w.started);
                if w.hits >= limits.max_failures && elapsed < limits.window {
                    let left = limits.window - elapsed;
                    wait = Some(wait.map_or(left, |w| w.max(left)));
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }

    /// Counts one attempt (a wrong password, or a sign-up) against each key.
    pub fn hit(&self, keys: &[Key]) {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= SWEEP_AT {
            let longest = self.per_email.window.max(self.per_client.window);
            counts.retain(|_, w| now.duration_since(w.started) < longest);
        }
        for key in keys {
            let window = self.limits(key).window;
            let w = counts.entry(key.clone()).or_insert(Window {
                started: now,
                hits: 0,
            });
            if now.duration_since(w.started) >= window {
                *w = Window {
                    started: now,
                    hits: 0,
                };
            }
            w.hits = w.hits.saturating_add(1);
        }
    }

    /// Forgets a key's count (an email after a successful sign-in).
    pub fn clear(&self, key: &Key) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(window: Duration) -> LoginLimiter {
        LoginLimiter::new(
            Limits {
                max_failures: 3,
                window,
            },
            Limits {
                max_failures: 5,
                window,
            },
        )
    }

    fn email(e: &str) -> Key {
        Key::Email(e.into())
    }

    fn client(c: &str) -> Key {
        Key::Client(c.into())
    }

    #[test]
    fn blocks_an_email_after_its_failures_and_clears_on_success() {
        let l = limiter(Duration::from_secs(60));
        for _ in 0..3 {
            assert!(l.check(&[email("a@x.io"), client("1.2.3.4")]).is_ok());
            l.hit(&[email("a@x.io"), client("1.2.3.4")]);
        }
        let wait = l.check(&[email("a@x.io"), client("9.9.9.9")]);
        assert!(
            matches!(wait, Err(d) if d <= Duration::from_secs(60) && d > Duration::from_secs(50)),
            "{wait:?}"
        );
        // Another email from the same client is still allowed (the client limit is 5).
        assert!(l.check(&[email("b@x.io"), client("1.2.3.4")]).is_ok());
        l.clear(&email("a@x.io"));
        assert!(l.check(&[email("a@x.io")]).is_ok());
    }

    #[test]
    fn blocks_a_client_across_emails() {
        let l = limiter(Duration::from_secs(60));
        for i in 0..5 {
            l.hit(&[email(&format!("user{i}@x.io")), client("1.2.3.4")]);
        }
        assert!(l.check(&[email("new@x.io"), client("1.2.3.4")]).is_err());
        assert!(l.check(&[email("new@x.io"), client("5.6.7.8")]).is_ok());
        assert!(l.check(&[email("new@x.io")]).is_ok());
    }

    #[test]
    fn the_window_expires() {
        let l = limiter(Duration::from_millis(30));
        for _ in 0..3 {
            l.hit(&[email("a@x.io")]);
        }
        assert!(l.check(&[email("a@x.io")]).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(l.check(&[email("a@x.io")]).is_ok());
        l.hit(&[email("a@x.io")]);
        assert!(
            l.check(&[email("a@x.io")]).is_ok(),
            "a new window starts at 1"
        );
    }
}
