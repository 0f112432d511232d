//! Provider ports (`SearchProvider`, `Llm`), their HTTP adapters, and the policies
//! (retry, limits, metering) that wrap them.
//!
//! | file | job |
//! |---|---|
//! | `search.rs`, `llm.rs` | the ports and their normalised types |
//! | `serper.rs` | Serper → [`SearchProvider`] |
//! | `openai.rs` | any OpenAI-compatible chat API → [`Llm`] |
//! | `schema.rs` | strict JSON Schemas for structured outputs, generated from Rust types |
//! | `http.rs` | what both adapters share: client, status → [`crate::Error`], `Retry-After` |
//! | `rate_headers.rs` | the `x-ratelimit-*` / `Retry-After` headers of every response, handed to the limiter |
//! | `policy/` | [`Retry`], [`Limit`], [`Metered`], [`ProviderPolicy`], [`wrap_search`], [`wrap_llm`] |

pub(crate) mod http;
pub mod llm;
pub mod openai;
pub mod policy;
pub mod rate_headers;
pub mod schema;
pub mod search;
pub mod serper;

pub use llm::{
    ChatMessage, ChatRequest, ChatResponse, FinishReason, JsonForm, JsonSchemaSpec, Llm,
    ReasoningEffort, ReplyFormat, Role, Usage,
};
pub use openai::{LlmConfig, OpenAiClient, DEFAULT_LLM_BASE_URL, DEFAULT_LLM_MODEL};
pub use policy::{
    wrap_llm, wrap_llm_with, wrap_search, wrap_search_with, Limit, LocalRateLimiter, Metered,
    ProviderPolicy, RateLimiter, Retry,
};
pub use search::{KnowledgeGraph, SearchHit, SearchProvider, SearchQuery, SearchResults};
pub use serper::{SerperClient, SerperConfig, DEFAULT_SERPER_URL};
