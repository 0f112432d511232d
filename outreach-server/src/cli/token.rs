//! `outreach token --email E [--user-id ID]`: a bearer token for self-hosting without
//! Supabase, signed with the server's secret (`SUPABASE_JWT_SECRET`, else the local one
//! in the data dir). Only the token goes to stdout, so `TOKEN=$(outreach token …)` works.
//!
//! Without `--user-id`, an existing account with that email keeps its id; otherwise a
//! new id is made. The account is created now (with the free credits), so credits can
//! be granted before the first request.

use std::process::ExitCode;
use std::time::Duration;

use outreach_core::setup::{BackendConfig, Backends};
use outreach_server::server::auth::AuthConfig;
use outreach_server::server::ServerConfig;

use super::TokenArgs;

pub async fn run(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let backend_config = BackendConfig::from_env();
    let data_dir = backend_config.data_dir.clone();
    let auth = AuthConfig::from_env(&data_dir)?;
    let server = ServerConfig::from_env(&data_dir)?;
    let backends = Backends::open(&backend_config).await?;
    let email = args.email.trim().to_string();
    if email.is_empty() {
        anyhow::bail!("--email must not be empty");
    }
    let user_id = match args.user_id {
        Some(id) => id,
        None => match backends.ledger.find_by_email(&email).await? {
            Some(account) => account.user_id,
            None => uuid::Uuid::new_v4().to_string(),
        },
    };
    let ttl = Duration::from_secs(args.ttl_hours.max(1) * 3600);
    let token = auth.issue(&user_id, &email, ttl)?;
    backends
        .ledger
        .ensure_account(&user_id, &email, server.free_credits)
        .await?;
    eprintln!(
        "token for {email} (user {user_id}), valid {} hours",
        args.ttl_hours.max(1)
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
