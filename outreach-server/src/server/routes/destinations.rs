//! An account's push destinations: `GET /destinations`, `PUT /destinations/{to}`
//! (`{api_key, campaign}`), `DELETE /destinations/{to}`. The key is sealed with the
//! server key before it is stored and is never returned or logged: answers show its
//! last four characters only.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use outreach_core::campaign::push::DestinationKind;
use outreach_core::campaign::settings::SavedDestination;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::server::auth::AuthUser;
use crate::server::campaigns::{destination_context, CampaignState};
use crate::server::error::{AppError, AppResult};
use crate::server::extract::{AppJson, AppPath};
use crate::server::openapi::{ApiRouter, Authed, BadInput, ErrorBody, JsonBody, NotFound, Timed};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed_api;

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(timed_api(routes!(list), config))
        .routes(timed_api(routes!(save, remove), config))
}

/// The campaign settings, or 503 when this server has none.
pub fn campaigns(state: &AppState) -> AppResult<Arc<CampaignState>> {
    state
        .campaigns
        .clone()
        .ok_or_else(|| AppError::Unavailable {
            code: "campaigns_unavailable",
            message: "campaign settings are not available on this server".into(),
        })
}

pub fn kind(to: &str) -> AppResult<DestinationKind> {
    to.parse().map_err(|e: outreach_core::Error| {
        AppError::bad_request("unknown_destination", e.to_string())
    })
}

fn view(d: &SavedDestination) -> Value {
    json!({"to": d.kind, "campaign": d.campaign, "key_hint": d.key_hint, "updated_at": d.updated_at})
}

/// The account's push destinations.
#[utoipa::path(get, path = "/destinations", operation_id = "listDestinations", security(("bearer" = [])),
    responses((status = 200, description = "The account's destinations (`to`, `campaign`, `key_hint`; never the key)", body = Object), Authed, Timed, (status = 503, description = "Campaign settings are not available on this server", body = ErrorBody)))]
async fn list(State(state): State<AppState>, user: AuthUser) -> AppResult<Json<Value>> {
    let campaigns = campaigns(&state)?;
    let saved = campaigns.settings.destinations(&user.user_id).await?;
    Ok(Json(
        json!({"destinations": saved.iter().map(view).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SaveRequest {
    api_key: String,
    #[serde(default)]
    campaign: String,
}

/// Save a destination's API key (sealed at rest) and default campaign.
#[utoipa::path(put, path = "/destinations/{to}", operation_id = "saveDestination",
    params(("to" = String, Path, description = "instantly, smartlead, lemlist or hubspot")),
    request_body = SaveRequest, security(("bearer" = [])),
    responses((status = 200, description = "Saved (the key is not returned)", body = Object), JsonBody, Authed, Timed, (status = 503, description = "OUTREACH_SECRETS_KEY is not set on this server", body = ErrorBody)))]
async fn save(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(to): AppPath<String>,
    AppJson(req): AppJson<SaveRequest>,
) -> AppResult<Json<Value>> {
    let campaigns = campaigns(&state)?;
    let kind = kind(&to)?;
    let Some(secrets) = &campaigns.secrets else {
        return Err(AppError::Unavailable {
            code: "secrets_key_missing",
            message: "set OUTREACH_SECRETS_KEY on the server to store destination keys".into(),
        });
    };
    let key = req.api_key.trim();
    if key.is_empty() || key.len() > 4096 {
        return Err(AppError::bad_request(
            "invalid_request",
            "api_key is required",
        ));
    }
    if req.campaign.trim().is_empty() && kind != DestinationKind::Hubspot {
        return Err(AppError::bad_request(
            "invalid_request",
            format!("campaign is required for {kind}"),
        ));
    }
    let hint: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let saved = SavedDestination {
        kind,
        campaign: req.campaign.trim().to_string(),
        sealed_key: secrets.seal(&destination_context(&user.user_id, kind), key),
        key_hint: format!("…{hint}"),
        updated_at: Utc::now(),
    };
    campaigns
        .settings
        .put_destination(&user.user_id, &saved)
        .await?;
    tracing::info!(user = %user.user_id, destination = %kind, "destination saved");
    Ok(Json(view(&saved)))
}

/// Forget a destination.
#[utoipa::path(delete, path = "/destinations/{to}", operation_id = "deleteDestination",
    params(("to" = String, Path, description = "instantly, smartlead, lemlist or hubspot")), security(("bearer" = [])),
    responses((status = 204, description = "Forgotten"), BadInput, Authed, NotFound, Timed, (status = 503, description = "Campaign settings are not available on this server", body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(to): AppPath<String>,
) -> AppResult<StatusCode> {
    let campaigns = campaigns(&state)?;
    if campaigns
        .settings
        .delete_destination(&user.user_id, kind(&to)?)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound)
    }
}
