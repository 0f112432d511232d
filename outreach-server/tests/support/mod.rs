//! A test harness for the HTTP API: the embedded backends in a temp dir (SQLite file,
//! local storage, in-process queue), fake Serper/LLM servers speaking the real wire
//! formats, and `app(state).oneshot(request)` without a socket.
#![allow(dead_code)]
// Helpers of tests: failing loudly is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use outreach_core::config::PipelineConfig;
use outreach_core::jobs::{JobSettings, JobSystem, WorkerHandle};
use outreach_core::setup::{BackendConfig, Backends};
use outreach_fake_providers::{FakeOptions, FakeProviders};
use outreach_server::server::auth::AuthConfig;
use outreach_server::server::campaigns::CampaignState;
use outreach_server::server::plans::Catalog;
use outreach_server::server::secrets::SecretBox;
use outreach_server::server::stripe::BillingConfig;
use outreach_server::server::{app, AppState, ServerConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

pub const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters";
pub const ISSUER: &str = "https://project.supabase.co/auth/v1";
pub const AUDIENCE: &str = "authenticated";
pub const WEBHOOK_SECRET: &str = "whsec_test_secret";
pub const STRIPE_KEY: &str = "sk_test_123";
/// `OUTREACH_SECRETS_KEY` of the test servers (32 bytes, hex).
pub const SECRETS_KEY: &str = "5f0c2b9a7e3d41c8a6b4f2e0d9c7b5a3918f7e6d5c4b3a291807f6e5d4c3b2a1";

pub struct Options {
    /// Start a worker loop (jobs complete); without one, jobs stay queued.
    pub worker: bool,
    pub free_credits: i64,
    pub max_upload_bytes: u64,
    pub stripe_api_base: Option<String>,
    /// `ServerConfig::user_quota_bytes` (the default when `None`).
    pub user_quota_bytes: Option<u64>,
    pub cors_origins: Vec<String>,
    /// `DATABASE_URL` (default: SQLite in the temp dir).
    pub database_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            worker: true,
            free_credits: 100,
            max_upload_bytes: 1_000_000,
            stripe_api_base: None,
            user_quota_bytes: None,
            cors_origins: Vec::new(),
            database_url: None,
        }
    }
}

pub struct Harness {
    pub state: AppState,
    pub dir: tempfile::TempDir,
    pub fakes: FakeProviders,
    pub worker: Option<WorkerHandle>,
}

/// The catalog the billing tests buy from.
pub fn catalog() -> Catalog {
    let mut c = Catalog::default();
    for o in c.plans.iter_mut().chain(c.addons.iter_mut()) {
        o.price_id = Some(format!("price_{}", o.name));
    }
    c
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fakes = FakeProviders::start(FakeOptions::default()).await;
        let (serper, llm) = (fakes.serper_url(), fakes.llm_base_url());
        let pipeline = PipelineConfig::from_lookup(|name| match name {
            "SERPER_API_KEY" | "LLM_API_KEY" => Some("fake".into()),
            "SERPER_URL" => Some(serper.clone()),
            "LLM_BASE_URL" => Some(llm.clone()),
            "OUTREACH_SEARCH_RPS" | "OUTREACH_LLM_RPS" => Some("0".into()),
            _ => None,
        });
        let data = dir.path().join("data");
        let backends = Backends::open(&BackendConfig {
            database_url: options.database_url,
            ..BackendConfig::local(&data)
        })
        .await
        .unwrap();
        let campaigns = backends.campaigns.clone();
        let system = JobSystem::new(
            backends.store,
            backends.ledger,
            backends.storage,
            backends.queue,
            pipeline.providers().unwrap(),
            JobSettings {
                chunk_size: 10,
                concurrency: 16,
                temp_dir: data.join("tmp"),
                webhook_backoff: Duration::from_millis(100),
                ..JobSettings::default()
            },
        );
        let mut config = ServerConfig::new(&data);
        config.free_credits = options.free_credits;
        config.max_upload_bytes = options.max_upload_bytes;
        config.events_poll = Duration::from_millis(50);
        config.cors_origins = options.cors_origins;
        if let Some(quota) = options.user_quota_bytes {
            config.user_quota_bytes = quota;
        }
        let auth = AuthConfig::new(SECRET, Some(ISSUER.into()), AUDIENCE);
        let billing = BillingConfig {
            secret_key: Some(STRIPE_KEY.into()),
            webhook_secret: Some(WEBHOOK_SECRET.into()),
            api_base: options
                .stripe_api_base
                .unwrap_or_else(|| "http://127.0.0.1:9".into()),
            app_base_url: "https://app.example.com".into(),
            catalog: catalog(),
            ..BillingConfig::default()
        };
        let state = AppState::new(system.clone(), config, auth, billing)
            .unwrap()
            .with_campaigns(CampaignState::new(
                campaigns,
                Some(SecretBox::from_hex(SECRETS_KEY).unwrap()),
            ));
        let worker = options.worker.then(|| system.spawn_worker(4));
        Self {
            state,
            dir,
            fakes,
            worker,
        }
    }

    pub fn app(&self) -> Router {
        app(self.state.clone())
    }

    pub fn start_worker(&mut self) {
        self.worker = Some(self.state.jobs.spawn_worker(4));
    }

    pub async fn call(&self, req: Request<Body>) -> Resp {
        let resp = self.app().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let resp = Resp {
            status,
            headers,
            body,
        };
        assert!(
            status.as_u16() < 500,
            "server error {status}: {}",
            resp.text()
        );
        resp
    }

    /// Uploads `bytes` as `name`; returns the `file_path`.
    pub async fn upload(&self, token: &str, name: &str, bytes: &[u8]) -> String {
        let r = self
            .call(multipart("/files", Some(token), name, bytes))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["file_path"].as_str().unwrap().to_string()
    }

    /// Creates a job on an uploaded file; returns its id.
    pub async fn create_job(&self, token: &str, body: Value) -> String {
        let r = self.call(post_json("/jobs", Some(token), &body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["job_id"].as_str().unwrap().to_string()
    }

    /// Polls the job until it ends; returns its detail.
    pub async fn wait_job(&self, token: &str, id: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.call(get(&format!("/jobs/{id}"), Some(token))).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            let v = r.json();
            if matches!(
                v["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "job did not finish: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the caller's balance is `expected`: a job's refund for rows it did not
    /// deliver lands a moment after its status flips, so a test reads it when it settles.
    pub async fn wait_balance(&self, token: &str, expected: i64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.me(token).await["credits_remaining"].as_i64();
            if now == Some(expected) || std::time::Instant::now() > deadline {
                assert_eq!(now, Some(expected), "the balance did not settle");
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn me(&self, token: &str) -> Value {
        let r = self.call(get("/me", Some(token))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The API's error code; also checks the error format.
    pub fn code(&self) -> String {
        let v = self.json();
        assert!(v["error"]["message"].is_string(), "error format: {v}");
        v["error"]["code"].as_str().unwrap().to_string()
    }
}

/// A Supabase-style token for `user`.
pub fn token(user: &str) -> String {
    token_with(
        json!({ "sub": user, "email": format!("{user}@example.com"), "aud": AUDIENCE, "iss": ISSUER,
        "role": "authenticated", "exp": now() + 3600 }),
        SECRET,
    )
}

pub fn token_with(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn with_auth(
    builder: axum::http::request::Builder,
    token: Option<&str>,
) -> axum::http::request::Builder {
    match token {
        Some(t) => builder.header(header::AUTHORIZATION, format!("Bearer {t}")),
        None => builder,
    }
}

pub fn get(path: &str, token: Option<&str>) -> Request<Body> {
    with_auth(Request::get(path), token)
        .body(Body::empty())
        .unwrap()
}

pub fn delete(path: &str, token: Option<&str>) -> Request<Body> {
    with_auth(Request::delete(path), token)
        .body(Body::empty())
        .unwrap()
}

pub fn post_json(path: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    post_raw(
        path,
        token,
        Some("application/json"),
        body.to_string().into_bytes(),
    )
}

pub fn post_raw(
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut b = with_auth(Request::post(path), token);
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(Body::from(body)).unwrap()
}

pub fn multipart(path: &str, token: Option<&str>, filename: &str, bytes: &[u8]) -> Request<Body> {
    let boundary = "----outreach-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    post_raw(
        path,
        token,
        Some(&format!("multipart/form-data; boundary={boundary}")),
        body,
    )
}

pub fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/prospects.csv")
}

pub fn sample() -> Vec<u8> {
    std::fs::read(sample_path()).unwrap()
}

/// A CSV of `n` prospects with valid emails.
pub fn prospects_csv(n: usize) -> Vec<u8> {
    let mut s = String::from("name,email\n");
    for i in 0..n {
        s.push_str(&format!("Person {i},person{i}@company{}.com\n", i % 7));
    }
    s.into_bytes()
}

/// The sample's emails, in order.
pub fn sample_emails() -> Vec<String> {
    let mut r = csv::Reader::from_path(sample_path()).unwrap();
    let headers = r.headers().unwrap().clone();
    let idx = headers.iter().position(|h| h == "email").unwrap();
    r.records()
        .map(|rec| rec.unwrap()[idx].to_string())
        .collect()
}
