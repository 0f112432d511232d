//! Smartlead: `POST /api/v1/campaigns/{campaign_id}/leads?api_key=KEY` with a
//! `lead_list` (at most 100 leads) whose `custom_fields` carry the opener, the draft and
//! the research summary (Smartlead allows 20 custom fields per lead).
//!
//! Smartlead never adds a lead twice to one campaign; its reply counts what happened
//! (`upload_count`, `already_added_to_campaign`, `duplicate_count`, `block_count`) and
//! names the `invalid_emails` and `unsubscribed_leads`. Named leads get their own
//! verdict; for the rest, a batch that uploaded all or nothing is exact per lead, and
//! a mixed batch reports its leads as pushed with the counts in the reason (Smartlead
//! does not say which ones were already there): `batch::Counts`, shared with Instantly.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::batch::Counts;
use super::wire;
use super::{Destination, DestinationConfig, DestinationKind, Lead, LeadResult};
use crate::error::Result;
use crate::providers::http::Reply;

const BATCH: usize = 100;

pub struct Smartlead {
    client: reqwest::Client,
    url: String,
    api_key: String,
}

impl std::fmt::Debug for Smartlead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key travels in the query string: never in debug output.
        f.debug_struct("Smartlead")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Smartlead {
    pub fn new(config: &DestinationConfig) -> Result<Self> {
        Ok(Self {
            client: wire::client(config)?,
            url: format!(
                "{}/api/v1/campaigns/{}/leads",
                config.base_url(),
                urlencode(&config.campaign)
            ),
            api_key: config.api_key.clone(),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UploadReply {
    upload_count: u64,
    already_added_to_campaign: u64,
    duplicate_count: u64,
    block_count: u64,
    invalid_emails: Value,
    unsubscribed_leads: Value,
}

/// Emails listed in a reply field (a list of strings, or of `{email}` objects).
fn listed(value: &Value, email: &str) -> bool {
    let Some(items) = value.as_array() else {
        return false;
    };
    items.iter().any(|item| {
        let text = item
            .as_str()
            .or_else(|| item.get("email").and_then(Value::as_str))
            .unwrap_or_default();
        text.eq_ignore_ascii_case(email)
    })
}

#[async_trait]
impl Destination for Smartlead {
    fn kind(&self) -> DestinationKind {
        DestinationKind::Smartlead
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn push_batch(&self, leads: &[Lead]) -> Result<Vec<LeadResult>> {
        let lead_list: Vec<Value> = leads
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
                    "custom_fields": custom,
                })
            })
            .collect();
        let body = json!({
            "lead_list": lead_list,
            "settings": {
                "ignore_global_block_list": false,
                "ignore_unsubscribe_list": false,
                "ignore_duplicate_leads_in_other_campaign": true,
            },
        });
        let request = self
            .client
            .post(format!("{}?api_key={}", self.url, urlencode(&self.api_key)))
            .json(&body);
        let reply: UploadReply = match wire::send(request).await? {
            Reply::Success(bytes) => wire::parse(&bytes)?,
            Reply::Failure {
                status,
                headers,
                body,
            } => return Err(wire::failure(status, &headers, &body)),
        };
        let named = |lead: &Lead| {
            if listed(&reply.invalid_emails, &lead.email) {
                Some(LeadResult::rejected("Smartlead: invalid email"))
            } else if listed(&reply.unsubscribed_leads, &lead.email) {
                Some(LeadResult::skipped("unsubscribed in Smartlead"))
            } else {
                None
            }
        };
        let counts = Counts {
            created: reply.upload_count,
            sent: leads.iter().filter(|l| named(l).is_none()).count() as u64,
        };
        Ok(leads
            .iter()
            .map(|lead| {
                named(lead).unwrap_or_else(|| {
                    counts.verdict("Smartlead", || {
                        if reply.block_count > 0 && reply.already_added_to_campaign == 0 {
                            LeadResult::skipped("on the Smartlead block list")
                        } else {
                            LeadResult::skipped("duplicate: already in the campaign")
                        }
                    })
                })
            })
            .collect())
    }
}

/// Percent-encodes a path segment (campaign ids are numbers, but they come from users).
pub(super) fn urlencode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
