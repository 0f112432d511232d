//! The `CreditLedger` port: accounts (profiles) with a credit balance, and an
//! append-only ledger whose entries are the only way the balance changes.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A user's profile, as the seed's `profiles` table has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub user_id: String,
    pub email: String,
    pub credits_remaining: i64,
    pub max_credits: i64,
    pub plan_type: String,
    pub subscription_status: String,
    pub renewal_date: Option<DateTime<Utc>>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub stripe_price_id: Option<String>,
    /// Credits taken back (a refund, a dispute) that the balance could not cover; the
    /// next credits the account receives pay this first.
    #[serde(default)]
    pub credit_debt: i64,
    pub created_at: DateTime<Utc>,
}

/// A ledger line to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEntry {
    pub user_id: String,
    /// Credit delta: negative for a reservation, positive for refunds and purchases.
    pub change: i64,
    /// Money involved, in USD, when a purchase (informational).
    pub amount_usd: Option<f64>,
    /// For people: "job deduction: <job>", "job refund: <job>", "purchase: <plan>".
    pub reason: String,
    /// Unique per user and effect: `reserve:<job>#<attempt>`, `refund:<job>#<attempt>`,
    /// `refund-rows:<job>#<attempt>`, `grant:<event>`. Enforced by the database.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: i64,
    pub user_id: String,
    pub change: i64,
    pub amount_usd: Option<f64>,
    pub reason: String,
    pub idempotency_key: String,
    /// The balance right after this entry.
    pub balance_after: i64,
    pub ts: DateTime<Utc>,
}

/// What `apply` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    /// The entry was written; the balance is now this.
    Applied { balance: i64 },
    /// An entry with this idempotency key already exists; nothing changed.
    AlreadyApplied { balance: i64 },
}

impl Applied {
    pub fn balance(self) -> i64 {
        match self {
            Applied::Applied { balance } | Applied::AlreadyApplied { balance } => balance,
        }
    }
}

/// Credits.
///
/// # Contract
/// - `apply` is one transaction: it writes the ledger entry and changes the balance
///   together, or neither. A negative change that would take the balance below zero
///   fails with [`crate::Error::InsufficientCredits`] `{ needed, available }` and writes
///   nothing. No read-then-write race: concurrent applies serialise in the database.
/// - A second `apply` with an idempotency key already used by that user changes nothing
///   and returns `AlreadyApplied` (whatever its amount), even when run concurrently.
/// - For every user, `credits_remaining == sum(change)` over their entries, and it is
///   never negative.
/// - `ensure_account` creates the account on first sight with `initial_credits` (as a
///   `grant:signup` ledger entry, so the invariant holds from the start); later calls
///   return the existing account unchanged.
/// - `apply`, `account`, `entries` and `update_plan` on an unknown user are
///   [`crate::Error::NotFound`].
/// - Entry ids increase in the order entries take effect: listed oldest first, each
///   entry's `balance_after` is the previous one's plus its `change`.
/// - `claw_back` takes credits back without ever going below zero: it writes one entry
///   taking `min(balance, -change)` (possibly 0) and adds the rest to the account's
///   `credit_debt`. Idempotent by key like `apply`.
/// - While `credit_debt > 0`, an `apply` with a positive change pays the debt first, in
///   the same transaction: after its own entry, a second one with the key
///   `debt:<key>` takes `min(debt, balance)` and the debt shrinks by as much.
#[async_trait]
pub trait CreditLedger: Send + Sync + Debug + 'static {
    async fn ensure_account(
        &self,
        user_id: &str,
        email: &str,
        initial_credits: i64,
    ) -> Result<Account>;
    async fn account(&self, user_id: &str) -> Result<Account>;
    async fn apply(&self, entry: NewEntry) -> Result<Applied>;
    /// Takes `-entry.change` credits back (a refund or dispute of a purchase): what the
    /// balance cannot cover becomes debt. `entry.change` must be negative.
    async fn claw_back(&self, entry: NewEntry) -> Result<Applied>;
    /// Newest first, with the total count.
    async fn entries(
        &self,
        user_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<LedgerEntry>, u64)>;
    /// Plan and subscription fields (Stripe webhooks). `None` leaves a field unchanged.
    async fn update_plan(&self, user_id: &str, update: PlanUpdate) -> Result<Account>;
    async fn find_by_email(&self, email: &str) -> Result<Option<Account>>;
    /// The account whose Stripe customer this is (refunds and disputes name customers).
    async fn find_by_stripe_customer(&self, customer_id: &str) -> Result<Option<Account>>;
}

/// Changes to an account's plan and subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanUpdate {
    pub plan_type: Option<String>,
    pub max_credits: Option<i64>,
    pub subscription_status: Option<String>,
    pub renewal_date: Option<DateTime<Utc>>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub stripe_price_id: Option<String>,
}
