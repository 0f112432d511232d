//! Issue 12, item 4: free credits were granted per unverified sign-up, and there was no
//! password reset. A sign-up now has no credits until its email is verified through the
//! mailed link (then the plan's credits, exactly once, also under double clicks); a
//! reset link works once, expires, and the request reveals nothing about which emails
//! have accounts. Mail is captured in memory (`MemoryMailer`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use outreach_core::backends::sqlite::SqliteStore;
use outreach_server::server::auth::LinkPurpose;
use outreach_server::server::mail::{Mail, MailConfig, MemoryMailer};
use outreach_server::server::web::{WebConfig, WebState};
use serde_json::{json, Value};
use support::*;

const PASSWORD: &str = "tulip orbit canvas";
const PUBLIC_URL: &str = "https://app.example.test";

async fn harness() -> (Harness, MemoryMailer) {
    let mut h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let accounts = Arc::new(
        SqliteStore::open(&h.dir.path().join("data/outreach.db"))
            .await
            .unwrap(),
    );
    let mailer = MemoryMailer::default();
    let mail = MailConfig {
        mailer: Arc::new(mailer.clone()),
        public_url: Some(PUBLIC_URL.into()),
    };
    h.state = h
        .state
        .clone()
        .with_web(WebState::new(WebConfig::default(), Some(accounts)).with_mail(mail));
    (h, mailer)
}

/// Waits for the `n`-th mail (mail is sent in the background).
async fn nth_mail(mailer: &MemoryMailer, n: usize) -> Mail {
    for _ in 0..200 {
        if let Some(m) = mailer.sent().get(n) {
            return m.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no mail #{n}: {:?}", mailer.sent());
}

fn token_of(mail: &Mail, path: &str) -> String {
    let prefix = format!("{PUBLIC_URL}{path}?token=");
    assert!(mail.link.starts_with(&prefix), "{}", mail.link);
    assert!(mail.text.contains(&mail.link), "the text carries the link");
    mail.link[prefix.len()..].to_string()
}

async fn signup(h: &Harness, email: &str) -> Value {
    let r = h
        .call(post_json(
            "/auth/signup",
            None,
            &json!({ "email": email, "password": PASSWORD }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

async fn verify(h: &Harness, token: &str) -> support::Resp {
    h.call(post_json("/auth/verify", None, &json!({ "token": token })))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn credits_wait_for_the_verified_email_and_come_once() {
    let (h, mailer) = harness().await;
    let session = signup(&h, "new@example.com").await;
    let bearer = session["access_token"].as_str().unwrap().to_string();
    assert_eq!(session["user"]["email_verified"], false);
    assert_eq!(
        h.me(&bearer).await["credits_remaining"],
        0,
        "nothing before verification"
    );

    let mail = nth_mail(&mailer, 0).await;
    assert_eq!(mail.to, "new@example.com");
    let token = token_of(&mail, "/verify");
    let r = verify(&h, &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["credits_granted"], 100);
    assert_eq!(h.me(&bearer).await["credits_remaining"], 100);
    // A second click grants nothing.
    let r = verify(&h, &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["credits_granted"], 0);
    assert_eq!(h.me(&bearer).await["credits_remaining"], 100);
    let r = h
        .call(post_json(
            "/auth/login",
            None,
            &json!({ "email": "new@example.com", "password": PASSWORD }),
        ))
        .await;
    assert_eq!(r.json()["user"]["email_verified"], true);

    // Ten clicks at once on another account's link: one grant.
    let session = signup(&h, "racer@example.com").await;
    let bearer = session["access_token"].as_str().unwrap().to_string();
    let token = token_of(&nth_mail(&mailer, 1).await, "/verify");
    let clicks = (0..10).map(|_| verify(&h, &token));
    let granted: i64 = futures::future::join_all(clicks)
        .await
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            r.json()["credits_granted"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(granted, 100);
    assert_eq!(h.me(&bearer).await["credits_remaining"], 100);
    let ledger = h.call(get("/ledger", Some(&bearer))).await.json();
    let grants = ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["change"] == 100)
        .count();
    assert_eq!(grants, 1, "{ledger}");
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_expired_and_misused_links_are_refused() {
    let (h, mailer) = harness().await;
    let session = signup(&h, "owner@example.com").await;
    let user_id = session["user"]["id"].as_str().unwrap().to_string();
    let bearer = session["access_token"].as_str().unwrap().to_string();
    let good = token_of(&nth_mail(&mailer, 0).await, "/verify");
    let now = jsonwebtoken::get_current_timestamp();
    let auth = h.state.auth.clone();
    let expired = auth
        .sign_link(
            LinkPurpose::VerifyEmail,
            &user_id,
            "owner@example.com",
            0,
            now - 1,
        )
        .unwrap();
    let other_purpose = auth
        .sign_link(
            LinkPurpose::ResetPassword,
            &user_id,
            "owner@example.com",
            0,
            now + 600,
        )
        .unwrap();
    let other_email = auth
        .sign_link(
            LinkPurpose::VerifyEmail,
            &user_id,
            "attacker@example.com",
            0,
            now + 600,
        )
        .unwrap();
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    for (what, token) in [
        ("expired", expired.as_str()),
        ("a reset link", other_purpose.as_str()),
        ("another email", other_email.as_str()),
        ("tampered", tampered.as_str()),
        ("a session token", bearer.as_str()),
        ("garbage", "not-a-token"),
    ] {
        let r = verify(&h, token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text());
        assert_eq!(r.code(), "invalid_link", "{what}");
    }
    assert_eq!(h.me(&bearer).await["credits_remaining"], 0);
    // A verification link is not a session either.
    assert_eq!(
        h.call(get("/me", Some(&good))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resending_is_limited_and_stops_once_verified() {
    let (h, mailer) = harness().await;
    let session = signup(&h, "slow@example.com").await;
    let bearer = session["access_token"].as_str().unwrap().to_string();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = h
            .call(post_json("/auth/verify/resend", Some(&bearer), &json!({})))
            .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses[..5], [StatusCode::ACCEPTED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    let last = nth_mail(&mailer, 5).await;
    let r = verify(&h, &token_of(&last, "/verify")).await;
    assert_eq!(
        r.json()["credits_granted"],
        100,
        "any of the links works: {}",
        r.text()
    );
    let r = h
        .call(post_json("/auth/verify/resend", Some(&bearer), &json!({})))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.code(), "already_verified");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_link_works_once_and_unknown_emails_look_the_same() {
    let (h, mailer) = harness().await;
    let session = signup(&h, "forgetful@example.com").await;
    let old_session = session["access_token"].as_str().unwrap().to_string();
    let user_id = session["user"]["id"].as_str().unwrap().to_string();
    nth_mail(&mailer, 0).await; // the verification mail

    let known = h
        .call(post_json(
            "/auth/reset",
            None,
            &json!({ "email": "Forgetful@example.com" }),
        ))
        .await;
    let unknown = h
        .call(post_json(
            "/auth/reset",
            None,
            &json!({ "email": "nobody@example.com" }),
        ))
        .await;
    assert_eq!(known.status, StatusCode::ACCEPTED, "{}", known.text());
    assert_eq!(
        (known.status, known.json()),
        (unknown.status, unknown.json()),
        "no enumeration"
    );
    let mail = nth_mail(&mailer, 1).await;
    assert_eq!(mail.to, "forgetful@example.com");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        mailer.sent().len(),
        2,
        "nothing mailed for the unknown email"
    );
    let token = token_of(&mail, "/reset");

    let new_password = "walnut prism harbor";
    let confirm = |token: &str, password: &str| {
        post_json(
            "/auth/reset/confirm",
            None,
            &json!({ "token": token, "new_password": password }),
        )
    };
    let r = h.call(confirm(&token, "password123")).await;
    assert_eq!(r.code(), "weak_password", "{}", r.text());
    let r = h.call(confirm(&token, new_password)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let fresh = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        h.call(get("/me", Some(&fresh))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.call(get("/me", Some(&old_session))).await.status,
        StatusCode::UNAUTHORIZED,
        "the reset ended the older sessions"
    );
    // The reset link came by mail: the mailbox is proven, so the free credits come now,
    // and the earlier verification link grants nothing more.
    assert_eq!(r.json()["user"]["email_verified"], true, "{}", r.text());
    assert_eq!(h.me(&fresh).await["credits_remaining"], 100);
    let verification = token_of(&nth_mail(&mailer, 0).await, "/verify");
    let again = verify(&h, &verification).await;
    assert_eq!(again.json()["credits_granted"], 0, "{}", again.text());
    assert_eq!(h.me(&fresh).await["credits_remaining"], 100);
    // Used once: a second use (say, the attacker who also read the mail) fails.
    let r = h.call(confirm(&token, "another fine password")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.code(), "invalid_link");
    let r = h
        .call(post_json(
            "/auth/login",
            None,
            &json!({ "email": "forgetful@example.com", "password": new_password }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // An expired link, even for the current version, is refused.
    let version = 1;
    let expired = h
        .state
        .auth
        .sign_link(
            LinkPurpose::ResetPassword,
            &user_id,
            "forgetful@example.com",
            version,
            jsonwebtoken::get_current_timestamp() - 1,
        )
        .unwrap();
    let r = h.call(confirm(&expired, "yet another password")).await;
    assert_eq!(r.code(), "invalid_link", "{}", r.text());
    // Two concurrent uses of one fresh link: exactly one succeeds.
    h.call(post_json(
        "/auth/reset",
        None,
        &json!({ "email": "forgetful@example.com" }),
    ))
    .await;
    let token = token_of(&nth_mail(&mailer, 2).await, "/reset");
    let both = futures::future::join_all([
        h.call(confirm(&token, "first racer pass")),
        h.call(confirm(&token, "second racer pass")),
    ])
    .await;
    let ok = both.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        both.iter().map(|r| r.text()).collect::<Vec<_>>()
    );
}
