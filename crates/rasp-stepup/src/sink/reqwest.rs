//! `reqwest` through `reqwest-middleware`: every outbound request's URL is
//! judged before it is sent.
//!
//! ```no_run
//! # async fn hook(url: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(rasp_stepup::sink::UrlGuard::new())
//!     .build();
//! let res = client.get(url).send().await?;
//! # Ok(()) }
//! ```
//!
//! The URL judged is the one the application built. Redirects that
//! `reqwest` follows and the addresses a name resolves to are not judged
//! (see docs/sinks.md): build the client with
//! `redirect(reqwest::redirect::Policy::none())` where the host comes from
//! a request.

use std::future::Future;
use std::pin::Pin;

use reqwest_middleware::{Middleware, Next};

/// The URL guard as a `reqwest-middleware` middleware: a refusal is
/// `reqwest_middleware::Error::Middleware` whose inner error is the
/// [`SinkError`](super::SinkError) (`downcast_ref`), and nothing is sent.
#[derive(Clone, Debug, Default)]
pub struct UrlGuard {
    /// `host:port` pairs fetched whatever chose them.
    allowed: std::sync::Arc<[String]>,
}

impl UrlGuard {
    /// A guard with no exception.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Fetches `host:port` (`127.0.0.1:8080`, `hooks.example.com:443`)
    /// without judging the URL: an internal test receiver, a partner's
    /// endpoint the application lists itself. The port is the URL's, or
    /// its scheme's default.
    #[must_use]
    pub fn allow(mut self, host_port: impl Into<String>) -> Self {
        let mut all: Vec<String> = self.allowed.iter().cloned().collect();
        all.push(host_port.into().to_ascii_lowercase());
        self.allowed = all.into();
        self
    }

    fn allows(&self, url: &reqwest::Url) -> bool {
        if self.allowed.is_empty() {
            return false;
        }
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        let key = format!("{host}:{port}").to_ascii_lowercase();
        self.allowed.contains(&key)
    }
}

// The trait is declared with `async_trait`; this is its expansion, so that
// the crate needs no macro dependency for one method.
impl Middleware for UrlGuard {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        req: reqwest::Request,
        extensions: &'life1 mut http::Extensions,
        next: Next<'life2>,
    ) -> Pin<
        Box<
            dyn Future<Output = reqwest_middleware::Result<reqwest::Response>>
                + Send
                + 'async_trait,
        >,
    >
    where
        Self: 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
    {
        // judged now, while the handler's future (and its inputs) is polled
        let verdict = if self.allows(req.url()) {
            Ok(())
        } else {
            super::parsed_url(req.url().as_str())
        };
        Box::pin(async move {
            verdict.map_err(reqwest_middleware::Error::middleware)?;
            next.run(req, extensions).await
        })
    }
}
