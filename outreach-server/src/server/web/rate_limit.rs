//! Limits on sign-in attempts, sign-ups and account mail, in memory.
//!
//! **Failed sign-ins slow down; they never lock.** Each key has a [`Backoff`]: its
//! first `free` failures wait for nothing, then each further one must wait twice as
//! long as the one before (`first_delay`, ×2 each time, at most `max_delay`). An
//! attempt whose turn comes within `max_wait` is held until then and goes through; one
//! further out is refused with `429` and `Retry-After`. A key is forgotten after
//! `forget_after` without attempts past its turn.
//!
//! A sign-in counts against three keys ([`Key::sign_in`]): the email as tried from
//! this client address (10 free), the client address across emails (20 free), and the
//! email from all addresses together (100 free). So a guesser's rate halves with every
//! failure, while the owner signing in from elsewhere is not slowed at all by someone
//! else's failures, however many, unless the guessing is spread over so many addresses
//! that the email's total brake engages (then the owner waits like everyone else).
//!
//! An attempt is counted in the same step that checks it ([`LoginLimiter::sign_in`]),
//! under one lock, before the password is hashed: of 300 concurrent wrong passwords
//! only those whose turn falls within `max_wait` reach Argon2 (a review once saw all 300
//! verified against a limit of 10, holding 5.7 GB). A successful sign-in forgets its
//! email's failures and takes its attempt back from the address.
//!
//! **Sign-ups and account mail have fixed windows** ([`Limits`]): at most
//! `max_failures` per `window` per key, counted apart from failed sign-ins
//! ([`Key::Signup`], [`Key::Mail`]), so making accounts does not use up an address's
//! sign-in allowance, nor the reverse. IPv6 clients are counted per /64 (one
//! subscriber's usual allocation), not per address; behind a reverse proxy the client
//! address comes from `X-Forwarded-For` when the proxy is trusted
//! ([`super::client_addr`]).
//!
//! Per process: with several server processes each keeps its own counts, which only
//! multiplies the allowance by the number of processes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One email's failures from all addresses: 100 free (ten addresses' worth), then 1 s,
/// 2 s… up to 5 minutes.
const DEFAULT_EMAIL_TOTAL: Backoff = Backoff {
    free: 100,
    first_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(5 * 60),
    forget_after: Duration::from_secs(15 * 60),
};

/// Keys tracked before expired ones are swept out.
const SWEEP_AT: usize = 10_000;

/// A fixed window: at most `max_failures` counted attempts per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_failures: u32,
    pub window: Duration,
}

/// Growing delays between failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures that wait for nothing.
    pub free: u32,
    /// The wait after the first failure beyond `free`; doubles with each further one.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Quiet time past the key's turn after which its failures are forgotten.
    pub forget_after: Duration,
}

impl Backoff {
    /// `free` failures, then always `delay` (a fixed pause; tests and strict setups).
    pub fn after(free: u32, delay: Duration) -> Self {
        Self {
            free,
            first_delay: delay,
            max_delay: delay,
            forget_after: delay,
        }
    }

    /// The wait after the `failures`-th failure.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free).min(32);
        self.first_delay
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.max_delay)
    }
}

/// What attempts are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A normalised email, for failed sign-ins whose client address is unknown.
    Email(String),
    /// A normalised email as tried from one client address (IPv6: its /64), for failed
    /// sign-ins: an attacker's failures slow the attacker, not the owner signing in
    /// from elsewhere.
    EmailFrom { email: String, client: String },
    /// A normalised email's failures from every address together: the brake on
    /// guessing spread over many addresses, with a much larger free allowance.
    EmailTotal(String),
    /// A client's IP address (IPv6: its /64), for failed sign-ins.
    Client(String),
    /// A client's IP address (IPv6: its /64), for sign-ups.
    Signup(String),
    /// Account mail asked for (verification resends, password resets), per recipient
    /// email or per client address (`"to:<email>"`, `"from:<client>"`).
    Mail(String),
}

impl Key {
    /// The keys a sign-in attempt for `email` from `client` counts against.
    pub fn sign_in(email: &str, client: Option<std::net::IpAddr>) -> Vec<Key> {
        let mut keys = vec![Key::EmailTotal(email.to_string())];
        match client {
            Some(ip) => {
                let client = Key::client_of(ip);
                keys.push(Key::EmailFrom {
                    email: email.to_string(),
                    client: client.clone(),
                });
                keys.push(Key::Client(client));
            }
            None => keys.push(Key::Email(email.to_string())),
        }
        keys
    }

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
struct Entry {
    /// Fixed windows: when this window started. Backoff: the last attempt.
    started: Instant,
    hits: u32,
    /// Backoff: the earliest time the next attempt may be checked.
    next_at: Instant,
}

#[derive(Debug)]
pub struct LoginLimiter {
    per_email: Backoff,
    per_email_total: Backoff,
    per_client: Backoff,
    signups: Limits,
    mail: Limits,
    /// The longest an attempt is held for its turn before it is refused instead.
    max_wait: Duration,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Default for LoginLimiter {
    /// Per email and client: 10 free failures, then 1 s, 2 s, 4 s… up to 5 minutes.
    /// Per client address: 20 free, then 1 s… up to 15 minutes. Per email from all
    /// addresses: 100 free, then 1 s… up to 5 minutes. Attempts are held up to 3 s.
    /// 10 sign-ups per address per hour; 5 account mails per email or address per hour.
    fn default() -> Self {
        Self::new(
            Backoff {
                free: 10,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(5 * 60),
                forget_after: Duration::from_secs(15 * 60),
            },
            Backoff {
                free: 20,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(15 * 60),
                forget_after: Duration::from_secs(15 * 60),
            },
        )
        .with_signups(Limits {
            max_failures: 10,
            window: Duration::from_secs(3600),
        })
    }
}

impl LoginLimiter {
    /// Sign-ups per client get `per_client.free` per `per_client.max_delay` until
    /// [`LoginLimiter::with_signups`].
    pub fn new(per_email: Backoff, per_client: Backoff) -> Self {
        Self {
            per_email,
            per_email_total: DEFAULT_EMAIL_TOTAL,
            per_client,
            signups: Limits {
                max_failures: per_client.free,
                window: per_client.max_delay,
            },
            mail: Limits {
                max_failures: 5,
                window: Duration::from_secs(3600),
            },
            max_wait: Duration::from_secs(3),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The brake on one email's failures from all addresses together.
    pub fn with_email_total(mut self, total: Backoff) -> Self {
        self.per_email_total = total;
        self
    }

    pub fn with_signups(mut self, signups: Limits) -> Self {
        self.signups = signups;
        self
    }

    pub fn with_mail(mut self, mail: Limits) -> Self {
        self.mail = mail;
        self
    }

    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The longest an attempt is held.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    fn backoff(&self, key: &Key) -> Option<Backoff> {
        match key {
            Key::Email(_) | Key::EmailFrom { .. } => Some(self.per_email),
            Key::EmailTotal(_) => Some(self.per_email_total),
            Key::Client(_) => Some(self.per_client),
            Key::Signup(_) | Key::Mail(_) => None,
        }
    }

    fn window(&self, key: &Key) -> Limits {
        match key {
            Key::Mail(_) => self.mail,
            _ => self.signups,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sweep(&self, entries: &mut HashMap<Key, Entry>, now: Instant) {
        if entries.len() < SWEEP_AT {
            return;
        }
        let keep = self
            .per_email
            .forget_after
            .max(self.per_email_total.forget_after)
            .max(self.per_client.forget_after)
            .max(self.signups.window)
            .max(self.mail.window);
        entries.retain(|_, e| now.saturating_duration_since(e.next_at.max(e.started)) < keep);
    }

    /// A sign-in attempt against `keys` (an email and the client's address): `Ok(wait)`
    /// when it may go ahead once `wait` has passed (it is counted now), `Err(retry)`
    /// when its turn is further out than the longest hold (nothing counted).
    pub fn sign_in(&self, keys: &[Key]) -> Result<Duration, Duration> {
        let now = Instant::now();
        let mut entries = self.lock();
        self.sweep(&mut entries, now);
        let mut start = now;
        for key in keys {
            let Some(backoff) = self.backoff(key) else {
                continue;
            };
            if let Some(e) = entries.get(key) {
                if now.saturating_duration_since(e.next_at) >= backoff.forget_after {
                    entries.remove(key);
                } else {
                    start = start.max(e.next_at);
                }
            }
        }
        let wait = start - now;
        if wait > self.max_wait {
            return Err(wait);
        }
        for key in keys {
            let Some(backoff) = self.backoff(key) else {
                continue;
            };
            let e = entries.entry(key.clone()).or_insert(Entry {
                started: now,
                hits: 0,
                next_at: now,
            });
            // Each key keeps its own schedule: an attempt held for another key's turn
            // does not push this key's.
            e.hits = e.hits.saturating_add(1);
            e.started = now;
            e.next_at = e.next_at.max(now) + backoff.delay_after(e.hits);
        }
        Ok(wait)
    }

    /// A sign-in that succeeded: its email's failures from this client are forgotten,
    /// and its attempt is taken back from the other keys (the client address, the
    /// email's total). The total is not forgotten: an owner signing in must not hand a
    /// distributed guesser a fresh allowance.
    pub fn succeeded(&self, keys: &[Key]) {
        let now = Instant::now();
        let mut entries = self.lock();
        for key in keys {
            match key {
                Key::Email(_) | Key::EmailFrom { .. } => {
                    entries.remove(key);
                }
                other => {
                    let Some(backoff) = self.backoff(other) else {
                        continue;
                    };
                    if let Some(e) = entries.get_mut(other) {
                        e.hits = e.hits.saturating_sub(1);
                        if backoff.delay_after(e.hits).is_zero() {
                            e.next_at = e.next_at.min(now);
                        }
                    }
                }
            }
        }
    }

    /// A sign-up or a mail request against fixed windows: `Ok` and counted, or
    /// `Err(retry)` (nothing counted) when a key is at its limit.
    pub fn attempt(&self, keys: &[Key]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut entries = self.lock();
        self.sweep(&mut entries, now);
        let mut wait = None::<Duration>;
        for key in keys {
            let limits = self.window(key);
            if let Some(e) = entries.get(key) {
                let elapsed = now.saturating_duration_since(e.started);
                if e.hits >= limits.max_failures && elapsed < limits.window {
                    let left = limits.window - elapsed;
                    wait = Some(wait.map_or(left, |w| w.max(left)));
                }
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        for key in keys {
            let window = self.window(key).window;
            let e = entries.entry(key.clone()).or_insert(Entry {
                started: now,
                hits: 0,
                next_at: now,
            });
            if now.saturating_duration_since(e.started) >= window {
                *e = Entry {
                    started: now,
                    hits: 0,
                    next_at: now,
                };
            }
            e.hits = e.hits.saturating_add(1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(
            Backoff {
                free: 3,
                first_delay: Duration::from_secs(10),
                max_delay: Duration::from_secs(60),
                forget_after: Duration::from_secs(600),
            },
            Backoff::after(5, Duration::from_secs(600)),
        )
        .with_max_wait(Duration::from_secs(20))
    }

    fn email(e: &str) -> Key {
        Key::Email(e.into())
    }

    fn client(c: &str) -> Key {
        Key::Client(c.into())
    }

    #[test]
    fn delays_double_after_the_free_failures_up_to_the_cap() {
        let b = Backoff {
            free: 10,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            forget_after: Duration::from_secs(900),
        };
        let delays: Vec<u64> = (0..22).map(|n| b.delay_after(n).as_secs()).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
        );
        assert_eq!(b.delay_after(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn attempts_wait_their_turn_and_are_refused_beyond_the_longest_hold() {
        let l = limiter();
        let keys = [email("a@x.io"), client("1.2.3.4")];
        for _ in 0..3 {
            assert_eq!(l.sign_in(&keys), Ok(Duration::ZERO));
        }
        // The 4th waits 10 s (held: within 20 s); the 5th would wait 10 + 20 s: refused.
        let fourth = l.sign_in(&keys).unwrap();
        assert!(fourth > Duration::from_secs(9) && fourth <= Duration::from_secs(10));
        let fifth = l.sign_in(&keys);
        assert!(
            matches!(fifth, Err(w) if w > Duration::from_secs(29)),
            "{fifth:?}"
        );
        // Another email from the same client is not slowed (the client has 5 free).
        assert_eq!(
            l.sign_in(&[email("b@x.io"), client("1.2.3.4")]),
            Ok(Duration::ZERO)
        );
        // A success forgets the email's failures.
        l.succeeded(&keys);
        assert_eq!(l.sign_in(&[email("a@x.io")]), Ok(Duration::ZERO));
    }

    #[test]
    fn a_guesser_is_slowed_and_the_owner_elsewhere_is_not() {
        let l = limiter().with_email_total(Backoff::after(12, Duration::from_secs(600)));
        let attacker: std::net::IpAddr = "203.0.113.66".parse().unwrap();
        let owner: std::net::IpAddr = "198.51.100.7".parse().unwrap();
        let guess = Key::sign_in("a@x.io", Some(attacker));
        for _ in 0..3 {
            assert_eq!(l.sign_in(&guess), Ok(Duration::ZERO));
        }
        assert!(l.sign_in(&guess).is_ok(), "the 4th is held 10 s");
        assert!(l.sign_in(&guess).is_err(), "the guesser is refused");
        // The owner, from home, is not slowed by the guesser's failures.
        let home = Key::sign_in("a@x.io", Some(owner));
        assert_eq!(l.sign_in(&home), Ok(Duration::ZERO));
        l.succeeded(&home);
        // A success does not hand the guesser a fresh allowance.
        assert!(l.sign_in(&guess).is_err(), "still refused");
    }

    #[test]
    fn guessing_spread_over_many_addresses_meets_the_email_total() {
        let l = limiter().with_email_total(Backoff::after(12, Duration::from_secs(600)));
        // Three failures each from four addresses: none slowed (3 free per address).
        for i in 0..4 {
            let ip: std::net::IpAddr = format!("203.0.113.{i}").parse().unwrap();
            for _ in 0..3 {
                assert_eq!(
                    l.sign_in(&Key::sign_in("a@x.io", Some(ip))),
                    Ok(Duration::ZERO)
                );
            }
        }
        // The email's 13th failure from a fifth address waits the total's 600 s.
        let fresh: std::net::IpAddr = "203.0.113.99".parse().unwrap();
        let r = l.sign_in(&Key::sign_in("a@x.io", Some(fresh)));
        assert!(matches!(r, Err(w) if w > Duration::from_secs(500)), "{r:?}");
        // Another email from that address is not affected.
        assert_eq!(
            l.sign_in(&Key::sign_in("b@x.io", Some(fresh))),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn a_client_is_slowed_across_emails() {
        let l = limiter();
        for i in 0..5 {
            assert!(l
                .sign_in(&[email(&format!("u{i}@x.io")), client("1.2.3.4")])
                .is_ok());
        }
        assert!(l.sign_in(&[email("new@x.io"), client("1.2.3.4")]).is_err());
        assert!(l.sign_in(&[email("new@x.io"), client("5.6.7.8")]).is_ok());
    }

    #[test]
    fn concurrent_attempts_never_exceed_the_allowance() {
        let l = std::sync::Arc::new(limiter());
        let passed = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..32 {
                s.spawn(|| {
                    if l.sign_in(&[email("a@x.io")]).is_ok() {
                        passed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        // 3 free, then one held for 10 s; the next would wait 30 s > 20 s.
        assert_eq!(passed.into_inner(), 4);
    }

    #[test]
    fn signups_and_sign_ins_are_counted_apart() {
        let l = limiter();
        for _ in 0..5 {
            assert!(l.attempt(&[Key::Signup("1.2.3.4".into())]).is_ok());
        }
        assert!(l.attempt(&[Key::Signup("1.2.3.4".into())]).is_err());
        assert_eq!(
            l.sign_in(&[client("1.2.3.4")]),
            Ok(Duration::ZERO),
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
    fn the_fixed_window_expires() {
        let l = LoginLimiter::default().with_mail(Limits {
            max_failures: 2,
            window: Duration::from_millis(30),
        });
        let key = [Key::Mail("to:a@x.io".into())];
        assert!(l.attempt(&key).is_ok());
        assert!(l.attempt(&key).is_ok());
        assert!(l.attempt(&key).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(l.attempt(&key).is_ok(), "a new window starts");
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_time() {
        let l = LoginLimiter::new(
            Backoff {
                free: 1,
                first_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(5),
                forget_after: Duration::from_millis(20),
            },
            Backoff::after(100, Duration::from_secs(1)),
        );
        let key = [email("a@x.io")];
        assert_eq!(l.sign_in(&key), Ok(Duration::ZERO));
        assert!(
            l.sign_in(&key).unwrap() > Duration::ZERO,
            "the second waits"
        );
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(l.sign_in(&key), Ok(Duration::ZERO), "forgotten");
    }
}
