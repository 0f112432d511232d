//! The `CreditLedger` suite: the rules of its `# Contract`, including under concurrency.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{entry, fresh_id, fresh_user};
use crate::error::Error;
use crate::ports::{Applied, CreditLedger, LedgerEntry, PlanUpdate};

/// Runs every ledger check.
pub async fn run_all(ledger: Arc<dyn CreditLedger>) {
    ledger_never_negative(&*ledger).await;
    reserve_is_atomic_under_concurrency(ledger.clone()).await;
    refund_is_idempotent(ledger.clone()).await;
    grant_is_idempotent(ledger.clone()).await;
    balance_equals_sum_of_ledger(ledger.clone()).await;
    ensure_account_is_idempotent(ledger.clone()).await;
    entries_newest_first_with_total(&*ledger).await;
    unknown_user_is_not_found(&*ledger).await;
    plan_update_roundtrip(&*ledger).await;
    claw_back_never_below_zero_and_debt_paid_first(&*ledger).await;
    find_by_stripe_customer(&*ledger).await;
}

/// Every entry of `user`, oldest first.
pub async fn all_entries(ledger: &dyn CreditLedger, user: &str) -> Vec<LedgerEntry> {
    let (mut entries, total) = ledger.entries(user, 0, u64::MAX).await.unwrap();
    assert_eq!(
        entries.len() as u64,
        total,
        "entries(0, MAX) returns all `total` entries"
    );
    entries.reverse();
    entries
}

/// The ledger invariants for one user: the balance is the sum of the changes and never
/// negative; oldest first, each `balance_after` is the running sum; keys are unique.
pub async fn assert_ledger_consistent(ledger: &dyn CreditLedger, user: &str) {
    let account = ledger.account(user).await.unwrap();
    let entries = all_entries(ledger, user).await;
    let mut running = 0;
    let mut keys = HashSet::new();
    let mut last_id = None;
    for e in &entries {
        assert_eq!(e.user_id, user, "entries() returned another user's entry");
        if let Some(last) = last_id {
            assert!(e.id > last, "entry ids increase in the order entries apply");
        }
        last_id = Some(e.id);
        running += e.change;
        assert_eq!(
            e.balance_after, running,
            "entry {} ({}): balance_after must be the running sum of changes",
            e.id, e.idempotency_key
        );
        assert!(running >= 0, "the balance went negative at entry {}", e.id);
        assert!(
            keys.insert(e.idempotency_key.clone()),
            "idempotency key {} used twice",
            e.idempotency_key
        );
    }
    assert_eq!(
        account.credits_remaining, running,
        "credits_remaining must equal the sum of the ledger"
    );
}

/// A negative change that would take the balance below zero fails with
/// `InsufficientCredits { needed, available }` and writes nothing.
pub async fn ledger_never_negative(ledger: &dyn CreditLedger) {
    let (user, email) = fresh_user();
    ledger.ensure_account(&user, &email, 5).await.unwrap();

    match ledger.apply(entry(&user, -6, "reserve:a#1")).await {
        Err(Error::InsufficientCredits { needed, available }) => {
            assert_eq!(
                (needed, available),
                (6, 5),
                "needed/available of a refused reserve"
            );
        }
        other => panic!("reserving 6 of 5 credits must be InsufficientCredits, got {other:?}"),
    }
    assert_eq!(ledger.account(&user).await.unwrap().credits_remaining, 5);
    assert_eq!(
        all_entries(ledger, &user).await.len(),
        1,
        "a refused reserve writes no entry"
    );

    assert_eq!(
        ledger.apply(entry(&user, -5, "reserve:b#1")).await.unwrap(),
        Applied::Applied { balance: 0 }
    );
    match ledger.apply(entry(&user, -1, "reserve:c#1")).await {
        Err(Error::InsufficientCredits { needed, available }) => {
            assert_eq!((needed, available), (1, 0));
        }
        other => panic!("reserving 1 of 0 credits must be InsufficientCredits, got {other:?}"),
    }
    // The refused key was not written, so it can be used once credits are there.
    ledger.apply(entry(&user, 3, "grant:c")).await.unwrap();
    assert_eq!(
        ledger.apply(entry(&user, -1, "reserve:c#1")).await.unwrap(),
        Applied::Applied { balance: 2 },
        "a key whose apply was refused must not count as used"
    );
    assert_ledger_consistent(ledger, &user).await;
}

/// 100 concurrent reserves of 1 against a balance of 10: exactly 10 succeed, the others
/// are `InsufficientCredits { needed: 1, available: 0 }`, the balance ends at 0.
pub async fn reserve_is_atomic_under_concurrency(ledger: Arc<dyn CreditLedger>) {
    let (user, email) = fresh_user();
    ledger.ensure_account(&user, &email, 10).await.unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let ledger = ledger.clone();
            let user = user.clone();
            tokio::spawn(async move {
                ledger
                    .apply(entry(&user, -1, &format!("reserve:job-{i}#1")))
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    let mut balances = HashSet::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(Applied::Applied { balance }) => {
                ok += 1;
                assert!(
                    balances.insert(balance),
                    "two reserves both left balance {balance}"
                );
            }
            Ok(other) => panic!("a fresh key came back {other:?}"),
            Err(Error::InsufficientCredits { needed, available }) => {
                assert_eq!(
                    (needed, available),
                    (1, 0),
                    "refused only once the balance is 0"
                );
            }
            Err(e) => panic!("concurrent reserve failed with {e:?} (a busy/lock error leaked?)"),
        }
    }
    assert_eq!(
        ok, 10,
        "exactly 10 of 100 concurrent reserves fit a balance of 10"
    );
    assert_eq!(
        balances,
        (0..10).collect(),
        "each success saw its own balance"
    );
    assert_eq!(ledger.account(&user).await.unwrap().credits_remaining, 0);
    assert_ledger_consistent(&*ledger, &user).await;
}

/// The same refund key twice, or 20 times at once, pays once.
pub async fn refund_is_idempotent(ledger: Arc<dyn CreditLedger>) {
    let (user, email) = fresh_user();
    ledger.ensure_account(&user, &email, 10).await.unwrap();

    ledger
        .apply(entry(&user, -4, "reserve:j1#1"))
        .await
        .unwrap();
    assert_eq!(
        ledger.apply(entry(&user, 4, "refund:j1#1")).await.unwrap(),
        Applied::Applied { balance: 10 }
    );
    assert_eq!(
        ledger.apply(entry(&user, 4, "refund:j1#1")).await.unwrap(),
        Applied::AlreadyApplied { balance: 10 },
        "a second refund with the same key changes nothing"
    );
    assert_eq!(
        ledger
            .apply(entry(&user, 100, "refund:j1#1"))
            .await
            .unwrap(),
        Applied::AlreadyApplied { balance: 10 },
        "a reused key is AlreadyApplied whatever its amount"
    );

    ledger
        .apply(entry(&user, -3, "reserve:j2#1"))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let ledger = ledger.clone();
            let user = user.clone();
            tokio::spawn(async move { ledger.apply(entry(&user, 3, "refund:j2#1")).await })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Applied::Applied { balance }) => {
                applied += 1;
                assert_eq!(balance, 10);
            }
            Ok(Applied::AlreadyApplied { balance }) => {
                // Seen after the winner committed: the refunded balance.
                assert_eq!(balance, 10, "AlreadyApplied reports the current balance");
            }
            Err(e) => panic!("concurrent refund failed with {e:?}"),
        }
    }
    assert_eq!(
        applied, 1,
        "20 concurrent refunds with one key pay exactly once"
    );
    let refunds = all_entries(&*ledger, &user)
        .await
        .into_iter()
        .filter(|e| e.idempotency_key == "refund:j2#1")
        .count();
    assert_eq!(refunds, 1, "one ledger entry per refund key");
    assert_eq!(ledger.account(&user).await.unwrap().credits_remaining, 10);
    assert_ledger_consistent(&*ledger, &user).await;
}

/// A grant (a Stripe event) applied twice, or concurrently, pays once; keys are per user.
pub async fn grant_is_idempotent(ledger: Arc<dyn CreditLedger>) {
    let (user, email) = fresh_user();
    let (other, other_email) = fresh_user();
    ledger.ensure_account(&user, &email, 0).await.unwrap();
    ledger
        .ensure_account(&other, &other_email, 0)
        .await
        .unwrap();
    let key = format!("grant:{}", fresh_id("evt"));

    let mut grant = entry(&user, 50, &key);
    grant.amount_usd = Some(19.0);
    grant.reason = "purchase: starter".into();
    assert_eq!(
        ledger.apply(grant.clone()).await.unwrap(),
        Applied::Applied { balance: 50 }
    );
    assert_eq!(
        ledger.apply(grant.clone()).await.unwrap(),
        Applied::AlreadyApplied { balance: 50 }
    );
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let ledger = ledger.clone();
            let grant = grant.clone();
            tokio::spawn(async move { ledger.apply(grant).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(
            task.await.unwrap().unwrap(),
            Applied::AlreadyApplied { balance: 50 },
            "a replayed grant must not pay again"
        );
    }
    // The same key for another user is another effect.
    assert_eq!(
        ledger.apply(entry(&other, 50, &key)).await.unwrap(),
        Applied::Applied { balance: 50 },
        "idempotency keys are per user"
    );
    let entries = all_entries(&*ledger, &user).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].amount_usd, Some(19.0));
    assert_eq!(entries[0].reason, "purchase: starter");
    assert_ledger_consistent(&*ledger, &user).await;
    assert_ledger_consistent(&*ledger, &other).await;
}

/// After a random concurrent mix of reserves, refunds and grants (some keys repeated),
/// the balance is the sum of the ledger and each `balance_after` is consistent.
pub async fn balance_equals_sum_of_ledger(ledger: Arc<dyn CreditLedger>) {
    let (user, email) = fresh_user();
    ledger.ensure_account(&user, &email, 20).await.unwrap();
    let seed: u64 = rand::random();
    let mut rng = StdRng::seed_from_u64(seed);
    let ops: Vec<(i64, String)> = (0..80)
        .map(|_| {
            let change = rng.random_range(-6..=6);
            // 30 keys for 80 operations: many repeats, some with other amounts.
            let key = format!("op:{}", rng.random_range(0..30));
            (change, key)
        })
        .collect();
    let tasks: Vec<_> = ops
        .into_iter()
        .map(|(change, key)| {
            let ledger = ledger.clone();
            let user = user.clone();
            tokio::spawn(async move { ledger.apply(entry(&user, change, &key)).await })
        })
        .collect();
    let mut seen_balances = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(Applied::Applied { balance }) => seen_balances.push(balance),
            Ok(Applied::AlreadyApplied { .. }) | Err(Error::InsufficientCredits { .. }) => {}
            Err(e) => panic!("apply failed with {e:?} (seed {seed})"),
        }
    }
    assert_ledger_consistent(&*ledger, &user).await;
    let after: HashSet<i64> = all_entries(&*ledger, &user)
        .await
        .iter()
        .map(|e| e.balance_after)
        .collect();
    for b in seen_balances {
        assert!(
            after.contains(&b),
            "apply returned balance {b}, which no entry's balance_after shows (seed {seed})"
        );
    }
}

/// Concurrent first sight of a user creates one account with one signup grant; later
/// calls return it unchanged.
pub async fn ensure_account_is_idempotent(ledger: Arc<dyn CreditLedger>) {
    let (user, email) = fresh_user();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let ledger = ledger.clone();
            let user = user.clone();
            let email = email.clone();
            tokio::spawn(async move { ledger.ensure_account(&user, &email, 25).await })
        })
        .collect();
    for task in tasks {
        let account = task.await.unwrap().unwrap();
        assert_eq!(account.user_id, user);
        assert_eq!(account.email, email);
        assert_eq!(
            account.credits_remaining, 25,
            "every caller sees the granted account"
        );
    }
    let entries = all_entries(&*ledger, &user).await;
    assert_eq!(
        entries.len(),
        1,
        "one signup grant, whatever the number of first calls"
    );
    assert_eq!(entries[0].idempotency_key, "grant:signup");
    assert_eq!(entries[0].change, 25);

    ledger.apply(entry(&user, -5, "reserve:x#1")).await.unwrap();
    let again = ledger
        .ensure_account(&user, "other@example.test", 999)
        .await
        .unwrap();
    assert_eq!(again.credits_remaining, 20, "a later call changes nothing");
    assert_eq!(again.email, email, "a later call keeps the email");
    assert_ledger_consistent(&*ledger, &user).await;

    let (empty, empty_email) = fresh_user();
    let account = ledger
        .ensure_account(&empty, &empty_email, 0)
        .await
        .unwrap();
    assert_eq!(account.credits_remaining, 0);
    assert_ledger_consistent(&*ledger, &empty).await;
}

/// `entries` is newest first, with the total, and pages with offset/limit.
pub async fn entries_newest_first_with_total(ledger: &dyn CreditLedger) {
    let (user, email) = fresh_user();
    ledger.ensure_account(&user, &email, 0).await.unwrap();
    let before = Utc::now() - chrono::Duration::seconds(5);
    for i in 0..5 {
        ledger
            .apply(entry(&user, i + 1, &format!("grant:g{i}")))
            .await
            .unwrap();
    }
    let after = Utc::now() + chrono::Duration::seconds(5);

    let keys = |entries: &[LedgerEntry]| -> Vec<String> {
        entries.iter().map(|e| e.idempotency_key.clone()).collect()
    };
    let (page, total) = ledger.entries(&user, 0, 2).await.unwrap();
    assert_eq!(total, 5, "total counts every entry, not the page");
    assert_eq!(keys(&page), ["grant:g4", "grant:g3"], "newest first");
    let (page, total) = ledger.entries(&user, 2, 2).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(keys(&page), ["grant:g2", "grant:g1"]);
    let (page, _) = ledger.entries(&user, 4, 10).await.unwrap();
    assert_eq!(keys(&page), ["grant:g0"]);
    let (page, total) = ledger.entries(&user, 10, 10).await.unwrap();
    assert!(page.is_empty(), "an offset past the end is an empty page");
    assert_eq!(total, 5);

    let (all, _) = ledger.entries(&user, 0, 100).await.unwrap();
    for pair in all.windows(2) {
        assert!(pair[0].id > pair[1].id, "newest first by id");
        assert!(pair[0].ts >= pair[1].ts, "newest first by time");
    }
    let g4 = &all[0];
    assert_eq!((g4.change, g4.balance_after), (5, 15));
    assert_eq!(g4.reason, "suite: grant:g4");
    assert_eq!(g4.amount_usd, None);
    assert!(
        before < g4.ts && g4.ts < after,
        "ts is the time of the apply"
    );
}

/// Unknown users are `NotFound`, not empty accounts.
pub async fn unknown_user_is_not_found(ledger: &dyn CreditLedger) {
    let user = fresh_id("nobody");
    assert!(
        matches!(ledger.account(&user).await, Err(Error::NotFound(_))),
        "account() of an unknown user"
    );
    assert!(
        matches!(
            ledger.apply(entry(&user, 5, "grant:x")).await,
            Err(Error::NotFound(_))
        ),
        "apply() of an unknown user (a grant must not create an account)"
    );
    assert!(
        matches!(
            ledger.apply(entry(&user, -5, "reserve:x#1")).await,
            Err(Error::NotFound(_))
        ),
        "apply() of an unknown user"
    );
    assert!(
        matches!(ledger.entries(&user, 0, 10).await, Err(Error::NotFound(_))),
        "entries() of an unknown user"
    );
    assert!(
        matches!(
            ledger.update_plan(&user, PlanUpdate::default()).await,
            Err(Error::NotFound(_))
        ),
        "update_plan() of an unknown user"
    );
    assert!(ledger.account(&user).await.is_err(), "nothing was created");
    assert_eq!(
        ledger
            .find_by_email(&format!("{user}@example.test"))
            .await
            .unwrap(),
        None
    );
}

/// Plan fields round-trip; `None` leaves a field unchanged; credits are untouched.
pub async fn plan_update_roundtrip(ledger: &dyn CreditLedger) {
    let (user, email) = fresh_user();
    let created = ledger.ensure_account(&user, &email, 10).await.unwrap();
    assert_eq!(
        created.plan_type, "free",
        "new accounts are on the free plan"
    );
    assert_eq!(created.subscription_status, "inactive");
    assert_eq!(created.renewal_date, None);

    let renewal =
        Utc.with_ymd_and_hms(2031, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(678);
    let update = PlanUpdate {
        plan_type: Some("growth".into()),
        max_credits: Some(5000),
        subscription_status: Some("active".into()),
        renewal_date: Some(renewal),
        stripe_customer_id: Some("cus_123".into()),
        stripe_subscription_id: Some("sub_456".into()),
        stripe_price_id: Some("price_789".into()),
    };
    let updated = ledger.update_plan(&user, update).await.unwrap();
    assert_eq!(updated.plan_type, "growth");
    assert_eq!(updated.max_credits, 5000);
    assert_eq!(updated.subscription_status, "active");
    assert_eq!(
        updated.renewal_date,
        Some(renewal),
        "renewal_date round-trips"
    );
    assert_eq!(updated.stripe_customer_id.as_deref(), Some("cus_123"));
    assert_eq!(updated.stripe_subscription_id.as_deref(), Some("sub_456"));
    assert_eq!(updated.stripe_price_id.as_deref(), Some("price_789"));
    assert_eq!(
        updated.credits_remaining, 10,
        "a plan update does not move credits"
    );
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(
        ledger.account(&user).await.unwrap(),
        updated,
        "account() agrees"
    );

    let partial = ledger
        .update_plan(
            &user,
            PlanUpdate {
                subscription_status: Some("paused".into()),
                ..PlanUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(partial.subscription_status, "paused");
    assert_eq!(
        PlanUpdate {
            subscription_status: None,
            ..partial_fields(&partial)
        },
        PlanUpdate {
            subscription_status: None,
            ..partial_fields(&updated)
        },
        "fields left None are unchanged"
    );

    let found = ledger.find_by_email(&email).await.unwrap();
    assert_eq!(
        found.map(|a| a.user_id),
        Some(user.clone()),
        "find_by_email"
    );
    assert_ledger_consistent(ledger, &user).await;
}

fn partial_fields(a: &crate::ports::Account) -> PlanUpdate {
    PlanUpdate {
        plan_type: Some(a.plan_type.clone()),
        max_credits: Some(a.max_credits),
        subscription_status: Some(a.subscription_status.clone()),
        renewal_date: a.renewal_date,
        stripe_customer_id: a.stripe_customer_id.clone(),
        stripe_subscription_id: a.stripe_subscription_id.clone(),
        stripe_price_id: a.stripe_price_id.clone(),
    }
}

/// Credits taken back after they were spent: the balance stops at zero, the rest is
/// debt, and the next credits pay the debt before the user sees them. Idempotent.
pub async fn claw_back_never_below_zero_and_debt_paid_first(ledger: &dyn CreditLedger) {
    let (user, email) = fresh_user();
    ledger.ensure_account(&user, &email, 0).await.unwrap();
    ledger
        .apply(entry(&user, 500, "grant:evt_buy"))
        .await
        .unwrap();
    // 400 of the 500 are spent on a job.
    ledger
        .apply(entry(&user, -400, "reserve:j#1"))
        .await
        .unwrap();

    // The purchase is refunded: 500 back, only 100 there.
    assert_eq!(
        ledger
            .claw_back(entry(&user, -500, "clawback:ch_1"))
            .await
            .unwrap(),
        Applied::Applied { balance: 0 }
    );
    let account = ledger.account(&user).await.unwrap();
    assert_eq!((account.credits_remaining, account.credit_debt), (0, 400));
    // Delivered again: nothing more taken, no more debt.
    assert_eq!(
        ledger
            .claw_back(entry(&user, -500, "clawback:ch_1"))
            .await
            .unwrap(),
        Applied::AlreadyApplied { balance: 0 }
    );
    assert_eq!(ledger.account(&user).await.unwrap().credit_debt, 400);
    // A second claw-back with nothing left: a zero entry, all of it debt.
    ledger
        .claw_back(entry(&user, -50, "clawback:dp_1"))
        .await
        .unwrap();
    assert_eq!(ledger.account(&user).await.unwrap().credit_debt, 450);

    // A grant smaller than the debt goes entirely to it.
    assert_eq!(
        ledger
            .apply(entry(&user, 300, "grant:evt_2"))
            .await
            .unwrap(),
        Applied::Applied { balance: 0 }
    );
    let account = ledger.account(&user).await.unwrap();
    assert_eq!((account.credits_remaining, account.credit_debt), (0, 150));
    // A larger one pays the rest; the user keeps the difference; replay changes nothing.
    for _ in 0..2 {
        assert_eq!(
            ledger
                .apply(entry(&user, 1000, "grant:evt_3"))
                .await
                .unwrap()
                .balance(),
            850
        );
    }
    let account = ledger.account(&user).await.unwrap();
    assert_eq!((account.credits_remaining, account.credit_debt), (850, 0));
    let keys: Vec<_> = all_entries(ledger, &user)
        .await
        .into_iter()
        .map(|e| (e.idempotency_key, e.change))
        .collect();
    assert_eq!(
        keys.iter()
            .filter(|(k, _)| k.starts_with("debt:"))
            .cloned()
            .collect::<Vec<_>>(),
        vec![
            ("debt:grant:evt_2".to_string(), -300),
            ("debt:grant:evt_3".to_string(), -150)
        ]
    );
    // Without debt a grant is whole again.
    ledger.apply(entry(&user, 10, "grant:evt_4")).await.unwrap();
    assert_eq!(ledger.account(&user).await.unwrap().credits_remaining, 860);
    assert_ledger_consistent(ledger, &user).await;

    // A non-negative claw-back is refused; an unknown user is NotFound.
    assert!(matches!(
        ledger.claw_back(entry(&user, 5, "clawback:x")).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        ledger
            .claw_back(entry(&fresh_id("ghost"), -5, "clawback:y"))
            .await,
        Err(Error::NotFound(_))
    ));
}

/// Refunds name Stripe customers: the account is found by its customer id.
pub async fn find_by_stripe_customer(ledger: &dyn CreditLedger) {
    let (user, email) = fresh_user();
    ledger.ensure_account(&user, &email, 0).await.unwrap();
    let customer = fresh_id("cus");
    assert!(ledger
        .find_by_stripe_customer(&customer)
        .await
        .unwrap()
        .is_none());
    ledger
        .update_plan(
            &user,
            PlanUpdate {
                stripe_customer_id: Some(customer.clone()),
                ..PlanUpdate::default()
            },
        )
        .await
        .unwrap();
    let found = ledger.find_by_stripe_customer(&customer).await.unwrap();
    assert_eq!(found.map(|a| a.user_id), Some(user));
    assert!(ledger.find_by_stripe_customer("").await.unwrap().is_none());
}
