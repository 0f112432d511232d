//! lemlist: `POST /api/campaigns/{campaignId}/leads/{email}?deduplicate=true`, one lead
//! per request, HTTP Basic auth with an empty user and the key as password
//! (lemlist-developer docs, "Add a Lead in a Campaign"). The body carries
//! `firstName`, `lastName`, `companyName`, `icebreaker` (the opener) and our custom
//! variables by name; lemlist keeps any extra key as a custom variable.
//!
//! `deduplicate=true` makes lemlist refuse an address already in a campaign instead of
//! inserting it again: that refusal is a `skipped` (duplicate). Other 4xx answers
//! reject the lead with lemlist's message; 404 (no such campaign) stops the push.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::smartlead::urlencode;
use super::wire::{self, PROVIDER};
use super::{Destination, DestinationConfig, DestinationKind, Lead, LeadResult};
use crate::error::{Error, Result};
use crate::providers::http::Reply;

pub struct Lemlist {
    client: reqwest::Client,
    base: String,
    api_key: String,
}

impl std::fmt::Debug for Lemlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lemlist")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Lemlist {
    pub fn new(config: &DestinationConfig) -> Result<Self> {
        // Checked once here, so a key that cannot be a header fails before any row.
        wire::secret(&config.api_key)?;
        Ok(Self {
            client: wire::client(config)?,
            base: format!(
                "{}/api/campaigns/{}/leads",
                config.base_url(),
                urlencode(&config.campaign)
            ),
            api_key: config.api_key.clone(),
        })
    }

    async fn push_one(&self, lead: &Lead) -> Result<LeadResult> {
        let mut body = Map::new();
        for (key, value) in [
            ("firstName", &lead.first_name),
            ("lastName", &lead.last_name),
            ("companyName", &lead.company),
            ("icebreaker", &lead.opener),
        ] {
            if !value.is_empty() {
                body.insert(key.into(), Value::from(value.as_str()));
            }
        }
        for (name, value) in lead.custom_fields() {
            body.insert(name.into(), Value::from(value));
        }
        let request = self
            .client
            .post(format!(
                "{}/{}?deduplicate=true",
                self.base,
                urlencode(&lead.email)
            ))
            .basic_auth("", Some(&self.api_key))
            .json(&Value::Object(body));
        match wire::send(request).await? {
            Reply::Success(_) => Ok(LeadResult::pushed()),
            Reply::Failure {
                status,
                headers,
                body,
            } => {
                let message = wire::message(&body);
                match status.as_u16() {
                    409 => Ok(LeadResult::skipped(format!("duplicate: {message}"))),
                    400 if is_duplicate(&message) => {
                        Ok(LeadResult::skipped(format!("duplicate: {message}")))
                    }
                    404 => Err(Error::RequestRejected {
                        provider: PROVIDER,
                        status: 404,
                        message,
                    }),
                    400 | 422 => Ok(LeadResult::rejected(message)),
                    _ => Err(wire::failure(status, &headers, &body)),
                }
            }
        }
    }
}

/// lemlist's refusal of an address that is already in a campaign.
fn is_duplicate(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("already") || m.contains("duplicate")
}

#[async_trait]
impl Destination for Lemlist {
    fn kind(&self) -> DestinationKind {
        DestinationKind::Lemlist
    }

    /// One lead per request: the rate limit then paces requests exactly.
    fn batch_size(&self) -> usize {
        1
    }

    async fn push_batch(&self, leads: &[Lead]) -> Result<Vec<LeadResult>> {
        let mut results = Vec::with_capacity(leads.len());
        for lead in leads {
            results.push(self.push_one(lead).await?);
        }
        Ok(results)
    }
}
