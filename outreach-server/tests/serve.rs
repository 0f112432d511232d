//! The real binary: `outreach serve` on a free port answers over TCP; `outreach token`
//! prints only a token that server accepts; `outreach credits grant` adds credits the
//! API then shows.
// Test helpers fail loudly: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn bin(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_outreach"));
    for var in [
        "SERPER_API_KEY",
        "GROQ_API_KEY",
        "LLM_API_KEY",
        "DATABASE_URL",
        "STORAGE_URL",
        "REDIS_URL",
        "SUPABASE_JWT_SECRET",
        "SUPABASE_JWT_ISS",
        "SUPABASE_JWT_AUD",
        "OUTREACH_ADDR",
        "OUTREACH_WORKERS",
        "OUTREACH_FREE_CREDITS",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "OUTREACH_PLANS",
        "OUTREACH_CORS_ORIGINS",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("OUTREACH_DATA_DIR", data_dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// Kills the server when the test ends, whatever happens.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_token_and_credits_work_together_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = bin(&data)
        .args(["serve", "--addr", "127.0.0.1:0", "--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    });
    let line = tokio::time::timeout(Duration::from_secs(30), line)
        .await
        .expect("the URL is printed")
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    assert!(!url.ends_with(":0"), "{line}");

    let http = reqwest::Client::new();
    let health = http.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    // The token command prints the token and nothing else on stdout.
    let out = bin(&data)
        .args(["token", "--email", "owner@example.com"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.trim_end_matches('\n');
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert_eq!(token.split('.').count(), 3, "{token}");
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "{token}"
    );

    let me = |token: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r = http
                .get(format!("{url}/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let account = me(token.to_string()).await;
    assert_eq!(account["email"], "owner@example.com");
    assert_eq!(account["credits_remaining"], 50);
    let r = http
        .get(format!("{url}/me"))
        .bearer_auth("forged.token.here")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Same email, same account; credits granted through the ledger show up in the API.
    let again = bin(&data)
        .args(["token", "--email", "owner@example.com"])
        .output()
        .unwrap();
    let again = String::from_utf8(again.stdout).unwrap();
    assert_eq!(
        me(again.trim().to_string()).await["user_id"],
        account["user_id"]
    );
    let out = bin(&data)
        .args([
            "credits",
            "grant",
            "--email",
            "owner@example.com",
            "--amount",
            "25",
            "--reason",
            "pilot",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(me(token.to_string()).await["credits_remaining"], 75);
    let ledger: serde_json::Value = http
        .get(format!("{url}/ledger"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ledger["entries"][0]["reason"], "pilot");
    assert_eq!(ledger["entries"][0]["change"], 25);

    let out = bin(&data)
        .args([
            "credits",
            "grant",
            "--email",
            "nobody@example.com",
            "--amount",
            "5",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account"));
    drop(server);
    // Issue 12, item 11: the database, the JWT secret and every directory are the
    // owner's only (they were 0644 and 0755).
    assert_private(&data);
}

/// Every file under `dir` is 0600-like and every directory 0700-like (nothing for group
/// or others), and there is at least a database to check.
fn assert_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(
                mode(&path) & 0o077,
                0,
                "{} is {:o}",
                path.display(),
                mode(&path)
            );
            if path.is_dir() {
                stack.push(path);
            } else {
                files += 1;
            }
        }
    }
    assert!(files >= 2, "the database and the secret at least");
}
