//! Command-line parsing and dispatch. Each subcommand lives in its own file.

mod check;
mod credits;
mod enrich;
mod headers;
mod healthcheck;
mod local_runs;
mod migrate;
mod progress_bar;
mod push;
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
    /// Send a result file's rows to a sequencer or CRM (Instantly, Smartlead, lemlist,
    /// HubSpot); the key comes from INSTANTLY_API_KEY, SMARTLEAD_API_KEY,
    /// LEMLIST_API_KEY or HUBSPOT_ACCESS_TOKEN.
    Push(push::PushArgs),
    /// Exit 0 when the `serve` or `worker` process PID (default 1, a container's) answers
    /// GET /healthz on the address it was started with (--addr / --metrics-addr, else
    /// OUTREACH_ADDR / OUTREACH_METRICS_ADDR): the image's HEALTHCHECK.
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The process to check (its /proc/PID/cmdline says what it runs and where).
    #[arg(long, default_value_t = 1)]
    pub pid: u32,
}

/// The provider endpoints and model, as `check` and `enrich` take them.
#[derive(Debug, Args)]
pub struct ProviderFlags {
    /// Search endpoint (overrides SERPER_URL).
    #[arg(long = "serper-url")]
    pub serper_url: Option<String>,
    /// OpenAI-compatible base URL (overrides LLM_BASE_URL).
    #[arg(long = "llm-base-url")]
    pub llm_base_url: Option<String>,
    /// Model name (overrides LLM_MODEL).
    #[arg(long)]
    pub model: Option<String>,
}

impl ProviderFlags {
    /// The flags win over the environment's settings (a provider without a key stays
    /// unconfigured: a URL alone does not make one).
    pub fn apply(&self, config: &mut outreach_core::config::PipelineConfig) {
        if let (Some(url), Some(serper)) = (&self.serper_url, config.serper.as_mut()) {
            serper.url = url.clone();
        }
        if let Some(llm) = config.llm.as_mut() {
            if let Some(url) = &self.llm_base_url {
                llm.base_url = url.clone();
            }
            if let Some(model) = &self.model {
                llm.model = model.clone();
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub providers: ProviderFlags,
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
    /// Serve /metrics (Prometheus) and /healthz on this address, e.g. 0.0.0.0:9091
    /// (port 0 picks a free one; the URL is printed). Off when absent.
    #[arg(long = "metrics-addr", env = "OUTREACH_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
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
#[allow(clippy::struct_excessive_bools)]
pub struct EnrichArgs {
    /// The CSV or XLSX prospect list.
    pub input: PathBuf,
    /// Output file (default: `<input stem>.enriched.xlsx`, or `.csv` with `--format csv`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The email column's header (guessed when absent).
    #[arg(long = "email-col")]
    pub email_col: Option<String>,
    /// JSON file with the service context (core_offer, key_differentiator, cta, timeline,
    /// goal, fallback_action, and the copy rules under "copy"; see the README).
    #[arg(long)]
    pub service: Option<PathBuf>,
    /// The full-name column's header (guessed when absent; "" = none).
    #[arg(long = "name-col")]
    pub name_col: Option<String>,
    /// The first-name column's header (guessed when absent; "" = none).
    #[arg(long = "first-name-col")]
    pub first_name_col: Option<String>,
    /// The last-name column's header (guessed when absent; "" = none).
    #[arg(long = "last-name-col")]
    pub last_name_col: Option<String>,
    /// The company column's header (guessed when absent; "" = none).
    #[arg(long = "company-col")]
    pub company_col: Option<String>,
    /// The job-title column's header (guessed when absent; "" = none).
    #[arg(long = "title-col")]
    pub title_col: Option<String>,
    /// The LinkedIn URL column's header (guessed when absent; "" = none).
    #[arg(long = "linkedin-col")]
    pub linkedin_col: Option<String>,
    /// The company website column's header (guessed when absent; "" = none).
    #[arg(long = "website-col")]
    pub website_col: Option<String>,
    /// The opener's language (copy rule; default English).
    #[arg(long)]
    pub language: Option<String>,
    /// Most sentences per opener (copy rule; default 2).
    #[arg(long)]
    pub sentences: Option<usize>,
    /// Most words per sentence (copy rule; default 25).
    #[arg(long = "words-per-sentence")]
    pub words_per_sentence: Option<usize>,
    /// A word or phrase the opener must not use; repeat the flag for more. Replaces the
    /// default list (AI tells, spam triggers, em dashes).
    #[arg(long = "forbid")]
    pub forbid: Vec<String>,
    /// Free-text instructions for the writer (copy rule, at most 500 characters).
    #[arg(long)]
    pub instructions: Option<String>,
    /// For rows without verified research, write an opener from the row's own columns
    /// and the service instead of the fallback line.
    #[arg(long = "opener-without-research")]
    pub opener_without_research: bool,
    /// Output columns, comma-separated, in order (may include sif_research,
    /// sif_personalized, sif_status, sif_sources).
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
    #[command(flatten)]
    pub providers: ProviderFlags,
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
        Command::Push(args) => push::run(args).await,
        Command::Healthcheck(args) => healthcheck::run(args).await,
    }
}

impl EnrichArgs {
    /// The role-column flags as the core's overrides.
    pub fn column_overrides(&self) -> outreach_core::input::ColumnOverrides {
        outreach_core::input::ColumnOverrides {
            first_name: self.first_name_col.clone(),
            last_name: self.last_name_col.clone(),
            full_name: self.name_col.clone(),
            company: self.company_col.clone(),
            title: self.title_col.clone(),
            linkedin: self.linkedin_col.clone(),
            website: self.website_col.clone(),
        }
    }

    /// Apply the copy-rule flags to a service context (they win over the service file).
    pub fn apply_copy_rules(&self, service: &mut outreach_core::ServiceContext) {
        let copy = &mut service.copy;
        if let Some(l) = &self.language {
            copy.language = l.clone();
        }
        if let Some(n) = self.sentences {
            copy.sentences = n;
        }
        if let Some(n) = self.words_per_sentence {
            copy.words_per_sentence = n;
        }
        if !self.forbid.is_empty() {
            copy.forbidden = self.forbid.clone();
        }
        if let Some(i) = &self.instructions {
            copy.instructions = i.clone();
        }
        if self.opener_without_research {
            copy.opener_without_research = true;
        }
    }
}
