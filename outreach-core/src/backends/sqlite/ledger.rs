//! `CreditLedger` on SQLite: `profiles` holds the balance, `ledger` every change to it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

use super::{
    col, col_opt_ts, col_ts, db_error, encode_ts, is_foreign_key_violation, now, rollback, sat_i64,
    SqliteStore,
};
use crate::error::{Error, InputError, Result};
use crate::ports::{Account, Applied, CreditLedger, LedgerEntry, NewEntry, PlanUpdate};

const ACCOUNT_COLUMNS: &str = "id, email, credits_remaining, max_credits, plan_type, \
     subscription_status, renewal_date, stripe_customer_id, stripe_subscription_id, \
     stripe_price_id, created_at";

const ENTRY_COLUMNS: &str =
    "id, user_id, change, amount_usd, reason, idempotency_key, balance_after, ts";

/// The idempotency key of the credits an account starts with.
const SIGNUP_KEY: &str = "grant:signup";

fn account_from_row(row: &SqliteRow) -> Result<Account> {
    Ok(Account {
        user_id: col(row, "id")?,
        email: col(row, "email")?,
        credits_remaining: col(row, "credits_remaining")?,
        max_credits: col(row, "max_credits")?,
        plan_type: col(row, "plan_type")?,
        subscription_status: col(row, "subscription_status")?,
        renewal_date: col_opt_ts(row, "renewal_date")?,
        stripe_customer_id: col(row, "stripe_customer_id")?,
        stripe_subscription_id: col(row, "stripe_subscription_id")?,
        stripe_price_id: col(row, "stripe_price_id")?,
        created_at: col_ts(row, "created_at")?,
    })
}

fn entry_from_row(row: &SqliteRow) -> Result<LedgerEntry> {
    Ok(LedgerEntry {
        id: col(row, "id")?,
        user_id: col(row, "user_id")?,
        change: col(row, "change")?,
        amount_usd: col(row, "amount_usd")?,
        reason: col(row, "reason")?,
        idempotency_key: col(row, "idempotency_key")?,
        balance_after: col(row, "balance_after")?,
        ts: col_ts(row, "ts")?,
    })
}

fn unknown_account(user_id: &str) -> Error {
    Error::NotFound(format!("account {user_id}"))
}

async fn fetch_account(conn: &mut SqliteConnection, user_id: &str) -> Result<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM profiles WHERE id = $1");
    sqlx::query(&sql)
        .bind(user_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error("read the account"))?
        .as_ref()
        .map(account_from_row)
        .transpose()
}

async fn balance(conn: &mut SqliteConnection, user_id: &str) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT credits_remaining FROM profiles WHERE id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error("read the balance"))
}

/// The body of `apply`, inside a transaction that already holds the write lock. On
/// `Err` the caller must roll back (the ledger row may have been written).
async fn apply_in(
    conn: &mut SqliteConnection,
    entry: &NewEntry,
    ts: &DateTime<Utc>,
) -> Result<Applied> {
    // Write first: the idempotency key is claimed before anything is checked, so a
    // duplicate is `AlreadyApplied` whatever its amount and whatever the balance.
    // `balance_after` is filled in once the balance has moved.
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO ledger (user_id, change, amount_usd, reason, idempotency_key, balance_after, ts) \
         VALUES ($1, $2, $3, $4, $5, 0, $6) \
         ON CONFLICT (user_id, idempotency_key) DO NOTHING \
         RETURNING id",
    )
    .bind(&entry.user_id)
    .bind(entry.change)
    .bind(entry.amount_usd)
    .bind(&entry.reason)
    .bind(&entry.idempotency_key)
    .bind(encode_ts(ts))
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| {
        if is_foreign_key_violation(&e) {
            unknown_account(&entry.user_id)
        } else {
            db_error("write the ledger entry")(e)
        }
    })?;

    let Some(entry_id) = inserted else {
        let balance = balance(conn, &entry.user_id)
            .await?
            .ok_or_else(|| unknown_account(&entry.user_id))?;
        return Ok(Applied::AlreadyApplied { balance });
    };

    // The check and the change are one statement: no window between reading the
    // balance and writing it.
    let updated: Option<i64> = sqlx::query_scalar(
        "UPDATE profiles SET credits_remaining = credits_remaining + $1 \
         WHERE id = $2 AND credits_remaining + $1 >= 0 \
         RETURNING credits_remaining",
    )
    .bind(entry.change)
    .bind(&entry.user_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error("update the balance"))?;

    let Some(balance_after) = updated else {
        return Err(match balance(conn, &entry.user_id).await? {
            Some(available) => Error::InsufficientCredits {
                needed: entry.change.saturating_neg(),
                available,
            },
            None => unknown_account(&entry.user_id),
        });
    };

    sqlx::query("UPDATE ledger SET balance_after = $1 WHERE id = $2")
        .bind(balance_after)
        .bind(entry_id)
        .execute(&mut *conn)
        .await
        .map_err(db_error("write the ledger entry"))?;

    Ok(Applied::Applied {
        balance: balance_after,
    })
}

#[async_trait]
impl CreditLedger for SqliteStore {
    async fn ensure_account(
        &self,
        user_id: &str,
        email: &str,
        initial_credits: i64,
    ) -> Result<Account> {
        if initial_credits < 0 {
            return Err(Error::InvalidInput(InputError::Other(format!(
                "initial credits must not be negative: {initial_credits}"
            ))));
        }
        // Most calls find the account: answer those without taking the write lock.
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("read the account"))?;
        if let Some(account) = fetch_account(&mut conn, user_id).await? {
            return Ok(account);
        }
        drop(conn);

        let mut tx = self.begin_write("create the account").await?;
        let ts = now();
        let created = sqlx::query(
            "INSERT INTO profiles (id, email, credits_remaining, max_credits, created_at) \
             VALUES ($1, $2, 0, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(user_id)
        .bind(email)
        .bind(initial_credits)
        .bind(encode_ts(&ts))
        .execute(&mut *tx)
        .await
        .map_err(db_error("create the account"))?
        .rows_affected()
            == 1;

        let result = async {
            if created && initial_credits > 0 {
                let grant = NewEntry {
                    user_id: user_id.to_owned(),
                    change: initial_credits,
                    amount_usd: None,
                    reason: "signup grant".into(),
                    idempotency_key: SIGNUP_KEY.into(),
                };
                apply_in(&mut tx, &grant, &ts).await?;
            }
            fetch_account(&mut tx, user_id)
                .await?
                .ok_or_else(|| unknown_account(user_id))
        }
        .await;

        match result {
            Ok(account) => {
                tx.commit().await.map_err(db_error("create the account"))?;
                Ok(account)
            }
            Err(e) => {
                rollback(tx).await;
                Err(e)
            }
        }
    }

    async fn account(&self, user_id: &str) -> Result<Account> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("read the account"))?;
        fetch_account(&mut conn, user_id)
            .await?
            .ok_or_else(|| unknown_account(user_id))
    }

    async fn apply(&self, entry: NewEntry) -> Result<Applied> {
        let mut tx = self.begin_write("apply the ledger entry").await?;
        match apply_in(&mut tx, &entry, &now()).await {
            Ok(applied) => {
                tx.commit()
                    .await
                    .map_err(db_error("apply the ledger entry"))?;
                Ok(applied)
            }
            Err(e) => {
                rollback(tx).await;
                Err(e)
            }
        }
    }

    async fn entries(
        &self,
        user_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<LedgerEntry>, u64)> {
        // One read transaction: the page and the total come from the same snapshot.
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_error("read the ledger"))?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error("read the ledger"))?;
        if total == 0 && balance(&mut tx, user_id).await?.is_none() {
            return Err(unknown_account(user_id));
        }
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM ledger WHERE user_id = $1 \
             ORDER BY id DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(user_id)
            .bind(sat_i64(limit))
            .bind(sat_i64(offset))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error("read the ledger"))?;
        tx.commit().await.map_err(db_error("read the ledger"))?;
        let entries = rows
            .iter()
            .map(entry_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok((entries, u64::try_from(total).unwrap_or(0)))
    }

    async fn update_plan(&self, user_id: &str, update: PlanUpdate) -> Result<Account> {
        let sql = format!(
            "UPDATE profiles SET \
                 plan_type = COALESCE($2, plan_type), \
                 max_credits = COALESCE($3, max_credits), \
                 subscription_status = COALESCE($4, subscription_status), \
                 renewal_date = COALESCE($5, renewal_date), \
                 stripe_customer_id = COALESCE($6, stripe_customer_id), \
                 stripe_subscription_id = COALESCE($7, stripe_subscription_id), \
                 stripe_price_id = COALESCE($8, stripe_price_id) \
             WHERE id = $1 \
             RETURNING {ACCOUNT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(user_id)
            .bind(update.plan_type)
            .bind(update.max_credits)
            .bind(update.subscription_status)
            .bind(update.renewal_date.as_ref().map(encode_ts))
            .bind(update.stripe_customer_id)
            .bind(update.stripe_subscription_id)
            .bind(update.stripe_price_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("update the plan"))?
            .ok_or_else(|| unknown_account(user_id))?;
        account_from_row(&row)
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<Account>> {
        let email = email.trim();
        if email.is_empty() {
            return Ok(None);
        }
        // Case-insensitive (ASCII), oldest account first if an address is shared.
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM profiles WHERE lower(email) = lower($1) \
             ORDER BY created_at, id LIMIT 1"
        );
        sqlx::query(&sql)
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("find the account"))?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }
}
