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
