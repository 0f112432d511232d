//! Issue 12, item 4: tokens could not be revoked. A password account's tokens carry its
//! token version; signing out and changing the password move it on, and every older
//! token is refused on the next request. Session lifetime is configurable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine;
use outreach_core::backends::sqlite::SqliteStore;
use outreach_server::server::web::{WebConfig, WebState};
use serde_json::{json, Value};
use support::*;

const PASSWORD: &str = "tulip orbit canvas";

async fn harness(config: WebConfig) -> Harness {
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
    h.state = h
        .state
        .clone()
        .with_web(WebState::new(config, Some(accounts)));
    h
}

fn credentials(email: &str, password: &str) -> Value {
    json!({ "email": email, "password": password })
}

async fn sign_in(h: &Harness, email: &str, password: &str) -> String {
    let r = h
        .call(post_json(
            "/auth/login",
            None,
            &credentials(email, password),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_string()
}

async fn me_status(h: &Harness, token: &str) -> StatusCode {
    h.call(get("/me", Some(token))).await.status
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_revokes_every_earlier_token() {
    let h = harness(WebConfig::default()).await;
    let email = "leaver@example.com";
    let r = h
        .call(post_json(
            "/auth/signup",
            None,
            &credentials(email, PASSWORD),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let first = r.json()["access_token"].as_str().unwrap().to_string();
    let user_id = r.json()["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(payload(&first)["ver"], 0);
    let second = sign_in(&h, email, PASSWORD).await;
    // A token minted without `ver` (e.g. by `outreach token`) counts as version 0.
    let unversioned = token_with(
        json!({ "sub": user_id, "email": email, "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 3600 }),
        SECRET,
    );
    for t in [&first, &second, &unversioned] {
        assert_eq!(me_status(&h, t).await, StatusCode::OK);
    }

    let r = h
        .call(post_json("/auth/logout", Some(&second), &json!({})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    for t in [&first, &second, &unversioned] {
        let r = h.call(get("/me", Some(t))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    }
    let r = h
        .call(post_json("/auth/logout", Some(&second), &json!({})))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a revoked token cannot sign out again"
    );

    // Signing in again gives a token of the new version; other users are unaffected.
    let third = sign_in(&h, email, PASSWORD).await;
    assert_eq!(payload(&third)["ver"], 1);
    assert_eq!(me_status(&h, &third).await, StatusCode::OK);
    assert_eq!(me_status(&h, &token("someone-else")).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_needs_the_current_one_and_ends_other_sessions() {
    let h = harness(WebConfig::default()).await;
    let email = "changer@example.com";
    let r = h
        .call(post_json(
            "/auth/signup",
            None,
            &credentials(email, PASSWORD),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let other_device = r.json()["access_token"].as_str().unwrap().to_string();
    let this_device = sign_in(&h, email, PASSWORD).await;
    let new_password = "walnut prism harbor";

    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    let r = h
        .call(post_json(
            "/auth/password",
            Some(&this_device),
            &change("not it at all", new_password),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.code(), "wrong_password");
    let r = h
        .call(post_json(
            "/auth/password",
            Some(&this_device),
            &change(PASSWORD, "password123"),
        ))
        .await;
    assert_eq!(r.code(), "weak_password", "{}", r.text());
    assert_eq!(
        me_status(&h, &other_device).await,
        StatusCode::OK,
        "failed changes revoke nothing"
    );

    let r = h
        .call(post_json(
            "/auth/password",
            Some(&this_device),
            &change(PASSWORD, new_password),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let fresh = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        me_status(&h, &fresh).await,
        StatusCode::OK,
        "the new session works"
    );
    for old in [&other_device, &this_device] {
        assert_eq!(me_status(&h, old).await, StatusCode::UNAUTHORIZED);
    }
    let r = h
        .call(post_json(
            "/auth/login",
            None,
            &credentials(email, PASSWORD),
        ))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the old password is gone"
    );
    sign_in(&h, email, new_password).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn session_lifetime_is_configurable() {
    let config = WebConfig::from_lookup(|name| {
        (name == "OUTREACH_TOKEN_TTL_SECS").then(|| "90".to_string())
    })
    .unwrap();
    assert_eq!(config.session_ttl, Duration::from_secs(90));
    assert_eq!(
        WebConfig::default().session_ttl,
        Duration::from_secs(24 * 3600),
        "24 hours by default"
    );
    assert!(
        WebConfig::from_lookup(|n| (n == "OUTREACH_TOKEN_TTL_SECS").then(|| "0".into())).is_err()
    );
    let h = harness(config).await;
    let r = h
        .call(post_json(
            "/auth/signup",
            None,
            &credentials("brief@example.com", PASSWORD),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["expires_in"], 90);
    let claims = payload(r.json()["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        90
    );
}
