#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The shared `JobQueue` suite against Redis, plus what only a networked queue has to
//! survive: a worker process dying, several processes sharing retries, undecodable
//! entries, the consumer group vanishing, a Redis restart; and the shared rate limiter.
//!
//! Needs `OUTREACH_TEST_REDIS_URL` (a Redis nobody minds us writing to; every test uses
//! streams and keys of its own). `scripts/test-redis-s3.sh` starts one and sets it.
//! The restart and fallback tests start private servers with `scripts/services/redis.sh`
//! so they never disturb the tests running beside them. Without the variable the tests
//! fail, unless `OUTREACH_SKIP_SERVICES=1` (then they say so and pass).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use outreach_core::backends::redis_queue::RedisQueue;
use outreach_core::backends::redis_rate_limit::RedisRateLimiter;
use outreach_core::ports::suite::queue;
use outreach_core::ports::{JobQueue, Task};
use outreach_core::providers::RateLimiter;
use redis::AsyncCommands;
use tokio::time::Instant;

/// Short, so the redelivery tests are quick; the suite only checks lower bounds.
const VISIBILITY: Duration = Duration::from_millis(300);

fn redis_url() -> Option<String> {
    match std::env::var("OUTREACH_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("OUTREACH_SKIP_SERVICES").as_deref() == Ok("1") => {
            eprintln!("skipped: OUTREACH_TEST_REDIS_URL is not set and OUTREACH_SKIP_SERVICES=1");
            None
        }
        _ => panic!(
            "OUTREACH_TEST_REDIS_URL is not set: run these tests through scripts/test-redis-s3.sh \
             (or scripts/test.sh), which starts Redis; set OUTREACH_SKIP_SERVICES=1 to skip them"
        ),
    }
}

fn fresh_stream() -> String {
    format!("outreach-test-{}", uuid::Uuid::new_v4().simple())
}

async fn connect_to(url: &str, stream: &str, visibility: Duration) -> RedisQueue {
    RedisQueue::connect(url, stream, visibility).await.unwrap()
}

/// A queue on a stream of its own, or `None` when service tests are skipped.
async fn fresh_queue(visibility: Duration) -> Option<Arc<dyn JobQueue>> {
    let url = redis_url()?;
    Some(Arc::new(
        connect_to(&url, &fresh_stream(), visibility).await,
    ))
}

async fn raw_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn chunk(job: &str, n: u32) -> Task {
    Task::Chunk {
        job_id: job.to_owned(),
        chunk: n,
    }
}

mod suite {
    use super::*;

    #[tokio::test]
    async fn delivers_fifo() {
        let Some(q) = fresh_queue(VISIBILITY).await else {
            return;
        };
        queue::queue_delivers_fifo(q).await;
    }

    #[tokio::test]
    async fn redelivers_unacked() {
        let Some(q) = fresh_queue(VISIBILITY).await else {
            return;
        };
        queue::queue_redelivers_unacked(q, VISIBILITY).await;
    }

    #[tokio::test]
    async fn ack_removes() {
        let Some(q) = fresh_queue(VISIBILITY).await else {
            return;
        };
        queue::queue_ack_removes(q, VISIBILITY).await;
    }

    #[tokio::test]
    async fn retry_delays() {
        let Some(q) = fresh_queue(VISIBILITY).await else {
            return;
        };
        queue::queue_retry_delays(q).await;
    }

    #[tokio::test]
    async fn receive_times_out_empty() {
        let Some(q) = fresh_queue(VISIBILITY).await else {
            return;
        };
        queue::queue_receive_times_out_empty(q).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_consumers_each_task_once() {
        // A long visibility timeout: a redelivery caused by a descheduled consumer would
        // be correct behaviour, and must not fail the test.
        let Some(q) = fresh_queue(Duration::from_secs(30)).await else {
            return;
        };
        queue::queue_concurrent_consumers_each_task_once(q).await;
    }

    /// The same, with the four consumers in four "processes" (queue handles with
    /// consumer names of their own) rather than four tasks sharing one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_processes_each_task_once() {
        let Some(url) = redis_url() else { return };
        let stream = fresh_stream();
        let mut handles = Vec::new();
        for _ in 0..queue::CONSUMERS {
            handles.push(connect_to(&url, &stream, Duration::from_secs(30)).await);
        }
        let shared: Arc<dyn JobQueue> = Arc::new(Fanout::new(handles));
        queue::queue_concurrent_consumers_each_task_once(shared).await;
    }

    /// Long enough that a heartbeat (every third) survives scheduling noise.
    const LEASE: Duration = Duration::from_secs(1);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lease_renewed_while_work_is_slow() {
        let Some(q) = fresh_queue(LEASE).await else {
            return;
        };
        queue::queue_lease_renewed_while_work_is_slow(q).await;
    }

    /// Two processes: the task, its renewals and its redelivery pass through different
    /// consumers of the group.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lease_lapses_without_heartbeat() {
        let Some(url) = redis_url() else { return };
        let stream = fresh_stream();
        let handles = vec![
            connect_to(&url, &stream, LEASE).await,
            connect_to(&url, &stream, LEASE).await,
        ];
        queue::queue_lease_lapses_without_heartbeat(Arc::new(Fanout::new(handles))).await;
    }

    #[tokio::test]
    async fn release_hands_back_promptly() {
        let Some(q) = fresh_queue(Duration::from_secs(30)).await else {
            return;
        };
        queue::queue_release_hands_back_promptly(q).await;
    }

    #[tokio::test]
    async fn suite_does_not_assume_an_empty_queue() {
        let Some(shared) = fresh_queue(VISIBILITY).await else {
            return;
        };
        for n in 0..3 {
            shared.enqueue(chunk("someone-else", n)).await.unwrap();
        }
        queue::queue_delivers_fifo(Arc::clone(&shared)).await;
        queue::queue_ack_removes(Arc::clone(&shared), VISIBILITY).await;
        queue::queue_receive_times_out_empty(Arc::clone(&shared)).await;
        let mut left = Vec::new();
        while let Some(delivery) = shared.receive(Duration::from_secs(10)).await.unwrap() {
            shared.ack(&delivery).await.unwrap();
            left.push(delivery.task);
            if left.len() == 3 {
                break;
            }
        }
        assert_eq!(left.len(), 3, "foreign tasks were lost: {left:?}");
    }
}

/// Hands each `receive` to the next of several queue handles in turn, so concurrent
/// receivers act as separate processes; `ack`/`retry` go to the handle that delivered.
#[derive(Debug)]
struct Fanout {
    queues: Vec<RedisQueue>,
    next: std::sync::atomic::AtomicUsize,
}

impl Fanout {
    fn new(queues: Vec<RedisQueue>) -> Self {
        Self {
            queues,
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn pick(&self) -> &RedisQueue {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.queues[n % self.queues.len()]
    }
}

#[async_trait::async_trait]
impl JobQueue for Fanout {
    async fn enqueue(&self, task: Task) -> outreach_core::Result<()> {
        self.pick().enqueue(task).await
    }
    async fn receive(
        &self,
        wait: Duration,
    ) -> outreach_core::Result<Option<outreach_core::ports::Delivery>> {
        self.pick().receive(wait).await
    }
    // Any handle of the same stream can ack or retry any delivery: the id carries
    // everything needed.
    async fn ack(&self, delivery: &outreach_core::ports::Delivery) -> outreach_core::Result<()> {
        self.pick().ack(delivery).await
    }
    async fn retry(
        &self,
        delivery: &outreach_core::ports::Delivery,
        delay: Duration,
    ) -> outreach_core::Result<()> {
        self.pick().retry(delivery, delay).await
    }
    fn lease(&self) -> Duration {
        self.queues[0].lease()
    }
    async fn renew(
        &self,
        delivery: &outreach_core::ports::Delivery,
    ) -> outreach_core::Result<bool> {
        self.pick().renew(delivery).await
    }
}

/// A worker process takes a task and dies (its queue handle is dropped without an ack).
/// Another process gets the task after the visibility timeout, as attempt 2, and its
/// ack removes the entry from Redis for good.
#[tokio::test]
async fn a_dead_consumers_task_goes_to_another_consumer() {
    let Some(url) = redis_url() else { return };
    let stream = fresh_stream();
    let visibility = Duration::from_millis(500);
    let doomed = connect_to(&url, &stream, visibility).await;
    doomed.enqueue(chunk("job", 1)).await.unwrap();
    let first = doomed
        .receive(Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.attempt, 1);
    let doomed_name = doomed.consumer_name().to_owned();
    let taken_at = Instant::now();
    drop(doomed);

    let survivor = connect_to(&url, &stream, visibility).await;
    assert_ne!(survivor.consumer_name(), doomed_name);
    let again = survivor
        .receive(Duration::from_secs(10))
        .await
        .unwrap()
        .expect("the dead consumer's task was never redelivered");
    let waited = taken_at.elapsed();
    assert!(
        waited >= visibility.mul_f64(0.9),
        "redelivered after {waited:?}, before the visibility timeout"
    );
    assert!(
        waited < Duration::from_secs(5),
        "redelivered only after {waited:?}"
    );
    assert_eq!((again.task.clone(), again.attempt), (chunk("job", 1), 2));
    assert_ne!(again.id, first.id);

    // The pending entry now belongs to the survivor.
    let mut raw = raw_connection(&url).await;
    let pending: redis::streams::StreamPendingCountReply = raw
        .xpending_count(&stream, "outreach-workers", "-", "+", 10)
        .await
        .unwrap();
    assert_eq!(pending.ids.len(), 1);
    assert_eq!(pending.ids[0].consumer, survivor.consumer_name());

    survivor.ack(&again).await.unwrap();
    assert_eq!(
        survivor.len().await.unwrap(),
        0,
        "an acked entry is deleted"
    );
    let len: u64 = raw.xlen(&stream).await.unwrap();
    assert_eq!(len, 0);
}

/// Consumers of processes long gone (nothing pending) are removed; the caller and
/// consumers still holding work are kept.
#[tokio::test]
async fn idle_consumers_are_pruned() {
    let Some(url) = redis_url() else { return };
    let stream = fresh_stream();
    // A consumer exists once something was delivered to it (Redis 7.0 does not create
    // one for an empty read).
    let gone = connect_to(&url, &stream, Duration::from_secs(30)).await;
    gone.enqueue(chunk("job", 0)).await.unwrap();
    let done = gone.receive(Duration::from_secs(5)).await.unwrap().unwrap();
    gone.ack(&done).await.unwrap();
    let holder = connect_to(&url, &stream, Duration::from_secs(30)).await;
    holder.enqueue(chunk("job", 1)).await.unwrap();
    let held = holder
        .receive(Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    let gone_name = gone.consumer_name().to_owned();
    drop(gone);

    let me = connect_to(&url, &stream, Duration::from_secs(30)).await;
    me.enqueue(chunk("job", 2)).await.unwrap();
    let mine = me.receive(Duration::from_secs(5)).await.unwrap().unwrap();
    me.ack(&mine).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        me.prune_consumers(Duration::from_millis(10)).await.unwrap(),
        1
    );
    let mut raw = raw_connection(&url).await;
    let info: redis::streams::StreamInfoConsumersReply = raw
        .xinfo_consumers(&stream, "outreach-workers")
        .await
        .unwrap();
    let mut names: Vec<_> = info.consumers.into_iter().map(|c| c.name).collect();
    names.sort();
    let mut expected = vec![
        holder.consumer_name().to_owned(),
        me.consumer_name().to_owned(),
    ];
    expected.sort();
    assert_eq!(
        names, expected,
        "{gone_name} should be gone, the others kept"
    );
    holder.ack(&held).await.unwrap();
}

/// A retry waits in the delayed set (counted by `len`, invisible to every consumer),
/// then comes back once, with the next attempt, to whichever consumer looks.
#[tokio::test]
async fn delayed_retry_is_hidden_then_delivered_once() {
    let Some(url) = redis_url() else { return };
    let stream = fresh_stream();
    let a = connect_to(&url, &stream, Duration::from_secs(30)).await;
    let b = connect_to(&url, &stream, Duration::from_secs(30)).await;
    a.enqueue(chunk("job", 7)).await.unwrap();
    let first = a.receive(Duration::from_secs(5)).await.unwrap().unwrap();
    let delay = Duration::from_millis(700);
    let retried_at = Instant::now();
    a.retry(&first, delay).await.unwrap();
    assert_eq!(a.len().await.unwrap(), 1, "a delayed task still counts");
    assert!(
        b.receive(Duration::from_millis(300))
            .await
            .unwrap()
            .is_none(),
        "a delayed task was delivered early"
    );
    let second = b.receive(Duration::from_secs(10)).await.unwrap().unwrap();
    let waited = retried_at.elapsed();
    assert!(waited >= delay.mul_f64(0.9), "delivered after {waited:?}");
    assert!(
        waited < Duration::from_secs(3),
        "delivered only after {waited:?}"
    );
    assert_eq!((second.task.clone(), second.attempt), (chunk("job", 7), 2));
    // The stale first delivery can neither ack nor retry the new one.
    a.ack(&first).await.unwrap();
    a.retry(&first, Duration::ZERO).await.unwrap();
    b.ack(&second).await.unwrap();
    assert!(a
        .receive(Duration::from_millis(300))
        .await
        .unwrap()
        .is_none());
    assert_eq!(a.len().await.unwrap(), 0);
}

/// Many retries fall due together while several processes poll: the move from the
/// delayed set into the stream is atomic, so each task comes back exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn due_retries_are_moved_once_among_many_consumers() {
    let Some(url) = redis_url() else { return };
    let stream = fresh_stream();
    const TASKS: u32 = 60;
    let producer = connect_to(&url, &stream, Duration::from_secs(30)).await;
    for n in 0..TASKS {
        producer.enqueue(chunk("job", n)).await.unwrap();
    }
    for _ in 0..TASKS {
        let d = producer
            .receive(Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap();
        producer
            .retry(&d, Duration::from_millis(400))
            .await
            .unwrap();
    }

    let mut consumers = Vec::new();
    for _ in 0..4 {
        let q = connect_to(&url, &stream, Duration::from_secs(30)).await;
        consumers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(d) = q.receive(Duration::from_millis(1500)).await.unwrap() {
                q.ack(&d).await.unwrap();
                got.push((d.task, d.attempt));
            }
            got
        }));
    }
    let mut seen: HashMap<Task, Vec<u32>> = HashMap::new();
    for consumer in consumers {
        for (task, attempt) in consumer.await.unwrap() {
            seen.entry(task).or_default().push(attempt);
        }
    }
    assert_eq!(
        seen.len(),
        TASKS as usize,
        "some retried tasks never came back"
    );
    for (task, attempts) in &seen {
        assert_eq!(attempts, &vec![2], "{task:?} came back as {attempts:?}");
    }
}

/// An entry someone else wrote (not our JSON) must not jam the queue: it is moved to
/// `<stream>:dead` and the next task is delivered.
#[tokio::test]
async fn undecodable_entries_are_moved_aside() {
    let Some(url) = redis_url() else { return };
    let stream = fresh_stream();
    let q = connect_to(&url, &stream, VISIBILITY).await;
    let mut raw = raw_connection(&url).await;
    let _: String = raw
        .xadd(&stream, "*", &[("task", "{not json"), ("attempt", "1")])
        .await
        .unwrap();
    let _: String = raw
        .xadd(&stream, "*", &[("something", "else")])
        .await
        .unwrap();
    q.enqueue(chunk("job", 1)).await.unwrap();
    let d = q.receive(Duration::from_secs(5)).await.unwrap().unwrap();
    assert_eq!(d.task, chunk("job", 1));
    q.ack(&d).await.unwrap();
    let dead: u64 = raw.xlen(format!("{stream}:dead")).await.unwrap();
    assert_eq!(dead, 2, "both bad entries are kept for inspection");
    assert_eq!(q.len().await.unwrap(), 0);
}

/// The consumer group is deleted under a running queue (what a restart without
/// persistence also does): the next receive recreates it and still delivers what was
/// enqueued meanwhile; acking a delivery from before is a harmless no-op.
#[tokio::test]
async fn a_vanished_group_is_recreated() {
    let Some(url) = redis_url() else { return };
    let stream = fresh_stream();
    let q = connect_to(&url, &stream, VISIBILITY).await;
    q.enqueue(chunk("job", 1)).await.unwrap();
    let before = q.receive(Duration::from_secs(5)).await.unwrap().unwrap();
    let mut raw = raw_connection(&url).await;
    let _: () = raw
        .xgroup_destroy(&stream, "outreach-workers")
        .await
        .unwrap();
    q.ack(&before).await.unwrap();
    q.retry(&before, Duration::ZERO).await.unwrap();
    q.enqueue(chunk("job", 2)).await.unwrap();

    let mut got = Vec::new();
    while let Some(d) = q.receive(Duration::from_secs(2)).await.unwrap() {
        q.ack(&d).await.unwrap();
        got.push(d.task);
    }
    // Chunk 1 was in flight when the group went: at least once means it comes back.
    assert_eq!(got, vec![chunk("job", 1), chunk("job", 2)]);
}

/// A Redis server of this test's own (so restarting it disturbs no other test),
/// started and restarted through `scripts/services/redis.sh`, stopped on drop.
struct PrivateRedis {
    url: String,
}

impl PrivateRedis {
    fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/services/redis.sh")
    }

    fn run(args: &[&str], url: Option<&str>) -> String {
        let mut command = std::process::Command::new("bash");
        command.arg(Self::script()).args(args);
        if let Some(url) = url {
            command.env("OUTREACH_TEST_REDIS_URL", url);
        }
        let output = command.output().expect("could not run redis.sh");
        assert!(
            output.status.success(),
            "redis.sh {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn start() -> Self {
        let out = Self::run(&["start"], None);
        let url = out
            .trim()
            .strip_prefix("export OUTREACH_TEST_REDIS_URL=")
            .unwrap_or_else(|| panic!("unexpected redis.sh output {out:?}"))
            .to_owned();
        Self { url }
    }

    async fn restart(&self) {
        let url = self.url.clone();
        tokio::task::spawn_blocking(move || Self::run(&["restart"], Some(&url)))
            .await
            .unwrap();
    }

    async fn stop(&self) {
        let url = self.url.clone();
        tokio::task::spawn_blocking(move || Self::run(&["stop"], Some(&url)))
            .await
            .unwrap();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // Stopping twice is harmless ("nothing to stop").
        let _ = std::process::Command::new("bash")
            .arg(Self::script())
            .arg("stop")
            .env("OUTREACH_TEST_REDIS_URL", &self.url)
            .output();
    }
}

/// Redis restarts (losing everything: no persistence) while a worker waits in
/// `receive`. Enqueue works again within seconds (the command connection reconnects),
/// the waiting worker gets the new task (its blocking connection is replaced and the
/// group recreated), and acking a delivery from before the restart is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_redis_restart() {
    if redis_url().is_none() {
        return;
    }
    let server = PrivateRedis::start();
    let stream = fresh_stream();
    let producer = connect_to(&server.url, &stream, Duration::from_secs(2)).await;
    let worker = connect_to(&server.url, &stream, Duration::from_secs(2)).await;

    producer.enqueue(chunk("before", 0)).await.unwrap();
    let old = worker
        .receive(Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.task, chunk("before", 0));

    // The worker loop: keep receiving, backing off on errors, as `spawn_worker` does.
    let waiting = {
        let worker = worker.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut errors = 0;
            while Instant::now() < deadline {
                match worker.receive(Duration::from_secs(1)).await {
                    Ok(Some(d)) => {
                        worker.ack(&d).await.unwrap();
                        return (Some(d), errors);
                    }
                    Ok(None) => {}
                    Err(_) => {
                        errors += 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
            (None, errors)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    server.restart().await;
    let restarted = Instant::now();
    let mut enqueue_failures = 0;
    loop {
        match producer.enqueue(chunk("after", 1)).await {
            Ok(()) => break,
            Err(e) => {
                enqueue_failures += 1;
                assert!(
                    restarted.elapsed() < Duration::from_secs(10),
                    "enqueue still failing 10 s after the restart: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let enqueue_ok = restarted.elapsed();
    let (delivery, receive_errors) = waiting.await.unwrap();
    let delivered = restarted.elapsed();
    eprintln!(
        "after the restart: enqueue ok after {enqueue_ok:?} ({enqueue_failures} failed calls), \
         delivered after {delivered:?} ({receive_errors} failed receives)"
    );
    let delivery =
        delivery.expect("the waiting worker never got the task enqueued after the restart");
    assert_eq!(delivery.task, chunk("after", 1));
    assert_eq!(delivery.attempt, 1);
    assert!(
        delivered < Duration::from_secs(10),
        "delivered only {delivered:?} after the restart"
    );
    // From before the restart: unknown now, so a no-op, not an error.
    worker.ack(&old).await.unwrap();
    worker.retry(&old, Duration::ZERO).await.unwrap();
    assert!(worker
        .receive(Duration::from_millis(300))
        .await
        .unwrap()
        .is_none());
    server.stop().await;
}

/// Two limiters (two processes) with the same name share one rate: 40 starts at 20/s
/// take at least 39 intervals (≈1.95 s), where two local limiters would need ≈0.95 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_rate_limit_holds_across_limiters() {
    let Some(url) = redis_url() else { return };
    const RPS: f64 = 20.0;
    const PER_TASK: usize = 10;
    let name = format!("test-{}", uuid::Uuid::new_v4().simple());
    let limiters = [
        Arc::new(RedisRateLimiter::connect(&url, &name, RPS).await.unwrap()),
        Arc::new(RedisRateLimiter::connect(&url, &name, RPS).await.unwrap()),
    ];
    let started = Instant::now();
    let mut tasks = Vec::new();
    for limiter in limiters.iter().chain(limiters.iter()) {
        let limiter = Arc::clone(limiter);
        tasks.push(tokio::spawn(async move {
            for _ in 0..PER_TASK {
                limiter.until_ready().await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let starts = 4 * PER_TASK;
    let floor = Duration::from_secs_f64((starts - 1) as f64 / RPS).mul_f64(0.9);
    eprintln!("{starts} starts at {RPS}/s across two limiters took {elapsed:?} (floor {floor:?})");
    assert!(
        elapsed >= floor,
        "{starts} starts took {elapsed:?}: the rate was not shared (expected ≥ {floor:?})"
    );
}

/// With Redis gone the limiter neither fails nor stops the run: it limits locally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_falls_back_to_local_when_redis_is_gone() {
    if redis_url().is_none() {
        return;
    }
    let server = PrivateRedis::start();
    let limiter = RedisRateLimiter::connect(&server.url, "fallback", 20.0)
        .await
        .unwrap();
    limiter.until_ready().await;
    server.stop().await;

    let started = Instant::now();
    for _ in 0..10 {
        tokio::time::timeout(Duration::from_secs(5), limiter.until_ready())
            .await
            .expect("until_ready hung with Redis down");
    }
    let elapsed = started.elapsed();
    // The local limiter of the same rate: 10 starts, no burst.
    assert!(
        elapsed >= Duration::from_millis(400),
        "10 starts at 20/s took {elapsed:?}: nothing limited them"
    );
}

/// What one worker's limiter learns (a header pace, a 429 cut, an empty bucket) paces
/// another worker's limiter of the same name: the learned state lives in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn learned_limits_are_shared_across_limiters() {
    use outreach_core::providers::policy::{Feedback, Outcome};
    use outreach_core::providers::rate_headers::RateHeaders;
    let Some(url) = redis_url() else { return };
    let long = Duration::from_secs(120);

    // A header pace seen by `a`: 2 requests left, bucket full in 1 s → 2/s for `b`.
    let name = format!("test-{}", uuid::Uuid::new_v4().simple());
    let a = RedisRateLimiter::connect_learned(&url, &name, None)
        .await
        .unwrap();
    let b = RedisRateLimiter::connect_learned(&url, &name, None)
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        b.acquire(0.0, long).await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "nothing learned yet"
    );
    let ticket = a.acquire(0.0, long).await.unwrap();
    a.feedback(&Feedback {
        ticket,
        outcome: Outcome::Success { tokens: None },
        headers: Some(RateHeaders {
            remaining_requests: Some(2),
            reset_requests: Some(Duration::from_secs(1)),
            ..RateHeaders::default()
        }),
        estimated_tokens: 0.0,
    })
    .await;
    let started = Instant::now();
    for _ in 0..3 {
        b.acquire(0.0, long).await.unwrap();
    }
    let paced = started.elapsed();
    assert!(
        paced >= Duration::from_millis(900),
        "3 starts at 2/s took {paced:?}"
    );

    // One success, then a 429 right after: the cut rate (0.9 × one success in the
    // shortest measuring span of 50 ms = 18/s) spaces the other limiter's starts.
    let name = format!("test-{}", uuid::Uuid::new_v4().simple());
    let a = RedisRateLimiter::connect_learned(&url, &name, None)
        .await
        .unwrap();
    let b = RedisRateLimiter::connect_learned(&url, &name, None)
        .await
        .unwrap();
    for outcome in [Outcome::Success { tokens: None }, Outcome::RateLimited] {
        let ticket = a.acquire(0.0, long).await.unwrap();
        a.feedback(&Feedback {
            ticket,
            outcome,
            headers: None,
            estimated_tokens: 0.0,
        })
        .await;
    }
    let started = Instant::now();
    for _ in 0..5 {
        b.acquire(0.0, long).await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );

    // An empty bucket for ten minutes: `b` refuses to wait that long.
    let ticket = a.acquire(0.0, long).await.unwrap();
    a.feedback(&Feedback {
        ticket,
        outcome: Outcome::RateLimited,
        headers: Some(RateHeaders {
            remaining_requests: Some(0),
            reset_requests: Some(Duration::from_secs(600)),
            ..RateHeaders::default()
        }),
        estimated_tokens: 0.0,
    })
    .await;
    let refused = b.acquire(0.0, long).await.unwrap_err();
    assert!(refused > Duration::from_secs(590), "{refused:?}");
}
