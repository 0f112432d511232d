//! Shared test suites: one set of checks that every implementation of a port must pass
//! (the pattern of `object_store`'s `integration` module). SQLite runs them in
//! `tests/sqlite_ports.rs`; PostgreSQL and other backends call the same functions.
//!
//! Built under `cfg(test)` or the `test-suite` feature. Each function panics with a
//! message naming the broken rule. None assumes a fresh database: every call works on
//! new random user and job ids, so the suites can run repeatedly, in parallel, against
//! a shared server.
//!
//! Functions that need real concurrency take an `Arc<dyn …>` and spawn tasks: run them
//! on a multi-thread runtime (`#[tokio::test(flavor = "multi_thread")]`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod accounts;
pub mod campaign;
pub mod jobs;
pub mod ledger;
pub mod queue;
pub mod storage;
pub mod user_data;

use std::sync::Arc;

use crate::error::Error;
use crate::ports::{Applied, CreditLedger, JobStore, NewEntry};

/// A fresh id nobody else uses (uuid v4), with a readable prefix.
pub fn fresh_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// A fresh user id with an email of its own.
pub(crate) fn fresh_user() -> (String, String) {
    let user = fresh_id("user");
    let email = format!("{user}@example.test");
    (user, email)
}

pub(crate) fn entry(user: &str, change: i64, key: &str) -> NewEntry {
    NewEntry {
        user_id: user.to_owned(),
        change,
        amount_usd: None,
        reason: format!("suite: {key}"),
        idempotency_key: key.to_owned(),
    }
}

/// Runs every ledger suite, then every job suite, then the ones that need both.
pub async fn run_all(ledger: Arc<dyn CreditLedger>, jobs: Arc<dyn JobStore>) {
    ledger::run_all(ledger.clone()).await;
    self::jobs::run_all(jobs.clone()).await;
    user_data::run_all(jobs.clone()).await;
    job_creation_reserves_exactly(ledger, jobs).await;
}

/// 100 concurrent job creations (reserve the job's cost, then create the job) against a
/// balance that covers 10 of them: exactly 10 succeed, the balance ends at the exact
/// remainder, the ledger sums to it, and only the 10 jobs exist.
pub async fn job_creation_reserves_exactly(ledger: Arc<dyn CreditLedger>, jobs: Arc<dyn JobStore>) {
    const COST: i64 = 7;
    const CREATIONS: usize = 100;
    let (user, email) = fresh_user();
    // Covers 10 jobs and leaves 5, less than an eleventh.
    let start = 10 * COST + 5;
    ledger.ensure_account(&user, &email, start).await.unwrap();

    let mut tasks = Vec::with_capacity(CREATIONS);
    for _ in 0..CREATIONS {
        let ledger = ledger.clone();
        let jobs = jobs.clone();
        let user = user.clone();
        tasks.push(tokio::spawn(async move {
            let job_id = fresh_id("job");
            let reserved = ledger
                .apply(NewEntry {
                    user_id: user.clone(),
                    change: -COST,
                    amount_usd: None,
                    reason: format!("job deduction: {job_id}"),
                    idempotency_key: format!("reserve:{job_id}#1"),
                })
                .await;
            match reserved {
                Ok(Applied::Applied { .. }) => {
                    let mut new = self::jobs::new_job(&user, COST as u64);
                    new.id = job_id;
                    new.credits_charged = COST;
                    jobs.create_job(new).await.unwrap();
                    Ok(())
                }
                Ok(other) => panic!("a fresh reservation key was {other:?}"),
                Err(e) => Err(e),
            }
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => created += 1,
            Err(Error::InsufficientCredits { needed, available }) => {
                assert_eq!(needed, COST, "InsufficientCredits.needed is the cost");
                assert_eq!(
                    available, 5,
                    "a reservation may only be refused once the 10 that fit are taken"
                );
            }
            Err(e) => panic!("a reservation failed with {e:?} (expected InsufficientCredits)"),
        }
    }
    assert_eq!(
        created, 10,
        "exactly the 10 creations the balance covers succeed"
    );
    let account = ledger.account(&user).await.unwrap();
    assert_eq!(
        account.credits_remaining, 5,
        "the balance ends at the exact remainder"
    );
    ledger::assert_ledger_consistent(&*ledger, &user).await;
    let (listed, total) = jobs.list_jobs(&user, 0, 1000).await.unwrap();
    assert_eq!(total, 10, "only the jobs whose credits were reserved exist");
    assert_eq!(listed.len(), 10);
    assert!(listed.iter().all(|j| j.credits_charged == COST));
}
