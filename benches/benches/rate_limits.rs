//! Rate limits learned from the provider, against simulated providers, in one run:
//!
//! - (a) an unannounced limit: a token bucket of L requests/s that answers 429 with
//!   `Retry-After` (whole seconds, rounded up, as HTTP servers send it) and nothing else;
//! - (b) the same bucket, with Groq/OpenAI-style `x-ratelimit-*` headers on every
//!   response (remaining requests, time until the bucket is full);
//! - (c) no limit, 100 ms search / 300 ms LLM: rows/s against the in-flight bound.
//!
//! Each is measured with the learned limiter (the default stack, `wrap_llm`) and with
//! the old behaviour as the baseline: a fixed 200 requests/s (`LocalRateLimiter`, which
//! learns nothing) behind the same retries and in-flight bound.
//!
//! The providers are in-process `Llm`/`SearchProvider` fakes that sleep for their
//! latency and hand their headers to the limiter with `rate_headers::report`, exactly
//! what the HTTP adapters do for every response (`providers/http.rs`).
//!
//! Run with `cargo bench -p outreach-benches --bench rate_limits` (`-- quick` for a
//! shorter run; under `cargo test` it runs at smoke size).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use outreach_core::metrics::Metrics;
use outreach_core::providers::rate_headers::{self, RateHeaders};
use outreach_core::providers::{
    wrap_llm, wrap_llm_with, wrap_search, wrap_search_with, ChatMessage, ChatRequest, ChatResponse,
    Llm, LocalRateLimiter, ProviderPolicy, RateLimiter, SearchProvider, SearchQuery, SearchResults,
    Usage,
};
use outreach_core::{Error, ProviderKind, Result};
use tokio::time::Instant;

/// A token bucket of `rate` requests/s holding at most one second of them.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        Self {
            rate,
            capacity: rate,
            tokens: rate,
            at: Instant::now(),
        }
    }

    /// Takes one token if there is one; the headers a server would send either way.
    fn take(&mut self) -> (bool, RateHeaders) {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate)
            .min(self.capacity);
        self.at = now;
        let ok = self.tokens >= 1.0;
        if ok {
            self.tokens -= 1.0;
        }
        let headers = RateHeaders {
            limit_requests: Some(self.capacity as u64),
            remaining_requests: Some(self.tokens.floor() as u64),
            reset_requests: Some(Duration::from_secs_f64(
                (self.capacity - self.tokens) / self.rate,
            )),
            retry_after: (!ok).then(|| {
                // Whole seconds, rounded up: what `Retry-After: <delay-seconds>` can say.
                Duration::from_secs(((1.0 - self.tokens) / self.rate).ceil().max(1.0) as u64)
            }),
            ..RateHeaders::default()
        };
        (ok, headers)
    }
}

/// A simulated provider: latency, an optional bucket, optional headers.
#[derive(Debug)]
struct Sim {
    kind: ProviderKind,
    latency: Duration,
    bucket: Option<Mutex<Bucket>>,
    headers: bool,
    rejected: AtomicU64,
    served: AtomicU64,
}

impl Sim {
    fn new(kind: ProviderKind, latency: Duration, limit: Option<f64>, headers: bool) -> Self {
        Self {
            kind,
            latency,
            bucket: limit.map(|l| Mutex::new(Bucket::new(l))),
            headers,
            rejected: AtomicU64::new(0),
            served: AtomicU64::new(0),
        }
    }

    async fn call(&self) -> Result<()> {
        // The server decides when the request arrives, answers after its latency.
        let verdict = self.bucket.as_ref().map(|b| b.lock().unwrap().take());
        tokio::time::sleep(self.latency).await;
        match verdict {
            None => {
                self.served.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Some((ok, headers)) => {
                if self.headers {
                    rate_headers::report(&headers);
                }
                if ok {
                    self.served.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                } else {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                    Err(Error::RateLimited {
                        provider: self.kind,
                        retry_after: headers.retry_after,
                    })
                }
            }
        }
    }
}

#[async_trait]
impl Llm for Sim {
    async fn complete(&self, _request: &ChatRequest) -> Result<ChatResponse> {
        self.call().await?;
        // `..default()` keeps this compiling when the response grows fields.
        #[allow(clippy::needless_update)]
        Ok(ChatResponse {
            content: "ok".into(),
            usage: Usage {
                prompt_tokens: 200,
                completion_tokens: 50,
            },
            ..ChatResponse::default()
        })
    }
}

#[async_trait]
impl SearchProvider for Sim {
    async fn search(&self, _query: &SearchQuery) -> Result<SearchResults> {
        self.call().await?;
        Ok(SearchResults::default())
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user("Research this prospect.")],
        max_tokens: Some(200),
        ..ChatRequest::default()
    }
}

/// The old behaviour: a fixed 200 requests/s that learns nothing.
fn old_limiter() -> Arc<dyn RateLimiter> {
    Arc::new(LocalRateLimiter::per_second(200.0).unwrap())
}

struct Limited {
    share: f64,
    rejected_per_success: f64,
    steady_rejected_per_success: f64,
    failed: u64,
}

/// 64 callers call the LLM back to back for `seconds`; successes completed after
/// `warmup` count towards the share of the limit.
async fn limited_run(limit: f64, headers: bool, learned: bool, seconds: f64) -> Limited {
    let sim = Arc::new(Sim::new(
        ProviderKind::Llm,
        Duration::from_millis(300),
        Some(limit),
        headers,
    ));
    let policy = ProviderPolicy::llm();
    let metrics = Arc::new(Metrics::default());
    let model = if learned {
        wrap_llm(sim.clone(), &policy, metrics)
    } else {
        wrap_llm_with(sim.clone(), &policy, metrics, old_limiter())
    };
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(seconds);
    let warmup = started + Duration::from_secs_f64(seconds / 4.0);
    let steady = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let callers = (0..64).map(|_| {
        let model = model.clone();
        let steady = steady.clone();
        let failed = failed.clone();
        tokio::spawn(async move {
            while Instant::now() < end {
                let result = model.complete(&request()).await;
                let now = Instant::now();
                match result {
                    Ok(_) if now >= warmup && now < end => {
                        steady.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    });
    // The provider's counters when the warm-up ends: 429s per success after it.
    let at_warmup = {
        let sim = sim.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(warmup).await;
            (
                sim.rejected.load(Ordering::Relaxed),
                sim.served.load(Ordering::Relaxed),
            )
        })
    };
    futures_join(callers).await;
    let (rejected_w, served_w) = at_warmup.await.unwrap();
    let steady_seconds = seconds * 0.75;
    let served = sim.served.load(Ordering::Relaxed);
    let rejected = sim.rejected.load(Ordering::Relaxed);
    Limited {
        share: steady.load(Ordering::Relaxed) as f64 / (limit * steady_seconds),
        rejected_per_success: rejected as f64 / served.max(1) as f64,
        steady_rejected_per_success: (rejected - rejected_w) as f64
            / (served - served_w).max(1) as f64,
        failed: failed.load(Ordering::Relaxed),
    }
}

async fn futures_join(handles: impl Iterator<Item = tokio::task::JoinHandle<()>>) {
    for handle in handles.collect::<Vec<_>>() {
        handle.await.unwrap();
    }
}

/// Rows of two searches (in parallel) then two LLM calls, `in_flight` rows at once,
/// no provider limit. Returns rows/s.
async fn unlimited_run(in_flight: usize, rows: usize, learned: bool) -> f64 {
    let search_sim = Arc::new(Sim::new(
        ProviderKind::Search,
        Duration::from_millis(100),
        None,
        false,
    ));
    let llm_sim = Arc::new(Sim::new(
        ProviderKind::Llm,
        Duration::from_millis(300),
        None,
        false,
    ));
    let search_policy = ProviderPolicy {
        concurrency: in_flight * 2,
        ..ProviderPolicy::search()
    };
    let llm_policy = ProviderPolicy {
        concurrency: in_flight,
        ..ProviderPolicy::llm()
    };
    let metrics = Arc::new(Metrics::default());
    let (search, model): (Arc<dyn SearchProvider>, Arc<dyn Llm>) = if learned {
        (
            wrap_search(search_sim, &search_policy, metrics.clone()),
            wrap_llm(llm_sim, &llm_policy, metrics),
        )
    } else {
        (
            wrap_search_with(search_sim, &search_policy, metrics.clone(), old_limiter()),
            wrap_llm_with(llm_sim, &llm_policy, metrics, old_limiter()),
        )
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let started = Instant::now();
    let tasks = (0..rows).map(|_| {
        let (search, model, slots) = (search.clone(), model.clone(), slots.clone());
        tokio::spawn(async move {
            let _slot = slots.acquire().await.unwrap();
            let query = SearchQuery::new("x");
            let (a, b) = tokio::join!(search.search(&query), search.search(&query));
            a.unwrap();
            b.unwrap();
            model.complete(&request()).await.unwrap();
            model.complete(&request()).await.unwrap();
        })
    });
    futures_join(tasks).await;
    rows as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    let quick = args.iter().any(|a| a == "quick");
    let seconds = if smoke {
        2.0
    } else if quick {
        12.0
    } else {
        40.0
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    println!("## Rate limits: a token bucket of L requests/s, 64 callers, 300 ms per call, {seconds} s per run (share over the last 3/4)");
    println!("| limit | provider says | limiter | share of the limit | 429s per success (whole run) | after warm-up | calls failed |");
    println!("|---|---|---|---|---|---|---|");
    for limit in [10.0, 50.0] {
        for headers in [false, true] {
            for learned in [false, true] {
                let r = rt.block_on(limited_run(limit, headers, learned, seconds));
                println!(
                    "| {limit} /s | {} | {} | {:.1}% | {:.3} | {:.3} | {} |",
                    if headers {
                        "429 + `Retry-After` + `x-ratelimit-*` on every response"
                    } else {
                        "429 + `Retry-After` only"
                    },
                    if learned {
                        "learned (AIMD + headers)"
                    } else {
                        "baseline: fixed 200/s"
                    },
                    r.share * 100.0,
                    r.rejected_per_success,
                    r.steady_rejected_per_success,
                    r.failed,
                );
            }
        }
    }

    let rows = if smoke {
        64
    } else if quick {
        1000
    } else {
        3000
    };
    println!();
    println!(
        "## No limit: rows of 2 searches (100 ms, in parallel) + 2 LLM calls (300 ms), {rows} rows"
    );
    println!("| rows in flight | in-flight bound (rows/s) | limiter | rows/s | of the bound |");
    println!("|---|---|---|---|---|");
    for in_flight in [64usize, 256] {
        let bound = in_flight as f64 / 0.7;
        for learned in [false, true] {
            let rate = rt.block_on(unlimited_run(in_flight, rows, learned));
            println!(
                "| {in_flight} | {bound:.0} | {} | {rate:.1} | {:.0}% |",
                if learned {
                    "learned (no fixed rate)"
                } else {
                    "baseline: fixed 200/s"
                },
                rate / bound * 100.0
            );
        }
    }
}
