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

/// Issue 12, item 8 (second half): streams of one job share one poller, so store reads
/// do not grow with the number of streams, and the poller stops with the last stream.
#[tokio::test(flavor = "multi_thread")]
async fn streams_of_one_job_share_one_poller() {
    // events_poll is 50 ms in the harness; no worker, so the job stays queued.
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let t = token("watcher");
    let file = h.upload(&t, "p.csv", &prospects_csv(3)).await;
    let job = h
        .create_job(&t, json!({ "file_path": file, "email_col": "email" }))
        .await;
    let path = format!("/jobs/{job}/events");
    let watch = h.state.job_watch.clone();

    // Reads over one second with `n` streams open on the job.
    let reads_with = |n: usize| {
        let (h, t, path, watch) = (&h, &t, &path, &watch);
        async move {
            let mut streams = Vec::new();
            for _ in 0..n {
                let r = h.app().oneshot(get(path, Some(t))).await.unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                streams.push(r);
            }
            assert_eq!(watch.pollers(), 1, "one poller for the job");
            let before = watch.reads();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let reads = watch.reads() - before;
            drop(streams);
            reads
        }
    };
    let one = reads_with(1).await;
    let five = reads_with(5).await;
    assert!(one >= 5, "the poller reads the job ({one} reads in 1 s)");
    assert!(
        five <= one * 2,
        "5 streams made {five} reads, 1 stream {one}: reads must not grow with streams"
    );

    // The last stream gone, the poller stops: no poller, no more reads.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while watch.pollers() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the poller kept running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let idle = watch.reads();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(watch.reads(), idle, "reads after the last stream left");
}

/// Streams that share a poller each still see the job to its end.
#[tokio::test(flavor = "multi_thread")]
async fn every_shared_stream_sees_the_job_finish() {
    let h = Harness::start().await;
    let t = token("finisher");
    let file = h.upload(&t, "p.csv", &prospects_csv(4)).await;
    let job = h
        .create_job(&t, json!({ "file_path": file, "email_col": "email" }))
        .await;
    let path = format!("/jobs/{job}/events");
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let r = h.app().oneshot(get(&path, Some(&t))).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        bodies.push(tokio::spawn(async move {
            let body = tokio::time::timeout(
                Duration::from_secs(60),
                axum::body::to_bytes(r.into_body(), usize::MAX),
            )
            .await
            .expect("the stream ended")
            .unwrap();
            String::from_utf8(body.to_vec()).unwrap()
        }));
    }
    for body in bodies {
        let text = body.await.unwrap();
        assert!(text.contains("event: done"), "{text}");
        assert!(text.contains("\"status\":\"succeeded\""), "{text}");
    }
    assert_eq!(h.state.job_watch.pollers(), 0);
}
