//! The server's own settings (`OUTREACH_*` names), apart from the state that carries
//! them, so the modules that read settings need not know the app state.

use std::path::{Path, PathBuf};
use std::time::Duration;

use outreach_core::Error as CoreError;

/// The server's settings (`OUTREACH_*` names; see `ServerConfig::from_lookup`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Largest accepted upload (`OUTREACH_MAX_UPLOAD_BYTES`, default 50 MB).
    pub max_upload_bytes: u64,
    /// Largest JSON request body (1 MiB): the API's bodies are small.
    pub max_json_bytes: usize,
    /// Credits of a new account (`OUTREACH_FREE_CREDITS`, default 50).
    pub free_credits: i64,
    /// Allowed browser origins (`OUTREACH_CORS_ORIGINS`, comma-separated; `*` = any;
    /// empty = no CORS headers, same-origin only).
    pub cors_origins: Vec<String>,
    /// Deadline of non-streaming requests (`OUTREACH_REQUEST_TIMEOUT_SECS`, default 30).
    pub request_timeout: Duration,
    /// How often the events stream polls the job store.
    pub events_poll: Duration,
    /// Uploads and downloads pass through temporary files here.
    pub temp_dir: PathBuf,
    /// Bytes a user may keep stored (`OUTREACH_USER_QUOTA_BYTES`, default 1 GB; 0 = no
    /// quota): uploads, job chunks and results, push records. Only new uploads are
    /// refused over it; jobs are never failed by it.
    pub user_quota_bytes: u64,
    /// How long finished jobs and uploads are kept (`OUTREACH_RETENTION_DAYS`, default
    /// 30; 0 = forever). The ledger is always kept.
    pub retention: Option<Duration>,
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n.saturating_mul(24 * 3600))
}

impl ServerConfig {
    pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 50 * 1000 * 1000;
    pub const DEFAULT_FREE_CREDITS: i64 = 50;
    pub const DEFAULT_USER_QUOTA_BYTES: u64 = 1000 * 1000 * 1000;
    pub const DEFAULT_RETENTION_DAYS: u64 = 30;

    /// Defaults, with temporary files under `data_dir/tmp`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            max_upload_bytes: Self::DEFAULT_MAX_UPLOAD_BYTES,
            max_json_bytes: 1 << 20,
            free_credits: Self::DEFAULT_FREE_CREDITS,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            events_poll: Duration::from_millis(500),
            temp_dir: data_dir.join("tmp"),
            user_quota_bytes: Self::DEFAULT_USER_QUOTA_BYTES,
            retention: Some(days(Self::DEFAULT_RETENTION_DAYS)),
        }
    }

    pub fn from_env(data_dir: &Path) -> Result<Self, CoreError> {
        Self::from_lookup(data_dir, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        data_dir: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CoreError> {
        let mut config = Self::new(data_dir);
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let number = |name: &str| -> Result<Option<u64>, CoreError> {
            var(name)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        CoreError::Config(format!("{name} must be a whole number, got `{v}`"))
                    })
                })
                .transpose()
        };
        if let Some(n) = number("OUTREACH_MAX_UPLOAD_BYTES")? {
            config.max_upload_bytes = n.max(1);
        }
        if let Some(n) = number("OUTREACH_FREE_CREDITS")? {
            config.free_credits = i64::try_from(n)
                .map_err(|_| CoreError::Config("OUTREACH_FREE_CREDITS is too large".into()))?;
        }
        if let Some(n) = number("OUTREACH_REQUEST_TIMEOUT_SECS")? {
            config.request_timeout = Duration::from_secs(n.max(1));
        }
        if let Some(n) = number("OUTREACH_USER_QUOTA_BYTES")? {
            config.user_quota_bytes = n;
        }
        if let Some(n) = number("OUTREACH_RETENTION_DAYS")? {
            config.retention = (n > 0).then(|| days(n.min(100 * 365)));
        }
        if let Some(origins) = var("OUTREACH_CORS_ORIGINS") {
            config.cors_origins = origins
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect();
        }
        Ok(config)
    }
}
