//! Operational metrics through the [`metrics`](https://docs.rs/metrics) facade: the core
//! only *emits* (a counter bump is a no-op until a front end installs a recorder, e.g.
//! the Prometheus exporter of `outreach serve` / `outreach worker`). No HTTP here.
//!
//! Every name lives in this file, so the exposition, the dashboard
//! (`deploy/grafana/outreach.json`) and the README agree. Labels are small closed sets
//! (provider, outcome, status): no user or job ids, which would grow without bound.

use metrics::{counter, gauge};

use crate::enricher::RowOutcome;
use crate::error::{Error, ProviderKind};
use crate::ports::JobStatus;

/// Counter: rows enriched by chunks (each row once per chunk run), by `sif_status`.
pub const ROWS: &str = "outreach_rows_processed_total";
/// Counter: jobs that reached a terminal status, by `status`.
pub const JOBS_FINISHED: &str = "outreach_jobs_finished_total";
/// Gauge: unfinished jobs by `status` (set when scraped).
pub const JOBS: &str = "outreach_jobs";
/// Counter: calls that reached a provider, by `provider` and `outcome`
/// (`ok`, `rate_limited` (HTTP 429), `server_error`, `client_error`, `timeout`,
/// `network`, `bad_response`, `auth`, `out_of_credit`, `other`).
pub const PROVIDER_CALLS: &str = "outreach_provider_calls_total";
/// Counter: provider calls retried after a transient failure, by `provider`.
pub const PROVIDER_RETRIES: &str = "outreach_provider_retries_total";
/// Gauge: the learned (or configured) requests/second per `provider` — emitted by the
/// rate limiter.
pub const PROVIDER_RATE: &str = "outreach_provider_rate_limit_rps";
/// Gauge: tasks in the queue not yet acked (waiting, delayed or leased), set when scraped.
pub const QUEUE_DEPTH: &str = "outreach_queue_tasks";
/// Counter: tasks run by this process, by `task` (start/chunk/finalize) and `outcome`
/// (`ok`, `retry`, `failed`).
pub const TASKS: &str = "outreach_tasks_total";
/// Counter: lease renewals (heartbeats) that succeeded.
pub const LEASE_RENEWALS: &str = "outreach_queue_lease_renewals_total";
/// Counter: leases a live worker found lost (it stops the task; another has it).
pub const LEASES_LOST: &str = "outreach_queue_leases_lost_total";
/// Counter: deliveries of a task whose previous lease lapsed (its worker died or hung).
pub const REDELIVERIES: &str = "outreach_queue_redeliveries_total";
/// Counter: tasks handed back by a worker shutting down.
pub const HANDED_BACK: &str = "outreach_queue_handed_back_total";

/// The label value of a provider.
pub fn provider_label(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Search => "search",
        ProviderKind::Llm => "llm",
        ProviderKind::Destination => "destination",
        ProviderKind::Webhook => "webhook",
    }
}

/// The `outcome` label of a provider call's result.
pub fn call_outcome<T>(result: &Result<T, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Error::RateLimited { .. }) => "rate_limited",
        Err(Error::Upstream { status, .. }) if *status >= 500 => "server_error",
        Err(Error::Upstream { .. }) => "client_error",
        Err(Error::Timeout { .. }) => "timeout",
        Err(Error::Network { .. }) => "network",
        Err(Error::BadResponse { .. }) => "bad_response",
        Err(Error::ProviderAuth { .. }) => "auth",
        Err(Error::ProviderOutOfCredit { .. }) => "out_of_credit",
        Err(_) => "other",
    }
}

pub fn provider_call<T>(kind: ProviderKind, result: &Result<T, Error>) {
    counter!(PROVIDER_CALLS, "provider" => provider_label(kind), "outcome" => call_outcome(result))
        .increment(1);
}

/// The provider an error came from, if it came from one.
pub fn error_provider(e: &Error) -> Option<ProviderKind> {
    match e {
        Error::ProviderAuth { provider, .. }
        | Error::ProviderOutOfCredit { provider }
        | Error::RateLimited { provider, .. }
        | Error::Upstream { provider, .. }
        | Error::Timeout { provider }
        | Error::Network { provider, .. }
        | Error::BadResponse { provider, .. } => Some(*provider),
        _ => None,
    }
}

pub fn provider_retry(kind: ProviderKind) {
    counter!(PROVIDER_RETRIES, "provider" => provider_label(kind)).increment(1);
}

/// The `sif_status` label of a row: its serialized name (the value of the `sif_status`
/// column), so a new status needs no change here.
fn status_label<S: serde::Serialize>(status: &S) -> String {
    match serde_json::to_value(status) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "other".to_owned(),
    }
}

/// Counts a chunk's freshly enriched rows by their status.
pub fn rows_enriched(outcomes: &[RowOutcome]) {
    let mut by_status: Vec<(String, u64)> = Vec::new();
    for outcome in outcomes {
        let label = status_label(&outcome.status);
        match by_status.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => by_status.push((label, 1)),
        }
    }
    for (label, n) in by_status {
        counter!(ROWS, "sif_status" => label).increment(n);
    }
}

pub fn job_finished(status: JobStatus) {
    counter!(JOBS_FINISHED, "status" => status_label(&status)).increment(1);
}

/// Sets the unfinished-jobs gauge for one status.
pub fn jobs_now(status: JobStatus, count: usize) {
    gauge!(JOBS, "status" => status_label(&status)).set(count as f64);
}

/// Sets the rate-limit gauge of a provider: the pace its limiter keeps now (learned
/// from 429s and rate-limit headers, or the explicit cap).
pub fn provider_rate(kind: ProviderKind, requests_per_second: f64) {
    gauge!(PROVIDER_RATE, "provider" => provider_label(kind)).set(requests_per_second);
}

pub fn queue_depth(tasks: u64) {
    gauge!(QUEUE_DEPTH).set(tasks as f64);
}

pub fn task_done(task: &crate::ports::Task, outcome: &'static str) {
    counter!(TASKS, "task" => task.kind(), "outcome" => outcome).increment(1);
}

pub fn lease_renewed() {
    counter!(LEASE_RENEWALS).increment(1);
}

pub fn lease_lost() {
    counter!(LEASES_LOST).increment(1);
}

pub fn redelivered() {
    counter!(REDELIVERIES).increment(1);
}

pub fn handed_back() {
    counter!(HANDED_BACK).increment(1);
}

/// Registers the help text of every metric above with the installed recorder (an
/// exposition without HELP lines fails `promtool check metrics`). Call once after
/// installing a recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(
        ROWS,
        "Rows enriched by chunk runs, by sif_status (a redelivered chunk that is redone counts again)."
    );
    describe_counter!(
        JOBS_FINISHED,
        "Jobs that reached a terminal status, by status."
    );
    describe_gauge!(JOBS, "Unfinished jobs by status, when scraped.");
    describe_counter!(
        PROVIDER_CALLS,
        "Calls that reached a provider (every attempt), by provider and outcome; outcome rate_limited is HTTP 429."
    );
    describe_counter!(
        PROVIDER_RETRIES,
        "Provider calls retried after a transient failure, by provider."
    );
    describe_gauge!(
        PROVIDER_RATE,
        "Requests per second the rate limiter currently allows, by provider."
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Tasks in the queue not yet acked (waiting, delayed or leased), when scraped."
    );
    describe_counter!(TASKS, "Tasks run by this process, by task and outcome.");
    describe_counter!(LEASE_RENEWALS, "Task leases renewed by a heartbeat.");
    describe_counter!(
        LEASES_LOST,
        "Leases a running worker found lost (the task is another worker's now)."
    );
    describe_counter!(
        REDELIVERIES,
        "Deliveries of a task whose previous lease lapsed (its worker died or hung)."
    );
    describe_counter!(HANDED_BACK, "Tasks handed back by a worker shutting down.");
}
