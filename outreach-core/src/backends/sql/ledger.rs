//! [`CreditLedger`]: `profiles` holds the balance, `ledger` every change to it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    finish_tx, now, on_constraint, sat_i64, Constraint, Dialect, On, Query, SqlRow, SqlStore,
};
use crate::error::{Error, InputError, Result};
use crate::ports::{Account, Applied, CreditLedger, LedgerEntry, NewEntry, PlanUpdate};

const ACCOUNT_COLUMNS: &str = "id, email, credits_remaining, max_credits, plan_type, \
     subscription_status, renewal_date, stripe_customer_id, stripe_subscription_id, \
     stripe_price_id, credit_debt, created_at";

const ENTRY_COLUMNS: &str =
    "id, user_id, change, amount_usd, reason, idempotency_key, balance_after, ts";

/// The idempotency key of the credits an account starts with.
const SIGNUP_KEY: &str = "grant:signup";

fn account_from_row(row: &impl SqlRow) -> Result<Account> {
    Ok(Account {
        user_id: row.text("id")?,
        email: row.text("email")?,
        credits_remaining: row.int("credits_remaining")?,
        max_credits: row.int("max_credits")?,
        plan_type: row.text("plan_type")?,
        subscription_status: row.text("subscription_status")?,
        renewal_date: row.opt_ts("renewal_date")?,
        stripe_customer_id: row.opt_text("stripe_customer_id")?,
        stripe_subscription_id: row.opt_text("stripe_subscription_id")?,
        stripe_price_id: row.opt_text("stripe_price_id")?,
        credit_debt: row.int("credit_debt")?,
        created_at: row.ts("created_at")?,
    })
}

fn entry_from_row(row: &impl SqlRow) -> Result<LedgerEntry> {
    Ok(LedgerEntry {
        id: row.int("id")?,
        user_id: row.text("user_id")?,
        change: row.int("change")?,
        amount_usd: row.opt_real("amount_usd")?,
        reason: row.text("reason")?,
        idempotency_key: row.text("idempotency_key")?,
        balance_after: row.int("balance_after")?,
        ts: row.ts("ts")?,
    })
}

fn unknown_account(user_id: &str) -> Error {
    Error::NotFound(format!("account {user_id}"))
}

async fn fetch_account<D: Dialect>(on: On<'_, D>, user_id: &str) -> Result<Option<Account>> {
    let query = Query::new(format!(
        "SELECT {ACCOUNT_COLUMNS} FROM profiles WHERE id = $1"
    ))
    .bind(user_id);
    on.optional(query, "read the account")
        .await?
        .as_ref()
        .map(account_from_row)
        .transpose()
}

/// The balance and debt of an account, locked until the transaction ends: the profile's
/// row lock serialises every apply of this user from here to commit, so what we read
/// stays true until we change it.
async fn lock_account<D: Dialect>(tx: &mut D::Tx, user_id: &str) -> Result<(i64, i64)> {
    let lock = Query::new(format!(
        "SELECT credits_remaining, credit_debt FROM profiles WHERE id = $1{}",
        D::LOCK_ROW
    ))
    .bind(user_id);
    let row = On::<D>::Tx(tx)
        .optional(lock, "read the balance")
        .await?
        .ok_or_else(|| unknown_account(user_id))?;
    Ok((row.int("credits_remaining")?, row.int("credit_debt")?))
}

/// Writes one ledger line; `false` when its key was already used by this user.
async fn insert_entry<D: Dialect>(
    tx: &mut D::Tx,
    entry: &NewEntry,
    balance_after: i64,
    ts: &DateTime<Utc>,
) -> Result<bool> {
    let insert = Query::new(
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
    .bind(*ts);
    let inserted = D::fetch_optional(On::Tx(tx), insert)
        .await
        .map_err(on_constraint(
            Constraint::ForeignKey,
            || unknown_account(&entry.user_id),
            "write the ledger entry",
        ))?;
    Ok(inserted.is_some())
}

async fn set_balance<D: Dialect>(
    tx: &mut D::Tx,
    user_id: &str,
    balance: i64,
    debt: i64,
) -> Result<()> {
    let update =
        Query::new("UPDATE profiles SET credits_remaining = $2, credit_debt = $3 WHERE id = $1")
            .bind(user_id)
            .bind(balance)
            .bind(debt);
    On::<D>::Tx(tx)
        .execute(update, "update the balance")
        .await?;
    Ok(())
}

/// The body of `apply`, inside a write transaction. On `Err` the caller must roll back.
async fn apply_in<D: Dialect>(
    tx: &mut D::Tx,
    entry: &NewEntry,
    ts: &DateTime<Utc>,
) -> Result<Applied> {
    let (balance, debt) = lock_account::<D>(tx, &entry.user_id).await?;

    let after = balance.checked_add(entry.change);
    let balance_after = match after {
        Some(after) if after >= 0 => after,
        _ => {
            // A used key is `AlreadyApplied` whatever its amount and whatever the
            // balance; otherwise the entry is refused and its key stays unused.
            let used =
                Query::new("SELECT id FROM ledger WHERE user_id = $1 AND idempotency_key = $2")
                    .bind(&entry.user_id)
                    .bind(&entry.idempotency_key);
            if On::<D>::Tx(tx)
                .optional(used, "read the ledger")
                .await?
                .is_some()
            {
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

    if !insert_entry::<D>(tx, entry, balance_after, ts).await? {
        return Ok(Applied::AlreadyApplied { balance });
    }

    // Credits received while in debt pay the debt first, as an entry of their own.
    let (mut balance_after, mut debt_after) = (balance_after, debt);
    let repay = debt.min(balance_after);
    if entry.change > 0 && repay > 0 {
        let repayment = NewEntry {
            user_id: entry.user_id.clone(),
            change: -repay,
            amount_usd: None,
            reason: format!("debt repaid from: {}", entry.reason),
            idempotency_key: format!("debt:{}", entry.idempotency_key),
        };
        if insert_entry::<D>(tx, &repayment, balance_after - repay, ts).await? {
            balance_after -= repay;
            debt_after -= repay;
        }
    }

    set_balance::<D>(tx, &entry.user_id, balance_after, debt_after).await?;
    Ok(Applied::Applied {
        balance: balance_after,
    })
}

/// The body of `claw_back`, inside a write transaction.
async fn claw_back_in<D: Dialect>(
    tx: &mut D::Tx,
    entry: &NewEntry,
    ts: &DateTime<Utc>,
) -> Result<Applied> {
    let Some(wanted) = entry.change.checked_neg().filter(|w| *w > 0) else {
        return Err(Error::InvalidInput(InputError::Other(format!(
            "credits taken back must be a negative change, not {}",
            entry.change
        ))));
    };
    let (balance, debt) = lock_account::<D>(tx, &entry.user_id).await?;
    let taken = wanted.min(balance);
    let owed = wanted - taken;
    let written = NewEntry {
        change: -taken,
        reason: if owed > 0 {
            format!("{} ({owed} credits owed)", entry.reason)
        } else {
            entry.reason.clone()
        },
        ..entry.clone()
    };
    if !insert_entry::<D>(tx, &written, balance - taken, ts).await? {
        return Ok(Applied::AlreadyApplied { balance });
    }
    set_balance::<D>(
        tx,
        &entry.user_id,
        balance - taken,
        debt.saturating_add(owed),
    )
    .await?;
    Ok(Applied::Applied {
        balance: balance - taken,
    })
}

#[async_trait]
impl<D: Dialect> CreditLedger for SqlStore<D> {
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
        // Most calls find the account: answer those without a write transaction.
        if let Some(account) = fetch_account(self.on(), user_id).await? {
            return Ok(account);
        }

        // A concurrent creator's insert makes ours wait for its commit, then do nothing;
        // the read that follows sees its account and grant.
        let op = "create the account";
        let mut tx = self.begin(D::BEGIN_WRITE, op).await?;
        let ts = now();
        let result = async {
            let insert = Query::new(
                "INSERT INTO profiles (id, email, credits_remaining, max_credits, created_at) \
                 VALUES ($1, $2, 0, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(user_id)
            .bind(email)
            .bind(initial_credits)
            .bind(ts);
            let created = On::<D>::Tx(&mut tx).execute(insert, op).await? == 1;
            if created && initial_credits > 0 {
                let grant = NewEntry {
                    user_id: user_id.to_owned(),
                    change: initial_credits,
                    amount_usd: None,
                    reason: "signup grant".into(),
                    idempotency_key: SIGNUP_KEY.into(),
                };
                apply_in::<D>(&mut tx, &grant, &ts).await?;
            }
            fetch_account(On::<D>::Tx(&mut tx), user_id)
                .await?
                .ok_or_else(|| unknown_account(user_id))
        }
        .await;
        finish_tx::<D, _>(tx, result, op).await
    }

    async fn account(&self, user_id: &str) -> Result<Account> {
        fetch_account(self.on(), user_id)
            .await?
            .ok_or_else(|| unknown_account(user_id))
    }

    async fn apply(&self, entry: NewEntry) -> Result<Applied> {
        let op = "apply the ledger entry";
        let mut tx = self.begin(D::BEGIN_WRITE, op).await?;
        let result = apply_in::<D>(&mut tx, &entry, &now()).await;
        finish_tx::<D, _>(tx, result, op).await
    }

    async fn claw_back(&self, entry: NewEntry) -> Result<Applied> {
        let op = "take credits back";
        let mut tx = self.begin(D::BEGIN_WRITE, op).await?;
        let result = claw_back_in::<D>(&mut tx, &entry, &now()).await;
        finish_tx::<D, _>(tx, result, op).await
    }

    async fn entries(
        &self,
        user_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<LedgerEntry>, u64)> {
        // One snapshot for the page and the total.
        let op = "read the ledger";
        let mut tx = self.begin(D::BEGIN_SNAPSHOT, op).await?;
        let result = async {
            let count =
                Query::new("SELECT COUNT(*) AS n FROM ledger WHERE user_id = $1").bind(user_id);
            let total = On::<D>::Tx(&mut tx)
                .optional(count, op)
                .await?
                .map_or(Ok(0), |row| row.int("n"))?;
            if total == 0 {
                let exists = Query::new("SELECT id FROM profiles WHERE id = $1").bind(user_id);
                if On::<D>::Tx(&mut tx)
                    .optional(exists, "read the account")
                    .await?
                    .is_none()
                {
                    return Err(unknown_account(user_id));
                }
            }
            let page = Query::new(format!(
                "SELECT {ENTRY_COLUMNS} FROM ledger WHERE user_id = $1 \
                 ORDER BY id DESC LIMIT $2 OFFSET $3"
            ))
            .bind(user_id)
            .bind(sat_i64(limit))
            .bind(sat_i64(offset));
            let entries = On::<D>::Tx(&mut tx)
                .all(page, op)
                .await?
                .iter()
                .map(entry_from_row)
                .collect::<Result<Vec<_>>>()?;
            Ok((entries, u64::try_from(total).unwrap_or(0)))
        }
        .await;
        finish_tx::<D, _>(tx, result, op).await
    }

    async fn update_plan(&self, user_id: &str, update: PlanUpdate) -> Result<Account> {
        let query = Query::new(format!(
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
        ))
        .bind(user_id)
        .bind(update.plan_type)
        .bind(update.max_credits)
        .bind(update.subscription_status)
        .bind(update.renewal_date)
        .bind(update.stripe_customer_id)
        .bind(update.stripe_subscription_id)
        .bind(update.stripe_price_id);
        let row = self
            .on()
            .optional(query, "update the plan")
            .await?
            .ok_or_else(|| unknown_account(user_id))?;
        account_from_row(&row)
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<Account>> {
        let email = email.trim();
        if email.is_empty() {
            return Ok(None);
        }
        // Case-insensitive (ASCII on SQLite), oldest account first if an address is
        // shared.
        let query = Query::new(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM profiles WHERE lower(email) = lower($1) \
             ORDER BY created_at, id LIMIT 1"
        ))
        .bind(email);
        self.on()
            .optional(query, "find the account")
            .await?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }

    async fn find_by_stripe_customer(&self, customer_id: &str) -> Result<Option<Account>> {
        if customer_id.is_empty() {
            return Ok(None);
        }
        let query = Query::new(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM profiles WHERE stripe_customer_id = $1 \
             ORDER BY created_at, id LIMIT 1"
        ))
        .bind(customer_id);
        self.on()
            .optional(query, "find the account")
            .await?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }
}
