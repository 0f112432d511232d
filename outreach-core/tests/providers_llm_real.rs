//! `OpenAiClient` against a real OpenAI-compatible server with a real model: llama.cpp
//! through llama-cpp-python's server, serving SmolLM2-135M-Instruct.
//!
//! Run through `scripts/test-llm-real.sh` (or `scripts/test.sh`), which starts the
//! server with `scripts/services/llama.sh` and sets `OUTREACH_TEST_LLM_URL` and
//! `OUTREACH_TEST_LLM_MODEL`. Without them these tests fail, unless
//! `OUTREACH_SKIP_SERVICES=1` says to skip them.
//!
//! That server answers `response_format: {"type": "json_schema", …}` with HTTP 500 and
//! enforces `{"type": "json_object", "schema": …}` with a grammar, so the client must
//! step down once and remember it. The model is tiny: these tests check the protocol
//! and the shape of a real model's output, not the quality of what it writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use outreach_core::providers::{
    ChatMessage, ChatRequest, JsonForm, Llm, LlmConfig, OpenAiClient, ReplyFormat,
};
use outreach_core::research::parse::parse_json_object;
use outreach_core::research::prompt::research_schema;
use outreach_core::research::Research;

/// The server's base URL and model alias; `None` (after printing why) when services are
/// skipped.
fn server(test: &str) -> Option<(String, String)> {
    match std::env::var("OUTREACH_TEST_LLM_URL") {
        Ok(url) if !url.trim().is_empty() => Some((
            url,
            std::env::var("OUTREACH_TEST_LLM_MODEL").unwrap_or_else(|_| "smollm2".into()),
        )),
        _ if std::env::var("OUTREACH_SKIP_SERVICES").as_deref() == Ok("1") => {
            eprintln!("skipped {test}: OUTREACH_SKIP_SERVICES=1 (no LLM server)");
            None
        }
        _ => panic!(
            "OUTREACH_TEST_LLM_URL is not set: run scripts/test-llm-real.sh, or set OUTREACH_SKIP_SERVICES=1"
        ),
    }
}

fn client(url: String, model: String) -> OpenAiClient {
    OpenAiClient::new(LlmConfig {
        base_url: url,
        model,
        // A 135M model on two shared cores: seconds per call, more when the machine is busy.
        request_timeout: Duration::from_secs(300),
        ..LlmConfig::new("no-key-needed")
    })
    .unwrap()
}

const FINDINGS: &str = "Prospect email: jane@acme.io\n\nPerson search \"Jane Doe Acme\":\n- Jane Doe - VP Sales - Acme | LinkedIn — Jane Doe is VP Sales at Acme, the payroll software company. [https://www.linkedin.com/in/janedoe]\n\nCompany search \"acme.io\":\n- Acme — Payroll for small teams — Acme raised a $12M Series A in 2024. [https://acme.io]\n";

fn research_request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::system(format!(
                "Extract what the findings say about the person and the company. Reply with one JSON object in exactly this shape: {}",
                outreach_core::research::prompt::RESEARCH_SCHEMA
            )),
            ChatMessage::user(FINDINGS),
        ],
        temperature: Some(0.2),
        format: ReplyFormat::JsonSchema(research_schema()),
        max_tokens: Some(400),
        reasoning_effort: None,
    }
}

#[tokio::test]
async fn the_json_form_is_negotiated_once_and_the_reply_follows_the_schema() {
    let Some((url, model)) = server("the_json_form_is_negotiated_once") else {
        return;
    };
    let llm = client(url, model);
    assert_eq!(llm.adaptations().json_form, None);

    let first = llm.complete(&research_request()).await.unwrap();
    // json_schema is refused (HTTP 500), json_object + schema is enforced.
    assert_eq!(
        first.json_form,
        Some(JsonForm::JsonObjectSchema),
        "{first:?}"
    );
    assert_eq!(
        llm.adaptations().json_form,
        Some(JsonForm::JsonObjectSchema)
    );
    let research: Research = parse_json_object(&first.content)
        .unwrap_or_else(|| panic!("grammar-enforced reply does not parse: {}", first.content));
    // The grammar forces the shape; the words are the model's.
    assert!(!research.person.name.is_empty() && !research.company.name.is_empty());
    assert!(first.usage.prompt_tokens > 0 && first.usage.completion_tokens > 0);

    // Remembered: the second request goes straight to the form that works.
    let second = llm.complete(&research_request()).await.unwrap();
    assert_eq!(second.json_form, Some(JsonForm::JsonObjectSchema));
    assert!(
        parse_json_object::<Research>(&second.content).is_some(),
        "{}",
        second.content
    );
}

#[tokio::test]
async fn text_requests_get_plain_text() {
    let Some((url, model)) = server("text_requests_get_text") else {
        return;
    };
    let reply = client(url, model)
        .complete(&ChatRequest {
            messages: vec![ChatMessage::user("Say hello in five words.")],
            temperature: Some(0.6),
            max_tokens: Some(40),
            ..ChatRequest::default()
        })
        .await
        .unwrap();
    assert!(!reply.content.trim().is_empty(), "{reply:?}");
    assert_eq!(reply.json_form, None);
}
