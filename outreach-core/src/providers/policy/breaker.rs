//! [`Breaker`]: a circuit breaker that stops a run whose provider keeps failing.
//!
//! A provider that fails every call the same way (a model that no longer exists, an
//! endpoint that answers 500, a network that is down) would otherwise turn every
//! remaining row into a fallback, one timeout or retry loop at a time. After
//! `threshold` consecutive failures of the same kind (after retries), the breaker
//! opens: that call and every call for `cooldown` fail at once with
//! [`Error::ProviderFailing`], which is fatal, so the run stops with one message. A
//! success, or a failure of another kind, starts the count again. After the cooldown
//! the next call goes through (half-open), so a long-lived server recovers by itself.
//!
//! Errors that are fatal already (bad key, no balance) pass through untouched, and
//! cancellations are not failures of the provider.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::{Error, ProviderKind, Result};
use crate::providers::{
    ChatRequest, ChatResponse, Llm, SearchProvider, SearchQuery, SearchResults,
};

/// Consecutive failures of one kind that stop a run (`OUTREACH_BREAKER_FAILURES`).
pub const DEFAULT_BREAKER_FAILURES: u32 = 20;
/// How long an open breaker fails calls before letting one through again.
pub const DEFAULT_BREAKER_COOLDOWN: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct State {
    kind: Option<String>,
    count: u32,
    open_until: Option<Instant>,
    reason: String,
}

/// See the module docs. A `threshold` of 0 turns the breaker off.
#[derive(Debug)]
pub struct Breaker<P> {
    inner: P,
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

impl<P> Breaker<P> {
    pub fn new(inner: P, threshold: u32, cooldown: Duration) -> Self {
        Self {
            inner,
            threshold,
            cooldown,
            state: Mutex::new(State::default()),
        }
    }

    pub fn inner(&self) -> &P {
        &self.inner
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Counters only: consistent after any write, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open_error(&self, provider: ProviderKind, state: &State) -> Error {
        Error::ProviderFailing {
            provider,
            failures: self.threshold,
            reason: state.reason.clone(),
        }
    }

    async fn run<T, F, Fut>(&self, provider: ProviderKind, call: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if self.threshold == 0 {
            return call().await;
        }
        {
            let mut state = self.state();
            match state.open_until {
                Some(until) if Instant::now() < until => {
                    return Err(self.open_error(provider, &state));
                }
                Some(_) => {
                    // Half-open: let calls through; one more failure of the same kind
                    // opens it again.
                    state.open_until = None;
                    state.count = self.threshold.saturating_sub(1);
                }
                None => {}
            }
        }
        let result = call().await;
        let mut state = self.state();
        match &result {
            Ok(_) => {
                state.kind = None;
                state.count = 0;
            }
            Err(e) if e.is_fatal() => {}
            Err(e) => {
                let kind = failure_kind(e);
                if state.kind.as_deref() == Some(kind.as_str()) {
                    state.count += 1;
                } else {
                    state.kind = Some(kind);
                    state.count = 1;
                }
                if state.count >= self.threshold {
                    state.reason = e.to_string();
                    state.open_until = Some(Instant::now() + self.cooldown);
                    tracing::error!(
                        %provider,
                        failures = state.count,
                        error = %e,
                        "circuit breaker open: the provider keeps failing the same way"
                    );
                    return Err(self.open_error(provider, &state));
                }
            }
        }
        result
    }
}

/// Failures of the same kind: same variant, and for HTTP errors the same status.
fn failure_kind(error: &Error) -> String {
    match error {
        Error::Upstream { status, .. } => format!("HTTP {status}"),
        Error::RateLimited { .. } => "rate limited".into(),
        Error::Timeout { .. } => "timeout".into(),
        Error::Network { .. } => "unreachable".into(),
        Error::BadResponse { .. } => "bad response".into(),
        other => other.short_reason(),
    }
}

#[async_trait]
impl<P: SearchProvider> SearchProvider for Breaker<P> {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        self.run(ProviderKind::Search, || self.inner.search(query))
            .await
    }
}

#[async_trait]
impl<P: Llm> Llm for Breaker<P> {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        self.run(ProviderKind::Llm, || self.inner.complete(request))
            .await
    }
    async fn served_models(&self) -> Result<Option<Vec<String>>> {
        self.inner.served_models().await
    }
}
