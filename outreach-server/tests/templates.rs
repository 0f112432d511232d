//! `POST /api/templates/preview`: the core's renderer on an upload's first rows, and
//! template errors with their line and column.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::*;

const CSV: &[u8] = b"email,First Name,Company\nada@example.com,Ada,Analytical\nbob@example.com,Bob,Babbage Ltd\ncy@example.com,Cy,Cyc\n";

#[tokio::test(flavor = "multi_thread")]
async fn renders_the_first_rows_and_reports_errors_with_their_place() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let t = token("template-user");
    let file_path = h.upload(&t, "people.csv", CSV).await;
    let before = h.me(&t).await["credits_remaining"].clone();

    let r = h
        .call(post_json(
            "/api/templates/preview",
            Some(&t),
            &json!({
                "file_path": file_path,
                "subject_template": "Hello {{ first_name }} at {{ row['Company'] }}",
                "body_template": "Hi {{ first_name }},\n\n{{ sif_personalized }}\n\nBest",
                "rows": 2
            }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert!(v["error"].is_null(), "{v}");
    assert_eq!(v["headers"], json!(["email", "First Name", "Company"]));
    let drafts = v["drafts"].as_array().unwrap();
    assert_eq!(drafts.len(), 2, "rows limits the preview");
    assert_eq!(drafts[0]["email"], "ada@example.com");
    assert_eq!(drafts[0]["subject"], "Hello Ada at Analytical");
    assert_eq!(drafts[1]["subject"], "Hello Bob at Babbage Ltd");
    let body = drafts[1]["body"].as_str().unwrap();
    assert!(body.starts_with("Hi Bob,"), "{body}");
    assert!(
        body.contains("[the researched opener for this row]"),
        "{body}"
    );

    // An unknown column: the error names the template, line and column.
    let r = h
        .call(post_json(
            "/api/templates/preview",
            Some(&t),
            &json!({
                "file_path": file_path,
                "subject_template": "Hi",
                "body_template": "Hello,\n  {{ frist_name }}",
            }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["drafts"], json!([]));
    assert_eq!(v["error"]["template"], "body");
    assert_eq!(v["error"]["line"], 2);
    assert_eq!(v["error"]["column"], 6);
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("frist_name"), "{message}");
    assert!(message.contains("first_name"), "a suggestion: {message}");

    // A syntax error too.
    let r = h
        .call(post_json(
            "/api/templates/preview",
            Some(&t),
            &json!({ "file_path": file_path, "subject_template": "Hi {{ first_name", "body_template": "x" }),
        ))
        .await;
    let v = r.json();
    assert_eq!(v["error"]["template"], "subject");
    assert_eq!(v["error"]["line"], 1);

    // Variants: each row gets one of them.
    let r = h
        .call(post_json(
            "/api/templates/preview",
            Some(&t),
            &json!({ "file_path": file_path, "variants": [
                { "name": "short", "subject": "A {{ first_name }}", "body": "a" },
                { "name": "long", "subject": "B {{ first_name }}", "body": "b" }
            ] }),
        ))
        .await;
    let v = r.json();
    for d in v["drafts"].as_array().unwrap() {
        let expected = if d["variant"] == "short" { "A " } else { "B " };
        assert!(d["subject"].as_str().unwrap().starts_with(expected), "{d}");
    }

    // Nothing to render, someone else's upload: refused. Nothing was charged.
    let r = h
        .call(post_json(
            "/api/templates/preview",
            Some(&t),
            &json!({ "file_path": file_path }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let other = token("someone-else");
    let r = h
        .call(post_json(
            "/api/templates/preview",
            Some(&other),
            &json!({ "file_path": file_path, "subject_template": "a", "body_template": "b" }),
        ))
        .await;
    assert!(
        matches!(r.status, StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST),
        "{}",
        r.status
    );
    assert_eq!(h.me(&t).await["credits_remaining"], before);
}
