//! The one error type of `outreach-core`. Variants are named for what the caller can do
//! about them: fix the input, fix a key, top up credits, wait and retry.

use std::time::Duration;

/// Why an input file could not be used. Each kind is a clear message for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("the file has a header row but no data rows")]
    HeaderOnly,
    #[error("the file has no header row")]
    NoHeader,
    #[error("unsupported file type `{0}`: use .csv or .xlsx")]
    UnsupportedExtension(String),
    #[error("the file is not a valid XLSX workbook: {0}")]
    CorruptXlsx(String),
    #[error("the workbook has no sheet with data")]
    NoData,
    #[error("could not read the CSV: {0}")]
    Csv(String),
    #[error("no email column: {0}")]
    MissingEmailColumn(String),
    #[error("the file is too large: {size} bytes (limit {limit})")]
    TooLarge { size: u64, limit: u64 },
    #[error("row {row}: {message}")]
    BadRow { row: u64, message: String },
    #[error("unknown output column `{0}`")]
    UnknownColumn(String),
    #[error("output column `{0}` is listed more than once")]
    DuplicateColumn(String),
    #[error("the header has {columns} columns; the limit is {limit}")]
    TooManyColumns { columns: usize, limit: usize },
    #[error("the header row is longer than {limit} bytes")]
    HeaderTooLong { limit: usize },
    #[error("the workbook inflates to more than {limit} bytes; save it as CSV or split it")]
    InflatesTooMuch { limit: u64 },
    #[error("the workbook looks like a decompression bomb: {0}")]
    SuspiciousCompression(String),
    #[error("invalid service context: {0}")]
    InvalidService(String),
    /// An email template does not compile or names something the row does not have.
    #[error("the {template} template, line {line}, column {column}: {message}")]
    Template {
        template: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

/// Which provider an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Search,
    Llm,
    /// A sequencer or CRM leads are pushed to (`campaign::push`).
    Destination,
    /// An account's outgoing webhook endpoint (`jobs::events`).
    Webhook,
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProviderKind::Search => "search provider",
            ProviderKind::Llm => "LLM provider",
            ProviderKind::Destination => "destination",
            ProviderKind::Webhook => "webhook endpoint",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input file is unusable; nothing was charged or called.
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InputError),

    /// A provider rejected our key (401/403). Not a per-row problem: the run stops.
    #[error("{provider} rejected the API key (HTTP {status}); check the key")]
    ProviderAuth { provider: ProviderKind, status: u16 },

    /// A provider says the account is out of balance (402, or Serper's 400 "Not enough
    /// credits"). The run stops.
    #[error("{provider} account is out of credit; top it up and rerun")]
    ProviderOutOfCredit { provider: ProviderKind },

    /// Still rate limited after the retries ran out.
    #[error("{provider} rate limited the request")]
    RateLimited {
        provider: ProviderKind,
        retry_after: Option<Duration>,
    },

    /// The provider answered with an error status (after retries, where retryable).
    #[error("{provider} returned HTTP {status}: {body}")]
    Upstream {
        provider: ProviderKind,
        status: u16,
        body: String,
    },

    /// The provider does not know the configured model (404 `model_not_found`, a
    /// decommissioned model). Every row would fail the same way: the run stops.
    #[error("{provider} does not know the model `{model}`; check LLM_MODEL ({message})")]
    ModelNotFound {
        provider: ProviderKind,
        model: String,
        message: String,
    },

    /// The provider rejected the request's shape (an unsupported parameter or value, a
    /// missing endpoint) and no adaptation the client knows fixed it. Every row would
    /// fail the same way: the run stops.
    #[error("{provider} rejected the request (HTTP {status}): {message}")]
    RequestRejected {
        provider: ProviderKind,
        status: u16,
        message: String,
    },

    /// The provider asks for a wait longer than the run may wait
    /// (`OUTREACH_MAX_WAIT_SECS`): a 429 whose `Retry-After` or body says so (an
    /// exhausted daily token quota), or a pause the learned limiter would have to sit
    /// out (an exhausted rate-limit bucket). The run stops; rerun after the wait.
    #[error("{provider} quota is exhausted: it asks to wait {}, longer than OUTREACH_MAX_WAIT_SECS allows ({message})", format_wait(*retry_after))]
    QuotaExhausted {
        provider: ProviderKind,
        retry_after: Duration,
        message: String,
    },

    /// The reply hit the token limit before any usable answer, even after one retry with
    /// a larger budget. A per-row failure.
    #[error("{provider} reply was cut off at the token limit ({max_tokens} tokens)")]
    Truncated {
        provider: ProviderKind,
        max_tokens: u32,
    },

    /// The circuit breaker: the provider failed the same way many times in a row, so
    /// failing every remaining row would only cost time and calls. The run stops.
    #[error("{provider} failed {failures} times in a row ({reason}); stopping the run")]
    ProviderFailing {
        provider: ProviderKind,
        failures: u32,
        reason: String,
    },

    /// The preflight call was refused in a way every row would repeat (an unknown
    /// model, a parameter the model does not take): the run does not start.
    #[error("{provider} refused the preflight request: {message}")]
    PreflightFailed {
        provider: ProviderKind,
        message: String,
    },

    /// The request did not complete in time (after retries).
    #[error("{provider} timed out")]
    Timeout { provider: ProviderKind },

    /// The connection failed (DNS, refused, TLS) after retries.
    #[error("{provider} is unreachable: {message}")]
    Network {
        provider: ProviderKind,
        message: String,
    },

    /// The provider answered 2xx with a body we could not understand.
    #[error("{provider} sent an unreadable response: {message}")]
    BadResponse {
        provider: ProviderKind,
        message: String,
    },

    /// The user does not have enough credits for the job.
    #[error("insufficient credits: {needed} needed, {available} available")]
    InsufficientCredits { needed: i64, available: i64 },

    #[error("not found: {0}")]
    NotFound(String),

    /// The request conflicts with the current state (retry a job that did not fail…).
    #[error("{0}")]
    Conflict(String),

    /// Something with this identity exists already (e.g. a job id reused).
    #[error("already exists: {0}")]
    AlreadyExists(String),

    /// The database failed (unreachable, busy beyond the timeout, corrupt row). The
    /// message names the operation only; the driver's detail is logged with `tracing`.
    #[error("database error: {0}")]
    Database(String),

    /// A storage key the `Storage` port refuses (empty, absolute, `..`, backslash, …).
    /// Keys are built from user input (file names), so this is a caller's mistake to fix.
    #[error("invalid storage key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },

    /// The blob store failed (I/O, permissions, network, the backend's own errors).
    #[error("storage error: {0}")]
    Storage(String),

    /// Too much of a bounded resource is in use by this caller (e.g. files being read
    /// at once); try again shortly.
    #[error("{0}")]
    Busy(String),

    /// The run was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    #[error("could not write the output: {0}")]
    Output(String),

    #[error("configuration error: {0}")]
    Config(String),
}

impl Error {
    /// True when the error means the whole run must stop (bad key, no balance):
    /// failing every row one by one would only waste time and calls.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::ProviderAuth { .. }
                | Error::ProviderOutOfCredit { .. }
                | Error::ModelNotFound { .. }
                | Error::RequestRejected { .. }
                | Error::QuotaExhausted { .. }
                | Error::ProviderFailing { .. }
                | Error::PreflightFailed { .. }
                | Error::Cancelled
        )
    }

    /// True for transient failures a retry may cure: 429, 5xx, timeouts, connection errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Timeout { .. } | Error::Network { .. } => true,
            Error::Upstream { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The delay the provider asked for, if any (from `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            Error::QuotaExhausted { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// A short reason suitable for a fallback cell (no bodies, no secrets).
    pub fn short_reason(&self) -> String {
        match self {
            Error::RateLimited { .. } => "rate limited".into(),
            Error::Upstream { status, .. } => format!("provider error {status}"),
            Error::Timeout { .. } => "timeout".into(),
            Error::Network { .. } => "provider unreachable".into(),
            Error::BadResponse { .. } => "bad provider response".into(),
            Error::ProviderAuth { .. } => "provider rejected the API key".into(),
            Error::ProviderOutOfCredit { .. } => "provider out of credit".into(),
            Error::ModelNotFound { .. } => "model not found".into(),
            Error::RequestRejected { status, .. } => format!("request rejected ({status})"),
            Error::QuotaExhausted { .. } => "provider quota exhausted".into(),
            Error::Truncated { .. } => "reply cut off at the token limit".into(),
            Error::ProviderFailing { .. } => "provider failing".into(),
            Error::PreflightFailed { .. } => "provider refused the requests".into(),
            other => other.to_string(),
        }
    }
}

/// `9m38s`, `45s`, `1h2m`: a wait as a person reads it.
fn format_wait(wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m"),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
