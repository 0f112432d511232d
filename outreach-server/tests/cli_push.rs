#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `outreach push` as a user runs it, against a wiremock Instantly (API v2 reply shape
//! from Instantly's "Add leads in bulk" reference; the 401 body is Fastify's, which
//! Instantly v2 answers with).

use std::process::Command;

use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_outreach"));
    for var in ["INSTANTLY_API_KEY", "INSTANTLY_URL"] {
        cmd.env_remove(var);
    }
    cmd
}

#[tokio::test]
async fn push_prints_each_row_and_fails_on_a_rejected_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/leads/add"))
        .and(header("authorization", "Bearer good-key"))
        .and(body_partial_json(
            json!({"campaign_id": "camp-9", "skip_if_in_campaign": true}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success",
            "total_sent": 2,
            "leads_uploaded": 1,
            "in_blocklist": 0,
            "already_in_campaign": 1,
            "skipped_count": 1,
            "invalid_email_count": 0,
            "duplicate_email_count": 0,
            "remaining_in_plan": 1000,
            "created_leads": [{"id": "0194a3e1-lead", "index": 0, "email": "jane@acme.com"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "statusCode": 401, "error": "Unauthorized", "message": "Invalid API key"
        })))
        .mount(&server)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("result.csv");
    std::fs::write(
        &input,
        "email,name,sif_personalized,sif_status\n\
         jane@acme.com,Jane,Loved the launch.,ok\n\
         bob@beta.io,Bob,Great post.,ok\n\
         sam@nope.com,Sam,,suppressed\n",
    )
    .unwrap();

    let out = bin()
        .args([
            "push",
            input.to_str().unwrap(),
            "--to",
            "instantly",
            "--campaign",
            "camp-9",
        ])
        .env("INSTANTLY_API_KEY", "good-key")
        .env("INSTANTLY_URL", server.uri())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("row 1\tjane@acme.com\tpushed"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("row 2\tbob@beta.io\tskipped\tduplicate"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("row 3\tsam@nope.com\tskipped\tsuppressed"),
        "{stdout}"
    );
    assert!(stderr.contains("1 pushed, 2 skipped"), "{stderr}");

    let out = bin()
        .args([
            "push",
            input.to_str().unwrap(),
            "--to",
            "instantly",
            "--campaign",
            "camp-9",
        ])
        .env("INSTANTLY_API_KEY", "wrong-key")
        .env("INSTANTLY_URL", server.uri())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("rejected the API key"), "{stderr}");
    assert!(!stderr.contains("wrong-key"), "the key leaked: {stderr}");

    let out = bin()
        .args([
            "push",
            input.to_str().unwrap(),
            "--to",
            "instantly",
            "--campaign",
            "camp-9",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("INSTANTLY_API_KEY"));
}
