#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `outreach` binary as a user runs it: against fake providers speaking the real
//! wire formats, on hostile inputs, and killed with SIGKILL halfway through a run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use calamine::{open_workbook, Reader, Xlsx};
use outreach_fake_providers::{FakeOptions, FakeProviders};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_outreach"));
    for var in [
        "SERPER_API_KEY",
        "SERPER_URL",
        "GROQ_API_KEY",
        "LLM_API_KEY",
        "LLM_BASE_URL",
        "LLM_MODEL",
        "DATABASE_URL",
        "STORAGE_URL",
        "REDIS_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

fn with_fakes(cmd: &mut Command, fakes: &FakeProviders) {
    cmd.env("SERPER_URL", fakes.serper_url())
        .env("SERPER_API_KEY", "fake")
        .env("LLM_BASE_URL", fakes.llm_base_url())
        .env("LLM_API_KEY", "fake");
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/prospects.csv")
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn xlsx_rows(path: &Path) -> Vec<Vec<String>> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[test]
fn headers_prints_json() {
    let out = run(bin().args(["headers"]).arg(sample()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rows"], 50);
    assert_eq!(v["email_column"], "email");
    assert_eq!(v["headers"][0], "first_name");
}

#[tokio::test(flavor = "multi_thread")]
async fn enriches_the_sample_against_fake_providers() {
    let fakes = FakeProviders::start(FakeOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.xlsx");
    let mut cmd = bin();
    with_fakes(&mut cmd, &fakes);
    cmd.env("OUTREACH_DATA_DIR", dir.path().join("data"))
        .args(["enrich", "-o"])
        .arg(&out_path)
        .arg(sample());
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(
        summary.starts_with("50 rows, 47 lines written, 3 fallbacks (3 not chargeable)"),
        "{summary}"
    );

    let rows = xlsx_rows(&out_path);
    assert_eq!(rows.len(), 51);
    assert_eq!(
        rows[0][6..],
        ["sif_research", "sif_personalized", "sif_status"]
    );
    let input: Vec<Vec<String>> = csv::Reader::from_path(sample())
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    for (got, want) in rows[1..].iter().zip(&input) {
        assert_eq!(got[..6], want[..], "rows moved");
        if want[4] == "marcus@" || want[4].is_empty() || want[4] == "n/a" {
            assert_eq!(got[6], "Research unavailable: invalid email.");
        } else {
            let research: serde_json::Value = serde_json::from_str(&got[6]).unwrap();
            assert!(research["person"]["name"].is_string());
            assert!(!research["sources"].as_array().unwrap().is_empty());
            assert!(
                got[7].ends_with('.') && !got[7].starts_with("SIF"),
                "{}",
                got[7]
            );
        }
    }
    // 10 companies: the domain query is made once per company.
    let searches = fakes.search_requests.load(Ordering::SeqCst);
    assert_eq!(
        searches,
        47 + 10 + 1,
        "one person query per valid row, one per domain, one preflight"
    );
}

/// OpenAI's answer for a model that does not exist (the body the API sends, as quoted
/// in openai-python's issue tracker and the OpenAI community forum).
fn model_not_found() -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(404).set_body_json(serde_json::json!({
        "error": {
            "message": "The model `gpt-nope` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": null,
            "code": "model_not_found"
        }
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn check_diagnoses_each_provider_with_one_call() {
    let fakes = FakeProviders::start(FakeOptions::default()).await;
    let mut cmd = bin();
    with_fakes(&mut cmd, &fakes);
    cmd.arg("check");
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("search: ok"), "{stdout}");
    assert!(stdout.contains("LLM: ok"), "{stdout}");
    assert!(
        stdout.contains("JSON form that works: json_schema"),
        "{stdout}"
    );
    assert_eq!(fakes.search_requests.load(Ordering::SeqCst), 1);
    assert_eq!(fakes.llm_requests.load(Ordering::SeqCst), 1);

    // A model the server does not have: exit 1, said in the LLM's section.
    let llm = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(model_not_found())
        .expect(1)
        .mount(&llm)
        .await;
    let mut cmd = bin();
    with_fakes(&mut cmd, &fakes);
    cmd.env("LLM_BASE_URL", llm.uri())
        .env("LLM_MODEL", "gpt-nope")
        .args(["check", "--json"]);
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["search"]["status"], "ok");
    assert_eq!(report["llm"]["status"], "failed");
    let message = report["llm"]["message"].as_str().unwrap();
    assert!(
        message.contains("gpt-nope")
            && (message.contains("not found") || message.contains("does not know")),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_model_costs_the_preflight_only_and_the_rerun_completes() {
    let fakes = FakeProviders::start(FakeOptions::default()).await;
    let llm = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(model_not_found())
        .mount(&llm)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.csv");
    let data = dir.path().join("data");
    let command = |llm_url: String| {
        let mut cmd = bin();
        with_fakes(&mut cmd, &fakes);
        cmd.env("LLM_BASE_URL", llm_url)
            .env("OUTREACH_DATA_DIR", &data)
            .args(["enrich", "--format", "csv", "-o"])
            .arg(&out_path)
            .arg(sample());
        cmd
    };

    let mut cmd = command(llm.uri());
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("gpt-nope") || errors[0].contains("not found"),
        "{stderr}"
    );
    assert!(!out_path.exists());
    // One search and one completion: the preflight, nothing more.
    assert_eq!(fakes.search_requests.load(Ordering::SeqCst), 1);
    assert_eq!(llm.received_requests().await.unwrap().len(), 1);

    // Fixed: the same command resumes the failed run and completes it.
    let mut cmd = command(fakes.llm_base_url());
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("resuming"),
        "{}",
        text(&out.stderr)
    );
    let rows = csv::Reader::from_path(&out_path).unwrap().records().count();
    assert_eq!(rows, 50);
}

#[test]
fn missing_keys_still_complete_with_fallbacks() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.csv");
    let out = run(bin()
        .env("OUTREACH_DATA_DIR", dir.path().join("data"))
        .args(["enrich", "--format", "csv", "-o"])
        .arg(&out_path)
        .arg(sample()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("SERPER_API_KEY is not set"));
    let mut r = csv::Reader::from_path(&out_path).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 50);
    assert_eq!(&rows[0][6], "Research unavailable: missing SERPER_API_KEY.");
}

#[test]
fn bad_inputs_exit_non_zero_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, b"").unwrap();
    let header_only = dir.path().join("header.csv");
    std::fs::write(&header_only, b"name,email\n").unwrap();
    let fake_xlsx = dir.path().join("list.xlsx");
    std::fs::write(&fake_xlsx, b"name,email\nA,a@b.co\n").unwrap();
    let pdf = dir.path().join("list.pdf");
    std::fs::write(&pdf, b"%PDF-1.4").unwrap();
    let no_email = dir.path().join("noemail.csv");
    std::fs::write(&no_email, b"name,company\nAda,Acme\n").unwrap();
    let cases: [(&Path, &str); 6] = [
        (&empty, "empty"),
        (&header_only, "no data rows"),
        (&fake_xlsx, "not a valid XLSX"),
        (&pdf, "unsupported file type"),
        (&no_email, "no email column"),
        (Path::new("/nonexistent/list.csv"), "no such file"),
    ];
    for (path, message) in cases {
        let out = run(bin()
            .env("OUTREACH_DATA_DIR", dir.path().join("data"))
            .arg("enrich")
            .arg(path));
        assert!(!out.status.success(), "{path:?} succeeded");
        let err = text(&out.stderr);
        assert!(err.contains(message), "{path:?}: {err}");
        assert!(!err.contains("panicked"), "{path:?}: {err}");
    }
}

/// SIGKILL halfway through a 2,000-row run, then the same command again: every row
/// once, in order, and few extra provider calls compared with an uninterrupted run.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_run_resumes_where_it_stopped() {
    let options = FakeOptions {
        search_latency: Duration::from_millis(5),
        llm_latency: Duration::from_millis(15),
        fail_every: 0,
        ..FakeOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.csv");
    let mut w = csv::Writer::from_path(&input).unwrap();
    w.write_record(["id", "email"]).unwrap();
    for i in 0..2000 {
        w.write_record([i.to_string(), format!("p{i}@c{}.com", i / 5)])
            .unwrap();
    }
    w.flush().unwrap();

    // Uninterrupted baseline.
    let base = FakeProviders::start(options.clone()).await;
    let mut cmd = bin();
    with_fakes(&mut cmd, &base);
    cmd.env("OUTREACH_DATA_DIR", dir.path().join("base-data"))
        .env("OUTREACH_SEARCH_RPS", "0")
        .env("OUTREACH_LLM_RPS", "0")
        .args(["enrich", "--format", "csv", "-o"])
        .arg(dir.path().join("base.csv"))
        .arg(&input);
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let baseline =
        base.search_requests.load(Ordering::SeqCst) + base.llm_requests.load(Ordering::SeqCst);

    // Killed halfway, then resumed.
    let fakes = FakeProviders::start(options).await;
    let data = dir.path().join("data");
    let out_path = dir.path().join("out.csv");
    let command = |fakes: &FakeProviders| {
        let mut cmd = bin();
        with_fakes(&mut cmd, fakes);
        cmd.env("OUTREACH_SEARCH_RPS", "0")
            .env("OUTREACH_LLM_RPS", "0");
        cmd.env("OUTREACH_DATA_DIR", &data)
            .args(["enrich", "--format", "csv", "-o"])
            .arg(&out_path)
            .arg(&input)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let mut child = command(&fakes).spawn().unwrap();
    let started = Instant::now();
    loop {
        let calls = fakes.llm_requests.load(Ordering::SeqCst);
        if calls >= 2000 {
            break; // about half of the 4,000 LLM calls
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "run too slow to interrupt"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    assert!(!out_path.exists(), "a killed run left an output file");

    let mut again = command(&fakes);
    let out = tokio::task::spawn_blocking(move || again.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("resuming"),
        "{}",
        text(&out.stderr)
    );
    let total =
        fakes.search_requests.load(Ordering::SeqCst) + fakes.llm_requests.load(Ordering::SeqCst);

    let mut r = csv::Reader::from_path(&out_path).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2000);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(&row[0], i.to_string(), "row {i} out of place");
        assert!(row[2].starts_with('{'), "row {i}: {}", &row[2]);
    }
    let extra = total as f64 / baseline as f64 - 1.0;
    eprintln!(
        "resume: {total} provider calls vs {baseline} uninterrupted ({:+.1}%)",
        extra * 100.0
    );
    assert!(
        extra < 0.25,
        "resuming cost {:.0}% extra calls",
        extra * 100.0
    );
}

/// `--suppress` keeps listed people away from every provider (and out of the count of
/// lines), `--variants` drafts each row's email from one of two template pairs, the
/// same pair for the same person in a second run.
#[tokio::test(flavor = "multi_thread")]
async fn suppress_and_variants_on_the_command_line() {
    let fakes = FakeProviders::start(FakeOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("do-not-contact.txt");
    // One person (the list's capitals and plus-tag are normalised away) and a whole
    // domain (4 rows of the sample).
    std::fs::write(
        &list,
        "# unsubscribed\nJane.Doe+promo@Northwind-Logistics.com\n@brightpathhealth.io\n",
    )
    .unwrap();
    let variants = dir.path().join("variants.json");
    std::fs::write(
        &variants,
        serde_json::json!({
            "seed": "spring",
            "variants": [
                {"name": "short", "subject": "Idea for {{ row[\"company\"] }}", "body": "Hi {{ first_name | default('there') }},\n{{ sif_personalized }}"},
                {"name": "long", "subject": "{{ first_name }}, a question about {{ row[\"company\"] }}", "body": "Hello {{ first_name }},\n\n{{ sif_personalized }}\n\nWorth a call?"}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let run_once = |out_path: PathBuf| {
        let mut cmd = bin();
        with_fakes(&mut cmd, &fakes);
        cmd.env("OUTREACH_DATA_DIR", dir.path().join("data"))
            .args(["enrich", "--format", "csv", "--suppress"])
            .arg(&list)
            .arg("--variants")
            .arg(&variants)
            .arg("-o")
            .arg(&out_path)
            .arg(sample());
        cmd
    };
    let first = dir.path().join("first.csv");
    let mut cmd = run_once(first.clone());
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(
        summary.starts_with("50 rows, 42 lines written, 3 fallbacks (3 not chargeable)"),
        "{summary}"
    );
    assert!(
        summary.contains("(5 rows on the do-not-contact list, skipped)"),
        "{summary}"
    );
    // 42 person queries and 9 domain queries: nothing about the suppressed; plus the
    // preflight's one search before the first row's.
    assert_eq!(fakes.search_requests.load(Ordering::SeqCst), 42 + 9 + 1);

    let mut reader = csv::Reader::from_path(&first).unwrap();
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        headers[6..],
        [
            "sif_research",
            "sif_personalized",
            "sif_status",
            "email_subject",
            "email_body",
            "variant"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 50);
    let mut seen = std::collections::HashSet::new();
    for row in &rows {
        let email = row[4].to_lowercase();
        if email.starts_with("jane.doe@") || email.ends_with("@brightpathhealth.io") {
            assert_eq!(
                row[6..],
                ["", "", "suppressed", "", "", ""],
                "suppressed row: {row:?}"
            );
            continue;
        }
        seen.insert(row[11].clone());
        let company = &row[3];
        match row[11].as_str() {
            "short" => {
                assert_eq!(row[9], format!("Idea for {company}"));
                assert!(row[10].starts_with("Hi "), "{}", row[10]);
            }
            "long" => {
                assert!(
                    row[9].ends_with(&format!("a question about {company}")),
                    "{}",
                    row[9]
                );
                assert!(row[10].ends_with("Worth a call?"), "{}", row[10]);
            }
            other => panic!("unexpected variant {other:?}"),
        }
        if row[7].starts_with("SIF") {
            continue;
        }
        assert!(row[10].contains(&row[7]), "the body holds the opener");
    }
    assert_eq!(seen.len(), 2, "both variants are used");

    let second = dir.path().join("second.csv");
    let mut cmd = run_once(second.clone());
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again: Vec<String> = csv::Reader::from_path(&second)
        .unwrap()
        .records()
        .map(|r| r.unwrap()[11].to_string())
        .collect();
    let before: Vec<String> = rows.iter().map(|r| r[11].clone()).collect();
    assert_eq!(again, before, "the same person gets the same variant");
}

/// A template error names the file's template, line and column, and nothing runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_template_error_stops_the_run_before_any_call() {
    let fakes = FakeProviders::start(FakeOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let subject = dir.path().join("subject.j2");
    let body = dir.path().join("body.j2");
    std::fs::write(&subject, "Hello {{ first_name }}").unwrap();
    std::fs::write(&body, "Hi,\n{% if title %}{{ titel }}{% endif %}\n").unwrap();
    let mut cmd = bin();
    with_fakes(&mut cmd, &fakes);
    cmd.env("OUTREACH_DATA_DIR", dir.path().join("data"))
        .args(["enrich", "--format", "csv", "--subject-template"])
        .arg(&subject)
        .arg("--body-template")
        .arg(&body)
        .arg("-o")
        .arg(dir.path().join("out.csv"))
        .arg(sample());
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("the body template, line 2, column 18: unknown variable `titel` (did you mean `title`?)"),
        "{err}"
    );
    assert_eq!(fakes.search_requests.load(Ordering::SeqCst), 0);
    assert_eq!(fakes.llm_requests.load(Ordering::SeqCst), 0);
}

/// Kills a process when the test ends, whatever happens.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process whose command line reads `outreach ARGS…` (a shell named `outreach` that
/// sleeps): what `outreach healthcheck --pid` parses, without starting anything.
fn posing_as_outreach(args: &[&str]) -> Killed {
    Killed(
        Command::new("sh")
            .args(["-c", "sleep 60; :", "outreach"])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn healthcheck(pid: u32, env: &[(&str, &str)]) -> Output {
    let mut cmd = bin();
    cmd.env_remove("OUTREACH_ADDR")
        .env_remove("OUTREACH_METRICS_ADDR")
        .args(["healthcheck", "--pid", &pid.to_string()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The image's health check asks the address the process was started with: `--addr`
/// wins over OUTREACH_ADDR (as it does for `serve` itself), the variable is the fallback,
/// and a closed port or a worker's `--metrics-addr` are asked too.
#[test]
fn healthcheck_asks_the_address_the_server_was_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    // OUTREACH_ADDR names a closed port; the flag names the real one.
    let mut server = bin();
    server
        .env("OUTREACH_DATA_DIR", dir.path().join("data"))
        .env("OUTREACH_ADDR", "127.0.0.1:1")
        .env("OUTREACH_WORKERS", "0")
        .args(["serve", "--addr", &addr])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = server.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Killed(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    assert!(line.contains(&addr), "{line}");

    let out = healthcheck(server.0.id(), &[("OUTREACH_ADDR", "127.0.0.1:1")]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The flag wins over the variable, as in `serve`: a flag naming a closed port fails
    // even when OUTREACH_ADDR names the live server.
    let posing = posing_as_outreach(&["serve", "--addr=127.0.0.1:1"]);
    let out = healthcheck(posing.0.id(), &[("OUTREACH_ADDR", &addr)]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("127.0.0.1:1/healthz"),
        "{}",
        text(&out.stderr)
    );
    // Without the flag, OUTREACH_ADDR is the address.
    let posing = posing_as_outreach(&["serve", "--workers", "0"]);
    assert!(healthcheck(posing.0.id(), &[("OUTREACH_ADDR", &addr)])
        .status
        .success());
    assert!(
        !healthcheck(posing.0.id(), &[("OUTREACH_ADDR", "127.0.0.1:1")])
            .status
            .success()
    );
    // A worker is asked on --metrics-addr; without one it is healthy while it runs.
    let posing = posing_as_outreach(&["worker", "--metrics-addr", "127.0.0.1:1"]);
    assert!(
        !healthcheck(posing.0.id(), &[("OUTREACH_METRICS_ADDR", &addr)])
            .status
            .success()
    );
    let posing = posing_as_outreach(&["worker"]);
    assert!(healthcheck(posing.0.id(), &[]).status.success());
    assert!(
        !healthcheck(posing.0.id(), &[("OUTREACH_METRICS_ADDR", "127.0.0.1:1")])
            .status
            .success()
    );
    // `migrate` (or anything else) has nothing to ask.
    let posing = posing_as_outreach(&["migrate"]);
    assert!(healthcheck(posing.0.id(), &[]).status.success());
    drop(server);
}
