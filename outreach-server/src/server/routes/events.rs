//! `GET /jobs/{id}/events`: the job's progress as Server-Sent Events. The store is
//! polled (every 500 ms by default) by one poller per job, shared by all the job's
//! streams ([`JobWatch`]); an event goes out when the status or the rows processed
//! change, and the stream closes after the terminal one (`event: done`). Polling works
//! the same with every backend and any number of server processes. A user has at most
//! [`StreamCap::per_user`] streams open (`429` beyond).
//!
//! [`StreamCap::per_user`]: crate::server::stream_cap::StreamCap::per_user
//! [`JobWatch`]: crate::server::job_watch::JobWatch

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use outreach_core::ports::{Job, JobStatus};
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::AppPath;
use crate::server::job_watch::Snapshot;
use crate::server::openapi::{schemas, ApiRouter, Authed, ErrorBody, NotFound};
use crate::server::routes::jobs::JobId;
use crate::server::state::AppState;
use crate::server::stream_cap::StreamSlot;

pub fn router() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(events))
}

/// One Server-Sent Event of the stream: `event: progress` on every change, `event: done`
/// last (`event: error` if the job cannot be read); `data` is a [`Progress`] as JSON
/// (an [`ErrorBody`]'s `error` for `event: error`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct JobEvent {
    event: JobEventKind,
    /// JSON text.
    #[schema(content_media_type = "application/json")]
    data: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum JobEventKind {
    Progress,
    Done,
    Error,
}

/// The `data` of a progress or done event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    id: String,
    #[schema(schema_with = schemas::job_status)]
    status: JobStatus,
    rows: u64,
    rows_processed: u64,
    #[schema(minimum = 0, maximum = 100)]
    progress_percent: f64,
    #[schema(required = true)]
    error: Option<String>,
    download_ready: bool,
}

struct Follow {
    updates: watch::Receiver<Snapshot>,
    last: Option<(JobStatus, u64)>,
    first: Option<Job>,
    done: bool,
    /// Held while the stream lives; the client leaving drops the stream and frees it
    /// (and its receiver, so the job's poller stops with its last stream).
    _slot: StreamSlot,
}

/// Live progress as Server-Sent Events until the job ends.
#[utoipa::path(
    get,
    path = "/jobs/{id}/events",
    operation_id = "jobEvents",
    params(JobId),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`event: progress` on every change, `event: done` last (`event: error` if the job cannot be read); data is the job's progress as JSON", content_type = "text/event-stream", body = JobEvent),
        Authed, NotFound,
        (status = 429, description = "Five event streams are already open for this account", body = ErrorBody),
    )
)]
async fn events(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Checked before the stream starts, so a foreign or unknown job is a plain 404.
    let job = state.jobs.store().get_job(Some(&user.user_id), &id).await?;
    let slot = state
        .streams
        .open(&user.user_id)
        .ok_or_else(|| AppError::TooManyRequests {
            code: "too_many_streams",
            message: format!(
                "{} event streams are open for this account; close one first",
                state.streams.per_user()
            ),
        })?;
    let updates = state.job_watch.subscribe(
        state.jobs.store().clone(),
        &user.user_id,
        &job.id,
        state.config.events_poll,
    );
    let start = Follow {
        updates,
        last: None,
        first: Some(job),
        done: false,
        _slot: slot,
    };
    let stream = futures::stream::unfold(start, |mut f| async move {
        if f.done {
            return None;
        }
        loop {
            let job = match f.first.take() {
                Some(job) => job,
                None => {
                    let snapshot = f.updates.borrow_and_update().clone();
                    match snapshot {
                        Some(Ok(job)) => job,
                        Some(Err(_)) => {
                            f.done = true;
                            let event = Event::default().event("error").data(
                                r#"{"code":"internal_error","message":"could not read the job"}"#,
                            );
                            return Some((Ok(event), f));
                        }
                        None => {
                            if f.updates.changed().await.is_err() {
                                return None;
                            }
                            continue;
                        }
                    }
                }
            };
            let seen = (job.status, job.rows_processed);
            if f.last == Some(seen) {
                // Nothing new: wait for the poller's next read (`changed` still yields a
                // last unseen snapshot after the poller stopped, then fails).
                if f.updates.changed().await.is_err() {
                    return None;
                }
                continue;
            }
            f.last = Some(seen);
            f.done = job.status.is_terminal();
            return Some((Ok(progress_event(&job, f.done)), f));
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn progress_event(job: &Job, terminal: bool) -> Event {
    let data = Progress {
        id: job.id.clone(),
        status: job.status,
        rows: job.rows,
        rows_processed: job.rows_processed,
        progress_percent: job.progress_percent,
        error: job.error.clone(),
        download_ready: job.result_path.is_some(),
    };
    Event::default()
        .event(if terminal { "done" } else { "progress" })
        .data(serde_json::to_string(&data).unwrap_or_default())
}
