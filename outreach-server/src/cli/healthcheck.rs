//! `outreach healthcheck`: the container image's HEALTHCHECK. It asks `GET /healthz` of
//! the process the container runs (PID 1 by default), at the address *that process*
//! listens on: its command line (`/proc/PID/cmdline`) is parsed with the same clap
//! definition the process itself was started with, so `--addr` / `--metrics-addr`, their
//! `OUTREACH_ADDR` / `OUTREACH_METRICS_ADDR` fallbacks and the default resolve exactly as
//! they did there. (Docker runs a health check with the container's environment, so the
//! fallbacks see the same values.)
//!
//! - `serve` → its API's `/healthz` (a database round trip);
//! - `worker` → its metrics address's `/healthz`; a worker without one is healthy while
//!   it runs (there is nothing to ask);
//! - anything else (`migrate`, `token`, a process that is not `outreach`) → healthy.
//!
//! Exit 0 when healthy, 1 otherwise, with the reason on stderr.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use super::{Cli, Command, HealthcheckArgs};

/// Docker's default health-check timeout is 30 s and the image's is 5 s: answer within it.
const TIMEOUT: Duration = Duration::from_secs(4);

pub async fn run(args: HealthcheckArgs) -> anyhow::Result<ExitCode> {
    let Some(addr) = target(args.pid)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let url = healthz_url(&addr)?;
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .build()
        .context("cannot build the HTTP client")?;
    match http.get(&url).send().await {
        Ok(r) if r.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(r) => {
            eprintln!("unhealthy: {url} answered {}", r.status());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The address to ask, or `None` when the process has nothing to ask (not `serve`, a
/// worker without metrics, not an `outreach` process at all).
fn target(pid: u32) -> anyhow::Result<Option<String>> {
    let path = format!("/proc/{pid}/cmdline");
    let raw = std::fs::read(&path).with_context(|| format!("cannot read {path}"))?;
    let argv = split_cmdline(&raw);
    // PID 1 may be an init (`docker run --init`: `/sbin/docker-init -- outreach serve`):
    // the command starts at the first word naming the outreach binary.
    let Some(start) = argv.iter().position(names_outreach) else {
        return Ok(None);
    };
    let Ok(cli) = Cli::try_parse_from(&argv[start..]) else {
        return Ok(None);
    };
    Ok(match cli.command {
        Command::Serve(a) => Some(a.addr),
        Command::Worker(a) => a.metrics_addr,
        _ => None,
    })
}

/// The NUL-separated words of `/proc/PID/cmdline`.
fn split_cmdline(raw: &[u8]) -> Vec<OsString> {
    raw.split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| OsString::from(String::from_utf8_lossy(w).into_owned()))
        .collect()
}

fn names_outreach(word: &OsString) -> bool {
    Path::new(word).file_name().is_some_and(|n| n == "outreach")
}

/// `http://HOST:PORT/healthz` for a listen address: an unspecified address (0.0.0.0,
/// [::]) is asked on loopback; a host name is asked as it is.
fn healthz_url(addr: &str) -> anyhow::Result<String> {
    let host_port = match addr.parse::<SocketAddr>() {
        Ok(sa) => {
            anyhow::ensure!(
                sa.port() != 0,
                "the process listens on port 0 (a free port chosen at start): give it a fixed port to health-check it"
            );
            let ip = match sa.ip() {
                IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
                ip => ip,
            };
            SocketAddr::new(ip, sa.port()).to_string()
        }
        Err(_) => addr.to_string(),
    };
    Ok(format!("http://{host_port}/healthz"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unspecified_addresses_are_asked_on_loopback() {
        assert_eq!(
            healthz_url("0.0.0.0:8080").unwrap(),
            "http://127.0.0.1:8080/healthz"
        );
        assert_eq!(
            healthz_url("[::]:9091").unwrap(),
            "http://[::1]:9091/healthz"
        );
        assert_eq!(
            healthz_url("10.0.0.5:80").unwrap(),
            "http://10.0.0.5:80/healthz"
        );
        assert_eq!(
            healthz_url("localhost:8080").unwrap(),
            "http://localhost:8080/healthz"
        );
        assert!(healthz_url("127.0.0.1:0").is_err());
    }

    #[test]
    fn the_command_starts_at_the_outreach_word() {
        let argv = split_cmdline(b"/sbin/docker-init\0--\0/usr/local/bin/outreach\0serve\0");
        assert_eq!(argv.len(), 4);
        assert_eq!(argv.iter().position(names_outreach), Some(2));
    }
}
