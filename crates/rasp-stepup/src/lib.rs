//! Runtime self-protection and adaptive step-up authentication for Axum and
//! any Tower service, in one layer.
//!
//! [`RaspStepUp`] checks each request against a [`Policy`]: who is calling
//! (a verified bearer JWT or the app's own session), which route they call
//! and how sensitive it is, and whether their authentication is strong and
//! fresh enough. It passes the request, rejects it, or answers **401 with an
//! RFC 9470 step-up challenge**. The companion route from [`step_up_routes`]
//! verifies a second factor (TOTP) and mints a short-lived, elevated,
//! session- and device-bound token; the client retries with it.
//!
//! ```
//! use std::collections::HashMap;
//! use axum::{Router, routing::{get, post}};
//! use rasp_stepup::{
//!     Policy, RaspStepUp, Sensitive, Sensitivity, StepUpState, TokenConfig, TotpSecret,
//!     step_up_routes,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::builder()
//!     .route("POST", "/transfer", Sensitivity::High)
//!     .route("*", "/admin/{*rest}", Sensitivity::Critical)
//!     .route("GET", "/search", Sensitivity::Public)
//!     .tokens(TokenConfig::ed25519_from_seed([9; 32]).issuer("bank").audience("bank-api"))
//!     .build()?;
//!
//! let mut totp_secrets = HashMap::new();
//! totp_secrets.insert("alice".to_owned(), TotpSecret::generate()?);
//!
//! let app: Router = Router::new()
//!     .route("/account", get(|| async { "balance" }))
//!     .route("/transfer", post(|| async { "sent" }))
//!     .route("/payees", post(|| async { "added" }).layer(Sensitive::high()))
//!     .layer(RaspStepUp::new(policy.clone()))
//!     .merge(step_up_routes(StepUpState::new(policy, totp_secrets)));
//! # let _ = app; Ok(()) }
//! ```
//!
//! # How decisions are made
//!
//! 1. The route's sensitivity: the strictest of the route table (keyed by
//!    Axum route templates and method) and any [`Sensitive`] annotation;
//!    unlisted routes default to [`Sensitivity::Authenticated`].
//! 2. The caller's identity: a base or elevated bearer JWT (pinned algorithm,
//!    explicit `typ`, required `exp`/`iat`/`sub`/`sid`/`iss`/`aud`, revocation,
//!    device binding for elevated tokens), or an [`IdentityExtractor`].
//!    Missing or invalid credentials on a protected route: **401
//!    `invalid_token`** (RFC 6750), never a challenge.
//! 3. The level's [`Requirement`]: accepted `acr` values and `max_age`
//!    (seconds since the factor was verified, always checked against
//!    `auth_time`). Not met: a challenge is stored and **401
//!    `insufficient_user_authentication`** is answered.
//! 4. In [`Mode::Monitor`] every request passes and the would-be decision is
//!    attached to the response as [`Monitored`].
//!
//! Every non-allow decision emits one `tracing` event (target
//! `rasp::decision`) and is inserted into the response extensions.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `axum` | yes | `MatchedPath` route matching, [`step_up_routes`], [`check_routes`], the [`Identity`] extractor |

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod clock;
pub mod conformance;
mod decide;
mod decision;
mod error;
mod evaluate;
mod identity;
pub mod inspect;
mod join;
mod layer;
mod level;
mod outcome;
mod policy;
mod respond;
pub mod risk;
pub mod stepup;
pub mod store;
mod token;

pub use clock::{Clock, MockClock, OsRandom, Random, RandomError, SystemClock, Timestamp};
pub use decision::{Challenge, Decision, Monitored, Rejection, RejectionKind};
pub use error::ConfigError;
pub use identity::{IdentityError, IdentityExtractor, IdentityFuture};
pub use inspect::{Budget, Exclusion, InspectionRules, OverBudget, OverLimit};
#[cfg(feature = "axum")]
pub use layer::check_routes;
pub use layer::{RaspStepUp, RaspStepUpService, ResponseFuture, Sensitive, SensitiveService};
pub use level::Sensitivity;
pub use outcome::{PROBLEM_JSON, problem_types};
pub use policy::{FailMode, Mode, Policy, PolicyBuilder, Requirement};
pub use respond::{invalid_token_header, step_up_header};
pub use risk::{Assessment, PeerAddr, RiskRules, Signal, SignalCode};
#[cfg(feature = "axum")]
pub use stepup::step_up_routes;
pub use stepup::{Elevation, Factor, StepUpState, TotpSecret, TotpSecrets, VerifyError};
pub use store::{MemoryStore, Stores};
pub use token::{
    ACCESS_TOKEN_TYPE, ELEVATED_TOKEN_TYPE, Identity, TokenConfig, TokenError, Tokens,
};

impl Policy {
    /// Mints a base access token for `subject` in `session`, valid for `ttl`,
    /// with this policy's key, issuer, audience and clock (for apps whose
    /// login is served by the same process).
    ///
    /// # Errors
    ///
    /// [`TokenError::Signing`] when the key or randomness source fails.
    pub fn issue_access_token(
        &self,
        subject: &str,
        session: &str,
        ttl: std::time::Duration,
    ) -> Result<String, TokenError> {
        let jti = clock::random_id(&*self.inner.random).map_err(|_| TokenError::Signing)?;
        self.inner
            .tokens
            .mint_access_token(subject, session, ttl, self.inner.clock.now(), &jti)
    }

    /// Assesses a request of `identity` the way the layer does, without
    /// deciding: the score and signals (for login handlers, audits, tuning).
    /// Counters and the subject's recent networks are updated; nothing is
    /// confirmed.
    ///
    /// # Errors
    ///
    /// When a store fails.
    pub async fn assess(
        &self,
        identity: &Identity,
        parts: &http::request::Parts,
    ) -> Result<risk::Assessment, store::StoreError> {
        let p = &self.inner;
        let now = p.clock.now();
        let input = p.risk_input(&parts.headers, &parts.extensions, true);
        let subject = identity.subject();
        let (assessment, pending) =
            evaluate::assess(&p.risk, &p.stores, subject, &input, now).await?;
        evaluate::settle(&p.risk, &p.stores, subject, pending, false, now).await?;
        Ok(assessment)
    }

    /// Revokes every token of `subject` issued until now (log out everywhere).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn revoke_subject(&self, subject: &str) -> Result<(), store::StoreError> {
        let p = &self.inner;
        p.stores
            .revocation
            .revoke_subject(subject, p.tokens.revocation_ttl(), p.clock.now())
            .await
    }

    /// Revokes one token by its `jti` until its expiry `exp` (Unix seconds).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn revoke_token(&self, jti: &str, exp: u64) -> Result<(), store::StoreError> {
        let p = &self.inner;
        p.stores
            .revocation
            .revoke_token(
                jti,
                Timestamp::from_secs(exp.saturating_add(300)),
                p.clock.now(),
            )
            .await
    }
}

/// The verified identity of the request, for handlers behind
/// [`RaspStepUp`].
///
/// Without one (an unauthenticated request that monitor mode let through,
/// or a route whose level needs no identity), the handler answers what the
/// layer would have: 401 `invalid_token`, never 500. Use `Option<Identity>`
/// where an identity is optional. Without the layer in front of the route,
/// both answer 500 (misassembled layers; logged).
#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Identity {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        match identity_of(parts).ok_or_else(misassembled)? {
            Some(id) => Ok(id),
            None => {
                let ctx = parts.extensions.get::<evaluate::StepUpContext>();
                let incident = ctx.map_or_else(
                    || "unavailable".to_owned(),
                    |c| evaluate::incident(&c.policy.inner),
                );
                Err(respond::respond(Decision::Reject(Rejection::new(
                    RejectionKind::InvalidToken,
                    incident,
                ))))
            }
        }
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Identity {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        identity_of(parts).ok_or_else(misassembled)
    }
}

/// The identity the layer verified (`Some(None)` when it verified none);
/// `None` when no layer ran in front of the handler.
#[cfg(feature = "axum")]
fn identity_of(parts: &http::request::Parts) -> Option<Option<Identity>> {
    if let Some(id) = parts.extensions.get::<Identity>() {
        return Some(Some(id.clone()));
    }
    parts
        .extensions
        .get::<evaluate::StepUpContext>()
        .map(|_| None)
}

/// The 500 of an identity extractor without the layer in front (logged).
#[cfg(feature = "axum")]
fn misassembled() -> axum::response::Response {
    tracing::error!(
        target: "rasp::decision",
        "Identity extractor used on a route without the RaspStepUp layer in front"
    );
    respond::respond(Decision::Reject(Rejection::new(
        RejectionKind::Misconfigured,
        "misconfigured".into(),
    )))
}
