//! Implementations of the ports. One SQL store (`sql`: jobs, ledger, local accounts)
//! over two dialects: SQLite (`sqlite`), the embedded default, and PostgreSQL
//! (`postgres`, cargo feature `postgres`). object_store (local directory or memory) and
//! the in-process queue are always built. Behind cargo features: S3-compatible
//! storage (`s3`), the Redis Streams queue and the Redis rate limiter (`redis`).

pub mod memory_queue;
pub mod object_storage;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis_queue;
#[cfg(feature = "redis")]
pub mod redis_rate_limit;
#[cfg(feature = "s3")]
pub mod s3;
pub mod sql;
pub mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::{PgStore, PgStoreOptions};
pub use sqlite::SqliteStore;
