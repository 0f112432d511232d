//! Issue 12, item 12: API responses (data, errors, even 404s) carry
//! `X-Content-Type-Options: nosniff` and `Cache-Control: no-store`, so a browser never
//! sniffs a JSON or CSV body into something executable and no shared or disk cache
//! keeps a user's data; the web app's assets keep their own caching.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::http::StatusCode;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn api_responses_are_nosniff_and_never_cached() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let t = token("alice");
    let file = h.upload(&t, "p.csv", &prospects_csv(2)).await;
    for (what, req) in [
        ("data", get("/me", Some(&t))),
        ("an error", get("/me", None)),
        ("a missing route", get("/no/such/route", Some(&t))),
        (
            "headers of a file",
            post_json(
                "/parse_headers",
                Some(&t),
                &serde_json::json!({ "file_path": file }),
            ),
        ),
    ] {
        let r = h.call(req).await;
        assert_eq!(
            r.headers
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{what}: {:?}",
            r.headers
        );
        assert_eq!(
            r.headers.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what}: {:?}",
            r.headers
        );
    }
    // An asset sets its own (long) caching, which is left alone.
    let version = outreach_server::server::web::assets::version();
    let r = h
        .call(get(&format!("/assets/{version}/app.js"), None))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let cache = r.headers.get("cache-control").unwrap().to_str().unwrap();
    assert_ne!(cache, "no-store");
    assert_eq!(r.headers.get("x-content-type-options").unwrap(), "nosniff");
}
