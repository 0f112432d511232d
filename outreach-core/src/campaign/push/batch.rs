//! What the batch adapters (Instantly, Smartlead) share when a batch comes back: the
//! per-lead verdict from a reply that counts instead of naming each lead (a repeat
//! push is the usual case: some or all leads already in the campaign), and resending
//! a batch without the lead a validation error named.

use std::future::Future;

use super::LeadResult;
use crate::error::Result;

/// A batch reply's counts: how many of the leads it judged were created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counts {
    /// Leads the service created from this request.
    pub created: u64,
    /// Leads the count is about (the request's leads without those named elsewhere).
    pub sent: u64,
}

impl Counts {
    /// A lead's verdict when the reply does not name it: exact when the batch was
    /// created whole (`pushed`) or not at all (`not_created`, e.g. "duplicate: already
    /// in the campaign"); a mixed batch cannot say which lead was already there, so its
    /// leads are `pushed` (each is in the campaign now) with the counts in the reason.
    pub fn verdict(self, service: &str, not_created: impl FnOnce() -> LeadResult) -> LeadResult {
        if self.created >= self.sent {
            LeadResult::pushed()
        } else if self.created == 0 {
            not_created()
        } else {
            LeadResult {
                reason: format!(
                    "in the campaign; {service} created {} of this batch of {} (the rest were already there or blocked)",
                    self.created, self.sent
                ),
                ..LeadResult::pushed()
            }
        }
    }
}

/// One request's outcome for [`send_dropping_refused`].
#[derive(Debug)]
pub(super) enum Sent {
    /// One verdict per lead of the request, in order.
    Judged(Vec<LeadResult>),
    /// The whole request was refused because of the lead at this index (of the
    /// request), with the service's message.
    Refused { index: usize, message: String },
}

/// Sends `count` leads with `send` (given the indices still pending); a lead a
/// validation error names is rejected with the message and the rest are sent again,
/// until a request is judged. Returns one verdict per lead, in order. Each resend
/// drops a lead, so this ends after at most `count + 1` requests.
pub(super) async fn send_dropping_refused<F, Fut>(
    count: usize,
    mut send: F,
) -> Result<Vec<LeadResult>>
where
    F: FnMut(Vec<usize>) -> Fut,
    Fut: Future<Output = Result<Sent>>,
{
    let mut results: Vec<Option<LeadResult>> = vec![None; count];
    let mut pending: Vec<usize> = (0..count).collect();
    while !pending.is_empty() {
        match send(pending.clone()).await? {
            Sent::Judged(verdicts) => {
                for (&i, verdict) in pending.iter().zip(verdicts) {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(verdict);
                    }
                }
                pending.clear();
            }
            Sent::Refused { index, message } if index < pending.len() => {
                let i = pending.remove(index);
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(LeadResult::rejected(message));
                }
            }
            Sent::Refused { message, .. } => {
                // The service named a lead the request did not have: nothing to drop.
                for &i in &pending {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(LeadResult::rejected(message.clone()));
                    }
                }
                pending.clear();
            }
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| LeadResult::rejected("no result")))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use super::super::PushStatus;
    use super::*;

    #[test]
    fn counts_are_exact_when_all_or_nothing() {
        let dup = || LeadResult::skipped("duplicate");
        let cases = [
            (3, 3, PushStatus::Pushed, ""),
            (0, 3, PushStatus::Skipped, "duplicate"),
            (0, 0, PushStatus::Pushed, ""),
        ];
        for (created, sent, status, reason) in cases {
            let v = Counts { created, sent }.verdict("Instantly", dup);
            assert_eq!(
                (v.status, v.reason.as_str()),
                (status, reason),
                "{created}/{sent}"
            );
        }
        let mixed = Counts {
            created: 1,
            sent: 3,
        }
        .verdict("Smartlead", dup);
        assert_eq!(mixed.status, PushStatus::Pushed);
        assert!(
            mixed
                .reason
                .contains("Smartlead created 1 of this batch of 3"),
            "{}",
            mixed.reason
        );
    }

    #[tokio::test]
    async fn refused_leads_are_dropped_and_the_rest_resent() {
        // Leads 1 and 3 are refused one request at a time; the third request is judged.
        let requests = Mutex::new(Vec::new());
        let results = send_dropping_refused(4, |pending| {
            requests.lock().unwrap().push(pending.clone());
            let refused = [1usize, 3]
                .into_iter()
                .find_map(|bad| pending.iter().position(|&i| i == bad));
            async move {
                Ok(match refused {
                    Some(index) => Sent::Refused {
                        index,
                        message: format!("body/leads/{index}/email must match format \"email\""),
                    },
                    None => Sent::Judged(vec![LeadResult::pushed(); pending.len()]),
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(
            *requests.lock().unwrap(),
            [vec![0, 1, 2, 3], vec![0, 2, 3], vec![0, 2]]
        );
        let statuses: Vec<_> = results.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                PushStatus::Pushed,
                PushStatus::Rejected,
                PushStatus::Pushed,
                PushStatus::Rejected
            ]
        );
        assert!(
            results[3].reason.contains("leads/2/email"),
            "{}",
            results[3].reason
        );
    }

    #[tokio::test]
    async fn an_index_out_of_range_rejects_the_batch_once() {
        let mut calls = 0;
        let results = send_dropping_refused(2, |_| {
            calls += 1;
            async {
                Ok(Sent::Refused {
                    index: 9,
                    message: "body/leads/9/email".into(),
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(calls, 1);
        assert!(results.iter().all(|r| r.status == PushStatus::Rejected));
    }
}
