//! What the campaign routes share: the account settings store, the server key that
//! seals API keys and webhook secrets, and the two ports the core's tasks call back
//! into because only this side holds that key:
//! - [`PushAccess`]: a push task (`Task::Push`, run by any worker of `outreach serve`
//!   or `outreach worker`; see `outreach_core::jobs` push notes) asks for the saved
//!   destination with its key opened, and the account's do-not-contact list;
//! - [`EventSender`]: a `Deliver` task hands over a stored event (`job.finished`,
//!   `push.finished`); it is signed the way Stripe signs (`t=…,v1=HMAC-SHA256`) and
//!   posted to the account's webhook, once per attempt (the core retries with backoff
//!   and dead-letters).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use hmac::{KeyInit, Mac};
pub use outreach_core::campaign::push::record::{record_key, results_key, PushRecord};
use outreach_core::campaign::push::{DestinationConfig, DestinationKind, PushAccess};
use outreach_core::campaign::settings::CampaignSettings;
use outreach_core::campaign::SuppressionList;
use outreach_core::jobs::{EventSender, Sent};
use outreach_core::Error as CoreError;

use super::secrets::SecretBox;

#[derive(Debug)]
pub struct CampaignState {
    pub settings: Arc<dyn CampaignSettings>,
    /// `None` when `OUTREACH_SECRETS_KEY` is not set: keys cannot be stored.
    pub secrets: Option<SecretBox>,
    /// Base URL overrides per destination (`INSTANTLY_URL`, …).
    pub base_urls: HashMap<DestinationKind, String>,
    http: reqwest::Client,
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
}

/// Lets `jobs`' workers deliver events and run pushes through `campaigns` (the API
/// process and `outreach worker` both call it).
pub fn serve_tasks(jobs: &outreach_core::jobs::JobSystem, campaigns: &Arc<CampaignState>) {
    jobs.set_event_sender(campaigns.clone());
    jobs.set_push_access(campaigns.clone());
}

#[async_trait]
impl EventSender for CampaignState {
    async fn subscribed(&self, user_id: &str) -> outreach_core::Result<bool> {
        Ok(self.secrets.is_some() && self.settings.webhook(user_id).await?.is_some())
    }

    /// One signed POST of `body` to the account's webhook; a non-2xx answer or a
    /// network error is an error (the core retries with backoff).
    async fn send(&self, user_id: &str, body: &str) -> outreach_core::Result<Sent> {
        let Some(secrets) = &self.secrets else {
            return Ok(Sent::Undeliverable(format!(
                "{} is not set on this process",
                super::secrets::KEY_ENV
            )));
        };
        let Some(hook) = self.settings.webhook(user_id).await? else {
            return Ok(Sent::NoEndpoint);
        };
        let secret = match secrets.open(&webhook_context(user_id), &hook.sealed_secret) {
            Ok(s) => s,
            Err(e) => return Ok(Sent::Undeliverable(e.to_string())),
        };
        let t = Utc::now().timestamp();
        let signature = sign(&secret, t, body);
        let sent = self
            .http
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("Outreach-Signature", format!("t={t},v1={signature}"))
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Ok(Sent::Delivered),
            Ok(r) => Err(CoreError::Upstream {
                provider: outreach_core::error::ProviderKind::Webhook,
                status: r.status().as_u16(),
                body: "the webhook answered with an error status".into(),
            }),
            Err(e) => Err(CoreError::Upstream {
                provider: outreach_core::error::ProviderKind::Webhook,
                status: 0,
                body: e.without_url().to_string(),
            }),
        }
    }
}

#[async_trait]
impl PushAccess for CampaignState {
    async fn destination(
        &self,
        user_id: &str,
        kind: DestinationKind,
        campaign: &str,
    ) -> outreach_core::Result<DestinationConfig> {
        let saved = self
            .settings
            .destinations(user_id)
            .await?
            .into_iter()
            .find(|d| d.kind == kind)
            .ok_or_else(|| {
                CoreError::Config(format!("no saved {kind} destination (it was removed)"))
            })?;
        let secrets = self.secrets.as_ref().ok_or_else(|| {
            CoreError::Config(format!(
                "{} is not set on this process: saved keys cannot be opened",
                super::secrets::KEY_ENV
            ))
        })?;
        let api_key = secrets
            .open(&destination_context(user_id, kind), &saved.sealed_key)
            .map_err(|e| CoreError::Config(e.to_string()))?;
        let campaign = if campaign.is_empty() {
            saved.campaign
        } else {
            campaign.to_string()
        };
        let mut config = DestinationConfig::new(kind, api_key, campaign);
        if let Some(url) = self.base_urls.get(&kind) {
            config = config.with_base_url(url.clone());
        }
        Ok(config)
    }

    async fn suppression(&self, user_id: &str) -> outreach_core::Result<Option<SuppressionList>> {
        self.account_list(user_id).await
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
