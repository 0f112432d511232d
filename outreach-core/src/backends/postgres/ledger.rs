//! `CreditLedger` on PostgreSQL: `profiles` holds the balance, `ledger` every change to it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use super::{col, db_error, finish_tx, is_foreign_key_violation, now, sat_i64, PgStore};
use crate::error::{Error, InputError, Result};
use crate::ports::{Account, Applied, CreditLedger, LedgerEntry, NewEntry, PlanUpdate};

const ACCOUNT_COLUMNS: &str = "id, email, credits_remaining, max_credits, plan_type, \
     subscription_status, renewal_date, stripe_customer_id, stripe_subscription_id, \
     stripe_price_id, created_at";

const ENTRY_COLUMNS: &str =
    "id, user_id, change, amount_usd, reason, idempotency_key, balance_after, ts";

/// The idempotency key of the credits an account starts with.
const SIGNUP_KEY: &str = "grant:signup";

fn account_from_row(row: &PgRow) -> Result<Account> {
    Ok(Account {
        user_id: col(row, "id")?,
        email: col(row, "email")?,
        credits_remaining: col(row, "credits_remaining")?,
        max_credits: col(row, "max_credits")?,
        plan_type: col(row, "plan_type")?,
        subscription_status: col(row, "subscription_status")?,
        renewal_date: col(row, "renewal_date")?,
        stripe_customer_id: col(row, "stripe_customer_id")?,
        stripe_subscription_id: col(row, "stripe_subscription_id")?,
        stripe_price_id: col(row, "stripe_price_id")?,
        created_at: col(row, "created_at")?,
    })
}

fn entry_from_row(row: &PgRow) -> Result<LedgerEntry> {
    Ok(LedgerEntry {
        id: col(row, "id")?,
        user_id: col(row, "user_id")?,
        change: col(row, "change")?,
        amount_usd: col(row, "amount_usd")?,
        reason: col(row, "reason")?,
        idempotency_key: col(row, "idempotency_key")?,
        balance_after: col(row, "balance_after")?,
        ts: col(row, "ts")?,
    })
}

fn unknown_account(user_id: &str) -> Error {
    Error::NotFound(format!("account {user_id}"))
}

async fn fetch_account(conn: &mut PgConnection, user_id: &str) -> Result<Option<Account>> {
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

/// The body of `apply`, inside a transaction. On `Err` the caller must roll back.
async fn apply_in(
    conn: &mut PgConnection,
    entry: &NewEntry,
    ts: &DateTime<Utc>,
) -> Result<Applied> {
    // The profile's row lock serialises every apply of this user from here to commit:
    // the balance read below stays true until we change it.
    let balance: i64 = sqlx::query_scalar(
        "SELECT credits_remaining FROM profiles WHERE id = $1 FOR NO KEY UPDATE",
    )
    .bind(&entry.user_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error("read the balance"))?
    .ok_or_else(|| unknown_account(&entry.user_id))?;

    let after = balance.checked_add(entry.change);
    let balance_after = match after {
        Some(after) if after >= 0 => after,
        _ => {
            // A used key is `AlreadyApplied` whatever its amount and whatever the
            // balance; otherwise the entry is refused and its key stays unused.
            let used: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM ledger WHERE user_id = $1 AND idempotency_key = $2",
            )
            .bind(&entry.user_id)
            .bind(&entry.idempotency_key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error("read the ledger"))?;
            if used.is_some() {
                return Ok(Applied::AlreadyApplied { balance });
            }
            return Err(match after {
                Some(_) => Error::InsufficientCredits {
                    needed: entry.change.saturating_neg(),
                    available: balance,
                },
                None => Error::InvalidInput(InputError::Other(format!(
                    "a change of {} credits is out of range",
                    entry.change
                ))),
            });
        }
    };

    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO ledger (user_id, change, amount_usd, reason, idempotency_key, \
             balance_after, ts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (user_id, idempotency_key) DO NOTHING \
         RETURNING id",
    )
    .bind(&entry.user_id)
    .bind(entry.change)
    .bind(entry.amount_usd)
    .bind(&entry.reason)
    .bind(&entry.idempotency_key)
    .bind(balance_after)
    .bind(ts)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| {
        if is_foreign_key_violation(&e) {
            unknown_account(&entry.user_id)
        } else {
            db_error("write the ledger entry")(e)
        }
    })?;
    if inserted.is_none() {
        return Ok(Applied::AlreadyApplied { balance });
    }

    sqlx::query("UPDATE profiles SET credits_remaining = $2 WHERE id = $1")
        .bind(&entry.user_id)
        .bind(balance_after)
        .execute(&mut *conn)
        .await
        .map_err(db_error("update the balance"))?;

    Ok(Applied::Applied {
        balance: balance_after,
    })
}

#[async_trait]
impl CreditLedger for PgStore {
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
        // Most calls find the account: answer those without a transaction.
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("read the account"))?;
        if let Some(account) = fetch_account(&mut conn, user_id).await? {
            return Ok(account);
        }
        drop(conn);

        // A concurrent creator's insert makes ours wait for its commit, then do nothing;
        // the read that follows (a new statement) sees its account and grant.
        let mut tx = self.begin("create the account").await?;
        let ts = now();
        let result = async {
            let created = sqlx::query(
                "INSERT INTO profiles (id, email, credits_remaining, max_credits, created_at) \
                 VALUES ($1, $2, 0, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(user_id)
            .bind(email)
            .bind(initial_credits)
            .bind(ts)
            .execute(&mut *tx)
            .await
            .map_err(db_error("create the account"))?
            .rows_affected()
                == 1;
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
        finish_tx(tx, result, "create the account").await
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
        let mut tx = self.begin("apply the ledger entry").await?;
        let result = apply_in(&mut tx, &entry, &now()).await;
        finish_tx(tx, result, "apply the ledger entry").await
    }

    async fn entries(
        &self,
        user_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<LedgerEntry>, u64)> {
        // One snapshot for the page and the total.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db_error("read the ledger"))?;
        let result = async {
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error("read the ledger"))?;
            if total == 0 {
                let exists: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM profiles WHERE id = $1")
                        .bind(user_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error("read the account"))?;
                if exists.is_none() {
                    return Err(unknown_account(user_id));
                }
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
            let entries = rows
                .iter()
                .map(entry_from_row)
                .collect::<Result<Vec<_>>>()?;
            Ok((entries, u64::try_from(total).unwrap_or(0)))
        }
        .await;
        finish_tx(tx, result, "read the ledger").await
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
            .bind(update.renewal_date)
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
        // Case-insensitive, oldest account first if an address is shared.
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
