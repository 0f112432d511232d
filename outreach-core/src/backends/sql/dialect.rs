//! What differs between the SQL databases, and nothing else.
//!
//! The store's statements are written once (`$N` parameters, `ON CONFLICT … DO
//! NOTHING`, `RETURNING`, `COALESCE`, `CAST(… AS BIGINT)` all mean the same on SQLite
//! and PostgreSQL). A [`Dialect`] supplies the rest: how a transaction that writes or
//! reads one snapshot is opened, the row-lock clause, the insertion-order column, casts,
//! and how parameters and columns of the portable types ([`Arg`], [`SqlRow`]) map to
//! the driver's native ones (timestamps and JSON as `TEXT` on SQLite, `timestamptz`
//! and `jsonb` on PostgreSQL).

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;

/// A statement parameter in a portable type; the dialect binds its native form.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Ts(Option<DateTime<Utc>>),
    Json(Option<serde_json::Value>),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_owned))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Real(Some(v))
    }
}
impl From<Option<f64>> for Arg {
    fn from(v: Option<f64>) -> Self {
        Arg::Real(v)
    }
}
impl From<DateTime<Utc>> for Arg {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Ts(Some(v))
    }
}
impl From<Option<DateTime<Utc>>> for Arg {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::Ts(v)
    }
}
impl From<Option<serde_json::Value>> for Arg {
    fn from(v: Option<serde_json::Value>) -> Self {
        Arg::Json(v)
    }
}

/// A statement and its parameters, in order (`$1`, `$2`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Query {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    pub fn bind(mut self, arg: impl Into<Arg>) -> Self {
        self.args.push(arg.into());
        self
    }
}

/// Where a statement runs: on any pooled connection, or inside a transaction.
pub enum On<'a, D: Dialect> {
    Pool(&'a D::Pool),
    Tx(&'a mut D::Tx),
}

/// A result row read in the portable types. A value the schema should never hold is a
/// database error ([`super::corrupt`]), never a panic.
pub trait SqlRow: Send + Sync {
    fn text(&self, name: &str) -> Result<String>;
    fn opt_text(&self, name: &str) -> Result<Option<String>>;
    fn int(&self, name: &str) -> Result<i64>;
    fn opt_real(&self, name: &str) -> Result<Option<f64>>;
    fn real(&self, name: &str) -> Result<f64>;
    fn opt_ts(&self, name: &str) -> Result<Option<DateTime<Utc>>>;
    fn opt_json(&self, name: &str) -> Result<Option<serde_json::Value>>;

    fn ts(&self, name: &str) -> Result<DateTime<Utc>> {
        self.opt_ts(name)?
            .ok_or_else(|| super::corrupt(name, "NULL timestamp"))
    }
    fn u64(&self, name: &str) -> Result<u64> {
        u64::try_from(self.int(name)?).map_err(|e| super::corrupt(name, e))
    }
    fn u32(&self, name: &str) -> Result<u32> {
        u32::try_from(self.int(name)?).map_err(|e| super::corrupt(name, e))
    }
}

/// One SQL database. Implemented by the SQLite and PostgreSQL backends only.
///
/// # Contract
/// - `BEGIN_WRITE` opens a transaction in which `SELECT … {LOCK_ROW}` on a row keeps
///   every other writer of that row waiting until commit (SQLite: the database write
///   lock from the first statement; PostgreSQL: the row lock).
/// - `BEGIN_SNAPSHOT` opens a transaction whose reads all see one snapshot.
/// - Every [`Arg`] round-trips through the matching [`SqlRow`] reader.
#[async_trait]
pub trait Dialect: Debug + Send + Sync + Sized + 'static {
    /// For logs.
    const NAME: &'static str;
    const BEGIN_WRITE: &'static str;
    const BEGIN_SNAPSHOT: &'static str;
    /// Appended to a `SELECT` of a row the transaction is about to change.
    const LOCK_ROW: &'static str;
    /// A column that orders a table's rows by insertion (ties of `created_at`).
    const INSERTION_ORDER: &'static str;

    type Pool: Clone + Debug + Send + Sync;
    type Tx: Send;
    type Row: SqlRow;

    /// The parameter `param` (e.g. `$1`, a text) as a UUID column value.
    fn cast_uuid(param: &str) -> String;

    async fn begin(pool: &Self::Pool, statement: &'static str) -> sqlx::Result<Self::Tx>;
    async fn commit(tx: Self::Tx) -> sqlx::Result<()>;
    async fn rollback(tx: Self::Tx) -> sqlx::Result<()>;
    async fn fetch_all(on: On<'_, Self>, query: Query) -> sqlx::Result<Vec<Self::Row>>;
    async fn fetch_optional(on: On<'_, Self>, query: Query) -> sqlx::Result<Option<Self::Row>>;
    /// Rows affected.
    async fn execute(on: On<'_, Self>, query: Query) -> sqlx::Result<u64>;
}

/// The parts of a [`Dialect`] and its [`SqlRow`] that differ only by the sqlx driver,
/// written once for both backends: transactions begun with a statement, the three ways
/// to run a bound query (`build`, fallible) on the pool or in a transaction, and the
/// readers of natively decoded columns. What really differs — the constants,
/// `cast_uuid`, how timestamps and JSON are read — is passed in.
macro_rules! sqlx_dialect {
    (
        impl Dialect for $dialect:ty {
            driver: $db:ty,
            pool: $pool:ty,
            row: $row:ty,
            build: $build:path,
            $($dialect_items:tt)*
        }
        impl SqlRow {
            $($row_items:tt)*
        }
    ) => {
        #[async_trait::async_trait]
        impl $crate::backends::sql::Dialect for $dialect {
            $($dialect_items)*

            type Pool = $pool;
            type Tx = sqlx::Transaction<'static, $db>;
            type Row = $row;

            async fn begin(pool: &$pool, statement: &'static str) -> sqlx::Result<Self::Tx> {
                pool.begin_with(statement).await
            }

            async fn commit(tx: Self::Tx) -> sqlx::Result<()> {
                tx.commit().await
            }

            async fn rollback(tx: Self::Tx) -> sqlx::Result<()> {
                tx.rollback().await
            }

            async fn fetch_all(
                on: $crate::backends::sql::On<'_, Self>,
                query: $crate::backends::sql::Query,
            ) -> sqlx::Result<Vec<$row>> {
                let q = $build(&query)?;
                match on {
                    $crate::backends::sql::On::Pool(pool) => q.fetch_all(pool).await,
                    $crate::backends::sql::On::Tx(tx) => q.fetch_all(&mut **tx).await,
                }
            }

            async fn fetch_optional(
                on: $crate::backends::sql::On<'_, Self>,
                query: $crate::backends::sql::Query,
            ) -> sqlx::Result<Option<$row>> {
                let q = $build(&query)?;
                match on {
                    $crate::backends::sql::On::Pool(pool) => q.fetch_optional(pool).await,
                    $crate::backends::sql::On::Tx(tx) => q.fetch_optional(&mut **tx).await,
                }
            }

            async fn execute(
                on: $crate::backends::sql::On<'_, Self>,
                query: $crate::backends::sql::Query,
            ) -> sqlx::Result<u64> {
                let q = $build(&query)?;
                let done = match on {
                    $crate::backends::sql::On::Pool(pool) => q.execute(pool).await?,
                    $crate::backends::sql::On::Tx(tx) => q.execute(&mut **tx).await?,
                };
                Ok(done.rows_affected())
            }
        }

        /// Column readers: a value the schema should never hold is a database error,
        /// not a panic.
        fn col<'r, T>(row: &'r $row, name: &str) -> $crate::error::Result<T>
        where
            T: sqlx::Decode<'r, $db> + sqlx::Type<$db>,
        {
            sqlx::Row::try_get(row, name).map_err(|e| $crate::backends::sql::corrupt(name, e))
        }

        impl $crate::backends::sql::SqlRow for $row {
            fn text(&self, name: &str) -> $crate::error::Result<String> {
                col(self, name)
            }
            fn opt_text(&self, name: &str) -> $crate::error::Result<Option<String>> {
                col(self, name)
            }
            fn int(&self, name: &str) -> $crate::error::Result<i64> {
                col(self, name)
            }
            fn real(&self, name: &str) -> $crate::error::Result<f64> {
                col(self, name)
            }
            fn opt_real(&self, name: &str) -> $crate::error::Result<Option<f64>> {
                col(self, name)
            }
            $($row_items)*
        }
    };
}
pub(crate) use sqlx_dialect;
