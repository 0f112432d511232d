//! Issue 12, item 4, performed over the API: 28 accounts from one address before any
//! limit; a correct password refused because someone else failed ten times; a
//! per-address limit that a proxy either defeats (every client looks like the proxy)
//! or that a forged `X-Forwarded-For` escapes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode};
use outreach_core::backends::sqlite::SqliteStore;
use outreach_server::server::web::client_addr::TrustedProxies;
use outreach_server::server::web::{WebConfig, WebState};
use serde_json::json;
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

/// A request from `peer`, optionally with an `X-Forwarded-For`.
fn from(
    peer: &str,
    forwarded: Option<&str>,
    path: &str,
    email: &str,
    password: &str,
) -> axum::http::Request<axum::body::Body> {
    let mut req = post_json(path, None, &json!({ "email": email, "password": password }));
    let addr: SocketAddr = if peer.contains(':') {
        format!("[{peer}]:40000")
    } else {
        format!("{peer}:40000")
    }
    .parse()
    .unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    if let Some(xff) = forwarded {
        req.headers_mut()
            .insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
    }
    req
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_eight_sign_ups_from_one_ipv6_64_are_limited() {
    let h = harness(WebConfig::default()).await;
    let mut statuses = Vec::new();
    // Every sign-up from another address of the same /64 (the review's 28 accounts).
    for i in 0..28 {
        let peer = format!("2001:db8:7:7:{:x}::1", i + 1);
        let r = h
            .call(from(
                &peer,
                None,
                "/auth/signup",
                &format!("farm{i}@example.com"),
                PASSWORD,
            ))
            .await;
        statuses.push(r.status);
    }
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((created, limited), (10, 18), "{statuses:?}");
    // Another /64 signs up; the limited /64 still signs in (counted apart).
    let r = h
        .call(from(
            "2001:db8:7:8::1",
            None,
            "/auth/signup",
            "next@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = h
        .call(from(
            "2001:db8:7:7::99",
            None,
            "/auth/login",
            "farm0@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_signs_in_after_ten_failures_and_guessing_slows_exponentially() {
    let h = harness(WebConfig::default()).await;
    for email in ["victim@example.com", "target@example.com"] {
        let r = h
            .call(from("192.0.2.1", None, "/auth/signup", email, PASSWORD))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    // Ten wrong passwords from the attacker: none waits.
    let started = Instant::now();
    for i in 0..10 {
        let r = h
            .call(from(
                "203.0.113.66",
                None,
                "/auth/login",
                "victim@example.com",
                &format!("guess {i}"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    }
    let ten_failures = started.elapsed();
    // The owner, from home: the right password gets in (the old limiter said 429 for
    // 15 minutes here), after at most the first delay (1 s) plus the hashing.
    let started = Instant::now();
    let r = h
        .call(from(
            "198.51.100.7",
            None,
            "/auth/login",
            "victim@example.com",
            PASSWORD,
        ))
        .await;
    let owner_took = started.elapsed();
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        owner_took <= Duration::from_secs(1) + ten_failures,
        "the owner waited {owner_took:?} (ten failures took {ten_failures:?})"
    );

    // A guesser against another account: the 11th guess waits ~1 s, the 12th ~2 s, the
    // 13th ~4 s, beyond the 3 s hold: refused with Retry-After.
    // Each turn is set when the attempt before it is counted: the 11th may not be
    // checked before 1 s after the 10th started, the 12th not before 1 + 2 s.
    let mut tenth_started = Instant::now();
    for i in 0..10 {
        tenth_started = Instant::now();
        let r = h
            .call(from(
                "203.0.113.67",
                None,
                "/auth/login",
                "target@example.com",
                &format!("guess {i}"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    }
    let mut waits = Vec::new();
    for i in 10..12 {
        let r = h
            .call(from(
                "203.0.113.67",
                None,
                "/auth/login",
                "target@example.com",
                &format!("guess {i}"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
        waits.push(tenth_started.elapsed());
    }
    assert!(waits[0] >= Duration::from_secs(1), "{waits:?}");
    assert!(waits[1] >= Duration::from_secs(3), "doubled: {waits:?}");
    let r = h
        .call(from(
            "203.0.113.67",
            None,
            "/auth/login",
            "target@example.com",
            "guess 12",
        ))
        .await;
    // Its turn is 1 + 2 + 4 s after the 10th started: refused now (beyond the 3 s
    // hold, the usual case), or held until then when the machine was slow enough.
    match r.status {
        StatusCode::TOO_MANY_REQUESTS => {
            let retry: u64 = r.json()["error"]["retry_after"].as_u64().unwrap();
            let earliest = Duration::from_secs(7).saturating_sub(tenth_started.elapsed());
            assert!(retry >= earliest.as_secs(), "doubled again: {retry}");
        }
        StatusCode::UNAUTHORIZED => {
            assert!(tenth_started.elapsed() >= Duration::from_secs(7));
        }
        other => panic!("{other}: {}", r.text()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guesser_kept_at_bay_does_not_keep_the_owner_out() {
    let h = harness(WebConfig::default()).await;
    let r = h
        .call(from(
            "192.0.2.1",
            None,
            "/auth/signup",
            "owner@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // The guesser keeps going until refused (10 free, then 1 s and 2 s held, then 429).
    let mut refused = false;
    for i in 0..16 {
        let r = h
            .call(from(
                "203.0.113.66",
                None,
                "/auth/login",
                "owner@example.com",
                &format!("guess {i}"),
            ))
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused = true;
            break;
        }
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    }
    assert!(refused, "the guesser was refused");
    // The owner, from another address, gets in at once: the guesser's failures slow the
    // guesser, not the account (the old per-email key answered 429 here for minutes).
    let started = Instant::now();
    let r = h
        .call(from(
            "198.51.100.7",
            None,
            "/auth/login",
            "owner@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "not held: {:?}",
        started.elapsed()
    );
    // …and the guesser is still refused after the owner's success.
    let r = h
        .call(from(
            "203.0.113.66",
            None,
            "/auth/login",
            "owner@example.com",
            "one more guess",
        ))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn x_forwarded_for_counts_only_from_trusted_proxies() {
    let config = WebConfig {
        trusted_proxies: TrustedProxies::parse("10.0.0.0/8").unwrap(),
        ..WebConfig::default()
    };
    let h = harness(config).await;
    // Through the trusted proxy: each client has its own allowance of 10.
    for i in 0..10 {
        let r = h
            .call(from(
                "10.0.0.2",
                Some("203.0.113.5"),
                "/auth/signup",
                &format!("a{i}@example.com"),
                PASSWORD,
            ))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let r = h
        .call(from(
            "10.0.0.2",
            Some("203.0.113.5"),
            "/auth/signup",
            "a10@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    // A forged left part does not help: the right-most untrusted hop counts.
    let r = h
        .call(from(
            "10.0.0.2",
            Some("1.2.3.4, 203.0.113.5"),
            "/auth/signup",
            "a11@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    // Another client behind the same proxy is not affected.
    let r = h
        .call(from(
            "10.0.0.2",
            Some("203.0.113.6"),
            "/auth/signup",
            "b0@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // A peer that is not a trusted proxy is the client, whatever header it sends.
    let mut statuses = Vec::new();
    for i in 0..11 {
        let forged = format!("198.18.0.{i}");
        let r = h
            .call(from(
                "192.0.2.99",
                Some(&forged),
                "/auth/signup",
                &format!("c{i}@example.com"),
                PASSWORD,
            ))
            .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses[..10], [StatusCode::CREATED; 10]);
    assert_eq!(
        statuses[10],
        StatusCode::TOO_MANY_REQUESTS,
        "rotating the header does not escape"
    );
}
