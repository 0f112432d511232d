//! Implementations of the ports. SQLite (jobs + ledger), object_store (local directory
//! or memory) and the in-process queue are the embedded defaults and always built.
//! Behind cargo features: PostgreSQL for jobs + ledger (`postgres`), S3-compatible
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
pub mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::{PgStore, PgStoreOptions};
pub use sqlite::SqliteStore;
