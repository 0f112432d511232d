//! [`CampaignSettings`]: the `account_destinations`, `account_suppressions` and
//! `account_webhooks` tables.

use async_trait::async_trait;

use super::{now, Dialect, Query, SqlRow, SqlStore};
use crate::campaign::push::DestinationKind;
use crate::campaign::settings::{CampaignSettings, SavedDestination, WebhookSetting};
use crate::error::Result;

fn destination_from_row(row: &impl SqlRow) -> Result<SavedDestination> {
    let kind = row.text("kind")?;
    Ok(SavedDestination {
        kind: kind
            .parse::<DestinationKind>()
            .map_err(|e| super::corrupt("destination kind", e))?,
        campaign: row.text("campaign")?,
        sealed_key: row.text("sealed_key")?,
        key_hint: row.text("key_hint")?,
        updated_at: row.ts("updated_at")?,
    })
}

#[async_trait]
impl<D: Dialect> CampaignSettings for SqlStore<D> {
    async fn put_destination(&self, user_id: &str, d: &SavedDestination) -> Result<()> {
        let query = Query::new(
            "INSERT INTO account_destinations (user_id, kind, campaign, sealed_key, key_hint, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id, kind) DO UPDATE SET campaign = excluded.campaign, \
             sealed_key = excluded.sealed_key, key_hint = excluded.key_hint, \
             updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(d.kind.as_str())
        .bind(&d.campaign)
        .bind(&d.sealed_key)
        .bind(&d.key_hint)
        .bind(d.updated_at);
        self.on().execute(query, "save the destination").await?;
        Ok(())
    }

    async fn destinations(&self, user_id: &str) -> Result<Vec<SavedDestination>> {
        let query = Query::new(
            "SELECT kind, campaign, sealed_key, key_hint, updated_at FROM account_destinations \
             WHERE user_id = $1 ORDER BY kind",
        )
        .bind(user_id);
        self.on()
            .all(query, "list the destinations")
            .await?
            .iter()
            .map(destination_from_row)
            .collect()
    }

    async fn delete_destination(&self, user_id: &str, kind: DestinationKind) -> Result<bool> {
        let query = Query::new("DELETE FROM account_destinations WHERE user_id = $1 AND kind = $2")
            .bind(user_id)
            .bind(kind.as_str());
        Ok(self.on().execute(query, "delete the destination").await? > 0)
    }

    async fn add_suppressions(&self, user_id: &str, entries: &[String]) -> Result<u64> {
        let mut added = 0;
        let created = now();
        // One statement per entry inside one transaction: a list of a few thousand
        // lines stays one commit, and duplicates are the primary key's business.
        let mut tx = self
            .begin(D::BEGIN_WRITE, "add to the do-not-contact list")
            .await?;
        let mut result = Ok(());
        for entry in entries {
            let query = Query::new(
                "INSERT INTO account_suppressions (user_id, entry, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, entry) DO NOTHING",
            )
            .bind(user_id)
            .bind(entry)
            .bind(created);
            match super::On::<D>::Tx(&mut tx)
                .execute(query, "add to the do-not-contact list")
                .await
            {
                Ok(n) => added += n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        super::finish_tx::<D, ()>(tx, result, "add to the do-not-contact list").await?;
        Ok(added)
    }

    async fn suppressions(&self, user_id: &str) -> Result<Vec<String>> {
        let query =
            Query::new("SELECT entry FROM account_suppressions WHERE user_id = $1 ORDER BY entry")
                .bind(user_id);
        self.on()
            .all(query, "read the do-not-contact list")
            .await?
            .iter()
            .map(|row| row.text("entry"))
            .collect()
    }

    async fn delete_suppression(&self, user_id: &str, entry: &str) -> Result<bool> {
        let query =
            Query::new("DELETE FROM account_suppressions WHERE user_id = $1 AND entry = $2")
                .bind(user_id)
                .bind(entry);
        Ok(self
            .on()
            .execute(query, "delete from the do-not-contact list")
            .await?
            > 0)
    }

    async fn put_webhook(&self, user_id: &str, w: &WebhookSetting) -> Result<()> {
        let query = Query::new(
            "INSERT INTO account_webhooks (user_id, url, sealed_secret, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET url = excluded.url, \
             sealed_secret = excluded.sealed_secret, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(&w.url)
        .bind(&w.sealed_secret)
        .bind(w.updated_at);
        self.on().execute(query, "save the webhook").await?;
        Ok(())
    }

    async fn webhook(&self, user_id: &str) -> Result<Option<WebhookSetting>> {
        let query = Query::new(
            "SELECT url, sealed_secret, updated_at FROM account_webhooks WHERE user_id = $1",
        )
        .bind(user_id);
        self.on()
            .optional(query, "read the webhook")
            .await?
            .map(|row| {
                Ok(WebhookSetting {
                    url: row.text("url")?,
                    sealed_secret: row.text("sealed_secret")?,
                    updated_at: row.ts("updated_at")?,
                })
            })
            .transpose()
    }

    async fn delete_webhook(&self, user_id: &str) -> Result<bool> {
        let query = Query::new("DELETE FROM account_webhooks WHERE user_id = $1").bind(user_id);
        Ok(self.on().execute(query, "delete the webhook").await? > 0)
    }
}
