//! [`JobQueue`] in process: the embedded default, and the reference the Redis queue is
//! tested against.
//!
//! Design notes:
//! - One `std::sync::Mutex` guards the state. It is only held for short, synchronous
//!   bookkeeping, never across an `.await`.
//! - Waiting receivers sleep on a [`Notify`] (no polling) and, at most, until the next
//!   timed event: a delayed retry becoming ready or an in-flight delivery's deadline.
//!   A receiver registers interest (`Notified::enable`) *before* looking at the state,
//!   so a task enqueued between the look and the sleep still wakes it.
//! - A delivery expires at its deadline, exactly: from then on its `ack`/`retry` do
//!   nothing and the task will be delivered again (handlers are idempotent). Moving
//!   expired deliveries back to the pending set is lazy (on the next `receive`, `len` or
//!   `in_flight`), but that laziness is not observable.
//! - FIFO: pending tasks are ordered by the instant they became ready (enqueue, retry
//!   delay elapsed, deadline passed), then by arrival order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::Result;
use crate::ports::queue::{Delivery, JobQueue, Task};

/// An in-process, at-least-once task queue. Cheap to clone: clones share the queue.
#[derive(Debug, Clone)]
pub struct MemoryQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    visibility_timeout: Duration,
    /// Prefix of this queue's delivery ids, so an id from another queue is never mistaken
    /// for one of ours.
    instance: String,
    state: Mutex<State>,
    notify: Notify,
}

/// An enqueued task and how many times it has been delivered.
#[derive(Debug)]
struct Entry {
    task: Task,
    deliveries: u32,
}

#[derive(Debug)]
struct InFlight {
    entry: Entry,
    deadline: Instant,
}

#[derive(Debug, Default)]
struct State {
    /// Tasks waiting for a receiver, keyed by (ready at, arrival number).
    pending: BTreeMap<(Instant, u64), Entry>,
    /// Delivered, not yet acked, keyed by delivery number.
    in_flight: HashMap<u64, InFlight>,
    /// The in-flight deadlines in order: (deadline, delivery number).
    deadlines: BTreeSet<(Instant, u64)>,
    /// Source of arrival and delivery numbers.
    counter: u64,
}

/// What a receiver found.
enum Poll {
    Delivered(Delivery),
    /// Nothing ready; something may become ready at this instant.
    Wait(Option<Instant>),
}

impl State {
    fn next_number(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn push_pending(&mut self, ready_at: Instant, entry: Entry) {
        let number = self.next_number();
        self.pending.insert((ready_at, number), entry);
    }

    /// Moves deliveries whose deadline has passed back to the pending set; they become
    /// ready at their deadline, which keeps FIFO order by readiness.
    fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, number)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(flight) = self.in_flight.remove(&number) {
                crate::telemetry::redelivered();
                self.push_pending(deadline, flight.entry);
            }
        }
    }

    /// The earliest future instant at which a task may become ready.
    fn next_event(&self, now: Instant) -> Option<Instant> {
        // The first pending key after every task ready by `now`; O(log n) however many
        // tasks are ready.
        let pending = self
            .pending
            .range((Bound::Excluded((now, u64::MAX)), Bound::Unbounded))
            .next()
            .map(|(&(ready_at, _), _)| ready_at);
        let deadline = self.deadlines.first().map(|&(deadline, _)| deadline);
        match (pending, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn poll(&mut self, now: Instant, instance: &str, visibility_timeout: Duration) -> Poll {
        self.expire(now);
        let ready = matches!(self.pending.first_key_value(), Some((&(at, _), _)) if at <= now);
        if !ready {
            return Poll::Wait(self.next_event(now));
        }
        let Some((_, mut entry)) = self.pending.pop_first() else {
            return Poll::Wait(self.next_event(now));
        };
        entry.deliveries = entry.deliveries.saturating_add(1);
        let number = self.next_number();
        let deadline = now + visibility_timeout;
        let delivery = Delivery {
            id: format!("{instance}:{number}"),
            task: entry.task.clone(),
            attempt: entry.deliveries,
        };
        self.deadlines.insert((deadline, number));
        self.in_flight.insert(number, InFlight { entry, deadline });
        Poll::Delivered(delivery)
    }

    /// Moves a live delivery's deadline to `now + lease`; false if unknown or expired.
    fn renew(&mut self, number: u64, now: Instant, lease: Duration) -> bool {
        let Some(flight) = self.in_flight.get_mut(&number) else {
            return false;
        };
        if flight.deadline <= now {
            return false;
        }
        let old = flight.deadline;
        let new = now + lease;
        flight.deadline = new;
        self.deadlines.remove(&(old, number));
        self.deadlines.insert((new, number));
        true
    }

    /// Removes a delivery from the in-flight table, unless it is unknown or expired.
    fn take_in_flight(&mut self, number: u64, now: Instant) -> Option<Entry> {
        let deadline = self.in_flight.get(&number)?.deadline;
        if deadline <= now {
            return None;
        }
        self.deadlines.remove(&(deadline, number));
        self.in_flight.remove(&number).map(|flight| flight.entry)
    }
}

impl MemoryQueue {
    /// A queue that redelivers a task when its delivery is not acked, retried or renewed
    /// within `visibility_timeout` (the lease).
    pub fn new(visibility_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                visibility_timeout,
                instance: uuid::Uuid::new_v4().simple().to_string(),
                state: Mutex::new(State::default()),
                notify: Notify::new(),
            }),
        }
    }

    pub fn visibility_timeout(&self) -> Duration {
        self.inner.visibility_timeout
    }

    /// Tasks not yet acked: waiting (ready or delayed) plus in flight.
    pub fn len(&self) -> usize {
        let mut state = self.state();
        state.expire(Instant::now());
        state.pending.len() + state.in_flight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deliveries handed out, not acked or retried, and within their visibility timeout.
    pub fn in_flight(&self) -> usize {
        let mut state = self.state();
        state.expire(Instant::now());
        state.in_flight.len()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every critical section (none can panic halfway
        // through an update that matters), so a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The delivery number of one of *our* delivery ids.
    fn delivery_number(&self, delivery: &Delivery) -> Option<u64> {
        let (instance, number) = delivery.id.split_once(':')?;
        if instance != self.inner.instance {
            return None;
        }
        number.parse().ok()
    }

    /// Wakes waiting receivers about a timed event if it is earlier than every timed
    /// event they may be sleeping towards; later events they will see when they wake.
    fn announce_timed_event(&self, at: Instant, earliest_before: Option<Instant>) {
        if earliest_before.is_none_or(|earliest| at < earliest) {
            self.inner.notify.notify_waiters();
        }
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn enqueue(&self, task: Task) -> Result<()> {
        {
            let mut state = self.state();
            state.push_pending(
                Instant::now(),
                Entry {
                    task,
                    deliveries: 0,
                },
            );
        }
        // One task, one receiver. If nobody waits, the permit is kept and the next
        // receiver to wait merely looks once more.
        self.inner.notify.notify_one();
        Ok(())
    }

    async fn receive(&self, wait: Duration) -> Result<Option<Delivery>> {
        let give_up = Instant::now() + wait;
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let now = Instant::now();
            let (poll, earliest_before) = {
                let mut state = self.state();
                let earliest_before = state.next_event(now);
                let poll = state.poll(now, &self.inner.instance, self.inner.visibility_timeout);
                (poll, earliest_before)
            };
            let next_event = match poll {
                Poll::Delivered(delivery) => {
                    // The new deadline is a timed event other receivers must not sleep past.
                    self.announce_timed_event(now + self.inner.visibility_timeout, earliest_before);
                    return Ok(Some(delivery));
                }
                Poll::Wait(next_event) => next_event,
            };
            if now >= give_up {
                return Ok(None);
            }
            let until = next_event.map_or(give_up, |at| at.min(give_up));
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<()> {
        if let Some(number) = self.delivery_number(delivery) {
            self.state().take_in_flight(number, Instant::now());
        }
        Ok(())
    }

    fn lease(&self) -> Duration {
        self.inner.visibility_timeout
    }

    async fn depth(&self) -> Result<Option<u64>> {
        Ok(Some(self.len() as u64))
    }

    async fn renew(&self, delivery: &Delivery) -> Result<bool> {
        let Some(number) = self.delivery_number(delivery) else {
            return Ok(false);
        };
        // A later deadline never makes a sleeping receiver wake too late: it only ever
        // wakes early and looks again.
        let renewed = self
            .state()
            .renew(number, Instant::now(), self.inner.visibility_timeout);
        Ok(renewed)
    }

    async fn retry(&self, delivery: &Delivery, delay: Duration) -> Result<()> {
        let Some(number) = self.delivery_number(delivery) else {
            return Ok(());
        };
        let now = Instant::now();
        let ready_at = now + delay;
        let earliest_before = {
            let mut state = self.state();
            let Some(entry) = state.take_in_flight(number, now) else {
                return Ok(());
            };
            let earliest_before = state.next_event(now);
            state.push_pending(ready_at, entry);
            earliest_before
        };
        if delay.is_zero() {
            self.inner.notify.notify_one();
        } else {
            self.announce_timed_event(ready_at, earliest_before);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn chunk(n: u32) -> Task {
        Task::Chunk {
            job_id: "job".into(),
            chunk: n,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn counts_follow_deliveries() {
        let queue = MemoryQueue::new(Duration::from_secs(1));
        assert!(queue.is_empty());
        queue.enqueue(chunk(1)).await.unwrap();
        queue.enqueue(chunk(2)).await.unwrap();
        assert_eq!((queue.len(), queue.in_flight()), (2, 0));

        let first = queue.receive(Duration::ZERO).await.unwrap().unwrap();
        assert_eq!((queue.len(), queue.in_flight()), (2, 1));
        queue.ack(&first).await.unwrap();
        assert_eq!((queue.len(), queue.in_flight()), (1, 0));

        let second = queue.receive(Duration::ZERO).await.unwrap().unwrap();
        tokio::time::advance(Duration::from_millis(1000)).await;
        // Expired at the deadline: the late ack is ignored, the task is delivered again.
        queue.ack(&second).await.unwrap();
        assert_eq!((queue.len(), queue.in_flight()), (1, 0), "expired");
        let again = queue.receive(Duration::ZERO).await.unwrap().unwrap();
        assert_eq!((&again.task, again.attempt), (&second.task, 2));
        queue
            .retry(&again, Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!((queue.len(), queue.in_flight()), (1, 0), "delayed");
        assert!(queue.receive(Duration::ZERO).await.unwrap().is_none());
        let last = queue
            .receive(Duration::from_millis(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(last.attempt, 3);
        queue.ack(&last).await.unwrap();
        assert!(queue.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_receiver_wakes_for_a_redelivery() {
        // Two receivers wait on an empty queue with a long wait. One gets the task and
        // never acks it; the other must wake when that delivery expires, not at the end
        // of its own wait, although the deadline did not exist when it went to sleep.
        let queue = MemoryQueue::new(Duration::from_millis(500));
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let queue = queue.clone();
                tokio::spawn(async move {
                    let start = Instant::now();
                    let got = queue.receive(Duration::from_secs(60)).await.unwrap();
                    (got.unwrap(), start.elapsed())
                })
            })
            .collect();
        tokio::task::yield_now().await;
        queue.enqueue(chunk(7)).await.unwrap();

        let mut got = Vec::new();
        for receiver in receivers {
            got.push(receiver.await.unwrap());
        }
        got.sort_by_key(|(delivery, _)| delivery.attempt);
        let [(first, _), (again, waited)] = got.try_into().unwrap();
        assert_eq!((first.attempt, again.attempt), (1, 2));
        assert_eq!(first.task, again.task);
        assert_ne!(first.id, again.id);
        assert!(
            waited >= Duration::from_millis(500) && waited < Duration::from_secs(1),
            "redelivered after {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_retry_wakes_a_waiting_receiver_on_time() {
        let queue = MemoryQueue::new(Duration::from_secs(30));
        for n in 0..3 {
            queue.enqueue(chunk(n)).await.unwrap();
        }
        let first = queue.receive(Duration::ZERO).await.unwrap().unwrap();
        // Two tasks stay ready; take them so that only the delayed one remains.
        for _ in 0..2 {
            let other = queue.receive(Duration::ZERO).await.unwrap().unwrap();
            queue.ack(&other).await.unwrap();
        }
        queue
            .retry(&first, Duration::from_millis(200))
            .await
            .unwrap();
        let start = Instant::now();
        let again = queue
            .receive(Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((&again.task, again.attempt), (&first.task, 2));
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_millis(300),
            "woke after {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn renewal_moves_the_deadline_and_never_revives() {
        let queue = MemoryQueue::new(Duration::from_millis(100));
        queue.enqueue(chunk(1)).await.unwrap();
        let delivery = queue.receive(Duration::ZERO).await.unwrap().unwrap();
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(40)).await;
            assert!(queue.renew(&delivery).await.unwrap(), "a live lease renews");
        }
        // 200 ms after the receive, twice the lease: still ours.
        assert!(queue.receive(Duration::ZERO).await.unwrap().is_none());
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            !queue.renew(&delivery).await.unwrap(),
            "a lapsed lease stays lapsed"
        );
        let again = queue.receive(Duration::ZERO).await.unwrap().unwrap();
        assert_eq!(again.attempt, 2);
        queue.ack(&again).await.unwrap();
        assert!(
            !queue.renew(&again).await.unwrap(),
            "an acked delivery cannot renew"
        );
    }

    #[tokio::test]
    async fn foreign_and_stale_ids_are_ignored() {
        let queue = MemoryQueue::new(Duration::from_secs(5));
        queue.enqueue(chunk(1)).await.unwrap();
        let delivery = queue.receive(Duration::ZERO).await.unwrap().unwrap();
        let foreign = Delivery {
            id: "someone-else:1".into(),
            ..delivery.clone()
        };
        queue.ack(&foreign).await.unwrap();
        queue.retry(&foreign, Duration::ZERO).await.unwrap();
        let garbage = Delivery {
            id: "no colon".into(),
            ..delivery.clone()
        };
        queue.ack(&garbage).await.unwrap();
        assert_eq!(queue.in_flight(), 1);
        queue.ack(&delivery).await.unwrap();
        queue.retry(&delivery, Duration::ZERO).await.unwrap();
        assert!(
            queue.is_empty(),
            "a retry after the ack must not resurrect the task"
        );
    }
}
