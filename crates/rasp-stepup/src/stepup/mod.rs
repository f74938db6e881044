//! Completing a challenge: the verify flow, factors, and the companion router.
//!
//! `POST /step-up/verify` with `Authorization: Bearer <base token>` and
//! `{"challenge_id": "...", "method": "totp", "code": "123456"}` answers
//! `{"access_token", "token_type": "Bearer", "expires_in", "acr", "amr"}`
//! (see `docs/step-up-protocol.md`).

mod totp;
mod verify;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use totp::{
    SecretError, SecretFuture, TOTP_DIGITS, TOTP_STEP, TotpFactor, TotpSecret, TotpSecrets,
};
pub use verify::{Elevation, VerifyError};

use crate::clock::Timestamp;
use crate::policy::Policy;
use crate::store::StoreError;

/// What a [`Factor`] needs to check a response: the subject, the time by
/// the policy's clock, the accepted skew, and [`FactorContext::claim_once`]
/// for replay protection shared by every replica. A factor outside this
/// crate (WebAuthn, push approval) needs nothing else.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct FactorContext<'a> {
    /// The policy (settings).
    pub policy: &'a Policy,
    /// The subject being verified.
    pub subject: &'a str,
    /// Now, by the policy's clock.
    pub now: Timestamp,
    /// Accepted clock skew in steps (TOTP).
    pub skew: u8,
    /// The method being verified (the factor's own [`Factor::method`]).
    pub method: &'static str,
}

impl FactorContext<'_> {
    /// Claims `token` for the subject until `ttl` has passed: `true` the
    /// first time, `false` for a replay (by any replica sharing the
    /// policy's stores). `token` names what must be used once: a TOTP
    /// step, a signature counter, a hash of an approval's nonce. Each
    /// method has its own tokens (TOTP's are the subject's steps).
    ///
    /// # Errors
    ///
    /// When the replay store fails (the verification then answers 503).
    pub async fn claim_once(&self, token: u64, ttl: Duration) -> Result<bool, StoreError> {
        let replay = &self.policy.inner.rt.stores.replay;
        // TOTP keeps the key it had before other factors could claim
        // tokens, so replicas of both versions share one replay record
        // during a rolling upgrade; every other method is scoped by name.
        if self.method == "totp" {
            return replay.claim_step(self.subject, token, ttl, self.now).await;
        }
        let scoped = format!("{}\u{0}{}", self.method, self.subject);
        replay.claim_step(&scoped, token, ttl, self.now).await
    }
}

/// The verdict of a [`Factor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FactorOutcome {
    /// The response proves the factor.
    Accepted,
    /// Wrong response (or subject not enrolled: indistinguishable).
    Rejected,
    /// A valid response that was already used.
    Replayed,
}

/// The future [`Factor::verify`] returns.
pub type FactorFuture<'a> =
    Pin<Box<dyn Future<Output = Result<FactorOutcome, StoreError>> + Send + 'a>>;

/// A second factor that can complete a challenge (TOTP today; WebAuthn or
/// push later, without changing the flow).
///
/// ```
/// use rasp_stepup::{Factor, FactorContext, FactorFuture, FactorOutcome};
///
/// /// One-time recovery codes, each accepted once per subject.
/// struct RecoveryCodes;
///
/// impl Factor for RecoveryCodes {
///     fn method(&self) -> &'static str {
///         "recovery"
///     }
///
///     fn amr(&self) -> &'static [&'static str] {
///         &["otp"]
///     }
///
///     fn verify<'a>(&'a self, ctx: FactorContext<'a>, code: &'a str) -> FactorFuture<'a> {
///         Box::pin(async move {
///             // look the code up in the app's own store (hashed), then
///             // spend it: the same code never completes two challenges
///             let known = code.len() == 10 && code.bytes().all(|b| b.is_ascii_alphanumeric());
///             if !known {
///                 return Ok(FactorOutcome::Rejected);
///             }
///             let token = code.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
///             let first = ctx.claim_once(token, std::time::Duration::from_secs(86_400)).await?;
///             Ok(if first { FactorOutcome::Accepted } else { FactorOutcome::Replayed })
///         })
///     }
/// }
/// # let _ = RecoveryCodes;
/// ```
pub trait Factor: Send + Sync + 'static {
    /// The `method` value clients send (`"totp"`).
    fn method(&self) -> &'static str;

    /// RFC 8176 `amr` values the minted token carries (`["otp"]`).
    fn amr(&self) -> &'static [&'static str];

    /// Checks the client's `code` (the factor's response) for `ctx.subject`.
    fn verify<'a>(&'a self, ctx: FactorContext<'a>, code: &'a str) -> FactorFuture<'a>;
}

/// Shared state of the companion routes: the policy and the factors.
///
/// ```
/// use std::collections::HashMap;
/// use rasp_stepup::{Policy, StepUpState, TokenConfig, TotpSecret, step_up_routes};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = Policy::builder()
///     .tokens(TokenConfig::ed25519_from_seed([3; 32]).issuer("bank").audience("bank-api"))
///     .build()?;
/// // each subject's TOTP secret, as the app enrolled it
/// let secrets = HashMap::from([("alice".to_owned(), TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")?)]);
/// let routes: axum::Router = step_up_routes(StepUpState::new(policy, secrets));
/// # let _ = routes; Ok(()) }
/// ```
#[derive(Clone)]
pub struct StepUpState {
    pub(crate) policy: Policy,
    pub(crate) factors: Arc<Vec<Arc<dyn Factor>>>,
}

impl fmt::Debug for StepUpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let methods: Vec<_> = self.factors.iter().map(|f| f.method()).collect();
        f.debug_struct("StepUpState")
            .field("policy", &self.policy)
            .field("methods", &methods)
            .finish()
    }
}

impl StepUpState {
    /// State for `policy` with the TOTP factor reading `totp_secrets`.
    pub fn new(policy: Policy, totp_secrets: impl TotpSecrets) -> Self {
        let totp = TotpFactor::new(totp_secrets);
        policy.inner.rt.register_methods([totp.method()]);
        Self {
            policy,
            factors: Arc::new(vec![Arc::new(totp)]),
        }
    }

    /// Adds (or replaces, by method name) a factor.
    #[must_use]
    pub fn with_factor(self, factor: impl Factor) -> Self {
        let mut factors: Vec<_> = self
            .factors
            .iter()
            .filter(|f| f.method() != factor.method())
            .cloned()
            .collect();
        self.policy.inner.rt.register_methods([factor.method()]);
        factors.push(Arc::new(factor));
        Self {
            policy: self.policy,
            factors: Arc::new(factors),
        }
    }

    /// The policy.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Clears the failed-attempt history and any lock of `subject`
    /// (an operator's action after the hard cap): the bucket its unknown
    /// devices share and those of its known devices.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn unlock(&self, subject: &str) -> Result<(), StoreError> {
        let stores = &self.policy.inner.rt.stores;
        let now = self.policy.inner.rt.clock.now();
        stores.attempts.unlock(subject, now).await?;
        if let Some(h) = stores.history.load(subject, now).await? {
            for key in h.step_up_devices.as_slice() {
                let bucket = verify::device_bucket(subject, *key);
                stores.attempts.unlock(&bucket, now).await?;
            }
        }
        Ok(())
    }

    pub(crate) fn factor(&self, method: &str) -> Option<&Arc<dyn Factor>> {
        self.factors.iter().find(|f| f.method() == method)
    }
}

/// The companion router: `POST {verify_uri}` (default `/step-up/verify`).
///
/// It carries its own [`RaspStepUp`](crate::RaspStepUp) layer: the verify
/// route is guarded like a login route (public, the per-address quota of
/// [`RateRules::per_client_entry`](crate::risk::RateRules::per_client_entry),
/// inputs inspected, failures counted against the address and the
/// subject) whether it is merged outside the app's layer
/// (`.layer(RaspStepUp::new(policy)).merge(step_up_routes(state))`) or
/// inside it (`.merge(...)` then `.layer(...)`): a request an outer layer
/// already guards is not guarded twice.
#[cfg(feature = "axum")]
pub fn step_up_routes<S>(state: StepUpState) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let uri = state.policy.inner.step_up.verify_uri.clone();
    let layer = crate::RaspStepUp::new(state.policy.clone());
    axum::Router::new()
        .route(&uri, axum::routing::post(verify::handler))
        .layer(layer)
        .with_state(state)
}
