#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The shared port suites (`outreach_core::ports::suite`) against SQLite: a temporary
//! database file (WAL, a pool of connections: the real concurrency) and the in-memory
//! store (one connection).

use std::sync::Arc;

use outreach_core::backends::SqliteStore;
use outreach_core::ports::suite::{self, accounts, jobs, ledger};
use outreach_core::ports::{CreditLedger, JobStore};

/// A store on a fresh database file; the directory lives as long as the guard.
async fn file_store() -> (Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("data/outreach.db"))
        .await
        .unwrap();
    (Arc::new(store), dir)
}

macro_rules! on_file {
    ($($name:ident: |$s:ident| $body:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let (store, _dir) = file_store().await;
            let $s = store;
            $body;
        }
    )*};
}

on_file! {
    ledger_never_negative: |s| ledger::ledger_never_negative(&*s).await;
    reserve_is_atomic_under_concurrency: |s| ledger::reserve_is_atomic_under_concurrency(s).await;
    refund_is_idempotent: |s| ledger::refund_is_idempotent(s).await;
    grant_is_idempotent: |s| ledger::grant_is_idempotent(s).await;
    balance_equals_sum_of_ledger: |s| ledger::balance_equals_sum_of_ledger(s).await;
    ensure_account_is_idempotent: |s| ledger::ensure_account_is_idempotent(s).await;
    entries_newest_first_with_total: |s| ledger::entries_newest_first_with_total(&*s).await;
    unknown_user_is_not_found: |s| ledger::unknown_user_is_not_found(&*s).await;
    plan_update_roundtrip: |s| ledger::plan_update_roundtrip(&*s).await;

    create_get_list_scoped: |s| jobs::create_get_list_scoped(&*s).await;
    claim_is_exactly_once: |s| jobs::claim_is_exactly_once(s).await;
    record_chunk_is_idempotent_and_progress_derived: |s| {
        jobs::record_chunk_is_idempotent_and_progress_derived(s).await
    };
    record_chunk_only_while_running: |s| jobs::record_chunk_only_while_running(s).await;
    chunk_rows_advance_progress_once: |s| jobs::chunk_rows_advance_progress_once(&*s).await;
    finish_exactly_once: |s| jobs::finish_exactly_once(s).await;
    retry_only_from_failed: |s| jobs::retry_only_from_failed(s).await;
    logs_in_order: |s| jobs::logs_in_order(&*s).await;
    jobs_with_status_oldest_first: |s| jobs::jobs_with_status_oldest_first(&*s).await;
    done_chunks_sorted: |s| jobs::done_chunks_sorted(&*s).await;
    credits_refunded_accumulates: |s| jobs::credits_refunded_accumulates(&*s).await;
    credits_charged_accumulates: |s| jobs::credits_charged_accumulates(&*s).await;
    unknown_job_is_not_found: |s| jobs::unknown_job_is_not_found(&*s).await;
    record_file_is_idempotent: |s| jobs::record_file_is_idempotent(&*s).await;

    job_creation_reserves_exactly: |s| suite::job_creation_reserves_exactly(s.clone(), s).await;

    local_accounts_create_and_find: |s| accounts::create_and_find_by_any_spelling(&*s).await;
    local_accounts_duplicate_email: |s| accounts::duplicate_email_is_already_exists(&*s).await;
    local_accounts_concurrent_signups: |s| accounts::concurrent_signups_create_one_user(s).await;
    local_accounts_token_versions: |s| accounts::token_versions_and_passwords(s).await;
    local_accounts_verify_once: |s| accounts::email_verification_happens_once(s).await;
    campaign_settings_roundtrip: |s| suite::campaign::settings_roundtrip_scoped(&*s).await;
    campaign_settings_erased: |s| suite::campaign::erase_removes_settings(&*s).await;
}

/// Every suite twice on one database, concurrently: nothing assumes a fresh database
/// or a quiet one (as when they run against a shared PostgreSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_suites_share_a_busy_database() {
    let (store, _dir) = file_store().await;
    let runs = (0..2).map(|_| {
        let ledger: Arc<dyn CreditLedger> = store.clone();
        let jobs: Arc<dyn JobStore> = store.clone();
        tokio::spawn(suite::run_all(ledger, jobs))
    });
    for run in runs.collect::<Vec<_>>() {
        run.await.unwrap();
    }
}

/// The in-memory store passes the same suites (its single connection serialises them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_suites_in_memory() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    suite::run_all(store.clone(), store.clone()).await;
    accounts::run_all(store).await;
}

/// Reopening a database keeps its data and does not re-run migrations.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reopen_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outreach.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .ensure_account("u1", "u1@example.test", 7)
        .await
        .unwrap();
    store.close().await;

    let url = format!("sqlite://{}", path.display());
    let again = SqliteStore::connect(&url).await.unwrap();
    assert_eq!(again.account("u1").await.unwrap().credits_remaining, 7);
}

/// `connect` creates a missing file (the `DATABASE_URL` default) and handles `:memory:`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_urls() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("new.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store
        .ensure_account("u", "u@example.test", 1)
        .await
        .unwrap();
    assert!(dir.path().join("new.db").exists());

    let memory = SqliteStore::connect("sqlite::memory:").await.unwrap();
    memory
        .ensure_account("u", "u@example.test", 2)
        .await
        .unwrap();
    assert_eq!(memory.account("u").await.unwrap().credits_remaining, 2);

    assert!(SqliteStore::connect("postgres://nope").await.is_err());
}
