//! [`Metered`]: counts requests and tokens into the shared [`Metrics`].

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{ProviderKind, Result};
use crate::metrics::{Counter, Metrics};
use crate::providers::{
    ChatRequest, ChatResponse, Llm, SearchProvider, SearchQuery, SearchResults,
};
use crate::telemetry;

/// Counts every call that reaches the inner provider, failed ones included
/// ([`Metrics::search_calls`] / [`Metrics::llm_calls`]), and the tokens of successful
/// completions. Put it innermost to count attempts rather than logical calls.
#[derive(Debug)]
pub struct Metered<P> {
    inner: P,
    metrics: Arc<Metrics>,
}

impl<P> Metered<P> {
    pub fn new(inner: P, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    pub fn inner(&self) -> &P {
        &self.inner
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

#[async_trait]
impl<P: SearchProvider> SearchProvider for Metered<P> {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        self.metrics.count(Counter::SearchCalls, 1);
        let result = self.inner.search(query).await;
        telemetry::provider_call(ProviderKind::Search, &result);
        result
    }
}

#[async_trait]
impl<P: Llm> Llm for Metered<P> {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        self.metrics.count(Counter::LlmCalls, 1);
        let result = self.inner.complete(request).await;
        telemetry::provider_call(ProviderKind::Llm, &result);
        let response = result?;
        self.metrics
            .count(Counter::PromptTokens, response.usage.prompt_tokens);
        self.metrics
            .count(Counter::CompletionTokens, response.usage.completion_tokens);
        Ok(response)
    }
    async fn served_models(&self) -> Result<Option<Vec<String>>> {
        self.inner.served_models().await
    }
}
