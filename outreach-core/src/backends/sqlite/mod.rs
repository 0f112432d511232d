//! SQLite: the embedded default store ([`SqliteStore`]), one file in the data
//! directory. The statements are [`super::sql`]'s; this module is the dialect (how
//! SQLite's types and transactions differ) and how a database is opened.
//!
//! - Timestamps are `TEXT`: fixed-width RFC 3339 in UTC with microseconds, so text
//!   order is time order. JSON is `TEXT`.
//! - SQLite has one writer at a time. A *deferred* transaction that reads first and
//!   writes later can fail with `SQLITE_BUSY` at the upgrade without the busy handler
//!   ever waiting (in WAL mode the reader's snapshot may be stale), so every transaction
//!   that writes is opened with `BEGIN IMMEDIATE`: it holds the write lock from its first
//!   statement (which is why `LOCK_ROW` is empty), and `busy_timeout` (10 s) makes
//!   competing writers queue for it instead of failing. Readers never block the writer
//!   (WAL), and the pool keeps several connections so reads proceed during a write.
//! - Rows of equal `created_at` are ordered by the implicit `rowid`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};

use super::sql::{corrupt, db_error, sqlx_dialect, Arg, EmbeddedMigrations, Query, SqlStore};
use crate::error::{Error, Result};

/// How long a writer waits for the lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per file pool: one writes at a time, the others read.
const MAX_CONNECTIONS: u32 = 8;

/// The migrations, embedded in the binary (see [`EmbeddedMigrations`]).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        20261101000000,
        "initial",
        include_str!("../../../migrations/sqlite/20261101000000_initial.sql"),
    ),
    (
        20261201000000,
        "local users",
        include_str!("../../../migrations/sqlite/20261201000000_local_users.sql"),
    ),
    (
        20261215000000,
        "chunk rows",
        include_str!("../../../migrations/sqlite/20261215000000_chunk_rows.sql"),
    ),
    (
        20261220000000,
        "credit debt",
        include_str!("../../../migrations/sqlite/20261220000000_credit_debt.sql"),
    ),
    (
        20261230000000,
        "campaign settings",
        include_str!("../../../migrations/sqlite/20261230000000_campaign_settings.sql"),
    ),
    (
        20261231000000,
        "file sizes",
        include_str!("../../../migrations/sqlite/20261231000000_file_sizes.sql"),
    ),
    (
        20270110000000,
        "account security",
        include_str!("../../../migrations/sqlite/20270110000000_account_security.sql"),
    ),
];

/// The SQLite [`Dialect`].
#[derive(Debug, Clone, Copy)]
pub struct Sqlite;

/// Credits, jobs and local accounts in one SQLite database. Cheap to clone (the pool
/// is shared).
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating it and its directory if needed) the database file at `path` and
    /// brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::from_file_options(options).await
    }

    /// Connects to a `sqlite://…` URL (`DATABASE_URL`). The file is created if missing
    /// unless the URL sets `mode=`; `sqlite::memory:` gives [`SqliteStore::in_memory`].
    pub async fn connect(url: &str) -> Result<Self> {
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Self::in_memory().await;
        }
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("invalid SQLite URL: {e}")))?;
        if !url.contains("mode=") {
            options = options.create_if_missing(true);
        }
        Self::from_file_options(options).await
    }

    /// A private in-memory database, for tests and throwaway runs. It lives on a single
    /// connection that the pool never closes: an in-memory SQLite database vanishes with
    /// its last connection, and `sqlite::memory:` is otherwise one database per
    /// connection. Concurrent callers queue for that connection.
    pub async fn in_memory() -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .shared_cache(false)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(db_error("open the in-memory database"))?;
        Self::migrated(pool).await
    }

    async fn from_file_options(options: SqliteConnectOptions) -> Result<Self> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            // Durable across application crashes; WAL makes NORMAL safe for integrity.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(db_error("open the database"))?;
        Self::migrated(pool).await
    }

    async fn migrated(pool: SqlitePool) -> Result<Self> {
        let migrator = Migrator::new(EmbeddedMigrations(MIGRATIONS))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "loading the embedded migrations failed");
                Error::Database("migrate the database".into())
            })?;
        migrator.run(&pool).await.map_err(|e| {
            tracing::error!(error = %e, "running migrations failed");
            Error::Database("migrate the database".into())
        })?;
        Ok(Self::from_pool(pool))
    }

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Fixed-width RFC 3339 in UTC with microseconds: text order is time order.
fn encode_ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn decode_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt("timestamp", e))
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, SqliteArguments<'q>>;

/// Binds the portable parameters in SQLite's types: timestamps and JSON as text.
fn build(query: &Query) -> std::result::Result<SqliteQuery<'_>, sqlx::Error> {
    let mut q = sqlx::query(&query.sql);
    for arg in &query.args {
        q = match arg {
            Arg::Text(v) => q.bind(v.clone()),
            Arg::Int(v) => q.bind(*v),
            Arg::Real(v) => q.bind(*v),
            Arg::Ts(v) => q.bind(v.as_ref().map(encode_ts)),
            Arg::Json(v) => q.bind(
                v.as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
            ),
        };
    }
    Ok(q)
}

sqlx_dialect! {
    impl Dialect for Sqlite {
        driver: sqlx::Sqlite,
        pool: SqlitePool,
        row: SqliteRow,
        build: build,

        const NAME: &'static str = "sqlite";
        const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
        // A deferred read transaction keeps one snapshot (WAL) from its first read.
        const BEGIN_SNAPSHOT: &'static str = "BEGIN";
        const LOCK_ROW: &'static str = "";
        const INSERTION_ORDER: &'static str = "rowid";

        fn cast_uuid(param: &str) -> String {
            param.to_owned()
        }
    }
    impl SqlRow {
        fn opt_ts(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
            col::<Option<String>>(self, name)?
                .map(|s| decode_ts(&s))
                .transpose()
        }
        fn opt_json(&self, name: &str) -> Result<Option<serde_json::Value>> {
            col::<Option<String>>(self, name)?
                .map(|s| serde_json::from_str(&s))
                .transpose()
                .map_err(|e| corrupt(name, e))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::backends::sql::now;

    #[test]
    fn every_migration_file_is_embedded_verbatim() {
        crate::backends::sql::assert_migrations_match("migrations/sqlite", MIGRATIONS);
    }

    #[test]
    fn timestamps_are_fixed_width_and_roundtrip() {
        let t = now();
        let s = encode_ts(&t);
        assert_eq!(s.len(), "2026-11-01T09:30:00.123456Z".len(), "{s}");
        assert_eq!(decode_ts(&s).unwrap(), t);
        let whole = DateTime::parse_from_rfc3339("2026-11-01T09:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(encode_ts(&whole), "2026-11-01T09:30:00.000000Z");
    }
}
