//! Stripe: the Checkout request as Stripe expects it (form fields, bearer key), and
//! signed webhooks: bad signatures refused, each event's effect on the account, and
//! replays granting nothing twice.
// Test helpers fail loudly: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;

use axum::http::StatusCode;
use outreach_server::server::stripe::sign_payload;
use serde_json::{json, Value};
use support::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn stripe_mock() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header(
            "authorization",
            format!("Bearer {STRIPE_KEY}").as_str(),
        ))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_a1", "object": "checkout.session",
            "url": "https://checkout.stripe.com/c/pay/cs_test_a1"
        })))
        .mount(&server)
        .await;
    server
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn checkout_sessions_are_created_with_the_fields_stripe_expects() {
    let stripe = stripe_mock().await;
    let h = Harness::with(Options {
        worker: false,
        stripe_api_base: Some(stripe.uri()),
        ..Options::default()
    })
    .await;
    let t = token("buyer");

    let r = h
        .call(post_json(
            "/create_checkout_session",
            Some(&t),
            &json!({ "plan": "growth" }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json()["url"],
        "https://checkout.stripe.com/c/pay/cs_test_a1"
    );
    let r = h
        .call(post_json(
            "/create_checkout_session",
            Some(&t),
            &json!({ "addon": "small" }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let requests = stripe.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let plan = form(&requests[0].body);
    let want = [
        ("mode", "subscription"),
        ("line_items[0][price]", "price_growth"),
        ("line_items[0][quantity]", "1"),
        ("client_reference_id", "buyer"),
        ("customer_email", "buyer@example.com"),
        ("metadata[user_id]", "buyer"),
        ("metadata[plan]", "growth"),
        ("metadata[credits]", "5000"),
        ("subscription_data[metadata][user_id]", "buyer"),
        ("subscription_data[metadata][plan]", "growth"),
        (
            "success_url",
            "https://app.example.com/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}",
        ),
        (
            "cancel_url",
            "https://app.example.com/billing?checkout=cancelled",
        ),
    ];
    for (k, v) in want {
        assert_eq!(plan.get(k).map(String::as_str), Some(v), "{k} in {plan:?}");
    }
    let addon = form(&requests[1].body);
    assert_eq!(addon["mode"], "payment");
    assert_eq!(addon["line_items[0][price]"], "price_small");
    assert_eq!(addon["metadata[addon]"], "small");
    assert!(
        !addon.keys().any(|k| k.starts_with("subscription_data")),
        "{addon:?}"
    );

    for (body, status, code) in [
        (
            json!({ "plan": "platinum" }),
            StatusCode::BAD_REQUEST,
            "unknown_offer",
        ),
        (
            json!({ "plan": "growth", "addon": "small" }),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "invalid_request"),
    ] {
        let r = h
            .call(post_json("/create_checkout_session", Some(&t), &body))
            .await;
        assert_eq!(r.status, status, "{body}");
        assert_eq!(r.code(), code);
    }
    let r = h
        .call(post_json(
            "/create_checkout_session",
            None,
            &json!({ "plan": "growth" }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stripe_failure_is_a_502_that_reveals_nothing() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({ "error": { "message": "No such price: 'price_growth' (secret detail)" } }),
        ))
        .mount(&stripe)
        .await;
    let h = Harness::with(Options {
        worker: false,
        stripe_api_base: Some(stripe.uri()),
        ..Options::default()
    })
    .await;
    let resp = tower::ServiceExt::oneshot(
        h.app(),
        post_json(
            "/create_checkout_session",
            Some(&token("x")),
            &json!({ "plan": "growth" }),
        ),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("upstream_error") && !text.contains("secret detail"),
        "{text}"
    );
}

/// POSTs an event with a valid signature made now.
async fn deliver(h: &Harness, event: &Value) -> Resp {
    let body = event.to_string().into_bytes();
    let t = now();
    let sig = sign_payload(WEBHOOK_SECRET.as_bytes(), t, &body);
    let req = axum::http::Request::post("/stripe/webhook")
        .header("content-type", "application/json")
        .header("stripe-signature", format!("t={t},v1={sig}"))
        .body(axum::body::Body::from(body))
        .unwrap();
    h.call(req).await
}

fn event(id: &str, kind: &str, object: Value) -> Value {
    json!({ "id": id, "object": "event", "type": kind, "api_version": "2024-06-20", "data": { "object": object } })
}

fn checkout_completed(id: &str, user: &str, plan: &str) -> Value {
    event(
        id,
        "checkout.session.completed",
        json!({
            "id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
            "client_reference_id": user, "customer": "cus_123", "subscription": "sub_123",
            "payment_status": "paid", "amount_total": 9900,
            "metadata": { "user_id": user, "plan": plan, "credits": "5000" }
        }),
    )
}

fn subscription(status: &str, price: &str, user: &str, period_end: i64) -> Value {
    json!({
        "id": "sub_123", "object": "subscription", "customer": "cus_123", "status": status,
        "current_period_end": period_end,
        "items": { "data": [{ "price": { "id": price } }] },
        "metadata": { "user_id": user, "plan": "growth" }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_need_a_valid_recent_signature() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let t = token("payer");
    h.me(&t).await;
    let body = checkout_completed("evt_sig", "payer", "growth").to_string();
    let now = now();
    let good = sign_payload(WEBHOOK_SECRET.as_bytes(), now, body.as_bytes());
    let cases = [
        ("missing", None),
        (
            "wrong secret",
            Some(format!(
                "t={now},v1={}",
                sign_payload(b"whsec_other", now, body.as_bytes())
            )),
        ),
        (
            "other body",
            Some(format!(
                "t={now},v1={}",
                sign_payload(WEBHOOK_SECRET.as_bytes(), now, b"{}")
            )),
        ),
        (
            "too old",
            Some(format!(
                "t={},v1={}",
                now - 301,
                sign_payload(WEBHOOK_SECRET.as_bytes(), now - 301, body.as_bytes())
            )),
        ),
        (
            "timestamp swapped",
            Some(format!("t={},v1={good}", now - 1)),
        ),
        ("malformed", Some("garbage".to_string())),
    ];
    for (why, header) in cases {
        let mut req =
            axum::http::Request::post("/stripe/webhook").header("content-type", "application/json");
        if let Some(hv) = header {
            req = req.header("stripe-signature", hv);
        }
        let r = h
            .call(req.body(axum::body::Body::from(body.clone())).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.text());
        assert_eq!(r.code(), "invalid_signature", "{why}");
    }
    assert_eq!(h.me(&t).await["credits_remaining"], 100, "nothing applied");

    // Signed but not JSON: 400, not 500.
    let t0 = now;
    let sig = sign_payload(WEBHOOK_SECRET.as_bytes(), t0, b"not json");
    let req = axum::http::Request::post("/stripe/webhook")
        .header("stripe-signature", format!("t={t0},v1={sig}"))
        .body(axum::body::Body::from("not json"))
        .unwrap();
    assert_eq!(h.call(req).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_change_the_account_once() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let t = token("sub1");
    assert_eq!(h.me(&t).await["credits_remaining"], 100);

    // Checkout completed: the plan's credits, once, however often it is delivered.
    let completed = checkout_completed("evt_checkout_1", "sub1", "growth");
    for _ in 0..3 {
        let r = deliver(&h, &completed).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let me = h.me(&t).await;
    assert_eq!(me["credits_remaining"], 5100);
    assert_eq!(me["plan_type"], "growth");
    assert_eq!(me["max_credits"], 5000);
    assert_eq!(me["subscription_status"], "active");
    let account = h.state.jobs.ledger().account("sub1").await.unwrap();
    assert_eq!(account.stripe_customer_id.as_deref(), Some("cus_123"));
    assert_eq!(account.stripe_subscription_id.as_deref(), Some("sub_123"));
    let ledger = h.call(get("/ledger", Some(&t))).await.json();
    assert_eq!(ledger["total"], 2);
    assert_eq!(ledger["entries"][0]["change"], 5000);
    assert_eq!(ledger["entries"][0]["amount_usd"], 99.0);
    assert_eq!(ledger["entries"][0]["reason"], "purchase: growth");

    // An add-on purchase grants its credits and leaves the plan alone.
    let addon = event(
        "evt_addon_1",
        "checkout.session.completed",
        json!({
        "mode": "payment", "client_reference_id": "sub1", "customer": "cus_123", "payment_status": "paid",
        "metadata": { "user_id": "sub1", "addon": "small" } }),
    );
    deliver(&h, &addon).await;
    deliver(&h, &addon).await;
    let me = h.me(&t).await;
    assert_eq!(me["credits_remaining"], 5600);
    assert_eq!(me["plan_type"], "growth");
    // A session without `payment_status`, or not yet paid, grants nothing.
    for (id, status) in [
        ("evt_addon_nostatus", None),
        ("evt_addon_unpaid", Some("unpaid")),
    ] {
        let mut session = json!({
            "mode": "payment", "client_reference_id": "sub1", "customer": "cus_123",
            "metadata": { "user_id": "sub1", "addon": "small" } });
        if let Some(status) = status {
            session["payment_status"] = json!(status);
        }
        deliver(&h, &event(id, "checkout.session.completed", session)).await;
        assert_eq!(h.me(&t).await["credits_remaining"], 5600, "{id}");
    }

    // Plan change to pro with a new period end.
    let period_end = 1_900_000_000;
    let r = deliver(
        &h,
        &event(
            "evt_sub_upd",
            "customer.subscription.updated",
            subscription("active", "price_pro", "sub1", period_end),
        ),
    )
    .await;
    assert_eq!(r.json()["applied"], true);
    let me = h.me(&t).await;
    assert_eq!(me["plan_type"], "pro");
    assert_eq!(me["max_credits"], 20000);
    assert_eq!(me["subscription_status"], "active");
    let renewal =
        chrono::DateTime::parse_from_rfc3339(me["renewal_date"].as_str().unwrap()).unwrap();
    assert_eq!(renewal.timestamp(), period_end);
    assert_eq!(
        me["credits_remaining"], 5600,
        "a plan change grants nothing by itself"
    );

    // Payment trouble pauses; the renewal invoice grants the period's credits once.
    deliver(
        &h,
        &event(
            "evt_sub_pd",
            "customer.subscription.updated",
            subscription("past_due", "price_pro", "sub1", period_end),
        ),
    )
    .await;
    assert_eq!(h.me(&t).await["subscription_status"], "paused");
    let invoice = |id: &str, reason: &str| {
        event(
            id,
            "invoice.paid",
            json!({
                "id": "in_1", "object": "invoice", "customer": "cus_123", "subscription": "sub_123",
                "billing_reason": reason, "amount_paid": 29900,
                "parent": { "subscription_details": { "metadata": { "user_id": "sub1", "plan": "pro" } } },
                "lines": { "data": [{ "pricing": { "price_details": { "price": "price_pro" } }, "period": { "end": period_end + 2_592_000 } }] }
            }),
        )
    };
    let r = deliver(&h, &invoice("evt_inv_first", "subscription_create")).await;
    assert_eq!(
        r.json()["applied"],
        false,
        "the first invoice is the checkout's"
    );
    for _ in 0..2 {
        deliver(&h, &invoice("evt_inv_renew", "subscription_cycle")).await;
    }
    let me = h.me(&t).await;
    assert_eq!(me["credits_remaining"], 25600);
    assert_eq!(me["subscription_status"], "active");
    let renewal =
        chrono::DateTime::parse_from_rfc3339(me["renewal_date"].as_str().unwrap()).unwrap();
    assert_eq!(renewal.timestamp(), period_end + 2_592_000);

    // Cancelled subscription: inactive; credits stay.
    deliver(
        &h,
        &event(
            "evt_sub_del",
            "customer.subscription.deleted",
            subscription("canceled", "price_pro", "sub1", period_end),
        ),
    )
    .await;
    let me = h.me(&t).await;
    assert_eq!(me["subscription_status"], "inactive");
    assert_eq!(me["credits_remaining"], 25600);

    // Events we do not handle, or for unknown users, are acknowledged and change nothing.
    let r = deliver(&h, &event("evt_other", "charge.refunded", json!({}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["applied"], false);
    let r = deliver(&h, &checkout_completed("evt_ghost", "ghost", "growth")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["applied"], false);
    let ledger = h.call(get("/ledger", Some(&t))).await.json();
    assert_eq!(
        ledger["total"], 4,
        "signup, checkout, add-on, renewal: {ledger}"
    );
}
