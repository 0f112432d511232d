//! [`LocalAccounts`]: the `local_users` table.

use async_trait::async_trait;

use super::{now, on_constraint, Constraint, Dialect, Query, SqlRow, SqlStore};
use crate::error::{Error, Result};
use crate::ports::{normalize_email, LocalAccounts, LocalUser, NewLocalUser};

fn user_from_row(row: &impl SqlRow) -> Result<LocalUser> {
    Ok(LocalUser {
        user_id: row.text("id")?,
        email: row.text("email")?,
        password_hash: row.text("password_hash")?,
        created_at: row.ts("created_at")?,
    })
}

#[async_trait]
impl<D: Dialect> LocalAccounts for SqlStore<D> {
    async fn create_user(&self, user: NewLocalUser) -> Result<LocalUser> {
        let email = normalize_email(&user.email);
        // One statement: the unique indexes decide between concurrent sign-ups.
        let query = Query::new(
            "INSERT INTO local_users (id, email, password_hash, created_at) \
             VALUES ($1, $2, $3, $4) \
             RETURNING id, email, password_hash, created_at",
        )
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
        let query = Query::new(
            "SELECT id, email, password_hash, created_at FROM local_users WHERE email = $1",
        )
        .bind(&email);
        self.on()
            .optional(query, "find the user")
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }
}
