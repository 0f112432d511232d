//! Issue 12, item 5: with only `SUPABASE_JWT_SECRET` set, `/auth/signup` created
//! accounts and signed their tokens with the Supabase secret, past Supabase's own
//! sign-up controls. Local accounts are now off whenever tokens are Supabase's, unless
//! `OUTREACH_LOCAL_ACCOUNTS=1` asks for them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use outreach_core::backends::SqliteStore;
use outreach_server::server::auth::SecretSource;
use outreach_server::server::web::{WebConfig, WebState};
use serde_json::json;
use support::*;

async fn harness(source: SecretSource, web: WebConfig) -> Harness {
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
    let mut state = h.state.clone();
    let mut auth = (*state.auth).clone();
    auth.source = source;
    state.auth = Arc::new(auth);
    h.state = state.with_web(WebState::new(web, Some(accounts)));
    h
}

async fn try_signup(h: &Harness) -> (StatusCode, String) {
    h.app()
        .oneshot_json(post_json(
            "/auth/signup",
            None,
            &json!({ "email": "new@example.com", "password": "a fine password" }),
        ))
        .await
}

trait Oneshot {
    async fn oneshot_json(self, req: axum::http::Request<axum::body::Body>)
        -> (StatusCode, String);
}

impl Oneshot for axum::Router {
    async fn oneshot_json(
        self,
        req: axum::http::Request<axum::body::Body>,
    ) -> (StatusCode, String) {
        use tower::ServiceExt;
        let resp = self.oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn supabase_tokens_turn_local_accounts_off_unless_asked_for() {
    // Only SUPABASE_JWT_SECRET: no local sign-up, no local sign-in.
    let h = harness(
        SecretSource::Supabase,
        WebConfig::from_lookup(|_| None).unwrap(),
    )
    .await;
    let (status, body) = try_signup(&h).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("local_auth_disabled"), "{body}");
    let (status, _) = h
        .app()
        .oneshot_json(post_json(
            "/auth/login",
            None,
            &json!({ "email": "new@example.com", "password": "a fine password" }),
        ))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let config = h.call(get("/ui/config.json", None)).await.json();
    assert_eq!(config["auth"]["signup"], false, "{config}");

    // Explicitly enabled: they work again.
    let web =
        WebConfig::from_lookup(|name| (name == "OUTREACH_LOCAL_ACCOUNTS").then(|| "1".to_string()))
            .unwrap();
    let h = harness(SecretSource::Supabase, web).await;
    let (status, body) = try_signup(&h).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A server with its own secret keeps them by default.
    let h = harness(SecretSource::LocalFile, WebConfig::default()).await;
    let (status, body) = try_signup(&h).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
