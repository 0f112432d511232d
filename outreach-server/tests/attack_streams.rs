//! Issue 12, item 8: one user opened 10,000 event streams, each polling the database.
//! Now a user's sixth concurrent stream is refused (`429`) and a closed stream frees
//! its slot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use support::*;
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread")]
async fn a_user_gets_five_event_streams_at_most() {
    // No worker: the job stays queued, so its streams stay open.
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let t = token("streamer");
    let file = h.upload(&t, "p.csv", &prospects_csv(3)).await;
    let job = h
        .create_job(&t, json!({ "file_path": file, "email_col": "email" }))
        .await;
    let path = format!("/jobs/{job}/events");
    let open = || h.app().oneshot(get(&path, Some(&t)));

    let mut streams = Vec::new();
    for _ in 0..5 {
        let r = open().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        streams.push(r);
    }
    assert_eq!(h.state.streams.open_for("streamer"), 5);
    let refused = h.call(get(&path, Some(&t))).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    assert_eq!(refused.code(), "too_many_streams");

    // Another user is not affected.
    let other = token("neighbour");
    let f = h.upload(&other, "p.csv", &prospects_csv(2)).await;
    let other_job = h
        .create_job(&other, json!({ "file_path": f, "email_col": "email" }))
        .await;
    let r = h
        .app()
        .oneshot(get(&format!("/jobs/{other_job}/events"), Some(&other)))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A client that goes away frees its slot.
    drop(streams.pop());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while h.state.streams.open_for("streamer") > 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slot was not freed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = open().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
