//! What each Stripe event does to accounts. Credits only move through the ledger, with
//! the key `grant:<event id>`, so a redelivered event grants nothing twice; the other
//! effects set fields to values taken from the event and are idempotent by nature.
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

use super::error::AppResult;
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
        "checkout.session.completed" => checkout_completed(state, id, object).await,
        "customer.subscription.updated" => subscription_updated(state, object).await,
        "customer.subscription.deleted" => subscription_deleted(state, object).await,
        "invoice.paid" => invoice_paid(state, id, object).await,
        _ => return Ok(Outcome::Ignored("event type not handled")),
    };
    match result {
        // An account we do not know cannot be fixed by Stripe retrying: acknowledge.
        Err(CoreError::NotFound(what)) => {
            tracing::warn!(event = id, %what, "webhook for an unknown account ignored");
            Ok(Outcome::Ignored("unknown account"))
        }
        Err(e) => Err(e.into()),
        Ok(outcome) => Ok(outcome),
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
    event_id: &str,
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
            idempotency_key: format!("grant:{event_id}"),
        })
        .await?;
    tracing::info!(
        user = user_id,
        event = event_id,
        credits,
        ?applied,
        "credits granted"
    );
    Ok(())
}

async fn checkout_completed(
    state: &AppState,
    event_id: &str,
    s: &Value,
) -> Result<Outcome, CoreError> {
    let Some(user_id) = text(&s["client_reference_id"]).or_else(|| text(&s["metadata"]["user_id"]))
    else {
        return Ok(Outcome::Ignored("no user on the session"));
    };
    // Only a session Stripe reports as paid grants credits: a missing status is not
    // "paid" (issue 12, item 9), and delayed methods arrive paid later.
    if s["payment_status"].as_str() != Some("paid") {
        return Ok(Outcome::Ignored("not paid yet"));
    }
    let catalog = &state.stripe.config().catalog;
    let (kind, name) = match (text(&s["metadata"]["plan"]), text(&s["metadata"]["addon"])) {
        (Some(plan), _) => (OfferKind::Plan, plan),
        (None, Some(addon)) => (OfferKind::Addon, addon),
        (None, None) => return Ok(Outcome::Ignored("no plan or add-on on the session")),
    };
    let Some(offer) = catalog.get(kind, &name) else {
        tracing::warn!(event = event_id, %name, "checkout for an offer not in the catalog");
        return Ok(Outcome::Ignored("unknown plan or add-on"));
    };
    grant(
        state,
        &user_id,
        event_id,
        offer.credits,
        usd(&s["amount_total"]),
        format!("purchase: {}", offer.name),
    )
    .await?;
    let mut update = PlanUpdate {
        stripe_customer_id: text(&s["customer"]),
        ..PlanUpdate::default()
    };
    if kind == OfferKind::Plan {
        update.plan_type = Some(offer.name.clone());
        update.max_credits = Some(offer.credits);
        update.subscription_status = Some("active".into());
        update.stripe_subscription_id = text(&s["subscription"]);
        update.stripe_price_id = offer.price_id.clone();
    }
    state.jobs.ledger().update_plan(&user_id, update).await?;
    Ok(Outcome::Applied)
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
