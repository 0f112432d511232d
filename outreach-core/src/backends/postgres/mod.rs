//! PostgreSQL: [`CreditLedger`](crate::ports::CreditLedger) and
//! [`JobStore`](crate::ports::JobStore) for hosted deployments (cargo feature `postgres`).
//!
//! A concrete [`PgPool`] with native types (`timestamptz`, `jsonb`, `bigint`): sqlx's
//! `Any` driver cannot decode them. The schema is `migrations/postgres`, the same tables
//! and rules as the SQLite backend.
//!
//! # Concurrency notes
//!
//! Transactions run at PostgreSQL's default `READ COMMITTED`; correctness comes from row
//! locks and single-statement compare-and-set, not from the isolation level:
//! - `apply` locks the profile row first (`SELECT … FOR NO KEY UPDATE`), so concurrent
//!   applies for one user queue on that lock. Under it the balance is checked, the ledger
//!   row inserted (`ON CONFLICT (user_id, idempotency_key) DO NOTHING`) with its final
//!   `balance_after`, and the balance changed. Ledger ids are drawn while the lock is
//!   held, so they follow the order in which the balance changes. `CHECK
//!   (credits_remaining >= 0)` backs this up in the schema.
//! - `record_chunk` locks the job row the same way, so each recount sees every chunk
//!   committed before it.
//! - Status changes are `UPDATE … WHERE status = $from`: a concurrent updater waits for
//!   the row, then re-checks the condition on the new version, so exactly one wins.
//!
//! `FOR NO KEY UPDATE` rather than `FOR UPDATE`: it excludes the other writers of the
//! row just the same, but does not block inserts elsewhere whose foreign key points at
//! the row (a job's logs while a chunk is being recorded).
//!
//! # Connections
//!
//! The pool pings a connection before handing it out (`test_before_acquire`), so
//! connections broken by a server restart are replaced instead of failing a query;
//! waiting for a connection is bounded by the acquire timeout. Every driver error
//! (refused connection, timeout, constraint) becomes [`Error::Database`] naming the
//! operation, with the detail in the log.

mod accounts;
mod jobs;
mod ledger;

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use crate::error::{Error, InputError, Result};

/// The migrations, embedded in the binary (see the SQLite backend for why they are
/// listed by hand). A test checks this list against `migrations/postgres`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        20261101000000,
        "initial",
        include_str!("../../../migrations/postgres/20261101000000_initial.sql"),
    ),
    (
        20261201000000,
        "local users",
        include_str!("../../../migrations/postgres/20261201000000_local_users.sql"),
    ),
    (
        20261215000000,
        "chunk rows",
        include_str!("../../../migrations/postgres/20261215000000_chunk_rows.sql"),
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

/// Pool settings for [`PgStore::connect_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgStoreOptions {
    /// Connections the pool may open. Default 10.
    pub max_connections: u32,
    /// Connections kept open while idle. Default 0.
    pub min_connections: u32,
    /// How long a query waits for a connection (including connecting, and reconnecting
    /// while the server is down) before failing with [`Error::Database`]. Default 10 s.
    pub acquire_timeout: Duration,
    /// Idle connections are closed after this long. Default 10 min.
    pub idle_timeout: Option<Duration>,
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(600)),
        }
    }
}

/// Credits and jobs in one PostgreSQL database. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to a `postgres://…` URL (`DATABASE_URL`) with the default pool settings
    /// and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, PgStoreOptions::default()).await
    }

    /// [`PgStore::connect`] with explicit pool settings.
    pub async fn connect_with(url: &str, options: PgStoreOptions) -> Result<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::Config(
                "a PostgreSQL URL starts with postgres:// or postgresql://".into(),
            ));
        }
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("invalid PostgreSQL URL: {e}")))?
            .application_name("outreach");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections.min(options.max_connections))
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            // A connection broken by a server restart is found here and replaced.
            .test_before_acquire(true)
            .connect_with(connect)
            .await
            .map_err(db_error("connect to the database"))?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// A store over an existing pool, as is: call [`PgStore::migrate`] before use if the
    /// schema may be missing or old.
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Brings the schema up to date (idempotent; concurrent callers serialise on
    /// sqlx's advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        let migrator = Migrator::new(EmbeddedMigrations).await.map_err(|e| {
            tracing::error!(error = %e, "loading the embedded migrations failed");
            Error::Database("could not migrate the database".into())
        })?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("migrate the database"))?;
        if let Err(e) = migrator.run_direct(&mut *conn).await {
            // The migrator may still hold its session-level advisory lock: never give
            // this connection back to the pool.
            conn.close_on_drop();
            tracing::error!(error = %e, "running migrations failed");
            return Err(Error::Database("could not migrate the database".into()));
        }
        Ok(())
    }

    /// The underlying pool (for embedders that keep their own tables beside ours).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin(&self, op: &'static str) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_error(op))
    }
}

/// Maps a driver error to [`Error::Database`] naming only the operation; the detail
/// (SQL error, host) goes to the log, not to whoever sees the error.
fn db_error(op: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| {
        tracing::error!(error = %e, op, backend = "postgres", "database operation failed");
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
async fn rollback(tx: Transaction<'static, Postgres>) {
    if let Err(e) = tx.rollback().await {
        tracing::warn!(error = %e, "rollback failed");
    }
}

/// Commits `tx` if `result` is `Ok`, else rolls it back; returns `result`.
async fn finish_tx<T>(
    tx: Transaction<'static, Postgres>,
    result: Result<T>,
    op: &'static str,
) -> Result<T> {
    match result {
        Ok(v) => {
            tx.commit().await.map_err(db_error(op))?;
            Ok(v)
        }
        Err(e) => {
            rollback(tx).await;
            Err(e)
        }
    }
}

/// Now, at the precision `timestamptz` keeps (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    tracing::error!(%detail, what, "unreadable value in the database");
    Error::Database(format!("unreadable {what} in the database"))
}

/// Column readers: a value the schema should never hold is a database error, not a panic.
fn col<'r, T>(row: &'r PgRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(name).map_err(|e| corrupt(name, e))
}

fn col_u64(row: &PgRow, name: &str) -> Result<u64> {
    let v: i64 = col(row, name)?;
    u64::try_from(v).map_err(|e| corrupt(name, e))
}

fn col_u32(row: &PgRow, name: &str) -> Result<u32> {
    let v: i64 = col(row, name)?;
    u32::try_from(v).map_err(|e| corrupt(name, e))
}

/// Counts are `bigint`; values beyond `i64` are refused rather than wrapped.
fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| Error::InvalidInput(InputError::Other(format!("{what} is too large: {v}"))))
}

/// `LIMIT`/`OFFSET` from the API's `u64`, saturating.
fn sat_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn every_migration_file_is_embedded_verbatim() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        assert_eq!(
            files.len(),
            MIGRATIONS.len(),
            "migrations/postgres vs MIGRATIONS"
        );
        for (path, &(version, description, sql)) in files.iter().zip(MIGRATIONS) {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let (v, d) = stem.split_once('_').unwrap();
            assert_eq!(v.parse::<i64>().unwrap(), version, "{stem}");
            assert_eq!(d.replace('_', " "), description, "{stem}");
            assert_eq!(std::fs::read_to_string(path).unwrap(), sql, "{stem}");
        }
    }

    #[tokio::test]
    async fn bad_urls_are_config_errors_without_connecting() {
        assert!(matches!(
            PgStore::connect("mysql://x").await,
            Err(Error::Config(_))
        ));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_database_error() {
        // Port 1 on loopback: refused at once; the pool retries until the timeout.
        let options = PgStoreOptions {
            acquire_timeout: Duration::from_millis(300),
            ..PgStoreOptions::default()
        };
        match PgStore::connect_with("postgres://u@127.0.0.1:1/db", options).await {
            Err(Error::Database(msg)) => assert!(msg.contains("connect"), "{msg}"),
            other => panic!("expected Error::Database, got {other:?}"),
        }
    }
}
