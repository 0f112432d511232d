//! [`OpenAiClient`]: the [`Llm`] adapter for any OpenAI-compatible chat-completions
//! endpoint (Groq by default; OpenAI, vLLM, Ollama, llama.cpp server). The wire JSON
//! stays in this file; callers see [`ChatRequest`] and [`ChatResponse`].

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use serde::{Deserialize, Serialize};

use super::http;
use super::llm::{ChatMessage, ChatRequest, ChatResponse, Llm, Usage};
use super::policy::{ProviderPolicy, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LLM_TIMEOUT};
use crate::error::{Error, ProviderKind, Result};

/// Groq's OpenAI-compatible API.
pub const DEFAULT_LLM_BASE_URL: &str = "https://api.groq.com/openai/v1";
pub const DEFAULT_LLM_MODEL: &str = "openai/gpt-oss-120b";

const PROVIDER: ProviderKind = ProviderKind::Llm;

/// How to reach the model. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct LlmConfig {
    /// The API root, e.g. `https://api.openai.com/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    pub connect_timeout: Duration,
    /// Bounds the whole request, body included.
    pub request_timeout: Duration,
}

impl LlmConfig {
    /// Groq with the default model and timeouts, with this key.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_LLM_BASE_URL.to_owned(),
            api_key: api_key.into(),
            model: DEFAULT_LLM_MODEL.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_LLM_TIMEOUT,
        }
    }

    /// Reads `GROQ_API_KEY` (or else `LLM_API_KEY`), `LLM_BASE_URL` and `LLM_MODEL`.
    /// `None` when neither key is set to something non-empty: the engine then writes
    /// fallbacks instead of calling a model.
    pub fn from_env() -> Option<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] over any variable source (tests, config files).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut config = Self::new(var("GROQ_API_KEY").or_else(|| var("LLM_API_KEY"))?);
        if let Some(base_url) = var("LLM_BASE_URL") {
            config.base_url = base_url;
        }
        if let Some(model) = var("LLM_MODEL") {
            config.model = model;
        }
        Some(config)
    }

    /// Takes the connect and request timeouts from `policy`.
    pub fn with_timeouts(mut self, policy: &ProviderPolicy) -> Self {
        self.connect_timeout = policy.connect_timeout;
        self.request_timeout = policy.request_timeout;
        self
    }
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// An OpenAI-compatible chat-completions client. Cheap to share: hold it in an `Arc`
/// (or wrap it with [`crate::providers::wrap_llm`]); the connection pool is inside.
#[derive(Debug)]
pub struct OpenAiClient {
    url: String,
    model: String,
    authorization: HeaderValue,
    client: reqwest::Client,
}

impl OpenAiClient {
    /// Fails only on an unusable configuration (a key that cannot be an HTTP header,
    /// a TLS backend that cannot start).
    pub fn new(config: LlmConfig) -> Result<Self> {
        Ok(Self {
            url: format!("{}/chat/completions", config.base_url.trim_end_matches('/')),
            authorization: http::secret_header(PROVIDER, &format!("Bearer {}", config.api_key))?,
            client: http::build_client(PROVIDER, config.connect_timeout, config.request_timeout)?,
            model: config.model,
        })
    }

    /// The model every request names.
    pub fn model(&self) -> &str {
        &self.model
    }
}

#[async_trait]
impl Llm for OpenAiClient {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let body = WireRequest {
            model: &self.model,
            messages: &request.messages,
            temperature: request.temperature,
            max_tokens: request.max_tokens,
            response_format: request.json_mode.then_some(ResponseFormat {
                kind: "json_object",
            }),
        };
        let http_request = self
            .client
            .post(&self.url)
            .header(AUTHORIZATION, self.authorization.clone())
            .json(&body);
        let wire: WireResponse = http::send_json(PROVIDER, http_request).await?;
        wire.try_into()
    }
}

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    /// [`ChatMessage`] serialises as `{"role": "system"|"user"|"assistant", "content"}`,
    /// which is already the wire shape.
    messages: &'a [ChatMessage],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat>,
}

#[derive(Serialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The parts of a chat completion we use; other fields (`id`, `x_groq`, reasoning
/// text, `finish_reason`, …) are ignored.
#[derive(Deserialize)]
struct WireResponse {
    choices: Option<Vec<WireChoice>>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: Option<WireMessage>,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl TryFrom<WireResponse> for ChatResponse {
    type Error = Error;

    fn try_from(wire: WireResponse) -> Result<Self> {
        let content = wire
            .choices
            .and_then(|choices| choices.into_iter().next())
            .and_then(|choice| choice.message)
            .and_then(|message| message.content)
            .ok_or_else(|| Error::BadResponse {
                provider: PROVIDER,
                message: "no content in the first choice".into(),
            })?;
        let usage = wire.usage.map_or_else(Usage::default, |u| Usage {
            prompt_tokens: u.prompt_tokens.unwrap_or(0),
            completion_tokens: u.completion_tokens.unwrap_or(0),
        });
        Ok(ChatResponse { content, usage })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn from_lookup_prefers_groq_key() {
        assert_eq!(LlmConfig::from_lookup(env(&[])), None);
        assert_eq!(LlmConfig::from_lookup(env(&[("GROQ_API_KEY", "")])), None);
        let c = LlmConfig::from_lookup(env(&[("GROQ_API_KEY", ""), ("LLM_API_KEY", "l")])).unwrap();
        assert_eq!(c.api_key, "l");
        let c =
            LlmConfig::from_lookup(env(&[("GROQ_API_KEY", "g"), ("LLM_API_KEY", "l")])).unwrap();
        assert_eq!(
            (c.api_key.as_str(), c.base_url.as_str(), c.model.as_str()),
            ("g", DEFAULT_LLM_BASE_URL, DEFAULT_LLM_MODEL)
        );
        let c = LlmConfig::from_lookup(env(&[
            ("LLM_API_KEY", "l"),
            ("LLM_BASE_URL", "http://localhost:8000/v1/"),
            ("LLM_MODEL", "m"),
        ]))
        .unwrap();
        assert_eq!(
            (c.base_url.as_str(), c.model.as_str()),
            ("http://localhost:8000/v1/", "m")
        );
        assert_eq!(c.request_timeout, DEFAULT_LLM_TIMEOUT);
    }

    #[test]
    fn url_handles_trailing_slash_and_debug_hides_key() {
        for base in ["http://h/v1", "http://h/v1/"] {
            let client = OpenAiClient::new(LlmConfig {
                base_url: base.into(),
                ..LlmConfig::new("sk-secret-999")
            })
            .unwrap();
            assert_eq!(client.url, "http://h/v1/chat/completions");
            assert!(!format!("{client:?}").contains("sk-secret-999"));
        }
    }
}
