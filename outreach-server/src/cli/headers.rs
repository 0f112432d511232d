//! `outreach headers INPUT`: headers, row count and email-column guess as JSON on stdout.

use std::path::Path;
use std::process::ExitCode;

pub async fn run(input: &Path) -> anyhow::Result<ExitCode> {
    let path = input.to_path_buf();
    let summary =
        outreach_core::engine::blocking(move || outreach_core::input::read_summary(&path)).await?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}
