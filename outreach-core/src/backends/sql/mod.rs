//! The SQL store, written once: [`CreditLedger`](crate::ports::CreditLedger),
//! [`JobStore`](crate::ports::JobStore) + [`JobRecords`](crate::ports::JobRecords) and
//! [`LocalAccounts`](crate::ports::LocalAccounts) over any [`Dialect`] (SQLite, the
//! embedded default; PostgreSQL with the `postgres` feature).
//!
//! # Concurrency notes
//!
//! Correctness comes from two mechanisms both databases provide, not from isolation
//! levels:
//! - **Compare-and-set in one statement.** Status changes are `UPDATE … WHERE status =
//!   $from`: SQLite takes the write lock at the start of the statement; on PostgreSQL a
//!   concurrent updater waits for the row, then re-checks the condition on its new
//!   version. Either way exactly one caller wins.
//! - **Lock first, then read, then write.** `apply` and `record_chunk` open a write
//!   transaction (`Dialect::BEGIN_WRITE`) and start with `SELECT … {LOCK_ROW}` of the
//!   profile / job row. On SQLite `BEGIN IMMEDIATE` holds the database's write lock from
//!   the first statement (a *deferred* transaction that reads first could fail with
//!   `SQLITE_BUSY` at the upgrade; `busy_timeout` makes competing writers queue instead);
//!   on PostgreSQL `FOR NO KEY UPDATE` excludes the row's other writers but not inserts
//!   whose foreign key points at it. Under the lock the balance is checked, the ledger
//!   row inserted with its final `balance_after` and the balance changed, so ledger ids
//!   follow the order in which balances change; each chunk recount sees every chunk
//!   committed before it. `CHECK (credits_remaining >= 0)` backs this up in the schema.
//! - Pages and their totals are read in one snapshot (`Dialect::BEGIN_SNAPSHOT`).
//!
//! Every driver error becomes [`Error::Database`] naming the operation, with the detail
//! in the log; constraint violations the caller can act on become
//! [`Error::AlreadyExists`] / [`Error::NotFound`] through [`on_constraint`].

mod accounts;
mod campaign;
pub mod dialect;
mod jobs;
mod ledger;
mod user_data;

use std::borrow::Cow;

use chrono::{DateTime, SubsecRound, Utc};
use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType};

pub(crate) use dialect::sqlx_dialect;
pub use dialect::{Arg, Dialect, On, Query, SqlRow};

use crate::error::{Error, InputError, Result};

/// Credits, jobs and local accounts in one SQL database. Cheap to clone (the pool is
/// shared). Use it through its aliases, [`super::SqliteStore`] and `PgStore`.
#[derive(Debug, Clone)]
pub struct SqlStore<D: Dialect> {
    pub(crate) pool: D::Pool,
}

impl<D: Dialect> SqlStore<D> {
    /// A store over an existing pool, as is (its schema must be up to date).
    pub fn from_pool(pool: D::Pool) -> Self {
        Self { pool }
    }

    /// The underlying pool (for embedders that keep their own tables beside ours).
    pub fn pool(&self) -> &D::Pool {
        &self.pool
    }

    fn on(&self) -> On<'_, D> {
        On::Pool(&self.pool)
    }

    async fn begin(&self, statement: &'static str, op: &'static str) -> Result<D::Tx> {
        D::begin(&self.pool, statement).await.map_err(db_error(op))
    }
}

impl<D: Dialect> On<'_, D> {
    pub(crate) async fn all(self, query: Query, op: &'static str) -> Result<Vec<D::Row>> {
        D::fetch_all(self, query).await.map_err(db_error(op))
    }

    pub(crate) async fn optional(self, query: Query, op: &'static str) -> Result<Option<D::Row>> {
        D::fetch_optional(self, query).await.map_err(db_error(op))
    }

    pub(crate) async fn execute(self, query: Query, op: &'static str) -> Result<u64> {
        D::execute(self, query).await.map_err(db_error(op))
    }
}

/// Commits `tx` if `result` is `Ok`, else rolls it back (logging, not returning, a
/// failed rollback: the caller is already returning the error that caused it, and a
/// dropped transaction rolls back anyway); returns `result`.
async fn finish_tx<D: Dialect, T>(tx: D::Tx, result: Result<T>, op: &'static str) -> Result<T> {
    match result {
        Ok(v) => {
            D::commit(tx).await.map_err(db_error(op))?;
            Ok(v)
        }
        Err(e) => {
            if let Err(e) = D::rollback(tx).await {
                tracing::warn!(error = %e, backend = D::NAME, "rollback failed");
            }
            Err(e)
        }
    }
}

/// Maps a driver error to [`Error::Database`] naming only the operation; the detail
/// (SQL error, file path, host) goes to the log, not to whoever sees the error.
pub(crate) fn db_error(op: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| {
        tracing::error!(error = %e, op, "database operation failed");
        Error::Database(format!("could not {op}"))
    }
}

/// A constraint whose violation means something to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Constraint {
    /// A row with the same key exists.
    Unique,
    /// A row names a parent that does not exist.
    ForeignKey,
}

/// Like [`db_error`], except that a violation of `constraint` becomes `error()`
/// (the realworld-axum-sqlx `on_constraint` idiom, by kind rather than by name: the
/// two databases name constraints differently).
pub(crate) fn on_constraint(
    constraint: Constraint,
    error: impl FnOnce() -> Error,
    op: &'static str,
) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| {
        let hit = match &e {
            sqlx::Error::Database(d) => match constraint {
                Constraint::Unique => d.is_unique_violation(),
                Constraint::ForeignKey => d.is_foreign_key_violation(),
            },
            _ => false,
        };
        if hit {
            error()
        } else {
            db_error(op)(e)
        }
    }
}

/// Now, at the precision both databases keep (microseconds).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A value the schema should never hold: a database error, logged with its detail.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    tracing::error!(%detail, what, "unreadable value in the database");
    Error::Database(format!("unreadable {what} in the database"))
}

/// Integers are `i64` in both databases; counts beyond that are refused, not wrapped.
pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| Error::InvalidInput(InputError::Other(format!("{what} is too large: {v}"))))
}

/// `LIMIT`/`OFFSET` from the API's `u64`, saturating.
pub(crate) fn sat_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A value stored as JSON.
pub(crate) fn json_arg(v: &impl serde::Serialize, what: &str) -> Result<Arg> {
    serde_json::to_value(v)
        .map(|v| Arg::Json(Some(v)))
        .map_err(|e| {
            Error::InvalidInput(InputError::Other(format!("{what} cannot be stored: {e}")))
        })
}

/// Migrations embedded in the binary, as `(version, description, sql)`. Listed by hand
/// rather than with `sqlx::migrate!` because that macro needs sqlx's `macros` feature,
/// which builds SQLite a second time for the proc-macro host. Each backend's test checks
/// its list against its directory; the version/description/checksum scheme is sqlx's
/// own, so the `sqlx migrate` CLI sees the same history.
#[derive(Debug)]
pub(crate) struct EmbeddedMigrations(pub &'static [(i64, &'static str, &'static str)]);

impl<'s> MigrationSource<'s> for EmbeddedMigrations {
    fn resolve(self) -> BoxFuture<'s, std::result::Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
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

/// The test each backend runs: its `MIGRATIONS` list is its directory, verbatim.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn assert_migrations_match(dir: &str, list: &[(i64, &str, &str)]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), list.len(), "{} vs MIGRATIONS", dir.display());
    for (path, &(version, description, sql)) in files.iter().zip(list) {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let (v, d) = stem.split_once('_').unwrap();
        assert_eq!(v.parse::<i64>().unwrap(), version, "{stem}");
        assert_eq!(d.replace('_', " "), description, "{stem}");
        assert_eq!(std::fs::read_to_string(path).unwrap(), sql, "{stem}");
    }
}
