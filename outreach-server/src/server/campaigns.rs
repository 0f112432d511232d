//! What the campaign routes share: the account settings store, the server key that
//! seals API keys and webhook secrets, the pushes running in this process, and the
//! outgoing webhook sender.
//!
//! A push is a job of its own: `POST /jobs/{id}/push` records it in storage
//! (`pushes/<user>/<job>/<push>.json`, updated about twice a second while it runs,
//! with the per-row results beside it once it ends) and runs it on this process's
//! runtime. A repeat while the same push (job, destination, campaign) runs returns the
//! running one; a repeat after it ended pushes again, which the destinations' dedupe
//! makes harmless (rows come back `skipped`). A process that stops mid-push leaves its
//! record `running`; pushing again finishes the work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use outreach_core::campaign::push::{
    build_destination, push_file, DestinationConfig, DestinationKind, PushOptions, PushSummary,
    RowResult,
};
use outreach_core::campaign::settings::CampaignSettings;
use outreach_core::campaign::SuppressionList;
use outreach_core::jobs::{FinishedJob, JobNotifier};
use outreach_core::ports::Storage;
use serde::{Deserialize, Serialize};

use super::secrets::SecretBox;

/// Outgoing webhook deliveries: attempts and the first backoff step (doubling).
const WEBHOOK_ATTEMPTS: u32 = 5;
const WEBHOOK_FIRST_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct CampaignState {
    pub settings: Arc<dyn CampaignSettings>,
    /// `None` when `OUTREACH_SECRETS_KEY` is not set: keys cannot be stored.
    pub secrets: Option<SecretBox>,
    /// Base URL overrides per destination (`INSTANTLY_URL`, …).
    pub base_urls: HashMap<DestinationKind, String>,
    http: reqwest::Client,
    /// Running pushes by `user|job|kind|campaign` → push id.
    running: Mutex<HashMap<String, String>>,
    webhook_backoff: Duration,
}

impl CampaignState {
    pub fn new(settings: Arc<dyn CampaignSettings>, secrets: Option<SecretBox>) -> Self {
        Self {
            settings,
            secrets,
            base_urls: HashMap::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            running: Mutex::new(HashMap::new()),
            webhook_backoff: WEBHOOK_FIRST_BACKOFF,
        }
    }

    /// With the base URL overrides from the environment (`INSTANTLY_URL`, …).
    pub fn with_env_urls(mut self) -> Self {
        for kind in DestinationKind::ALL {
            if let Ok(url) = std::env::var(kind.url_env()) {
                if !url.trim().is_empty() {
                    self.base_urls.insert(kind, url.trim().to_string());
                }
            }
        }
        self
    }

    pub fn with_base_url(mut self, kind: DestinationKind, url: impl Into<String>) -> Self {
        self.base_urls.insert(kind, url.into());
        self
    }

    /// The first wait between webhook attempts (tests shorten it).
    pub fn with_webhook_backoff(mut self, first: Duration) -> Self {
        self.webhook_backoff = first;
        self
    }

    /// The account's do-not-contact list (entries as stored), or `None` when empty.
    pub async fn account_list(
        &self,
        user_id: &str,
    ) -> outreach_core::Result<Option<SuppressionList>> {
        let entries = self.settings.suppressions(user_id).await?;
        if entries.is_empty() {
            return Ok(None);
        }
        Ok(Some(SuppressionList::parse(&entries.join("\n")).0))
    }

    fn claim(&self, key: &str, push_id: &str) -> Option<String> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = running.get(key) {
            return Some(existing.clone());
        }
        running.insert(key.to_string(), push_id.to_string());
        None
    }

    fn release(&self, key: &str) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.remove(key);
    }

    /// Signs and delivers `event` to the account's webhook, if it has one; retries
    /// with doubling backoff on network errors and non-2xx answers. Never fails the
    /// caller: a delivery that gives up is logged.
    pub async fn notify(&self, user_id: &str, event: &str, data: serde_json::Value) {
        let Some(secrets) = &self.secrets else { return };
        let hook = match self.settings.webhook(user_id).await {
            Ok(Some(hook)) => hook,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the webhook setting");
                return;
            }
        };
        let secret = match secrets.open(&webhook_context(user_id), &hook.sealed_secret) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "the webhook secret does not open");
                return;
            }
        };
        let body = serde_json::json!({
            "id": format!("evt_{}", uuid::Uuid::new_v4().simple()),
            "type": event,
            "created": Utc::now().timestamp(),
            "data": data,
        })
        .to_string();
        let mut wait = self.webhook_backoff;
        for attempt in 1..=WEBHOOK_ATTEMPTS {
            let t = Utc::now().timestamp();
            let signature = sign(&secret, t, &body);
            let sent = self
                .http
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("Outreach-Signature", format!("t={t},v1={signature}"))
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => {
                    tracing::warn!(status = %r.status(), attempt, event, "webhook delivery refused")
                }
                Err(e) => {
                    tracing::warn!(error = %e.without_url(), attempt, event, "webhook delivery failed")
                }
            }
            if attempt < WEBHOOK_ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
        tracing::error!(event, "webhook delivery gave up");
    }
}

/// Sends `job.finished` through the account's webhook, on a task of its own so the
/// worker that finished the job never waits for the delivery and its retries.
#[derive(Debug)]
pub struct JobWebhook(pub Arc<CampaignState>);

impl JobNotifier for JobWebhook {
    fn job_finished(&self, event: FinishedJob) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(job = %event.job_id, "no runtime to send job.finished on");
            return;
        };
        let state = self.0.clone();
        runtime.spawn(async move {
            let data = match serde_json::to_value(&event) {
                Ok(data) => data,
                Err(e) => {
                    tracing::warn!(error = %e, "could not encode job.finished");
                    return;
                }
            };
            state.notify(&event.user_id, "job.finished", data).await;
        });
    }
}

/// `hex(HMAC-SHA256(secret, "{t}.{body}"))`, Stripe's scheme.
pub fn sign(secret: &str, t: i64, body: &str) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body.as_bytes());
    super::secrets::encode_hex(&mac.finalize().into_bytes())
}

/// The associated data of a destination's sealed key.
pub fn destination_context(user_id: &str, kind: DestinationKind) -> String {
    format!("destination:{user_id}:{kind}")
}

/// The associated data of a webhook's sealed secret.
pub fn webhook_context(user_id: &str) -> String {
    format!("webhook:{user_id}")
}

/// A push as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRecord {
    pub id: String,
    pub job_id: String,
    pub to: DestinationKind,
    pub campaign: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    #[serde(flatten)]
    pub summary: PushSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

pub fn record_key(user_id: &str, job_id: &str, push_id: &str) -> String {
    format!("pushes/{user_id}/{job_id}/{push_id}.json")
}

pub fn results_key(user_id: &str, job_id: &str, push_id: &str) -> String {
    format!("pushes/{user_id}/{job_id}/{push_id}.results.jsonl")
}

/// What a push needs to start.
pub struct PushStart {
    pub user_id: String,
    pub job_id: String,
    /// The job's result file, already copied locally (kept alive by the task).
    pub result: super::tempfiles::TempCopy,
    pub config: DestinationConfig,
    pub suppression: Option<SuppressionList>,
}

/// Starts a push (or finds the same one running) and returns its record.
pub async fn start_push(
    state: Arc<CampaignState>,
    storage: Arc<dyn Storage>,
    start: PushStart,
) -> outreach_core::Result<(PushRecord, bool)> {
    let key = format!(
        "{}|{}|{}|{}",
        start.user_id, start.job_id, start.config.kind, start.config.campaign
    );
    let id = format!("push_{}", uuid::Uuid::new_v4().simple());
    if let Some(existing) = state.claim(&key, &id) {
        let bytes = storage
            .get(&record_key(&start.user_id, &start.job_id, &existing))
            .await?;
        let record: PushRecord = serde_json::from_slice(&bytes)
            .map_err(|e| outreach_core::Error::Storage(format!("unreadable push record: {e}")))?;
        return Ok((record, false));
    }
    let record = PushRecord {
        id: id.clone(),
        job_id: start.job_id.clone(),
        to: start.config.kind,
        campaign: start.config.campaign.clone(),
        status: "running".into(),
        summary: PushSummary::default(),
        error: None,
        created_at: Utc::now(),
        finished_at: None,
    };
    if let Err(e) = save(&*storage, &start.user_id, &record).await {
        state.release(&key);
        return Err(e);
    }
    tokio::spawn(run_push(state, storage, start, record.clone(), key));
    Ok((record, true))
}

async fn save(
    storage: &dyn Storage,
    user_id: &str,
    record: &PushRecord,
) -> outreach_core::Result<()> {
    let bytes = serde_json::to_vec(record).unwrap_or_default();
    storage
        .put(
            &record_key(user_id, &record.job_id, &record.id),
            bytes.into(),
        )
        .await
}

async fn run_push(
    state: Arc<CampaignState>,
    storage: Arc<dyn Storage>,
    start: PushStart,
    record: PushRecord,
    key: String,
) {
    let PushStart {
        user_id,
        result,
        config,
        suppression,
        ..
    } = start;
    let live = Arc::new(Mutex::new(record));
    let results: Arc<Mutex<Vec<RowResult>>> = Arc::default();
    // Progress is written about twice a second while rows come back.
    let ticker = tokio::spawn({
        let (storage, live, user_id) = (storage.clone(), live.clone(), user_id.clone());
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let snapshot = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Err(e) = save(&*storage, &user_id, &snapshot).await {
                    tracing::warn!(error = %e, "could not save push progress");
                }
            }
        }
    });
    let outcome = match build_destination(&config) {
        Ok(destination) => {
            let options = PushOptions {
                suppression: suppression.map(Arc::new),
            };
            let (live, results) = (live.clone(), results.clone());
            push_file(&result.path, destination.as_ref(), &options, move |row| {
                let mut r = live.lock().unwrap_or_else(|e| e.into_inner());
                r.summary.rows += 1;
                match row.status {
                    outreach_core::campaign::push::PushStatus::Pushed => r.summary.pushed += 1,
                    outreach_core::campaign::push::PushStatus::Skipped => r.summary.skipped += 1,
                    outreach_core::campaign::push::PushStatus::Rejected => r.summary.rejected += 1,
                }
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(row.clone());
            })
            .await
        }
        Err(e) => Err(e),
    };
    ticker.abort();
    let mut lines = String::new();
    for row in results.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if let Ok(line) = serde_json::to_string(row) {
            lines.push_str(&line);
            lines.push('\n');
        }
    }
    let mut record = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Err(e) = storage
        .put(
            &results_key(&user_id, &record.job_id, &record.id),
            lines.into(),
        )
        .await
    {
        tracing::warn!(error = %e, "could not save push results");
    }
    record.finished_at = Some(Utc::now());
    match outcome {
        Ok(summary) => {
            record.status = "succeeded".into();
            record.summary = summary;
        }
        Err(e) => {
            record.status = "failed".into();
            record.error = Some(e.to_string());
        }
    }
    if let Err(e) = save(&*storage, &user_id, &record).await {
        tracing::error!(error = %e, "could not save the finished push");
    }
    state.release(&key);
    result.remove().await;
    tracing::info!(push = %record.id, status = %record.status, pushed = record.summary.pushed, "push finished");
    let data = serde_json::to_value(&record).unwrap_or_default();
    state.notify(&user_id, "push.finished", data).await;
}
