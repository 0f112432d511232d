//! Choosing backends from configuration (`DATABASE_URL`, `STORAGE_URL`, `REDIS_URL`,
//! `OUTREACH_DATA_DIR`), so every front end gets the same behaviour from the same names.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backends::memory_queue::MemoryQueue;
use crate::backends::object_storage::ObjectStorage;
use crate::backends::sqlite::SqliteStore;
use crate::campaign::settings::CampaignSettings;
use crate::error::{Error, Result};
use crate::ports::{CreditLedger, JobQueue, JobStore, LocalAccounts, Storage};

/// How long a delivered task is leased to its worker without a heartbeat; the worker
/// renews it every third of this while the task runs, so a dead worker's task goes to
/// another after about one lease (`OUTREACH_LEASE_SECS`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub storage_url: Option<String>,
    pub redis_url: Option<String>,
    /// The queue's lease (see [`DEFAULT_LEASE`]).
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
            // OUTREACH_VISIBILITY_TIMEOUT_SECS: the name before leases were renewed.
            visibility_timeout: var("OUTREACH_LEASE_SECS")
                .or_else(|| var("OUTREACH_VISIBILITY_TIMEOUT_SECS"))
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| *s > 0.0)
                .map_or(DEFAULT_LEASE, Duration::from_secs_f64),
        }
    }

    /// The embedded defaults, all under `data_dir`.
    pub fn local(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            storage_url: None,
            redis_url: None,
            visibility_timeout: DEFAULT_LEASE,
        }
    }
}

/// The Redis stream the task queue lives in.
pub const TASK_STREAM: &str = "outreach:tasks";

/// The four ports, opened.
#[derive(Debug, Clone)]
pub struct Backends {
    pub store: Arc<dyn JobStore>,
    pub ledger: Arc<dyn CreditLedger>,
    /// Password sign-ins (servers without Supabase Auth), in the same database.
    pub accounts: Arc<dyn LocalAccounts>,
    /// Per-account destinations, do-not-contact list and webhook, in the same database.
    pub campaigns: Arc<dyn CampaignSettings>,
    pub storage: Arc<dyn Storage>,
    pub queue: Arc<dyn JobQueue>,
    /// False for the in-process queue: its tasks die with the process, so a restart
    /// must call `JobSystem::recover`.
    pub durable_queue: bool,
    /// Where shared rate limits live (the queue's Redis), if any.
    pub redis_url: Option<String>,
}

impl Backends {
    pub async fn open(config: &BackendConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir)?;
        // The data directory holds people's files and the database: its owner's only,
        // also when an older version created it 0755.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let private = std::fs::Permissions::from_mode(0o700);
            if let Err(e) = std::fs::set_permissions(&config.data_dir, private) {
                // A directory owned by someone else (a mounted volume) stays as it is.
                tracing::warn!(dir = %config.data_dir.display(), error = %e, "could not make the data directory private (0700)");
            }
        }
        type Stores = (
            Arc<dyn JobStore>,
            Arc<dyn CreditLedger>,
            Arc<dyn LocalAccounts>,
            Arc<dyn CampaignSettings>,
        );
        let (store, ledger, accounts, campaigns): Stores = match config.database_url.as_deref() {
            None => {
                let db = Arc::new(SqliteStore::open(&config.data_dir.join("outreach.db")).await?);
                (db.clone(), db.clone(), db.clone(), db)
            }
            Some(url) if url.starts_with("sqlite:") => {
                let db = Arc::new(SqliteStore::connect(url).await?);
                (db.clone(), db.clone(), db.clone(), db)
            }
            #[cfg(feature = "postgres")]
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let db = Arc::new(crate::backends::PgStore::connect(url).await?);
                (db.clone(), db.clone(), db.clone(), db)
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
            #[cfg(feature = "redis")]
            Some(url) => (
                Arc::new(
                    crate::backends::redis_queue::RedisQueue::connect(
                        url,
                        TASK_STREAM,
                        config.visibility_timeout,
                    )
                    .await?,
                ),
                true,
            ),
            #[cfg(not(feature = "redis"))]
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
            accounts,
            campaigns,
            storage,
            queue,
            durable_queue,
            redis_url: config.redis_url.clone(),
        })
    }

    /// Provider rate limits that hold across every worker: with Redis, each
    /// provider's learned limit (and explicit cap) kept in Redis, shared by all
    /// processes; without it, `None` (each process learns on its own, which is exact
    /// when there is one process).
    pub async fn shared_limiters(
        &self,
        pipeline: &crate::config::PipelineConfig,
    ) -> Result<Option<crate::config::SharedLimiters>> {
        #[cfg(feature = "redis")]
        if let Some(url) = &self.redis_url {
            use crate::backends::redis_rate_limit::RedisRateLimiter;
            use crate::providers::policy::RateLimiter;
            let limiter = |name: &'static str, cap: Option<f64>| async move {
                Ok::<_, Error>(Some(Arc::new(
                    RedisRateLimiter::connect_learned(url, name, cap).await?,
                ) as Arc<dyn RateLimiter>))
            };
            return Ok(Some(crate::config::SharedLimiters {
                search: limiter("search", pipeline.search_policy.requests_per_second).await?,
                llm: limiter("llm", pipeline.llm_policy.requests_per_second).await?,
            }));
        }
        let _ = pipeline;
        Ok(None)
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
