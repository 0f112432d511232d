//! The `outreach` binary: the CLI (`enrich`, `headers`, `token`, `credits`) and the
//! hosted HTTP API with its workers (`serve`, built from the `outreach_server` library).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    private_files();
    let args = cli::Cli::parse();
    let serving = matches!(args.command, cli::Command::Serve(_));
    init_tracing(args.verbose, serving);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    };
    // Blocking reads check a cancel flag set when their request goes away, so they end
    // within milliseconds; the bound only guards against a stuck thread keeping a
    // stopping process alive (a dropped runtime otherwise waits for every one).
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    code
}

/// Logs go to stderr so stdout stays clean for JSON and tokens. `RUST_LOG` overrides.
/// A server logs its requests (info) by default; the CLI only warnings.
fn init_tracing(verbose: bool, serving: bool) {
    let default = if verbose {
        "info,outreach_core=debug,outreach_server=debug"
    } else if serving {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Files this process creates are its user's alone (0600, directories 0700): the
/// database, uploads and results hold people's data. Set before anything is created.
fn private_files() {
    #[cfg(unix)]
    // SAFETY: umask only replaces the process's file-mode mask; it cannot fail and
    // touches no memory. Called first thing in main, before any other thread exists.
    unsafe {
        libc::umask(0o077);
    }
}
