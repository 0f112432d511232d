//! Choosing backends from configuration (`DATABASE_URL`, `STORAGE_URL`, `REDIS_URL`,
//! `OUTREACH_DATA_DIR`), so every front end gets the same behaviour from the same names.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backends::memory_queue::MemoryQueue;
use crate::backends::object_storage::ObjectStorage;
use crate::backends::sqlite::SqliteStore;
use crate::error::{Error, Result};
use crate::ports::{CreditLedger, JobQueue, JobStore, Storage};

/// How long a task may run before another worker may take it over.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub storage_url: Option<String>,
    pub redis_url: Option<String>,
    pub visibility_timeout: Duration,
}

impl BackendConfig {
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Self {
            data_dir: var("OUTREACH_DATA_DIR")
                .map_or_else(|| PathBuf::from("./outreach-data"), PathBuf::from),
            database_url: var("DATABASE_URL"),
            storage_url: var("STORAGE_URL"),
            redis_url: var("REDIS_URL"),
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
        }
    }

    /// The embedded defaults, all under `data_dir`.
    pub fn local(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            storage_url: None,
            redis_url: None,
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
        }
    }
}

/// The four ports, opened.
#[derive(Debug, Clone)]
pub struct Backends {
    pub store: Arc<dyn JobStore>,
    pub ledger: Arc<dyn CreditLedger>,
    pub storage: Arc<dyn Storage>,
    pub queue: Arc<dyn JobQueue>,
    /// False for the in-process queue: its tasks die with the process, so a restart
    /// must call `JobSystem::recover`.
    pub durable_queue: bool,
}

impl Backends {
    pub async fn open(config: &BackendConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir)?;
        let (store, ledger): (Arc<dyn JobStore>, Arc<dyn CreditLedger>) = match config.database_url.as_deref() {
            None => {
                let db = Arc::new(SqliteStore::open(&config.data_dir.join("outreach.db")).await?);
                (db.clone(), db)
            }
            Some(url) if url.starts_with("sqlite:") => {
                let db = Arc::new(SqliteStore::connect(url).await?);
                (db.clone(), db)
            }
            #[cfg(feature = "postgres")]
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let db = Arc::new(crate::backends::PgStore::connect(url).await?);
                (db.clone(), db)
            }
            Some(url) => {
                return Err(Error::Config(format!(
                    "DATABASE_URL `{}` is not supported by this build (sqlite://{}; postgres:// needs the `postgres` feature)",
                    redact(url),
                    if cfg!(feature = "postgres") { " or postgres://" } else { "" }
                )))
            }
        };
        let storage: Arc<dyn Storage> = match config.storage_url.as_deref() {
            None => Arc::new(ObjectStorage::local(&config.data_dir.join("files"))?),
            Some(url) => Arc::new(ObjectStorage::from_url(url, &config.data_dir)?),
        };
        let (queue, durable_queue): (Arc<dyn JobQueue>, bool) = match config.redis_url.as_deref() {
            None => (Arc::new(MemoryQueue::new(config.visibility_timeout)), false),
            Some(url) => {
                return Err(Error::Config(format!(
                    "REDIS_URL `{}` needs the `redis` feature",
                    redact(url)
                )))
            }
        };
        Ok(Self {
            store,
            ledger,
            storage,
            queue,
            durable_queue,
        })
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}
