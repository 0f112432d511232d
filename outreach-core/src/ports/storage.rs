//! The `Storage` port: blobs by key (`inputs/<user>/<job>/<file>`, `outputs/…`).

use std::fmt::Debug;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;

/// Blob storage.
///
/// # Contract
/// - Keys are `/`-separated relative paths; implementations reject `..` and absolute keys.
/// - `put` overwrites atomically: a reader sees the old or the new object, never a mix.
/// - `get` of a missing key is [`crate::Error::NotFound`]; `delete` of a missing key is `Ok`.
/// - `list(prefix)` returns every key under `prefix/` (recursively), sorted.
/// - `put_file`/`get_to_file` stream: memory stays bounded whatever the object's size.
#[async_trait]
pub trait Storage: Send + Sync + Debug + 'static {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()>;
    async fn put_file(&self, key: &str, path: &Path) -> Result<u64>;
    async fn get(&self, key: &str) -> Result<Bytes>;
    async fn get_to_file(&self, key: &str, path: &Path) -> Result<u64>;
    async fn exists(&self, key: &str) -> Result<bool>;
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    async fn delete(&self, key: &str) -> Result<()>;
}
