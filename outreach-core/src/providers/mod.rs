//! Provider ports (`SearchProvider`, `Llm`), their HTTP adapters, and the policies
//! (retry, limits, metering) that wrap them.

pub mod llm;
pub mod search;

pub use llm::{ChatMessage, ChatRequest, ChatResponse, Llm, Role, Usage};
pub use search::{KnowledgeGraph, SearchHit, SearchProvider, SearchQuery, SearchResults};
