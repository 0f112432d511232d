//! Limits learned from the provider, the circuit breaker and the longest wait, over
//! wiremock servers that answer with the headers and bodies real providers send.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use outreach_core::metrics::Metrics;
use outreach_core::providers::{
    wrap_llm, ChatMessage, ChatRequest, Limit, Llm, LlmConfig, OpenAiClient, ProviderPolicy,
};
use outreach_core::{Error, ProviderKind};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn policy() -> ProviderPolicy {
    ProviderPolicy {
        max_retries: 0,
        request_timeout: Duration::from_secs(5),
        ..ProviderPolicy::llm()
    }
}

fn client(server: &MockServer, policy: &ProviderPolicy) -> OpenAiClient {
    OpenAiClient::new(LlmConfig {
        base_url: server.uri(),
        ..LlmConfig::new("k").with_timeouts(policy)
    })
    .unwrap()
}

fn chat() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user("hi")],
        max_tokens: Some(100),
        ..ChatRequest::default()
    }
}

fn completion() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
    }))
}

/// The rate-limit headers of a Groq chat completion, with the values of Groq's
/// documentation (https://console.groq.com/docs/rate-limits), `remaining` and the
/// reset of the request bucket replaced by the test's.
fn with_groq_headers(
    response: ResponseTemplate,
    remaining_requests: u64,
    reset: &str,
) -> ResponseTemplate {
    response
        .insert_header("x-ratelimit-limit-requests", "14400")
        .insert_header("x-ratelimit-limit-tokens", "6000")
        .insert_header(
            "x-ratelimit-remaining-requests",
            remaining_requests.to_string().as_str(),
        )
        .insert_header("x-ratelimit-remaining-tokens", "5997")
        .insert_header("x-ratelimit-reset-requests", reset)
        .insert_header("x-ratelimit-reset-tokens", "7.66s")
}

#[tokio::test]
async fn headers_of_every_response_reach_the_limiter() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(with_groq_headers(completion(), 14370, "2m59.56s"))
        .expect(1)
        .mount(&server)
        .await;
    let limited = Limit::new(client(&server, &policy()), 4, None);
    assert_eq!(
        limited.limiter().snapshot().unwrap().requests_per_second,
        None
    );

    limited.complete(&chat()).await.unwrap();

    let snapshot = limited.limiter().snapshot().unwrap();
    let headers = snapshot.last_headers.unwrap();
    assert_eq!(headers.remaining_requests, Some(14370));
    assert_eq!(headers.reset_requests, Some(Duration::from_millis(179_560)));
    // The bucket (14400) over the time until it is full (179.56 s); the tokens are
    // not counted for a request of no estimated size.
    let pace = snapshot.requests_per_second.unwrap();
    assert!((pace - 14400.0 / 179.56).abs() < 0.01, "{pace}");
}

#[tokio::test]
async fn an_exhausted_bucket_longer_than_the_max_wait_stops_without_another_call() {
    let server = MockServer::start().await;
    // Groq's answer when the daily tokens are gone (the body of the 429s quoted in
    // aider issue #3265 and in this repository's issue 10: "try again in 9m38s").
    let body = json!({"error": {
        "message": "Rate limit reached for model `openai/gpt-oss-120b` in organization `org_01` service tier `on_demand` on tokens per day (TPD): Limit 200000, Used 199950, Requested 1200. Please try again in 9m38.4s. Visit https://console.groq.com/docs/rate-limits for more information.",
        "type": "tokens", "code": "rate_limit_exceeded"}});
    let exhausted = ResponseTemplate::new(429)
        .insert_header("retry-after", "579")
        .set_body_json(body);
    Mock::given(method("POST"))
        .respond_with(with_groq_headers(exhausted, 0, "9m38.4s"))
        .expect(1)
        .mount(&server)
        .await;
    let metrics = Arc::new(Metrics::default());
    let model = wrap_llm(client(&server, &policy()), &policy(), metrics.clone());

    let first = model.complete(&chat()).await.unwrap_err();
    assert!(
        matches!(first, Error::QuotaExhausted { provider: ProviderKind::Llm, retry_after, .. } if retry_after >= Duration::from_secs(578)),
        "{first:?}"
    );
    assert!(first.is_fatal());
    assert!(
        first.to_string().contains("OUTREACH_MAX_WAIT_SECS"),
        "{first}"
    );
    // The limiter knows the bucket is empty for 9m38s: the next call is refused
    // before it reaches the provider (wiremock checks `expect(1)`).
    let second = model.complete(&chat()).await.unwrap_err();
    assert!(
        matches!(second, Error::QuotaExhausted { provider: ProviderKind::Llm, retry_after, .. } if retry_after > Duration::from_secs(120)),
        "{second:?}"
    );
    assert_eq!(metrics.snapshot().llm_calls, 1);
}

#[tokio::test]
async fn a_short_exhaustion_is_waited_out() {
    let server = MockServer::start().await;
    // Two requests per bucket, none left, full in 300 ms: one is back in 150 ms.
    Mock::given(method("POST"))
        .respond_with(
            completion()
                .insert_header("x-ratelimit-limit-requests", "2")
                .insert_header("x-ratelimit-remaining-requests", "0")
                .insert_header("x-ratelimit-reset-requests", "300ms"),
        )
        .expect(2)
        .mount(&server)
        .await;
    let limited = Limit::new(client(&server, &policy()), 4, None);
    limited.complete(&chat()).await.unwrap();
    let started = std::time::Instant::now();
    limited.complete(&chat()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_429_without_headers_cuts_the_rate() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion())
        .up_to_n_times(10)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .mount(&server)
        .await;
    let limited = Limit::new(client(&server, &policy()), 4, None);
    for _ in 0..10 {
        limited.complete(&chat()).await.unwrap();
    }
    assert_eq!(
        limited.limiter().snapshot().unwrap().requests_per_second,
        None
    );
    let err = limited.complete(&chat()).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    let snapshot = limited.limiter().snapshot().unwrap();
    assert_eq!(snapshot.cuts, 1);
    assert!(snapshot.requests_per_second.is_some_and(|r| r > 0.0));
}

#[tokio::test]
async fn the_breaker_stops_after_n_failures_of_one_kind() {
    let server = MockServer::start().await;
    // An Ollama-style error body for a model the server does not have; as a 500 it is
    // not a client error the adapter could classify, only a failure that repeats.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": "model \"nope\" not found, try pulling it first"})),
        )
        .expect(3)
        .mount(&server)
        .await;
    let policy = ProviderPolicy {
        breaker_failures: 3,
        ..policy()
    };
    let metrics = Arc::new(Metrics::default());
    let model = wrap_llm(client(&server, &policy), &policy, metrics.clone());

    for _ in 0..2 {
        let err = model.complete(&chat()).await.unwrap_err();
        assert!(
            matches!(err, Error::Upstream { status: 500, .. }),
            "{err:?}"
        );
    }
    let third = model.complete(&chat()).await.unwrap_err();
    assert!(
        matches!(&third, Error::ProviderFailing { failures: 3, reason, .. } if reason.contains("not found")),
        "{third:?}"
    );
    assert!(third.is_fatal());
    // Open: no more calls reach the provider.
    let fourth = model.complete(&chat()).await.unwrap_err();
    assert!(
        matches!(fourth, Error::ProviderFailing { .. }),
        "{fourth:?}"
    );
    assert_eq!(metrics.snapshot().llm_calls, 3);
}

#[tokio::test]
async fn a_success_or_another_kind_resets_the_breaker() {
    let server = MockServer::start().await;
    let policy = ProviderPolicy {
        breaker_failures: 2,
        ..policy()
    };
    let metrics = Arc::new(Metrics::default());
    let model = wrap_llm(client(&server, &policy), &policy, metrics.clone());
    for status in [500, 502, 500] {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let err = model.complete(&chat()).await.unwrap_err();
        assert!(matches!(err, Error::Upstream { .. }), "{status}: {err:?}");
    }
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(completion())
        .mount(&server)
        .await;
    model.complete(&chat()).await.unwrap();
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let err = model.complete(&chat()).await.unwrap_err();
    assert!(matches!(err, Error::Upstream { .. }), "{err:?}");
}
