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

/// A chat completion request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub temperature: Option<f32>,
    /// Ask for a JSON object (`response_format: {"type": "json_object"}`).
    pub json_mode: bool,
    pub max_tokens: Option<u32>,
}

/// Token counts as the provider reports them (zero when it does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The first choice's message content.
    pub content: String,
    pub usage: Usage,
}

/// Chat completion.
///
/// # Contract
/// Same error mapping as [`crate::providers::SearchProvider`]; a 2xx body without a
/// first choice's content is [`crate::Error::BadResponse`]. No retries inside adapters.
#[async_trait]
pub trait Llm: Send + Sync + Debug + 'static {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse>;
}

#[async_trait]
impl<T: Llm + ?Sized> Llm for Arc<T> {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        (**self).complete(request).await
    }
}

#[async_trait]
impl<T: Llm + ?Sized> Llm for Box<T> {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        (**self).complete(request).await
    }
}
