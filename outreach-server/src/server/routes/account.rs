//! `GET /me` (plan and credits) and `GET /ledger` (the caller's credit history).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::server::auth::AuthUser;
use crate::server::error::AppResult;
use crate::server::extract::{AppQuery, Page};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed;

pub fn router(config: &ServerConfig) -> Router<AppState> {
    Router::new()
        .route("/me", timed(get(me), config))
        .route("/ledger", timed(get(ledger), config))
}

async fn me(State(state): State<AppState>, user: AuthUser) -> AppResult<Json<Value>> {
    let a = state.jobs.ledger().account(&user.user_id).await?;
    Ok(Json(json!({
        "user_id": a.user_id,
        "email": a.email,
        "plan_type": a.plan_type,
        "credits_remaining": a.credits_remaining,
        "credit_debt": a.credit_debt,
        "max_credits": a.max_credits,
        "subscription_status": a.subscription_status,
        "renewal_date": a.renewal_date,
    })))
}

async fn ledger(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(page): AppQuery<Page>,
) -> AppResult<Json<Value>> {
    let (entries, total) = state
        .jobs
        .ledger()
        .entries(&user.user_id, page.offset, page.limit())
        .await?;
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "change": e.change,
                "amount_usd": e.amount_usd,
                "reason": e.reason,
                "balance_after": e.balance_after,
                "ts": e.ts,
            })
        })
        .collect();
    Ok(Json(json!({
        "entries": entries,
        "total": total,
        "offset": page.offset,
        "limit": page.limit(),
    })))
}
