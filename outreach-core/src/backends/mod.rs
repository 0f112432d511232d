//! Implementations of the ports. SQLite (jobs + ledger), object_store (local directory
//! or memory; S3 behind the `s3` feature later) and the in-process queue are the
//! embedded defaults and always built. PostgreSQL (jobs + ledger) is behind the
//! `postgres` feature.

pub mod memory_queue;
pub mod object_storage;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::{PgStore, PgStoreOptions};
pub use sqlite::SqliteStore;
