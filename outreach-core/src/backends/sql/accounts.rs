//! [`LocalAccounts`]: the `local_users` table.

use async_trait::async_trait;

use super::{now, on_constraint, Constraint, Dialect, Query, SqlRow, SqlStore};
use crate::error::{Error, Result};
use crate::ports::{normalize_email, LocalAccounts, LocalUser, NewLocalUser};

const COLUMNS: &str = "id, email, password_hash, created_at, token_version, email_verified_at";

fn user_from_row(row: &impl SqlRow) -> Result<LocalUser> {
    Ok(LocalUser {
        user_id: row.text("id")?,
        email: row.text("email")?,
        password_hash: row.text("password_hash")?,
        created_at: row.ts("created_at")?,
        token_version: row.int("token_version")?,
        email_verified_at: row.opt_ts("email_verified_at")?,
    })
}

fn unknown(user_id: &str) -> Error {
    Error::NotFound(format!("local user {user_id}"))
}

impl<D: Dialect> SqlStore<D> {
    async fn user_where(&self, column: &str, value: &str) -> Result<Option<LocalUser>> {
        let query = Query::new(format!(
            "SELECT {COLUMNS} FROM local_users WHERE {column} = $1"
        ))
        .bind(value);
        self.on()
            .optional(query, "find the user")
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }
}

#[async_trait]
impl<D: Dialect> LocalAccounts for SqlStore<D> {
    async fn create_user(&self, user: NewLocalUser) -> Result<LocalUser> {
        let email = normalize_email(&user.email);
        // One statement: the unique indexes decide between concurrent sign-ups.
        let query = Query::new(format!(
            "INSERT INTO local_users (id, email, password_hash, created_at) \
             VALUES ($1, $2, $3, $4) \
             RETURNING {COLUMNS}"
        ))
        .bind(&user.user_id)
        .bind(&email)
        .bind(&user.password_hash)
        .bind(now());
        let row = D::fetch_optional(self.on(), query)
            .await
            .map_err(on_constraint(
                Constraint::Unique,
                || Error::AlreadyExists(format!("a user with the email {email}")),
                "create the user",
            ))?
            .ok_or_else(|| super::corrupt("local user", "no row returned"))?;
        user_from_row(&row)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<LocalUser>> {
        let email = normalize_email(email);
        if email.is_empty() {
            return Ok(None);
        }
        self.user_where("email", &email).await
    }

    async fn user_by_id(&self, user_id: &str) -> Result<Option<LocalUser>> {
        self.user_where("id", user_id).await
    }

    async fn revoke_tokens(&self, user_id: &str) -> Result<i64> {
        // `token_version + 1` in the statement: concurrent revocations never lose one.
        let query = Query::new(
            "UPDATE local_users SET token_version = token_version + 1 \
             WHERE id = $1 RETURNING token_version",
        )
        .bind(user_id);
        let row = self
            .on()
            .optional(query, "revoke the tokens")
            .await?
            .ok_or_else(|| unknown(user_id))?;
        row.int("token_version")
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        if_version: i64,
    ) -> Result<Option<i64>> {
        let query = Query::new(
            "UPDATE local_users SET password_hash = $2, token_version = token_version + 1 \
             WHERE id = $1 AND token_version = $3 RETURNING token_version",
        )
        .bind(user_id)
        .bind(password_hash)
        .bind(if_version);
        match self.on().optional(query, "set the password").await? {
            Some(row) => Ok(Some(row.int("token_version")?)),
            None if self.user_by_id(user_id).await?.is_some() => Ok(None),
            None => Err(unknown(user_id)),
        }
    }

    async fn mark_email_verified(&self, user_id: &str) -> Result<bool> {
        let query = Query::new(
            "UPDATE local_users SET email_verified_at = $2 \
             WHERE id = $1 AND email_verified_at IS NULL",
        )
        .bind(user_id)
        .bind(now());
        if self.on().execute(query, "verify the email").await? == 1 {
            return Ok(true);
        }
        match self.user_by_id(user_id).await? {
            Some(_) => Ok(false),
            None => Err(unknown(user_id)),
        }
    }
}
