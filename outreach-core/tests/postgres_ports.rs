#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The shared port suites (`outreach_core::ports::suite`) against a real PostgreSQL, and
//! the pool's recovery from a server restart.
//!
//! Run through `scripts/test-postgres.sh` (or `scripts/test.sh`), which starts a
//! throwaway server with `scripts/services/postgres.sh` and sets
//! `OUTREACH_TEST_POSTGRES_URL`. Without it these tests fail, unless
//! `OUTREACH_SKIP_SERVICES=1` says to skip them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use outreach_core::backends::{PgStore, PgStoreOptions};
use outreach_core::ports::suite::{self, accounts, fresh_id, jobs, ledger};
use outreach_core::ports::{CreditLedger, JobStore};
use outreach_core::Error;

const URL_VAR: &str = "OUTREACH_TEST_POSTGRES_URL";

/// The test server's URL; `None` (after printing why) when services are skipped.
fn server_url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("OUTREACH_SKIP_SERVICES").as_deref() == Ok("1") => {
            eprintln!("skipped {test}: OUTREACH_SKIP_SERVICES=1 (no PostgreSQL)");
            None
        }
        _ => panic!(
            "{URL_VAR} is not set. Run these tests through scripts/test.sh or \
             scripts/test-postgres.sh, which start a throwaway PostgreSQL \
             (scripts/services/postgres.sh); set OUTREACH_SKIP_SERVICES=1 to skip them."
        ),
    }
}

async fn store(test: &str) -> Option<Arc<PgStore>> {
    let url = server_url(test)?;
    Some(Arc::new(PgStore::connect(&url).await.unwrap()))
}

macro_rules! on_postgres {
    ($($name:ident: |$s:ident| $body:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let Some($s) = store(stringify!($name)).await else { return };
            $body;
        }
    )*};
}

on_postgres! {
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

/// Every suite twice at once on one database, through two stores (two pools, as two
/// server processes would have): nothing assumes a fresh or a quiet database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_suites_share_a_busy_database() {
    let Some(first) = store("all_suites_share_a_busy_database").await else {
        return;
    };
    let second = store("all_suites_share_a_busy_database").await.unwrap();
    let runs = [first, second].map(|s| {
        let ledger: Arc<dyn CreditLedger> = s.clone();
        let jobs: Arc<dyn JobStore> = s;
        tokio::spawn(suite::run_all(ledger, jobs))
    });
    for run in runs {
        run.await.unwrap();
    }
}

/// Connecting again (migrations already applied) keeps the data; concurrent connects
/// serialise on the migrator's lock instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconnect_keeps_data_and_migrations_are_idempotent() {
    let Some(url) = server_url("reconnect_keeps_data_and_migrations_are_idempotent") else {
        return;
    };
    let user = fresh_id("user");
    let store = PgStore::connect(&url).await.unwrap();
    store
        .ensure_account(&user, "u@example.test", 7)
        .await
        .unwrap();
    store.close().await;

    let connects: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PgStore::connect(&url).await })
        })
        .collect();
    for c in connects {
        let again = c.await.unwrap().unwrap();
        assert_eq!(again.account(&user).await.unwrap().credits_remaining, 7);
        again.migrate().await.unwrap();
    }
}

/// The server's own checks hold even for writers that bypass `apply`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schema_refuses_a_negative_balance_and_a_reused_key() {
    let Some(s) = store("schema_refuses_a_negative_balance_and_a_reused_key").await else {
        return;
    };
    let user = fresh_id("user");
    s.ensure_account(&user, "u@example.test", 3).await.unwrap();
    let negative = sqlx::query("UPDATE profiles SET credits_remaining = -1 WHERE id = $1")
        .bind(&user)
        .execute(s.pool())
        .await;
    assert!(negative.is_err(), "CHECK (credits_remaining >= 0)");
    let duplicate = sqlx::query(
        "INSERT INTO ledger (user_id, change, reason, idempotency_key, balance_after, ts) \
         VALUES ($1, 1, 'x', 'grant:signup', 4, now())",
    )
    .bind(&user)
    .execute(s.pool())
    .await;
    assert!(duplicate.is_err(), "UNIQUE (user_id, idempotency_key)");
    ledger::assert_ledger_consistent(&*s, &user).await;
}

// ---------------------------------------------------------------------------------------
// Restarts. These run a server of their own (in `$OUTREACH_TEST_POSTGRES_DIR/extra/…`,
// so stopping the shared server also stops it if this process dies), never the shared
// one: restarting that would break the suites running in parallel.

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/services/postgres.sh")
}

/// Runs the service script; returns its stdout, panicking with its stderr on failure.
fn run_script(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "postgres.sh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A PostgreSQL of this test's own; stopped (and its directory removed) on drop.
struct OwnServer {
    dir: String,
    url: String,
}

impl OwnServer {
    fn start() -> OwnServer {
        let parent = match std::env::var("OUTREACH_TEST_POSTGRES_DIR") {
            Ok(d) if !d.is_empty() => PathBuf::from(d).join("extra"),
            _ => std::env::temp_dir(),
        };
        let dir = parent.join(format!("restart-{}", fresh_id("pg")));
        let dir = dir.to_str().unwrap().to_owned();
        let out = run_script(&["start", &dir]);
        let var = |name: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("postgres.sh start printed no {name}: {out:?}"))
                .to_owned()
        };
        assert_eq!(var("OUTREACH_TEST_POSTGRES_DIR"), dir);
        OwnServer {
            url: var(URL_VAR),
            dir,
        }
    }

    async fn script(&self, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_script(&args)
        })
        .await
        .unwrap()
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", &self.dir])
            .output();
    }
}

/// Retries `op` until it succeeds or `within` has passed; every failure before that
/// must be `Error::Database` (never a panic or another kind). Returns the failures.
async fn until_ok<T, F, Fut>(within: Duration, mut op: F) -> (T, usize)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = outreach_core::Result<T>>,
{
    let deadline = Instant::now() + within;
    let mut failures = 0;
    loop {
        match op().await {
            Ok(v) => return (v, failures),
            Err(Error::Database(msg)) if Instant::now() < deadline => {
                failures += 1;
                eprintln!("  not yet: {msg}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("gave up after {within:?} and {failures} failures: {e:?}"),
        }
    }
}

/// A restarted server does not poison the pool: connections it broke are replaced, and
/// queries succeed again within seconds. While the server is down, queries fail with
/// `Error::Database` after the acquire timeout (no panic, no hang).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pool_recovers_after_server_restart() {
    if server_url("pool_recovers_after_server_restart").is_none() {
        return;
    }
    let server = tokio::task::spawn_blocking(OwnServer::start).await.unwrap();
    let options = PgStoreOptions {
        max_connections: 5,
        acquire_timeout: Duration::from_secs(2),
        ..PgStoreOptions::default()
    };
    let store = Arc::new(PgStore::connect_with(&server.url, options).await.unwrap());
    let user = fresh_id("user");
    store
        .ensure_account(&user, "u@example.test", 10)
        .await
        .unwrap();
    // Fill the pool: every connection will be broken by the restart.
    let warm: Vec<_> = (0..5)
        .map(|_| {
            let s = store.clone();
            let u = user.clone();
            tokio::spawn(async move { s.account(&u).await })
        })
        .collect();
    for w in warm {
        w.await.unwrap().unwrap();
    }
    assert!(
        store.pool().size() >= 2,
        "pool size {}",
        store.pool().size()
    );

    // 1. Restart (same port, same data).
    let t = Instant::now();
    server.script(&["restart", &server.dir]).await;
    let (account, failures) = until_ok(Duration::from_secs(5), || store.account(&user)).await;
    assert_eq!(account.credits_remaining, 10, "data survives the restart");
    eprintln!(
        "after restart: first success {:?} after the restart began, {failures} failures",
        t.elapsed()
    );
    // The restart broke every pooled connection; the pool must find that out itself
    // (test_before_acquire) rather than hand them to queries.
    assert_eq!(
        failures, 0,
        "a query was given a connection the restart broke"
    );
    // Every pooled connection works again, for writes too.
    let after: Vec<_> = (0..10)
        .map(|i| {
            let s = store.clone();
            let u = user.clone();
            tokio::spawn(async move {
                until_ok(Duration::from_secs(5), || {
                    s.apply(outreach_core::ports::NewEntry {
                        user_id: u.clone(),
                        change: -1,
                        amount_usd: None,
                        reason: "after restart".into(),
                        idempotency_key: format!("reserve:r{i}#1"),
                    })
                })
                .await
            })
        })
        .collect();
    for a in after {
        let (_, failures) = a.await.unwrap();
        assert_eq!(
            failures, 0,
            "a write was given a connection the restart broke"
        );
    }
    assert_eq!(store.account(&user).await.unwrap().credits_remaining, 0);
    ledger::assert_ledger_consistent(&*store, &user).await;

    // 2. Down for a while: an error, not a panic or a hang; then back.
    server.script(&["stop", &server.dir, "--keep"]).await;
    let t = Instant::now();
    match store.account(&user).await {
        Err(Error::Database(msg)) => eprintln!("while down ({:?}): {msg}", t.elapsed()),
        other => panic!("a query while the server is down must be Error::Database: {other:?}"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "bounded by the acquire timeout"
    );
    server.script(&["start", &server.dir]).await;
    let (account, _) = until_ok(Duration::from_secs(5), || store.account(&user)).await;
    assert_eq!(account.credits_remaining, 0);
    let job = store
        .create_job(jobs::new_job(&user, 3))
        .await
        .expect("writes work after the server came back");
    assert_eq!(job.user_id, user);
}
