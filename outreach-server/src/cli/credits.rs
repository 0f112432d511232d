//! `outreach credits grant --email E --amount N [--reason R]`: add credits to an
//! account through the ledger (an entry with key `grant:cli:<uuid>`).

use std::process::ExitCode;

use outreach_core::ports::NewEntry;
use outreach_core::setup::{BackendConfig, Backends};

use super::CreditsCommand;

pub async fn run(command: CreditsCommand) -> anyhow::Result<ExitCode> {
    match command {
        CreditsCommand::Grant {
            email,
            amount,
            reason,
        } => grant(&email, amount, reason).await,
    }
}

async fn grant(email: &str, amount: i64, reason: Option<String>) -> anyhow::Result<ExitCode> {
    if amount <= 0 {
        anyhow::bail!("--amount must be a positive number of credits");
    }
    let backends = Backends::open(&BackendConfig::from_env()).await?;
    let Some(account) = backends.ledger.find_by_email(email.trim()).await? else {
        anyhow::bail!(
            "no account with email {email}: it is created on the user's first request (or by `outreach token --email {email}`)"
        );
    };
    let applied = backends
        .ledger
        .apply(NewEntry {
            user_id: account.user_id.clone(),
            change: amount,
            amount_usd: None,
            reason: reason.unwrap_or_else(|| "grant: manual (CLI)".into()),
            idempotency_key: format!("grant:cli:{}", uuid::Uuid::new_v4()),
        })
        .await?;
    println!(
        "granted {amount} credits to {email} (user {}); balance {}",
        account.user_id,
        applied.balance()
    );
    Ok(ExitCode::SUCCESS)
}
