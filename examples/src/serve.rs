//! Serving an app with limits against slow clients.
//!
//! `axum::serve` sets no header-read, idle or body timeouts and accepts
//! every connection: a client that trickles its request head one byte every
//! few seconds holds a descriptor forever, and about a thousand of them
//! take a process with the usual 1,024-descriptor limit off the air. This
//! is the same accept loop with hyper's own settings turned on:
//!
//! - **header read** (hyper's `header_read_timeout`, default 10 s): the
//!   whole request head must arrive in time, and an idle keep-alive
//!   connection must start its next request in time, or it is closed;
//! - **body inactivity** (tower-http's [`TimeoutBody`], default 10 s): a
//!   request body that sends nothing for that long fails, and the request
//!   with it (the layer answers 400 and the connection closes);
//! - **concurrent connections** (default 512): past it the loop stops
//!   accepting until one closes, so the process keeps descriptors for its
//!   own work (stores, logs) instead of failing on them.
//!
//! Per-address connection limits belong to the proxy or load balancer in
//! front (every connection behind one comes from its address).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutBody;

/// Limits on what a client may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    /// Time to receive a whole request head, and the longest a keep-alive
    /// connection may sit idle before its next request.
    pub header_read: Duration,
    /// Longest silence within a request body.
    pub body_idle: Duration,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(10),
            max_connections: 512,
        }
    }
}

/// Serves `app` on `listener` with `limits` until `shutdown` completes, then
/// lets open connections finish their current request. Each request
/// carries its peer address as `ConnectInfo<std::net::SocketAddr>`, as
/// `into_make_service_with_connect_info` would give it.
///
/// # Errors
///
/// Never from a failed connection (each is closed and logged); only when
/// accepting fails for good.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_current(listener, move || app.clone(), limits, shutdown).await
}

/// A router that can be replaced while it serves (a policy reloaded on
/// `SIGHUP`): each request is served by the router current when it
/// arrives; requests already running finish on the one they started on.
#[derive(Clone, Debug)]
pub struct Swappable(Arc<std::sync::RwLock<Router>>);

impl Swappable {
    /// Starts with `app`.
    #[must_use]
    pub fn new(app: Router) -> Self {
        Self(Arc::new(std::sync::RwLock::new(app)))
    }

    /// The current router.
    pub fn current(&self) -> Router {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the router at once for every request that starts after.
    pub fn swap(&self, app: Router) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = app;
    }
}

/// [`serve`] over a [`Swappable`] router.
///
/// # Errors
///
/// As [`serve`].
pub async fn serve_swappable(
    listener: TcpListener,
    app: Swappable,
    limits: ServeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_current(listener, move || app.current(), limits, shutdown).await
}

async fn serve_current(
    listener: TcpListener,
    current: impl Fn() -> Router + Clone + Send + Sync + 'static,
    limits: ServeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    tokio::pin!(shutdown);
    loop {
        // a slot first: at the limit, new connections wait in the kernel's
        // listen queue instead of taking a descriptor here
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) if is_transient(&e) => {
                    tracing::warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
            () = &mut shutdown => break,
        };
        let current = current.clone();
        let body_idle = limits.body_idle;
        let service = tower::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(|body| TimeoutBody::new(body_idle, body));
            req.extensions_mut().insert(ConnectInfo(peer));
            current().oneshot(req)
        });
        let conn =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
            drop(slot);
        });
    }
    graceful.shutdown().await;
    Ok(())
}

/// Accept errors that concern one connection or a passing shortage
/// (descriptors), not the listener.
fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) || e.raw_os_error().is_some_and(|c| c == 23 || c == 24) // ENFILE, EMFILE
}
