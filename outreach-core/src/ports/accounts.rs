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
///   an unknown email is `Ok(None)`.
#[async_trait]
pub trait LocalAccounts: Send + Sync + Debug + 'static {
    async fn create_user(&self, user: NewLocalUser) -> Result<LocalUser>;
    async fn user_by_email(&self, email: &str) -> Result<Option<LocalUser>>;
}
