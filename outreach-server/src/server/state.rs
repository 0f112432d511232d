//! What every handler can reach: the core's job system (which owns the four ports),
//! the auth and billing configuration, and the server's own settings.
//!
//! Handlers and extractors outside `routes/` take only the part they need, as axum
//! sub-states (`FromRef`): the auth extractor an [`AuthContext`], the web app a
//! [`WebContext`] and its [`WebState`]. So `auth.rs` and `web/` do not import this
//! module, and this module is the only one that knows how the parts fit together.

use std::sync::Arc;

use axum::extract::FromRef;
use outreach_core::jobs::JobSystem;
use outreach_core::Error as CoreError;

pub use super::config::ServerConfig;

use super::auth::{AuthConfig, AuthContext};
use super::job_watch::JobWatch;
use super::stream_cap::StreamCap;
use super::stripe::{BillingConfig, Stripe};
use super::web::{WebContext, WebState};

/// The state handed to every handler; cheap to clone (everything is behind `Arc`s).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The job lifecycle, and through it the job store, ledger and storage ports.
    pub jobs: JobSystem,
    pub auth: Arc<AuthConfig>,
    pub stripe: Arc<Stripe>,
    pub config: Arc<ServerConfig>,
    /// The web app's sign-in settings and local accounts (`AppState::with_web`).
    pub web: Arc<WebState>,
    /// Open event streams per user.
    pub streams: StreamCap,
    /// One store poller per watched job, shared by its event streams.
    pub job_watch: JobWatch,
    /// Destinations, do-not-contact list, pushes and webhook (`AppState::with_campaigns`);
    /// `None`: those routes answer 503.
    pub campaigns: Option<Arc<super::campaigns::CampaignState>>,
}

impl AppState {
    /// With the campaign settings (destinations, do-not-contact list, webhook).
    pub fn with_campaigns(mut self, campaigns: super::campaigns::CampaignState) -> Self {
        let campaigns = Arc::new(campaigns);
        // This process's workers deliver events and open destinations through it.
        super::campaigns::serve_tasks(&self.jobs, &campaigns);
        self.campaigns = Some(campaigns);
        self
    }

    pub fn new(
        jobs: JobSystem,
        config: ServerConfig,
        auth: AuthConfig,
        billing: BillingConfig,
    ) -> Result<Self, CoreError> {
        Ok(Self {
            jobs,
            auth: Arc::new(auth),
            stripe: Arc::new(Stripe::new(billing)?),
            config: Arc::new(config),
            web: Arc::new(WebState::default()),
            streams: StreamCap::default(),
            job_watch: JobWatch::default(),
            campaigns: None,
        })
    }
}

impl AppState {
    /// The state with the web app's sign-in settings and accounts.
    pub fn with_web(mut self, web: WebState) -> Self {
        self.web = Arc::new(web);
        self
    }
}

impl FromRef<AppState> for AuthContext {
    fn from_ref(state: &AppState) -> Self {
        AuthContext {
            config: state.auth.clone(),
            jobs: state.jobs.clone(),
            free_credits: state.config.free_credits,
            accounts: state.web.accounts.clone(),
        }
    }
}

impl FromRef<AppState> for Arc<WebState> {
    fn from_ref(state: &AppState) -> Self {
        state.web.clone()
    }
}

impl FromRef<AppState> for WebContext {
    fn from_ref(state: &AppState) -> Self {
        WebContext {
            web: state.web.clone(),
            auth: AuthContext::from_ref(state),
        }
    }
}

impl FromRef<AppState> for Arc<Stripe> {
    fn from_ref(state: &AppState) -> Self {
        state.stripe.clone()
    }
}

impl FromRef<AppState> for Arc<ServerConfig> {
    fn from_ref(state: &AppState) -> Self {
        state.config.clone()
    }
}
