//! `GET /me` (plan and credits), `GET /ledger` (the caller's credit history) and
//! `DELETE /me/data` (erase the caller's files, jobs and research; the ledger stays).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use outreach_core::retention;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::{AppQuery, Page};
use crate::server::openapi::{schemas, ApiRouter, Authed, BadInput, ErrorBody, Timed};
use crate::server::state::{AppState, ServerConfig};
use crate::server::timed_api;

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(timed_api(routes!(me), config))
        .routes(timed_api(routes!(ledger), config))
        .routes(timed_api(routes!(erase), config))
}

/// The caller's plan and credits.
#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    user_id: String,
    email: String,
    plan_type: String,
    #[schema(minimum = 0)]
    credits_remaining: i64,
    /// Credits owed after a refund or dispute of credits already spent; paid first by
    /// the next credits.
    #[schema(minimum = 0)]
    credit_debt: i64,
    max_credits: i64,
    subscription_status: String,
    #[schema(schema_with = schemas::optional_timestamp)]
    renewal_date: Option<DateTime<Utc>>,
}

/// One credit movement.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    id: i64,
    change: i64,
    amount_usd: Option<f64>,
    reason: String,
    #[schema(minimum = 0)]
    balance_after: i64,
    ts: DateTime<Utc>,
}

/// A page of the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ledger {
    entries: Vec<LedgerEntry>,
    total: u64,
    offset: u64,
    limit: u64,
}

/// The caller's plan and credits.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "getAccount",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Account", body = Account),
        Authed, Timed,
        (status = 404, description = "No account", body = ErrorBody),
    )
)]
async fn me(State(state): State<AppState>, user: AuthUser) -> AppResult<Json<Account>> {
    let a = state.jobs.ledger().account(&user.user_id).await?;
    Ok(Json(Account {
        user_id: a.user_id,
        email: a.email,
        plan_type: a.plan_type,
        credits_remaining: a.credits_remaining,
        credit_debt: a.credit_debt,
        max_credits: a.max_credits,
        subscription_status: a.subscription_status,
        renewal_date: a.renewal_date,
    }))
}

/// The caller's credit ledger, newest first.
#[utoipa::path(
    get,
    path = "/ledger",
    operation_id = "listLedger",
    params(Page),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Entries", body = Ledger),
        BadInput, Authed, Timed,
        (status = 404, description = "No account", body = ErrorBody),
    )
)]
async fn ledger(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(page): AppQuery<Page>,
) -> AppResult<Json<Ledger>> {
    let (entries, total) = state
        .jobs
        .ledger()
        .entries(&user.user_id, page.offset, page.limit())
        .await?;
    let entries = entries
        .into_iter()
        .map(|e| LedgerEntry {
            id: e.id,
            change: e.change,
            amount_usd: e.amount_usd,
            reason: e.reason,
            balance_after: e.balance_after,
            ts: e.ts,
        })
        .collect();
    Ok(Json(Ledger {
        entries,
        total,
        offset: page.offset,
        limit: page.limit(),
    }))
}

/// What `DELETE /me/data` removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    erased: bool,
    /// Jobs whose rows, inputs, chunks, results and logs were removed.
    jobs: u64,
    /// Stored objects removed (uploads, chunks, results).
    objects: u64,
}

/// Erases the caller's uploads, job inputs, chunks, results, research, logs, pushes and
/// undelivered events, their jobs' rows and their campaign settings (destinations,
/// do-not-contact list, webhook). The account and its ledger stay (what was bought and
/// spent remains accounted for). Refused (`409`) while a job is queued or running
/// (cancel it first) or a push runs, so nothing is written after the erasure.
#[utoipa::path(
    delete,
    path = "/me/data",
    operation_id = "eraseMyData",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was erased", body = Erased),
        Authed, Timed,
        (status = 409, description = "A job is queued or running (cancel it first), or a push is running", body = ErrorBody),
    )
)]
async fn erase(State(state): State<AppState>, user: AuthUser) -> AppResult<Json<Erased>> {
    let store = state.jobs.store();
    let (jobs, _) = store.list_jobs(&user.user_id, 0, u64::MAX).await?;
    if jobs.iter().any(|j| !j.status.is_terminal()) {
        return Err(AppError::Conflict {
            code: "jobs_running",
            message: "a job is queued or running; cancel it (or let it finish) first".into(),
        });
    }
    if retention::running_pushes(state.jobs.storage().as_ref(), &user.user_id).await? {
        return Err(AppError::Conflict {
            code: "jobs_running",
            message: "a push is running; let it finish first".into(),
        });
    }
    let removed =
        retention::erase_user(store.as_ref(), state.jobs.storage().as_ref(), &user.user_id).await?;
    Ok(Json(Erased {
        erased: true,
        jobs: removed.jobs as u64,
        objects: removed.objects as u64,
    }))
}
