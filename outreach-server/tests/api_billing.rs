//! Stripe: the Checkout request as Stripe expects it (form fields, bearer key), and
//! signed webhooks: bad signatures refused, each event's effect on the account, and
//! replays granting nothing twice; purchases grant what was paid (not what metadata
//! claims), refunds and disputes take it back without the balance going below zero.
//!
//! Stripe objects are built from its own fixtures (`tests/fixtures/stripe/README.md`
//! names the sources): only ids, amounts and metadata are changed.
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

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/stripe/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A Checkout Session line item (stripe-mock's `item`) for `price` at `unit` cents.
fn line_item(price: &str, unit: i64, quantity: i64) -> Value {
    let mut item = fixture("line_item");
    item["price"]["id"] = json!(price);
    item["price"]["unit_amount"] = json!(unit);
    item["price"]["unit_amount_decimal"] = json!(unit.to_string());
    item["quantity"] = json!(quantity);
    item["amount_subtotal"] = json!(unit * quantity);
    item["amount_total"] = json!(unit * quantity);
    item
}

/// A Checkout Session (stripe-mock's `checkout.session`) as a webhook carries it.
fn session(id: &str, user: &str, mode: &str, paid: &str, total: i64, metadata: Value) -> Value {
    let mut s = fixture("checkout_session");
    s["id"] = json!(id);
    s["client_reference_id"] = json!(user);
    s["customer"] = json!("cus_123");
    s["mode"] = json!(mode);
    s["payment_status"] = json!(paid);
    s["amount_total"] = json!(total);
    s["amount_subtotal"] = json!(total);
    s["currency"] = json!("usd");
    s["metadata"] = metadata;
    if mode == "subscription" {
        s["subscription"] = json!("sub_123");
    }
    s
}

/// Serves `GET /v1/checkout/sessions/{id}/line_items` (a list, as Stripe answers it)
/// for each session.
async fn serve_line_items(stripe: &MockServer, sessions: &[(&str, Value)]) {
    for (id, item) in sessions {
        Mock::given(method("GET"))
            .and(path(format!("/v1/checkout/sessions/{id}/line_items")))
            .and(header(
                "authorization",
                format!("Bearer {STRIPE_KEY}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "list", "data": [item], "has_more": false,
                "url": format!("/v1/checkout/sessions/{id}/line_items")
            })))
            .mount(stripe)
            .await;
    }
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
    // A refund of the add-on's charge finds the user and the credits through these.
    assert_eq!(addon["payment_intent_data[metadata][user_id]"], "buyer");
    assert_eq!(addon["payment_intent_data[metadata][credits]"], "500");

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
        session(
            "cs_test_1",
            user,
            "subscription",
            "paid",
            9900,
            json!({ "user_id": user, "plan": plan, "credits": "5000" }),
        ),
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
    let stripe = MockServer::start().await;
    serve_line_items(
        &stripe,
        &[
            ("cs_test_1", line_item("price_growth", 9900, 1)),
            ("cs_addon_1", line_item("price_small", 1900, 1)),
        ],
    )
    .await;
    let h = Harness::with(Options {
        worker: false,
        stripe_api_base: Some(stripe.uri()),
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
        session(
            "cs_addon_1",
            "sub1",
            "payment",
            "paid",
            1900,
            json!({ "user_id": "sub1", "addon": "small" }),
        ),
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
        let mut s = session(
            "cs_addon_1",
            "sub1",
            "payment",
            "unpaid",
            1900,
            json!({ "user_id": "sub1", "addon": "small" }),
        );
        s["id"] = json!(format!("cs_{id}"));
        match status {
            Some(status) => s["payment_status"] = json!(status),
            None => {
                s.as_object_mut().unwrap().remove("payment_status");
            }
        }
        deliver(&h, &event(id, "checkout.session.completed", s)).await;
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
    let r = deliver(&h, &event("evt_other", "customer.created", json!({}))).await;
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

/// A charge (stripe-mock's `charge`) of `amount` cents, refunded `refunded` so far.
fn charge(id: &str, amount: i64, refunded: i64, customer: Option<&str>, metadata: Value) -> Value {
    let mut c = fixture("charge");
    c["id"] = json!(id);
    c["amount"] = json!(amount);
    c["amount_captured"] = json!(amount);
    c["amount_refunded"] = json!(refunded);
    c["refunded"] = json!(refunded == amount);
    c["customer"] = json!(customer);
    c["metadata"] = metadata;
    c
}

/// A `charge.refunded` delivery: the envelope of a real one, its charge, and the
/// amount refunded before this refund.
fn refunded_event(id: &str, charge: Value, before: i64) -> Value {
    let mut e = fixture("event_charge_refunded");
    e["id"] = json!(id);
    e["data"]["object"] = charge;
    e["data"]["previous_attributes"]["amount_refunded"] = json!(before);
    e
}

async fn account(h: &Harness, t: &str) -> (i64, i64) {
    let me = h.me(t).await;
    (
        me["credits_remaining"].as_i64().unwrap(),
        me["credit_debt"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn purchases_grant_what_was_paid_and_refunds_take_it_back_below_nothing() {
    let stripe = MockServer::start().await;
    serve_line_items(
        &stripe,
        &[
            // Metadata claims `pro`; the price paid is starter's.
            ("cs_forged", line_item("price_starter", 2900, 1)),
            // The pro price id, charged at a dollar.
            ("cs_cheap", line_item("price_pro", 100, 1)),
            ("cs_unknown", line_item("price_someone_elses", 29900, 1)),
            ("cs_async", line_item("price_small", 1900, 1)),
            ("cs_large", line_item("price_large", 7900, 1)),
        ],
    )
    .await;
    // The disputed subscription charge names a customer, no metadata.
    Mock::given(method("GET"))
        .and(path("/v1/charges/ch_sub"))
        .respond_with(ResponseTemplate::new(200).set_body_json(charge(
            "ch_sub",
            2900,
            0,
            Some("cus_123"),
            json!({}),
        )))
        .mount(&stripe)
        .await;
    let h = Harness::with(Options {
        worker: false,
        stripe_api_base: Some(stripe.uri()),
        ..Options::default()
    })
    .await;
    let t = token("buyer2");
    assert_eq!(account(&h, &t).await, (100, 0));
    let paid = |id: &str, mode: &str, total: i64, metadata: Value| {
        session(id, "buyer2", mode, "paid", total, metadata)
    };

    // Forged metadata: the session says pro, Stripe charged starter. Starter is granted.
    let forged = paid(
        "cs_forged",
        "subscription",
        2900,
        json!({ "user_id": "buyer2", "plan": "pro", "credits": "20000" }),
    );
    let r = deliver(
        &h,
        &event("evt_forged", "checkout.session.completed", forged),
    )
    .await;
    assert_eq!(r.json()["applied"], true, "{}", r.text());
    assert_eq!(account(&h, &t).await, (1100, 0));
    assert_eq!(h.me(&t).await["plan_type"], "starter");

    // The right price id at the wrong amount, or a price not in the catalog: nothing.
    for (id, total) in [("cs_cheap", 100), ("cs_unknown", 29900)] {
        let s = paid(id, "subscription", total, json!({ "plan": "pro" }));
        let r = deliver(
            &h,
            &event(&format!("evt_{id}"), "checkout.session.completed", s),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["applied"], false, "{id}: {}", r.text());
    }
    assert_eq!(account(&h, &t).await, (1100, 0));

    // A delayed payment: completed unpaid grants nothing; the success event grants once.
    let mut unpaid = paid("cs_async", "payment", 1900, json!({ "addon": "small" }));
    unpaid["payment_status"] = json!("unpaid");
    deliver(
        &h,
        &event("evt_async_1", "checkout.session.completed", unpaid),
    )
    .await;
    assert_eq!(account(&h, &t).await, (1100, 0));
    let succeeded = paid("cs_async", "payment", 1900, json!({ "addon": "small" }));
    for id in ["evt_async_2", "evt_async_2", "evt_async_3"] {
        let e = event(
            id,
            "checkout.session.async_payment_succeeded",
            succeeded.clone(),
        );
        assert_eq!(deliver(&h, &e).await.status, StatusCode::OK);
    }
    assert_eq!(
        account(&h, &t).await,
        (1600, 0),
        "one grant per session, whatever the events"
    );

    // 1,500 credits are spent on a job.
    h.state
        .jobs
        .ledger()
        .apply(outreach_core::ports::NewEntry {
            user_id: "buyer2".into(),
            change: -1500,
            amount_usd: None,
            reason: "job deduction: j1".into(),
            idempotency_key: "reserve:j1#1".into(),
        })
        .await
        .unwrap();
    assert_eq!(account(&h, &t).await, (100, 0));

    // The add-on is refunded in two halves: 250 credits each, the balance stops at zero
    // and the rest is owed. A redelivery takes nothing more.
    let meta = json!({ "user_id": "buyer2", "credits": "500" });
    let half = refunded_event(
        "evt_ref_1",
        charge("ch_small", 1900, 950, None, meta.clone()),
        0,
    );
    for _ in 0..2 {
        assert_eq!(deliver(&h, &half).await.json()["applied"], true);
    }
    assert_eq!(account(&h, &t).await, (0, 150));
    let rest = refunded_event("evt_ref_2", charge("ch_small", 1900, 1900, None, meta), 950);
    deliver(&h, &rest).await;
    assert_eq!(account(&h, &t).await, (0, 400));

    // A dispute of the subscription charge: the charge is fetched, its customer is the
    // account, whose plan (starter) says 1,000 credits.
    let mut dispute = fixture("dispute");
    dispute["id"] = json!("dp_sub");
    dispute["charge"] = json!("ch_sub");
    dispute["amount"] = json!(2900);
    for _ in 0..2 {
        let r = deliver(
            &h,
            &event("evt_dp", "charge.dispute.created", dispute.clone()),
        )
        .await;
        assert_eq!(r.json()["applied"], true, "{}", r.text());
    }
    assert_eq!(account(&h, &t).await, (0, 1400));

    // The next purchases pay the debt first.
    let large = paid("cs_large", "payment", 7900, json!({ "addon": "large" }));
    deliver(&h, &event("evt_large", "checkout.session.completed", large)).await;
    assert_eq!(account(&h, &t).await, (1100, 0));

    // Through it all the balance is the ledger's sum, and never went negative.
    let ledger = h.call(get("/ledger?limit=100", Some(&t))).await.json();
    let entries = ledger["entries"].as_array().unwrap();
    let sum: i64 = entries.iter().map(|e| e["change"].as_i64().unwrap()).sum();
    assert_eq!(sum, 1100, "{ledger}");
    assert!(entries
        .iter()
        .all(|e| e["balance_after"].as_i64().unwrap() >= 0));
    assert!(
        entries
            .iter()
            .any(|e| e["reason"].as_str().unwrap().contains("credits owed")),
        "{ledger}"
    );
}

/// A `charge.dispute.closed` delivery (a real envelope, see the fixtures' README) for
/// `dispute` on an embedded `charge`, closed with `status`.
fn dispute_closed_event(id: &str, dispute: &str, charge: Value, status: &str) -> Value {
    let mut e = fixture("event_charge_dispute_closed");
    e["id"] = json!(id);
    let d = &mut e["data"]["object"];
    d["id"] = json!(dispute);
    d["amount"] = charge["amount"].clone();
    d["charge"] = charge;
    d["status"] = json!(status);
    e
}

/// A won dispute gives back exactly what its opening took, once: the part the balance
/// covered returns and the part left as debt is cancelled. A lost one keeps them taken;
/// a won dispute whose credits were never taken gives nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_won_dispute_gives_the_credits_back_once_and_a_lost_one_keeps_them() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let t = token("disputer");
    assert_eq!(account(&h, &t).await, (100, 0));
    let addon = |id: &str| {
        charge(
            id,
            1900,
            0,
            None,
            json!({ "user_id": "disputer", "credits": "500" }),
        )
    };
    let opened = |dispute: &str, charge: Value| {
        let mut d = fixture("dispute");
        d["id"] = json!(dispute);
        d["amount"] = charge["amount"].clone();
        d["charge"] = charge;
        event(&format!("evt_open_{dispute}"), "charge.dispute.created", d)
    };

    // Opened: 500 credits taken, 100 from the balance and 400 owed.
    deliver(&h, &opened("dp_won", addon("ch_a"))).await;
    assert_eq!(account(&h, &t).await, (0, 400));
    // Won: given back once, whatever the redeliveries (same event, another event id).
    for id in ["evt_won", "evt_won", "evt_won_again"] {
        let r = deliver(
            &h,
            &dispute_closed_event(id, "dp_won", addon("ch_a"), "won"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["applied"], true, "{}", r.text());
    }
    assert_eq!(
        account(&h, &t).await,
        (100, 0),
        "balance and debt as before the dispute"
    );

    // Lost: the credits stay taken.
    deliver(&h, &opened("dp_lost", addon("ch_b"))).await;
    assert_eq!(account(&h, &t).await, (0, 400));
    let r = deliver(
        &h,
        &dispute_closed_event("evt_lost", "dp_lost", addon("ch_b"), "lost"),
    )
    .await;
    assert_eq!(r.json()["applied"], false, "{}", r.text());
    assert_eq!(account(&h, &t).await, (0, 400));

    // Won, but nothing was ever taken for it: nothing to give back.
    let r = deliver(
        &h,
        &dispute_closed_event("evt_never", "dp_never", addon("ch_c"), "won"),
    )
    .await;
    assert_eq!(r.json()["applied"], false, "{}", r.text());
    assert_eq!(account(&h, &t).await, (0, 400));

    let ledger = h.call(get("/ledger?limit=100", Some(&t))).await.json();
    let entries = ledger["entries"].as_array().unwrap();
    let sum: i64 = entries.iter().map(|e| e["change"].as_i64().unwrap()).sum();
    assert_eq!(sum, 0, "{ledger}");
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["reason"] == "dispute dp_won won")
            .count(),
        1,
        "{ledger}"
    );
}
