//! Outgoing events (`job.finished`, `push.finished`) delivered durably: the event is
//! stored first (`events/<user>/<event>.json`), then a `Deliver` task is queued. The
//! task hands the stored body to the front end's [`EventSender`] (the server signs it
//! and posts it to the account's webhook); a failed delivery is retried with doubling
//! backoff (`JobSettings::webhook_backoff`, then ×2 up to an hour), and after
//! `JobSettings::webhook_attempts` it is dead-lettered: logged at error level with the
//! event id and type, and its stored copy removed. A delivered event's copy is removed
//! too, so what is left under `events/` is exactly what is still owed; a process
//! whose queue forgets tasks (the in-process one) queues it again at start
//! ([`JobSystem::recover`]).
//!
//! At least once: a process that stops after the receiver answered and before the
//! copy is removed sends the event again, with the same `id` (receivers dedupe on it,
//! as with Stripe's events).

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::JobSystem;
use crate::error::{Error, Result};
use crate::ports::{Delivery, Task};

/// Where stored events wait for delivery.
pub const EVENTS_ROOT: &str = "events";

/// What a delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The receiver took it (2xx).
    Delivered,
    /// Nothing to deliver to: the account has no webhook (any more).
    NoEndpoint,
    /// Never deliverable (e.g. the signing secret no longer opens): dropped with a log
    /// line, not retried.
    Undeliverable(String),
}

/// Delivers an event's body to an account's endpoint.
///
/// # Contract
/// - `subscribed` says whether the account has somewhere to send events (events for an
///   account without one are not stored at all).
/// - `send` makes one attempt; an `Err` (network error, non-2xx answer) is retried by
///   the worker with backoff.
#[async_trait]
pub trait EventSender: Send + Sync + Debug + 'static {
    async fn subscribed(&self, user_id: &str) -> Result<bool>;
    async fn send(&self, user_id: &str, body: &str) -> Result<Sent>;
}

/// A stored event: its id, type and the JSON body as it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub body: String,
}

pub fn event_key(user_id: &str, event_id: &str) -> String {
    format!("{EVENTS_ROOT}/{user_id}/{event_id}.json")
}

/// The (user, event) an event key names.
pub(crate) fn parse_event_key(key: &str) -> Option<(String, String)> {
    let rest = key.strip_prefix(EVENTS_ROOT)?.strip_prefix('/')?;
    let (user, file) = rest.split_once('/')?;
    let event = file.strip_suffix(".json")?;
    (!user.is_empty() && event.starts_with("evt_") && !event.contains('/'))
        .then(|| (user.to_string(), event.to_string()))
}

/// The wait before delivery attempt `attempt + 1`: `first`, doubling, at most an hour.
pub(crate) fn delivery_backoff(first: Duration, attempt: u32) -> Duration {
    first
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(Duration::from_secs(3600))
}

impl JobSystem {
    /// Stores an event for `user_id` and queues its delivery; nothing when no sender
    /// is set or the account has no webhook. Returns the event id when one was stored.
    /// The body: `{"id", "type", "created", "data"}`.
    pub async fn emit_event(
        &self,
        user_id: &str,
        kind: &str,
        data: serde_json::Value,
    ) -> Result<Option<String>> {
        let Some(sender) = self.event_sender() else {
            return Ok(None);
        };
        if !sender.subscribed(user_id).await? {
            return Ok(None);
        }
        let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let body = serde_json::json!({
            "id": id,
            "type": kind,
            "created": Utc::now().timestamp(),
            "data": data,
        })
        .to_string();
        let stored = StoredEvent {
            id: id.clone(),
            kind: kind.to_string(),
            body,
        };
        let bytes = serde_json::to_vec(&stored)
            .map_err(|e| Error::Storage(format!("cannot encode an event: {e}")))?;
        self.storage()
            .put(&event_key(user_id, &id), bytes.into())
            .await?;
        self.queue()
            .enqueue(Task::Deliver {
                user_id: user_id.to_string(),
                event_id: id.clone(),
            })
            .await?;
        Ok(Some(id))
    }

    /// [`Self::emit_event`] for callers that must not fail (a finish that already
    /// won): a failure is logged.
    pub(crate) async fn emit_logged(&self, user_id: &str, kind: &str, data: serde_json::Value) {
        if let Err(e) = self.emit_event(user_id, kind, data).await {
            tracing::error!(user = user_id, event = kind, error = %e, "could not store an outgoing event; it is lost");
        }
    }

    /// Runs a `Deliver` task to its end: acks on delivery (or when there is nothing to
    /// deliver), retries with backoff, dead-letters after the last attempt.
    pub(crate) async fn process_deliver(&self, delivery: &Delivery, user_id: &str, event_id: &str) {
        let key = event_key(user_id, event_id);
        let outcome = self.try_deliver(&key, user_id).await;
        let settings = self.settings();
        let queue = self.queue();
        let done = match outcome {
            Ok(Some((event, sent))) => {
                match &sent {
                    Sent::Delivered => {
                        tracing::info!(event = %event.id, kind = %event.kind, attempt = delivery.attempt, "event delivered")
                    }
                    Sent::NoEndpoint => {
                        tracing::info!(event = %event.id, kind = %event.kind, "event dropped: the account has no webhook")
                    }
                    Sent::Undeliverable(why) => {
                        tracing::error!(event = %event.id, kind = %event.kind, reason = %why, "event dead-lettered: it cannot be delivered")
                    }
                }
                crate::telemetry::task_done(&delivery.task, "ok");
                true
            }
            // Already delivered (or erased): nothing owed.
            Ok(None) => true,
            Err(e) if delivery.attempt >= settings.webhook_attempts => {
                tracing::error!(event = event_id, user = user_id, attempts = delivery.attempt, error = %e, "event dead-lettered: webhook delivery gave up");
                crate::telemetry::task_done(&delivery.task, "failed");
                true
            }
            Err(e) => {
                let wait = delivery_backoff(settings.webhook_backoff, delivery.attempt);
                tracing::warn!(event = event_id, attempt = delivery.attempt, ?wait, error = %e, "webhook delivery failed; will retry");
                crate::telemetry::task_done(&delivery.task, "retry");
                if let Err(e) = queue.retry(delivery, wait).await {
                    tracing::warn!(error = %e, "could not schedule the delivery's retry; it is redelivered when its lease lapses");
                }
                false
            }
        };
        if done {
            let removed = match self.storage().delete(&key).await {
                Ok(()) | Err(Error::NotFound(_)) => Ok(()),
                Err(e) => Err(e),
            };
            match removed {
                Ok(()) => {
                    if let Err(e) = queue.ack(delivery).await {
                        tracing::warn!(error = %e, "could not ack a delivery; it is redelivered and finds nothing owed");
                    }
                }
                // The copy stays, so the event is owed again: leave the task to lapse.
                Err(e) => {
                    tracing::warn!(event = event_id, error = %e, "could not remove a delivered event; it may be sent again")
                }
            }
        }
    }

    /// One attempt; `Ok(None)` when the event is no longer stored.
    async fn try_deliver(&self, key: &str, user_id: &str) -> Result<Option<(StoredEvent, Sent)>> {
        let bytes = match self.storage().get(key).await {
            Ok(bytes) => bytes,
            Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let event: StoredEvent = match serde_json::from_slice(&bytes) {
            Ok(event) => event,
            Err(e) => {
                let why = format!("unreadable stored event: {e}");
                let event = StoredEvent {
                    id: key.to_string(),
                    kind: String::new(),
                    body: String::new(),
                };
                return Ok(Some((event, Sent::Undeliverable(why))));
            }
        };
        let Some(sender) = self.event_sender() else {
            return Err(Error::Config(
                "this process has no webhook sender (campaign settings are not configured)".into(),
            ));
        };
        let sent = sender.send(user_id, &event.body).await?;
        Ok(Some((event, sent)))
    }

    /// Queues the delivery of every stored event (after a restart of an in-process
    /// queue). Returns how many.
    pub(crate) async fn recover_events(&self) -> Result<usize> {
        let mut n = 0;
        for key in self.storage().list(&format!("{EVENTS_ROOT}/")).await? {
            let Some((user_id, event_id)) = parse_event_key(&key) else {
                continue;
            };
            self.queue()
                .enqueue(Task::Deliver { user_id, event_id })
                .await?;
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_backoff() {
        let key = event_key("u-1", "evt_0af3");
        assert_eq!(
            parse_event_key(&key),
            Some(("u-1".into(), "evt_0af3".into()))
        );
        assert_eq!(parse_event_key("events/u-1/other.json"), None);
        let first = Duration::from_secs(2);
        let waits: Vec<u64> = (1..=5)
            .map(|a| delivery_backoff(first, a).as_secs())
            .collect();
        assert_eq!(waits, [2, 4, 8, 16, 32]);
        assert_eq!(delivery_backoff(first, 40), Duration::from_secs(3600));
    }
}
