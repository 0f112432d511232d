//! Instantly API v2: `POST /api/v2/leads/add` ("Add leads in bulk", up to 1000 leads
//! per request; we send 500), Bearer key, leads with `personalization` and
//! `custom_variables`, `skip_if_in_campaign: true` so a lead already in the campaign
//! is never added twice.
//!
//! Per-lead verdicts come from the reply's `created_leads` (`{id, index, email}`): a
//! lead listed there was created; one not listed was skipped (already in the
//! campaign, or on the workspace blocklist, as the counts say). A request whose body
//! fails validation answers 400 naming the lead (`body/leads/3/email must match
//! format "email"`, Fastify's format): that lead is rejected with the message and the
//! rest are sent again (`batch::send_dropping_refused`, shared with the other batch
//! adapters, as are the verdicts from counts).

use std::collections::HashSet;

use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::batch::{self, Counts, Sent};
use super::wire;
use super::{Destination, DestinationConfig, DestinationKind, Lead, LeadResult};
use crate::error::Result;
use crate::providers::http::Reply;

const BATCH: usize = 500;

#[derive(Debug)]
pub struct Instantly {
    client: reqwest::Client,
    url: String,
    auth: reqwest::header::HeaderValue,
    campaign: String,
}

impl Instantly {
    pub fn new(config: &DestinationConfig) -> Result<Self> {
        Ok(Self {
            client: wire::client(config)?,
            url: format!("{}/api/v2/leads/add", config.base_url()),
            auth: wire::secret(&format!("Bearer {}", config.api_key))?,
            campaign: config.campaign.clone(),
        })
    }

    fn body(&self, leads: &[&Lead]) -> Value {
        let leads: Vec<Value> = leads
            .iter()
            .map(|lead| {
                let mut custom = Map::new();
                for (name, value) in lead.custom_fields() {
                    custom.insert(name.to_string(), Value::from(value));
                }
                json!({
                    "email": lead.email,
                    "first_name": lead.first_name,
                    "last_name": lead.last_name,
                    "company_name": lead.company,
                    "website": lead.website,
                    "personalization": lead.opener,
                    "custom_variables": custom,
                })
            })
            .collect();
        json!({
            "campaign_id": self.campaign,
            "skip_if_in_campaign": true,
            "skip_if_in_workspace": false,
            "leads": leads,
        })
    }
}

#[derive(Debug, Deserialize)]
struct AddReply {
    #[serde(default)]
    created_leads: Option<Vec<Created>>,
    #[serde(default)]
    leads_uploaded: u64,
    #[serde(default)]
    already_in_campaign: u64,
    #[serde(default)]
    in_blocklist: u64,
}

#[derive(Debug, Deserialize)]
struct Created {
    email: String,
}

#[async_trait]
impl Destination for Instantly {
    fn kind(&self) -> DestinationKind {
        DestinationKind::Instantly
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn push_batch(&self, leads: &[Lead]) -> Result<Vec<LeadResult>> {
        batch::send_dropping_refused(leads.len(), |pending| async move {
            let batch: Vec<&Lead> = pending.iter().filter_map(|&i| leads.get(i)).collect();
            let request = self
                .client
                .post(&self.url)
                .header(AUTHORIZATION, self.auth.clone())
                .json(&self.body(&batch));
            match wire::send(request).await? {
                Reply::Success(bytes) => {
                    let reply: AddReply = wire::parse(&bytes)?;
                    Ok(Sent::Judged(
                        batch
                            .iter()
                            .map(|lead| verdict(&reply, lead, batch.len()))
                            .collect(),
                    ))
                }
                Reply::Failure {
                    status,
                    headers,
                    body,
                } => {
                    let message = wire::message(&body);
                    match (status.as_u16(), refused_index(&message)) {
                        (400, Some(index)) if index < batch.len() => {
                            Ok(Sent::Refused { index, message })
                        }
                        _ => Err(wire::failure(status, &headers, &body)),
                    }
                }
            }
        })
        .await
    }
}

fn verdict(reply: &AddReply, lead: &Lead, sent: usize) -> LeadResult {
    let not_created = || {
        if reply.already_in_campaign > 0 {
            LeadResult::skipped("duplicate: already in the campaign")
        } else if reply.in_blocklist > 0 {
            LeadResult::skipped("on the Instantly blocklist")
        } else {
            LeadResult::skipped("not created by Instantly")
        }
    };
    match &reply.created_leads {
        Some(created) => {
            let emails: HashSet<String> = created.iter().map(|c| c.email.to_lowercase()).collect();
            if emails.contains(&lead.email.to_lowercase()) {
                LeadResult::pushed()
            } else {
                not_created()
            }
        }
        // Without the list, only the counts speak.
        None => Counts {
            created: reply.leads_uploaded,
            sent: sent as u64,
        }
        .verdict("Instantly", not_created),
    }
}

/// The lead a validation message names: `body/leads/3/email …` → 3.
fn refused_index(message: &str) -> Option<usize> {
    let start = message.find("leads/")? + "leads/".len();
    let digits: String = message[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_name_the_lead() {
        assert_eq!(
            refused_index("body/leads/3/email must match format \"email\""),
            Some(3)
        );
        assert_eq!(refused_index("Invalid API key"), None);
    }
}
