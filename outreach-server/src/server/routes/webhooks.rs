//! The account's outgoing webhook: `PUT /webhook` (`{"url": "https://…"}`) saves it
//! and answers the signing secret **once** (`whsec_…`, sealed at rest, never shown
//! again); `GET /webhook` shows the URL; `DELETE /webhook` removes it. Deliveries
//! (`job.finished`, `push.finished`) carry `Outreach-Signature: t=<unix>,v1=<hex>` with
//! `v1 = HMAC-SHA256(secret, "<t>.<body>")`, Stripe's scheme.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use outreach_core::campaign::settings::WebhookSetting;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::destinations::campaigns;
use crate::server::auth::AuthUser;
use crate::server::campaigns::webhook_context;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::AppJson;
use crate::server::openapi::{ApiRouter, Authed, ErrorBody, JsonBody, NotFound, Timed};
use crate::server::secrets::encode_hex;
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed_api;

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new().routes(timed_api(routes!(show, save, remove), config))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SaveRequest {
    url: String,
}

/// Set the webhook URL; answers the signing secret once.
#[utoipa::path(put, path = "/webhook", operation_id = "saveWebhook", request_body = SaveRequest, security(("bearer" = [])),
    responses((status = 200, description = "Saved: `url`, and `secret` (shown only now)", body = Object), JsonBody, Authed, Timed, (status = 503, description = "OUTREACH_SECRETS_KEY is not set on this server", body = ErrorBody)))]
async fn save(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<SaveRequest>,
) -> AppResult<Json<Value>> {
    let campaigns = campaigns(&state)?;
    let url = req.url.trim();
    let ok = url.len() <= 2048
        && (url.starts_with("https://") || url.starts_with("http://"))
        && reqwest::Url::parse(url).is_ok();
    if !ok {
        return Err(AppError::bad_request(
            "invalid_request",
            "url must be an http(s) URL",
        ));
    }
    let Some(secrets) = &campaigns.secrets else {
        return Err(AppError::Unavailable {
            code: "secrets_key_missing",
            message: "set OUTREACH_SECRETS_KEY on the server to sign webhooks".into(),
        });
    };
    let secret = format!("whsec_{}", encode_hex(&rand::random::<[u8; 24]>()));
    let setting = WebhookSetting {
        url: url.to_string(),
        sealed_secret: secrets.seal(&webhook_context(&user.user_id), &secret),
        updated_at: Utc::now(),
    };
    campaigns
        .settings
        .put_webhook(&user.user_id, &setting)
        .await?;
    Ok(Json(
        json!({"url": setting.url, "secret": secret, "updated_at": setting.updated_at}),
    ))
}

/// The account's outgoing webhook URL.
#[utoipa::path(get, path = "/webhook", operation_id = "getWebhook", security(("bearer" = [])),
    responses((status = 200, description = "`url`, `updated_at`", body = Object), Authed, NotFound, Timed, (status = 503, description = "Campaign settings are not available on this server", body = ErrorBody)))]
async fn show(State(state): State<AppState>, user: AuthUser) -> AppResult<Json<Value>> {
    let hook = campaigns(&state)?
        .settings
        .webhook(&user.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(
        json!({"url": hook.url, "updated_at": hook.updated_at}),
    ))
}

/// Remove the webhook.
#[utoipa::path(delete, path = "/webhook", operation_id = "deleteWebhook", security(("bearer" = [])),
    responses((status = 204, description = "Removed"), Authed, NotFound, Timed, (status = 503, description = "Campaign settings are not available on this server", body = ErrorBody)))]
async fn remove(State(state): State<AppState>, user: AuthUser) -> AppResult<StatusCode> {
    if campaigns(&state)?
        .settings
        .delete_webhook(&user.user_id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound)
    }
}
