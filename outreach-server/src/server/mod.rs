//! The hosted HTTP API: uploads, jobs, downloads, accounts, Stripe billing, with
//! Supabase-compatible bearer auth. [`app`] builds the whole router from an
//! [`AppState`], so tests drive it with `oneshot` and `outreach serve` binds it.
//!
//! Layers, outermost first: tracing (one span per request, carrying its request id),
//! request ids (`x-request-id`, set when absent and echoed back), panic → JSON 500,
//! CORS (when origins are configured), default security headers (`nosniff`, and
//! `Cache-Control: no-store` on responses that set no caching of their own: API data
//! is per user and must not sit in shared or disk caches), the JSON body limit; per
//! route, timeouts on
//! everything that does not stream (uploads, downloads and event streams are exempt).

pub mod auth;
pub mod campaigns;
pub mod cleanup;
pub mod config;
pub mod error;
pub mod extract;
pub mod job_watch;
pub mod listen;
pub mod mail;
pub mod openapi;
pub mod plans;
pub mod routes;
pub mod secrets;
pub mod state;
pub mod stream_cap;
pub mod stripe;
pub mod tempfiles;
pub mod uploads;
pub mod web;
pub mod webhook;

use std::any::Any;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa_axum::router::UtoipaMethodRouter;

use self::openapi::ApiRouter;

pub use error::{AppError, AppResult};
pub use state::{AppState, ServerConfig};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Where the API lives: `/api/jobs`, `/api/me`, … are canonical; the same routes
/// answer without the prefix, as aliases for clients written before it.
pub const API_PREFIX: &str = "/api";

/// Every API route with its documentation, at the unprefixed paths.
fn api_routes(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new()
        .merge(routes::files::router(config))
        .merge(routes::jobs::router(config))
        .merge(routes::events::router())
        .merge(routes::results::router(config))
        .merge(routes::templates::router(config))
        .merge(routes::account::router(config))
        .merge(routes::billing::router(config))
        .merge(routes::destinations::router(config))
        .merge(routes::suppression::router(config))
        .merge(routes::push::router(config))
        .merge(routes::webhooks::router(config))
        .merge(routes::health::router(config))
        .merge(web::api_router(config))
}

/// The API under [`API_PREFIX`], with the document it makes ([`openapi`]).
pub fn api(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::with_openapi(<openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .nest(API_PREFIX, api_routes(config))
}

/// The OpenAPI document of the API (what `GET /api/openapi.json` serves).
pub fn openapi_document(config: &ServerConfig) -> utoipa::openapi::OpenApi {
    api(config).into_openapi()
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    let config = state.config.clone();
    let (api, document) = api(&config).split_for_parts();
    // The old paths: the same handlers, undocumented (the document says they exist).
    let (aliases, _) = api_routes(&config).split_for_parts();
    let document =
        openapi::OpenApiDocument(serde_json::to_vec(&document).unwrap_or_default().into());
    let mut router = Router::new()
        .merge(api)
        .merge(aliases)
        .merge(web::pages_router())
        .layer(axum::Extension(document))
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(config.max_json_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.web.clone(),
            web::pages_for_browsers,
        ))
        .with_state(state);
    router = router.layer(axum::middleware::map_response(security_headers));
    if let Some(cors) = cors(&config.cors_origins) {
        router = router.layer(cors);
    }
    router.layer(
        ServiceBuilder::new()
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        tracing::info_span!(
                            "request",
                            method = %req.method(),
                            path = %req.uri().path(),
                            request_id = tracing::field::Empty,
                        )
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(axum::middleware::map_request(record_request_id))
            .layer(CatchPanicLayer::custom(panic_response)),
    )
}

/// Puts the request id into the request's span (the trace layer, outermost, runs
/// before the id is assigned).
async fn record_request_id(req: Request) -> Request {
    if let Some(id) = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()) {
        tracing::Span::current().record("request_id", id);
    }
    req
}

/// `X-Content-Type-Options: nosniff` everywhere, and `Cache-Control: no-store` unless
/// the handler chose its own caching (the web app's assets do).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    AppError::internal(format!("handler panicked: {detail}")).into_response()
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([header::CONTENT_DISPOSITION, REQUEST_ID]),
    )
}

/// [`timed`] for a documented route.
pub(crate) fn timed_api<S>(
    (schemas, paths, route): UtoipaMethodRouter<S>,
    config: &ServerConfig,
) -> UtoipaMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    (schemas, paths, timed(route, config))
}

/// The route with the configured request timeout (a JSON 408 when it runs out).
pub(crate) fn timed<S>(route: MethodRouter<S>, config: &ServerConfig) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    route.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                AppError::Timeout
            }))
            .timeout(config.request_timeout),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_slow_handler_times_out_with_a_json_408() {
        let mut config = ServerConfig::new(std::path::Path::new("unused"));
        config.request_timeout = Duration::from_millis(20);
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        };
        let app: Router = Router::new()
            .route("/slow", timed(get(slow), &config))
            .route("/fast", timed(get(|| async { "ok" }), &config));
        let request = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request("/slow")).await.unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "timeout");
        let response = app.oneshot(request("/fast")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
