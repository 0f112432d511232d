//! The `Storage` port: blobs by key (`inputs/<user>/<job>/<file>`, `outputs/…`).

use std::fmt::Debug;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Error, Result};

/// Blob storage.
///
/// # Contract
/// - Keys are `/`-separated relative paths; implementations reject `..` and absolute keys.
///   [`validate_key`] holds the rules every implementation applies; a refused key is
///   [`crate::Error::InvalidKey`].
/// - `put` overwrites atomically: a reader sees the old or the new object, never a mix.
/// - `get` of a missing key is [`crate::Error::NotFound`]; `delete` of a missing key is `Ok`.
/// - `list(prefix)` returns every key under `prefix/` (recursively), sorted. The prefix is
///   matched by whole segments (`a/b` lists `a/b/x`, never `a/bc`); `""` lists everything.
/// - `put_file`/`get_to_file` stream: memory stays bounded whatever the object's size.
///   Both return the number of bytes moved.
/// - `size_under(prefix)` is the total size in bytes of the objects `list(prefix)`
///   returns (one listing, no reads: what a storage quota counts).
#[async_trait]
pub trait Storage: Send + Sync + Debug + 'static {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()>;
    async fn put_file(&self, key: &str, path: &Path) -> Result<u64>;
    async fn get(&self, key: &str) -> Result<Bytes>;
    async fn get_to_file(&self, key: &str, path: &Path) -> Result<u64>;
    async fn exists(&self, key: &str) -> Result<bool>;
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    async fn size_under(&self, prefix: &str) -> Result<u64>;
    async fn delete(&self, key: &str) -> Result<()>;
}

/// The longest key accepted, in bytes (S3's limit, so a key valid here is valid everywhere).
pub const MAX_KEY_LEN: usize = 1024;

/// Checks a key against the rules of the port. Keys carry user-chosen file names, so a
/// key must never be able to name something outside the store: no empty key, no leading
/// `/`, no `.`/`..` or empty segments, no backslash (a separator on Windows), no control
/// characters.
pub fn validate_key(key: &str) -> Result<()> {
    let invalid = |reason: &'static str| {
        Err(Error::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("the key is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return invalid("the key is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return invalid("the key is an absolute path");
    }
    if key.contains('\\') {
        return invalid("the key contains a backslash");
    }
    if key.chars().any(char::is_control) {
        return invalid("the key contains a control character");
    }
    for segment in key.split('/') {
        match segment {
            "" => return invalid("the key has an empty segment (`//` or a trailing `/`)"),
            "." | ".." => return invalid("the key has a `.` or `..` segment"),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a `list` prefix and returns it without its trailing `/`: `""` (everything) is
/// allowed, and so is one trailing `/`; otherwise a prefix follows [`validate_key`].
pub fn validate_prefix(prefix: &str) -> Result<&str> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if prefix.is_empty() {
        return Ok("");
    }
    validate_key(trimmed).map_err(|err| match err {
        Error::InvalidKey { reason, .. } => Error::InvalidKey {
            key: prefix.to_owned(),
            reason,
        },
        other => other,
    })?;
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in [
            "a",
            "inputs/u1/j1/prospects (1).csv",
            "outputs/u/j/résumé.xlsx",
            "a/.hidden",
            "a/..b",
            "a/b..",
        ] {
            assert!(validate_key(key).is_ok(), "{key:?} should be accepted");
        }
    }

    #[test]
    fn rejects_keys_that_could_escape() {
        let too_long = "k".repeat(MAX_KEY_LEN + 1);
        for key in [
            "",
            "/etc/passwd",
            "..",
            "../x",
            "a/../../x",
            "a/./b",
            ".",
            "a//b",
            "a/",
            "a\\..\\b",
            "a\u{0}b",
            "a\nb",
            too_long.as_str(),
        ] {
            assert!(
                matches!(validate_key(key), Err(Error::InvalidKey { .. })),
                "{key:?} should be rejected"
            );
        }
    }

    #[test]
    fn prefixes_allow_empty_and_one_trailing_slash() {
        assert_eq!(validate_prefix("").ok(), Some(""));
        assert_eq!(validate_prefix("a/b/").ok(), Some("a/b"));
        assert_eq!(validate_prefix("a/b").ok(), Some("a/b"));
        for prefix in ["/", "a//", "/a", "a/../b", "..", "a\\b"] {
            assert!(
                matches!(validate_prefix(prefix), Err(Error::InvalidKey { .. })),
                "{prefix:?} should be rejected"
            );
        }
    }
}
