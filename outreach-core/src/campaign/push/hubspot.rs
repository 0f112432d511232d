//! HubSpot CRM: `POST /crm/v3/objects/contacts/batch/upsert` (at most 100 inputs),
//! Bearer private-app token, each input `{idProperty: "email", id: <email>,
//! properties}`. Upsert by email is HubSpot's own dedupe: a contact that exists is
//! updated, never created twice; the reply's `new` flag says which (`new: false` is
//! reported `skipped`, "duplicate: existing contact updated").
//!
//! The opener and the research summary go to custom contact properties named like our
//! columns (`sif_personalized`, `sif_research_summary`, `email_subject`, `email_body`,
//! `variant`): create them in HubSpot once (Settings → Properties) before pushing.
//!
//! A 207 reply carries `results` and `errors`; a lead with no result is rejected with
//! the error that names it (or the only error). HubSpot's 429 carries no
//! `Retry-After`; its `X-HubSpot-RateLimit-Interval-Milliseconds` window is waited
//! instead.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::wire::{self, PROVIDER};
use super::{Destination, DestinationConfig, DestinationKind, Lead, LeadResult};
use crate::error::{Error, Result};
use crate::providers::http::Reply;

const BATCH: usize = 100;

#[derive(Debug)]
pub struct HubSpot {
    client: reqwest::Client,
    url: String,
    auth: reqwest::header::HeaderValue,
}

impl HubSpot {
    pub fn new(config: &DestinationConfig) -> Result<Self> {
        Ok(Self {
            client: wire::client(config)?,
            url: format!("{}/crm/v3/objects/contacts/batch/upsert", config.base_url()),
            auth: wire::secret(&format!("Bearer {}", config.api_key))?,
        })
    }
}

#[derive(Debug, Deserialize)]
struct UpsertReply {
    #[serde(default)]
    results: Vec<UpsertResult>,
    #[serde(default)]
    errors: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct UpsertResult {
    #[serde(default)]
    properties: HashMap<String, Option<String>>,
    #[serde(default)]
    new: Option<bool>,
}

fn properties(lead: &Lead) -> Value {
    let mut props = Map::new();
    props.insert("email".into(), Value::from(lead.email.as_str()));
    for (key, value) in [
        ("firstname", &lead.first_name),
        ("lastname", &lead.last_name),
        ("company", &lead.company),
        ("jobtitle", &lead.title),
        ("website", &lead.website),
    ] {
        if !value.is_empty() {
            props.insert(key.into(), Value::from(value.as_str()));
        }
    }
    for (name, value) in lead.custom_fields() {
        props.insert(name.into(), Value::from(value));
    }
    Value::Object(props)
}

#[async_trait]
impl Destination for HubSpot {
    fn kind(&self) -> DestinationKind {
        DestinationKind::Hubspot
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn push_batch(&self, leads: &[Lead]) -> Result<Vec<LeadResult>> {
        let inputs: Vec<Value> = leads
            .iter()
            .map(|lead| json!({"idProperty": "email", "id": lead.email, "properties": properties(lead)}))
            .collect();
        let request = self
            .client
            .post(&self.url)
            .header(AUTHORIZATION, self.auth.clone())
            .json(&json!({ "inputs": inputs }));
        let reply: UpsertReply = match wire::send(request).await? {
            Reply::Success(bytes) => wire::parse(&bytes)?,
            Reply::Failure {
                status,
                headers,
                body,
            } => {
                let error = wire::failure(status, &headers, &body);
                return Err(match error {
                    Error::RateLimited {
                        retry_after: None, ..
                    } => Error::RateLimited {
                        provider: PROVIDER,
                        retry_after: headers
                            .get("x-hubspot-ratelimit-interval-milliseconds")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .map(Duration::from_millis),
                    },
                    other => other,
                });
            }
        };
        let by_email: HashMap<String, Option<bool>> = reply
            .results
            .iter()
            .filter_map(|r| {
                let email = r.properties.get("email")?.as_ref()?;
                Some((email.to_lowercase(), r.new))
            })
            .collect();
        Ok(leads
            .iter()
            .map(|lead| match by_email.get(&lead.email.to_lowercase()) {
                Some(Some(false)) => LeadResult::skipped("duplicate: existing contact updated"),
                Some(_) => LeadResult::pushed(),
                None => LeadResult::rejected(error_for(&reply.errors, &lead.email)),
            })
            .collect())
    }
}

/// The message of the error whose context names `email`, else of the only (or first)
/// error.
fn error_for(errors: &[Value], email: &str) -> String {
    let message = |e: &Value| {
        e.get("message")
            .and_then(Value::as_str)
            .unwrap_or("rejected by HubSpot")
            .to_string()
    };
    let names = |e: &Value| {
        e.get("context")
            .map(|c| c.to_string().to_lowercase().contains(&email.to_lowercase()))
            .unwrap_or(false)
    };
    errors
        .iter()
        .find(|e| names(e))
        .or_else(|| errors.first())
        .map(message)
        .unwrap_or_else(|| "HubSpot returned no result for this contact".to_string())
}
