//! Bearer-token auth compatible with Supabase: HS256 JWTs signed with the project's JWT
//! secret, `aud` (default `authenticated`) and, when configured, `iss` checked; `sub` is
//! the user id. Self-hosters without Supabase get a local secret, generated once in the
//! data dir, and `outreach token` to mint tokens with it.
//!
//! The [`AuthUser`] extractor is the only way a handler learns who is calling; it also
//! creates the caller's account on first sight with the free plan's credits.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use outreach_core::jobs::JobSystem;
use outreach_core::Error as CoreError;
use serde::{Deserialize, Serialize};

use super::error::AppError;

/// Supabase's audience for signed-in users.
pub const DEFAULT_AUDIENCE: &str = "authenticated";
/// The issuer of locally minted tokens (when `SUPABASE_JWT_ISS` is unset).
pub const LOCAL_ISSUER: &str = "outreach";
/// The file in the data dir that holds the local secret.
pub const LOCAL_SECRET_FILE: &str = "jwt-secret";

/// How tokens are checked (and, for `outreach token`, minted).
#[derive(Clone)]
pub struct AuthConfig {
    secret: Vec<u8>,
    issuer: Option<String>,
    audience: String,
    /// Where the secret came from, for the startup log line.
    pub source: SecretSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// `SUPABASE_JWT_SECRET`.
    Supabase,
    /// `<data dir>/jwt-secret`.
    LocalFile,
    /// Given directly (tests, embedders).
    Explicit,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("source", &self.source)
            .finish()
    }
}

/// The claims we read and write. Supabase adds more (`role`, `app_metadata`, …); they
/// are ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub aud: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
}

impl AuthConfig {
    pub fn new(
        secret: impl Into<Vec<u8>>,
        issuer: Option<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            secret: secret.into(),
            issuer,
            audience: audience.into(),
            source: SecretSource::Explicit,
        }
    }

    /// `SUPABASE_JWT_SECRET` / `SUPABASE_JWT_ISS` / `SUPABASE_JWT_AUD`; without a secret,
    /// the local one in `data_dir` (created on first use), with issuer `outreach`.
    pub fn from_env(data_dir: &Path) -> Result<Self, CoreError> {
        Self::from_lookup(data_dir, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        data_dir: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CoreError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let audience = var("SUPABASE_JWT_AUD").unwrap_or_else(|| DEFAULT_AUDIENCE.to_string());
        let issuer = var("SUPABASE_JWT_ISS");
        Ok(match var("SUPABASE_JWT_SECRET") {
            Some(secret) => Self {
                secret: secret.into_bytes(),
                issuer,
                audience,
                source: SecretSource::Supabase,
            },
            None => Self {
                secret: local_secret(data_dir)?,
                issuer: issuer.or_else(|| Some(LOCAL_ISSUER.to_string())),
                audience,
                source: SecretSource::LocalFile,
            },
        })
    }

    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Checks signature (HS256 only: `none` and other algorithms fail), expiry, `nbf`,
    /// audience, issuer (when configured) and the subject's shape.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[&self.audience]);
        validation.leeway = 30;
        // A token not valid yet (`nbf` in the future) is refused, not only an expired one.
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub", "aud"];
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .map_err(|e| {
            tracing::debug!(error = %e, "token rejected");
            AppError::Unauthorized("invalid or expired token".into())
        })?;
        if !valid_user_id(&data.claims.sub) {
            return Err(AppError::Unauthorized(
                "the token's subject is not a valid user id".into(),
            ));
        }
        Ok(data.claims)
    }

    /// A token for `user_id`, valid for `ttl` (self-hosting without Supabase).
    pub fn issue(&self, user_id: &str, email: &str, ttl: Duration) -> Result<String, CoreError> {
        if !valid_user_id(user_id) {
            return Err(CoreError::Config(format!(
                "user id `{user_id}` is not valid: use letters, digits, `-` and `_` (at most 128)"
            )));
        }
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            email: Some(email.to_string()),
            aud: self.audience.clone(),
            iss: self.issuer.clone(),
            exp: now + ttl.as_secs(),
            iat: now,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .map_err(|e| CoreError::Config(format!("could not sign the token: {e}")))
    }
}

/// User ids become storage key segments (`uploads/<user>/…`), so only a safe alphabet
/// is accepted: Supabase's UUIDs and the ids `outreach token` makes fit it.
pub fn valid_user_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Reads `<data_dir>/jwt-secret`, creating it (32 random bytes, hex, mode 0600) if absent.
/// Creation is exclusive, so two processes starting together agree on one secret.
pub fn local_secret(data_dir: &Path) -> Result<Vec<u8>, CoreError> {
    let path = data_dir.join(LOCAL_SECRET_FILE);
    std::fs::create_dir_all(data_dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            let bytes: [u8; 32] = rand::random();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            file.write_all(hex.as_bytes())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "created a local JWT secret");
            Ok(hex.into_bytes())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path)?;
            let secret = text.trim();
            if secret.len() < 32 {
                return Err(CoreError::Config(format!(
                    "{} holds a secret shorter than 32 characters",
                    path.display()
                )));
            }
            Ok(secret.as_bytes().to_vec())
        }
        Err(e) => Err(e.into()),
    }
}

/// The authenticated caller. Extracting it verifies the bearer token and makes sure the
/// caller has an account (created with the free credits on first sight).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub email: String,
}

/// What authenticating a caller needs from the app's state (an axum sub-state: the
/// app state provides it through `FromRef`, so this module does not know the app state).
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub config: Arc<AuthConfig>,
    /// Accounts are created on first sight through its ledger.
    pub jobs: JobSystem,
    /// Credits of a new account.
    pub free_credits: i64,
}

impl<S> FromRequestParts<S> for AuthUser
where
    AuthContext: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = AuthContext::from_ref(state);
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            AppError::Unauthorized("missing `Authorization: Bearer <token>`".into())
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::Unauthorized("expected `Authorization: Bearer <token>`".into())
            })?;
        let claims = context.config.verify(token)?;
        let email = claims.email.unwrap_or_default();
        context
            .jobs
            .ledger()
            .ensure_account(&claims.sub, &email, context.free_credits)
            .await?;
        Ok(AuthUser {
            user_id: claims.sub,
            email,
        })
    }
}
