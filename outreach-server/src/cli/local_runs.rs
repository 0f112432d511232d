//! Remembering unfinished local runs, so running the same command again resumes the
//! same job. A run is identified by a SHA-256 of the input's bytes and every option
//! that changes the output; a file under `<data dir>/runs/` maps it to the job id.

use std::path::{Path, PathBuf};

use outreach_core::jobs::CreateJob;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

pub struct LocalRuns {
    dir: PathBuf,
}

impl LocalRuns {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("runs"),
        }
    }

    pub async fn fingerprint(
        &self,
        input: &Path,
        request: &CreateJob,
        chunk_size: u32,
    ) -> anyhow::Result<String> {
        let mut hasher = Sha256::new();
        let mut file = tokio::fs::File::open(input).await?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let options = serde_json::json!({
            "email_col": request.email_col,
            "service": request.service,
            "output_columns": request.output_columns,
            "format": request.format,
            "limit": request.limit,
            "combined": request.combined,
            "chunk_size": chunk_size,
            "drafts": request.campaign.drafts,
            "suppress": request.campaign.suppression.as_ref().map(|l| l.to_text()),
        });
        hasher.update(options.to_string().as_bytes());
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    pub fn lookup(&self, fingerprint: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(fingerprint))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    pub fn remember(&self, fingerprint: &str, job_id: &str) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(self.dir.join(fingerprint), job_id)?;
        Ok(())
    }

    pub fn forget(&self, fingerprint: &str) {
        let _ = std::fs::remove_file(self.dir.join(fingerprint));
    }
}
