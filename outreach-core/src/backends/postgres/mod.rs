//! PostgreSQL: [`CreditLedger`](crate::ports::CreditLedger) and
//! [`JobStore`](crate::ports::JobStore) for hosted deployments (cargo feature `postgres`).
//!
//! A concrete [`PgPool`] with native types (`timestamptz`, `jsonb`, `bigint`): sqlx's
//! `Any` driver cannot decode them. The schema is `migrations/postgres`, the same tables
//! and rules as the SQLite backend.
//!
//! The statements are [`super::sql`]'s (its concurrency notes say why they are
//! correct here); this module is the dialect and the pool. Transactions run at
//! PostgreSQL's default `READ COMMITTED`; `LOCK_ROW` is `FOR NO KEY UPDATE` rather than
//! `FOR UPDATE`: it excludes the other writers of the row just the same, but does not
//! block inserts elsewhere whose foreign key points at the row (a job's logs while a
//! chunk is being recorded). Jobs created in the same microsecond are ordered by the
//! identity column `seq`.
//!
//! # Connections
//!
//! The pool pings a connection before handing it out (`test_before_acquire`), so
//! connections broken by a server restart are replaced instead of failing a query;
//! waiting for a connection is bounded by the acquire timeout. Every driver error
//! (refused connection, timeout, constraint) becomes [`Error::Database`] naming the
//! operation, with the detail in the log.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;

use super::sql::{db_error, sqlx_dialect, Arg, EmbeddedMigrations, Query, SqlStore};
use crate::error::{Error, Result};

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
    (
        20261220000000,
        "credit debt",
        include_str!("../../../migrations/postgres/20261220000000_credit_debt.sql"),
    ),
    (
        20261230000000,
        "campaign settings",
        include_str!("../../../migrations/postgres/20261230000000_campaign_settings.sql"),
    ),
    (
        20261231000000,
        "file sizes",
        include_str!("../../../migrations/postgres/20261231000000_file_sizes.sql"),
    ),
    (
        20270110000000,
        "account security",
        include_str!("../../../migrations/postgres/20270110000000_account_security.sql"),
    ),
];

/// The PostgreSQL [`Dialect`].
#[derive(Debug, Clone, Copy)]
pub struct Postgres;

/// Credits, jobs and local accounts in one PostgreSQL database. Cheap to clone (the
/// pool is shared).
pub type PgStore = SqlStore<Postgres>;

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

impl SqlStore<Postgres> {
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
        let store = Self::from_pool(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// Brings the schema up to date (idempotent; concurrent callers serialise on
    /// sqlx's advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        let migrator = Migrator::new(EmbeddedMigrations(MIGRATIONS))
            .await
            .map_err(|e| {
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

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, PgArguments>;

/// Binds the portable parameters in PostgreSQL's native types.
fn build(query: &Query) -> sqlx::Result<PgQuery<'_>> {
    let mut q = sqlx::query(&query.sql);
    for arg in &query.args {
        q = match arg {
            Arg::Text(v) => q.bind(v.clone()),
            Arg::Int(v) => q.bind(*v),
            Arg::Real(v) => q.bind(*v),
            Arg::Ts(v) => q.bind(*v),
            Arg::Json(v) => q.bind(v.clone().map(Json)),
        };
    }
    Ok(q)
}

sqlx_dialect! {
    impl Dialect for Postgres {
        driver: sqlx::Postgres,
        pool: PgPool,
        row: PgRow,
        build: build,

        const NAME: &'static str = "postgres";
        const BEGIN_WRITE: &'static str = "BEGIN";
        const BEGIN_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
        const LOCK_ROW: &'static str = " FOR NO KEY UPDATE";
        const INSERTION_ORDER: &'static str = "seq";

        fn cast_uuid(param: &str) -> String {
            format!("CAST({param} AS uuid)")
        }
    }
    impl SqlRow {
        fn opt_ts(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
            col(self, name)
        }
        fn opt_json(&self, name: &str) -> Result<Option<serde_json::Value>> {
            Ok(col::<Option<Json<serde_json::Value>>>(self, name)?.map(|Json(v)| v))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_verbatim() {
        crate::backends::sql::assert_migrations_match("migrations/postgres", MIGRATIONS);
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
