//! The account's do-not-contact list, applied to every job of the account before any
//! provider call (merged with a job's own `suppress` list) and to every push:
//! `GET /suppression`, `POST /suppression` (`{"entries": [...]}`),
//! `POST /suppression/upload` (a text or CSV body, as `--suppress` reads it),
//! `DELETE /suppression?entry=…`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use outreach_core::campaign::SuppressionList;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::destinations::campaigns;
use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::{AppJson, AppQuery};
use crate::server::openapi::{ApiRouter, Authed, BadInput, ErrorBody, JsonBody, NotFound, Timed};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed_api;

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(timed_api(routes!(list, add, remove), config))
        .routes(timed_api(routes!(upload), config))
}

/// A job's list: its own entries plus the account's (`None` when both are empty).
pub async fn with_account_list(
    state: &AppState,
    user_id: &str,
    entries: &[String],
) -> AppResult<Option<Arc<SuppressionList>>> {
    let (mut list, _) = SuppressionList::parse(&entries.join("\n"));
    if let Some(campaigns) = &state.campaigns {
        if let Some(account) = campaigns.account_list(user_id).await? {
            list.extend(&account);
        }
    }
    Ok((!list.is_empty()).then(|| Arc::new(list)))
}

/// The account's do-not-contact list.
#[utoipa::path(get, path = "/suppression", operation_id = "listSuppression", security(("bearer" = [])),
    responses((status = 200, description = "`count` and `entries` (normalised: `jane@acme.com`, `@acme.com`)", body = Object), Authed, Timed, (status = 503, description = "Campaign settings are not available on this server", body = ErrorBody)))]
async fn list(State(state): State<AppState>, user: AuthUser) -> AppResult<Json<Value>> {
    let entries = campaigns(&state)?
        .settings
        .suppressions(&user.user_id)
        .await?;
    Ok(Json(json!({"count": entries.len(), "entries": entries})))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AddRequest {
    entries: Vec<String>,
}

/// Add emails or domains to the do-not-contact list.
#[utoipa::path(post, path = "/suppression", operation_id = "addSuppression", request_body = AddRequest, security(("bearer" = [])),
    responses((status = 200, description = "`added` (new entries), `read`, `rejected` lines", body = Object), JsonBody, Authed, Timed, (status = 503, description = "Campaign settings are not available on this server", body = ErrorBody)))]
async fn add(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<AddRequest>,
) -> AppResult<Json<Value>> {
    store(&state, &user, &req.entries.join("\n")).await
}

/// Add a text or CSV list (the body) to the do-not-contact list.
#[utoipa::path(post, path = "/suppression/upload", operation_id = "uploadSuppression",
    request_body(content = String, content_type = "text/csv", description = "One entry a line, or a CSV with an email or domain column"), security(("bearer" = [])),
    responses((status = 200, description = "`added` (new entries), `read`, `rejected` lines", body = Object), JsonBody, Authed, Timed, (status = 503, description = "Campaign settings are not available on this server", body = ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    body: Bytes,
) -> AppResult<Json<Value>> {
    store(&state, &user, &String::from_utf8_lossy(&body)).await
}

async fn store(state: &AppState, user: &AuthUser, text: &str) -> AppResult<Json<Value>> {
    let campaigns = campaigns(state)?;
    let (parsed, report) = SuppressionList::parse(text);
    let lines: Vec<String> = parsed.entries().iter().map(|e| e.to_line()).collect();
    let added = campaigns
        .settings
        .add_suppressions(&user.user_id, &lines)
        .await?;
    let rejected: Vec<Value> = report
        .rejected
        .iter()
        .take(100)
        .map(|r| json!({"line": r.line, "value": r.value}))
        .collect();
    Ok(Json(
        json!({"added": added, "read": lines.len(), "rejected": rejected}),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RemoveQuery {
    entry: String,
}

/// Remove one entry from the do-not-contact list.
#[utoipa::path(delete, path = "/suppression", operation_id = "deleteSuppression", params(RemoveQuery), security(("bearer" = [])),
    responses((status = 204, description = "Removed"), BadInput, Authed, NotFound, Timed, (status = 503, description = "Campaign settings are not available on this server", body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(q): AppQuery<RemoveQuery>,
) -> AppResult<StatusCode> {
    let campaigns = campaigns(&state)?;
    // The entry is normalised the way it was stored.
    let (parsed, _) = SuppressionList::parse(&q.entry);
    let Some(entry) = parsed.entries().first().map(|e| e.to_line()) else {
        return Err(AppError::bad_request(
            "invalid_request",
            "entry is neither an email nor a domain",
        ));
    };
    if campaigns
        .settings
        .delete_suppression(&user.user_id, &entry)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound)
    }
}
