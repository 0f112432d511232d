//! `OpenAiClient` against a wiremock server speaking the OpenAI chat-completions JSON
//! (as Groq sends it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use outreach_core::providers::{
    ChatMessage, ChatRequest, ChatResponse, FinishReason, JsonForm, Llm, LlmConfig, OpenAiClient,
    ReplyFormat, Usage,
};
use outreach_core::{Error, ProviderKind};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "gsk_test_key";
const MODEL: &str = "openai/gpt-oss-120b";

/// A real-shaped Groq completion, with the fields the adapter must ignore.
fn completion(content: serde_json::Value) -> serde_json::Value {
    json!({
        "id": "chatcmpl-0b1c",
        "object": "chat.completion",
        "created": 1_760_000_000,
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "reasoning": "The user wants JSON."},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "queue_time": 0.05,
            "prompt_tokens": 123,
            "prompt_time": 0.01,
            "completion_tokens": 45,
            "completion_time": 0.2,
            "total_tokens": 168,
            "total_time": 0.21
        },
        "system_fingerprint": "fp_1",
        "x_groq": {"id": "req_01"}
    })
}

fn client_for(base_url: String) -> OpenAiClient {
    OpenAiClient::new(LlmConfig {
        base_url,
        request_timeout: Duration::from_millis(500),
        ..LlmConfig::new(KEY)
    })
    .unwrap()
}

fn client(server: &MockServer) -> OpenAiClient {
    client_for(format!("{}/openai/v1", server.uri()))
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user("hi")],
        ..ChatRequest::default()
    }
}

async fn answer(template: ResponseTemplate) -> Result<ChatResponse, Error> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/v1/chat/completions"))
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    client(&server).complete(&request()).await
}

#[tokio::test]
async fn success_sends_the_documented_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are a researcher."},
                {"role": "user", "content": "Research jane@acme.io"},
                {"role": "assistant", "content": "{}"}
            ],
            "temperature": 0.2,
            // 800 for the answer + 512 for gpt-oss's reasoning at the default `low`.
            "max_tokens": 1312,
            "reasoning_effort": "low",
            "response_format": {"type": "json_object"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(json!("{\"ok\":true}"))))
        .expect(1)
        .mount(&server)
        .await;

    let response = client(&server)
        .complete(&ChatRequest {
            messages: vec![
                ChatMessage::system("You are a researcher."),
                ChatMessage::user("Research jane@acme.io"),
                ChatMessage::assistant("{}"),
            ],
            temperature: Some(0.2),
            format: ReplyFormat::JsonObject,
            max_tokens: Some(800),
            reasoning_effort: None,
        })
        .await
        .unwrap();

    assert_eq!(
        response,
        ChatResponse {
            content: "{\"ok\":true}".into(),
            usage: Usage {
                prompt_tokens: 123,
                completion_tokens: 45
            },
            finish_reason: FinishReason::Stop,
            json_form: Some(JsonForm::JsonObject),
        }
    );
}

#[tokio::test]
async fn optional_fields_are_omitted_and_trailing_slash_is_handled() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_json(json!({
            "model": "llama3",
            "messages": [{"role": "user", "content": "hi"}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(json!("hello"))))
        .expect(1)
        .mount(&server)
        .await;
    let client = OpenAiClient::new(LlmConfig {
        base_url: format!("{}/v1/", server.uri()),
        model: "llama3".into(),
        ..LlmConfig::new(KEY)
    })
    .unwrap();
    assert_eq!(client.complete(&request()).await.unwrap().content, "hello");
}

#[tokio::test]
async fn missing_usage_counts_as_zero() {
    let mut body = completion(json!("hello"));
    body.as_object_mut().unwrap().remove("usage");
    let response = answer(ResponseTemplate::new(200).set_body_json(body))
        .await
        .unwrap();
    assert_eq!(response.usage, Usage::default());
    assert_eq!(response.content, "hello");
}

#[tokio::test]
async fn null_or_missing_content_is_bad_response() {
    let no_choices = json!({"id": "x", "choices": [], "usage": {"prompt_tokens": 1}});
    let no_message = json!({"choices": [{"index": 0, "finish_reason": "stop"}]});
    for body in [completion(json!(null)), no_choices, no_message] {
        let err = answer(ResponseTemplate::new(200).set_body_json(body.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadResponse {
                    provider: ProviderKind::Llm,
                    ..
                }
            ),
            "{body}: {err:?}"
        );
    }
}

#[tokio::test]
async fn unparseable_success_is_bad_response() {
    let err = answer(ResponseTemplate::new(200).set_body_string("data: {\"choices\""))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn unauthorized_is_auth_error() {
    let body = json!({"error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}});
    let err = answer(ResponseTemplate::new(401).set_body_json(body))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ProviderAuth {
                provider: ProviderKind::Llm,
                status: 401
            }
        ),
        "{err:?}"
    );
    assert!(err.is_fatal());
    assert!(!err.to_string().contains(KEY));
}

#[tokio::test]
async fn payment_required_is_out_of_credit() {
    let body = json!({"error": {"message": "Insufficient credits", "code": 402}});
    let err = answer(ResponseTemplate::new(402).set_body_json(body))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ProviderOutOfCredit {
                provider: ProviderKind::Llm
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let body = json!({"error": {"message": "Rate limit reached for model", "type": "tokens", "code": "rate_limit_exceeded"}});
    let err = answer(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "2")
            .set_body_json(body),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RateLimited { provider: ProviderKind::Llm, retry_after: Some(d) } if d == Duration::from_secs(2)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_error_is_upstream() {
    let err = answer(ResponseTemplate::new(500).set_body_string("internal"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Upstream { status: 500, body, .. } if body == "internal"),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn slow_answer_is_timeout() {
    let err = answer(
        ResponseTemplate::new(200)
            .set_body_json(completion(json!("late")))
            .set_delay(Duration::from_secs(3)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                provider: ProviderKind::Llm
            }
        ),
        "{err:?}"
    );
}

/// `GET /models` as llama-cpp-python's server answers it (`llama_cpp/server/app.py`,
/// `get_models`: one entry per model alias; 0.3.36).
fn llama_cpp_models(alias: &str) -> serde_json::Value {
    json!({
        "object": "list",
        "data": [{"id": alias, "object": "model", "owned_by": "me", "permissions": []}]
    })
}

/// The preflight of `outreach check` naming `model`, against a server that answers
/// every completion (as llama-cpp-python does, whatever the model) and lists `listed`
/// (`None`: no `/models` route, a 404). Through the real policy stack, whose wrappers
/// must pass the listing through.
async fn check_model(model: &str, listed: Option<serde_json::Value>) -> (String, String, usize) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(json!("{\"ok\": true}"))))
        .expect(1)
        .mount(&server)
        .await;
    if let Some(listed) = listed {
        Mock::given(method("GET"))
            .and(path("/v1/models"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(listed))
            .expect(1)
            .mount(&server)
            .await;
    }
    let metrics = std::sync::Arc::new(outreach_core::Metrics::default());
    let client = client_for(format!("{}/v1", server.uri()));
    let providers = outreach_core::Providers {
        search: None,
        llm: Some(outreach_core::providers::wrap_llm(
            client,
            &outreach_core::providers::ProviderPolicy::llm(),
            metrics.clone(),
        )),
        metrics,
        preflight: outreach_core::preflight::PreflightOnce::default(),
    };
    let report = outreach_core::preflight::check(&providers, Some(model)).await;
    let status = serde_json::to_value(report.llm.status).unwrap();
    let requests = server.received_requests().await.unwrap().len();
    (
        status.as_str().unwrap().to_owned(),
        report.llm.message,
        requests,
    )
}

#[tokio::test]
async fn a_model_the_endpoint_does_not_list_fails_the_check_though_it_answered() {
    let (status, message, requests) =
        check_model("gpt-nope", Some(llama_cpp_models("smollm2"))).await;
    assert_eq!(status, "failed", "{message}");
    assert!(message.contains("`gpt-nope`"), "{message}");
    assert!(message.contains("serves smollm2"), "{message}");
    assert_eq!(requests, 2, "one completion, one listing");

    let (status, message, _) = check_model("smollm2", Some(llama_cpp_models("smollm2"))).await;
    assert_eq!(status, "ok", "{message}");
    // Ollama lists `name:latest` and answers to `name`.
    let (status, message, _) = check_model("llama3", Some(llama_cpp_models("llama3:latest"))).await;
    assert_eq!(status, "ok", "{message}");
}

#[tokio::test]
async fn an_endpoint_without_a_model_list_is_taken_at_its_word() {
    let (status, message, requests) = check_model("gpt-nope", None).await;
    assert_eq!(status, "ok", "{message}");
    assert_eq!(requests, 2, "the listing was asked (and answered 404)");
    let (status, message, _) =
        check_model("gpt-nope", Some(json!({"object": "list", "data": []}))).await;
    assert_eq!(status, "ok", "an empty list says nothing: {message}");
    let (status, message, _) = check_model("gpt-nope", Some(json!({"models": ["x"]}))).await;
    assert_eq!(status, "ok", "another shape says nothing: {message}");
}

/// OpenAI's model list (API reference, "List models": `object`, `data[]` of `id`,
/// `object`, `created`, `owned_by`).
#[tokio::test]
async fn served_models_reads_the_openai_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/openai/v1/models"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [
                {"id": "gpt-4o-mini", "object": "model", "created": 1_721_172_741, "owned_by": "system"},
                {"id": "openai/gpt-oss-120b", "object": "model", "created": 1_754_408_224, "owned_by": "OpenAI"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        client(&server).served_models().await.unwrap(),
        Some(vec![
            "gpt-4o-mini".to_owned(),
            "openai/gpt-oss-120b".to_owned()
        ])
    );
    let unauthorized = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}
        })))
        .mount(&unauthorized)
        .await;
    assert!(matches!(
        client(&unauthorized).served_models().await,
        Err(Error::ProviderAuth { .. })
    ));
}
