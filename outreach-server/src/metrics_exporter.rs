//! `/metrics` in the Prometheus text format, for `outreach serve` and `outreach worker`.
//!
//! The core counts through the `metrics` facade (`outreach_core::telemetry`, where every
//! name and its help text live); this module installs the recorder that collects those
//! counts (`metrics-exporter-prometheus`), serves the page from our own axum router, sets
//! the gauges that are read when scraped (unfinished jobs, queue depth), and times HTTP
//! requests by route.

use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use outreach_core::jobs::JobSystem;
use outreach_core::ports::JobStatus;
use outreach_core::telemetry;

/// Histogram: HTTP request latency (to the response head) by method, route and status.
pub const HTTP_DURATION: &str = "outreach_http_request_duration_seconds";

/// Latency buckets (seconds): API calls take milliseconds, uploads and downloads seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static INSTALLING: Mutex<()> = Mutex::new(());

/// Installs the process-wide Prometheus recorder (once; later calls return the same
/// handle) and registers every metric's help text.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let _guard = INSTALLING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS)?
        .install_recorder()?;
    telemetry::describe();
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency to the response head, by method, route and status."
    );
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    system: JobSystem,
}

/// `GET /metrics` (and `GET /healthz` when `with_health`, for a worker, which has no
/// other HTTP routes).
pub fn router(handle: PrometheusHandle, system: JobSystem, with_health: bool) -> Router {
    let mut router = Router::new().route("/metrics", get(metrics_page));
    if with_health {
        router = router.route("/healthz", get(|| async { "ok" }));
    }
    router.with_state(Scrape { handle, system })
}

async fn metrics_page(State(scrape): State<Scrape>) -> Response {
    let body = render(&scrape.handle, &scrape.system).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Sets the gauges read at scrape time, then renders the exposition. A backend that
/// cannot answer leaves its gauge at the last value (and says so in the log).
pub async fn render(handle: &PrometheusHandle, system: &JobSystem) -> String {
    match system
        .store()
        .jobs_with_status(&[JobStatus::Queued, JobStatus::InProgress])
        .await
    {
        Ok(jobs) => {
            for status in [JobStatus::Queued, JobStatus::InProgress] {
                telemetry::jobs_now(status, jobs.iter().filter(|j| j.status == status).count());
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: could not count unfinished jobs"),
    }
    match system.queue().depth().await {
        Ok(Some(depth)) => telemetry::queue_depth(depth),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "metrics: could not measure the queue"),
    }
    handle.run_upkeep();
    handle.render()
}

/// Times every request of `router` into [`HTTP_DURATION`], labelled by the route
/// *pattern* (`/api/jobs/{id}`, never the id itself) so the series stay few.
pub fn instrument(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(track))
}

async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(
        HTTP_DURATION,
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// Serves [`router`] (with `/healthz`) on `addr` for a process without an HTTP API
/// (`outreach worker`). Returns the bound address (port 0 picks a free one).
pub async fn serve_standalone(
    addr: &str,
    handle: PrometheusHandle,
    system: JobSystem,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(handle, system, true);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener failed");
        }
    });
    Ok(bound)
}
