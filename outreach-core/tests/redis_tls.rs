#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `rediss://` (Redis over TLS, as hosted Redis services require) against a real
//! redis-server that speaks only TLS: the queue (commands, the blocking reads, leases)
//! and the shared rate limiter work over it, the server's certificate is verified (a
//! name the certificate does not carry is refused), and a plaintext client is refused.
//!
//! Needs `OUTREACH_TEST_REDIS_TLS_URL` and `OUTREACH_TEST_REDIS_TLS_CA` (the throwaway
//! CA that signed the server's certificate); `scripts/test-redis-s3.sh` starts the
//! server with `scripts/services/redis-tls.sh` and sets both. Without them the test
//! fails, unless `OUTREACH_SKIP_SERVICES=1` (then it says so and passes).
//!
//! One test function on purpose: it points `SSL_CERT_FILE` (which the rustls client
//! reads for its trusted roots, as an operator with a private CA would) at the test CA
//! before any connection, and no other test in this binary may run beside that.

use std::sync::Arc;
use std::time::Duration;

use outreach_core::backends::redis_queue::RedisQueue;
use outreach_core::backends::redis_rate_limit::{RedisRateLimiter, KEY_PREFIX};
use outreach_core::ports::suite::queue;
use outreach_core::ports::{JobQueue, Task};
use outreach_core::providers::RateLimiter;
use redis::AsyncCommands;

const VISIBILITY: Duration = Duration::from_millis(300);

fn tls_server() -> Option<(String, String)> {
    match (
        std::env::var("OUTREACH_TEST_REDIS_TLS_URL"),
        std::env::var("OUTREACH_TEST_REDIS_TLS_CA"),
    ) {
        (Ok(url), Ok(ca)) if !url.trim().is_empty() && !ca.trim().is_empty() => Some((url, ca)),
        _ if std::env::var("OUTREACH_SKIP_SERVICES").as_deref() == Ok("1") => {
            eprintln!(
                "skipped: OUTREACH_TEST_REDIS_TLS_URL/_CA are not set and OUTREACH_SKIP_SERVICES=1"
            );
            None
        }
        _ => panic!(
            "OUTREACH_TEST_REDIS_TLS_URL / OUTREACH_TEST_REDIS_TLS_CA are not set: run this test \
             through scripts/test-redis-s3.sh, which starts a TLS-only Redis; set \
             OUTREACH_SKIP_SERVICES=1 to skip it"
        ),
    }
}

async fn fresh_queue(url: &str) -> Arc<dyn JobQueue> {
    let stream = format!("outreach-tls-{}", uuid::Uuid::new_v4().simple());
    Arc::new(RedisQueue::connect(url, &stream, VISIBILITY).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rediss_queue_and_rate_limit_over_verified_tls() {
    let Some((url, ca)) = tls_server() else {
        return;
    };
    assert!(url.starts_with("rediss://"), "{url} is not a TLS URL");
    std::env::set_var("SSL_CERT_FILE", &ca);
    let port = url.rsplit(':').next().unwrap().trim_end_matches('/');

    // A plaintext client gets nowhere: the server speaks only TLS, so what follows
    // really went through TLS.
    let plain = format!("redis://127.0.0.1:{port}");
    let refused = tokio::time::timeout(
        Duration::from_secs(20),
        RedisQueue::connect(&plain, "outreach-tls-plain", VISIBILITY),
    )
    .await;
    assert!(
        !matches!(refused, Ok(Ok(_))),
        "a plaintext connection to the TLS-only port succeeded"
    );

    // The certificate names 127.0.0.1 only; the same server reached as 127.0.0.2 must be
    // refused (the client checks names, it does not accept any certificate).
    let wrong_name = format!("rediss://127.0.0.2:{port}");
    let Err(err) = RedisQueue::connect(&wrong_name, "outreach-tls-name", VISIBILITY).await else {
        panic!("a certificate for 127.0.0.1 was accepted for 127.0.0.2");
    };
    eprintln!("refused as expected: {err}");
    // …and for the certificate's reason, not any other.
    let Err(raw_err) = redis::Client::open(wrong_name.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
    else {
        panic!("a raw client accepted a certificate for 127.0.0.1 at 127.0.0.2");
    };
    let reason = format!("{raw_err:?}");
    assert!(
        reason.to_lowercase().contains("certificate"),
        "refused, but not because of the certificate: {reason}"
    );

    // The shared queue suite's essentials over TLS: order, redelivery after a lapsed
    // lease, heartbeats keeping a slow task, prompt hand-back, several consumers.
    queue::queue_delivers_fifo(fresh_queue(&url).await).await;
    queue::queue_redelivers_unacked(fresh_queue(&url).await, VISIBILITY).await;
    queue::queue_lease_renewed_while_work_is_slow(fresh_queue(&url).await).await;
    queue::queue_release_hands_back_promptly(fresh_queue(&url).await).await;
    queue::queue_concurrent_consumers_each_task_once(fresh_queue(&url).await).await;

    // The task is in Redis (not only in this process): a second queue on the stream sees it.
    let stream = format!("outreach-tls-{}", uuid::Uuid::new_v4().simple());
    let producer = RedisQueue::connect(&url, &stream, VISIBILITY)
        .await
        .unwrap();
    let task = Task::Chunk {
        job_id: "tls-job".into(),
        chunk: 7,
    };
    producer.enqueue(task.clone()).await.unwrap();
    let consumer = RedisQueue::connect(&url, &stream, VISIBILITY)
        .await
        .unwrap();
    let delivery = consumer
        .receive(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the task enqueued over TLS was not delivered");
    assert_eq!(delivery.task, task);
    consumer.ack(&delivery).await.unwrap();

    // The shared rate limiter keeps its state in Redis over TLS (it would silently fall
    // back to a local limit if it could not reach Redis: the key proves it did).
    let name = format!("tls-{}", uuid::Uuid::new_v4().simple());
    let limiter = RedisRateLimiter::connect(&url, &name, 50.0).await.unwrap();
    for _ in 0..3 {
        limiter.until_ready().await;
    }
    let mut raw = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let exists: bool = raw.exists(format!("{KEY_PREFIX}{name}")).await.unwrap();
    assert!(exists, "the rate limiter never wrote its key through TLS");
}
