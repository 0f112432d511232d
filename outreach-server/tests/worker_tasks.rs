#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! An `outreach worker` process (not the API process) on real PostgreSQL, Redis and S3
//! (moto), started by `scripts/test-scale.sh`: it runs a job and sends its
//! `job.finished`, then runs a push of that job (opening the saved, sealed lemlist key
//! with the shared `OUTREACH_SECRETS_KEY`) and sends `push.finished`. Each event is
//! delivered exactly once, signed; the signature is checked with aws-lc-rs's HMAC
//! (the server signs with the `hmac` crate).
#![cfg(all(feature = "postgres", feature = "redis", feature = "s3"))]

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outreach_core::campaign::push::DestinationKind;
use outreach_core::campaign::settings::{SavedDestination, WebhookSetting};
use outreach_core::jobs::{CreateJob, JobSettings, JobSystem};
use outreach_core::output::OutputFormat;
use outreach_core::ports::{JobStatus, NewEntry};
use outreach_core::setup::{BackendConfig, Backends};
use outreach_core::ServiceContext;
use outreach_fake_providers::{FakeOptions, FakeProviders};
use outreach_server::server::campaigns::{destination_context, webhook_context};
use outreach_server::server::secrets::SecretBox;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SECRETS_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";
const HOOK_SECRET: &str = "whsec_worker_process_test";
const ROWS: usize = 12;

fn services() -> Option<(String, String, String)> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match (
        var("OUTREACH_TEST_POSTGRES_URL"),
        var("OUTREACH_TEST_REDIS_URL"),
        var("OUTREACH_TEST_S3_URL"),
    ) {
        (Some(pg), Some(redis), Some(s3)) => Some((pg, redis, s3)),
        _ if var("OUTREACH_SKIP_SERVICES").as_deref() == Some("1") => {
            eprintln!("skipped: OUTREACH_SKIP_SERVICES=1");
            None
        }
        _ => panic!("needs real servers: run through scripts/test-scale.sh (or scripts/test.sh)"),
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

/// lemlist `POST /api/campaigns/{id}/leads/{email}?deduplicate=true` keeping the
/// campaign (duplicate: the plain-text 400 public clients read; see
/// outreach-core/tests/campaign_push.rs).
#[derive(Clone, Default)]
struct Lemlist(Arc<Mutex<Vec<String>>>);

impl Respond for Lemlist {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        // base64(":lem-worker-key")
        if auth != Some("Basic OmxlbS13b3JrZXIta2V5") {
            return ResponseTemplate::new(401).set_body_string("Unauthorized");
        }
        let email = request
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap()
            .replace("%40", "@");
        let mut leads = self.0.lock().unwrap();
        if leads.contains(&email) {
            return ResponseTemplate::new(400).set_body_string("Lead already in the campaign");
        }
        leads.push(email.clone());
        ResponseTemplate::new(200).set_body_json(json!({"_id": "lea_1", "email": email}))
    }
}

fn worker(dir: &std::path::Path, env: &[(&str, String)], fakes: &FakeProviders) -> Child {
    Command::new(env!("CARGO_BIN_EXE_outreach"))
        .arg("worker")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("OUTREACH_DATA_DIR", dir.join("worker"))
        .env("OUTREACH_SEARCH_RPS", "0")
        .env("OUTREACH_LLM_RPS", "0")
        .env("SERPER_URL", fakes.serper_url())
        .env("SERPER_API_KEY", "fake")
        .env("LLM_BASE_URL", fakes.llm_base_url())
        .env("LLM_API_KEY", "fake")
        .env_remove("GROQ_API_KEY")
        .env("OUTREACH_SECRETS_KEY", SECRETS_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

async fn wait_for<T>(what: &str, within: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < within,
            "{what} did not happen in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_process_runs_the_job_and_the_push_and_sends_each_event_once() {
    let Some((pg, redis, s3)) = services() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A Redis database of its own (the scale tests use low numbers).
    let redis_url = format!("{}/11", redis.trim_end_matches('/'));
    let storage_url = format!("{}/w{}", s3.trim_end_matches('/'), uuid::Uuid::new_v4());
    let b = Backends::open(&BackendConfig {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(pg.clone()),
        storage_url: Some(storage_url.clone()),
        redis_url: Some(redis_url.clone()),
        visibility_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let settings = b.campaigns.clone();
    // The API side: no worker, no campaign ports; it only creates work.
    let api = JobSystem::new(
        b.store,
        b.ledger,
        b.storage,
        b.queue,
        outreach_core::config::PipelineConfig::default()
            .providers()
            .unwrap(),
        JobSettings {
            temp_dir: dir.path().join("tmp"),
            ..JobSettings::default()
        },
    );

    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let lemlist = Lemlist::default();
    let fake_lemlist = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/campaigns/cam_w/leads/.+$"))
        .respond_with(lemlist.clone())
        .mount(&fake_lemlist)
        .await;

    // An account with credits, a saved lemlist key and a webhook, both sealed as the
    // server seals them.
    let user = format!("user-{}", uuid::Uuid::new_v4());
    let ledger = api.ledger();
    ledger
        .ensure_account(&user, &format!("{user}@example.test"), 0)
        .await
        .unwrap();
    ledger
        .apply(NewEntry {
            user_id: user.clone(),
            change: 100,
            amount_usd: None,
            reason: "test grant".into(),
            idempotency_key: format!("grant:test-{user}"),
        })
        .await
        .unwrap();
    let secrets = SecretBox::from_hex(SECRETS_KEY).unwrap();
    let now = chrono::Utc::now();
    settings
        .put_destination(
            &user,
            &SavedDestination {
                kind: DestinationKind::Lemlist,
                campaign: "cam_w".into(),
                sealed_key: secrets.seal(
                    &destination_context(&user, DestinationKind::Lemlist),
                    "lem-worker-key",
                ),
                key_hint: "…-key".into(),
                updated_at: now,
            },
        )
        .await
        .unwrap();
    settings
        .put_webhook(
            &user,
            &WebhookSetting {
                url: format!("{}/hook", hooks.uri()),
                sealed_secret: secrets.seal(&webhook_context(&user), HOOK_SECRET),
                updated_at: now,
            },
        )
        .await
        .unwrap();

    let mut csv = String::from("id,email\n");
    for i in 0..ROWS {
        csv.push_str(&format!("{i},p{i}@company{}.com\n", i / 3));
    }
    let key = format!("uploads/{user}/{}/input.csv", uuid::Uuid::new_v4());
    api.storage().put(&key, csv.into()).await.unwrap();
    let job = api
        .create_job(CreateJob {
            user_id: user.clone(),
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
        .unwrap();

    let fakes = FakeProviders::start(FakeOptions {
        search_latency: Duration::from_millis(5),
        llm_latency: Duration::from_millis(10),
        ..FakeOptions::default()
    })
    .await;
    let env = [
        ("DATABASE_URL", pg.clone()),
        ("REDIS_URL", redis_url.clone()),
        ("STORAGE_URL", storage_url.clone()),
        ("LEMLIST_URL", fake_lemlist.uri()),
    ];
    let mut process = worker(dir.path(), &env, &fakes);

    let done = wait_for("the job's end", Duration::from_secs(90), async || {
        let j = api.store().get_job(None, &job.id).await.ok()?;
        j.status.is_terminal().then_some(j)
    })
    .await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);

    let (record, started) = api
        .start_push(&user, &job.id, DestinationKind::Lemlist, "cam_w")
        .await
        .unwrap();
    assert!(started);
    let pushed = wait_for("the push's end", Duration::from_secs(60), async || {
        let r = api.push_record(&user, &job.id, &record.id).await.ok()?;
        (!r.is_running()).then_some(r)
    })
    .await;
    assert_eq!(pushed.status, "succeeded", "{pushed:?}");
    assert_eq!(pushed.summary.pushed, ROWS as u64, "{pushed:?}");

    let deliveries = wait_for("two deliveries", Duration::from_secs(30), async || {
        let got = hooks.received_requests().await.unwrap_or_default();
        (got.len() >= 2).then_some(got)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let late = hooks.received_requests().await.unwrap_or_default();
    let _ = process.kill();
    let _ = process.wait();
    assert_eq!(
        late.len(),
        deliveries.len(),
        "a duplicate delivery came late"
    );
    assert_eq!(deliveries.len(), 2);
    let mut kinds = Vec::new();
    let mut ids = HashSet::new();
    for d in &deliveries {
        let header = d
            .headers
            .get("outreach-signature")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            verify(HOOK_SECRET, header, &d.body),
            "bad signature {header}"
        );
        assert!(!verify("whsec_other", header, &d.body));
        let event: Value = serde_json::from_slice(&d.body).unwrap();
        assert_eq!(event["data"]["job_id"], job.id.as_str());
        assert!(ids.insert(event["id"].as_str().unwrap().to_string()));
        kinds.push(event["type"].as_str().unwrap().to_string());
        if event["type"] == "job.finished" {
            assert_eq!(event["data"]["status"], "succeeded");
            assert_eq!(event["data"]["rows_processed"], ROWS);
        } else {
            assert_eq!(event["data"]["status"], "succeeded");
            assert_eq!(event["data"]["pushed"], ROWS);
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["job.finished", "push.finished"]);
    assert_eq!(lemlist.0.lock().unwrap().len(), ROWS);
    assert!(api.storage().list("events/").await.unwrap().is_empty());
}
