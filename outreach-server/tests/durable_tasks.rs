#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Pushes and webhook deliveries are tasks on the job queue, so they outlive the
//! process that started them:
//! - `job.finished` is sent exactly once for a failed job (even when the fail is
//!   redelivered), a cancelled job, and a job finished by another worker than the API
//!   process's, each signed (checked with aws-lc-rs's HMAC, not the server's `hmac`);
//! - a push stopped halfway (the process and its in-process queue gone) resumes after
//!   the last row it recorded when a new process starts, and ends `succeeded` with one
//!   result per row and no lead created twice;
//! - an event whose receiver is down is still owed after a restart and delivered once
//!   the receiver is up; one that keeps failing is dead-lettered after its attempts.
//!
//! A "restart" here is what `outreach serve` does at start: a new `JobSystem` on the
//! same database and storage with a fresh in-process queue, `recover()`, a worker.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use outreach_core::backends::memory_queue::MemoryQueue;
use outreach_core::campaign::push::DestinationKind;
use outreach_core::jobs::{JobSettings, JobSystem};
use outreach_server::server::campaigns::{serve_tasks, CampaignState};
use outreach_server::server::secrets::SecretBox;
use serde_json::{json, Value};
use support::{post_json, prospects_csv, token, Harness, Options, SECRETS_KEY};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request as WireRequest, Respond, ResponseTemplate};

fn request(method: Method, uri: &str, token: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    match body {
        Some(b) => builder
            .header("content-type", "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// Checks `Outreach-Signature: t=…,v1=…` with aws-lc-rs's HMAC.
fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_string()),
            Some(("v1", value)) => v1 = Some(value.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Some(tag) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(v1.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    aws_lc_rs::hmac::verify(&key, &message, &tag).is_ok()
}

/// A delivery's signature header and body.
type Taken = (String, Vec<u8>);

/// A webhook receiver that can be down (503) or up (200), and keeps what it took.
#[derive(Clone, Default)]
struct Receiver {
    up: Arc<AtomicBool>,
    attempts: Arc<Mutex<u32>>,
    taken: Arc<Mutex<Vec<Taken>>>,
}

impl Respond for Receiver {
    fn respond(&self, request: &WireRequest) -> ResponseTemplate {
        *self.attempts.lock().unwrap() += 1;
        if !self.up.load(Ordering::SeqCst) {
            return ResponseTemplate::new(503);
        }
        let signature = request
            .headers
            .get("outreach-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        self.taken
            .lock()
            .unwrap()
            .push((signature, request.body.clone()));
        ResponseTemplate::new(200)
    }
}

impl Receiver {
    async fn mount(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/hook"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }

    /// The events taken, checked against the secret; waits up to 15 s for `n`, then
    /// a little longer for a late duplicate.
    async fn events(&self, secret: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.taken.lock().unwrap().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.taken
            .lock()
            .unwrap()
            .iter()
            .map(|(signature, body)| {
                assert!(verify(secret, signature, body), "bad signature {signature}");
                assert!(!verify("whsec_other", signature, body));
                serde_json::from_slice(body).unwrap()
            })
            .collect()
    }
}

/// Saves a webhook for `user` pointing at `server`; returns its signing secret.
async fn save_webhook(h: &Harness, user: &str, server: &MockServer) -> String {
    let r = h
        .call(request(
            Method::PUT,
            "/webhook",
            user,
            Some(json!({"url": format!("{}/hook", server.uri())})),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["secret"].as_str().unwrap().to_string()
}

/// What `outreach serve` does at start, on the harness's database and storage: a new
/// job system with a fresh in-process queue (the old one is gone with its process),
/// the campaign ports, `recover()`, one worker.
async fn restart(
    h: &Harness,
    settings: JobSettings,
) -> (JobSystem, outreach_core::jobs::WorkerHandle, usize) {
    let old = &h.state.jobs;
    let system = JobSystem::new(
        old.store().clone(),
        old.ledger().clone(),
        old.storage().clone(),
        Arc::new(MemoryQueue::new(Duration::from_secs(30))),
        old.providers().clone(),
        settings,
    );
    serve_tasks(&system, h.state.campaigns.as_ref().unwrap());
    let recovered = system.recover().await.unwrap();
    let worker = system.spawn_worker(2);
    (system, worker, recovered)
}

fn test_settings(h: &Harness) -> JobSettings {
    h.state.jobs.settings().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn job_finished_once_for_failed_and_cancelled_jobs() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let receiver = Receiver::default();
    receiver.up.store(true, Ordering::SeqCst);
    let server = receiver.mount().await;
    let user = token("events-fail-cancel");
    let secret = save_webhook(&h, &user, &server).await;

    // Two queued jobs (no worker yet): one cancelled through the API, one failed the
    // way the worker dead-letters a task, twice (a redelivered fail).
    let file = h.upload(&user, "a.csv", &prospects_csv(3)).await;
    let cancelled = h
        .create_job(&user, json!({"file_path": file, "format": "csv"}))
        .await;
    let file = h.upload(&user, "b.csv", &prospects_csv(2)).await;
    let failed = h
        .create_job(&user, json!({"file_path": file, "format": "csv"}))
        .await;
    let r = h
        .call(post_json(
            &format!("/jobs/{cancelled}/cancel"),
            Some(&user),
            &json!({}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    h.state
        .jobs
        .fail_job(&failed, "the input vanished")
        .await
        .unwrap();
    h.state
        .jobs
        .fail_job(&failed, "the input vanished")
        .await
        .unwrap();

    // The deliveries are tasks: a worker sends them.
    let worker = h.state.jobs.spawn_worker(2);
    let events = receiver.events(&secret, 2).await;
    worker.shutdown().await;
    assert_eq!(events.len(), 2, "{events:?}");
    let by_job: HashMap<String, &Value> = events
        .iter()
        .map(|e| (e["data"]["job_id"].as_str().unwrap().to_string(), e))
        .collect();
    let c = by_job[&cancelled];
    assert_eq!(c["type"], "job.finished");
    assert_eq!(c["data"]["status"], "cancelled");
    assert_eq!(c["data"]["rows"], 3);
    assert!(c["data"]["download_path"].is_null());
    let f = by_job[&failed];
    assert_eq!(f["data"]["status"], "failed");
    assert_eq!(f["data"]["error"], "the input vanished");
    assert!(f["id"].as_str().unwrap().starts_with("evt_"));
    assert_ne!(c["id"], f["id"]);
    // Nothing is left owed.
    let left = h.state.jobs.storage().list("events/").await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn job_finished_once_from_another_worker() {
    // The API process runs no worker; a second job system on the same database,
    // storage and queue (another process's worker) runs the job and sends the event.
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let receiver = Receiver::default();
    receiver.up.store(true, Ordering::SeqCst);
    let server = receiver.mount().await;
    let user = token("events-other-worker");
    let secret = save_webhook(&h, &user, &server).await;
    let file = h.upload(&user, "a.csv", &prospects_csv(4)).await;
    let job = h
        .create_job(&user, json!({"file_path": file, "format": "csv"}))
        .await;

    let api = &h.state.jobs;
    let other = JobSystem::new(
        api.store().clone(),
        api.ledger().clone(),
        api.storage().clone(),
        api.queue().clone(),
        api.providers().clone(),
        test_settings(&h),
    );
    let campaigns = Arc::new(CampaignState::new(
        h.state.campaigns.as_ref().unwrap().settings.clone(),
        Some(SecretBox::from_hex(SECRETS_KEY).unwrap()),
    ));
    serve_tasks(&other, &campaigns);
    let worker = other.spawn_worker(2);
    let detail = h.wait_job(&user, &job).await;
    assert_eq!(detail["status"], "succeeded", "{detail}");
    let events = receiver.events(&secret, 1).await;
    worker.shutdown().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let data = &events[0]["data"];
    assert_eq!(events[0]["type"], "job.finished");
    assert_eq!(data["job_id"], job.as_str());
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["rows_processed"], 4);
    assert_eq!(
        data["download_path"],
        format!("/jobs/{job}/download").as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_owed_survives_a_restart_and_a_dead_one_is_dropped() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let receiver = Receiver::default();
    let server = receiver.mount().await;
    let user = token("events-restart");
    let secret = save_webhook(&h, &user, &server).await;
    let file = h.upload(&user, "a.csv", &prospects_csv(2)).await;
    let job = h
        .create_job(&user, json!({"file_path": file, "format": "csv"}))
        .await;

    // The receiver is down while the job finishes: attempts fail and are retried.
    let worker = h.state.jobs.spawn_worker(2);
    let detail = h.wait_job(&user, &job).await;
    assert_eq!(detail["status"], "succeeded", "{detail}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while *receiver.attempts.lock().unwrap() < 2 {
        assert!(Instant::now() < deadline, "no delivery attempt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The process stops: its queue (and the retry in it) is gone; the event is not.
    worker.abort();
    let owed = h.state.jobs.storage().list("events/").await.unwrap();
    assert_eq!(owed.len(), 1, "{owed:?}");

    receiver.up.store(true, Ordering::SeqCst);
    let (_system, worker, recovered) = restart(&h, test_settings(&h)).await;
    assert_eq!(recovered, 1, "the owed event is queued again");
    let events = receiver.events(&secret, 1).await;
    worker.shutdown().await;
    assert_eq!(events.len(), 1, "delivered once: {events:?}");
    assert_eq!(events[0]["type"], "job.finished");
    assert_eq!(events[0]["data"]["job_id"], job.as_str());
    assert!(h
        .state
        .jobs
        .storage()
        .list("events/")
        .await
        .unwrap()
        .is_empty());

    // A receiver that never comes back: three attempts, then the event is dropped.
    receiver.up.store(false, Ordering::SeqCst);
    let before = *receiver.attempts.lock().unwrap();
    let settings = JobSettings {
        webhook_attempts: 3,
        webhook_backoff: Duration::from_millis(50),
        ..test_settings(&h)
    };
    let (system, worker, _) = restart(&h, settings).await;
    let id = system
        .emit_event("events-restart", "push.finished", json!({"job_id": job}))
        .await
        .unwrap();
    assert!(id.is_some());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !system.storage().list("events/").await.unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the event was never dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.shutdown().await;
    assert_eq!(*receiver.attempts.lock().unwrap() - before, 3);
}

/// lemlist `POST /api/campaigns/{campaignId}/leads/{email}?deduplicate=true`, slow
/// (each answer waits), keeping the campaign's leads: a lead already there answers 400
/// with lemlist's plain-text duplicate message (see outreach-core/tests/campaign_push.rs
/// for where that text comes from).
#[derive(Clone, Default)]
struct SlowLemlist {
    leads: Arc<Mutex<HashMap<String, u32>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Respond for SlowLemlist {
    fn respond(&self, request: &WireRequest) -> ResponseTemplate {
        let email = request
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap()
            .replace("%40", "@");
        self.requests.lock().unwrap().push(email.clone());
        let delay = Duration::from_millis(120);
        let mut leads = self.leads.lock().unwrap();
        let count = leads.entry(email.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            return ResponseTemplate::new(400)
                .set_delay(delay)
                .set_body_string("Lead already in the campaign");
        }
        ResponseTemplate::new(200)
            .set_delay(delay)
            .set_body_json(json!({
                "_id": format!("lea_{}", leads.len()),
                "campaignId": "cam_slow",
                "email": email,
            }))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_resumes_after_a_restart() {
    let mut h = Harness::start().await;
    let lemlist = SlowLemlist::default();
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/campaigns/cam_slow/leads/.+$"))
        .respond_with(lemlist.clone())
        .mount(&fake)
        .await;
    let settings = h.state.campaigns.as_ref().unwrap().settings.clone();
    h.state = h.state.clone().with_campaigns(
        CampaignState::new(settings, Some(SecretBox::from_hex(SECRETS_KEY).unwrap()))
            .with_base_url(DestinationKind::Lemlist, fake.uri()),
    );
    let user = token("push-restart");
    let r = h
        .call(request(
            Method::PUT,
            "/destinations/lemlist",
            &user,
            Some(json!({"api_key": "lem-key-123456", "campaign": "cam_slow"})),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    const ROWS: usize = 40;
    let file = h.upload(&user, "list.csv", &prospects_csv(ROWS)).await;
    let job = h
        .create_job(&user, json!({"file_path": file, "format": "csv"}))
        .await;
    assert_eq!(h.wait_job(&user, &job).await["status"], "succeeded");

    let r = h
        .call(post_json(
            &format!("/jobs/{job}/push"),
            Some(&user),
            &json!({"to": "lemlist"}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let push = r.json()["push"]["id"].as_str().unwrap().to_string();
    let user_id = "push-restart";

    // Let it record some rows, then stop the process mid-push.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let record = h
            .state
            .jobs
            .push_record(user_id, &job, &push)
            .await
            .unwrap();
        if record.last_row >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {record:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.worker.take().unwrap().abort();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = h
        .state
        .jobs
        .push_record(user_id, &job, &push)
        .await
        .unwrap();
    assert_eq!(stopped.status, "running");
    assert!(
        (stopped.last_row as usize) < ROWS,
        "it finished before the stop"
    );
    let sent_before = lemlist.requests.lock().unwrap().len();

    // A new process: the push is found by its marker and resumes.
    let (system, worker, recovered) = restart(&h, test_settings(&h)).await;
    assert!(recovered >= 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let record = system.push_record(user_id, &job, &push).await.unwrap();
        if !record.is_running() {
            break record;
        }
        assert!(
            Instant::now() < deadline,
            "the push did not end: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    worker.shutdown().await;
    assert_eq!(done.status, "succeeded", "{done:?}");
    assert_eq!(done.summary.rows, ROWS as u64);
    assert_eq!(done.summary.rejected, 0, "{done:?}");
    assert_eq!(done.summary.pushed + done.summary.skipped, ROWS as u64);

    // Every lead is in the campaign once; the rows recorded before the stop were not
    // sent again (only those after the last checkpoint may be).
    let leads = lemlist.leads.lock().unwrap().clone();
    assert_eq!(leads.len(), ROWS, "every lead reached the campaign");
    let requests = lemlist.requests.lock().unwrap().clone();
    let first = "person0@company0.com";
    assert_eq!(
        requests.iter().filter(|e| *e == first).count(),
        1,
        "row 1 was recorded before the stop and must not be sent again"
    );
    let resent = requests.len() - ROWS;
    assert!(
        resent <= sent_before - stopped.last_row as usize,
        "{resent} requests sent twice; {sent_before} before the stop, {} recorded",
        stopped.last_row
    );
    // One result per row, in order, through the API.
    let r = h
        .call(support::get(
            &format!("/jobs/{job}/pushes/{push}"),
            Some(&user),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    let rows: Vec<u64> = results.iter().map(|r| r["row"].as_u64().unwrap()).collect();
    assert_eq!(rows, (1..=ROWS as u64).collect::<Vec<_>>());
    assert!(
        system
            .storage()
            .list(&format!("running-pushes/{user_id}/"))
            .await
            .unwrap()
            .is_empty(),
        "the running marker is gone"
    );
}

/// A retention sweep takes a finished job's push records and results with the job.
#[tokio::test(flavor = "multi_thread")]
async fn retention_takes_the_pushes_of_an_expired_job() {
    let h = Harness::start().await;
    let user = token("push-retention");
    let file = h.upload(&user, "a.csv", &prospects_csv(2)).await;
    let job = h
        .create_job(&user, json!({"file_path": file, "format": "csv"}))
        .await;
    assert_eq!(h.wait_job(&user, &job).await["status"], "succeeded");
    let storage = h.state.jobs.storage().clone();
    let prefix = format!("pushes/push-retention/{job}/");
    for name in ["push_0a.json", "push_0a.results.jsonl"] {
        storage
            .put(&format!("{prefix}{name}"), "{}".into())
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let store = h.state.jobs.store();
    let removed = outreach_core::retention::sweep(
        store.as_ref(),
        storage.as_ref(),
        chrono::Utc::now() - chrono::Duration::days(1),
    )
    .await
    .unwrap();
    assert_eq!(removed.jobs, 0, "the job is not old yet");
    assert_eq!(storage.list(&prefix).await.unwrap().len(), 2);
    let removed =
        outreach_core::retention::sweep(store.as_ref(), storage.as_ref(), chrono::Utc::now())
            .await
            .unwrap();
    assert_eq!(removed.jobs, 1);
    assert!(
        storage.list(&prefix).await.unwrap().is_empty(),
        "push records left behind"
    );
}
