//! xikang's HTTP server: the `/api/v1` API, bearer-token roles, the defences of the HTTP
//! edge ([`edge`]: read deadlines, authentication and rate limits before a slot), load
//! shedding with a priority lane for scans and codes ([`shed`]), the access log
//! ([`access`]), and the web pages ([`web`]).

pub mod access;
pub mod anomaly;
pub mod api;
pub mod app;
pub mod appeal;
pub mod auth;
pub mod board;
pub mod cache;
pub mod card;
pub mod cities;
pub mod claim;
pub mod colours;
pub mod drill;
pub mod duties;
pub mod edge;
pub mod error;
pub mod export;
pub mod extract;
pub mod holds;
pub mod json;
pub mod lab;
pub mod ledger;
pub mod limit;
pub mod message;
pub mod metrics;
pub mod node;
pub mod openapi;
pub mod page;
pub mod ping;
pub mod policies;
pub mod register;
pub mod remote;
pub mod scan;
pub mod shed;
pub mod state;
pub mod table;
pub mod trace;
pub mod web;
pub mod wire;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use state::AppState;
use std::sync::Arc;
use xikang_domain::Timestamp;

pub use state::{ServerConfig, load_or_create_secrets};

/// The clock, read only at the edge (the domain takes `now` as an argument): the system's,
/// or a drill's ([`drill`]).
pub fn now() -> Timestamp {
    drill::now()
}

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
        .route("/trust/signed", get(cities::keys::get_signed))
        .route("/trust/anchor", get(cities::keys::get_anchor))
        .route("/trust/rules", get(cities::rules::get_signed))
        .route("/keys", get(cities::keys::list_keys))
        .route("/keys/rotate", post(cities::keys::post_rotate))
        .route("/keys/{kid}/revoke", post(cities::keys::post_revoke))
        .route("/peer-rules", get(cities::rules::list_peer_rules))
        .route("/peers/{name}", get(cities::peers::get_peer))
        .route(
            "/peers",
            post(cities::peers::post_peer).get(cities::peers::list_peers),
        )
        .route("/peers/{name}/refresh", post(cities::peers::post_refresh))
        .route("/entry-checks", post(cities::entry::post_entry_check))
        .route("/codes/current", post(cities::entry::post_current))
        .route(
            "/passes",
            post(cities::passes::post_pass).get(cities::passes::list_passes),
        )
        .route("/passes/{id}", get(cities::passes::get_pass))
        .route("/passes/{id}/approve", post(cities::passes::post_approve))
        .route("/passes/{id}/revoke", post(cities::passes::post_revoke))
        .route(
            "/assist-requests",
            post(cities::assist::post_request).get(cities::assist::list),
        )
        .route("/assist-requests/inbox", post(cities::assist::post_inbox))
        .route(
            "/assist-requests/{id}/answer",
            post(cities::assist::post_answer),
        )
        .route("/policy", get(api::get_policy))
        .route("/policies", post(policies::post_policy).get(policies::list))
        .route("/policies/{version}", get(policies::text))
        .route("/policies/{version}/activate", post(policies::activate))
        .route("/policies/{version}/approve", post(policies::post_approve))
        .route("/people", get(api::list_people))
        .route("/people/lookup", post(api::lookup_person))
        .route("/people/import", post(register::post_import))
        .route("/people/{id}/card", post(card::post_card))
        .route("/cards/{id}", get(card::get_card))
        .route("/cards/{id}/qr.svg", get(card::get_card_svg))
        .route("/cards/{id}/qr.png", get(card::get_card_png))
        .route("/cards/{id}/revoke", post(card::post_revoke))
        .route("/claim/start", post(claim::post_start))
        .route("/claim/finish", post(claim::post_finish))
        .route("/claim/proxy", post(claim::post_proxy))
        .route("/claim/dependants", get(claim::get_dependants))
        .route("/proxies/{id}/revoke", post(claim::post_proxy_revoke))
        .route("/people/{id}", get(api::get_person))
        .route("/people/{id}/code", get(api::get_code))
        .route("/people/{id}/appeals", post(appeal::file))
        .route("/appeals", get(appeal::list))
        .route("/appeals/{id}/answer", post(appeal::answer))
        .route("/people/{id}/{format}", get(api::get_code_image))
        .route("/venues", get(api::list_venues))
        .route("/venues/{id}", get(api::get_venue))
        .route("/scans", post(scan::post_scans).get(api::list_scans))
        .route("/scans/anomalies", get(anomaly::get_anomalies))
        .route("/pings", post(ping::post_pings))
        .route(
            "/test-results",
            post(api::post_results).get(api::list_results),
        )
        .route("/cases", post(api::post_case).get(api::list_cases))
        .route("/cases/{id}", get(api::get_case))
        .route("/cases/{id}/screen", post(api::post_screen))
        .route("/cases/{id}/recheck", post(api::post_recheck))
        .route("/cases/{id}/transfer", post(api::post_case_transfer))
        .route("/cases/{id}/reclassify", post(api::post_reclassify))
        .route("/cases/{id}/discharge", post(api::post_discharge))
        .route("/cases/{id}/death", post(api::post_death))
        .route("/cases/{id}/contacts", get(trace::get_contacts))
        .route("/cases/{id}/contacts/export", get(trace::export_contacts))
        .route("/cases/{id}/contacts/{person}", post(trace::act_on_contact))
        .route("/cases/{id}/sources", get(trace::get_sources))
        .route("/clusters", get(trace::list_clusters))
        .route("/clusters/{id}", get(trace::get_cluster))
        .route("/events", get(api::list_events))
        .route("/audit", get(api::get_audit))
        .route("/audit/checkpoint", get(api::get_checkpoint))
        .route(
            "/drill/clock",
            get(drill::get_clock).post(drill::post_clock),
        )
        .route("/audit/key", get(api::get_log_key))
        .route("/audit/consistency", get(api::get_consistency))
        .route("/tokens", post(api::post_token).get(api::list_tokens))
        .route("/tokens/{id}", delete(api::delete_token))
        .route("/access", get(api::list_access))
        .route("/holds", post(holds::post_hold).get(holds::list))
        .route("/holds/{id}/approve", post(holds::approve))
        .route("/holds/{id}/clear", post(holds::clear))
        .route("/ledger/colours", get(ledger::get_colours))
        .route("/colours", get(colours::get_colours))
        .merge(board::routes())
        .route("/bulletin", get(api::get_bulletin))
        .merge(duties::routes())
        .merge(lab::http::routes())
        .fallback(not_found);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(edge::readyz))
        .route("/metrics", get(metrics::get_metrics))
        .route("/", get(page::index))
        .route("/lookup", post(page::lookup))
        .nest("/api/v1", api)
        .merge(web::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(edge::BODY_LIMIT))
        .layer(axum::middleware::map_response(error::envelope_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            node::read_your_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            edge::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::log,
        ))
        .with_state(state)
}

/// Serves until the future `shutdown` completes, then stops accepting connections, lets
/// open requests finish (for at most [`DRAIN`]; `/readyz` answers 503 meanwhile), and waits
/// until the scan writer has committed everything handed to it and the access log is
/// stored: when this returns, every acknowledged scan and every recorded read is durable.
///
/// Connections are served by hyper directly rather than `axum::serve`, for the header read
/// deadline ([`edge::EdgeConfig::header_timeout`]): a client that opens a socket and trickles
/// its request line never reaches the router, and is cut off when the deadline passes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    app::node::start(state.clone())
        .await
        .map_err(|e| std::io::Error::other(format!("joining the other nodes: {e}")))?;
    if state.config.node.role.holds_index() {
        trace::start_loading(state.clone());
    }
    tokio::spawn(retention_loop(state.clone()));
    tokio::spawn(app::sweep::every_ten_minutes(state.clone()));
    tokio::spawn(lab::mandated_test_loop(state.clone()));
    tokio::spawn(cities::peers::refresh_loop(
        state.clone(),
        state.config.peer_refresh_secs,
    ));
    tokio::spawn(cities::keys::reload_loop(
        state.clone(),
        state.config.key_reload_secs,
    ));
    tokio::spawn(cities::assist::retry_loop(
        state.clone(),
        state.config.assist_retry_secs,
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(state.config.edge.header_timeout);
    let app = router(state.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: pause
                    // briefly rather than spin, and keep serving the connections we have.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses are written whole; Nagle would only delay the last segment.
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        // Connection info gives the edge and the login throttle the client's address.
        let service = hyper::service::service_fn(move |mut req: axum::http::Request<_>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new))
        });
        let conn = http.serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // A client that hangs up or misses the header deadline: its own business.
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    state.edge.start_draining();
    tracing::info!("shutting down: draining open requests");
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period; closing them");
    }
    // Requests cut off by the drain deadline may have left scans in the writer's queue:
    // they are committed (unacknowledged) rather than lost.
    if let Err(e) = state.writer.flush().await {
        tracing::error!(error = ?e, "flushing the scan writer at shutdown failed");
    }
    if let Err(e) = state.access.flush().await {
        tracing::error!(error = ?e, "flushing the access log at shutdown failed");
    }
    app::node::release(&state).await;
    tracing::info!("shut down: scans and access records flushed");
    Ok(())
}

/// A future that completes on SIGTERM (what systemd and `docker stop` send) or SIGINT
/// (Ctrl-C), saying which; both start the same graceful shutdown. The handlers are installed
/// when this is called (inside the runtime), not when the future is first polled, so a
/// signal that arrives between the two is not lost to the default action (exit at once).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Some((term, int)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops gracefully");
                None
            }
        }
    };
    async move {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = handlers {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = name, "shutdown requested");
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!(signal = "SIGINT", "shutdown requested");
    }
}

/// How long a shutdown waits for open requests to finish.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Applies the retention period at start and then every hour.
async fn retention_loop(state: Arc<AppState>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        if !state.node.holds_sweeps() {
            continue; // another node drops the days (docs/nodes.md)
        }
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
