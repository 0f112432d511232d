//! Implementations of the ports that keep state in a database. SQLite is the embedded
//! default and always built; PostgreSQL will sit behind the `postgres` feature.

pub mod sqlite;

pub use sqlite::SqliteStore;
