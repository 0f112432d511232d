//! `GET /jobs/{id}/events`: the job's progress as Server-Sent Events. The store is
//! polled (every 500 ms by default); an event goes out when the status or the rows
//! processed change, and the stream closes after the terminal one (`event: done`).
//! Polling works the same with every backend and any number of server processes.
//! A user has at most [`StreamCap::per_user`] streams open (`429` beyond).
//!
//! [`StreamCap::per_user`]: crate::server::stream_cap::StreamCap::per_user

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures::Stream;
use outreach_core::ports::{Job, JobStatus};

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::AppPath;
use crate::server::state::AppState;
use crate::server::stream_cap::StreamSlot;

pub fn router() -> Router<AppState> {
    Router::new().route("/jobs/{id}/events", get(events))
}

struct Poll {
    state: AppState,
    user_id: String,
    job_id: String,
    last: Option<(JobStatus, u64)>,
    first: Option<Job>,
    done: bool,
    /// Held while the stream lives; the client leaving drops the stream and frees it.
    _slot: StreamSlot,
}

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
    let poll = state.config.events_poll;
    let start = Poll {
        state,
        user_id: user.user_id,
        job_id: job.id.clone(),
        last: None,
        first: Some(job),
        done: false,
        _slot: slot,
    };
    let stream = futures::stream::unfold(start, move |mut p| async move {
        if p.done {
            return None;
        }
        loop {
            let job = match p.first.take() {
                Some(job) => job,
                None => {
                    tokio::time::sleep(poll).await;
                    match p
                        .state
                        .jobs
                        .store()
                        .get_job(Some(&p.user_id), &p.job_id)
                        .await
                    {
                        Ok(job) => job,
                        Err(e) => {
                            tracing::warn!(job = %p.job_id, error = %e, "events: could not read the job");
                            p.done = true;
                            let event = Event::default().event("error").data(
                                r#"{"code":"internal_error","message":"could not read the job"}"#,
                            );
                            return Some((Ok(event), p));
                        }
                    }
                }
            };
            let seen = (job.status, job.rows_processed);
            if p.last == Some(seen) {
                continue;
            }
            p.last = Some(seen);
            p.done = job.status.is_terminal();
            return Some((Ok(progress_event(&job, p.done)), p));
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn progress_event(job: &Job, terminal: bool) -> Event {
    let data = serde_json::json!({
        "id": job.id,
        "status": job.status,
        "rows": job.rows,
        "rows_processed": job.rows_processed,
        "progress_percent": job.progress_percent,
        "error": job.error,
        "download_ready": job.result_path.is_some(),
    });
    Event::default()
        .event(if terminal { "done" } else { "progress" })
        .data(data.to_string())
}
