//! Plugging in the app's own notion of who is calling.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use http::request::Parts;

use crate::token::Identity;

/// The future an [`IdentityExtractor`] returns. It owns what it needs (clone
/// the cookie value out of `parts` before going async).
pub type IdentityFuture =
    Pin<Box<dyn Future<Output = Result<Option<Identity>, IdentityError>> + Send + 'static>>;

/// Finds the caller's identity from the request, for apps with cookie
/// sessions or another token format.
///
/// `Ok(None)`: no credentials. `Err(_)`: credentials present but invalid
/// (the layer answers 401 `invalid_token`).
///
/// ```
/// use rasp_stepup::{Identity, IdentityError, IdentityFuture, IdentityExtractor};
///
/// fn from_cookie(parts: &http::request::Parts) -> IdentityFuture {
///     let cookie = parts.headers.get("cookie").and_then(|v| v.to_str().ok()).map(str::to_owned);
///     Box::pin(async move {
///         match cookie.as_deref() {
///             None => Ok(None),
///             Some("session=s1") => Ok(Some(Identity::new("alice", "s1"))),
///             Some(_) => Err(IdentityError::new("unknown session")),
///         }
///     })
/// }
/// let _policy_builder = rasp_stepup::Policy::builder().with_identity(from_cookie);
/// ```
pub trait IdentityExtractor: Send + Sync + 'static {
    /// Starts identifying the caller of the request whose head is `parts`.
    fn identify(&self, parts: &Parts) -> IdentityFuture;
}

impl<F> IdentityExtractor for F
where
    F: Fn(&Parts) -> IdentityFuture + Send + Sync + 'static,
{
    fn identify(&self, parts: &Parts) -> IdentityFuture {
        self(parts)
    }
}

/// Credentials were present but not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityError {
    reason: String,
}

impl IdentityError {
    /// An error with a reason for logs (never sent to the client).
    #[must_use]
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid credentials: {}", self.reason)
    }
}

impl std::error::Error for IdentityError {}
