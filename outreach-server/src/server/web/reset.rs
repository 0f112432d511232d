//! Password reset for password accounts: `POST /auth/reset {email}` mails a link
//! (`/reset?token=…` in the web app), `POST /auth/reset/confirm {token, new_password}`
//! sets the new password and signs in.
//!
//! - No account enumeration: the request answers the same `202` (same body, mail sent
//!   in the background so the time matches too) whether or not the email has an
//!   account, and whether or not that email's own mail allowance is used up. Only the
//!   per-address allowance answers `429`, which says nothing about any account.
//! - The link ([`LinkPurpose::ResetPassword`]) expires after [`RESET_LINK_TTL`] and
//!   carries the account's token version; the reset is a compare-and-set on that
//!   version which also moves it on, so a link works once, and signing out or changing
//!   the password meanwhile voids it. The reset revokes every earlier session.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use outreach_core::ports::{normalize_email, LocalUser};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account_auth::check_new_password;
use super::client_addr::ClientAddr;
use super::local_auth::{accounts, hash_password, session, valid_email, AuthError, Session};
use super::rate_limit::Key;
use super::WebContext;
use crate::server::auth::LinkPurpose;
use crate::server::error::AppError;
use crate::server::extract::AppJson;
use crate::server::mail::Mail;
use crate::server::openapi::{ErrorBody, JsonBody, Timed};

/// How long a reset link works.
pub const RESET_LINK_TTL: Duration = Duration::from_secs(3600);

/// Whose password to reset.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )]
    email: String,
}

/// The mailed link's token and the new password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetConfirm {
    #[schema(min_length = 1, max_length = 4096)]
    token: String,
    #[schema(min_length = 10, max_length = 1024)]
    new_password: String,
}

/// The same answer for every email.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetQueued {
    message: String,
}

fn reset_mail(state: &WebContext, user: &LocalUser) -> Result<Mail, AppError> {
    let exp = jsonwebtoken::get_current_timestamp() + RESET_LINK_TTL.as_secs();
    let token = state.auth.config.sign_link(
        LinkPurpose::ResetPassword,
        &user.user_id,
        &user.email,
        user.token_version,
        exp,
    )?;
    let link = state.web.mail.link("/reset", &token);
    Ok(Mail {
        to: user.email.clone(),
        subject: "Reset your outreach password".into(),
        text: format!(
            "Someone (hopefully you) asked to reset the password of this account. Open this link to choose a new one:\n\n{link}\n\nThe link works once, for {} minutes. If you did not ask, ignore this mail: your password stays as it is.\n",
            RESET_LINK_TTL.as_secs() / 60
        ),
        link,
    })
}

/// `POST /auth/reset {email}` → `202` whatever the email (see the module notes).
#[utoipa::path(
    post,
    path = "/auth/reset",
    operation_id = "requestPasswordReset",
    summary = "Mail a password reset link (same answer for unknown emails)",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "If the email has an account, a link is on its way", body = ResetQueued),
        JsonBody, Timed,
        (status = 429, description = "Too many reset requests from this address (`Retry-After`)", body = ErrorBody),
        (status = 503, description = "Sign-in goes through Supabase on this server", body = ErrorBody),
    )
)]
pub async fn request_reset(
    State(state): State<WebContext>,
    ClientAddr(peer): ClientAddr,
    AppJson(request): AppJson<ResetRequest>,
) -> Result<(StatusCode, Json<ResetQueued>), AuthError> {
    let accounts = accounts(&state)?;
    let email = normalize_email(&request.email);
    if !valid_email(&email) {
        return Err(AppError::bad_request(
            "invalid_email",
            "enter a valid email address, like name@company.com",
        )
        .into());
    }
    let client: Vec<Key> = peer
        .map(|ip| Key::Mail(format!("from:{}", Key::client_of(ip))))
        .into_iter()
        .collect();
    state
        .web
        .limiter
        .attempt(&client)
        .map_err(AuthError::RateLimited)?;
    let queued = Json(ResetQueued {
        message: "if an account uses this email, a link to reset its password is on its way".into(),
    });
    // The recipient's own allowance: used up or not, the answer is the same.
    if state
        .web
        .limiter
        .attempt(&[Key::Mail(format!("to:{email}"))])
        .is_err()
    {
        return Ok((StatusCode::ACCEPTED, queued));
    }
    if let Some(user) = accounts.user_by_email(&email).await? {
        state.web.mail.send_later(reset_mail(&state, &user)?);
        tracing::info!(user = %user.user_id, "password reset link mailed");
    }
    Ok((StatusCode::ACCEPTED, queued))
}

/// `POST /auth/reset/confirm {token, new_password}` → a session with the new password;
/// every earlier token of the account is refused from now on.
#[utoipa::path(
    post,
    path = "/auth/reset/confirm",
    operation_id = "confirmPasswordReset",
    summary = "Set a new password with the mailed link's token (works once)",
    request_body = ResetConfirm,
    responses(
        (status = 200, description = "The new password is set; a session", body = Session),
        JsonBody, Timed,
        (status = 503, description = "Sign-in goes through Supabase on this server", body = ErrorBody),
    )
)]
pub async fn confirm_reset(
    State(state): State<WebContext>,
    AppJson(confirm): AppJson<ResetConfirm>,
) -> Result<Json<Session>, AuthError> {
    let accounts = accounts(&state)?;
    let claims = state
        .auth
        .config
        .verify_link(LinkPurpose::ResetPassword, &confirm.token)?;
    check_new_password(&confirm.new_password)?;
    let used = || {
        AppError::bad_request(
            "invalid_link",
            "this link was used already or has expired; ask for a new one",
        )
    };
    let Some(user) = accounts
        .user_by_id(&claims.sub)
        .await?
        .filter(|u| u.email == claims.email && u.token_version == claims.ver)
    else {
        return Err(used().into());
    };
    let password = confirm.new_password;
    let hash = state
        .web
        .hashing
        .run(move || hash_password(&password))
        .await??;
    // Compare-and-set on the link's version: of two concurrent uses, one wins.
    let Some(version) = accounts
        .set_password(&user.user_id, &hash, claims.ver)
        .await?
    else {
        return Err(used().into());
    };
    state
        .web
        .limiter
        .succeeded(&Key::sign_in(&user.email, None));
    tracing::info!(user = %user.user_id, "password reset: older tokens revoked");
    // The reset link came by mail: the mailbox is proven, as a verification link proves it.
    super::verify::complete_verification(&state, &user).await?;
    session(
        &state,
        &LocalUser {
            token_version: version,
            password_hash: hash,
            email_verified_at: user.email_verified_at.or_else(|| Some(chrono::Utc::now())),
            ..user
        },
    )
}
