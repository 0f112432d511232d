//! A request rate learned once for every worker process (cargo feature `redis`).
//!
//! Each process's `AdaptiveRateLimiter` learns its provider's limit from 429s and
//! rate-limit headers; ten workers learning separately would each believe the whole
//! limit is theirs. [`RedisRateLimiter`] keeps that state in one Redis hash per
//! provider instead, so every worker paces against what all of them learned, and an
//! explicit cap (`OUTREACH_*_RPS`) holds across all of them.
//!
//! The state machine is the one of `providers/policy/adaptive.rs` (see its docs), in
//! two Lua scripts that run atomically on the Redis server's clock (microseconds):
//!
//! - `RESERVE` books the next start: `1/rate` after the last one at the strictest of
//!   the cap, the learned rate and the header paces, never before a pause ends; it
//!   refuses (books nothing) when the pause is longer than the caller's longest wait.
//! - `FEEDBACK` applies one attempt's outcome: headers set paces and pauses; a success
//!   counts into a two-second window (the measured success rate) and, when the limiter
//!   held that request back, adds the additive step; a 429 for a request started after
//!   the last cut cuts the rate multiplicatively.
//!
//! One round trip per request to book and one to report. The hash expires ten minutes
//! after its last use, so idle providers leave nothing behind (and a limit learned
//! yesterday is learned again).
//!
//! When Redis cannot answer within [`REDIS_DEADLINE`], the limiter falls back to a
//! per-process `AdaptiveRateLimiter` (logging a warning) for [`DEGRADED_FOR`], then
//! tries Redis again. Meanwhile each process learns on its own, so the provider may
//! see more than it allows, and its 429s are retried and cut each process's rate.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use tokio::time::Instant;

use super::redis_queue::redis_error;
use crate::error::{Error, Result};
use crate::providers::policy::{
    AdaptiveConfig, AdaptiveRateLimiter, Feedback, Outcome, RateLimiter, RateSnapshot, Ticket,
    BOOKING_HORIZON,
};

/// How long a request waits for Redis's answer before the local limiter decides.
pub const REDIS_DEADLINE: Duration = Duration::from_millis(500);
/// How long the limiter stays local after Redis failed, before asking Redis again.
pub const DEGRADED_FOR: Duration = Duration::from_secs(1);
/// Prefix of the limiter keys: `outreach:rate:<name>`.
pub const KEY_PREFIX: &str = "outreach:rate:";

/// KEYS: the hash. ARGV: cap (req/s, 0 = none), expected tokens (0 = none), longest
/// wait (µs), booking horizon (µs). Returns {wait µs, start µs} when booked, {-2,
/// µs until asking again} when the slot is beyond the horizon (nothing booked), or
/// {-1, pause µs} when refused.
const RESERVE_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cap = tonumber(ARGV[1])
local need = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local horizon = tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'last', 'learned', 'hreq', 'hreq_until', 'htok', 'htok_until', 'blocked')
local rate = nil
local function take(r) if r ~= nil and (rate == nil or r < rate) then rate = r end end
if cap > 0 then take(cap) end
take(tonumber(h[2]))
if (tonumber(h[4]) or 0) > now then take(tonumber(h[3])) end
if need > 0 and (tonumber(h[6]) or 0) > now and tonumber(h[5]) ~= nil then take(tonumber(h[5]) / need) end
local blocked = tonumber(h[7]) or 0
if blocked - now > max_wait then return {-1, blocked - now} end
local last = tonumber(h[1])
local start = math.max(now, blocked)
if rate ~= nil and last ~= nil then
  if rate < 0.001 then rate = 0.001 end
  start = math.max(start, last + 1000000 / rate)
end
if start - now > horizon then return {-2, start - horizon - now} end
if last ~= nil and last > start then last = last else last = start end
redis.call('HSET', KEYS[1], 'last', string.format('%.0f', last))
redis.call('PEXPIRE', KEYS[1], 600000)
return {start - now, start}
"#;

/// KEYS: the hash. ARGV: outcome (1 success, 2 rate limited, 3 other), start (µs,
/// Redis clock), throttled (0/1), expected tokens, remaining requests, requests reset
/// (µs), remaining tokens, tokens reset (µs), token limit, request limit (each -1 when
/// absent), decrease, increase, `Retry-After` (µs, -1 when absent).
const FEEDBACK_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local k = KEYS[1]
local outcome = tonumber(ARGV[1])
local started = tonumber(ARGV[2])
local throttled = ARGV[3] == '1'
local need = tonumber(ARGV[4])
local rem_req, reset_req = tonumber(ARGV[5]), tonumber(ARGV[6])
local rem_tok, reset_tok, limit_tok = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local limit_req = tonumber(ARGV[10])
local decrease, increase = tonumber(ARGV[11]), tonumber(ARGV[12])
local retry_after = tonumber(ARGV[13])
local function block(untilt)
  local b = tonumber(redis.call('HGET', k, 'blocked')) or 0
  if untilt > b then redis.call('HSET', k, 'blocked', string.format('%.0f', untilt)) end
end
if rem_req >= 0 and reset_req >= 0 then
  if reset_req == 0 then
    redis.call('HDEL', k, 'hreq', 'hreq_until')
  else
    if rem_req == 0 then
      if limit_req > 0 then block(now + reset_req / limit_req) else block(now + reset_req) end
    end
    local size = math.max(rem_req, 1)
    if limit_req >= rem_req and limit_req > 0 then size = limit_req end
    redis.call('HSET', k, 'hreq', tostring(size * 1000000 / reset_req), 'hreq_until', string.format('%.0f', now + reset_req))
  end
end
if rem_tok >= 0 and reset_tok >= 0 then
  if reset_tok == 0 then
    redis.call('HDEL', k, 'htok', 'htok_until')
  else
    if need > 0 and rem_tok < need then
      local wait = reset_tok
      if limit_tok > rem_tok then
        local refill = (limit_tok - rem_tok) / reset_tok
        wait = math.min(reset_tok, (need - rem_tok) / refill)
      end
      block(now + wait)
    end
    local size = math.max(rem_tok, 1)
    if limit_tok >= rem_tok and limit_tok > 0 then size = limit_tok end
    redis.call('HSET', k, 'htok', tostring(size * 1000000 / reset_tok), 'htok_until', string.format('%.0f', now + reset_tok))
  end
end
local h = redis.call('HMGET', k, 'w_start', 'w_count', 'p_count', 'learned', 'step', 'last_cut', 'doubled_at')
local w_start = tonumber(h[1]) or now
local w_count = tonumber(h[2]) or 0
local p_count = tonumber(h[3]) or 0
if now - w_start >= 2000000 then
  if now - w_start < 4000000 then p_count = w_count else p_count = 0 end
  w_start = now
  w_count = 0
end
local learned = tonumber(h[4])
if outcome == 1 then
  w_count = w_count + 1
  if throttled and learned ~= nil then
    local step = tonumber(h[5]) or 0
    redis.call('HSET', k, 'learned', tostring(learned + step))
    local doubled_at = tonumber(h[7]) or now
    if now - doubled_at >= 1000000 then
      redis.call('HSET', k, 'step', tostring(step * 2), 'doubled_at', string.format('%.0f', now))
    end
  end
elseif outcome == 2 and retry_after >= 10000000 then
  block(now + retry_after)
end
if outcome == 2 and started >= (tonumber(h[6]) or 0) then
  local span = now - w_start
  if p_count > 0 then span = span + 2000000 end
  local measured = nil
  if p_count + w_count > 0 then measured = (p_count + w_count) / math.max(span / 1000000, 0.05) end
  local base = nil
  if learned ~= nil and measured ~= nil then base = math.min(learned, math.max(measured, learned * 0.5))
  elseif learned ~= nil then base = learned
  elseif measured ~= nil then base = measured end
  if base ~= nil then
    local rate = math.max(base * decrease, 0.001)
    redis.call('HSET', k, 'learned', tostring(rate), 'step', tostring(rate * increase), 'doubled_at', string.format('%.0f', now))
    redis.call('HINCRBY', k, 'cuts', 1)
  end
  redis.call('HSET', k, 'last_cut', string.format('%.0f', now))
end
redis.call('HSET', k, 'w_start', string.format('%.0f', w_start), 'w_count', w_count, 'p_count', p_count)
redis.call('PEXPIRE', k, 600000)
return 1
"#;

/// The learned rate of one provider, held in Redis for all processes that use the
/// same name.
pub struct RedisRateLimiter {
    conn: ConnectionManager,
    key: String,
    cap: Option<f64>,
    tuning: AdaptiveConfig,
    reserve_script: Script,
    feedback_script: Script,
    local: AdaptiveRateLimiter,
    /// Until when Redis is not asked (after a failure); `None` when healthy.
    degraded_until: Mutex<Option<Instant>>,
    /// A local instant and the Redis time (µs) it corresponds to, from the last
    /// reservation: turns a ticket's start into Redis time for `FEEDBACK`.
    clock: Mutex<Option<(Instant, i64)>>,
    /// Reported / estimated tokens (moving average), applied before Redis sees them.
    token_ratio: Mutex<f64>,
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("key", &self.key)
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// Connects to `url` and shares the learned limit of `name` (e.g. `search`, `llm`;
    /// every process using the same name and Redis shares it), capped at `cap`
    /// requests per second when given.
    pub async fn connect_learned(url: &str, name: &str, cap: Option<f64>) -> Result<Self> {
        let client = Client::open(url)
            .map_err(|e| Error::Config(format!("REDIS_URL is not a usable Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(REDIS_DEADLINE))
            .set_connection_timeout(Some(Duration::from_secs(5)));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| redis_error("connect to Redis", &e))?;
        Self::new(conn, name, cap)
    }

    /// [`Self::connect_learned`] with a cap of `requests_per_second`.
    pub async fn connect(url: &str, name: &str, requests_per_second: f64) -> Result<Self> {
        Self::connect_learned(url, name, Some(requests_per_second)).await
    }

    /// As [`Self::connect_learned`], on an existing connection (a `ConnectionManager`
    /// is cheap to clone and can be shared with other limiters).
    pub fn new(conn: ConnectionManager, name: &str, cap: Option<f64>) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::Config("a shared rate limit needs a name".into()));
        }
        if let Some(rate) = cap {
            if !(rate > 0.0 && rate < 1e6) {
                return Err(Error::Config(format!(
                    "a shared rate limit of {rate} requests per second cannot be kept: \
                     use a positive rate below 1,000,000/s, or no cap"
                )));
            }
        }
        let tuning = AdaptiveConfig {
            cap,
            ..AdaptiveConfig::default()
        };
        Ok(Self {
            conn,
            key: format!("{KEY_PREFIX}{name}"),
            cap,
            local: AdaptiveRateLimiter::new(tuning.clone()),
            tuning,
            reserve_script: Script::new(RESERVE_SCRIPT),
            feedback_script: Script::new(FEEDBACK_SCRIPT),
            degraded_until: Mutex::new(None),
            clock: Mutex::new(None),
            token_ratio: Mutex::new(1.0),
        })
    }

    /// The Redis key holding this limiter's state.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        // Plain values, consistent after any write: a poisoned lock is usable.
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn redis_skipped(&self) -> bool {
        Self::lock(&self.degraded_until).is_some_and(|until| Instant::now() < until)
    }

    fn redis_failed(&self, error: &str) {
        let was_healthy = Self::lock(&self.degraded_until)
            .replace(Instant::now() + DEGRADED_FOR)
            .is_none();
        if was_healthy {
            tracing::warn!(
                key = %self.key,
                %error,
                "shared rate limit unavailable: limiting this process only until Redis answers"
            );
        }
    }

    fn redis_answered(&self) {
        if Self::lock(&self.degraded_until).take().is_some() {
            tracing::info!(key = %self.key, "shared rate limit reachable again");
        }
    }

    async fn invoke<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> std::result::Result<T, String> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(REDIS_DEADLINE, invocation.invoke_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {REDIS_DEADLINE:?}")),
        }
    }

    fn expected_tokens(&self, estimated: f64) -> f64 {
        if estimated > 0.0 {
            (estimated * *Self::lock(&self.token_ratio)).max(1.0)
        } else {
            0.0
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn until_ready(&self) {
        // A start with no size, waiting out any pause.
        let _ = self.acquire(0.0, Duration::MAX).await;
    }

    async fn acquire(&self, estimated_tokens: f64, max_wait: Duration) -> Result<Ticket, Duration> {
        let asked = Instant::now();
        loop {
            if self.redis_skipped() {
                return self.local.acquire(estimated_tokens, max_wait).await;
            }
            let mut invocation = self.reserve_script.prepare_invoke();
            invocation
                .key(&self.key)
                .arg(self.cap.unwrap_or(0.0))
                .arg(self.expected_tokens(estimated_tokens))
                .arg(u64::try_from(max_wait.as_micros()).unwrap_or(u64::MAX / 2))
                .arg(u64::try_from(BOOKING_HORIZON.as_micros()).unwrap_or(100_000));
            let micros = |us: i64| Duration::from_micros(u64::try_from(us).unwrap_or(0));
            match self.invoke::<(i64, i64)>(invocation).await {
                Ok((-1, pause_us)) => {
                    self.redis_answered();
                    return Err(micros(pause_us));
                }
                Ok((-2, again_us)) => {
                    self.redis_answered();
                    tokio::time::sleep(micros(again_us)).await;
                }
                Ok((wait_us, start_us)) => {
                    self.redis_answered();
                    let start = Instant::now() + micros(wait_us);
                    *Self::lock(&self.clock) = Some((start, start_us));
                    tokio::time::sleep_until(start).await;
                    return Ok(Ticket {
                        started: start,
                        throttled: start > asked + Duration::from_millis(1),
                    });
                }
                Err(error) => {
                    self.redis_failed(&error);
                    return self.local.acquire(estimated_tokens, max_wait).await;
                }
            }
        }
    }

    async fn feedback(&self, feedback: &Feedback) {
        // The local limiter learns too: it takes over if Redis goes away.
        self.local.feedback(feedback).await;
        if let (Outcome::Success { tokens: Some(used) }, true) =
            (feedback.outcome, feedback.estimated_tokens > 0.0)
        {
            let ratio = (used as f64 / feedback.estimated_tokens).clamp(0.05, 20.0);
            let mut current = Self::lock(&self.token_ratio);
            *current = 0.8 * *current + 0.2 * ratio;
        }
        if self.redis_skipped() {
            return;
        }
        let Some((at, at_us)) = *Self::lock(&self.clock) else {
            return;
        };
        let started_us = if feedback.ticket.started >= at {
            at_us
                + i64::try_from(feedback.ticket.started.duration_since(at).as_micros()).unwrap_or(0)
        } else {
            at_us
                - i64::try_from(at.duration_since(feedback.ticket.started).as_micros()).unwrap_or(0)
        };
        let headers = feedback.headers.clone().unwrap_or_default();
        let count = |n: Option<u64>| n.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let micros = |d: Option<Duration>| {
            d.map_or(-1, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        };
        let outcome = match feedback.outcome {
            Outcome::Success { .. } => 1,
            Outcome::RateLimited => 2,
            Outcome::Failed => 3,
        };
        let mut invocation = self.feedback_script.prepare_invoke();
        invocation
            .key(&self.key)
            .arg(outcome)
            .arg(started_us)
            .arg(u8::from(feedback.ticket.throttled))
            .arg(self.expected_tokens(feedback.estimated_tokens))
            .arg(count(headers.remaining_requests))
            .arg(micros(headers.reset_requests))
            .arg(count(headers.remaining_tokens))
            .arg(micros(headers.reset_tokens))
            .arg(count(headers.limit_tokens))
            .arg(count(headers.limit_requests))
            .arg(self.tuning.decrease)
            .arg(self.tuning.increase)
            .arg(micros(headers.retry_after));
        match self.invoke::<i64>(invocation).await {
            Ok(_) => self.redis_answered(),
            Err(error) => self.redis_failed(&error),
        }
    }

    fn snapshot(&self) -> Option<RateSnapshot> {
        // What this process saw; the shared state is in the Redis hash.
        self.local.snapshot()
    }
}
