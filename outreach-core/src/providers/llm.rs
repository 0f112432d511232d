//! The `Llm` port: chat completion with normalised request/response types.
//! OpenAI-compatible JSON stays in the adapter.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A JSON Schema the reply must follow, with the name OpenAI-style servers want for it.
/// Build it from Rust types with [`JsonSchemaSpec::for_type`] so the schema, the parser
/// and the docs cannot drift apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaSpec {
    /// `^[a-zA-Z0-9_-]{1,64}$` (OpenAI's rule for `json_schema.name`).
    pub name: String,
    /// A schema in the strict subset: every object closed (`additionalProperties:
    /// false`) with every property required, no `$ref`, no `default`/`format`.
    pub schema: serde_json::Value,
}

impl JsonSchemaSpec {
    /// The strict schema of `T` (see [`crate::providers::schema`]).
    pub fn for_type<T: schemars::JsonSchema>(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            schema: super::schema::strict_schema_for::<T>(),
        }
    }
}

/// What shape the reply must have.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyFormat {
    /// Free text (no `response_format`).
    #[default]
    Text,
    /// Some JSON object (`response_format: {"type": "json_object"}`).
    JsonObject,
    /// A JSON object following this schema. The adapter picks the strongest form the
    /// server accepts (see [`JsonForm`]); the prompt should still describe the shape,
    /// because the weakest form is prompt-only.
    JsonSchema(JsonSchemaSpec),
}

impl ReplyFormat {
    /// True for both JSON formats.
    pub fn is_json(&self) -> bool {
        !matches!(self, ReplyFormat::Text)
    }
}

/// How hard a reasoning model thinks before it answers (`reasoning_effort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    Low,
    Medium,
    High,
}

impl ReasoningEffort {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
        }
    }

    /// `low`, `medium` or `high` (any case); `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "low" => Some(ReasoningEffort::Low),
            "medium" => Some(ReasoningEffort::Medium),
            "high" => Some(ReasoningEffort::High),
            _ => None,
        }
    }
}

/// A chat completion request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub temperature: Option<f32>,
    /// Text, any JSON object, or JSON following a schema.
    pub format: ReplyFormat,
    /// Tokens for the visible answer. A reasoning model's adapter adds room for the
    /// reasoning on top (its reasoning tokens come out of the same budget).
    pub max_tokens: Option<u32>,
    /// Overrides the client's configured effort for this request.
    pub reasoning_effort: Option<ReasoningEffort>,
}

/// Token counts as the provider reports them (zero when it does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end (`stop`), or the server did not say.
    #[default]
    Stop,
    /// The token budget ran out (`length`) even after the adapter's one larger retry:
    /// the content may be cut.
    Length,
    /// The server rejected the generation as invalid JSON (Groq's 400
    /// `json_validate_failed`); the content is the rejected text (`failed_generation`),
    /// possibly empty. Parse it like any reply; re-ask when it does not parse.
    JsonInvalid,
    /// Anything else the server said (`content_filter`, `tool_calls`, …).
    Other(String),
}

/// Which JSON form a server was asked for, strongest first. The adapter starts with
/// the strongest and steps down when a server rejects a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonForm {
    /// `{"type": "json_schema", "json_schema": {"name", "strict": true, "schema"}}`
    /// (OpenAI, Groq, vLLM, Ollama, llama.cpp's `llama-server`).
    JsonSchema,
    /// `{"type": "json_object", "schema": …}` (llama-cpp-python's server: grammar-enforced).
    JsonObjectSchema,
    /// `{"type": "json_object"}`: valid JSON, shape only from the prompt.
    JsonObject,
    /// No `response_format` at all: the prompt alone asks for JSON.
    PromptOnly,
}

impl JsonForm {
    /// The next weaker form, if any.
    pub fn weaker(self) -> Option<Self> {
        match self {
            JsonForm::JsonSchema => Some(JsonForm::JsonObjectSchema),
            JsonForm::JsonObjectSchema => Some(JsonForm::JsonObject),
            JsonForm::JsonObject => Some(JsonForm::PromptOnly),
            JsonForm::PromptOnly => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JsonForm::JsonSchema => "json_schema",
            JsonForm::JsonObjectSchema => "json_object+schema",
            JsonForm::JsonObject => "json_object",
            JsonForm::PromptOnly => "prompt-only",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The first choice's message content, without any reasoning: `reasoning` /
    /// `reasoning_content` fields and `<think>…</think>` blocks never reach it.
    pub content: String,
    pub usage: Usage,
    pub finish_reason: FinishReason,
    /// The JSON form the request was sent with (`None` for text requests).
    pub json_form: Option<JsonForm>,
}

/// Chat completion.
///
/// # Contract
/// Same error mapping as [`crate::providers::SearchProvider`]; a 2xx body without a
/// first choice's content is [`crate::Error::BadResponse`]. No retries inside adapters.
#[async_trait]
pub trait Llm: Send + Sync + Debug + 'static {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse>;

    /// The model names the endpoint says it serves (OpenAI's `GET /models`), for the
    /// preflight's diagnosis only: some servers (llama-cpp-python, proxies) answer a
    /// completion for an unknown model with another one instead of a 404. `Ok(None)`
    /// when it cannot say (no remote endpoint, or one that lists nothing). Wrappers
    /// pass it straight through, outside their policies: it is not a completion.
    async fn served_models(&self) -> Result<Option<Vec<String>>> {
        Ok(None)
    }
}

#[async_trait]
impl<T: Llm + ?Sized> Llm for Arc<T> {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        (**self).complete(request).await
    }
    async fn served_models(&self) -> Result<Option<Vec<String>>> {
        (**self).served_models().await
    }
}

#[async_trait]
impl<T: Llm + ?Sized> Llm for Box<T> {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        (**self).complete(request).await
    }
    async fn served_models(&self) -> Result<Option<Vec<String>>> {
        (**self).served_models().await
    }
}
