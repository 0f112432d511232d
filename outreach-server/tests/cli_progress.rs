#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `outreach enrich` progress bar moves while a small run works (issue 13): on a
//! 30-row file it shows row counts between 0 and 30, not a jump from 0 to the end. The
//! bar is drawn only on a terminal, so the binary runs under `script` (util-linux),
//! which gives it a pseudo-terminal and copies what it draws to our stdout.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use outreach_fake_providers::{FakeOptions, FakeProviders};

const ROWS: usize = 30;

/// Every row count the bar drew as `N/30 rows`, in order.
fn drawn_positions(screen: &str) -> Vec<u64> {
    let marker = format!("/{ROWS} rows");
    let mut positions = Vec::new();
    let mut rest = screen;
    while let Some(at) = rest.find(&marker) {
        let digits: String = rest[..at]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if let Ok(n) = digits.parse() {
            positions.push(n);
        }
        rest = &rest[at + marker.len()..];
    }
    positions
}

#[test]
fn drawn_positions_reads_the_bar() {
    let screen = "\r⠁ [00:00:01] ███ 3/30 rows  2/s  ETA 9s  in_progress\x1b[K\r⠉ 12/30 rows";
    assert_eq!(drawn_positions(screen), vec![3, 12]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_bar_moves_during_a_30_row_run() {
    if Command::new("script").arg("--version").output().is_err() {
        panic!("`script` (util-linux) is needed to give the CLI a terminal");
    }
    // One row at a time at ~0.3 s per row: a run of about 9 s. A local run records its
    // rows done every 200 ms and the bar reads them as often, so it sees nearly every row.
    let fakes = FakeProviders::start(FakeOptions {
        search_latency: Duration::from_millis(20),
        llm_latency: Duration::from_millis(150),
        ..FakeOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("thirty.csv");
    let mut csv = String::from("email,first_name,company\n");
    for i in 0..ROWS {
        csv.push_str(&format!("p{i}@company{i}.example,P{i},Company {i}\n"));
    }
    std::fs::write(&input, csv).unwrap();
    let output = dir.path().join("out.csv");

    let command_line = format!(
        "'{}' enrich '{}' -o '{}' --format csv --concurrency 1",
        env!("CARGO_BIN_EXE_outreach"),
        input.display(),
        output.display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-f", "-e", "-c", &command_line, "/dev/null"]);
    for var in [
        "GROQ_API_KEY",
        "DATABASE_URL",
        "STORAGE_URL",
        "REDIS_URL",
        "LLM_MODEL",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("SERPER_URL", fakes.serper_url())
        .env("SERPER_API_KEY", "fake")
        .env("LLM_BASE_URL", fakes.llm_base_url())
        .env("LLM_API_KEY", "fake")
        .env("OUTREACH_DATA_DIR", dir.path().join("data"))
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env("COLUMNS", "160")
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "outreach enrich failed: {}\n{screen}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(Path::new(&output).exists(), "no output file\n{screen}");

    let positions = drawn_positions(&screen);
    eprintln!("the bar drew these row counts: {positions:?}");
    assert!(
        positions.windows(2).all(|w| w[0] <= w[1]),
        "the bar went backwards: {positions:?}"
    );
    let partial: std::collections::BTreeSet<u64> = positions
        .iter()
        .copied()
        .filter(|n| (1..ROWS as u64).contains(n))
        .collect();
    assert!(
        partial.len() >= 15,
        "the bar stood only at {partial:?} between 0 and {ROWS} (drawn: {positions:?})"
    );
}
