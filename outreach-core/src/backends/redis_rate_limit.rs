//! A request rate shared by every worker process (cargo feature `redis`).
//!
//! Each process's [`LocalRateLimiter`] holds R requests per second; ten workers would
//! send 10·R to the provider. [`RedisRateLimiter`] keeps one GCRA state per provider in
//! Redis instead, so R holds across all of them.
//!
//! GCRA with burst 1, as a reservation: the key holds the theoretical arrival time
//! (TAT) of the next request, in microseconds on the Redis server's clock. A Lua script
//! (atomic) reads it, books the next slot (`TAT = max(TAT, now) + 1/R`) and returns how
//! long the caller must wait for the slot it got. One round trip per request, no retry
//! loops, and callers are served in the order they asked. A caller that gives up while
//! waiting wastes its slot, which can only lower the rate, never raise it. The key
//! expires shortly after its TAT, so idle providers leave nothing behind.
//!
//! When Redis cannot answer within [`REDIS_DEADLINE`], the limiter falls back to a
//! [`LocalRateLimiter`] of the same rate (logging a warning) for [`DEGRADED_FOR`], then
//! tries Redis again. Meanwhile each process holds R on its own, so the provider may
//! see up to (workers · R): more than configured, but the run goes on, and the
//! providers' own 429s are still retried by the `Retry` policy.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use tokio::time::Instant;

use super::redis_queue::redis_error;
use crate::error::{Error, Result};
use crate::providers::policy::{LocalRateLimiter, RateLimiter};

/// How long a request waits for Redis's answer before the local limiter decides.
pub const REDIS_DEADLINE: Duration = Duration::from_millis(500);
/// How long the limiter stays local after Redis failed, before asking Redis again.
pub const DEGRADED_FOR: Duration = Duration::from_secs(1);
/// Prefix of the limiter keys: `outreach:rate:<name>`.
pub const KEY_PREFIX: &str = "outreach:rate:";

/// KEYS: the limiter's key. ARGV: emission interval (µs). Returns the wait (µs).
const GCRA_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat),
  'PX', math.ceil((next_tat - now) / 1000) + 1000)
return tat - now
"#;

/// A rate limit held in Redis for all processes that use the same name.
pub struct RedisRateLimiter {
    conn: ConnectionManager,
    key: String,
    /// 1/R, in microseconds (at least 1).
    interval_us: u64,
    script: Script,
    local: LocalRateLimiter,
    /// Until when Redis is not asked (after a failure); `None` when healthy.
    degraded_until: Mutex<Option<Instant>>,
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("key", &self.key)
            .field("interval_us", &self.interval_us)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// Connects to `url` and limits the name `name` (e.g. `search`, `llm`; every
    /// process using the same name and Redis shares the rate) to `requests_per_second`.
    pub async fn connect(url: &str, name: &str, requests_per_second: f64) -> Result<Self> {
        let client = Client::open(url)
            .map_err(|e| Error::Config(format!("REDIS_URL is not a usable Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(REDIS_DEADLINE))
            .set_connection_timeout(Some(Duration::from_secs(5)));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| redis_error("connect to Redis", &e))?;
        Self::new(conn, name, requests_per_second)
    }

    /// As [`Self::connect`], on an existing connection (a `ConnectionManager` is cheap to
    /// clone and can be shared with other limiters).
    pub fn new(conn: ConnectionManager, name: &str, requests_per_second: f64) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::Config("a shared rate limit needs a name".into()));
        }
        let invalid = || {
            Error::Config(format!(
                "a shared rate limit of {requests_per_second} requests per second cannot be kept: \
                 use a positive rate below 1,000,000/s, or no limit"
            ))
        };
        if !(requests_per_second > 0.0 && requests_per_second < 1e6) {
            return Err(invalid());
        }
        let interval_us = (1e6 / requests_per_second).round().max(1.0) as u64;
        let local = LocalRateLimiter::per_second(requests_per_second).ok_or_else(invalid)?;
        Ok(Self {
            conn,
            key: format!("{KEY_PREFIX}{name}"),
            interval_us,
            script: Script::new(GCRA_SCRIPT),
            local,
            degraded_until: Mutex::new(None),
        })
    }

    /// The Redis key holding this limiter's state.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn degraded_until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // An Option<Instant> is consistent after any write: a poisoned lock is usable.
        self.degraded_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Books a slot in Redis; returns the wait for it.
    async fn reserve(&self) -> std::result::Result<Duration, String> {
        let mut conn = self.conn.clone();
        let mut invocation = self.script.prepare_invoke();
        invocation.key(&self.key).arg(self.interval_us);
        let call = invocation.invoke_async::<i64>(&mut conn);
        match tokio::time::timeout(REDIS_DEADLINE, call).await {
            Ok(Ok(wait_us)) => Ok(Duration::from_micros(u64::try_from(wait_us).unwrap_or(0))),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {REDIS_DEADLINE:?}")),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn until_ready(&self) {
        let skip_redis = {
            self.degraded_until()
                .is_some_and(|until| Instant::now() < until)
        };
        if skip_redis {
            self.local.until_ready().await;
            return;
        }
        match self.reserve().await {
            Ok(wait) => {
                let recovered = self.degraded_until().take().is_some();
                if recovered {
                    tracing::info!(key = %self.key, "shared rate limit reachable again");
                }
                tokio::time::sleep(wait).await;
            }
            Err(error) => {
                let was_healthy = self
                    .degraded_until()
                    .replace(Instant::now() + DEGRADED_FOR)
                    .is_none();
                if was_healthy {
                    tracing::warn!(
                        key = %self.key,
                        %error,
                        "shared rate limit unavailable: limiting this process only until Redis answers"
                    );
                }
                self.local.until_ready().await;
            }
        }
    }
}
