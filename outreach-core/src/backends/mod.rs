//! Implementations of the ports. SQLite (jobs + ledger), object_store (local directory
//! or memory; S3 behind the `s3` feature later) and the in-process queue are the
//! embedded defaults and always built.

pub mod memory_queue;
pub mod object_storage;
pub mod sqlite;

pub use sqlite::SqliteStore;
