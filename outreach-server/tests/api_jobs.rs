//! The job flow through the HTTP API: upload → parse_headers → create → worker runs it
//! → detail with logs and timings → download → ledger; 402, limit + preview, retry,
//! cancel and the event stream.
// Test helpers fail loudly: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use axum::http::{header, StatusCode};
use calamine::{Reader, Xlsx};
use serde_json::{json, Value};
use support::*;
use tower::ServiceExt;

fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_parse_create_run_download_and_ledger() {
    let h = Harness::start().await;
    let t = token("alice");

    let file_path = h.upload(&t, "prospects.csv", &sample()).await;
    assert!(file_path.starts_with("uploads/alice/"), "{file_path}");
    assert!(file_path.ends_with("/prospects.csv"));

    let r = h
        .call(post_json(
            "/parse_headers",
            Some(&t),
            &json!({ "file_path": file_path }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let summary = r.json();
    assert_eq!(summary["rows"], 50);
    assert_eq!(summary["email_column"], "email");
    assert_eq!(summary["credit_cost"], 50);
    assert_eq!(summary["credits_remaining"], 100);
    assert_eq!(summary["headers"][0], "first_name");

    let service = json!({ "core_offer": "bookkeeping", "key_differentiator": "same-day close", "cta": "a call",
        "timeline": "this month", "goal": "save time", "fallback_action": "point me to finance" });
    let id = h
        .create_job(
            &t,
            json!({ "file_path": file_path, "email_col": "email", "service": service }),
        )
        .await;
    assert_eq!(
        h.me(&t).await["credits_remaining"],
        50,
        "reserved at creation"
    );

    let job = h.wait_job(&t, &id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["rows"], 50);
    assert_eq!(job["rows_processed"], 50);
    assert_eq!(job["progress_percent"], 100.0);
    assert_eq!(job["credits_charged"], 50);
    assert_eq!(job["download_ready"], true);
    assert_eq!(job["service"]["core_offer"], "bookkeeping");
    assert!(job["started_at"].is_string() && job["finished_at"].is_string());
    assert!(job["timing"]["seconds"]["wall"].is_number(), "{job}");
    assert_eq!(job["timing"]["fallbacks"], 3);
    let logs: Vec<&str> = job["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert!(logs.iter().any(|m| m.starts_with("Job queued")), "{logs:?}");
    assert!(
        logs.iter().any(|m| m.starts_with("Job succeeded")),
        "{logs:?}"
    );
    assert!(
        !job.to_string().contains("outputs/"),
        "storage keys stay internal"
    );

    let r = h.call(get(&format!("/jobs/{id}/download"), Some(&t))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let disposition = r.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.contains("filename=\"prospects.enriched.xlsx\""),
        "{disposition}"
    );
    assert_eq!(
        r.headers[header::CONTENT_LENGTH],
        r.body.len().to_string().as_str()
    );
    let rows = xlsx_rows(&r.body);
    assert_eq!(rows.len(), 51);
    let email = rows[0].iter().position(|c| c == "email").unwrap();
    assert_eq!(
        rows[0][rows[0].len() - 3..],
        ["sif_research", "sif_personalized", "sif_status"]
    );
    let got: Vec<&str> = rows[1..].iter().map(|r| r[email].as_str()).collect();
    assert_eq!(got, sample_emails(), "rows in input order");
    let openers = rows[1..]
        .iter()
        .filter(|r| !r[r.len() - 2].starts_with("SIF"))
        .count();
    assert_eq!(openers, 47, "every valid email got an opener");
    let invalid = rows[1..]
        .iter()
        .filter(|r| r[r.len() - 1] == "invalid_email")
        .count();
    assert_eq!(invalid, 3);

    let r = h.call(get("/ledger", Some(&t))).await;
    assert_eq!(r.status, StatusCode::OK);
    let ledger = r.json();
    assert_eq!(ledger["total"], 3, "{ledger}");
    let refund = &ledger["entries"][0];
    assert_eq!(refund["change"], 3, "the invalid emails are not charged");
    assert_eq!(refund["balance_after"], 53);
    let charge = &ledger["entries"][1];
    assert_eq!(charge["change"], -50);
    assert_eq!(charge["balance_after"], 50);
    assert!(charge["reason"].as_str().unwrap().contains(&id));
    assert_eq!(ledger["entries"][2]["change"], 100, "the signup grant");

    let r = h.call(get("/jobs?limit=5", Some(&t))).await;
    let list = r.json();
    assert_eq!(list["total"], 1);
    assert_eq!(list["jobs"][0]["id"], id.as_str());
    assert_eq!(list["jobs"][0]["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread")]
async fn short_of_credits_is_402_with_needed_and_available() {
    let h = Harness::with(Options {
        free_credits: 50,
        worker: false,
        ..Options::default()
    })
    .await;
    let t = token("bob");
    let file_path = h.upload(&t, "big.csv", &prospects_csv(60)).await;
    let r = h
        .call(post_json(
            "/jobs",
            Some(&t),
            &json!({ "file_path": file_path }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.text());
    assert_eq!(r.code(), "insufficient_credits");
    let e = r.json();
    assert_eq!(e["error"]["needed"], 60);
    assert_eq!(e["error"]["available"], 50);
    assert_eq!(h.me(&t).await["credits_remaining"], 50, "nothing charged");
    let jobs = h.call(get("/jobs", Some(&t))).await.json();
    assert_eq!(jobs["total"], 0, "no job created");

    // A preview of the first rows fits the balance.
    h.create_job(&t, json!({ "file_path": file_path, "limit": 20 }))
        .await;
    assert_eq!(h.me(&t).await["credits_remaining"], 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn limit_processes_the_first_rows_and_preview_shows_them() {
    let h = Harness::start().await;
    let t = token("carol");
    let file_path = h.upload(&t, "prospects.csv", &sample()).await;
    let id = h
        .create_job(
            &t,
            json!({ "file_path": file_path, "limit": 5, "format": "csv",
            "output_columns": ["email", "company", "sif_personalized"] }),
        )
        .await;
    let job = h.wait_job(&t, &id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["rows"], 5);
    assert_eq!(job["credits_charged"], 5);
    assert_eq!(h.me(&t).await["credits_remaining"], 95);

    let r = h
        .call(get(&format!("/jobs/{id}/preview?limit=3"), Some(&t)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let p = r.json();
    assert_eq!(
        p["headers"],
        json!(["email", "company", "sif_personalized"])
    );
    let rows = p["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let emails = sample_emails();
    for (row, want) in rows.iter().zip(&emails) {
        assert_eq!(row[0], want.as_str());
        assert!(!row[2].as_str().unwrap().is_empty());
    }

    let r = h.call(get(&format!("/jobs/{id}/download"), Some(&t))).await;
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(r.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("prospects.enriched.csv"));
    let mut csv = csv::Reader::from_reader(&r.body[..]);
    assert_eq!(csv.records().count(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_refunds_and_retry_reruns_a_failed_job() {
    let mut h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let t = token("dave");
    let file_path = h.upload(&t, "prospects.csv", &sample()).await;

    // Cancel a queued job: everything is refunded; a second cancel conflicts.
    let id = h.create_job(&t, json!({ "file_path": file_path })).await;
    assert_eq!(h.me(&t).await["credits_remaining"], 50);
    let r = h
        .call(post_json(
            &format!("/jobs/{id}/cancel"),
            Some(&t),
            &json!({}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "cancelled");
    assert_eq!(r.json()["credits_refunded"], 50);
    assert_eq!(h.me(&t).await["credits_remaining"], 100);
    let r = h
        .call(post_json(
            &format!("/jobs/{id}/cancel"),
            Some(&t),
            &json!({}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "conflict");
    let r = h
        .call(post_json(
            &format!("/jobs/{id}/retry"),
            Some(&t),
            &json!({}),
        ))
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "only failed jobs can be retried"
    );
    let r = h.call(get(&format!("/jobs/{id}/download"), Some(&t))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "job_not_finished");

    // A failed job (refunded) is retried: charged again, then completes.
    let id = h.create_job(&t, json!({ "file_path": file_path })).await;
    h.state
        .jobs
        .fail_job(&id, "the worker crashed")
        .await
        .unwrap();
    let failed = h.call(get(&format!("/jobs/{id}"), Some(&t))).await.json();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"], "the worker crashed");
    assert_eq!(h.me(&t).await["credits_remaining"], 100);
    let r = h
        .call(post_json(
            &format!("/jobs/{id}/retry"),
            Some(&t),
            &json!({}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "queued");
    assert_eq!(r.json()["attempt"], 2);
    assert_eq!(h.me(&t).await["credits_remaining"], 50);
    h.start_worker();
    let job = h.wait_job(&t, &id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["error"], Value::Null);
}

/// Reads the SSE body to its end (bounded in time); returns (event, data) pairs.
async fn read_events(h: &Harness, t: &str, id: &str) -> Vec<(String, Value)> {
    let resp = h
        .app()
        .oneshot(get(&format!("/jobs/{id}/events"), Some(t)))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let body = tokio::time::timeout(
        Duration::from_secs(60),
        axum::body::to_bytes(resp.into_body(), usize::MAX),
    )
    .await
    .expect("the stream ended")
    .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(d).unwrap());
                }
            }
            Some((event?, data?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_follows_the_job_and_ends_with_a_terminal_event() {
    let h = Harness::start().await;
    let t = token("erin");
    let file_path = h.upload(&t, "prospects.csv", &sample()).await;
    let id = h.create_job(&t, json!({ "file_path": file_path })).await;
    let events = read_events(&h, &t, &id).await;
    let (last_kind, last) = events.last().unwrap();
    assert_eq!(last_kind, "done", "{events:?}");
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["rows_processed"], 50);
    assert!(events[..events.len() - 1]
        .iter()
        .all(|(k, _)| k == "progress"));
    let processed: Vec<u64> = events
        .iter()
        .map(|(_, d)| d["rows_processed"].as_u64().unwrap())
        .collect();
    assert!(processed.windows(2).all(|w| w[0] <= w[1]), "{processed:?}");

    // A finished job: one terminal event, then the stream closes.
    let events = read_events(&h, &t, &id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "done");

    let r = h
        .call(get(&format!("/jobs/{id}/events"), Some(&token("mallory"))))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// `POST /jobs` with a do-not-contact list and A/B templates: listed rows are not
/// charged and keep their place with empty cells; the others get subject, body and
/// variant. A template error is a 400 naming its position, and charges nothing.
#[tokio::test(flavor = "multi_thread")]
async fn create_with_suppression_and_templates() {
    let h = Harness::start().await;
    let t = token("carol");
    let file_path = h.upload(&t, "prospects.csv", &sample()).await;

    let r = h
        .call(post_json(
            "/jobs",
            Some(&t),
            &json!({ "file_path": file_path, "subject_template": "Hi {{ first_nam }}", "body_template": "b" }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.code(), "invalid_template");
    assert!(
        r.text()
            .contains("the subject template, line 1, column 7: unknown variable `first_nam` (did you mean `first_name`?)"),
        "{}",
        r.text()
    );
    assert_eq!(h.me(&t).await["credits_remaining"], 100, "nothing charged");

    let id = h
        .create_job(
            &t,
            json!({
                "file_path": file_path,
                "format": "csv",
                "suppress": ["@northwind-logistics.com", "Marcus.Reed@brightpathhealth.io"],
                "variants": [
                    { "name": "a", "subject": "{{ first_name }} x {{ row['company'] }}", "body": "{{ sif_personalized }}" },
                    { "name": "b", "subject": "Question for {{ first_name }}", "body": "Hi {{ first_name }}", "weight": 2 }
                ],
                "variant_seed": "api"
            }),
        )
        .await;
    let job = h.wait_job(&t, &id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        job["credits_charged"], 44,
        "6 suppressed rows are not charged"
    );
    let remaining = h.me(&t).await["credits_remaining"].as_i64().unwrap();

    let r = h.call(get(&format!("/jobs/{id}/download"), Some(&t))).await;
    assert_eq!(r.status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(r.body.as_ref());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        headers[headers.len() - 5..],
        [
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
    // 44 reserved; every researched row that did not deliver (an invalid address, an
    // abstention) is refunded, suppressed rows were never reserved.
    let status = headers.len() - 4;
    let refunded = rows
        .iter()
        .filter(|r| !matches!(r[status].as_str(), "enriched" | "suppressed"))
        .count() as i64;
    assert!(remaining <= 56 + refunded);
    h.wait_balance(&t, 56 + refunded).await;
    let got: Vec<&str> = rows.iter().map(|r| r[4].as_str()).collect();
    assert_eq!(got, sample_emails(), "rows in input order");
    let mut variants = std::collections::HashSet::new();
    for row in &rows {
        let email = row[4].to_lowercase();
        if email.ends_with("@northwind-logistics.com") || email == "marcus.reed@brightpathhealth.io"
        {
            assert_eq!(row[6..], ["", "", "suppressed", "", "", ""], "{row:?}");
            continue;
        }
        variants.insert(row[11].clone());
        match row[11].as_str() {
            "a" => assert_eq!(row[9], format!("{} x {}", row[0], row[3])),
            "b" => assert_eq!(row[10], format!("Hi {}", row[0])),
            other => panic!("variant {other:?}"),
        }
    }
    assert_eq!(variants.len(), 2);
}
