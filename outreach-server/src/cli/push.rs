//! `outreach push RESULT --to instantly --campaign ID`: send a finished run's rows to a
//! sequencer or CRM. The key comes from the destination's environment variable
//! (`INSTANTLY_API_KEY`, `SMARTLEAD_API_KEY`, `LEMLIST_API_KEY`,
//! `HUBSPOT_ACCESS_TOKEN`), never from a flag (flags end up in shell history); the base
//! URL from `INSTANTLY_URL`, … when set. One line per row on stdout, totals on stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use outreach_core::campaign::push::{
    build_destination, push_file, DestinationConfig, DestinationKind, PushOptions,
};
use outreach_core::campaign::SuppressionList;
use outreach_core::Error;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The result file of a run (CSV or XLSX).
    pub input: PathBuf,
    /// Where to: instantly, smartlead, lemlist or hubspot.
    #[arg(long)]
    pub to: DestinationKind,
    /// The campaign id in the destination (not used by HubSpot).
    #[arg(long, default_value = "")]
    pub campaign: String,
    /// A do-not-contact list (emails and domains, one a line, or a CSV with such a
    /// column): listed people are never pushed.
    #[arg(long)]
    pub suppress: Option<PathBuf>,
    /// Print each row's result as a JSON line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Exit codes: 0 when every row was pushed or skipped, 2 when some were rejected, 1 when
/// the push could not run or stopped (a rejected key, an unreadable file).
pub async fn run(args: PushArgs) -> anyhow::Result<ExitCode> {
    let kind = args.to;
    let key = std::env::var(kind.key_env())
        .ok()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .with_context(|| format!("set {} to push to {kind}", kind.key_env()))?;
    if args.campaign.trim().is_empty() && kind != DestinationKind::Hubspot {
        anyhow::bail!("--campaign is required for {kind}");
    }
    let mut config = DestinationConfig::new(kind, key, args.campaign.trim());
    if let Some(url) = std::env::var(kind.url_env())
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        config = config.with_base_url(url.trim());
    }
    let suppression = match &args.suppress {
        Some(path) => Some(Arc::new(SuppressionList::from_path(path)?.0)),
        None => None,
    };
    let destination = build_destination(&config)?;
    let options = PushOptions {
        suppression,
        ..PushOptions::default()
    };
    let json = args.json;
    let result = push_file(&args.input, destination.as_ref(), &options, |row| {
        if json {
            if let Ok(line) = serde_json::to_string(row) {
                println!("{line}");
            }
        } else if row.reason.is_empty() {
            println!("row {}\t{}\t{}", row.row, row.email, row.status.as_str());
        } else {
            println!(
                "row {}\t{}\t{}\t{}",
                row.row,
                row.email,
                row.status.as_str(),
                row.reason
            );
        }
    })
    .await;
    let summary = match result {
        Ok(summary) => summary,
        Err(e @ Error::ProviderAuth { .. }) => {
            anyhow::bail!("{kind} rejected the API key in {}: {e}", kind.key_env())
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "{kind}: {} rows: {} pushed, {} skipped (duplicate or suppressed), {} rejected",
        summary.rows, summary.pushed, summary.skipped, summary.rejected
    );
    Ok(if summary.rejected > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
