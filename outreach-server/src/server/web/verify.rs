//! Email verification of password accounts: a new account has no credits until its
//! owner opens the link mailed at sign-up (`/verify?token=…` in the web app, which
//! calls `POST /auth/verify`). Then the plan's free credits are granted, once.
//!
//! - The link is a signed token ([`LinkPurpose::VerifyEmail`]: its own key and
//!   audience) naming the user and the email, valid for [`VERIFY_LINK_TTL`].
//! - Exactly once: the grant is a ledger entry with the idempotency key
//!   `grant:email-verified`, so a double click, two tabs or a replayed link never pay
//!   twice; the account is marked verified after the grant (see
//!   [`complete_verification`]). A completed password reset verifies the email too. Accounts created before verification existed count as verified (their
//!   credits were granted at sign-up) and get nothing more.
//! - `POST /auth/verify/resend` mails a fresh link to a signed-in, unverified account,
//!   at most 5 per hour per email and per client address.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use outreach_core::ports::{Applied, LocalUser, NewEntry, PlanUpdate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client_addr::ClientAddr;
use super::local_auth::{accounts, AuthError};
use super::rate_limit::Key;
use super::WebContext;
use crate::server::auth::{AuthUser, LinkPurpose};
use crate::server::error::AppError;
use crate::server::extract::AppJson;
use crate::server::mail::Mail;
use crate::server::openapi::{Authed, ErrorBody, JsonBody, Timed};

/// How long a verification link works.
pub const VERIFY_LINK_TTL: Duration = Duration::from_secs(3 * 24 * 3600);

/// The ledger key of the free credits granted at verification.
pub const VERIFIED_GRANT_KEY: &str = "grant:email-verified";

/// A link's token.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LinkToken {
    #[schema(min_length = 1, max_length = 4096)]
    token: String,
}

/// The outcome of a verification.
#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    email: String,
    /// Credits granted by this call (0 when the email was verified before).
    credits_granted: i64,
}

/// A mail was queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailQueued {
    message: String,
}

/// Mails `user` a verification link (in the background).
pub(crate) fn send_verification(state: &WebContext, user: &LocalUser) -> Result<(), AppError> {
    let exp = jsonwebtoken::get_current_timestamp() + VERIFY_LINK_TTL.as_secs();
    let token = state.auth.config.sign_link(
        LinkPurpose::VerifyEmail,
        &user.user_id,
        &user.email,
        user.token_version,
        exp,
    )?;
    let link = state.web.mail.link("/verify", &token);
    let credits = state.auth.free_credits;
    state.web.mail.send_later(Mail {
        to: user.email.clone(),
        subject: "Confirm your email for outreach".into(),
        text: format!(
            "Open this link to confirm your email address{}:\n\n{link}\n\nThe link works for {} days. If you did not sign up, ignore this mail.\n",
            if credits > 0 {
                format!(" and receive your {credits} free credits")
            } else {
                String::new()
            },
            VERIFY_LINK_TTL.as_secs() / 86_400
        ),
        link,
    });
    Ok(())
}

/// `POST /auth/verify {token}` → the email is verified and, the first time, the plan's
/// free credits are granted.
#[utoipa::path(
    post,
    path = "/auth/verify",
    operation_id = "verifyEmail",
    summary = "Verify an email with the mailed link's token; grants the free credits once",
    request_body = LinkToken,
    responses(
        (status = 200, description = "Verified (`credits_granted` is 0 the second time)", body = Verified),
        JsonBody, Timed,
        (status = 503, description = "Sign-in goes through Supabase on this server", body = ErrorBody),
    )
)]
pub async fn verify_email(
    State(state): State<WebContext>,
    AppJson(link): AppJson<LinkToken>,
) -> Result<Json<Verified>, AppError> {
    let accounts = accounts(&state)?;
    let claims = state
        .auth
        .config
        .verify_link(LinkPurpose::VerifyEmail, &link.token)?;
    let invalid = || AppError::bad_request("invalid_link", "this link is invalid or has expired");
    let user = accounts
        .user_by_id(&claims.sub)
        .await?
        .filter(|u| u.email == claims.email)
        .ok_or_else(invalid)?;
    let credits_granted = complete_verification(&state, &user).await?;
    Ok(Json(Verified {
        email: user.email,
        credits_granted,
    }))
}

/// Marks `user`'s email verified and grants the free credits, once; returns the credits
/// this call granted. Called by a verification link and by a completed password reset
/// (which proves the mailbox too).
///
/// The grant comes first: it is idempotent by its ledger key, so a process that stops
/// between the two steps leaves an account that the next click finishes, never one
/// marked verified without its credits.
pub(crate) async fn complete_verification(
    state: &WebContext,
    user: &LocalUser,
) -> Result<i64, AppError> {
    if user.email_verified_at.is_some() {
        return Ok(0);
    }
    let credits_granted = grant_free_credits(state, user).await?;
    if accounts(state)?.mark_email_verified(&user.user_id).await? {
        tracing::info!(user = %user.user_id, credits_granted, "email verified");
    }
    Ok(credits_granted)
}

/// The plan's free credits, through the ledger (idempotent by key).
async fn grant_free_credits(state: &WebContext, user: &LocalUser) -> Result<i64, AppError> {
    let ledger = state.auth.jobs.ledger();
    let credits = state.auth.free_credits;
    let account = ledger.ensure_account(&user.user_id, &user.email, 0).await?;
    if credits <= 0 {
        return Ok(0);
    }
    let applied = ledger
        .apply(NewEntry {
            user_id: user.user_id.clone(),
            change: credits,
            amount_usd: None,
            reason: "free credits: email verified".into(),
            idempotency_key: VERIFIED_GRANT_KEY.into(),
        })
        .await?;
    if account.max_credits < credits {
        ledger
            .update_plan(
                &user.user_id,
                PlanUpdate {
                    max_credits: Some(credits),
                    ..PlanUpdate::default()
                },
            )
            .await?;
    }
    Ok(match applied {
        Applied::Applied { .. } => credits,
        Applied::AlreadyApplied { .. } => 0,
    })
}

/// `POST /auth/verify/resend` → `202`: a fresh link for the caller's unverified email.
#[utoipa::path(
    post,
    path = "/auth/verify/resend",
    operation_id = "resendVerification",
    summary = "Mail a fresh verification link to the signed-in account",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A link is on its way", body = MailQueued),
        Authed, Timed,
        (status = 404, description = "The caller has no password account here", body = ErrorBody),
        (status = 409, description = "The email is verified already", body = ErrorBody),
        (status = 429, description = "Too many mails asked for (`Retry-After`)", body = ErrorBody),
        (status = 503, description = "Sign-in goes through Supabase on this server", body = ErrorBody),
    )
)]
pub async fn resend_verification(
    State(state): State<WebContext>,
    ClientAddr(peer): ClientAddr,
    user: AuthUser,
) -> Result<(StatusCode, Json<MailQueued>), AuthError> {
    let accounts = accounts(&state)?;
    let Some(account) = accounts.user_by_id(&user.user_id).await? else {
        return Err(AppError::NotFound.into());
    };
    if account.email_verified_at.is_some() {
        return Err(AppError::Conflict {
            code: "already_verified",
            message: "this email is verified already".into(),
        }
        .into());
    }
    let mut keys = vec![Key::Mail(format!("to:{}", account.email))];
    keys.extend(peer.map(|ip| Key::Mail(format!("from:{}", Key::client_of(ip)))));
    state
        .web
        .limiter
        .attempt(&keys)
        .map_err(AuthError::RateLimited)?;
    send_verification(&state, &account)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(MailQueued {
            message: format!("a new link is on its way to {}", account.email),
        }),
    ))
}
