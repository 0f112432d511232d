//! Issue 12, item 4 (the parts done): eight spaces were accepted as a password, and a
//! token's `nbf` was not checked. A new password now needs 10 characters, not all
//! whitespace, not one character repeated, not a commonly used one; a token that is
//! not valid yet is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use outreach_core::backends::sqlite::SqliteStore;
use outreach_server::server::web::local_auth::COMMON_PASSWORDS;
use outreach_server::server::web::{WebConfig, WebState};
use serde_json::json;
use support::*;

async fn harness() -> Harness {
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
    let web = WebState {
        config: WebConfig::default(),
        accounts: Some(accounts),
        ..WebState::default()
    };
    h.state = h.state.clone().with_web(web);
    h
}

#[tokio::test(flavor = "multi_thread")]
async fn weak_passwords_are_refused_at_sign_up() {
    let h = harness().await;
    let mut weak: Vec<String> = vec![
        " ".repeat(8),
        " ".repeat(12),
        "\t\t\t\t\t\t\t\t\t\t".into(),
        "aaaaaaaaaaaa".into(),
        "nine char".into(),
        "PassWord123".into(),
        " 1234567890 ".into(),
    ];
    weak.extend(COMMON_PASSWORDS.iter().map(|p| p.to_string()));
    for (i, password) in weak.iter().enumerate() {
        let body = json!({ "email": format!("weak{i}@example.com"), "password": password });
        let r = h.call(post_json("/auth/signup", None, &body)).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{password:?}: {}",
            r.text()
        );
        assert_eq!(r.code(), "weak_password", "{password:?}");
    }
    // Nothing was created: the same emails sign up with a good password.
    let r = h
        .call(post_json(
            "/auth/signup",
            None,
            &json!({ "email": "weak0@example.com", "password": "tulip orbit canvas" }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_not_valid_yet_is_refused() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let now = jsonwebtoken::get_current_timestamp();
    let make = |nbf: u64| {
        let claims = json!({
            "sub": "early", "email": "early@example.com", "aud": AUDIENCE, "iss": ISSUER,
            "exp": now + 3600, "iat": now, "nbf": nbf,
        });
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let r = h.call(get("/me", Some(&make(now + 3600)))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    let r = h.call(get("/me", Some(&make(now - 10)))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}
