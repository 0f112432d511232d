//! `LocalAccounts` on SQLite: the `local_users` table.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;

use super::{col, col_ts, db_error, encode_ts, is_unique_violation, now, SqliteStore};
use crate::error::{Error, Result};
use crate::ports::{normalize_email, LocalAccounts, LocalUser, NewLocalUser};

fn user_from_row(row: &SqliteRow) -> Result<LocalUser> {
    Ok(LocalUser {
        user_id: col(row, "id")?,
        email: col(row, "email")?,
        password_hash: col(row, "password_hash")?,
        created_at: col_ts(row, "created_at")?,
    })
}

#[async_trait]
impl LocalAccounts for SqliteStore {
    async fn create_user(&self, user: NewLocalUser) -> Result<LocalUser> {
        let email = normalize_email(&user.email);
        // One statement: the unique indexes decide between concurrent sign-ups.
        let row = sqlx::query(
            "INSERT INTO local_users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, email, password_hash, created_at",
        )
        .bind(&user.user_id)
        .bind(&email)
        .bind(&user.password_hash)
        .bind(encode_ts(&now()))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::AlreadyExists(format!("a user with the email {email}"))
            } else {
                db_error("create the user")(e)
            }
        })?;
        user_from_row(&row)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<LocalUser>> {
        let email = normalize_email(email);
        if email.is_empty() {
            return Ok(None);
        }
        sqlx::query("SELECT id, email, password_hash, created_at FROM local_users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("find the user"))?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }
}
