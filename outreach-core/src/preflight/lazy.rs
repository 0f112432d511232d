//! The lazy preflight: a run's providers wait for [`Providers::preflight`] right before
//! their first real call, so a file whose rows never reach a provider (all suppressed,
//! all invalid, empty) costs nothing, and a bad key or model still costs one search
//! and one completion instead of one per row.
//!
//! [`Gate`] is per run (per [`Providers::enricher`]): concurrent first calls wait for a
//! single preflight, and a failed one is remembered for the rest of the run, so every
//! row sees the same error and the providers are asked once. The process
//! ([`super::PreflightOnce`]) remembers a passed preflight for good and a failed one
//! for [`super::FAILED_PREFLIGHT_MEMORY`], and runs one check at a time.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::enricher::Providers;
use crate::error::{Error, ProviderKind, Result};
use crate::providers::{
    ChatRequest, ChatResponse, Llm, SearchProvider, SearchQuery, SearchResults,
};

/// One run's wait for the process's preflight. Clones share it.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    providers: Providers,
    outcome: Arc<OnceCell<std::result::Result<(), Error>>>,
}

impl Gate {
    pub(crate) fn new(providers: Providers) -> Self {
        Self {
            providers,
            outcome: Arc::new(OnceCell::new()),
        }
    }

    /// Ok once the preflight passed (or is skipped); the preflight's error otherwise.
    async fn open(&self) -> Result<()> {
        let outcome = self
            .outcome
            .get_or_init(|| async { self.providers.preflight().await.map(|_| ()) })
            .await;
        match outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(replay(e)),
        }
    }

    /// `search` behind this gate.
    pub(crate) fn search(&self, search: Arc<dyn SearchProvider>) -> Arc<dyn SearchProvider> {
        Arc::new(Gated {
            gate: self.clone(),
            inner: search,
        })
    }

    /// `llm` behind this gate.
    pub(crate) fn llm(&self, llm: Arc<dyn Llm>) -> Arc<dyn Llm> {
        Arc::new(Gated {
            gate: self.clone(),
            inner: llm,
        })
    }
}

/// A provider whose calls wait for the gate.
#[derive(Debug)]
struct Gated<P: ?Sized> {
    gate: Gate,
    inner: Arc<P>,
}

#[async_trait]
impl SearchProvider for Gated<dyn SearchProvider> {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        self.gate.open().await?;
        self.inner.search(query).await
    }
}

#[async_trait]
impl Llm for Gated<dyn Llm> {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        self.gate.open().await?;
        self.inner.complete(request).await
    }
    /// Not gated: the preflight itself asks it.
    async fn served_models(&self) -> Result<Option<Vec<String>>> {
        self.inner.served_models().await
    }
}

/// The remembered preflight error, again for the next row (errors are not `Clone`:
/// `Io` holds an `std::io::Error`). The preflight returns only run-stopping provider
/// errors, which are rebuilt exactly; anything else keeps its message.
pub(super) fn replay(error: &Error) -> Error {
    match error {
        Error::ProviderAuth { provider, status } => Error::ProviderAuth {
            provider: *provider,
            status: *status,
        },
        Error::ProviderOutOfCredit { provider } => Error::ProviderOutOfCredit {
            provider: *provider,
        },
        Error::ModelNotFound {
            provider,
            model,
            message,
        } => Error::ModelNotFound {
            provider: *provider,
            model: model.clone(),
            message: message.clone(),
        },
        Error::RequestRejected {
            provider,
            status,
            message,
        } => Error::RequestRejected {
            provider: *provider,
            status: *status,
            message: message.clone(),
        },
        Error::QuotaExhausted {
            provider,
            retry_after,
            message,
        } => Error::QuotaExhausted {
            provider: *provider,
            retry_after: *retry_after,
            message: message.clone(),
        },
        Error::ProviderFailing {
            provider,
            failures,
            reason,
        } => Error::ProviderFailing {
            provider: *provider,
            failures: *failures,
            reason: reason.clone(),
        },
        Error::PreflightFailed { provider, message } => Error::PreflightFailed {
            provider: *provider,
            message: message.clone(),
        },
        Error::Cancelled => Error::Cancelled,
        other => Error::PreflightFailed {
            provider: ProviderKind::Llm,
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn replay_keeps_the_kind_and_the_words() {
        let cases = [
            Error::ProviderAuth {
                provider: ProviderKind::Search,
                status: 403,
            },
            Error::ModelNotFound {
                provider: ProviderKind::Llm,
                model: "nope".into(),
                message: "The model `nope` does not exist".into(),
            },
            Error::QuotaExhausted {
                provider: ProviderKind::Llm,
                retry_after: Duration::from_secs(578),
                message: "tokens per day".into(),
            },
            Error::PreflightFailed {
                provider: ProviderKind::Search,
                message: "HTTP 400".into(),
            },
        ];
        for error in cases {
            let again = replay(&error);
            assert_eq!(again.to_string(), error.to_string());
            assert_eq!(
                std::mem::discriminant(&again),
                std::mem::discriminant(&error)
            );
        }
    }
}
