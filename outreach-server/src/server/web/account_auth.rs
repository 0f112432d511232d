//! A signed-in password account's own session routes: `POST /auth/logout` (ends every
//! session of the account) and `POST /auth/password` (a new password, given the current
//! one). Both move the account's token version on, which refuses every token issued
//! before (see [`crate::server::auth`]); the password change answers with a fresh
//! session so the browser that made it stays signed in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::client_addr::ClientAddr;
use super::local_auth::{
    accounts, session, throttle, verify_password, weak_password, AuthError, Session,
    MAX_PASSWORD_BYTES,
};
use super::rate_limit::Key;
use super::WebContext;
use crate::server::auth::AuthUser;
use crate::server::error::AppError;
use crate::server::extract::AppJson;
use crate::server::openapi::{Authed, ErrorBody, JsonBody, Timed};

/// The current password and the new one.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({ "current_password": "correct horse battery", "new_password": "tulip orbit canvas" }))]
pub struct PasswordChange {
    #[schema(min_length = 1, max_length = 1024)]
    current_password: String,
    #[schema(min_length = 10, max_length = 1024)]
    new_password: String,
}

/// Checks a new password: at most [`MAX_PASSWORD_BYTES`], and not weak.
pub(crate) fn check_new_password(password: &str) -> Result<(), AppError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::bad_request(
            "invalid_password",
            format!("the password must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    match weak_password(password) {
        Some(why) => Err(AppError::bad_request("weak_password", why)),
        None => Ok(()),
    }
}

/// `POST /auth/logout` → `204`: every token of the caller's account, this one included,
/// is refused from now on.
#[utoipa::path(
    post,
    path = "/auth/logout",
    operation_id = "logout",
    summary = "Sign out everywhere: revoke every token of this password account",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out; every earlier token is refused"),
        Authed, Timed,
        (status = 404, description = "The caller has no password account here", body = ErrorBody),
        (status = 503, description = "Sign-in goes through Supabase on this server", body = ErrorBody),
    )
)]
pub async fn logout(
    State(state): State<WebContext>,
    user: AuthUser,
) -> Result<StatusCode, AppError> {
    let accounts = accounts(&state)?;
    match accounts.revoke_tokens(&user.user_id).await {
        Ok(version) => {
            tracing::info!(user = %user.user_id, version, "signed out: tokens revoked");
            Ok(StatusCode::NO_CONTENT)
        }
        Err(outreach_core::Error::NotFound(_)) => Err(AppError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// `POST /auth/password {current_password, new_password}` → a new session; every other
/// token of the account is refused from now on. A wrong current password is `400
/// wrong_password` and counts as a failed sign-in of the account.
#[utoipa::path(
    post,
    path = "/auth/password",
    operation_id = "changePassword",
    summary = "Change the password (needs the current one); ends every other session",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "A new session (older tokens are refused)", body = Session),
        JsonBody, Authed, Timed,
        (status = 404, description = "The caller has no password account here", body = ErrorBody),
        (status = 409, description = "The password changed meanwhile; try again", body = ErrorBody),
        (status = 429, description = "Too many failed attempts (`Retry-After`)", body = ErrorBody),
        (status = 503, description = "Sign-in goes through Supabase on this server", body = ErrorBody),
    )
)]
pub async fn change_password(
    State(state): State<WebContext>,
    ClientAddr(peer): ClientAddr,
    user: AuthUser,
    AppJson(change): AppJson<PasswordChange>,
) -> Result<Json<Session>, AuthError> {
    let accounts = accounts(&state)?;
    check_new_password(&change.new_password)?;
    let Some(account) = accounts.user_by_id(&user.user_id).await? else {
        return Err(AppError::NotFound.into());
    };
    // A stolen token must not become a way to guess the password: the check counts
    // against the account like a sign-in, before any hashing.
    let key = Key::sign_in(&account.email, peer);
    throttle(&state, &key).await?;
    let wrong = || AppError::bad_request("wrong_password", "the current password is not right");
    if change.current_password.len() > MAX_PASSWORD_BYTES {
        return Err(wrong().into());
    }
    let current = change.current_password;
    let phc = account.password_hash.clone();
    let matches = state
        .web
        .hashing
        .run(move || verify_password(&current, &phc))
        .await?;
    if !matches {
        return Err(wrong().into());
    }
    state.web.limiter.succeeded(&key);
    let new = change.new_password;
    let hash = state
        .web
        .hashing
        .run(move || super::local_auth::hash_password(&new))
        .await??;
    let Some(version) = accounts
        .set_password(&account.user_id, &hash, account.token_version)
        .await?
    else {
        return Err(AppError::Conflict {
            code: "password_changed",
            message: "the password or the session changed meanwhile; sign in again".into(),
        }
        .into());
    };
    tracing::info!(user = %account.user_id, "password changed: older tokens revoked");
    let updated = outreach_core::ports::LocalUser {
        token_version: version,
        password_hash: hash,
        ..account
    };
    session(&state, &updated)
}
