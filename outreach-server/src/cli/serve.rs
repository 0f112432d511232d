//! `outreach serve`: the HTTP API plus, by default, one in-process worker loop, on the
//! backends the environment names (embedded defaults: SQLite, local files, in-process
//! queue). With the in-process queue, unfinished jobs, running pushes and undelivered
//! webhook events are re-queued at start.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use outreach_server::metrics_exporter;
use outreach_server::server::auth::{AuthConfig, SecretSource};
use outreach_server::server::stripe::BillingConfig;
use outreach_server::server::web::{WebConfig, WebState};
use outreach_server::server::{app, listen, AppState, ServerConfig};
use tokio_util::sync::CancellationToken;

use super::ServeArgs;

/// How long open connections (event streams, downloads) may take to finish after a
/// shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let opened = super::system::open_from_env().await?;
    let data_dir = opened.data_dir.clone();
    let system = opened.system;
    if !opened.durable_queue {
        let n = system.recover().await?;
        if n > 0 {
            eprintln!("re-queued {n} task(s): unfinished jobs, running pushes, undelivered webhook events");
        }
    }
    let auth = AuthConfig::from_env(&data_dir)?;
    match auth.source {
        SecretSource::LocalFile => eprintln!(
            "auth: local JWT secret in {} (mint tokens with `outreach token --email …`)",
            data_dir.display()
        ),
        _ => {
            tracing::info!(issuer = ?auth.issuer(), audience = auth.audience(), "auth: SUPABASE_JWT_SECRET")
        }
    }
    let web = WebConfig::from_env()?;
    match &web.supabase {
        Some(s) => eprintln!("web app: sign-in through Supabase Auth at {}", s.url),
        None if auth.source == SecretSource::Supabase && !web.local_accounts_with_supabase => eprintln!(
            "web app: tokens are Supabase's, so built-in accounts are off (OUTREACH_LOCAL_ACCOUNTS=1 enables them; SUPABASE_URL and SUPABASE_ANON_KEY sign in through Supabase Auth)"
        ),
        None => eprintln!("web app: built-in sign-up and sign-in (set SUPABASE_URL and SUPABASE_ANON_KEY for Supabase Auth)"),
    }
    // Verification and reset links: SMTP, an outbox file, or the console.
    let mail = outreach_server::server::mail::MailConfig::from_env()?;
    eprintln!("account mail: {}", mail.describe());
    let state = AppState::new(
        system.clone(),
        ServerConfig::from_env(&data_dir)?,
        auth,
        BillingConfig::from_env()?,
    )?
    .with_web(WebState::new(web, Some(opened.accounts.clone())).with_mail(mail))
    .with_campaigns(campaign_state(opened.campaigns.clone())?);
    // Old jobs and uploads go after OUTREACH_RETENTION_DAYS (the ledger stays).
    let _retention = state.config.retention.map(|keep| {
        tokio::spawn(outreach_server::server::cleanup::run(
            system.clone(),
            keep,
            outreach_server::server::cleanup::EVERY,
        ))
    });
    let workers: Vec<_> = (0..args.workers)
        .map(|_| system.spawn_worker(system.default_parallelism()))
        .collect();

    let limits = listen::ConnLimits::from_env()?;
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    println!("outreach listening on http://{addr}");
    eprintln!(
        "{} worker loop(s); data in {}",
        args.workers,
        data_dir.display()
    );

    let stopping = CancellationToken::new();
    // The in-process workers stop taking tasks at the signal, while connections drain,
    // and stop together within one grace period; what they still hold goes back to the
    // queue (with the in-process queue, `recover` re-queues it at the next start).
    let workers_stopped = tokio::spawn({
        let stopping = stopping.clone();
        async move {
            stopping.cancelled().await;
            let grace = super::system::shutdown_grace();
            futures::future::join_all(workers.into_iter().map(|w| w.shutdown_within(grace))).await;
        }
    });
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown_signal().await;
            eprintln!("shutting down");
            stopping.cancel();
        }
    };
    // `/metrics` beside the API, and every route timed.
    let metrics = metrics_exporter::install().context("cannot install the metrics recorder")?;
    let router = metrics_exporter::instrument(app(state).merge(metrics_exporter::router(
        metrics,
        system.clone(),
        false,
    )));
    // Header-read and idle timeouts, connection caps; the peer address (ConnectInfo)
    // feeds the per-client limit on sign-in attempts.
    let serve = listen::serve(listener, router, limits, signal);
    tokio::select! {
        _ = serve => {},
        _ = async { stopping.cancelled().await; tokio::time::sleep(DRAIN).await } => {
            eprintln!("connections still open after {}s; closing them", DRAIN.as_secs());
        }
    }
    stopping.cancel();
    let _ = workers_stopped.await;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Destinations, do-not-contact list and webhook; keys are sealed with
/// `OUTREACH_SECRETS_KEY` (without it, saving a key answers 503).
pub(crate) fn campaign_state(
    settings: std::sync::Arc<dyn outreach_core::campaign::settings::CampaignSettings>,
) -> anyhow::Result<outreach_server::server::campaigns::CampaignState> {
    use outreach_server::server::secrets::{SecretBox, KEY_ENV};
    let secrets = SecretBox::from_env()?;
    if secrets.is_none() {
        eprintln!("campaigns: {KEY_ENV} is not set, so destination keys and webhooks cannot be saved (openssl rand -hex 32)");
    }
    Ok(outreach_server::server::campaigns::CampaignState::new(settings, secrets).with_env_urls())
}
