//! Retry, Limit and Metered, end to end over wiremock and around an in-process fake.
//! Timing assertions are lower bounds only: test machines are noisy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::join_all;
use outreach_core::metrics::Metrics;
use outreach_core::providers::{
    wrap_llm, wrap_llm_with, wrap_search, ChatMessage, ChatRequest, ChatResponse, Limit, Llm,
    LlmConfig, Metered, OpenAiClient, ProviderPolicy, RateLimiter, SearchProvider, SearchQuery,
    SearchResults, SerperClient, SerperConfig, Usage,
};
use outreach_core::{Error, ProviderKind, Result};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Small delays so the suite stays fast; no rate limit unless a test sets one.
fn fast_policy() -> ProviderPolicy {
    ProviderPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        requests_per_second: None,
        request_timeout: Duration::from_millis(300),
        ..ProviderPolicy::search()
    }
}

fn serper(server: &MockServer, policy: &ProviderPolicy) -> SerperClient {
    SerperClient::new(SerperConfig {
        url: format!("{}/search", server.uri()),
        ..SerperConfig::new("k").with_timeouts(policy)
    })
    .unwrap()
}

fn llm(server: &MockServer, policy: &ProviderPolicy) -> OpenAiClient {
    OpenAiClient::new(LlmConfig {
        base_url: server.uri(),
        ..LlmConfig::new("k").with_timeouts(policy)
    })
    .unwrap()
}

fn chat() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user("hi")],
        ..ChatRequest::default()
    }
}

fn completion(content: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 123, "completion_tokens": 45, "total_tokens": 168}
    }))
}

fn serper_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "organic": [{"title": "t", "link": "https://l", "snippet": "s", "position": 1}]
    }))
}

/// Mounts `first` for the first `times` requests, then `then` for the rest.
async fn mount_sequence(
    server: &MockServer,
    route: &str,
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) {
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(first)
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(then)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn rate_limited_waits_for_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    let limited = ResponseTemplate::new(429)
        .insert_header("Retry-After", "1")
        .set_body_json(json!({"message": "Too many requests"}));
    mount_sequence(&server, "/search", limited, 1, serper_ok()).await;
    let policy = fast_policy();
    let metrics = Arc::new(Metrics::default());
    let search = wrap_search(serper(&server, &policy), &policy, metrics.clone());

    let started = Instant::now();
    let results = search.search(&SearchQuery::new("acme.io")).await.unwrap();

    assert_eq!(results.organic[0].link, "https://l");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let m = metrics.snapshot();
    assert_eq!((m.retries, m.search_calls, m.llm_calls), (1, 2, 0));
}

#[tokio::test]
async fn server_error_then_success_is_retried_and_metered() {
    let server = MockServer::start().await;
    let failing = ResponseTemplate::new(500).set_body_string("internal error");
    mount_sequence(
        &server,
        "/chat/completions",
        failing,
        1,
        completion(json!("hello")),
    )
    .await;
    let policy = fast_policy();
    let metrics = Arc::new(Metrics::default());
    let model = wrap_llm(llm(&server, &policy), &policy, metrics.clone());

    let response = model.complete(&chat()).await.unwrap();

    assert_eq!(response.content, "hello");
    let m = metrics.snapshot();
    assert_eq!((m.retries, m.llm_calls, m.search_calls), (1, 2, 0));
    // Tokens are counted for the successful attempt only.
    assert_eq!((m.prompt_tokens, m.completion_tokens), (123, 45));
}

#[tokio::test]
async fn server_error_forever_gives_up_after_max_retries() {
    let server = MockServer::start().await;
    let policy = fast_policy();
    let attempts = u64::from(policy.max_retries) + 1;
    Mock::given(method("POST"))
        .and(path("/search"))
        .respond_with(ResponseTemplate::new(503).set_body_string("overloaded"))
        .expect(attempts)
        .mount(&server)
        .await;
    let metrics = Arc::new(Metrics::default());
    let search = wrap_search(serper(&server, &policy), &policy, metrics.clone());

    let err = search.search(&SearchQuery::new("x")).await.unwrap_err();

    assert!(
        matches!(&err, Error::Upstream { status: 503, body, .. } if body == "overloaded"),
        "{err:?}"
    );
    let m = metrics.snapshot();
    assert_eq!(m.retries, u64::from(policy.max_retries));
    assert_eq!(m.search_calls, attempts);
    // wiremock checks `expect(attempts)` when the server drops.
}

#[tokio::test]
async fn zero_retries_means_one_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    let policy = ProviderPolicy {
        max_retries: 0,
        ..fast_policy()
    };
    let metrics = Arc::new(Metrics::default());
    let search = wrap_search(serper(&server, &policy), &policy, metrics.clone());
    let err = search.search(&SearchQuery::new("x")).await.unwrap_err();
    assert!(
        matches!(err, Error::Upstream { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(metrics.snapshot().retries, 0);
}

#[tokio::test]
async fn fatal_errors_are_not_retried() {
    for status in [401, 403, 402] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .respond_with(ResponseTemplate::new(status))
            .expect(1)
            .mount(&server)
            .await;
        let policy = fast_policy();
        let metrics = Arc::new(Metrics::default());
        let model = wrap_llm(llm(&server, &policy), &policy, metrics.clone());

        let err = model.complete(&chat()).await.unwrap_err();

        assert!(err.is_fatal(), "{status}: {err:?}");
        let m = metrics.snapshot();
        assert_eq!((m.retries, m.llm_calls), (0, 1), "{status}");
    }
}

#[tokio::test]
async fn client_errors_and_bad_responses_are_not_retried() {
    let cases = [
        ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "bad"}})),
        ResponseTemplate::new(404),
        ResponseTemplate::new(200).set_body_string("not json"),
        completion(json!(null)),
    ];
    for template in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .expect(1)
            .mount(&server)
            .await;
        let policy = fast_policy();
        let metrics = Arc::new(Metrics::default());
        let model = wrap_llm(llm(&server, &policy), &policy, metrics.clone());

        let err = model.complete(&chat()).await.unwrap_err();

        assert!(
            // A bare 404 from the chat endpoint means a wrong LLM_BASE_URL: fatal.
            matches!(
                err,
                Error::Upstream { .. } | Error::BadResponse { .. } | Error::RequestRejected { .. }
            ),
            "{err:?}"
        );
        assert_eq!(metrics.snapshot().retries, 0, "{err:?}");
        server.verify().await;
    }
}

#[tokio::test]
async fn timeouts_are_retried() {
    let server = MockServer::start().await;
    let policy = ProviderPolicy {
        max_retries: 1,
        request_timeout: Duration::from_millis(200),
        ..fast_policy()
    };
    Mock::given(method("POST"))
        .respond_with(serper_ok().set_delay(Duration::from_secs(2)))
        .expect(2)
        .mount(&server)
        .await;
    let metrics = Arc::new(Metrics::default());
    let search = wrap_search(serper(&server, &policy), &policy, metrics.clone());

    let err = search.search(&SearchQuery::new("x")).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Timeout {
                provider: ProviderKind::Search
            }
        ),
        "{err:?}"
    );
    assert_eq!(metrics.snapshot().retries, 1);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_is_returned_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "121"))
        .expect(1)
        .mount(&server)
        .await;
    let policy = fast_policy();
    assert_eq!(policy.max_retry_after, Duration::from_secs(120));
    let metrics = Arc::new(Metrics::default());
    let search = wrap_search(serper(&server, &policy), &policy, metrics.clone());

    let err = search.search(&SearchQuery::new("x")).await.unwrap_err();

    // Longer than OUTREACH_MAX_WAIT_SECS: the run stops with one message.
    match &err {
        Error::QuotaExhausted { retry_after, .. } => {
            assert_eq!(*retry_after, Duration::from_secs(121));
            assert!(err.to_string().contains("OUTREACH_MAX_WAIT_SECS"), "{err}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_fatal());
    assert_eq!(metrics.snapshot().retries, 0);
}

/// An in-process provider that records how many calls overlap, and fails the first
/// `failures` calls with a retryable 503.
#[derive(Debug, Default)]
struct Fake {
    delay: Duration,
    failures: AtomicUsize,
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Fake {
    fn slow(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    fn failing(failures: usize) -> Self {
        Self {
            failures: AtomicUsize::new(failures),
            ..Self::default()
        }
    }

    async fn call(&self, provider: ProviderKind) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(Error::Upstream {
                provider,
                status: 503,
                body: String::new(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl SearchProvider for Fake {
    async fn search(&self, _query: &SearchQuery) -> Result<SearchResults> {
        self.call(ProviderKind::Search).await?;
        Ok(SearchResults::default())
    }
}

#[async_trait]
impl Llm for Fake {
    async fn complete(&self, _request: &ChatRequest) -> Result<ChatResponse> {
        self.call(ProviderKind::Llm).await?;
        Ok(ChatResponse {
            content: "ok".into(),
            usage: Usage {
                prompt_tokens: 10,
                completion_tokens: 2,
            },
            ..ChatResponse::default()
        })
    }
}

#[tokio::test]
async fn concurrency_limit_bounds_requests_in_flight() {
    let limited = Limit::new(Fake::slow(Duration::from_millis(50)), 3, None);
    let query = SearchQuery::new("x");
    let request = chat();

    let searches = join_all((0..20).map(|_| limited.search(&query))).await;
    assert!(searches.iter().all(Result::is_ok));
    // Twenty calls were ready at once: the limit, not a lack of demand, capped them.
    assert_eq!(limited.inner().max_in_flight.load(Ordering::SeqCst), 3);

    // The same limiter governs the Llm side.
    let completions = join_all((0..20).map(|_| limited.complete(&request))).await;
    assert!(completions.iter().all(Result::is_ok));
    assert_eq!(limited.inner().max_in_flight.load(Ordering::SeqCst), 3);
    assert_eq!(limited.inner().calls.load(Ordering::SeqCst), 40);
}

#[tokio::test]
async fn zero_concurrency_is_treated_as_one() {
    let limited = Limit::new(Fake::slow(Duration::from_millis(5)), 0, None);
    let query = SearchQuery::new("x");
    let results = join_all((0..5).map(|_| limited.search(&query))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(limited.inner().max_in_flight.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rate_limit_spaces_request_starts() {
    let limited = Limit::new(Fake::default(), 64, Some(20.0));
    let query = SearchQuery::new("x");

    let started = Instant::now();
    let results = join_all((0..30).map(|_| limited.search(&query))).await;

    assert!(results.iter().all(Result::is_ok));
    // 30 starts at 20/s, no burst: the last starts ~1.45 s after the first.
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rate_limit_applies_to_every_retry() {
    // Five attempts (four retries) with negligible backoff, at 10 starts per second:
    // if retries bypassed the rate limit this would take ~0 s, not >= 0.4 s.
    let policy = ProviderPolicy {
        max_retries: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        requests_per_second: Some(10.0),
        ..fast_policy()
    };
    let metrics = Arc::new(Metrics::default());
    let model = wrap_llm(Fake::failing(4), &policy, metrics.clone());

    let started = Instant::now();
    let response = model.complete(&chat()).await.unwrap();

    assert_eq!(response.content, "ok");
    assert!(
        started.elapsed() >= Duration::from_millis(380),
        "{:?}",
        started.elapsed()
    );
    let m = metrics.snapshot();
    assert_eq!((m.retries, m.llm_calls), (4, 5));
    assert_eq!((m.prompt_tokens, m.completion_tokens), (10, 2));
}

/// A limiter that counts how often it is asked and lets everything through.
#[derive(Debug, Default)]
struct CountingLimiter {
    asked: AtomicUsize,
}

#[async_trait]
impl RateLimiter for CountingLimiter {
    async fn until_ready(&self) {
        self.asked.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_given_limiter_replaces_the_local_rate_for_every_attempt() {
    // The policy's own rate (1/s) would make five attempts take ~4 s; with a limiter of
    // the caller's, that rate is not applied on top, and the limiter sees every attempt.
    let policy = ProviderPolicy {
        max_retries: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        requests_per_second: Some(1.0),
        ..fast_policy()
    };
    let limiter = Arc::new(CountingLimiter::default());
    let metrics = Arc::new(Metrics::default());
    let model = wrap_llm_with(Fake::failing(4), &policy, metrics.clone(), limiter.clone());
    let started = Instant::now();
    model.complete(&chat()).await.unwrap();
    assert_eq!(limiter.asked.load(Ordering::SeqCst), 5);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the policy's local rate was applied too: {:?}",
        started.elapsed()
    );

    // `Limit::with_limiter` keeps the concurrency bound.
    let limited = Limit::with_limiter(
        Fake::slow(Duration::from_millis(20)),
        2,
        limiter.clone() as Arc<dyn RateLimiter>,
    );
    let query = SearchQuery::new("x");
    let results = join_all((0..10).map(|_| limited.search(&query))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(limited.inner().max_in_flight.load(Ordering::SeqCst), 2);
    assert_eq!(limiter.asked.load(Ordering::SeqCst), 15);
}

#[tokio::test]
async fn metered_counts_each_call_and_tokens_of_successes() {
    let metrics = Arc::new(Metrics::default());
    let metered = Metered::new(Fake::failing(1), metrics.clone());

    assert!(metered.complete(&chat()).await.is_err());
    metered.complete(&chat()).await.unwrap();
    metered.search(&SearchQuery::new("x")).await.unwrap();

    let m = metrics.snapshot();
    assert_eq!((m.llm_calls, m.search_calls, m.retries), (2, 1, 0));
    assert_eq!((m.prompt_tokens, m.completion_tokens), (10, 2));
}

#[test]
fn policy_defaults() {
    let search = ProviderPolicy::search();
    assert_eq!(search, ProviderPolicy::default());
    assert_eq!(search.max_retries, 3);
    assert_eq!(search.base_delay, Duration::from_millis(250));
    assert_eq!(search.max_delay, Duration::from_secs(8));
    assert_eq!(search.concurrency, 64);
    assert_eq!(search.requests_per_second, None, "no fixed rate: learned");
    assert_eq!(search.max_retry_after, Duration::from_secs(120));
    assert_eq!(search.breaker_failures, 20);
    assert_eq!(search.connect_timeout, Duration::from_secs(10));
    assert_eq!(search.request_timeout, Duration::from_secs(30));
    let llm = ProviderPolicy::llm();
    assert_eq!(llm.request_timeout, Duration::from_secs(60));
    assert_eq!(llm.concurrency, 64);
    assert_eq!(llm.requests_per_second, None);
}
