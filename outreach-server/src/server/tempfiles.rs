//! Temporary local copies: uploads are streamed to one before `put_file`, and stored
//! objects are fetched into one before reading (the reader needs a file, and memory
//! must not hold a whole upload).

use std::path::{Path, PathBuf};

use super::error::{AppError, AppResult};
use super::state::AppState;

/// A file in its own temporary directory, removed when this is dropped.
#[derive(Debug)]
pub struct TempCopy {
    dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TempCopy {
    /// A fresh directory under `base` and the path `name` inside it (not created).
    pub async fn new(base: &Path, name: &str) -> AppResult<TempCopy> {
        let base = base.to_path_buf();
        let dir = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&base)?;
            tempfile::Builder::new()
                .prefix("outreach-http-")
                .tempdir_in(&base)
        })
        .await
        .map_err(AppError::internal)??;
        let path = dir.path().join(name);
        Ok(TempCopy { dir, path })
    }

    /// Copies the stored object `key` into a temporary file named like its last segment.
    pub async fn fetch(state: &AppState, key: &str) -> AppResult<TempCopy> {
        let name = key.rsplit('/').next().unwrap_or("file");
        let copy = TempCopy::new(&state.config.temp_dir, name).await?;
        state.jobs.storage().get_to_file(key, &copy.path).await?;
        Ok(copy)
    }

    /// Removes the directory off the async threads.
    pub async fn remove(self) {
        let TempCopy { dir, .. } = self;
        let _ = tokio::task::spawn_blocking(move || drop(dir)).await;
    }
}
