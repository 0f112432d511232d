//! `outreach migrate`: create or upgrade the database schema (`DATABASE_URL`, else the
//! SQLite file in the data dir). Opening the backends runs the migrations; `serve` and
//! `worker` do the same at start, so this is for deploy pipelines that migrate first.

use std::process::ExitCode;

use outreach_core::setup::{BackendConfig, Backends};

pub async fn run() -> anyhow::Result<ExitCode> {
    let config = BackendConfig::from_env();
    Backends::open(&config).await?;
    eprintln!(
        "database schema is up to date ({})",
        if config.database_url.is_some() {
            "DATABASE_URL"
        } else {
            "SQLite in the data dir"
        }
    );
    Ok(ExitCode::SUCCESS)
}
