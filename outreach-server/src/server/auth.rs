//! Bearer-token auth compatible with Supabase: HS256 JWTs signed with the project's JWT
//! secret, `aud` (default `authenticated`) and, when configured, `iss` checked; `sub` is
//! the user id. Self-hosters without Supabase get a local secret, generated once in the
//! data dir, and `outreach token` to mint tokens with it.
//!
//! The [`AuthUser`] extractor is the only way a handler learns who is calling; it also
//! creates the caller's account on first sight with the free plan's credits.
//!
//! # Revocation
//!
//! Tokens of the server's own password accounts carry `ver`, the account's
//! `token_version` when they were issued; sign-out and password changes move the
//! version on, which refuses every older token. The extractor reads the account row on
//! every request (one primary-key lookup, like the profile read it already does) rather
//! than caching it: a cache would keep a signed-out token alive on the other server
//! processes for its lifetime, and the row read costs about what the profile read does.
//! A token without `ver` counts as version 0, so tokens of accounts that never signed
//! out stay valid until they expire; Supabase users have no local row and no check.
//!
//! # Links
//!
//! Email verification and password reset links carry a JWT too, signed with a key
//! derived from the same secret for that purpose alone (HMAC-SHA256 of the secret and
//! the purpose) and with their own audience, so a link is never a session, nor a
//! reset link a verification link.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use outreach_core::jobs::JobSystem;
use outreach_core::ports::LocalAccounts;
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
    /// The account's token version at issue (local accounts; absent = 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<i64>,
}

/// What a link (email verification, password reset) carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// The user id.
    pub sub: String,
    /// The email the link was sent to.
    pub email: String,
    /// The account's token version when the link was made: a reset link works only
    /// while it is unchanged, so once (the reset moves it on).
    pub ver: i64,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
}

/// What a link is for; each has its own key and audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    VerifyEmail,
    ResetPassword,
}

impl LinkPurpose {
    fn audience(self) -> &'static str {
        match self {
            LinkPurpose::VerifyEmail => "outreach:verify-email",
            LinkPurpose::ResetPassword => "outreach:reset-password",
        }
    }
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
        self.issue_claims(user_id, email, ttl, None)
    }

    /// A session of a password account: carries its token version `ver`.
    pub fn issue_session(
        &self,
        user_id: &str,
        email: &str,
        ttl: Duration,
        ver: i64,
    ) -> Result<String, CoreError> {
        self.issue_claims(user_id, email, ttl, Some(ver))
    }

    fn issue_claims(
        &self,
        user_id: &str,
        email: &str,
        ttl: Duration,
        ver: Option<i64>,
    ) -> Result<String, CoreError> {
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
            ver,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .map_err(|e| CoreError::Config(format!("could not sign the token: {e}")))
    }

    /// The key of one kind of link: HMAC-SHA256(secret, purpose).
    fn link_key(&self, purpose: LinkPurpose) -> Result<Vec<u8>, CoreError> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.secret)
            .map_err(|e| CoreError::Config(format!("link key: {e}")))?;
        mac.update(b"outreach link key v1: ");
        mac.update(purpose.audience().as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// A signed link token for `purpose`, valid until `exp` (Unix seconds).
    pub fn sign_link(
        &self,
        purpose: LinkPurpose,
        user_id: &str,
        email: &str,
        ver: i64,
        exp: u64,
    ) -> Result<String, CoreError> {
        let claims = LinkClaims {
            sub: user_id.to_owned(),
            email: email.to_owned(),
            ver,
            aud: purpose.audience().to_owned(),
            exp,
            iat: jsonwebtoken::get_current_timestamp(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.link_key(purpose)?),
        )
        .map_err(|e| CoreError::Config(format!("could not sign the link: {e}")))
    }

    /// The claims of a link for `purpose`: signature, audience and expiry (no leeway).
    pub fn verify_link(&self, purpose: LinkPurpose, token: &str) -> Result<LinkClaims, AppError> {
        let invalid =
            || AppError::bad_request("invalid_link", "this link is invalid or has expired");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[purpose.audience()]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        let key = self.link_key(purpose).map_err(|_| invalid())?;
        let data =
            jsonwebtoken::decode::<LinkClaims>(token, &DecodingKey::from_secret(&key), &validation)
                .map_err(|e| {
                    tracing::debug!(error = %e, "link rejected");
                    invalid()
                })?;
        if !valid_user_id(&data.claims.sub) {
            return Err(invalid());
        }
        Ok(data.claims)
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
    /// The password accounts, whose token versions are checked (none: no check).
    pub accounts: Option<Arc<dyn LocalAccounts>>,
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
        if let Some(accounts) = &context.accounts {
            check_version(&**accounts, &claims).await?;
        }
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

/// Refuses a token of a password account whose version has moved on (signed out, or
/// the password changed since it was issued).
pub async fn check_version(accounts: &dyn LocalAccounts, claims: &Claims) -> Result<(), AppError> {
    if let Some(user) = accounts.user_by_id(&claims.sub).await? {
        if user.token_version != claims.ver.unwrap_or(0) {
            return Err(AppError::Unauthorized(
                "this session has ended (signed out or password changed); sign in again".into(),
            ));
        }
    }
    Ok(())
}
