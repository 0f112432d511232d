//! The `SearchProvider` port: web search with normalised results. Wire formats
//! (Serper's JSON) stay in the adapters.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// One search request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SearchQuery {
    pub q: String,
    /// How many organic results to ask for; the provider's default when `None`.
    pub num: Option<u32>,
}

impl SearchQuery {
    pub fn new(q: impl Into<String>) -> Self {
        Self {
            q: q.into(),
            num: None,
        }
    }
}

/// One organic result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SearchHit {
    pub title: String,
    pub link: String,
    pub snippet: String,
}

/// The knowledge-graph panel some engines return for companies and people.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KnowledgeGraph {
    pub title: String,
    pub kind: Option<String>,
    pub description: Option<String>,
    pub website: Option<String>,
    /// Ordered key/value facts ("Founded" → "2012").
    pub attributes: Vec<(String, String)>,
}

/// Normalised search results.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SearchResults {
    pub organic: Vec<SearchHit>,
    pub knowledge_graph: Option<KnowledgeGraph>,
}

/// Web search.
///
/// # Contract
/// - Returns `Ok` with possibly empty results when the query simply found nothing.
/// - Maps 401/403 to [`crate::Error::ProviderAuth`], 402 to
///   [`crate::Error::ProviderOutOfCredit`], 429 to [`crate::Error::RateLimited`] (with
///   `Retry-After` when sent), other non-2xx to [`crate::Error::Upstream`], and an
///   unparseable 2xx body to [`crate::Error::BadResponse`].
/// - Does not retry or rate-limit: policies wrap the adapter (see [`crate::providers::policy`]).
#[async_trait]
pub trait SearchProvider: Send + Sync + Debug + 'static {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults>;
}

#[async_trait]
impl<T: SearchProvider + ?Sized> SearchProvider for Arc<T> {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        (**self).search(query).await
    }
}

#[async_trait]
impl<T: SearchProvider + ?Sized> SearchProvider for Box<T> {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        (**self).search(query).await
    }
}
