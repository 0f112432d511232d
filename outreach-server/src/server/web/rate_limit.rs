//! A basic limit on sign-in attempts, in memory: after `max_failures` wrong passwords
//! for one key (an email, or a client address) within `window`, further attempts for
//! that key are refused until the window, counted from the first failure, has passed.
//! A successful sign-in clears its email's count. Sign-ups count against the client
//! address the same way, so one address cannot create accounts without bound.
//!
//! An attempt is counted in the same step that checks the limit ([`LoginLimiter::attempt`]),
//! before the password is hashed: of 300 concurrent wrong passwords only the allowance
//! reaches Argon2 (a review once saw all 300 verified against a limit of 10, holding
//! 5.7 GB). A successful sign-in takes its email's attempt back.
//! Sign-ups are counted on their own key ([`Key::Signup`]), so creating accounts does not
//! use up an address's sign-in allowance, nor the reverse. IPv6 clients are counted per
//! /64 (one subscriber's usual allocation), not per address.
//!
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
    per_signup_client: Limits,
    counts: Mutex<HashMap<Key, Window>>,
}

/// What attempts are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A normalised email.
    Email(String),
    /// A client's IP address (IPv6: its /64), for failed sign-ins.
    Client(String),
    /// A client's IP address (IPv6: its /64), for sign-ups.
    Signup(String),
}

impl Key {
    /// The client key of `ip`: the address itself for IPv4, its /64 prefix for IPv6
    /// (a single subscriber usually holds a whole /64).
    pub fn client_of(ip: std::net::IpAddr) -> String {
        match ip {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    hits: u32,
}

impl Default for LoginLimiter {
    /// 10 failures per email and 50 per client address, per 15 minutes; 10 sign-ups
    /// per client address per hour.
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
        .with_signups(Limits {
            max_failures: 10,
            window: Duration::from_secs(3600),
        })
    }
}

impl LoginLimiter {
    /// Sign-ups per client share `per_client` until [`LoginLimiter::with_signups`].
    pub fn new(per_email: Limits, per_client: Limits) -> Self {
        Self {
            per_email,
            per_client,
            per_signup_client: per_client,
            counts: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_signups(mut self, per_signup_client: Limits) -> Self {
        self.per_signup_client = per_signup_client;
        self
    }

    fn limits(&self, key: &Key) -> Limits {
        match key {
            Key::Email(_) => self.per_email,
            Key::Client(_) => self.per_client,
            Key::Signup(_) => self.per_signup_client,
        }
    }

    /// Checks every key and, when none is over its limit, counts one attempt against
    /// each, under one lock: concurrent attempts can never all pass the check before
    /// any of them is counted. `Err(wait)` (nothing counted) when a key is over.
    pub fn attempt(&self, keys: &[Key]) -> Result<(), Duration> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        Self::over(&counts, keys, |k| self.limits(k))?;
        self.count(&mut counts, keys);
        Ok(())
    }

    fn over(
        counts: &HashMap<Key, Window>,
        keys: &[Key],
        limits: impl Fn(&Key) -> Limits,
    ) -> Result<(), Duration> {
        let now = Instant::now();
        let mut wait = None::<Duration>;
        for key in keys {
            let limits = limits(key);
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

    /// `Err(wait)` when any of the keys is over its limit (counts nothing).
    pub fn check(&self, keys: &[Key]) -> Result<(), Duration> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        Self::over(&counts, keys, |k| self.limits(k))
    }

    /// Counts one attempt against each key without checking.
    pub fn hit(&self, keys: &[Key]) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        self.count(&mut counts, keys);
    }

    fn count(&self, counts: &mut HashMap<Key, Window>, keys: &[Key]) {
        let now = Instant::now();
        if counts.len() >= SWEEP_AT {
            let longest = self
                .per_email
                .window
                .max(self.per_client.window)
                .max(self.per_signup_client.window);
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

    /// Takes one counted attempt back from each key (a sign-in that succeeded).
    pub fn forgive(&self, keys: &[Key]) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            if let Some(w) = counts.get_mut(key) {
                w.hits = w.hits.saturating_sub(1);
            }
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
    fn concurrent_attempts_never_exceed_the_allowance() {
        let l = std::sync::Arc::new(limiter(Duration::from_secs(60)));
        let passed = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..32 {
                s.spawn(|| {
                    if l.attempt(&[email("a@x.io")]).is_ok() {
                        passed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(passed.into_inner(), 3, "exactly the allowance of 3 passes");
    }

    #[test]
    fn signups_and_sign_ins_are_counted_apart() {
        let l = limiter(Duration::from_secs(60));
        for _ in 0..5 {
            assert!(l.attempt(&[Key::Signup("1.2.3.4".into())]).is_ok());
        }
        assert!(l.attempt(&[Key::Signup("1.2.3.4".into())]).is_err());
        assert!(
            l.attempt(&[client("1.2.3.4")]).is_ok(),
            "sign-ins unaffected"
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Key::client_of(a), Key::client_of(b));
        assert_ne!(Key::client_of(a), Key::client_of(c));
        let mapped: std::net::IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(Key::client_of(mapped), "10.0.0.1");
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
