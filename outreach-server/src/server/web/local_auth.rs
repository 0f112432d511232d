//! `POST /auth/signup` and `POST /auth/login`: email + password accounts for servers
//! without Supabase Auth. Both answer `{access_token, token_type: "bearer", expires_in,
//! user: {id, email}}`; the token is the server's usual HS256 JWT (`sub` = the user's
//! id, a new UUID at sign-up), so every API route accepts it.
//!
//! - Passwords: a new one needs at least 10 characters, not all whitespace, not one
//!   character repeated, and not one of the commonly used passwords in
//!   [`COMMON_PASSWORDS`] (issue 12, item 4: eight spaces were accepted); sign-in
//!   still takes 8 or more, so older accounts keep working. At most 1024 bytes; hashed
//!   with Argon2id (the `argon2` crate's default parameters, a random salt each) on a
//!   blocking thread.
//! - A wrong password and an unknown email get the same 401 and take about the same
//!   time (an unknown email is checked against a dummy hash).
//! - Failed sign-ins slow down per email and per client address ([`LoginLimiter`]):
//!   growing delays, never a lock; an attempt whose turn is near is held until then,
//!   one further out is `429` with `Retry-After`. The attempt is counted before the
//!   password is hashed, in the same step as the check, so a flood gets exactly the
//!   allowance of Argon2 work. Behind a trusted proxy the client address comes from
//!   `X-Forwarded-For` ([`ClientAddr`]).
//! - Argon2 runs under [`HashingSlots`] (one per CPU): each hash holds ~19 MiB, so
//!   memory stays bounded however many requests arrive at once; the rest wait within
//!   their request's deadline.
//!
//! [`LoginLimiter`]: super::rate_limit::LoginLimiter

use std::sync::{Arc, OnceLock};

use std::time::Duration;
use tokio::sync::Semaphore;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use axum::extract::State;
use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use outreach_core::ports::{normalize_email, LocalAccounts, LocalUser, NewLocalUser};
use outreach_core::Error as CoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::client_addr::ClientAddr;
use super::rate_limit::Key;
use super::WebContext;
use crate::server::auth::SecretSource;
use crate::server::error::AppError;
use crate::server::extract::AppJson;
use crate::server::openapi::{ErrorBody, JsonBody, Timed};

pub const MIN_PASSWORD_CHARS: usize = 8;
/// The least a password chosen now may have (sign-in accepts [`MIN_PASSWORD_CHARS`]).
pub const MIN_NEW_PASSWORD_CHARS: usize = 10;

/// Passwords of 10 characters or more that top the published lists of leaked
/// passwords (e.g. the NCSC's "100,000 most common passwords", from Have I Been
/// Pwned): refused at sign-up, compared in lower case.
pub const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "0123456789",
    "12345678910",
    "123456789a",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "iloveyou12",
    "letmein123",
    "welcome123",
    "administrator",
    "abcdefghij",
    "abc1234567",
    "1234qwerty",
    "football123",
    "princess123",
    "sunshine123",
    "changeme123",
];

/// Why a new password is refused, if it is.
pub fn weak_password(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_NEW_PASSWORD_CHARS {
        return Some(format!(
            "the password must have at least {MIN_NEW_PASSWORD_CHARS} characters"
        ));
    }
    if password.trim().is_empty() {
        return Some("the password must not be only spaces".into());
    }
    let mut distinct = password.chars();
    let first = distinct.next();
    if distinct.all(|c| Some(c) == first) {
        return Some("the password must not repeat one character".into());
    }
    let lower = password.trim().to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Some("this password is one of the most commonly used; choose another".into());
    }
    None
}
pub const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_EMAIL_BYTES: usize = 254;

/// An email and a password. The bounds are [`MIN_PASSWORD_CHARS`],
/// [`MAX_PASSWORD_BYTES`] and `MAX_EMAIL_BYTES` (a test compares them with the document).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({ "email": "ada@example.com", "password": "correct horse battery" }))]
pub struct Credentials {
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )]
    email: String,
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
}

/// A signed-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    access_token: String,
    /// `bearer`.
    token_type: String,
    /// Seconds until the token expires.
    expires_in: u64,
    user: SessionUser,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionUser {
    id: String,
    email: String,
    /// The email was verified (free credits are granted then).
    email_verified: bool,
}

/// The API's errors plus the one status the API has no variant for (429).
#[derive(Debug)]
pub enum AuthError {
    App(AppError),
    RateLimited(Duration),
}

impl From<AppError> for AuthError {
    fn from(e: AppError) -> Self {
        AuthError::App(e)
    }
}

impl From<CoreError> for AuthError {
    fn from(e: CoreError) -> Self {
        AuthError::App(e.into())
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        match self {
            AuthError::App(e) => e.into_response(),
            AuthError::RateLimited(wait) => {
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                let when = if secs < 120 {
                    format!("{secs} seconds")
                } else {
                    format!("{} minutes", secs.div_ceil(60))
                };
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(RETRY_AFTER, secs.to_string())],
                    Json(json!({ "error": {
                        "code": "rate_limited",
                        "message": format!("too many attempts; try again in {when}"),
                        "retry_after": secs,
                    } })),
                )
                    .into_response()
            }
        }
    }
}

/// A plausible address: one `@`, something before it, a dotted domain after it, no
/// spaces. (Whether it receives mail is what the verification link finds out.)
pub fn valid_email(email: &str) -> bool {
    if email.len() > MAX_EMAIL_BYTES || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

fn validate(credentials: &Credentials) -> Result<String, AppError> {
    let email = normalize_email(&credentials.email);
    if !valid_email(&email) {
        return Err(AppError::bad_request(
            "invalid_email",
            "enter a valid email address, like name@company.com",
        ));
    }
    if credentials.password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::bad_request(
            "invalid_password",
            format!("the password must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    if let Some(why) = weak_password(&credentials.password) {
        return Err(AppError::bad_request("weak_password", why));
    }
    Ok(email)
}

/// The local accounts, when this server offers them: not with Supabase Auth in the
/// browser, and not when tokens are signed with `SUPABASE_JWT_SECRET` unless
/// `OUTREACH_LOCAL_ACCOUNTS=1` says so.
pub(crate) fn accounts(state: &WebContext) -> Result<Arc<dyn LocalAccounts>, AppError> {
    let supabase_tokens = state.auth.config.source == SecretSource::Supabase
        && !state.web.config.local_accounts_with_supabase;
    if state.web.config.supabase.is_some() || supabase_tokens {
        return Err(AppError::Unavailable {
            code: "local_auth_disabled",
            message: "this server signs people in through Supabase".into(),
        });
    }
    state.web.accounts.clone().ok_or(AppError::Unavailable {
        code: "local_auth_disabled",
        message: "password sign-in is not enabled on this server".into(),
    })
}

/// Argon2id with the default parameters and a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("hashing a password: {e}")))
}

/// True when `password` matches the PHC string (whose own parameters are used).
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash is unreadable");
            false
        }
    }
}

/// A hash no password matches, for unknown emails (so they take as long as known ones).
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 24] = rand::random();
        let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        hash_password(&password).unwrap_or_default()
    })
}

/// Concurrent password hashes (one per CPU): Argon2id with the default parameters uses
/// 19 MiB and a core for each, so more at once only costs memory, never throughput.
#[derive(Debug, Clone)]
pub struct HashingSlots(Arc<Semaphore>);

impl Default for HashingSlots {
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }
}

impl HashingSlots {
    pub fn new(n: usize) -> Self {
        Self(Arc::new(Semaphore::new(n.max(1))))
    }

    /// Hashes in progress plus free slots: the configured number.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }

    /// Runs `f` (a hash or a verification) on a blocking thread once a slot is free.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = self
            .0
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AppError::internal(format!("password slots closed: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(|e| AppError::internal(format!("password task failed: {e}")))
    }
}

/// A session for `user`: a token carrying its token version.
pub(crate) fn session(state: &WebContext, user: &LocalUser) -> Result<Json<Session>, AuthError> {
    let ttl = state.web.config.session_ttl;
    let token =
        state
            .auth
            .config
            .issue_session(&user.user_id, &user.email, ttl, user.token_version)?;
    Ok(Json(Session {
        access_token: token,
        token_type: "bearer".into(),
        expires_in: ttl.as_secs(),
        user: SessionUser {
            id: user.user_id.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified_at.is_some(),
        },
    }))
}

/// Holds a sign-in for its turn (`Ok(wait)` from [`LoginLimiter::sign_in`]).
///
/// [`LoginLimiter::sign_in`]: super::rate_limit::LoginLimiter::sign_in
pub(crate) async fn throttle(state: &WebContext, keys: &[Key]) -> Result<(), AuthError> {
    let wait = state
        .web
        .limiter
        .sign_in(keys)
        .map_err(AuthError::RateLimited)?;
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    Ok(())
}

/// `POST /auth/signup {email, password}` → `201` and a session; `409` when the email
/// has an account.
#[utoipa::path(
    post,
    path = "/auth/signup",
    operation_id = "signup",
    summary = "Create a password account (servers without Supabase Auth)",
    request_body = Credentials,
    responses(
        (status = 201, description = "A session", body = Session),
        JsonBody, Timed,
        (status = 409, description = "An account with this email exists", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody),
        (status = 503, description = "Sign-in goes through Supabase on this server", body = ErrorBody),
    )
)]
pub async fn signup(
    State(state): State<WebContext>,
    ClientAddr(peer): ClientAddr,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<(StatusCode, Json<Session>), AuthError> {
    let accounts = accounts(&state)?;
    let email = validate(&credentials)?;
    // Sign-ups count against the client's own sign-up allowance (IPv6: per /64), so
    // one address cannot make accounts (and spend Argon2 time) without bound.
    let client: Vec<Key> = peer
        .map(|ip| Key::Signup(Key::client_of(ip)))
        .into_iter()
        .collect();
    state
        .web
        .limiter
        .attempt(&client)
        .map_err(AuthError::RateLimited)?;
    let password = credentials.password;
    let password_hash = state
        .web
        .hashing
        .run(move || hash_password(&password))
        .await??;
    let user_id = uuid::Uuid::new_v4().to_string();
    let user = accounts
        .create_user(NewLocalUser {
            user_id,
            email: email.clone(),
            password_hash,
        })
        .await
        .map_err(|e| match e {
            CoreError::AlreadyExists(_) => AppError::Conflict {
                code: "email_taken",
                message: "an account with this email already exists; sign in instead".into(),
            },
            other => other.into(),
        })?;
    // No credits yet: the plan's free credits wait for the email to be verified
    // (`POST /auth/verify`, through the link mailed now).
    state
        .auth
        .jobs
        .ledger()
        .ensure_account(&user.user_id, &user.email, 0)
        .await?;
    super::verify::send_verification(&state, &user)?;
    tracing::info!(user = %user.user_id, "local account created; verification mailed");
    Ok((StatusCode::CREATED, session(&state, &user)?))
}

/// `POST /auth/login {email, password}` → a session; `401` for a wrong password or an
/// unknown email alike; `429` after too many failures.
#[utoipa::path(
    post,
    path = "/auth/login",
    operation_id = "login",
    summary = "Sign in with a password (servers without Supabase Auth)",
    request_body = Credentials,
    responses(
        (status = 200, description = "A session", body = Session),
        JsonBody, Timed,
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many failed attempts (`Retry-After`)", body = ErrorBody),
        (status = 503, description = "Sign-in goes through Supabase on this server", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<WebContext>,
    ClientAddr(peer): ClientAddr,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<Json<Session>, AuthError> {
    let accounts = accounts(&state)?;
    let email = normalize_email(&credentials.email);
    let keys = Key::sign_in(&email, peer);
    // Counted now, before any hashing (and held for its turn after earlier failures);
    // a success takes it back below.
    throttle(&state, &keys).await?;
    let wrong = || AppError::Unauthorized("wrong email or password".into());
    if credentials.password.len() > MAX_PASSWORD_BYTES {
        return Err(wrong().into());
    }
    let user = accounts.user_by_email(&email).await?;
    let phc = user
        .as_ref()
        .map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
    let password = credentials.password;
    let matches = state
        .web
        .hashing
        .run(move || verify_password(&password, &phc))
        .await?;
    match user {
        Some(user) if matches => {
            state.web.limiter.succeeded(&keys);
            // The profile normally exists since sign-up; make sure (a restored database).
            // Credits come with verification, never with a sign-in.
            state
                .auth
                .jobs
                .ledger()
                .ensure_account(&user.user_id, &user.email, 0)
                .await?;
            session(&state, &user)
        }
        _ => Err(wrong().into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.com",
            "x@localhost.localdomain",
        ] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@", "@b.co", "a@b", "a@.b.co", "a@b.co.", "a@b..co", "a b@c.co", "a@b@c.co",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash_password("correct horse").ok().unwrap_or_default();
        let b = hash_password("correct horse").ok().unwrap_or_default();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("correct horsf", &a));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
