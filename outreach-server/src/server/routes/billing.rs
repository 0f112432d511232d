//! Billing: `GET /plans` (what can be bought), `POST /create_checkout_session` (a
//! Stripe Checkout URL for a plan or an add-on) and `POST /stripe/webhook` (signed
//! events; see `server::webhook` for their effects).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::{AppBytes, AppJson};
use crate::server::openapi::{ApiRouter, Authed, ErrorBody, JsonBody, Timed};
use crate::server::plans::{Offer, OfferKind};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed_api;
use crate::server::webhook::{self, Outcome};

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(timed_api(routes!(plans), config))
        .routes(timed_api(routes!(checkout), config))
        .routes(timed_api(routes!(stripe_webhook), config))
}

/// A plan or an add-on for sale.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferView {
    pub name: String,
    pub credits: i64,
    /// What the offer costs, as shown to people (`$29/month`).
    pub price: String,
    /// Has a Stripe price: can be bought on this server.
    pub available: bool,
}

impl OfferView {
    pub fn list(offers: &[Offer]) -> Vec<OfferView> {
        offers
            .iter()
            .map(|o| OfferView {
                name: o.name.clone(),
                credits: o.credits,
                price: o.price.clone(),
                available: o.price_id.is_some(),
            })
            .collect()
    }
}

/// Plans and add-ons for sale.
#[derive(Debug, Serialize, ToSchema)]
pub struct Catalog {
    plans: Vec<OfferView>,
    addons: Vec<OfferView>,
}

/// Plans and add-ons for sale.
#[utoipa::path(
    get,
    path = "/plans",
    operation_id = "listPlans",
    responses((status = 200, description = "Catalog", body = Catalog), Timed)
)]
async fn plans(State(state): State<AppState>) -> Json<Catalog> {
    let catalog = &state.stripe.config().catalog;
    Json(Catalog {
        plans: OfferView::list(&catalog.plans),
        addons: OfferView::list(&catalog.addons),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutRequest {
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    addon: Option<String>,
}

/// `POST /create_checkout_session`: exactly one of `plan` or `addon` (the handler reads
/// a [`CheckoutRequest`] for clearer errors; this is its documented shape).
#[derive(ToSchema)]
#[allow(dead_code)]
enum Checkout {
    Plan(PlanCheckout),
    Addon(AddonCheckout),
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PlanCheckout {
    plan: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AddonCheckout {
    addon: String,
}

/// Where to send the browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutUrl {
    url: String,
}

/// A Stripe Checkout URL for a plan or an add-on.
#[utoipa::path(
    post,
    path = "/create_checkout_session",
    operation_id = "createCheckoutSession",
    request_body(content = inline(Checkout)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Redirect the browser here", body = CheckoutUrl),
        JsonBody, Authed, Timed,
        (status = 404, description = "No account", body = ErrorBody),
        (status = 502, description = "Stripe failed", body = ErrorBody),
        (status = 503, description = "Billing not configured", body = ErrorBody),
    )
)]
async fn checkout(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<CheckoutRequest>,
) -> AppResult<Json<CheckoutUrl>> {
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
    Ok(Json(CheckoutUrl { url }))
}

/// What became of a webhook event.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    received: bool,
    applied: bool,
    /// Why an event was not applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Stripe events (signed with STRIPE_WEBHOOK_SECRET).
#[utoipa::path(
    post,
    path = "/stripe/webhook",
    operation_id = "stripeWebhook",
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 200, description = "Received", body = WebhookReceipt),
        JsonBody, Timed,
        (status = 404, description = "The event names an account that does not exist", body = ErrorBody),
        (status = 502, description = "Stripe failed while fetching a session's line items or a disputed charge", body = ErrorBody),
        (status = 503, description = "Billing not configured (no STRIPE_WEBHOOK_SECRET)", body = ErrorBody),
    )
)]
async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppBytes(body): AppBytes,
) -> AppResult<Json<WebhookReceipt>> {
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
            WebhookReceipt {
                received: true,
                applied: true,
                reason: None,
            }
        }
        Outcome::Ignored(why) => {
            tracing::info!(event = id, kind, why, "webhook ignored");
            WebhookReceipt {
                received: true,
                applied: false,
                reason: Some(why.to_string()),
            }
        }
    }))
}
