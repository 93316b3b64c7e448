//! xikang's HTTP server: the `/api/v1` API, bearer-token roles, load shedding with a
//! priority lane for scans and codes, and the web pages ([`web`]).

pub mod api;
pub mod app;
pub mod appeal;
pub mod auth;
pub mod cache;
pub mod duties;
pub mod error;
pub mod export;
pub mod extract;
pub mod json;
pub mod lab;
pub mod openapi;
pub mod page;
pub mod ping;
pub mod scan;
pub mod shed;
pub mod state;
pub mod trace;
pub mod web;
pub mod wire;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use state::AppState;
use std::sync::Arc;
use xikang_domain::Timestamp;

pub use state::{ServerConfig, load_or_create_secrets};

/// The wall clock, read only at the edge (the domain takes `now` as an argument).
pub fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Timestamp(secs)
}

/// Largest request body: a full batch of 1,000 scans with long tokens fits comfortably.
const BODY_LIMIT: usize = 1 << 20;

async fn not_found() -> error::AppError {
    error::AppError::not_found("not_found", "no such resource")
}

/// The whole router.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route(
            "/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .route("/trust", get(api::get_trust))
        .route("/policy", get(api::get_policy))
        .route("/people", get(api::list_people))
        .route("/people/lookup", post(api::lookup_person))
        .route("/people/{id}", get(api::get_person))
        .route("/people/{id}/code", get(api::get_code))
        .route("/people/{id}/appeals", post(appeal::file))
        .route("/appeals", get(appeal::list))
        .route("/appeals/{id}/answer", post(appeal::answer))
        .route("/people/{id}/{format}", get(api::get_code_image))
        .route("/venues", get(api::list_venues))
        .route("/venues/{id}", get(api::get_venue))
        .route("/scans", post(scan::post_scans).get(api::list_scans))
        .route("/pings", post(ping::post_pings))
        .route(
            "/test-results",
            post(api::post_results).get(api::list_results),
        )
        .route("/cases", post(api::post_case).get(api::list_cases))
        .route("/cases/{id}", get(api::get_case))
        .route("/cases/{id}/contacts", get(trace::get_contacts))
        .route("/cases/{id}/contacts/export", get(trace::export_contacts))
        .route("/cases/{id}/contacts/{person}", post(trace::act_on_contact))
        .route("/cases/{id}/sources", get(trace::get_sources))
        .route("/clusters", get(trace::list_clusters))
        .route("/clusters/{id}", get(trace::get_cluster))
        .route("/events", get(api::list_events))
        .route("/audit", get(api::get_audit))
        .route("/audit/checkpoint", get(api::get_checkpoint))
        .route("/audit/key", get(api::get_log_key))
        .route("/audit/consistency", get(api::get_consistency))
        .route("/tokens", post(api::post_token))
        .merge(duties::routes())
        .merge(lab::http::routes())
        .fallback(not_found);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/", get(page::index))
        .route("/lookup", post(page::lookup))
        .nest("/api/v1", api)
        .merge(web::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(error::envelope_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            shed::admit,
        ))
        .with_state(state)
}

/// Serves until the future `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    trace::start_loading(state.clone());
    tokio::spawn(retention_loop(state.clone()));
    tokio::spawn(duties::duty_loop(state.clone()));
    tokio::spawn(lab::mandated_test_loop(state.clone()));
    // Connection info gives the login throttle the client's address.
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Applies the retention period at start and then every hour.
async fn retention_loop(state: Arc<AppState>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.enforce_retention(now())).await {
            Ok(Ok(days)) if !days.is_empty() => {
                tracing::info!(days = days.len(), "dropped check-in days past retention")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "retention failed; will retry"),
            Err(e) => tracing::warn!(error = %e, "retention task failed"),
        }
    }
}
