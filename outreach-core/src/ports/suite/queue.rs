//! The shared [`JobQueue`] suite: every implementation runs these.
//!
//! Each function enqueues tasks for a fresh job id (`suite-<uuid>`) and only judges
//! deliveries of that job, so the queue may be shared or hold tasks from earlier runs.
//! A delivery of someone else's task is handed back with `retry(…, FOREIGN_HANDBACK)`:
//! it is delivered again later (with its attempt count raised), never acked or lost.
//!
//! Timing: machines running the suite are noisy, so waits are generous and checks are
//! lower bounds ("not before the visibility timeout"), with a 10 % allowance for backends
//! that keep time on another clock (a Redis server) or in whole milliseconds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::ports::queue::{Delivery, JobQueue, Task};

/// How long a foreign task is parked when the suite receives it by accident.
pub const FOREIGN_HANDBACK: Duration = Duration::from_secs(1);

/// How long the suite waits for something that should arrive promptly.
const PROMPT: Duration = Duration::from_secs(10);

fn fresh_job() -> String {
    format!("suite-{}", uuid::Uuid::new_v4().simple())
}

fn chunk(job: &str, chunk: u32) -> Task {
    Task::Chunk {
        job_id: job.to_owned(),
        chunk,
    }
}

/// The lower bound a delay must respect, less the allowance for other clocks.
fn at_least(delay: Duration) -> Duration {
    delay.mul_f64(0.9)
}

/// Receives the next delivery of `job`'s tasks within `wait`, handing back others.
async fn receive_ours(queue: &dyn JobQueue, job: &str, wait: Duration) -> Option<Delivery> {
    let give_up = Instant::now() + wait;
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        let delivery = queue.receive(left).await.unwrap()?;
        if delivery.task.job_id() == Some(job) {
            return Some(delivery);
        }
        queue.retry(&delivery, FOREIGN_HANDBACK).await.unwrap();
        if Instant::now() >= give_up {
            return None;
        }
    }
}

async fn expect_ours(queue: &dyn JobQueue, job: &str, wait: Duration, what: &str) -> Delivery {
    match receive_ours(queue, job, wait).await {
        Some(delivery) => delivery,
        None => panic!("{what}: no delivery within {wait:?}"),
    }
}

/// Tasks come out in the order they went in (every kind with a job, so every variant also
/// survives the backend's encoding), each on its first attempt, with distinct ids.
pub async fn queue_delivers_fifo(queue: Arc<dyn JobQueue>) {
    let queue = queue.as_ref();
    let job = fresh_job();
    let mut sent = vec![Task::Start {
        job_id: job.clone(),
    }];
    sent.extend((0..20).map(|n| chunk(&job, n)));
    sent.push(Task::Finalize {
        job_id: job.clone(),
    });
    sent.push(Task::Push {
        user_id: "user-1".into(),
        job_id: job.clone(),
        push_id: "push_0a1b".into(),
    });
    for task in &sent {
        queue.enqueue(task.clone()).await.unwrap();
    }

    let mut ids = HashSet::new();
    for (index, expected) in sent.iter().enumerate() {
        let delivery = expect_ours(queue, &job, PROMPT, "FIFO delivery").await;
        assert_eq!(
            &delivery.task, expected,
            "delivery {index} is out of order (FIFO among ready tasks)"
        );
        assert_eq!(delivery.attempt, 1, "a first delivery has attempt 1");
        assert!(
            ids.insert(delivery.id.clone()),
            "delivery id {} was handed out twice",
            delivery.id
        );
        queue.ack(&delivery).await.unwrap();
    }
}

/// A delivery that is not acked comes back after the visibility timeout (not before),
/// with attempt 2 and a new id; acking the stale first delivery changes nothing, so the
/// task comes back once more (attempt 3) when the second delivery also lapses.
pub async fn queue_redelivers_unacked(queue: Arc<dyn JobQueue>, visibility_timeout: Duration) {
    let queue = queue.as_ref();
    let job = fresh_job();
    let wait = visibility_timeout * 10 + PROMPT;
    queue.enqueue(chunk(&job, 0)).await.unwrap();

    let before_first = Instant::now();
    let first = expect_ours(queue, &job, PROMPT, "first delivery").await;
    assert_eq!(first.attempt, 1);
    // The worker "dies": no ack, no retry.
    let second = expect_ours(queue, &job, wait, "redelivery after the timeout").await;
    let waited = before_first.elapsed();
    assert!(
        waited >= at_least(visibility_timeout),
        "redelivered after {waited:?}, before the visibility timeout {visibility_timeout:?}"
    );
    assert_eq!(second.task, first.task, "the same task is redelivered");
    assert_eq!(second.attempt, 2, "a redelivery counts an attempt");
    assert_ne!(second.id, first.id, "each delivery has its own id");

    // The first worker wakes up and acks late: that must not ack the second delivery.
    queue.ack(&first).await.unwrap();
    let third = expect_ours(queue, &job, wait, "redelivery after a stale ack").await;
    assert_eq!(
        third.attempt, 3,
        "acking an expired delivery must not remove the task redelivered since"
    );
    // Two deliveries, each invisible for the timeout, lie between the first receive and now.
    let waited = before_first.elapsed();
    assert!(
        waited >= at_least(visibility_timeout * 2),
        "third delivery after {waited:?}: the second one lapsed before its timeout"
    );
    queue.ack(&third).await.unwrap();
    assert!(
        receive_ours(queue, &job, visibility_timeout * 2)
            .await
            .is_none(),
        "an acked task came back"
    );
}

/// `ack` removes a task for good: it is not redelivered after the visibility timeout;
/// a second `ack` and a `retry` after the `ack` are harmless and resurrect nothing.
pub async fn queue_ack_removes(queue: Arc<dyn JobQueue>, visibility_timeout: Duration) {
    let queue = queue.as_ref();
    let job = fresh_job();
    queue.enqueue(chunk(&job, 0)).await.unwrap();
    queue.enqueue(chunk(&job, 1)).await.unwrap();

    let a = expect_ours(queue, &job, PROMPT, "first task").await;
    queue.ack(&a).await.unwrap();
    queue.ack(&a).await.expect("a second ack is harmless");
    queue
        .retry(&a, Duration::ZERO)
        .await
        .expect("retry after ack is harmless");

    let b = expect_ours(queue, &job, PROMPT, "second task").await;
    assert_eq!(b.task, chunk(&job, 1), "the acked task was delivered again");
    assert_eq!(b.attempt, 1);
    queue.ack(&b).await.unwrap();

    let leftover = receive_ours(
        queue,
        &job,
        visibility_timeout * 2 + at_least(visibility_timeout),
    )
    .await;
    assert!(
        leftover.is_none(),
        "acked tasks must never come back, got {leftover:?}"
    );
}

/// The delay `queue_retry_delays` asks for.
pub const RETRY_DELAY: Duration = Duration::from_millis(300);

/// `retry(delivery, delay)` hides the task for `delay`, then delivers it with the next
/// attempt number; a retry with no delay is ready at once; a stale retry does nothing.
pub async fn queue_retry_delays(queue: Arc<dyn JobQueue>) {
    let queue = queue.as_ref();
    let job = fresh_job();
    queue.enqueue(chunk(&job, 0)).await.unwrap();

    let first = expect_ours(queue, &job, PROMPT, "first delivery").await;
    assert_eq!(first.attempt, 1);
    let before_retry = Instant::now();
    queue.retry(&first, RETRY_DELAY).await.unwrap();
    let second = expect_ours(queue, &job, RETRY_DELAY + PROMPT, "delivery after retry").await;
    let waited = before_retry.elapsed();
    assert!(
        waited >= at_least(RETRY_DELAY),
        "a task retried with a {RETRY_DELAY:?} delay was delivered after {waited:?}"
    );
    assert_eq!(second.task, first.task);
    assert_eq!(second.attempt, 2, "a retry counts an attempt");

    // A stale retry (of the first delivery) must not touch the second one.
    queue.retry(&first, Duration::ZERO).await.unwrap();
    queue.retry(&second, Duration::ZERO).await.unwrap();
    let third = expect_ours(queue, &job, PROMPT, "delivery after an immediate retry").await;
    assert_eq!(
        third.attempt, 3,
        "a stale retry must not count or duplicate anything"
    );
    queue.ack(&third).await.unwrap();
    assert!(
        receive_ours(queue, &job, RETRY_DELAY * 2).await.is_none(),
        "a retried task was duplicated"
    );
}

/// The wait `queue_receive_times_out_empty` uses.
pub const EMPTY_WAIT: Duration = Duration::from_millis(300);

/// With nothing ready, `receive(wait)` returns `None`, and not before `wait`;
/// `receive(0)` does not block.
pub async fn queue_receive_times_out_empty(queue: Arc<dyn JobQueue>) {
    let queue = queue.as_ref();
    // Park whatever someone else left ready, so that "nothing is ready" holds.
    for _ in 0..1000 {
        let started = Instant::now();
        match queue.receive(EMPTY_WAIT).await.unwrap() {
            Some(foreign) => {
                queue.retry(&foreign, EMPTY_WAIT * 10).await.unwrap();
            }
            None => {
                let waited = started.elapsed();
                assert!(
                    waited >= at_least(EMPTY_WAIT),
                    "receive({EMPTY_WAIT:?}) gave up after {waited:?}"
                );
                let started = Instant::now();
                assert!(queue.receive(Duration::ZERO).await.unwrap().is_none());
                let waited = started.elapsed();
                assert!(
                    waited < Duration::from_secs(2),
                    "receive(0) blocked for {waited:?}"
                );
                return;
            }
        }
    }
    panic!("the queue kept delivering other tasks; cannot observe an empty queue");
}

/// Deliveries per chunk: (attempt, consumer).
type Seen = HashMap<u32, Vec<(u32, usize)>>;

/// Tasks for `queue_concurrent_consumers_each_task_once`.
pub const CONCURRENT_TASKS: u32 = 200;
/// Consumers for `queue_concurrent_consumers_each_task_once`.
pub const CONSUMERS: usize = 4;

/// Four consumers wait on the queue while 200 tasks are enqueued; every delivery is
/// acked at once, so each task must be delivered exactly once, on attempt 1.
///
/// Give the queue a visibility timeout well above scheduling noise (seconds): a
/// redelivery because an ack came late would be correct behaviour, not a bug.
/// Consumers run as spawned tokio tasks (a multi-threaded runtime makes them parallel).
pub async fn queue_concurrent_consumers_each_task_once(queue: Arc<dyn JobQueue>) {
    let job = fresh_job();
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(60);

    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|consumer| {
            let (queue, job, seen, done) = (
                Arc::clone(&queue),
                job.clone(),
                Arc::clone(&seen),
                Arc::clone(&done),
            );
            tokio::spawn(async move {
                while !done.load(Ordering::Acquire) && Instant::now() < deadline {
                    let Some(delivery) = queue.receive(Duration::from_millis(50)).await.unwrap()
                    else {
                        continue;
                    };
                    let Task::Chunk { job_id, chunk } = &delivery.task else {
                        queue.retry(&delivery, FOREIGN_HANDBACK).await.unwrap();
                        continue;
                    };
                    if *job_id != job {
                        queue.retry(&delivery, FOREIGN_HANDBACK).await.unwrap();
                        continue;
                    }
                    queue.ack(&delivery).await.unwrap();
                    let mut seen = seen.lock().unwrap();
                    seen.entry(*chunk)
                        .or_default()
                        .push((delivery.attempt, consumer));
                    if seen.len() == CONCURRENT_TASKS as usize {
                        done.store(true, Ordering::Release);
                    }
                }
            })
        })
        .collect();

    // Let the consumers start waiting, so enqueue must wake them.
    tokio::time::sleep(Duration::from_millis(20)).await;
    for n in 0..CONCURRENT_TASKS {
        queue.enqueue(chunk(&job, n)).await.unwrap();
    }
    for consumer in consumers {
        consumer.await.expect("a consumer panicked");
    }

    let late = receive_ours(queue.as_ref(), &job, Duration::from_millis(300)).await;
    assert!(
        late.is_none(),
        "a task was delivered again after its ack: {late:?}"
    );

    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        CONCURRENT_TASKS as usize,
        "only {} of {CONCURRENT_TASKS} tasks were delivered within 60 s",
        seen.len()
    );
    for (chunk, deliveries) in seen.iter() {
        assert_eq!(
            deliveries.len(),
            1,
            "chunk {chunk} was delivered {} times: {deliveries:?} (attempt, consumer)",
            deliveries.len()
        );
        assert_eq!(
            deliveries[0].0, 1,
            "chunk {chunk}: first delivery not attempt 1"
        );
    }
}

/// Renews `delivery` every lease/3 for `hold`, asserting each renewal succeeds.
async fn hold_with_heartbeat(queue: &dyn JobQueue, delivery: &Delivery, hold: Duration) {
    let every = queue.lease() / 3;
    let until = Instant::now() + hold;
    while Instant::now() < until {
        tokio::time::sleep(every.min(until.saturating_duration_since(Instant::now()))).await;
        assert!(
            queue.renew(delivery).await.unwrap(),
            "renewing a live lease failed"
        );
    }
}

/// A task whose worker renews its lease (every lease/3) while it runs for 3× the lease
/// is never handed to anyone else, and is delivered once in all: the slow-chunk case.
/// Another consumer polls the whole time.
pub async fn queue_lease_renewed_while_work_is_slow(queue: Arc<dyn JobQueue>) {
    let lease = queue.lease();
    let job = fresh_job();
    queue.enqueue(chunk(&job, 0)).await.unwrap();
    let delivery = expect_ours(queue.as_ref(), &job, PROMPT, "first delivery").await;

    let stop = Arc::new(AtomicBool::new(false));
    let thief = {
        let (queue, job, stop) = (Arc::clone(&queue), job.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut stolen = Vec::new();
            while !stop.load(Ordering::Acquire) {
                if let Some(d) = receive_ours(queue.as_ref(), &job, lease / 4).await {
                    stolen.push(d);
                }
            }
            stolen
        })
    };
    hold_with_heartbeat(queue.as_ref(), &delivery, lease * 3).await;
    queue.ack(&delivery).await.unwrap();
    stop.store(true, Ordering::Release);
    let stolen = thief.await.unwrap();
    assert!(
        stolen.is_empty(),
        "a task whose lease was renewed every {:?} was handed out again: {stolen:?}",
        lease / 3
    );
    assert!(
        receive_ours(queue.as_ref(), &job, lease * 2)
            .await
            .is_none(),
        "the acked task came back"
    );
}

/// A worker that dies (SIGKILL: no ack, no release, no more heartbeats) after renewing
/// a few times loses its lease about one lease after its last renewal: another consumer
/// gets the task then, not before, as attempt 2; the dead worker's renewal after that
/// fails and changes nothing.
pub async fn queue_lease_lapses_without_heartbeat(queue: Arc<dyn JobQueue>) {
    let queue = queue.as_ref();
    let lease = queue.lease();
    let job = fresh_job();
    queue.enqueue(chunk(&job, 0)).await.unwrap();
    let first = expect_ours(queue, &job, PROMPT, "first delivery").await;
    hold_with_heartbeat(queue, &first, lease).await;
    let last_beat = Instant::now();
    // The worker is killed here.
    let again = expect_ours(
        queue,
        &job,
        lease * 3 + PROMPT,
        "redelivery after the lease",
    )
    .await;
    let waited = last_beat.elapsed();
    assert!(
        waited >= at_least(lease),
        "redelivered {waited:?} after the last renewal, before the lease {lease:?} lapsed"
    );
    // "About one lease period": the lease plus the receiver's polling and scheduling.
    assert!(
        waited <= lease * 2 + Duration::from_secs(2),
        "redelivered only {waited:?} after the last renewal (lease {lease:?})"
    );
    assert_eq!((&again.task, again.attempt), (&first.task, 2));
    assert!(
        !queue.renew(&first).await.unwrap(),
        "the dead worker's lease must not come back"
    );
    assert!(queue.renew(&again).await.unwrap());
    queue.ack(&again).await.unwrap();
}

/// A worker shutting down (SIGTERM) releases what it holds: the task is ready for
/// another consumer at once, long before the lease would have lapsed.
pub async fn queue_release_hands_back_promptly(queue: Arc<dyn JobQueue>) {
    let queue = queue.as_ref();
    let lease = queue.lease();
    let job = fresh_job();
    queue.enqueue(chunk(&job, 0)).await.unwrap();
    let held = expect_ours(queue, &job, PROMPT, "first delivery").await;
    let released_at = Instant::now();
    queue.release(&held).await.unwrap();
    let next = expect_ours(queue, &job, PROMPT, "delivery after a release").await;
    let waited = released_at.elapsed();
    assert!(
        waited < (lease / 2).max(Duration::from_millis(500)),
        "a released task took {waited:?} to reach another consumer (lease {lease:?})"
    );
    assert_eq!(next.task, held.task);
    assert!(next.attempt >= 2, "a hand-back counts as a delivery");
    assert!(
        !queue.renew(&held).await.unwrap(),
        "a released delivery cannot renew"
    );
    queue.ack(&next).await.unwrap();
}
