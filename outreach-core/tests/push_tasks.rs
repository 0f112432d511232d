#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A push is a queue task: a worker that dies mid-push (its task never acked, its
//! lease never renewed) loses nothing. The lease lapses, another worker (another job
//! system on the same database, storage and queue: another process) gets the task
//! again and resumes after the last row the first one recorded; the push ends
//! `succeeded` with one result per row and no lead created twice.
//!
//! Against the in-process queue always; against Redis (the `Task` enum serialized in
//! the stream) with the `redis` feature and `OUTREACH_TEST_REDIS_URL`
//! (`scripts/test-redis-s3.sh` starts one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use outreach_core::backends::memory_queue::MemoryQueue;
use outreach_core::backends::object_storage::ObjectStorage;
use outreach_core::backends::sqlite::SqliteStore;
use outreach_core::campaign::push::{DestinationConfig, DestinationKind, PushAccess};
use outreach_core::campaign::SuppressionList;
use outreach_core::jobs::{JobSettings, JobSystem};
use outreach_core::ports::suite::jobs::new_job;
use outreach_core::ports::{JobFinish, JobQueue, JobStatus, JobStore, Storage};
use outreach_core::preflight::PreflightOnce;
use outreach_core::{Metrics, Providers};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const USER: &str = "user-push";
const ROWS: usize = 30;

/// lemlist `POST /api/campaigns/{id}/leads/{email}?deduplicate=true`, 100 ms per
/// answer, keeping the campaign: a lead already there is a 400 with lemlist's
/// plain-text duplicate message (source in tests/campaign_push.rs).
#[derive(Clone, Default)]
struct SlowLemlist {
    adds: Arc<Mutex<HashMap<String, u32>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Respond for SlowLemlist {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let email = request
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap()
            .replace("%40", "@");
        self.requests.lock().unwrap().push(email.clone());
        let delay = Duration::from_millis(100);
        let mut adds = self.adds.lock().unwrap();
        let n = adds.entry(email.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            return ResponseTemplate::new(400)
                .set_delay(delay)
                .set_body_string("Lead already in the campaign");
        }
        ResponseTemplate::new(200)
            .set_delay(delay)
            .set_body_json(serde_json::json!({"_id": "lea_1", "email": email}))
    }
}

/// The front end's part: the saved destination with its key opened (here: in clear).
#[derive(Debug)]
struct Access {
    base_url: String,
}

#[async_trait]
impl PushAccess for Access {
    async fn destination(
        &self,
        _user_id: &str,
        kind: DestinationKind,
        campaign: &str,
    ) -> outreach_core::Result<DestinationConfig> {
        Ok(DestinationConfig::new(kind, "lem-key", campaign).with_base_url(self.base_url.clone()))
    }
    async fn suppression(&self, _user_id: &str) -> outreach_core::Result<Option<SuppressionList>> {
        Ok(None)
    }
}

struct Env {
    _dir: tempfile::TempDir,
    db: Arc<SqliteStore>,
    storage: Arc<ObjectStorage>,
}

impl Env {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(
            SqliteStore::open(&dir.path().join("db.sqlite"))
                .await
                .unwrap(),
        );
        let storage = Arc::new(ObjectStorage::local(&dir.path().join("files")).unwrap());
        Self {
            _dir: dir,
            db,
            storage,
        }
    }

    /// A process: a job system on the shared database, storage and queue.
    fn process(&self, queue: Arc<dyn JobQueue>, access: Arc<Access>) -> JobSystem {
        let system = JobSystem::new(
            self.db.clone(),
            self.db.clone(),
            self.storage.clone(),
            queue,
            Providers {
                search: None,
                llm: None,
                metrics: Arc::new(Metrics::default()),
                preflight: PreflightOnce::default(),
            },
            JobSettings {
                temp_dir: self._dir.path().join("tmp"),
                ..JobSettings::default()
            },
        );
        system.set_push_access(access);
        system
    }

    /// A succeeded job whose result holds `ROWS` prospects.
    async fn finished_job(&self) -> String {
        let job = self
            .db
            .create_job(new_job(USER, ROWS as u64))
            .await
            .unwrap();
        let mut csv = String::from("name,email,sif_personalized\n");
        for i in 0..ROWS {
            csv.push_str(&format!("P {i},p{i}@acme{i}.com,Hello {i}.\n"));
        }
        let result = format!("outputs/{USER}/{}/result.csv", job.id);
        self.storage.put(&result, csv.into()).await.unwrap();
        assert!(self
            .db
            .transition(&job.id, JobStatus::Queued, JobStatus::InProgress)
            .await
            .unwrap());
        let done = JobFinish {
            status: JobStatus::Succeeded,
            result_path: Some(result),
            error: None,
            timing: None,
        };
        assert!(self.db.finish(&job.id, done).await.unwrap());
        job.id
    }
}

async fn resumes_on_another_worker(queue: Arc<dyn JobQueue>) {
    let env = Env::new().await;
    let fake = MockServer::start().await;
    let lemlist = SlowLemlist::default();
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/campaigns/cam_1/leads/.+$"))
        .respond_with(lemlist.clone())
        .mount(&fake)
        .await;
    let access = Arc::new(Access {
        base_url: fake.uri(),
    });
    let job = env.finished_job().await;
    let first = env.process(queue.clone(), access.clone());
    let (record, started) = first
        .start_push(USER, &job, DestinationKind::Lemlist, "cam_1")
        .await
        .unwrap();
    assert!(started);
    // The same push asked again while it runs is that push.
    let (again, started) = first
        .start_push(USER, &job, DestinationKind::Lemlist, "cam_1")
        .await
        .unwrap();
    assert!(!started);
    assert_eq!(again.id, record.id);

    let worker = first.spawn_worker(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = first.push_record(USER, &job, &record.id).await.unwrap();
        if r.last_row >= 5 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The worker dies: no ack, no hand-back, no more heartbeats.
    worker.abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = first.push_record(USER, &job, &record.id).await.unwrap();
    assert!(stopped.is_running());
    assert!(
        (stopped.last_row as usize) < ROWS,
        "it ended before the stop"
    );
    let sent_before = lemlist.requests.lock().unwrap().len();

    // Another process's worker gets the task once the lease lapses, and resumes.
    let second = env.process(queue, access);
    let worker = second.spawn_worker(1);
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let r = second.push_record(USER, &job, &record.id).await.unwrap();
        if !r.is_running() {
            break r;
        }
        assert!(Instant::now() < deadline, "the push did not end: {r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    worker.shutdown().await;
    assert_eq!(done.status, "succeeded", "{done:?}");
    assert_eq!(done.summary.rows, ROWS as u64);
    assert_eq!(done.summary.pushed + done.summary.skipped, ROWS as u64);
    assert_eq!(done.summary.rejected, 0);
    let adds = lemlist.adds.lock().unwrap().clone();
    assert_eq!(adds.len(), ROWS, "every lead reached the campaign");
    let requests = lemlist.requests.lock().unwrap().clone();
    assert_eq!(
        requests.iter().filter(|e| *e == "p0@acme0.com").count(),
        1,
        "row 1 was recorded before the stop: not sent again"
    );
    assert!(
        requests.len() - ROWS <= sent_before - stopped.last_row as usize,
        "only rows sent after the last checkpoint are sent again ({} requests, {sent_before} before the stop, {} recorded)",
        requests.len(),
        stopped.last_row
    );
    let results = second.push_results(USER, &job, &record.id).await.unwrap();
    let rows: Vec<u64> = results.iter().map(|r| r.row).collect();
    assert_eq!(rows, (1..=ROWS as u64).collect::<Vec<_>>());
    assert!(env
        .storage
        .list(&format!("running-pushes/{USER}/"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_resumes_on_another_worker_after_its_lease_lapses() {
    let queue: Arc<dyn JobQueue> = Arc::new(MemoryQueue::new(Duration::from_millis(600)));
    resumes_on_another_worker(queue).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread")]
async fn a_push_resumes_on_another_worker_through_redis() {
    let url = match std::env::var("OUTREACH_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ if std::env::var("OUTREACH_SKIP_SERVICES").as_deref() == Ok("1") => {
            eprintln!("skipped: OUTREACH_TEST_REDIS_URL is not set and OUTREACH_SKIP_SERVICES=1");
            return;
        }
        _ => panic!(
            "OUTREACH_TEST_REDIS_URL is not set: run through scripts/test-redis-s3.sh, or set \
             OUTREACH_SKIP_SERVICES=1 to skip"
        ),
    };
    let stream = format!("outreach-test-{}", uuid::Uuid::new_v4().simple());
    let queue = outreach_core::backends::redis_queue::RedisQueue::connect(
        &url,
        &stream,
        Duration::from_millis(600),
    )
    .await
    .unwrap();
    resumes_on_another_worker(Arc::new(queue)).await;
}
