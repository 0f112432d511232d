//! Billing: `GET /plans` (what can be bought), `POST /create_checkout_session` (a
//! Stripe Checkout URL for a plan or an add-on) and `POST /stripe/webhook` (signed
//! events; see `server::webhook` for their effects).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::{AppBytes, AppJson};
use crate::server::plans::{Offer, OfferKind};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed;
use crate::server::webhook::{self, Outcome};

pub fn router(config: &ServerConfig) -> Router<AppState> {
    Router::new()
        .route("/plans", timed(get(plans), config))
        .route("/create_checkout_session", timed(post(checkout), config))
        .route("/stripe/webhook", timed(post(stripe_webhook), config))
}

async fn plans(State(state): State<AppState>) -> Json<Value> {
    let catalog = &state.stripe.config().catalog;
    let show = |offers: &[Offer]| -> Vec<Value> {
        offers
            .iter()
            .map(|o| json!({ "name": o.name, "credits": o.credits, "price": o.price, "available": o.price_id.is_some() }))
            .collect()
    };
    Json(json!({ "plans": show(&catalog.plans), "addons": show(&catalog.addons) }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutRequest {
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    addon: Option<String>,
}

async fn checkout(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<CheckoutRequest>,
) -> AppResult<Json<Value>> {
    let (kind, name) = match (req.plan, req.addon) {
        (Some(plan), None) => (OfferKind::Plan, plan),
        (None, Some(addon)) => (OfferKind::Addon, addon),
        _ => {
            return Err(AppError::bad_request(
                "invalid_request",
                "send exactly one of `plan` or `addon`",
            ))
        }
    };
    let config = state.stripe.config();
    let offer = config.catalog.get(kind, &name).ok_or_else(|| {
        AppError::bad_request(
            "unknown_offer",
            format!("no {} named `{name}`", kind.as_str()),
        )
    })?;
    let price_id = offer.price_id.as_deref().ok_or(AppError::Unavailable {
        code: "billing_not_configured",
        message: format!("`{name}` has no Stripe price configured"),
    })?;
    let account = state.jobs.ledger().account(&user.user_id).await?;
    let mut form: Vec<(String, String)> = vec![
        (
            "mode".into(),
            if kind == OfferKind::Plan {
                "subscription"
            } else {
                "payment"
            }
            .into(),
        ),
        ("line_items[0][price]".into(), price_id.into()),
        ("line_items[0][quantity]".into(), "1".into()),
        ("client_reference_id".into(), user.user_id.clone()),
        (
            "success_url".into(),
            format!(
                "{}/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
                config.app_base_url
            ),
        ),
        (
            "cancel_url".into(),
            format!("{}/billing?checkout=cancelled", config.app_base_url),
        ),
        ("metadata[user_id]".into(), user.user_id.clone()),
        (format!("metadata[{}]", kind.as_str()), offer.name.clone()),
        ("metadata[credits]".into(), offer.credits.to_string()),
    ];
    match &account.stripe_customer_id {
        Some(customer) => form.push(("customer".into(), customer.clone())),
        None if !user.email.is_empty() => form.push(("customer_email".into(), user.email.clone())),
        None => {}
    }
    if kind == OfferKind::Addon {
        // Copied onto the charge: a refund or dispute of it finds the user and the
        // credits it bought.
        form.push((
            "payment_intent_data[metadata][user_id]".into(),
            user.user_id.clone(),
        ));
        form.push((
            "payment_intent_data[metadata][credits]".into(),
            offer.credits.to_string(),
        ));
    }
    if kind == OfferKind::Plan {
        // Subscription events carry the subscription's metadata: this is how renewals
        // and plan changes find the user.
        form.push((
            "subscription_data[metadata][user_id]".into(),
            user.user_id.clone(),
        ));
        form.push((
            "subscription_data[metadata][plan]".into(),
            offer.name.clone(),
        ));
    }
    let url = state.stripe.create_checkout_session(&form).await?;
    tracing::info!(user = %user.user_id, offer = %offer.name, "checkout session created");
    Ok(Json(json!({ "url": url })))
}

async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppBytes(body): AppBytes,
) -> AppResult<Json<Value>> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    state
        .stripe
        .verify_webhook(signature, &body, chrono::Utc::now().timestamp())?;
    let event: Value = serde_json::from_slice(&body).map_err(|e| {
        AppError::bad_request("malformed_json", format!("the event is not JSON: {e}"))
    })?;
    let outcome = webhook::handle(&state, &event).await?;
    let id = event["id"].as_str().unwrap_or_default();
    let kind = event["type"].as_str().unwrap_or_default();
    Ok(Json(match outcome {
        Outcome::Applied => {
            tracing::info!(event = id, kind, "webhook applied");
            json!({ "received": true, "applied": true })
        }
        Outcome::Ignored(why) => {
            tracing::info!(event = id, kind, why, "webhook ignored");
            json!({ "received": true, "applied": false, "reason": why })
        }
    }))
}
