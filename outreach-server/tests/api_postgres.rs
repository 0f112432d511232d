//! The API unchanged on PostgreSQL (`--features postgres`): the job flow, credits and a
//! Stripe grant against a real server. Run by `scripts/test-postgres.sh`, which starts
//! a throwaway PostgreSQL and sets `OUTREACH_TEST_POSTGRES_URL`. The database is shared
//! with other suites, so users are unique per run.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::http::StatusCode;
use outreach_server::server::stripe::sign_payload;
use serde_json::json;
use support::*;

const URL_VAR: &str = "OUTREACH_TEST_POSTGRES_URL";

fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("OUTREACH_SKIP_SERVICES").as_deref() == Ok("1") => {
            eprintln!("skipped: OUTREACH_SKIP_SERVICES=1 (no PostgreSQL)");
            None
        }
        _ => panic!(
            "{URL_VAR} is not set. Run this through scripts/test-postgres.sh, which starts a \
             throwaway PostgreSQL; set OUTREACH_SKIP_SERVICES=1 to skip it."
        ),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_job_flow_and_billing_work_on_postgres() {
    let Some(url) = server_url() else { return };
    let h = Harness::with(Options {
        database_url: Some(url),
        ..Options::default()
    })
    .await;
    let user = format!("pg-{}", uuid::Uuid::new_v4());
    let t = token(&user);
    let other = token(&format!("pg-{}", uuid::Uuid::new_v4()));

    let file_path = h.upload(&t, "prospects.csv", &sample()).await;
    let r = h
        .call(post_json(
            "/parse_headers",
            Some(&t),
            &json!({ "file_path": file_path }),
        ))
        .await;
    assert_eq!(r.json()["rows"], 50);
    let id = h
        .create_job(&t, json!({ "file_path": file_path, "limit": 20 }))
        .await;
    let job = h.wait_job(&t, &id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["rows_processed"], 20);
    let r = h.call(get(&format!("/jobs/{id}/download"), Some(&t))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        h.call(get(&format!("/jobs/{id}"), Some(&other)))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Rows that delivered nothing (an invalid address, an abstention) are refunded.
    let refunded = |job: &serde_json::Value| job["timing"]["refundable_rows"].as_i64().unwrap();
    let first = refunded(&job);
    h.wait_balance(&t, 80 + first).await;

    let r = h
        .call(post_json(
            "/jobs",
            Some(&t),
            &json!({ "file_path": file_path }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let second_id = r.json()["job_id"].as_str().unwrap().to_string();
    let second = refunded(&h.wait_job(&t, &second_id).await);
    // The session carries its line items (as when Stripe sends it expanded), so no
    // Stripe API is needed; tests/api_billing.rs fetches them from a fake.
    let item = json!({ "object": "item", "quantity": 1, "currency": "usd", "amount_total": 1900,
        "amount_tax": 0, "price": { "object": "price", "id": "price_small", "unit_amount": 1900 } });
    let body = json!({ "id": format!("evt_{user}"), "type": "checkout.session.completed", "data": { "object": {
        "id": "cs_pg", "object": "checkout.session",
        "client_reference_id": user, "payment_status": "paid", "customer": "cus_pg",
        "line_items": { "object": "list", "data": [item], "has_more": false },
        "metadata": { "user_id": user, "addon": "small" } } } })
    .to_string();
    for _ in 0..2 {
        let ts = now();
        let sig = sign_payload(WEBHOOK_SECRET.as_bytes(), ts, body.as_bytes());
        let req = axum::http::Request::post("/stripe/webhook")
            .header("stripe-signature", format!("t={ts},v1={sig}"))
            .body(axum::body::Body::from(body.clone()))
            .unwrap();
        assert_eq!(h.call(req).await.status, StatusCode::OK);
    }
    h.wait_balance(&t, 80 + first - 50 + second + 500).await;
    let ledger = h.call(get("/ledger", Some(&t))).await.json();
    let refunds = i64::from(first > 0) + i64::from(second > 0);
    assert_eq!(ledger["total"], 4 + refunds, "{ledger}");
}
