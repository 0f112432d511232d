//! The web app: an HTML shell, ES modules and a stylesheet built into the binary
//! (`outreach-server/web/`), the configuration the browser needs (`GET /ui/config.json`)
//! and, for servers without Supabase Auth, password sign-up and sign-in
//! (`POST /auth/signup`, `POST /auth/login`).
//!
//! # Design notes
//!
//! - **No build step, no framework, no CDN.** The pages are plain HTML + CSS + vanilla
//!   JavaScript modules, embedded with `include_bytes!` (see [`assets`]): nothing to
//!   download at run time, nothing but the one binary to deploy. `rust-embed` would do
//!   the same through a proc macro and a directory walker; a table of a dozen files is
//!   lighter and a test keeps it in step with the directory.
//! - **Page URLs are the seed's** (`/`, `/upload`, `/jobs`, `/jobs/{id}`, `/billing`,
//!   `/login`), because Stripe Checkout already returns to `/billing` and users know
//!   them. The API's canonical paths are under `/api/` and the web app calls those; but
//!   the unprefixed API paths remain as aliases for older clients, so `GET /jobs` and
//!   `GET /jobs/{id}` are also API routes; [`pages_for_browsers`]
//!   answers them with the shell only for a browser navigation (an `Accept` that names
//!   `text/html` and no `Authorization` header). Every API client sends a bearer token,
//!   so the API's behaviour is unchanged; the shell carries `Vary: Accept,
//!   Authorization` so no cache mixes the two.
//! - **Live progress without tokens in URLs.** `EventSource` cannot send an
//!   `Authorization` header, so the browser reads `GET /jobs/{id}/events` with `fetch`
//!   and a streamed body (a small SSE parser in `api.js`) and sends its bearer token as
//!   on every other request. A `?token=` parameter would put tokens into proxy logs and
//!   browser history, and need a second way of authenticating in the API.
//! - **Local accounts live in the deployment's database** ([`LocalAccounts`], a
//!   `local_users` table next to `profiles`), not in a file of one server: several
//!   server processes on one PostgreSQL then share them. Passwords are hashed with
//!   Argon2id (the `argon2` crate's defaults); tokens are the same HS256 tokens
//!   `outreach token` mints, so the rest of the API cannot tell them apart.

pub mod account_auth;
pub mod assets;
pub mod client_addr;
pub mod local_auth;
pub mod rate_limit;
pub mod reset;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, Request, State};
use axum::http::header::{ACCEPT, AUTHORIZATION};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Json;
use outreach_core::ports::LocalAccounts;
use outreach_core::service::ServiceForm;
use outreach_core::{Error as CoreError, ServiceContext};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::routes;

use self::rate_limit::LoginLimiter;
use super::auth::AuthContext;
use super::config::ServerConfig;
use super::mail::MailConfig;
use super::openapi::{schemas, ApiRouter, Timed};
use super::routes::billing::OfferView;
use super::stripe::Stripe;
use super::timed_api;

/// Supabase Auth for the browser: the project URL and its public (anon) key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupabaseAuth {
    /// `SUPABASE_URL`, e.g. `https://<project>.supabase.co` (no trailing slash).
    pub url: String,
    /// `SUPABASE_ANON_KEY`: public by design (it ships to every browser).
    pub anon_key: String,
}

/// How people sign in to the web app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// With Supabase configured, the browser signs in there and the local sign-up and
    /// sign-in routes answer 503.
    pub supabase: Option<SupabaseAuth>,
    /// Lifetime of tokens from `POST /auth/signup` and `POST /auth/login`
    /// (`OUTREACH_TOKEN_TTL_SECS`, default 24 hours).
    pub session_ttl: Duration,
    /// `OUTREACH_LOCAL_ACCOUNTS=1`: keep this server's own password accounts although
    /// tokens are Supabase's (`SUPABASE_JWT_SECRET`). Off by default, because local
    /// sign-ups would then mint Supabase-signed tokens past Supabase's own sign-up
    /// controls.
    pub local_accounts_with_supabase: bool,
    /// `OUTREACH_TRUSTED_PROXIES`: whose `X-Forwarded-For` names the client.
    pub trusted_proxies: client_addr::TrustedProxies,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            supabase: None,
            session_ttl: Duration::from_secs(24 * 3600),
            local_accounts_with_supabase: false,
            trusted_proxies: client_addr::TrustedProxies::default(),
        }
    }
}

impl WebConfig {
    /// `SUPABASE_URL` + `SUPABASE_ANON_KEY` (both, or neither).
    pub fn from_env() -> Result<Self, CoreError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CoreError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let supabase = match (var("SUPABASE_URL"), var("SUPABASE_ANON_KEY")) {
            (Some(url), Some(anon_key)) => {
                let url = url.trim_end_matches('/').to_string();
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(CoreError::Config(format!(
                        "SUPABASE_URL must be an http(s) URL, got `{url}`"
                    )));
                }
                Some(SupabaseAuth { url, anon_key })
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(CoreError::Config(
                    "SUPABASE_URL is set but SUPABASE_ANON_KEY is not: the web app needs both to sign in through Supabase".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(CoreError::Config(
                    "SUPABASE_ANON_KEY is set but SUPABASE_URL is not".into(),
                ))
            }
        };
        let local_accounts_with_supabase = matches!(
            var("OUTREACH_LOCAL_ACCOUNTS").as_deref(),
            Some("1" | "true" | "yes")
        );
        let mut config = Self {
            supabase,
            local_accounts_with_supabase,
            ..Self::default()
        };
        if let Some(v) = var("OUTREACH_TOKEN_TTL_SECS") {
            let secs = v.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                CoreError::Config(format!(
                    "OUTREACH_TOKEN_TTL_SECS must be a positive whole number of seconds, got `{v}`"
                ))
            })?;
            config.session_ttl = Duration::from_secs(secs);
        }
        if let Some(list) = var("OUTREACH_TRUSTED_PROXIES") {
            config.trusted_proxies = client_addr::TrustedProxies::parse(&list)?;
        }
        Ok(config)
    }
}

/// What the web app's handlers share: its configuration, the password accounts (absent
/// when the server was built without them, e.g. by an embedder) and the sign-in
/// attempt limiter.
#[derive(Debug, Default)]
pub struct WebState {
    pub config: WebConfig,
    pub accounts: Option<Arc<dyn LocalAccounts>>,
    pub limiter: LoginLimiter,
    /// Password hashes at once (one per CPU).
    pub hashing: local_auth::HashingSlots,
    /// Verification and reset mail (the console by default).
    pub mail: MailConfig,
}

impl WebState {
    pub fn new(config: WebConfig, accounts: Option<Arc<dyn LocalAccounts>>) -> Self {
        Self {
            config,
            accounts,
            limiter: LoginLimiter::default(),
            hashing: local_auth::HashingSlots::default(),
            mail: MailConfig::default(),
        }
    }

    /// With this mailer and public URL (`MailConfig::from_env` in `outreach serve`).
    pub fn with_mail(mut self, mail: MailConfig) -> Self {
        self.mail = mail;
        self
    }
}

/// What the sign-up and sign-in handlers need: the web app's state and what issuing a
/// session needs (an axum sub-state of the app state).
#[derive(Debug, Clone)]
pub struct WebContext {
    pub web: Arc<WebState>,
    pub auth: AuthContext,
}

/// The web app's API routes: the UI's configuration and the local sign-in routes.
pub fn api_router<S>(config: &ServerConfig) -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    WebContext: FromRef<S>,
    AuthContext: FromRef<S>,
    Arc<Stripe>: FromRef<S>,
    Arc<ServerConfig>: FromRef<S>,
{
    ApiRouter::new()
        .routes(timed_api(routes!(ui_config), config))
        .routes(timed_api(routes!(local_auth::signup), config))
        .routes(timed_api(routes!(local_auth::login), config))
        .routes(timed_api(routes!(account_auth::logout), config))
        .routes(timed_api(routes!(account_auth::change_password), config))
        .routes(timed_api(routes!(verify::verify_email), config))
        .routes(timed_api(routes!(verify::resend_verification), config))
        .routes(timed_api(routes!(reset::request_reset), config))
        .routes(timed_api(routes!(reset::confirm_reset), config))
}

/// The pages and their assets (not part of the API document).
pub fn pages_router<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<WebState>: FromRef<S>,
{
    let mut router = axum::Router::new().route("/assets/{version}/{*path}", get(assets::asset));
    for page in assets::PAGES.iter().filter(|p| !p.api) {
        router = router.route(page.path, get(assets::shell));
    }
    router
}

/// What the web app needs to start.
#[derive(Debug, Serialize, ToSchema)]
pub struct UiConfig {
    /// `{mode: "supabase", supabase_url, supabase_anon_key}` or `{mode: "local", signup}`.
    #[schema(value_type = Object)]
    auth: Value,
    billing: UiBilling,
    free_credits: i64,
    /// The web app's pages.
    #[schema(value_type = Vec<Object>)]
    pages: Value,
    max_upload_bytes: u64,
    #[schema(schema_with = schemas::service_context)]
    service_defaults: ServiceContext,
    /// The service form from the core's one definition: `fields` (name, label, help,
    /// default, max_chars) in display order, `copy` (`defaults`, `limits`).
    #[schema(value_type = Object)]
    service: ServiceForm,
    version: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UiBilling {
    /// Stripe Checkout is configured.
    checkout: bool,
    plans: Vec<OfferView>,
    addons: Vec<OfferView>,
}

/// What the web app needs: sign-in mode, plans, defaults.
#[utoipa::path(
    get,
    path = "/ui/config.json",
    operation_id = "uiConfig",
    responses((status = 200, description = "Web app configuration", body = UiConfig), Timed)
)]
async fn ui_config(
    State(state): State<WebContext>,
    State(stripe): State<Arc<Stripe>>,
    State(server): State<Arc<ServerConfig>>,
) -> Json<UiConfig> {
    let auth = match &state.web.config.supabase {
        Some(s) => {
            json!({ "mode": "supabase", "supabase_url": s.url, "supabase_anon_key": s.anon_key })
        }
        None => json!({ "mode": "local", "signup": local_auth::accounts(&state).is_ok() }),
    };
    let billing = stripe.config();
    Json(UiConfig {
        auth,
        billing: UiBilling {
            checkout: billing.secret_key.is_some(),
            plans: OfferView::list(&billing.catalog.plans),
            addons: OfferView::list(&billing.catalog.addons),
        },
        free_credits: server.free_credits,
        pages: serde_json::to_value(assets::PAGES).unwrap_or(Value::Null),
        max_upload_bytes: server.max_upload_bytes,
        service_defaults: ServiceContext::default(),
        service: ServiceForm::new(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// True for the API paths that double as pages: `/jobs` and `/jobs/{id}`.
fn is_shared_page_path(path: &str) -> bool {
    assets::PAGES.iter().any(|p| p.api && p.matches(path))
}

/// A browser navigation: GET, HTML accepted, no bearer token.
fn is_browser_navigation(req: &Request) -> bool {
    let accepts_html = req
        .headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    req.method() == Method::GET && accepts_html && !req.headers().contains_key(AUTHORIZATION)
}

/// Serves the app shell for browser navigations to `/jobs` and `/jobs/{id}`; every
/// other request goes on to the API unchanged.
pub async fn pages_for_browsers(
    State(state): State<Arc<WebState>>,
    req: Request,
    next: Next,
) -> Response {
    if is_shared_page_path(req.uri().path()) && is_browser_navigation(&req) {
        return assets::shell_response(&state);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_page_paths() {
        for p in ["/jobs", "/jobs/", "/jobs/abc", "/jobs/abc/"] {
            assert!(is_shared_page_path(p), "{p}");
        }
        for p in [
            "/jobs/abc/events",
            "/jobs/abc/download",
            "/jobsx",
            "/",
            "/jobs//",
            "/me",
        ] {
            assert!(!is_shared_page_path(p), "{p}");
        }
    }

    #[test]
    fn supabase_needs_both_settings() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            WebConfig::from_lookup(lookup(&[])).ok(),
            Some(WebConfig::default())
        );
        let both = WebConfig::from_lookup(lookup(&[
            ("SUPABASE_URL", "https://p.supabase.co/"),
            ("SUPABASE_ANON_KEY", "anon"),
        ]));
        assert_eq!(
            both.ok().and_then(|c| c.supabase),
            Some(SupabaseAuth {
                url: "https://p.supabase.co".into(),
                anon_key: "anon".into()
            })
        );
        assert!(
            WebConfig::from_lookup(lookup(&[("SUPABASE_URL", "https://p.supabase.co")])).is_err()
        );
        assert!(WebConfig::from_lookup(lookup(&[("SUPABASE_ANON_KEY", "anon")])).is_err());
        assert!(WebConfig::from_lookup(lookup(&[
            ("SUPABASE_URL", "p.supabase.co"),
            ("SUPABASE_ANON_KEY", "anon")
        ]))
        .is_err());
    }
}
