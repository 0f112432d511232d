//! [`Storage`] over the `object_store` crate: a local directory (the embedded default),
//! memory (tests), and — behind the `s3` cargo feature — S3-compatible stores (AWS S3,
//! Supabase Storage's S3 endpoint, MinIO, moto), addressed path-style
//! (`ENDPOINT/BUCKET/KEY`), which every one of them accepts.
//!
//! Notes on the guarantees the port asks for:
//! - Atomic `put`: `LocalFileSystem` writes a staging file (`<key>#<n>`) and renames it
//!   into place; S3 and memory replace objects whole. Because staging files are named
//!   `<segment>#<digits>`, such names are refused as keys for every store here, so a key
//!   accepted on the local disk is accepted on S3 and the other way round.
//! - Bounded memory: `put_file` reads the file in [`PART_SIZE`] parts and uploads them
//!   through [`WriteMultipart`] with at most [`PARTS_IN_FLIGHT`] parts pending (a file
//!   smaller than one part is a single `put`); `get_to_file` streams the object into a
//!   temporary sibling of the destination and renames it when complete, so a failed
//!   download never leaves a truncated file under the requested name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

use crate::error::{Error, Result};
use crate::ports::storage::{validate_key, validate_prefix, Storage};

#[cfg(feature = "s3")]
pub use super::s3::S3Config;

/// Size of one uploaded part. 5 MiB is S3's minimum part size (all parts but the last).
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// Parts uploaded concurrently by `put_file`; with the part being read this bounds its
/// memory at `(PARTS_IN_FLIGHT + 1) * PART_SIZE`.
pub const PARTS_IN_FLIGHT: usize = 2;

/// Write buffer of `get_to_file` (the local store yields 8 KiB pieces).
const DOWNLOAD_BUFFER: usize = 1024 * 1024;

/// Subdirectory of the data dir used when no storage URL is configured.
pub const DEFAULT_SUBDIR: &str = "files";

/// Blob storage on any [`ObjectStore`].
#[derive(Debug, Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
}

impl ObjectStorage {
    /// Wraps any object store (for example one wrapped in `object_store`'s `LimitStore`
    /// or `ThrottledStore`).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// Files under `dir`, which is created if missing.
    pub fn local(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(|err| {
            Error::Config(format!(
                "cannot use {} as a storage directory: {err}",
                dir.display()
            ))
        })?;
        Ok(Self::new(Arc::new(store)))
    }

    /// An S3-compatible bucket, path-style ([`S3Config::build`]). Nothing is sent until
    /// the first operation, so a wrong endpoint or credentials show up there (as
    /// `Error::Storage`).
    #[cfg(feature = "s3")]
    pub fn s3(config: S3Config) -> Result<Self> {
        Ok(Self::new(config.build()?))
    }

    /// Objects in memory, gone when the last clone is dropped. For tests and examples.
    pub fn memory() -> Self {
        Self::new(Arc::new(InMemory::new()))
    }

    /// Builds the store a `STORAGE_URL` names:
    /// - `file://DIR` or a bare path `DIR`: [`ObjectStorage::local`] (a relative `DIR` is
    ///   relative to the working directory, as for any path in the environment);
    /// - `""` (not configured): `data_dir/files`, beside the embedded database;
    /// - `s3://BUCKET` or `s3://BUCKET/PREFIX`: needs the `s3` cargo feature; the rest
    ///   of the configuration comes from the environment (`S3Config::from_url`).
    pub fn from_url(url: &str, data_dir: &Path) -> Result<Self> {
        let url = url.trim();
        if url.is_empty() {
            return Self::local(&data_dir.join(DEFAULT_SUBDIR));
        }
        match url.split_once("://") {
            None => Self::local(Path::new(url)),
            Some(("file", dir)) if !dir.is_empty() => {
                // `file://localhost/dir` is the long form of `file:///dir`.
                let dir = dir
                    .strip_prefix("localhost")
                    .filter(|rest| rest.starts_with('/'))
                    .unwrap_or(dir);
                Self::local(Path::new(dir))
            }
            Some(("file", _)) => Err(Error::Config(format!(
                "STORAGE_URL `{url}` names no directory: use file:///absolute/dir or file://relative/dir"
            ))),
            Some(("s3", _)) => Self::s3_from_url(url),
            Some((scheme, _)) => Err(Error::Config(format!(
                "STORAGE_URL scheme `{scheme}` is not supported: use file://DIR or s3://BUCKET"
            ))),
        }
    }

    /// `s3://BUCKET[/PREFIX]`. The S3 backend is an optional feature so an embedder who
    /// keeps files on disk does not build an HTTP/TLS stack for it.
    #[cfg(feature = "s3")]
    fn s3_from_url(url: &str) -> Result<Self> {
        Self::s3(S3Config::from_url(url)?)
    }

    #[cfg(not(feature = "s3"))]
    fn s3_from_url(url: &str) -> Result<Self> {
        Err(Error::Config(format!(
            "STORAGE_URL `{url}` needs S3 support: build outreach-core with the `s3` feature"
        )))
    }

    /// The store's path for a key, after the port's checks and ours.
    fn location(key: &str) -> Result<ObjectPath> {
        validate_key(key)?;
        if key.split('/').any(is_staging_name) {
            return Err(Error::InvalidKey {
                key: key.to_owned(),
                reason: "a segment ends in `#` and digits (reserved for uploads in progress)",
            });
        }
        ObjectPath::parse(key).map_err(|err| Error::InvalidKey {
            key: key.to_owned(),
            reason: match err {
                object_store::path::Error::EmptySegment { .. } => "the key has an empty segment",
                _ => "the key is not a valid object path",
            },
        })
    }
}

/// `LocalFileSystem` names its staging files `<name>#<digits>` and hides them from
/// listings; a key segment of that shape would collide with them.
fn is_staging_name(segment: &str) -> bool {
    match segment.rsplit_once('#') {
        Some((_, digits)) => !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// Maps a store error for `key`: a missing object is the port's `NotFound`.
///
/// S3 answers 404 for a missing bucket too (`NoSuchBucket`), and `object_store` reports
/// both as `NotFound`; a missing bucket is a deployment problem, not a missing key, so
/// it becomes `Error::Storage`. So does `NotFound` from an operation that writes or
/// lists (only the container can be missing there).
fn store_error(op: &str, key: &str, err: object_store::Error) -> Error {
    match err {
        object_store::Error::NotFound { .. }
            if !matches!(op, "put" | "put_file" | "list")
                && !format!("{err:?}").contains("NoSuchBucket") =>
        {
            Error::NotFound(key.to_owned())
        }
        other => Error::Storage(format!("{op} {key:?}: {other}")),
    }
}

/// Reads until `limit` bytes or the end of the file; fewer bytes means the end was reached.
async fn read_part(file: &mut tokio::fs::File, limit: usize) -> std::io::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(limit);
    while buf.len() < limit {
        if file.read_buf(&mut buf).await? == 0 {
            break;
        }
    }
    Ok(buf.freeze())
}

/// A temporary name next to `path`, so the final rename stays on one file system.
fn temp_sibling(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        ))
    })?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".{}.part", uuid::Uuid::new_v4().simple()));
    Ok(path.with_file_name(temp))
}

impl ObjectStorage {
    async fn upload_parts(
        &self,
        key: &str,
        location: &ObjectPath,
        file: &mut tokio::fs::File,
        first: Bytes,
    ) -> Result<u64> {
        let upload = self
            .store
            .put_multipart(location)
            .await
            .map_err(|e| store_error("put_file", key, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut total = first.len() as u64;
        writer.put(first);
        loop {
            let step = async {
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|e| store_error("put_file", key, e))?;
                Ok::<_, Error>(read_part(file, PART_SIZE).await?)
            };
            match step.await {
                Ok(part) if part.is_empty() => break,
                Ok(part) => {
                    total += part.len() as u64;
                    writer.put(part);
                }
                Err(err) => {
                    if let Err(abort) = writer.abort().await {
                        tracing::warn!(key, error = %abort, "could not abort a multipart upload");
                    }
                    return Err(err);
                }
            }
        }
        // `finish` aborts the upload itself when completing it fails.
        writer
            .finish()
            .await
            .map_err(|e| store_error("put_file", key, e))?;
        Ok(total)
    }

    async fn download(&self, key: &str, location: &ObjectPath, temp: &Path) -> Result<u64> {
        let result = self
            .store
            .get(location)
            .await
            .map_err(|e| store_error("get_to_file", key, e))?;
        let file = tokio::fs::File::create(temp).await?;
        let mut out = BufWriter::with_capacity(DOWNLOAD_BUFFER, file);
        let mut stream = result.into_stream();
        let mut total = 0u64;
        while let Some(piece) = stream
            .try_next()
            .await
            .map_err(|e| store_error("get_to_file", key, e))?
        {
            out.write_all(&piece).await?;
            total += piece.len() as u64;
        }
        // tokio's File finishes writes in the background: flush before renaming.
        out.flush().await?;
        Ok(total)
    }
}

#[async_trait]
impl Storage for ObjectStorage {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        let location = Self::location(key)?;
        self.store
            .put(&location, bytes.into())
            .await
            .map_err(|e| store_error("put", key, e))?;
        Ok(())
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<u64> {
        let location = Self::location(key)?;
        let mut file = tokio::fs::File::open(path).await?;
        let first = read_part(&mut file, PART_SIZE).await?;
        if first.len() < PART_SIZE {
            // The whole file fits in one part: one request, atomic like `put`. Copied so a
            // store that keeps the buffer (memory) does not keep a whole part's capacity.
            let len = first.len() as u64;
            self.store
                .put(&location, Bytes::copy_from_slice(&first).into())
                .await
                .map_err(|e| store_error("put_file", key, e))?;
            return Ok(len);
        }
        self.upload_parts(key, &location, &mut file, first).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let location = Self::location(key)?;
        let result = self
            .store
            .get(&location)
            .await
            .map_err(|e| store_error("get", key, e))?;
        result.bytes().await.map_err(|e| store_error("get", key, e))
    }

    async fn get_to_file(&self, key: &str, path: &Path) -> Result<u64> {
        let location = Self::location(key)?;
        let temp = temp_sibling(path)?;
        let outcome = match self.download(key, &location, &temp).await {
            Ok(total) => tokio::fs::rename(&temp, path)
                .await
                .map(|()| total)
                .map_err(Error::from),
            Err(err) => Err(err),
        };
        if outcome.is_err() {
            // The temp file may not exist (e.g. the object was missing): nothing to report.
            let _ = tokio::fs::remove_file(&temp).await;
        }
        outcome
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let location = Self::location(key)?;
        match self.store.head(&location).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(store_error("exists", key, err)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = validate_prefix(prefix)?;
        let location = if prefix.is_empty() {
            None
        } else {
            Some(Self::location(prefix)?)
        };
        let mut keys: Vec<String> = self
            .store
            .list(location.as_ref())
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .map_err(|e| store_error("list", prefix, e))?;
        keys.sort_unstable();
        Ok(keys)
    }

    async fn size_under(&self, prefix: &str) -> Result<u64> {
        let prefix = validate_prefix(prefix)?;
        let location = if prefix.is_empty() {
            None
        } else {
            Some(Self::location(prefix)?)
        };
        // The listing carries each object's size (a directory walk with `stat` on local
        // disk, LIST pages of 1,000 keys on S3): nothing is read.
        self.store
            .list(location.as_ref())
            .try_fold(0u64, |total, meta| async move {
                Ok(total.saturating_add(meta.size))
            })
            .await
            .map_err(|e| store_error("size_under", prefix, e))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let location = Self::location(key)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(store_error("delete", key, err)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_are_reserved() {
        assert!(is_staging_name("a#1"));
        assert!(is_staging_name("report.csv#42"));
        assert!(!is_staging_name("a#"));
        assert!(!is_staging_name("a#b1"));
        assert!(!is_staging_name("#tag"));
        assert!(matches!(
            ObjectStorage::location("inputs/a#12"),
            Err(Error::InvalidKey { .. })
        ));
        assert!(ObjectStorage::location("inputs/#1 prospects.csv").is_ok());
    }

    #[test]
    fn from_url_understands_file_and_bare_paths() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("blobs");
        let url = format!("file://{}", target.display());
        assert!(ObjectStorage::from_url(&url, dir.path()).is_ok());
        assert!(target.is_dir());

        let bare = dir.path().join("bare");
        assert!(ObjectStorage::from_url(&bare.display().to_string(), dir.path()).is_ok());
        assert!(bare.is_dir());

        let long_form = dir.path().join("long");
        let url = format!("file://localhost{}", long_form.display());
        assert!(ObjectStorage::from_url(&url, dir.path()).is_ok());
        assert!(long_form.is_dir());

        assert!(ObjectStorage::from_url("", dir.path()).is_ok());
        assert!(dir.path().join(DEFAULT_SUBDIR).is_dir());
    }

    #[test]
    fn from_url_explains_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        #[cfg(not(feature = "s3"))]
        match ObjectStorage::from_url("s3://bucket/prefix", dir.path()) {
            Err(Error::Config(message)) => assert!(message.contains("`s3` feature"), "{message}"),
            other => panic!("expected a config error, got {other:?}"),
        }
        #[cfg(feature = "s3")]
        assert!(matches!(
            ObjectStorage::from_url("s3://", dir.path()),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            ObjectStorage::from_url("gs://bucket", dir.path()),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            ObjectStorage::from_url("file://", dir.path()),
            Err(Error::Config(_))
        ));
    }
}
