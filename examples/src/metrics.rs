//! The bank's Prometheus endpoint: the process-wide recorder of the
//! `metrics` facade, rendered as Prometheus text on `GET /metrics` of a
//! listener of its own (`--metrics-addr`), never on the public port.

use std::sync::OnceLock;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::serve::{ServeLimits, serve};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder as the process's `metrics` recorder
/// (once; later calls return the same handle).
///
/// # Errors
///
/// Another recorder was installed first.
pub fn recorder() -> Result<PrometheusHandle, BuildError> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new().install_recorder()?;
    // Histogram samples wait in a buffer until a scrape or an upkeep
    // drains them: without a scraper the buffer would grow with every
    // request, so a thread drains it every few seconds.
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread: histograms are drained by scrapes only");
    }
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Serves `GET /metrics` (Prometheus text format 0.0.4) from `handle` on
/// `listener`, with the bank's slow-client limits, until the process ends.
///
/// # Errors
///
/// The listener failed.
pub async fn serve_metrics(listener: TcpListener, handle: PrometheusHandle) -> std::io::Result<()> {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    );
    serve(
        listener,
        app,
        ServeLimits::default(),
        std::future::pending(),
    )
    .await
}
