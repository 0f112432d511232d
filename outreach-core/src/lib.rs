//! `outreach-core`: turn a prospect list into research-backed opening lines.
//!
//! The crate holds everything a run needs and nothing of HTTP servers or Python:
//! - [`input`] streams rows out of CSV/XLSX files and guesses the email column;
//! - [`providers`] defines the `SearchProvider` and `Llm` ports, their HTTP adapters and
//!   the policies (retry, rate limit, concurrency, metering) that wrap them;
//! - [`research`], [`personalize`] and [`combined`] hold the prompts and the strict
//!   parsing/validation of what the model returns;
//! - [`enricher`] runs one row through all of it, with caches and fallbacks;
//! - [`chunk`] runs many rows concurrently, [`engine`] a whole file;
//! - [`campaign`] holds the do-not-contact list, email templates and A/B variants;
//! - [`output`] writes enriched rows as XLSX or CSV, safely;
//! - [`ports`] are the traits for jobs and credits; [`backends`] implements them
//!   (SQLite, embedded);
//! - [`config`] builds everything from the DESIGN.md environment names.

pub mod backends;
pub mod campaign;
pub mod chunk;
pub mod combined;
pub mod config;
pub mod engine;
pub mod enricher;
pub mod error;
pub mod fallback;
pub mod input;
pub mod jobs;
pub mod metrics;
pub mod output;
pub mod personalize;
pub mod pipeline;
pub mod ports;
pub mod preflight;
pub mod progress;
pub mod providers;
pub mod research;
pub mod retention;
pub mod service;
pub mod setup;
pub mod telemetry;

pub use config::PipelineConfig;
pub use engine::{enrich_file, enrich_rows, EnrichOptions, RunSummary};
pub use enricher::{Enricher, EnricherConfig, Mode, Providers, RowOutcome, RowStatus};
pub use error::{Error, InputError, ProviderKind, Result};
pub use metrics::{Metrics, MetricsSnapshot};
pub use progress::{NoProgress, Progress, ProgressSink};
pub use service::ServiceContext;
