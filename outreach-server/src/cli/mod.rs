//! Command-line parsing and dispatch. Each subcommand lives in its own file.

mod check;
mod credits;
mod enrich;
mod headers;
mod local_runs;
mod migrate;
mod progress_bar;
mod serve;
mod system;
mod token;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "outreach",
    version,
    about = "Research-backed, personalized opening lines for prospect lists"
)]
pub struct Cli {
    /// More logging on stderr (RUST_LOG overrides).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enrich a CSV/XLSX file with research and an opener per row.
    Enrich(Box<EnrichArgs>),
    /// Call each provider once and diagnose: key accepted, model found, JSON mode,
    /// rate-limit headers. Exits 1 when a provider is missing or failing.
    Check(CheckArgs),
    /// Print the headers, row count and guessed email column as JSON.
    Headers {
        /// The CSV or XLSX file.
        input: PathBuf,
    },
    /// Run the HTTP API (and in-process workers) on the configured backends.
    Serve(ServeArgs),
    /// Run chunk and finalize tasks from the shared queue (REDIS_URL); start as many as you like.
    Worker(WorkerArgs),
    /// Create or upgrade the database schema.
    Migrate,
    /// Print a bearer token for the API (self-hosting without Supabase).
    Token(TokenArgs),
    /// Manage credits.
    #[command(subcommand)]
    Credits(CreditsCommand),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Search endpoint (overrides SERPER_URL).
    #[arg(long = "serper-url")]
    pub serper_url: Option<String>,
    /// OpenAI-compatible base URL (overrides LLM_BASE_URL).
    #[arg(long = "llm-base-url")]
    pub llm_base_url: Option<String>,
    /// Model name (overrides LLM_MODEL).
    #[arg(long)]
    pub model: Option<String>,
    /// The report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the URL is printed).
    #[arg(long, env = "OUTREACH_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// In-process worker loops (0 = API only; run workers elsewhere).
    #[arg(long, env = "OUTREACH_WORKERS", default_value_t = 1)]
    pub workers: usize,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Tasks run at once (default: enough to keep OUTREACH_CONCURRENCY rows busy).
    #[arg(long, env = "OUTREACH_WORKER_PARALLEL")]
    pub parallel: Option<usize>,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user's email (the `email` claim).
    #[arg(long)]
    pub email: String,
    /// The user id (`sub`); default: the existing account's with that email, else new.
    #[arg(long = "user-id")]
    pub user_id: Option<String>,
    /// Validity in hours.
    #[arg(long = "ttl-hours", default_value_t = 24 * 30)]
    pub ttl_hours: u64,
}

#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Add credits to the account with this email (through the ledger).
    Grant {
        #[arg(long)]
        email: String,
        #[arg(long)]
        amount: i64,
        /// Shown in the ledger (default "grant: manual (CLI)").
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct EnrichArgs {
    /// The CSV or XLSX prospect list.
    pub input: PathBuf,
    /// Output file (default: `<input stem>.enriched.xlsx`, or `.csv` with `--format csv`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The email column's header (guessed when absent).
    #[arg(long = "email-col")]
    pub email_col: Option<String>,
    /// JSON file with the service context (core_offer, key_differentiator, cta, timeline, goal, fallback_action).
    #[arg(long)]
    pub service: Option<PathBuf>,
    /// Output columns, comma-separated, in order (may include sif_research, sif_personalized).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Output format: xlsx or csv (default: from the output name, else xlsx).
    #[arg(long)]
    pub format: Option<outreach_core::output::OutputFormat>,
    /// Rows in flight at once.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Rows per chunk (the unit of progress and resume).
    #[arg(long = "chunk-size")]
    pub chunk_size: Option<usize>,
    /// Process only the first N rows.
    #[arg(long)]
    pub limit: Option<u64>,
    /// One LLM call per row for research and opener together.
    #[arg(long)]
    pub combined: bool,
    /// Do-not-contact list: one email, `domain.com` or `@domain.com` per line, or a CSV
    /// with an email/domain column. Listed rows are not researched (status `suppressed`).
    #[arg(long)]
    pub suppress: Option<PathBuf>,
    /// MiniJinja template of the email subject (written to `email_subject`).
    #[arg(long = "subject-template", requires = "body_template")]
    pub subject_template: Option<PathBuf>,
    /// MiniJinja template of the email body (written to `email_body`).
    #[arg(long = "body-template", requires = "subject_template")]
    pub body_template: Option<PathBuf>,
    /// A/B variants: a JSON file `{"seed": "…", "variants": [{"name", "subject", "body",
    /// "weight"}, …]}`; rows get a `variant` column.
    #[arg(long)]
    pub variants: Option<PathBuf>,
    /// Search endpoint (overrides SERPER_URL).
    #[arg(long = "serper-url")]
    pub serper_url: Option<String>,
    /// OpenAI-compatible base URL (overrides LLM_BASE_URL).
    #[arg(long = "llm-base-url")]
    pub llm_base_url: Option<String>,
    /// Model name (overrides LLM_MODEL).
    #[arg(long)]
    pub model: Option<String>,
    /// Cap on search requests per second (default: none, the rate is learned from the provider).
    #[arg(long = "search-rps")]
    pub search_rps: Option<f64>,
    /// Cap on LLM requests per second (default: none, the rate is learned from the provider).
    #[arg(long = "llm-rps")]
    pub llm_rps: Option<f64>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub quiet: bool,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Enrich(args) => enrich::run(*args).await,
        Command::Check(args) => check::run(args).await,
        Command::Headers { input } => headers::run(&input).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Worker(args) => worker::run(args).await,
        Command::Migrate => migrate::run().await,
        Command::Token(args) => token::run(args).await,
        Command::Credits(command) => credits::run(command).await,
    }
}
