//! What each Stripe event does to accounts. Credits only move through the ledger, with
//! keys a redelivered event reuses (`grant:<session id>`, `grant:<invoice event id>`,
//! `clawback:<charge id>:<amount refunded>`, `clawback:<dispute id>`, `dispute-won:<dispute
//! id>`), so nothing is granted or taken twice; the other effects set fields to values taken from the event
//! and are idempotent by nature.
//!
//! What a purchase grants comes from what Stripe charged, never from metadata: a paid
//! session's line items (fetched from Stripe: events do not carry them) must each name a
//! catalog price, at the catalog's amount and currency. Refunds and disputes take the
//! credits back in proportion to the money returned, through `CreditLedger::claw_back`:
//! the balance stops at zero and the rest becomes a debt the next credits pay first. A
//! dispute that closes `won` gives the same credits back once (a grant, which pays the
//! debt the dispute left first, so balance and debt end as they were); `lost` keeps them.
//!
//! Events are read as loose JSON: field locations moved between Stripe API versions
//! (e.g. an invoice's subscription metadata, a subscription's `current_period_end`),
//! and we look in both places rather than pin a version.
//!
//! Which user: checkout sessions carry `client_reference_id` (and `metadata.user_id`);
//! subscriptions carry `metadata.user_id`, set through `subscription_data` when the
//! session is created, and invoices copy it in their subscription details.

use chrono::{DateTime, Utc};
use outreach_core::ports::{NewEntry, PlanUpdate};
use outreach_core::Error as CoreError;
use serde_json::Value;

use super::error::{AppError, AppResult};
use super::plans::{Offer, OfferKind};
use super::state::AppState;

/// What handling an event did, for the response and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Understood but nothing to do (unknown type, not a renewal, unknown user…).
    Ignored(&'static str),
}

pub async fn handle(state: &AppState, event: &Value) -> AppResult<Outcome> {
    let id = event["id"].as_str().unwrap_or_default();
    let object = &event["data"]["object"];
    let result = match event["type"].as_str().unwrap_or_default() {
        // A delayed method (a bank debit) completes the session unpaid, then succeeds.
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            checkout_paid(state, object).await
        }
        "customer.subscription.updated" => Ok(subscription_updated(state, object).await?),
        "customer.subscription.deleted" => Ok(subscription_deleted(state, object).await?),
        "invoice.paid" => Ok(invoice_paid(state, id, object).await?),
        "charge.refunded" => charge_refunded(state, event, object).await,
        "charge.dispute.created" => dispute_created(state, object).await,
        "charge.dispute.closed" => dispute_closed(state, object).await,
        _ => return Ok(Outcome::Ignored("event type not handled")),
    };
    match result {
        // An account we do not know cannot be fixed by Stripe retrying: acknowledge.
        Err(AppError::NotFound) => {
            tracing::warn!(event = id, "webhook for an unknown account ignored");
            Ok(Outcome::Ignored("unknown account"))
        }
        other => other,
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64().and_then(|t| DateTime::from_timestamp(t, 0))
}

fn usd(cents: &Value) -> Option<f64> {
    cents.as_i64().map(|c| c as f64 / 100.0)
}

async fn grant(
    state: &AppState,
    user_id: &str,
    key_id: &str,
    credits: i64,
    amount_usd: Option<f64>,
    reason: String,
) -> Result<(), CoreError> {
    let applied = state
        .jobs
        .ledger()
        .apply(NewEntry {
            user_id: user_id.to_string(),
            change: credits,
            amount_usd,
            reason,
            idempotency_key: format!("grant:{key_id}"),
        })
        .await?;
    tracing::info!(
        user = user_id,
        key = key_id,
        credits,
        ?applied,
        "credits granted"
    );
    Ok(())
}

/// A Stripe object id, safe to put in an API path.
fn object_id(v: &Value) -> Option<String> {
    text(v)
        .filter(|id| id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// What one line item bought, checked against the catalog.
struct Bought<'a> {
    kind: OfferKind,
    offer: &'a Offer,
    quantity: i64,
}

/// Each line item's price must be a catalog price, charged at the catalog's amount and
/// currency (before tax, after any discount). `Err` says why not.
fn check_line_items<'a>(
    state: &'a AppState,
    items: &[Value],
) -> Result<Vec<Bought<'a>>, &'static str> {
    let catalog = &state.stripe.config().catalog;
    if items.is_empty() {
        return Err("the session has no line items");
    }
    items
        .iter()
        .map(|line| {
            let price_id = text(&line["price"]["id"]).ok_or("a line item has no price")?;
            let (kind, offer) = catalog
                .by_price(&price_id)
                .ok_or("a line item's price is not in the catalog")?;
            let quantity = line["quantity"].as_i64().unwrap_or(1);
            if !(1..=1_000).contains(&quantity) {
                return Err("a line item's quantity is out of range");
            }
            if let Some(currency) = &offer.currency {
                let charged = line["currency"].as_str().unwrap_or_default();
                if !charged.eq_ignore_ascii_case(currency) {
                    return Err("a line item was charged in another currency");
                }
            }
            if let Some(amount) = offer.amount {
                let unit = line["price"]["unit_amount"].as_i64();
                let paid = line["amount_total"]
                    .as_i64()
                    .zip(Some(line["amount_tax"].as_i64().unwrap_or(0)))
                    .map(|(total, tax)| total - tax);
                if unit != Some(amount) || paid.is_none_or(|p| p < amount * quantity) {
                    return Err("a line item was charged less than the catalog price");
                }
            }
            Ok(Bought {
                kind,
                offer,
                quantity,
            })
        })
        .collect()
}

async fn checkout_paid(state: &AppState, s: &Value) -> AppResult<Outcome> {
    let Some(user_id) = text(&s["client_reference_id"]).or_else(|| text(&s["metadata"]["user_id"]))
    else {
        return Ok(Outcome::Ignored("no user on the session"));
    };
    // Only a session Stripe reports as paid grants credits: a missing status is not
    // "paid", and delayed methods arrive paid later (`async_payment_succeeded`).
    if s["payment_status"].as_str() != Some("paid") {
        return Ok(Outcome::Ignored("not paid yet"));
    }
    let Some(session_id) = object_id(&s["id"]) else {
        return Ok(Outcome::Ignored("the session has no id"));
    };
    // Make sure the account exists before asking Stripe anything.
    state.jobs.ledger().account(&user_id).await?;
    let listed;
    let items = match s["line_items"]["data"].as_array() {
        Some(items) if s["line_items"]["has_more"] != Value::Bool(true) => items,
        _ => {
            listed = state
                .stripe
                .get_json(&format!(
                    "/v1/checkout/sessions/{session_id}/line_items?limit=100"
                ))
                .await?;
            listed["data"].as_array().map_or(&[][..], Vec::as_slice)
        }
    };
    let bought = match check_line_items(state, items) {
        Ok(bought) => bought,
        Err(why) => {
            tracing::warn!(session = %session_id, user = %user_id, why, "paid session grants nothing");
            return Ok(Outcome::Ignored(why));
        }
    };
    let credits = bought
        .iter()
        .try_fold(0i64, |sum, b| {
            sum.checked_add(b.offer.credits.checked_mul(b.quantity)?)
        })
        .ok_or(AppError::bad_request(
            "invalid_event",
            "credits out of range",
        ))?;
    let names: Vec<&str> = bought.iter().map(|b| b.offer.name.as_str()).collect();
    let claimed = [text(&s["metadata"]["plan"]), text(&s["metadata"]["addon"])];
    if claimed
        .iter()
        .flatten()
        .any(|n| !names.contains(&n.as_str()))
    {
        tracing::warn!(session = %session_id, ?claimed, ?names, "session metadata names another offer than its prices; granting what was paid");
    }
    grant(
        state,
        &user_id,
        &session_id,
        credits,
        usd(&s["amount_total"]),
        format!("purchase: {}", names.join(", ")),
    )
    .await?;
    let mut update = PlanUpdate {
        stripe_customer_id: text(&s["customer"]),
        ..PlanUpdate::default()
    };
    if let Some(plan) = bought.iter().find(|b| b.kind == OfferKind::Plan) {
        update.plan_type = Some(plan.offer.name.clone());
        update.max_credits = Some(plan.offer.credits);
        update.subscription_status = Some("active".into());
        update.stripe_subscription_id = text(&s["subscription"]);
        update.stripe_price_id = plan.offer.price_id.clone();
    }
    state.jobs.ledger().update_plan(&user_id, update).await?;
    Ok(Outcome::Applied)
}

/// `charge.refunded` comes once per refund with the charge's running total; the part
/// refunded by this one is the total minus the previous total in `previous_attributes`.
async fn charge_refunded(state: &AppState, event: &Value, charge: &Value) -> AppResult<Outcome> {
    let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
    let before = event["data"]["previous_attributes"]["amount_refunded"]
        .as_i64()
        .unwrap_or(0);
    let Some(charge_id) = object_id(&charge["id"]) else {
        return Ok(Outcome::Ignored("the charge has no id"));
    };
    if refunded <= before {
        return Ok(Outcome::Ignored("nothing newly refunded"));
    }
    take_back(
        state,
        charge,
        refunded - before,
        format!("clawback:{charge_id}:{refunded}"),
        format!("refund of {charge_id}"),
    )
    .await
}

/// A dispute holds the money from the moment it opens: take the credits back then.
/// The dispute names its charge; the charge (fetched) names the user.
async fn dispute_created(state: &AppState, dispute: &Value) -> AppResult<Outcome> {
    let (dispute_id, charge, amount) = match disputed(state, dispute).await? {
        Ok(d) => d,
        Err(why) => return Ok(Outcome::Ignored(why)),
    };
    take_back(
        state,
        &charge,
        amount,
        format!("clawback:{dispute_id}"),
        format!("dispute {dispute_id}"),
    )
    .await
}

/// `charge.dispute.closed`: `won` gives back, once, the credits `charge.dispute.created`
/// took (the same amount, recomputed the same way), and so does `warning_closed` (an
/// inquiry closed without a chargeback: the money never left); `lost` keeps what was
/// taken. Nothing is given back for a dispute whose credits were never taken (no
/// `clawback:<id>` entry): a closed dispute cannot mint credits.
async fn dispute_closed(state: &AppState, dispute: &Value) -> AppResult<Outcome> {
    if !matches!(dispute["status"].as_str(), Some("won" | "warning_closed")) {
        return Ok(Outcome::Ignored(
            "the dispute was lost: the credits stay taken",
        ));
    }
    let (dispute_id, charge, amount) = match disputed(state, dispute).await? {
        Ok(d) => d,
        Err(why) => return Ok(Outcome::Ignored(why)),
    };
    let (account, credits) = match bought(state, &charge, amount).await? {
        Ok(b) => b,
        Err(why) => return Ok(Outcome::Ignored(why)),
    };
    let ledger = state.jobs.ledger();
    let taken = format!("clawback:{dispute_id}");
    if !has_entry(state, &account.user_id, &taken).await? {
        tracing::warn!(dispute = %dispute_id, user = %account.user_id, "won dispute: no credits were taken for it");
        return Ok(Outcome::Ignored("no credits were taken for this dispute"));
    }
    // A grant pays the account's debt first: the part of the dispute the balance could
    // not cover (still owed) is cancelled, the rest returns to the balance.
    let applied = ledger
        .apply(NewEntry {
            user_id: account.user_id.clone(),
            change: credits,
            amount_usd: Some(amount as f64 / 100.0),
            reason: format!("dispute {dispute_id} won"),
            idempotency_key: format!("dispute-won:{dispute_id}"),
        })
        .await?;
    tracing::info!(user = %account.user_id, dispute = %dispute_id, credits, ?applied, "won dispute: credits given back");
    Ok(Outcome::Applied)
}

/// Whether the user's ledger holds an entry with this idempotency key (newest first,
/// in pages: disputes are rare, ledgers short next to that).
async fn has_entry(state: &AppState, user_id: &str, key: &str) -> AppResult<bool> {
    const PAGE: u64 = 500;
    let ledger = state.jobs.ledger();
    let mut offset = 0;
    loop {
        let (entries, total) = ledger.entries(user_id, offset, PAGE).await?;
        if entries.iter().any(|e| e.idempotency_key == key) {
            return Ok(true);
        }
        offset += entries.len() as u64;
        if entries.is_empty() || offset >= total {
            return Ok(false);
        }
    }
}

/// A dispute's id, its charge (embedded, else fetched: the charge names the user) and
/// the amount disputed; `Err` says why there is nothing to do.
async fn disputed(
    state: &AppState,
    dispute: &Value,
) -> AppResult<Result<(String, Value, i64), &'static str>> {
    let Some(dispute_id) = object_id(&dispute["id"]) else {
        return Ok(Err("the dispute has no id"));
    };
    let amount = dispute["amount"].as_i64().unwrap_or(0);
    if amount <= 0 {
        return Ok(Err("nothing disputed"));
    }
    let charge = if dispute["charge"].is_object() {
        dispute["charge"].clone()
    } else {
        let Some(charge_id) = object_id(&dispute["charge"]) else {
            return Ok(Err("the dispute names no charge"));
        };
        state
            .stripe
            .get_json(&format!("/v1/charges/{charge_id}"))
            .await?
    };
    Ok(Ok((dispute_id, charge, amount)))
}

/// Takes back the credits `cents` of `charge` bought (see [`bought`]).
async fn take_back(
    state: &AppState,
    charge: &Value,
    cents: i64,
    key: String,
    reason: String,
) -> AppResult<Outcome> {
    let (account, take) = match bought(state, charge, cents).await? {
        Ok(b) => b,
        Err(why) => {
            tracing::warn!(%key, why, "refunded or disputed charge: nothing taken back");
            return Ok(Outcome::Ignored(why));
        }
    };
    let applied = state
        .jobs
        .ledger()
        .claw_back(NewEntry {
            user_id: account.user_id.clone(),
            change: -take,
            amount_usd: Some(-(cents as f64) / 100.0),
            reason,
            idempotency_key: key.clone(),
        })
        .await?;
    tracing::info!(user = %account.user_id, %key, credits = take, ?applied, "credits taken back");
    Ok(Outcome::Applied)
}

/// The account that paid `charge` and the credits `cents` of it bought: the charge's own
/// metadata names the user and credits (add-ons); a subscription charge names a
/// customer, whose plan says the credits. In proportion to the money, rounded up, never
/// more than was bought. `Err` says why it cannot be told.
async fn bought(
    state: &AppState,
    charge: &Value,
    cents: i64,
) -> AppResult<Result<(outreach_core::ports::Account, i64), &'static str>> {
    let ledger = state.jobs.ledger();
    let account = match text(&charge["metadata"]["user_id"]) {
        Some(user) => Some(ledger.account(&user).await?),
        None => match text(&charge["customer"]) {
            Some(customer) => ledger.find_by_stripe_customer(&customer).await?,
            None => None,
        },
    };
    let Some(account) = account else {
        return Ok(Err("unknown account"));
    };
    let catalog = &state.stripe.config().catalog;
    let credits = charge["metadata"]["credits"]
        .as_str()
        .and_then(|c| c.parse::<i64>().ok())
        .or_else(|| {
            account
                .stripe_price_id
                .as_deref()
                .and_then(|p| catalog.plan_by_price(p))
                .map(|p| p.credits)
        });
    let amount = charge["amount"].as_i64().unwrap_or(0);
    let Some(credits) = credits.filter(|c| *c > 0 && amount > 0) else {
        return Ok(Err("cannot tell what the charge bought"));
    };
    let take = (i128::from(credits) * i128::from(cents.min(amount)) + i128::from(amount) - 1)
        / i128::from(amount);
    let take = i64::try_from(take).unwrap_or(credits).min(credits);
    Ok(Ok((account, take)))
}

/// The plan of a subscription or invoice: by its price id, else by the metadata.
fn plan_of<'a>(state: &'a AppState, price_id: Option<&str>, metadata: &Value) -> Option<&'a Offer> {
    let catalog = &state.stripe.config().catalog;
    price_id
        .and_then(|p| catalog.plan_by_price(p))
        .or_else(|| text(&metadata["plan"]).and_then(|p| catalog.get(OfferKind::Plan, &p)))
}

/// Stripe's subscription statuses in the seed's three words.
fn seed_status(stripe: &str) -> &'static str {
    match stripe {
        "active" | "trialing" => "active",
        "past_due" | "unpaid" | "incomplete" | "paused" => "paused",
        _ => "inactive",
    }
}

async fn subscription_updated(state: &AppState, sub: &Value) -> Result<Outcome, CoreError> {
    let Some(user_id) = text(&sub["metadata"]["user_id"]) else {
        return Ok(Outcome::Ignored("no user_id in the subscription metadata"));
    };
    let item = &sub["items"]["data"][0];
    let price_id = text(&item["price"]["id"]);
    let plan = plan_of(state, price_id.as_deref(), &sub["metadata"]);
    let renewal =
        timestamp(&sub["current_period_end"]).or_else(|| timestamp(&item["current_period_end"]));
    let update = PlanUpdate {
        plan_type: plan.map(|p| p.name.clone()),
        max_credits: plan.map(|p| p.credits),
        subscription_status: sub["status"].as_str().map(|s| seed_status(s).to_string()),
        renewal_date: renewal,
        stripe_customer_id: text(&sub["customer"]),
        stripe_subscription_id: text(&sub["id"]),
        stripe_price_id: price_id,
    };
    state.jobs.ledger().update_plan(&user_id, update).await?;
    Ok(Outcome::Applied)
}

async fn subscription_deleted(state: &AppState, sub: &Value) -> Result<Outcome, CoreError> {
    let Some(user_id) = text(&sub["metadata"]["user_id"]) else {
        return Ok(Outcome::Ignored("no user_id in the subscription metadata"));
    };
    let update = PlanUpdate {
        subscription_status: Some("inactive".into()),
        ..PlanUpdate::default()
    };
    state.jobs.ledger().update_plan(&user_id, update).await?;
    Ok(Outcome::Applied)
}

/// Renewals only: the first invoice of a subscription is paid through the checkout
/// session, whose event already granted the period's credits.
async fn invoice_paid(state: &AppState, event_id: &str, inv: &Value) -> Result<Outcome, CoreError> {
    if inv["billing_reason"].as_str() != Some("subscription_cycle") {
        return Ok(Outcome::Ignored("not a renewal"));
    }
    let line = &inv["lines"]["data"][0];
    let metadata = [
        &inv["subscription_details"]["metadata"],
        &inv["parent"]["subscription_details"]["metadata"],
        &line["metadata"],
    ]
    .into_iter()
    .find(|m| m["user_id"].is_string())
    .cloned()
    .unwrap_or(Value::Null);
    let Some(user_id) = text(&metadata["user_id"]) else {
        return Ok(Outcome::Ignored("no user_id in the subscription metadata"));
    };
    let price_id =
        text(&line["price"]["id"]).or_else(|| text(&line["pricing"]["price_details"]["price"]));
    let Some(plan) = plan_of(state, price_id.as_deref(), &metadata) else {
        tracing::warn!(
            event = event_id,
            ?price_id,
            "renewal of a plan not in the catalog"
        );
        return Ok(Outcome::Ignored("unknown plan"));
    };
    grant(
        state,
        &user_id,
        event_id,
        plan.credits,
        usd(&inv["amount_paid"]),
        format!("renewal: {}", plan.name),
    )
    .await?;
    let update = PlanUpdate {
        subscription_status: Some("active".into()),
        renewal_date: timestamp(&line["period"]["end"]),
        ..PlanUpdate::default()
    };
    state.jobs.ledger().update_plan(&user_id, update).await?;
    Ok(Outcome::Applied)
}
