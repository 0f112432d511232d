//! Stripe: the configuration, the API calls we make (create a Checkout session,
//! form-encoded as Stripe expects; read what a webhook's event does not carry), all
//! through one request path, and webhook signature verification.
//!
//! Signatures: the `Stripe-Signature` header is `t=<unix time>,v1=<hex>[,v1=…]`, where
//! each `v1` is HMAC-SHA256 of `"{t}.{raw body}"` keyed with the endpoint's secret. A
//! signature older (or newer) than the tolerance is refused, so a captured request
//! cannot be replayed later.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use outreach_core::Error as CoreError;
use sha2::Sha256;

use super::error::AppError;
use super::plans::Catalog;

pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct BillingConfig {
    /// `STRIPE_SECRET_KEY`; without it checkout answers 503.
    pub secret_key: Option<String>,
    /// `STRIPE_WEBHOOK_SECRET`; without it the webhook answers 503.
    pub webhook_secret: Option<String>,
    /// `STRIPE_API_BASE` (tests point it at a local fake).
    pub api_base: String,
    /// `APP_BASE_URL`: where Checkout sends the browser back.
    pub app_base_url: String,
    pub catalog: Catalog,
    pub tolerance: Duration,
}

impl std::fmt::Debug for BillingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingConfig")
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("api_base", &self.api_base)
            .field("app_base_url", &self.app_base_url)
            .field("catalog", &self.catalog)
            .finish()
    }
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            webhook_secret: None,
            api_base: DEFAULT_API_BASE.into(),
            app_base_url: "http://localhost:8080".into(),
            catalog: Catalog::default(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }
}

impl BillingConfig {
    pub fn from_env() -> Result<Self, CoreError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CoreError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Ok(Self {
            secret_key: var("STRIPE_SECRET_KEY"),
            webhook_secret: var("STRIPE_WEBHOOK_SECRET"),
            api_base: var("STRIPE_API_BASE")
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| DEFAULT_API_BASE.into()),
            app_base_url: var("APP_BASE_URL")
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| "http://localhost:8080".into()),
            catalog: Catalog::from_lookup(&lookup)?,
            tolerance: DEFAULT_TOLERANCE,
        })
    }
}

/// The Stripe client and configuration.
#[derive(Debug)]
pub struct Stripe {
    config: BillingConfig,
    http: reqwest::Client,
}

impl Stripe {
    pub fn new(config: BillingConfig) -> Result<Self, CoreError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| CoreError::Config(format!("could not build the Stripe client: {e}")))?;
        Ok(Self { config, http })
    }

    pub fn config(&self) -> &BillingConfig {
        &self.config
    }

    /// `POST /v1/checkout/sessions` with these form fields; returns the session's URL.
    pub async fn create_checkout_session(
        &self,
        form: &[(String, String)],
    ) -> Result<String, AppError> {
        let path = "/v1/checkout/sessions";
        let request = self.http.post(self.url(path)).form(form);
        let body = self.send(request, path).await?;
        body["url"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| AppError::Upstream(format!("Stripe's answer to {path} has no url")))
    }

    /// `GET {path}` on Stripe's API (a session's line items, a disputed charge): what a
    /// webhook needs that its event does not carry. Failures are 502s, so Stripe
    /// delivers the event again later.
    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value, AppError> {
        self.send(self.http.get(self.url(path)), path).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base)
    }

    /// Every Stripe API call: authenticated with the secret key (503 without one), the
    /// answer read as JSON; an unreachable Stripe, an unreadable answer or an error
    /// status is a 502 naming the path and Stripe's own message.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<serde_json::Value, AppError> {
        let key = self
            .config
            .secret_key
            .as_deref()
            .ok_or(AppError::Unavailable {
                code: "billing_not_configured",
                message: "billing is not configured on this server".into(),
            })?;
        let response = request
            .bearer_auth(key)
            .send()
            .await
            .map_err(|e| AppError::Upstream(format!("Stripe request to {path} failed: {e}")))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.map_err(|e| {
            AppError::Upstream(format!(
                "Stripe's answer to {path} is unreadable ({status}): {e}"
            ))
        })?;
        if !status.is_success() {
            let message = body["error"]["message"].as_str().unwrap_or("no message");
            return Err(AppError::Upstream(format!(
                "Stripe returned {status} for {path}: {message}"
            )));
        }
        Ok(body)
    }

    /// Verifies a webhook's `Stripe-Signature` header against its raw body.
    pub fn verify_webhook(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), AppError> {
        let secret = self
            .config
            .webhook_secret
            .as_deref()
            .ok_or(AppError::Unavailable {
                code: "billing_not_configured",
                message: "webhooks are not configured on this server".into(),
            })?;
        let header = header.ok_or_else(|| bad_signature("missing Stripe-Signature header"))?;
        verify_signature(secret.as_bytes(), header, body, now, self.config.tolerance)
    }
}

fn bad_signature(message: &str) -> AppError {
    AppError::bad_request("invalid_signature", message)
}

type HmacSha256 = Hmac<Sha256>;

/// `v1` signature (hex) of `"{t}.{body}"`, as Stripe computes it.
pub fn sign_payload(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `t=…,v1=…` against the body: any `v1` may match (Stripe sends several while
/// a secret is being rolled), compared in constant time; `t` must be within `tolerance`.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), AppError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.push(sig),
            _ => {}
        }
    }
    let t = timestamp.ok_or_else(|| bad_signature("the signature has no timestamp"))?;
    if signatures.is_empty() {
        return Err(bad_signature("the signature has no v1 entry"));
    }
    if now.abs_diff(t) > tolerance.as_secs() {
        return Err(bad_signature(
            "the signature's timestamp is outside the tolerance",
        ));
    }
    let matches = signatures.iter().any(|sig| {
        let Some(expected) = decode_hex(sig) else {
            return false;
        };
        let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
            return false;
        };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(bad_signature("no signature matches the body"))
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn a_fresh_signature_verifies_and_a_changed_body_does_not() {
        let body = br#"{"id":"evt_1"}"#;
        let sig = sign_payload(SECRET, 1_000, body);
        let header = format!("t=1000,v1=deadbeef,v1={sig}");
        assert!(verify_signature(SECRET, &header, body, 1_100, DEFAULT_TOLERANCE).is_ok());
        assert!(verify_signature(SECRET, &header, b"{}", 1_100, DEFAULT_TOLERANCE).is_err());
        assert!(verify_signature(b"other", &header, body, 1_100, DEFAULT_TOLERANCE).is_err());
    }

    #[test]
    fn old_or_malformed_signatures_are_refused() {
        let body = b"{}";
        let sig = sign_payload(SECRET, 1_000, body);
        for (header, now) in [
            (format!("t=1000,v1={sig}"), 1_301),
            (format!("t=1000,v1={sig}"), 699),
            (format!("v1={sig}"), 1_000),
            ("t=1000".to_string(), 1_000),
            ("t=1000,v1=zz".to_string(), 1_000),
            (format!("t=abc,v1={sig}"), 1_000),
            (String::new(), 1_000),
        ] {
            assert!(
                verify_signature(SECRET, &header, body, now, DEFAULT_TOLERANCE).is_err(),
                "{header} at {now}"
            );
        }
    }
}
