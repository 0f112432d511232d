//! SQLite: the embedded default for [`CreditLedger`](crate::ports::CreditLedger) and
//! [`JobStore`](crate::ports::JobStore), one file in the data directory.
//!
//! # Concurrency notes
//!
//! SQLite has one writer at a time. A *deferred* transaction that reads first and writes
//! later can fail with `SQLITE_BUSY` at the upgrade without the busy handler ever
//! waiting (in WAL mode the reader's snapshot may be stale), so every transaction that
//! writes is opened with `BEGIN IMMEDIATE`: it takes the write lock up front, and
//! `busy_timeout` (10 s) makes competing writers queue for it instead of failing.
//! Single-statement writes (compare-and-set on a job's status) take the write lock at
//! the start of the statement and need no transaction. Statements inside a transaction
//! are also ordered write-first (the ledger insert comes before the balance check), so
//! the same sequence is correct on a database with row locks.
//!
//! Readers never block the writer (WAL), and the pool keeps several connections so reads
//! proceed while a write is in flight.
//!
//! # What will differ on PostgreSQL
//!
//! The SQL here is kept portable (`$N` parameters, `ON CONFLICT … DO NOTHING`,
//! `RETURNING`, `COALESCE`, `lower(email)` index). What changes:
//! - `BEGIN IMMEDIATE` becomes `BEGIN`, and the row lock is taken explicitly first:
//!   `apply` starts with `SELECT … FROM profiles WHERE id = $1 FOR UPDATE` (so ledger ids,
//!   drawn from a sequence, follow the order in which balances change, and
//!   `balance_after` forms a running sum in id order); `record_chunk` starts with
//!   `SELECT … FROM jobs WHERE id = $1 FOR UPDATE` (so each recount sees every chunk
//!   committed before it).
//! - Timestamps: `TEXT` (fixed-width RFC 3339, microseconds) becomes `timestamptz`,
//!   bound as `DateTime<Utc>` directly; `meta_json`/`timing_json` become `jsonb`.
//! - `INTEGER PRIMARY KEY AUTOINCREMENT` becomes `bigint GENERATED ALWAYS AS IDENTITY`;
//!   `REAL` becomes `double precision`.
//! - Jobs are ordered by `created_at` with SQLite's implicit `rowid` as the tie-breaker;
//!   PostgreSQL needs an identity column (`seq`) for that.
//! - `SUM(bigint)` is `numeric` on PostgreSQL: the chunk aggregates need `::bigint`.
//! - A failed statement aborts a PostgreSQL transaction; every error path here already
//!   rolls back, so nothing relies on continuing after one.

mod accounts;
pub(crate) mod jobs;
mod ledger;

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::error::{Error, Result};

/// How long a writer waits for the lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per file pool: one writes at a time, the others read.
const MAX_CONNECTIONS: u32 = 8;

/// The migrations, embedded in the binary. Listed by hand rather than with
/// `sqlx::migrate!` because that macro needs sqlx's `macros` feature, which builds
/// SQLite a second time for the proc-macro host. A test checks this list against the
/// directory, and the version/description/checksum scheme is sqlx's own, so the
/// `sqlx migrate` CLI sees the same history.
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
];

#[derive(Debug)]
struct EmbeddedMigrations;

impl<'s> MigrationSource<'s> for EmbeddedMigrations {
    fn resolve(self) -> BoxFuture<'s, std::result::Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Credits and jobs in one SQLite database. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
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
        let migrator = Migrator::new(EmbeddedMigrations).await.map_err(|e| {
            tracing::error!(error = %e, "loading the embedded migrations failed");
            Error::Database("migrate the database".into())
        })?;
        migrator.run(&pool).await.map_err(|e| {
            tracing::error!(error = %e, "running migrations failed");
            Error::Database("migrate the database".into())
        })?;
        Ok(Self { pool })
    }

    /// The underlying pool (for embedders that keep their own tables beside ours).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A transaction holding the write lock from its first statement.
    async fn begin_write(&self, op: &'static str) -> Result<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error(op))
    }
}

/// Maps a driver error to [`Error::Database`] naming only the operation; the detail
/// (SQL error, file path) goes to the log, not to whoever sees the error.
pub(crate) fn db_error(op: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| {
        tracing::error!(error = %e, op, "database operation failed");
        Error::Database(format!("could not {op}"))
    }
}

/// True when `e` is a foreign-key violation (a row naming a parent that does not exist).
fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Rolls back, logging (not returning) a failure: the caller is already returning the
/// error that made it roll back, and a dropped transaction rolls back anyway.
async fn rollback(tx: Transaction<'static, Sqlite>) {
    if let Err(e) = tx.rollback().await {
        tracing::warn!(error = %e, "rollback failed");
    }
}

/// Now, at the precision we store.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Fixed-width RFC 3339 in UTC with microseconds: text order is time order.
fn encode_ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    tracing::error!(%detail, what, "unreadable value in the database");
    Error::Database(format!("unreadable {what} in the database"))
}

fn decode_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt("timestamp", e))
}

/// Column readers: a value the schema should never hold is a database error, not a panic.
fn col<'r, T>(row: &'r SqliteRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(name).map_err(|e| corrupt(name, e))
}

fn col_u64(row: &SqliteRow, name: &str) -> Result<u64> {
    let v: i64 = col(row, name)?;
    u64::try_from(v).map_err(|e| corrupt(name, e))
}

fn col_u32(row: &SqliteRow, name: &str) -> Result<u32> {
    let v: i64 = col(row, name)?;
    u32::try_from(v).map_err(|e| corrupt(name, e))
}

fn col_ts(row: &SqliteRow, name: &str) -> Result<DateTime<Utc>> {
    decode_ts(&col::<String>(row, name)?)
}

fn col_opt_ts(row: &SqliteRow, name: &str) -> Result<Option<DateTime<Utc>>> {
    col::<Option<String>>(row, name)?
        .map(|s| decode_ts(&s))
        .transpose()
}

/// SQLite integers are `i64`; counts beyond that are refused rather than wrapped.
fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| {
        Error::InvalidInput(crate::error::InputError::Other(format!(
            "{what} is too large: {v}"
        )))
    })
}

/// `LIMIT`/`OFFSET` from the API's `u64`, saturating (SQLite takes `i64`).
fn sat_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_verbatim() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        assert_eq!(
            files.len(),
            MIGRATIONS.len(),
            "migrations/sqlite vs MIGRATIONS"
        );
        for (path, &(version, description, sql)) in files.iter().zip(MIGRATIONS) {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let (v, d) = stem.split_once('_').unwrap();
            assert_eq!(v.parse::<i64>().unwrap(), version, "{stem}");
            assert_eq!(d.replace('_', " "), description, "{stem}");
            assert_eq!(std::fs::read_to_string(path).unwrap(), sql, "{stem}");
        }
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
