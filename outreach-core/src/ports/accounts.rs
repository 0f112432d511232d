//! The `LocalAccounts` port: email + password sign-in for deployments without Supabase
//! Auth. It stores only what sign-in needs (a user id, a normalised email and a password
//! hash); credits and plans stay in the [`CreditLedger`](super::CreditLedger)'s
//! profiles, keyed by the same user id.
//!
//! Hashing is the caller's business (the server uses Argon2id): the port never sees a
//! password, so it can live in any database without crypto dependencies.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A user who signs in with a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalUser {
    pub user_id: String,
    /// Trimmed and lower-cased (see [`normalize_email`]).
    pub email: String,
    /// A PHC string (`$argon2id$v=19$…`); never a password.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    /// Session tokens carry the version they were issued under; moving it on (sign-out,
    /// a password change or reset) revokes every token issued before. Starts at 0.
    pub token_version: i64,
    /// When the owner proved the email is theirs (free credits wait for it).
    pub email_verified_at: Option<DateTime<Utc>>,
}

/// What `create_user` needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLocalUser {
    pub user_id: String,
    pub email: String,
    pub password_hash: String,
}

/// Emails are compared and stored trimmed and lower-cased: `Ada@Example.com ` and
/// `ada@example.com` are one account.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Password accounts.
///
/// # Contract
/// - `create_user` stores the user with its email normalised; a second user with the
///   same normalised email is [`crate::Error::AlreadyExists`] and stores nothing, also
///   when both are created concurrently (a unique index decides, not a prior read).
///   A user id already taken is `AlreadyExists` too.
/// - `user_by_email` finds a user by any spelling that normalises to the stored email;
///   an unknown email is `Ok(None)`. `user_by_id` likewise by id.
/// - A new user has `token_version` 0 and no `email_verified_at`.
/// - `revoke_tokens` adds one to the version and returns the new one; concurrent calls
///   each add one (no lost update).
/// - `set_password` is a compare-and-set on the version: when the stored version is
///   still `if_version` it stores the new hash and adds one to the version in the same
///   statement (`Some(new version)`); otherwise it changes nothing (`None`). Of
///   concurrent calls with one `if_version`, exactly one succeeds, so a link bound to a
///   version works once.
/// - `mark_email_verified` sets `email_verified_at` once: `true` for the one call that
///   set it (also among concurrent calls), `false` afterwards.
/// - `revoke_tokens`, `set_password` and `mark_email_verified` on an unknown user are
///   [`crate::Error::NotFound`].
#[async_trait]
pub trait LocalAccounts: Send + Sync + Debug + 'static {
    async fn create_user(&self, user: NewLocalUser) -> Result<LocalUser>;
    async fn user_by_email(&self, email: &str) -> Result<Option<LocalUser>>;
    async fn user_by_id(&self, user_id: &str) -> Result<Option<LocalUser>>;
    async fn revoke_tokens(&self, user_id: &str) -> Result<i64>;
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        if_version: i64,
    ) -> Result<Option<i64>>;
    async fn mark_email_verified(&self, user_id: &str) -> Result<bool>;
}
