//! Local temporary files of the job tasks: a stored object copied down (the reader
//! picks the format from the extension), a directory for a result being written.

use std::path::PathBuf;

use super::JobSystem;
use crate::error::Result;
use crate::pipeline::blocking;

/// A local copy of a stored object; the directory goes away when this is dropped.
pub(crate) struct LocalCopy {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl JobSystem {
    /// Copy a stored object into a fresh temporary directory (deleted when dropped),
    /// keeping its file name.
    pub(crate) async fn download(&self, key: &str) -> Result<LocalCopy> {
        let name = key.rsplit('/').next().unwrap_or("input").to_string();
        let dir = self.temp_dir().await?;
        let path = dir.path().join(name);
        self.storage().get_to_file(key, &path).await?;
        Ok(LocalCopy { _dir: dir, path })
    }

    /// A fresh directory under `JobSettings::temp_dir`, deleted when dropped.
    pub(crate) async fn temp_dir(&self) -> Result<tempfile::TempDir> {
        let base = self.settings().temp_dir.clone();
        blocking(move || {
            std::fs::create_dir_all(&base)?;
            Ok(tempfile::Builder::new()
                .prefix("outreach-")
                .tempdir_in(&base)?)
        })
        .await
    }
}
