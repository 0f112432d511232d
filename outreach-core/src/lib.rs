//! `outreach-core`: turn a prospect list into research-backed opening lines.
//!
//! The crate holds everything a run needs and nothing of HTTP servers or Python:
//! - [`input`] streams rows out of CSV/XLSX files and guesses the email column;
//! - [`providers`] defines the `SearchProvider` and `Llm` ports, their HTTP adapters and
//!   the policies (retry, rate limit, concurrency, metering) that wrap them;
//! - [`output`] writes enriched rows as XLSX or CSV, safely;
//! - the engine drives rows through research and personalization concurrently.

pub mod error;
pub mod input;
pub mod metrics;
pub mod output;
pub mod providers;
pub mod service;

pub use error::{Error, InputError, ProviderKind, Result};
pub use service::ServiceContext;
pub mod combined;
pub mod enricher;
pub mod fallback;
pub mod personalize;
pub mod research;

pub use enricher::{Enricher, EnricherConfig, Mode, RowOutcome, RowStatus};
pub mod chunk;
pub mod progress;

pub use progress::{NoProgress, Progress, ProgressSink};
pub mod engine;

pub use engine::{enrich_file, EnrichOptions, RunSummary};
