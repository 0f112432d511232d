//! An account's campaign settings: the destinations it pushes to (API keys sealed by
//! the front end: this port never sees a key in clear), its do-not-contact list, and
//! its outgoing webhook (the signing secret sealed the same way).
//!
//! The server encrypts before it stores and decrypts only to call the destination; the
//! core stays free of crypto dependencies, like `LocalAccounts` with password hashes.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::push::DestinationKind;
use crate::error::Result;

/// A saved destination. `sealed_key` is the front end's ciphertext of the API key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedDestination {
    pub kind: DestinationKind,
    /// The default campaign id for pushes (empty for HubSpot).
    pub campaign: String,
    pub sealed_key: String,
    /// The key's last four characters, to tell keys apart in a settings page.
    pub key_hint: String,
    pub updated_at: DateTime<Utc>,
}

impl Debug for SavedDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedDestination")
            .field("kind", &self.kind)
            .field("campaign", &self.campaign)
            .field("key_hint", &self.key_hint)
            .finish_non_exhaustive()
    }
}

/// An account's outgoing webhook. `sealed_secret` is the front end's ciphertext of the
/// signing secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSetting {
    pub url: String,
    pub sealed_secret: String,
    pub updated_at: DateTime<Utc>,
}

impl Debug for WebhookSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSetting")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Per-account campaign settings.
///
/// # Contract
/// - Everything is scoped to `user_id`: no call sees or changes another account's rows.
/// - `put_destination` replaces the account's destination of that kind (one per kind).
/// - `add_suppressions` stores entries already normalised by
///   [`super::suppress::Entry::to_line`]; an entry already listed is not added twice, and
///   the count returned is of new entries only.
/// - Deleting something absent is `Ok(false)`.
#[async_trait]
pub trait CampaignSettings: Send + Sync + Debug + 'static {
    async fn put_destination(&self, user_id: &str, destination: &SavedDestination) -> Result<()>;
    async fn destinations(&self, user_id: &str) -> Result<Vec<SavedDestination>>;
    async fn delete_destination(&self, user_id: &str, kind: DestinationKind) -> Result<bool>;

    async fn add_suppressions(&self, user_id: &str, entries: &[String]) -> Result<u64>;
    async fn suppressions(&self, user_id: &str) -> Result<Vec<String>>;
    async fn delete_suppression(&self, user_id: &str, entry: &str) -> Result<bool>;

    async fn put_webhook(&self, user_id: &str, webhook: &WebhookSetting) -> Result<()>;
    async fn webhook(&self, user_id: &str) -> Result<Option<WebhookSetting>>;
    async fn delete_webhook(&self, user_id: &str) -> Result<bool>;
}
