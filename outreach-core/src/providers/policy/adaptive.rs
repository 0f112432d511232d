//! A request rate learned from the provider, not configured.
//!
//! Until a provider pushes back, nothing but the in-flight bound (`Limit`'s semaphore)
//! limits it: a fixed requests-per-second default would cap fast providers for nothing.
//! Then three signals set the pace, and the strictest wins (with an explicit
//! `OUTREACH_*_RPS` cap on top):
//!
//! - **429s (AIMD).** The first 429 sets the rate to `decrease` × the success rate
//!   measured over the last seconds (what got through is what the provider allows).
//!   Each further 429 cuts the rate by `decrease` again, once per congestion event: a
//!   429 for a request that started before the last cut is the same event, already
//!   answered. Each success of a request that the limiter held back adds
//!   `increase` × the rate of the last cut, so the rate climbs back linearly and probes
//!   for a limit that rose; the step doubles every second without a 429,
//!   so a cut from a poor measurement (the first one, after a burst and a stall) is
//!   undone quickly. With `decrease` 0.9 the rate saw-tooths between 90% and 100% of
//!   the limit, and a cycle is ~25 successes long.
//! - **Headers.** With `x-ratelimit-limit-requests` C and `x-ratelimit-reset-requests`
//!   T (the time until the bucket is full again), starts are paced at C/T: the refill
//!   rate (C − R)/T plus the remaining R spent over the same time; an empty bucket
//!   gives exactly the refill rate. Without C, the remaining R over T. The same for
//!   tokens, divided by the tokens a request is expected to use. R = 0 (or
//!   fewer tokens left than the request needs) pauses every start until the bucket
//!   has refilled enough for one request.
//! - **`Retry-After`** is honoured by the `Retry` policy for the request that got the
//!   429; the other requests are governed by the cut rate rather than stopped, because
//!   servers round `Retry-After` up to whole seconds and a one-second stop per 429
//!   would cost more than the 429 itself. A `Retry-After` of 10 s or more is a used-up
//!   quota: every start waits for it.
//!
//! Tokens per request are estimated from the request (characters / 4 + the completion
//! budget) and corrected by the usage the provider reports (a moving average of
//! reported / estimated).
//!
//! [`RateState`] is the pure state machine (time is passed in, so it is tested without
//! sleeping); [`AdaptiveRateLimiter`] holds one behind a mutex for one process. The
//! Redis limiter keeps the same state in Redis for all workers.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::limit::{Feedback, Outcome, RateLimiter, RateSnapshot, Ticket};
use crate::providers::rate_headers::RateHeaders;

/// The slowest pace the limiter ever sets (one start per 1,000 s); below it, a
/// provider is effectively closed and the pauses (or `OUTREACH_MAX_WAIT_SECS`) decide.
const MIN_RATE: f64 = 0.001;
/// Time without a 429 after which the additive step doubles: near the limit a cycle is
/// shorter than this and the increase stays linear; far below it (a cut from a poor
/// measurement) the rate climbs back within seconds.
const STEP_DOUBLES_EVERY: Duration = Duration::from_secs(1);
/// How far ahead a waiting request may book its start (see [`RateState::try_reserve`]).
pub const BOOKING_HORIZON: Duration = Duration::from_millis(100);
/// A `Retry-After` from which on every start waits, not only the rejected request.
pub const LONG_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Successes remembered to measure the success rate at a 429.
const MAX_REMEMBERED: usize = 512;
/// How far back the success rate is measured.
const MEASURE_WINDOW: Duration = Duration::from_secs(2);
const LONG_MEASURE_WINDOW: Duration = Duration::from_secs(10);

/// The tuning of [`RateState`].
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveConfig {
    /// An explicit cap (requests per second), e.g. `OUTREACH_LLM_RPS`.
    pub cap: Option<f64>,
    /// The multiplicative decrease on a 429 (0 < decrease < 1).
    pub decrease: f64,
    /// The additive increase per throttled success, as a fraction of the rate set at
    /// the last cut.
    pub increase: f64,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        Self {
            cap: None,
            decrease: 0.9,
            increase: 0.004,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Pace {
    per_second: f64,
    until: Instant,
}

impl Pace {
    fn at(self, now: Instant) -> Option<f64> {
        (self.until > now).then_some(self.per_second)
    }
}

/// The learned limit of one provider. See the module docs.
#[derive(Debug)]
pub struct RateState {
    config: AdaptiveConfig,
    learned: Option<f64>,
    step: f64,
    /// When the step last doubled (or the last cut): it doubles every
    /// [`STEP_DOUBLES_EVERY`] without a 429.
    step_since: Option<Instant>,
    last_cut: Option<Instant>,
    cuts: u64,
    header_requests: Option<Pace>,
    header_tokens: Option<Pace>,
    blocked_until: Option<Instant>,
    last_start: Option<Instant>,
    first_start: Option<Instant>,
    successes: VecDeque<Instant>,
    token_ratio: f64,
    last_headers: Option<RateHeaders>,
}

impl RateState {
    pub fn new(config: AdaptiveConfig) -> Self {
        Self {
            config,
            learned: None,
            step: 0.0,
            step_since: None,
            last_cut: None,
            cuts: 0,
            header_requests: None,
            header_tokens: None,
            blocked_until: None,
            last_start: None,
            first_start: None,
            successes: VecDeque::new(),
            token_ratio: 1.0,
            last_headers: None,
        }
    }

    /// The tokens a request estimated at `estimated` is expected to use.
    fn expected_tokens(&self, estimated: f64) -> f64 {
        (estimated * self.token_ratio).max(1.0)
    }

    /// Requests per second allowed now for a request of `estimated_tokens`; `None` =
    /// unbounded (only the in-flight bound applies).
    pub fn rate(&self, now: Instant, estimated_tokens: f64) -> Option<f64> {
        let mut rate = self.config.cap.filter(|c| c.is_finite() && *c > 0.0);
        let mut take = |r: f64| rate = Some(rate.map_or(r, |old| old.min(r)));
        if let Some(learned) = self.learned {
            take(learned);
        }
        if let Some(pace) = self.header_requests.and_then(|p| p.at(now)) {
            take(pace);
        }
        if estimated_tokens > 0.0 {
            if let Some(pace) = self.header_tokens.and_then(|p| p.at(now)) {
                take(pace / self.expected_tokens(estimated_tokens));
            }
        }
        rate.map(|r| r.max(MIN_RATE))
    }

    /// Books the next start for a request of `estimated_tokens` and returns when it
    /// may go (now or later).
    ///
    /// Starts are spaced `1/rate` apart at the rate of the moment (GCRA with burst 1,
    /// computed from the last booked start), so a rate that changes applies to the
    /// very next start.
    pub fn reserve(&mut self, now: Instant, estimated_tokens: f64) -> Instant {
        let rate = self.rate(now, estimated_tokens);
        let spaced = match (self.last_start, rate) {
            (Some(last), Some(rate)) => Some(last + Duration::from_secs_f64(1.0 / rate)),
            _ => None,
        };
        let mut start = now;
        for later in [self.blocked_until, spaced].into_iter().flatten() {
            start = start.max(later);
        }
        self.last_start = Some(self.last_start.map_or(start, |last| last.max(start)));
        self.first_start.get_or_insert(start);
        start
    }

    /// As [`Self::reserve`], but books nothing and returns the wait when it would be
    /// longer than `max_wait` (a provider paused for longer than a run may wait).
    pub fn reserve_within(
        &mut self,
        now: Instant,
        estimated_tokens: f64,
        max_wait: Duration,
    ) -> Result<Instant, Duration> {
        if let Some(blocked) = self.blocked_until {
            let wait = blocked.saturating_duration_since(now);
            if wait > max_wait {
                return Err(wait);
            }
        }
        Ok(self.reserve(now, estimated_tokens))
    }

    /// Books a start only if it falls within `horizon` from now: `Ok(start)`.
    /// Otherwise books nothing and returns when to ask again (`horizon` before the
    /// earliest start). Waiting callers thus never hold slots far in the future, and
    /// a rate cut applies to every start after `horizon`, not after the queue of
    /// slots booked at the old rate. `None` in the error: refused, the pause is longer
    /// than `max_wait` (returned).
    pub fn try_reserve(
        &mut self,
        now: Instant,
        estimated_tokens: f64,
        max_wait: Duration,
        horizon: Duration,
    ) -> Result<Instant, Result<Instant, Duration>> {
        if let Some(blocked) = self.blocked_until {
            let wait = blocked.saturating_duration_since(now);
            if wait > max_wait {
                return Err(Err(wait));
            }
        }
        let rate = self.rate(now, estimated_tokens);
        let mut earliest = now;
        if let (Some(last), Some(rate)) = (self.last_start, rate) {
            earliest = earliest.max(last + Duration::from_secs_f64(1.0 / rate));
        }
        if let Some(blocked) = self.blocked_until {
            earliest = earliest.max(blocked);
        }
        if earliest > now + horizon {
            return Err(Ok(earliest - horizon));
        }
        Ok(self.reserve(now, estimated_tokens))
    }

    /// What the request booked at `feedback.ticket` got back.
    pub fn feedback(&mut self, now: Instant, feedback: &Feedback) {
        if let Some(headers) = &feedback.headers {
            self.apply_headers(now, headers, feedback.estimated_tokens);
        }
        match feedback.outcome {
            Outcome::Success { tokens } => {
                self.successes.push_back(feedback.ticket.started);
                while self.successes.len() > MAX_REMEMBERED {
                    self.successes.pop_front();
                }
                if let (Some(used), true) = (tokens, feedback.estimated_tokens > 0.0) {
                    let ratio = (used as f64 / feedback.estimated_tokens).clamp(0.05, 20.0);
                    self.token_ratio = 0.8 * self.token_ratio + 0.2 * ratio;
                }
                // Probe upwards only while this limit is what holds requests back: a
                // rate that grew while something else bounded the provider would let
                // a burst through the day the limit binds again.
                if feedback.ticket.throttled {
                    if let Some(learned) = self.learned {
                        self.learned = Some(learned + self.step);
                        let since = self.step_since.get_or_insert(now);
                        if now.duration_since(*since) >= STEP_DOUBLES_EVERY {
                            self.step *= 2.0;
                            *since = now;
                        }
                    }
                }
            }
            Outcome::RateLimited => {
                // A long wait is a used-up quota, not a momentary overload: nobody
                // starts before it ends (and a run that will not wait that long stops).
                if let Some(wait) = feedback
                    .headers
                    .as_ref()
                    .and_then(|h| h.retry_after)
                    .filter(|w| *w >= LONG_RETRY_AFTER)
                {
                    self.block(now + wait);
                }
                let same_event = self
                    .last_cut
                    .is_some_and(|cut| feedback.ticket.started < cut);
                if !same_event {
                    self.cut(now);
                }
            }
            Outcome::Failed => {}
        }
    }

    fn cut(&mut self, now: Instant) {
        let measured = self.success_rate(now);
        let base = match (self.learned, measured) {
            (Some(learned), Some(measured)) => learned.min(measured.max(learned * 0.5)),
            (Some(learned), None) => learned,
            (None, Some(measured)) => measured,
            // A 429 before any success: nothing to measure yet. The rejected requests
            // wait for their `Retry-After`; the next 429 (from a request started after
            // this one) cuts from what got through by then.
            (None, None) => {
                self.last_cut = Some(now);
                return;
            }
        };
        let rate = (base * self.config.decrease).max(MIN_RATE);
        self.learned = Some(rate);
        self.step = rate * self.config.increase;
        self.step_since = Some(now);
        self.last_cut = Some(now);
        self.cuts += 1;
        tracing::debug!(rate, measured, "provider answered 429: request rate cut");
    }

    /// Successes per second over the recent past (by their start times).
    fn success_rate(&self, now: Instant) -> Option<f64> {
        let since = |window: Duration| {
            let from = now.checked_sub(window).unwrap_or(now);
            self.successes
                .iter()
                .rev()
                .take_while(|t| **t >= from)
                .count()
        };
        let elapsed = now.duration_since(self.first_start?);
        for window in [MEASURE_WINDOW, LONG_MEASURE_WINDOW] {
            let count = since(window);
            if count >= 8 || window == LONG_MEASURE_WINDOW {
                let seconds = window.min(elapsed).as_secs_f64().max(0.05);
                return (count > 0).then(|| count as f64 / seconds);
            }
        }
        None
    }

    fn block(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    fn apply_headers(&mut self, now: Instant, headers: &RateHeaders, estimated_tokens: f64) {
        self.last_headers = Some(headers.clone());
        if let (Some(remaining), Some(reset)) = (headers.remaining_requests, headers.reset_requests)
        {
            if reset.is_zero() {
                self.header_requests = None;
            } else {
                if remaining == 0 {
                    // Until one request is back: the bucket refills at
                    // (limit − remaining) / reset (Groq and OpenAI reset = time until
                    // full); the whole reset when the limit is unknown.
                    let wait = match headers.limit_requests {
                        Some(limit) if limit > 0 => reset.div_f64(limit as f64),
                        _ => reset,
                    };
                    self.block(now + wait);
                }
                self.header_requests = Some(Pace {
                    per_second: bucket_pace(headers.limit_requests, remaining, reset),
                    until: now + reset,
                });
            }
        }
        if let (Some(remaining), Some(reset)) = (headers.remaining_tokens, headers.reset_tokens) {
            if reset.is_zero() {
                self.header_tokens = None;
            } else {
                let remaining = remaining as f64;
                let needed = if estimated_tokens > 0.0 {
                    self.expected_tokens(estimated_tokens)
                } else {
                    0.0
                };
                if remaining < needed {
                    // The bucket refills at (limit − remaining) / reset; wait for what
                    // this request needs, or the full reset when the limit is unknown.
                    let wait = match headers.limit_tokens.map(|l| l as f64) {
                        Some(limit) if limit > remaining => {
                            let refill = (limit - remaining) / reset.as_secs_f64();
                            Duration::from_secs_f64((needed - remaining) / refill).min(reset)
                        }
                        _ => reset,
                    };
                    self.block(now + wait);
                }
                self.header_tokens = Some(Pace {
                    per_second: bucket_pace(headers.limit_tokens, remaining as u64, reset),
                    until: now + reset,
                });
            }
        }
    }

    /// What the limiter believes now, for `outreach check`, logs and benchmarks.
    pub fn snapshot(&self, now: Instant) -> RateSnapshot {
        RateSnapshot {
            requests_per_second: self.rate(now, 0.0),
            learned_per_second: self.learned,
            cuts: self.cuts,
            paused_for: self
                .blocked_until
                .map(|b| b.saturating_duration_since(now))
                .filter(|d| !d.is_zero()),
            last_headers: self.last_headers.clone(),
        }
    }
}

/// The pace a bucket allows: its size over the time until it is full. Groq and OpenAI
/// report `reset` as the time until the bucket has refilled completely, so it refills
/// at (limit − remaining) / reset, and the remaining R can be spent on top over the
/// same time: limit / reset in all. Empty, that is the refill rate; full (reset near
/// zero), no bound. Without the size, the remaining spread over the reset (never zero:
/// one per reset, so an empty bucket does not stall everything).
fn bucket_pace(limit: Option<u64>, remaining: u64, reset: Duration) -> f64 {
    let seconds = reset.as_secs_f64();
    match limit {
        Some(limit) if limit >= remaining && limit > 0 => limit as f64 / seconds,
        _ => remaining.max(1) as f64 / seconds,
    }
}

/// [`RateState`] for one process.
#[derive(Debug)]
pub struct AdaptiveRateLimiter {
    state: Mutex<RateState>,
}

impl AdaptiveRateLimiter {
    pub fn new(config: AdaptiveConfig) -> Self {
        Self {
            state: Mutex::new(RateState::new(config)),
        }
    }

    /// No limit until the provider says otherwise, capped at `cap` requests/s if given.
    pub fn with_cap(cap: Option<f64>) -> Self {
        Self::new(AdaptiveConfig {
            cap,
            ..AdaptiveConfig::default()
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RateState> {
        // The state is consistent after every method: a poisoned lock is usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl RateLimiter for AdaptiveRateLimiter {
    async fn until_ready(&self) {
        let now = Instant::now();
        let start = self.state().reserve(now, 0.0);
        tokio::time::sleep_until(start).await;
    }

    async fn acquire(&self, estimated_tokens: f64, max_wait: Duration) -> Result<Ticket, Duration> {
        let asked = Instant::now();
        loop {
            let now = Instant::now();
            let booked = self
                .state()
                .try_reserve(now, estimated_tokens, max_wait, BOOKING_HORIZON);
            match booked {
                Ok(start) => {
                    tokio::time::sleep_until(start).await;
                    return Ok(Ticket {
                        started: start,
                        throttled: start > asked,
                    });
                }
                Err(Ok(ask_again)) => tokio::time::sleep_until(ask_again).await,
                Err(Err(pause)) => return Err(pause),
            }
        }
    }

    async fn feedback(&self, feedback: &Feedback) {
        self.state().feedback(Instant::now(), feedback);
    }

    fn snapshot(&self) -> Option<RateSnapshot> {
        Some(self.state().snapshot(Instant::now()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ticket(started: Instant, throttled: bool) -> Ticket {
        Ticket { started, throttled }
    }

    fn feedback(ticket: Ticket, outcome: Outcome, headers: Option<RateHeaders>) -> Feedback {
        Feedback {
            ticket,
            outcome,
            headers,
            estimated_tokens: 0.0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unbounded_until_the_first_429_then_cut_from_the_measured_rate() {
        let mut state = RateState::new(AdaptiveConfig::default());
        let t0 = Instant::now();
        // 40 successes in the first second: no spacing at all.
        for i in 0..40u64 {
            let at = t0 + Duration::from_millis(i * 25);
            assert_eq!(state.reserve(at, 0.0), at);
            state.feedback(
                at,
                &feedback(ticket(at, false), Outcome::Success { tokens: None }, None),
            );
        }
        assert_eq!(state.rate(t0, 0.0), None);
        let t1 = t0 + Duration::from_secs(1);
        state.feedback(t1, &feedback(ticket(t1, false), Outcome::RateLimited, None));
        let rate = state.rate(t1, 0.0).unwrap();
        // 40 successes over one second, times 0.9.
        assert!((rate - 36.0).abs() < 0.5, "{rate}");
        // A 429 of a request started before the cut is the same event.
        state.feedback(t1, &feedback(ticket(t0, false), Outcome::RateLimited, None));
        assert_eq!(state.rate(t1, 0.0), Some(rate));
        // A later one cuts again.
        let t2 = t1 + Duration::from_millis(10);
        state.feedback(t2, &feedback(ticket(t2, false), Outcome::RateLimited, None));
        assert!((state.rate(t2, 0.0).unwrap() - rate * 0.9).abs() < 1e-9);
        // Starts are now spaced.
        let a = state.reserve(t2, 0.0);
        let b = state.reserve(t2, 0.0);
        assert!(b > a);
        assert_eq!(state.snapshot(t2).cuts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_requests_book_only_near_slots() {
        let mut state = RateState::new(AdaptiveConfig {
            cap: Some(2.0),
            ..AdaptiveConfig::default()
        });
        let t0 = Instant::now();
        let horizon = Duration::from_millis(100);
        let max = Duration::from_secs(120);
        assert_eq!(state.try_reserve(t0, 0.0, max, horizon), Ok(t0));
        // The next slot is 500 ms away: not booked, ask again 100 ms before it.
        assert_eq!(
            state.try_reserve(t0, 0.0, max, horizon),
            Err(Ok(t0 + Duration::from_millis(400)))
        );
        let t1 = t0 + Duration::from_millis(400);
        assert_eq!(
            state.try_reserve(t1, 0.0, max, horizon),
            Ok(t0 + Duration::from_millis(500))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_successes_probe_upwards_linearly() {
        let mut state = RateState::new(AdaptiveConfig::default());
        let t0 = Instant::now();
        // A 429 before any success sets nothing: there is nothing to measure yet.
        state.feedback(t0, &feedback(ticket(t0, false), Outcome::RateLimited, None));
        assert_eq!(state.rate(t0, 0.0), None);
        for i in 0..10u64 {
            let at = t0 + Duration::from_millis(100 * i);
            state.reserve(at, 0.0);
            state.feedback(
                at,
                &feedback(ticket(at, false), Outcome::Success { tokens: None }, None),
            );
        }
        let t1 = t0 + Duration::from_secs(1);
        state.feedback(t1, &feedback(ticket(t1, false), Outcome::RateLimited, None));
        let cut = state.rate(t1, 0.0).unwrap();
        assert!(
            (cut - 9.0).abs() < 0.01,
            "10 successes in 1 s, times 0.9: {cut}"
        );
        let success = |state: &mut RateState, throttled: bool| {
            state.feedback(
                t0,
                &feedback(
                    ticket(t0, throttled),
                    Outcome::Success { tokens: None },
                    None,
                ),
            );
        };
        for _ in 0..10 {
            success(&mut state, true);
        }
        let linear = state.rate(t0, 0.0).unwrap();
        assert!(
            (linear - cut * (1.0 + 10.0 * 0.004)).abs() < 1e-9,
            "{linear}"
        );
        // A second without a 429: the step doubles.
        state.feedback(
            t1 + Duration::from_secs(1),
            &feedback(ticket(t1, true), Outcome::Success { tokens: None }, None),
        );
        success(&mut state, true);
        let raised = state.rate(t0, 0.0).unwrap();
        assert!(
            (raised - linear - cut * 0.004 - cut * 0.008).abs() < 1e-9,
            "{raised}"
        );
        // Successes that were not held back do not raise it.
        success(&mut state, false);
        assert_eq!(state.rate(t0, 0.0), Some(raised));
    }

    #[tokio::test(start_paused = true)]
    async fn headers_pace_and_pause() {
        let mut state = RateState::new(AdaptiveConfig {
            cap: Some(100.0),
            ..AdaptiveConfig::default()
        });
        let t0 = Instant::now();
        assert_eq!(state.rate(t0, 0.0), Some(100.0), "the cap alone");
        let headers = RateHeaders {
            remaining_requests: Some(10),
            reset_requests: Some(Duration::from_secs(2)),
            ..RateHeaders::default()
        };
        state.feedback(
            t0,
            &feedback(
                ticket(t0, false),
                Outcome::Success { tokens: None },
                Some(headers),
            ),
        );
        assert_eq!(state.rate(t0, 0.0), Some(5.0), "10 left over 2 s");
        assert_eq!(
            state.rate(t0 + Duration::from_secs(3), 0.0),
            Some(100.0),
            "expired"
        );

        // Exhausted: every start waits for the reset.
        let exhausted = RateHeaders {
            remaining_requests: Some(0),
            reset_requests: Some(Duration::from_millis(1500)),
            ..RateHeaders::default()
        };
        state.feedback(
            t0,
            &feedback(ticket(t0, false), Outcome::RateLimited, Some(exhausted)),
        );
        assert!(state.reserve(t0, 0.0) >= t0 + Duration::from_millis(1500));

        // With the bucket's size known, only until one request is back.
        let mut state = RateState::new(AdaptiveConfig::default());
        let refilling = RateHeaders {
            limit_requests: Some(10),
            remaining_requests: Some(0),
            reset_requests: Some(Duration::from_millis(1500)),
            ..RateHeaders::default()
        };
        state.feedback(
            t0,
            &feedback(
                ticket(t0, false),
                Outcome::Success { tokens: None },
                Some(refilling),
            ),
        );
        assert_eq!(state.reserve(t0, 0.0), t0 + Duration::from_millis(150));

        // A long Retry-After pauses everyone; a short one only its own request.
        let mut state = RateState::new(AdaptiveConfig::default());
        let short = RateHeaders {
            retry_after: Some(Duration::from_secs(1)),
            ..RateHeaders::default()
        };
        state.feedback(
            t0,
            &feedback(ticket(t0, false), Outcome::RateLimited, Some(short)),
        );
        assert_eq!(state.reserve(t0, 0.0), t0);
        let long = RateHeaders {
            retry_after: Some(Duration::from_secs(579)),
            ..RateHeaders::default()
        };
        state.feedback(
            t0,
            &feedback(ticket(t0, false), Outcome::RateLimited, Some(long)),
        );
        assert_eq!(
            state.reserve_within(t0, 0.0, Duration::from_secs(120)),
            Err(Duration::from_secs(579))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_bound_requests_by_their_size() {
        let mut state = RateState::new(AdaptiveConfig::default());
        let t0 = Instant::now();
        // Groq's 429 on tokens per minute: 6000 TPM, 300 left, full in 54 s.
        let headers = RateHeaders {
            limit_tokens: Some(6000),
            remaining_tokens: Some(300),
            reset_tokens: Some(Duration::from_secs(54)),
            ..RateHeaders::default()
        };
        let fb = Feedback {
            ticket: ticket(t0, false),
            outcome: Outcome::Success { tokens: Some(1000) },
            headers: Some(headers),
            estimated_tokens: 1000.0,
        };
        state.feedback(t0, &fb);
        // 1000 tokens needed, 300 left, refilling at 5700/54 per second: ~6.6 s.
        let start = state.reserve(t0, 1000.0);
        let wait = start.duration_since(t0).as_secs_f64();
        assert!((wait - 700.0 / (5700.0 / 54.0)).abs() < 0.01, "{wait}");
        // The pace: the bucket (6000) over the time until it is full (54 s), for
        // requests of ~1000 tokens.
        let rate = state.rate(t0, 1000.0).unwrap();
        assert!((rate - 6000.0 / 54.0 / 1000.0).abs() < 1e-6, "{rate}");
        // A search (no tokens) is not bound by tokens.
        assert_eq!(state.rate(t0, 0.0), None);
    }
}
