#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Many workers on real PostgreSQL, Redis and S3 (moto), started by
//! `scripts/test-scale.sh`: a worker killed mid-job, Redis and PostgreSQL restarted
//! mid-job, and 100 concurrent job creations against a balance covering 10.
#![cfg(all(feature = "postgres", feature = "redis", feature = "s3"))]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use outreach_core::jobs::{CreateJob, JobSettings, JobSystem};
use outreach_core::output::OutputFormat;
use outreach_core::ports::{Job, JobStatus, NewEntry};
use outreach_core::setup::{BackendConfig, Backends};
use outreach_core::{Error, ServiceContext};
use outreach_fake_providers::{FakeOptions, FakeProviders};

struct Services {
    postgres: String,
    postgres_dir: String,
    redis: String,
    s3: String,
}

fn services() -> Option<Services> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match (
        var("OUTREACH_TEST_POSTGRES_URL"),
        var("OUTREACH_TEST_POSTGRES_DIR"),
        var("OUTREACH_TEST_REDIS_URL"),
        var("OUTREACH_TEST_S3_URL"),
    ) {
        (Some(postgres), Some(postgres_dir), Some(redis), Some(s3)) => Some(Services { postgres, postgres_dir, redis, s3 }),
        _ if var("OUTREACH_SKIP_SERVICES").as_deref() == Some("1") => {
            eprintln!("skipped: OUTREACH_SKIP_SERVICES=1");
            None
        }
        _ => panic!("the scale tests need real servers: run them through scripts/test-scale.sh (or scripts/test.sh)"),
    }
}

/// A Redis database of its own per test, so workers of one test never see another's tasks.
fn redis_db(url: &str, db: u32) -> String {
    format!("{}/{db}", url.trim_end_matches('/'))
}

struct Cluster {
    database_url: String,
    redis_url: String,
    storage_url: String,
    system: JobSystem,
    dir: tempfile::TempDir,
}

async fn cluster(s: &Services, db: u32, chunk_size: u32) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let redis_url = redis_db(&s.redis, db);
    // A prefix of its own in the bucket per test.
    let storage_url = format!("{}/t{}", s.s3.trim_end_matches('/'), uuid::Uuid::new_v4());
    let config = BackendConfig {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(s.postgres.clone()),
        storage_url: Some(storage_url.clone()),
        redis_url: Some(redis_url.clone()),
        visibility_timeout: Duration::from_secs(3),
    };
    let b = Backends::open(&config).await.unwrap();
    let system = JobSystem::new(
        b.store,
        b.ledger,
        b.storage,
        b.queue,
        outreach_core::config::PipelineConfig::default()
            .providers()
            .unwrap(),
        JobSettings {
            chunk_size,
            temp_dir: dir.path().join("tmp"),
            ..JobSettings::default()
        },
    );
    Cluster {
        database_url: s.postgres.clone(),
        redis_url,
        storage_url,
        system,
        dir,
    }
}

impl Cluster {
    /// A worker with short lease and stall settings (for the restart test).
    fn worker(&self, fakes: &FakeProviders, name: &str) -> Child {
        self.worker_with(
            fakes,
            name,
            &[
                ("OUTREACH_LEASE_SECS", "3"),
                ("OUTREACH_STALL_AFTER_SECS", "8"),
            ],
        )
    }

    /// A worker with the default lease, stall and grace settings, plus `env`.
    fn worker_with(&self, fakes: &FakeProviders, name: &str, env: &[(&str, &str)]) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_outreach"));
        for name in [
            "OUTREACH_LEASE_SECS",
            "OUTREACH_VISIBILITY_TIMEOUT_SECS",
            "OUTREACH_STALL_AFTER_SECS",
            "OUTREACH_SHUTDOWN_GRACE_SECS",
        ] {
            command.env_remove(name);
        }
        command.envs(env.iter().copied());
        command
            .arg("worker")
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", &self.redis_url)
            .env("STORAGE_URL", &self.storage_url)
            .env("OUTREACH_DATA_DIR", self.dir.path().join(name))
            .env("OUTREACH_CONCURRENCY", "16")
            .env("OUTREACH_SEARCH_RPS", "0")
            .env("OUTREACH_LLM_RPS", "0")
            .env("SERPER_URL", fakes.serper_url())
            .env("SERPER_API_KEY", "fake")
            .env("LLM_BASE_URL", fakes.llm_base_url())
            .env("LLM_API_KEY", "fake")
            .env_remove("GROQ_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }

    async fn user_with_credits(&self, credits: i64) -> String {
        let user = format!("user-{}", uuid::Uuid::new_v4());
        self.system
            .ledger()
            .ensure_account(&user, &format!("{user}@example.test"), 0)
            .await
            .unwrap();
        if credits > 0 {
            self.system
                .ledger()
                .apply(NewEntry {
                    user_id: user.clone(),
                    change: credits,
                    amount_usd: None,
                    reason: "test grant".into(),
                    idempotency_key: format!("grant:test-{user}"),
                })
                .await
                .unwrap();
        }
        user
    }

    async fn upload(&self, user: &str, rows: usize) -> String {
        let path = self.dir.path().join("input.csv");
        let mut w = csv::Writer::from_path(&path).unwrap();
        w.write_record(["id", "email"]).unwrap();
        for i in 0..rows {
            w.write_record([i.to_string(), format!("p{i}@company{}.com", i / 5)])
                .unwrap();
        }
        w.flush().unwrap();
        let key = format!("uploads/{user}/{}/input.csv", uuid::Uuid::new_v4());
        self.system.storage().put_file(&key, &path).await.unwrap();
        key
    }

    async fn create(&self, user: &str, key: String) -> outreach_core::Result<Job> {
        self.system
            .create_job(CreateJob {
                user_id: user.into(),
                file_path: key,
                filename: "input.csv".into(),
                email_col: None,
                columns: Default::default(),
                service: ServiceContext::default(),
                output_columns: None,
                format: OutputFormat::Csv,
                limit: None,
                combined: false,
                charge: true,
                job_id: None,
                campaign: Default::default(),
            })
            .await
    }

    async fn wait_rows(&self, job: &str, rows: u64, within: Duration) {
        let start = Instant::now();
        loop {
            let j = self.system.store().get_job(None, job).await;
            if let Ok(j) = j {
                if j.rows_processed >= rows || j.status.is_terminal() {
                    return;
                }
            }
            assert!(
                start.elapsed() < within,
                "job {job} did not reach {rows} rows in {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_end(&self, job: &str, within: Duration) -> Job {
        let start = Instant::now();
        loop {
            if let Ok(j) = self.system.store().get_job(None, job).await {
                if j.status.is_terminal() {
                    return j;
                }
            }
            assert!(
                start.elapsed() < within,
                "job {job} did not finish in {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The result's rows: every input row exactly once, in order, enriched.
    async fn check_result(&self, job: &Job, rows: usize) {
        let path = self.dir.path().join("result.csv");
        self.system
            .storage()
            .get_to_file(job.result_path.as_deref().unwrap(), &path)
            .await
            .unwrap();
        let mut r = csv::Reader::from_path(&path).unwrap();
        let got: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(got.len(), rows);
        for (i, row) in got.iter().enumerate() {
            assert_eq!(&row[0], i.to_string(), "row {i} out of place or duplicated");
            assert!(
                row[2].starts_with('{'),
                "row {i} not researched: {}",
                &row[2]
            );
        }
    }

    async fn balance(&self, user: &str) -> i64 {
        let account = self.system.ledger().account(user).await.unwrap();
        let (entries, _) = self.system.ledger().entries(user, 0, 10_000).await.unwrap();
        assert_eq!(
            account.credits_remaining,
            entries.iter().map(|e| e.change).sum::<i64>(),
            "balance != sum of ledger"
        );
        account.credits_remaining
    }
}

fn fake_options() -> FakeOptions {
    FakeOptions {
        search_latency: Duration::from_millis(10),
        llm_latency: Duration::from_millis(30),
        fail_every: 0,
        ..FakeOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_job_loses_nothing() {
    let Some(s) = services() else { return };
    let c = cluster(&s, 1, 20).await;
    let fakes = FakeProviders::start(fake_options()).await;
    let user = c.user_with_credits(1000).await;
    let key = c.upload(&user, 600).await;
    let job = c.create(&user, key).await.unwrap();
    assert_eq!(c.balance(&user).await, 400);

    // Default settings: a 30 s lease renewed every 10 s; nothing shortened for the test.
    let mut a = c.worker_with(&fakes, "a", &[]);
    let mut b = c.worker_with(&fakes, "b", &[]);
    c.wait_rows(&job.id, 150, Duration::from_secs(90)).await;
    a.kill().unwrap(); // SIGKILL: its unacked tasks must go to worker b
    let killed = Instant::now();
    let _ = a.wait();
    let done = c.wait_end(&job.id, Duration::from_secs(120)).await;
    let after_kill = killed.elapsed();
    let _ = b.kill();
    let _ = b.wait();

    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    eprintln!("job finished {after_kill:?} after the SIGKILL");
    assert!(
        after_kill <= Duration::from_secs(60),
        "with the default 30 s lease a killed worker must cost about one lease, not {after_kill:?}"
    );
    c.check_result(&done, 600).await;
    assert_eq!(
        c.balance(&user).await,
        400,
        "charged exactly once, nothing refunded"
    );
    let llm = fakes.llm_requests.load(Ordering::SeqCst);
    // Rows of the chunks in flight in the killed worker may be enriched twice; nothing else.
    assert!(llm <= 2 * 600 + 2 * 16 * 2, "{llm} LLM calls for 600 rows");
}

/// SIGTERM with no grace: the worker hands back what it holds and exits at once, and
/// the other worker finishes the job without waiting for any lease (30 s) to lapse.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_terminated_worker_hands_its_tasks_back() {
    let Some(s) = services() else { return };
    let c = cluster(&s, 4, 20).await;
    let fakes = FakeProviders::start(FakeOptions {
        // Slow enough that chunks are in flight when the signal comes.
        llm_latency: Duration::from_millis(150),
        ..fake_options()
    })
    .await;
    let user = c.user_with_credits(1000).await;
    let key = c.upload(&user, 400).await;
    let job = c.create(&user, key).await.unwrap();
    assert_eq!(c.balance(&user).await, 600);

    let mut a = c.worker_with(&fakes, "a", &[("OUTREACH_SHUTDOWN_GRACE_SECS", "0")]);
    let mut b = c.worker_with(&fakes, "b", &[]);
    c.wait_rows(&job.id, 60, Duration::from_secs(90)).await;
    let pid = a.id().to_string();
    let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(ok.success());
    let terminated = Instant::now();
    let status = a.wait().unwrap();
    let exit_took = terminated.elapsed();
    assert!(
        status.success(),
        "the worker exits cleanly on SIGTERM: {status:?}"
    );
    assert!(
        exit_took < Duration::from_secs(5),
        "a worker with no grace took {exit_took:?} to exit"
    );
    let done = c.wait_end(&job.id, Duration::from_secs(120)).await;
    let after = terminated.elapsed();
    let _ = b.kill();
    let _ = b.wait();
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    eprintln!("worker exited {exit_took:?} after SIGTERM; job finished {after:?} after it");
    assert!(
        after < Duration::from_secs(25),
        "the job waited {after:?} after the SIGTERM: the tasks were not handed back (lease 30 s)"
    );
    c.check_result(&done, 400).await;
    assert_eq!(c.balance(&user).await, 600, "charged exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_then_postgres_restart_mid_job() {
    let Some(s) = services() else { return };
    let c = cluster(&s, 2, 20).await;
    let fakes = FakeProviders::start(fake_options()).await;
    let user = c.user_with_credits(1000).await;
    let key = c.upload(&user, 600).await;
    let job = c.create(&user, key).await.unwrap();
    let mut worker = c.worker(&fakes, "w");
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/services");

    c.wait_rows(&job.id, 150, Duration::from_secs(90)).await;
    let redis_port = s
        .redis
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let ok = Command::new(scripts.join("redis.sh"))
        .args(["restart", &redis_port])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "redis restart failed");

    let before = c
        .system
        .store()
        .get_job(None, &job.id)
        .await
        .unwrap()
        .rows_processed;
    c.wait_rows(&job.id, (before + 100).min(600), Duration::from_secs(90))
        .await;
    let ok = Command::new(scripts.join("postgres.sh"))
        .args(["restart", &s.postgres_dir])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "postgres restart failed");

    let done = c.wait_end(&job.id, Duration::from_secs(180)).await;
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    c.check_result(&done, 600).await;
    assert_eq!(c.balance(&user).await, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_creations_on_postgres() {
    let Some(s) = services() else { return };
    let c = cluster(&s, 3, 20).await;
    let user = c.user_with_credits(10).await;
    let key = c.upload(&user, 1).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let system = c.system.clone();
            let user = user.clone();
            let key = key.clone();
            tokio::spawn(async move {
                system
                    .create_job(CreateJob {
                        user_id: user,
                        file_path: key,
                        filename: "input.csv".into(),
                        email_col: None,
                        columns: Default::default(),
                        service: ServiceContext::default(),
                        output_columns: None,
                        format: OutputFormat::Csv,
                        limit: None,
                        combined: false,
                        charge: true,
                        job_id: None,
                        campaign: Default::default(),
                    })
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(job) => {
                ok += 1;
                // The job reads the upload in place (issue 12, item 7): no copy.
                assert_eq!(job.meta.file_path, key);
                assert!(c.system.storage().exists(&key).await.unwrap());
            }
            Err(Error::InsufficientCredits {
                needed: 1,
                available: 0,
            }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 10);
    assert_eq!(c.balance(&user).await, 0);
    assert_eq!(
        c.system.store().list_jobs(&user, 0, 1000).await.unwrap().1,
        10
    );
}
