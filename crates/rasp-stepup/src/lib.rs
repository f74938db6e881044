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
//! The flow as a client walks it, in process (a real client sends the
//! same requests over HTTP; the wire format is in the repository's
//! `docs/step-up-protocol.md`):
//!
//! ```
//! use std::collections::HashMap;
//! use std::time::Duration;
//! use axum::{Router, body::Body, routing::post};
//! use http::{Request, StatusCode};
//! use rasp_stepup::{
//!     Policy, RaspStepUp, Sensitivity, StepUpState, TokenConfig, TotpSecret, step_up_routes,
//! };
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::builder()
//!     .route("POST", "/transfer", Sensitivity::High)
//!     .tokens(TokenConfig::ed25519_from_seed([9; 32]).issuer("bank").audience("bank-api"))
//!     .build()?;
//! let secret = TotpSecret::generate()?; // enrolled in alice's authenticator app
//! let app = Router::new()
//!     .route("/transfer", post(|| async { "sent" }))
//!     .layer(RaspStepUp::new(policy.clone()))
//!     .merge(step_up_routes(StepUpState::new(
//!         policy.clone(),
//!         HashMap::from([("alice".to_owned(), secret.clone())]),
//!     )));
//! // the app's own login gave alice a base token for her session
//! let base = policy.issue_access_token("alice", "session-1", Duration::from_secs(3600))?;
//! let call = |uri: &str, token: &str, body: String| {
//!     Request::post(uri)
//!         .header("authorization", format!("Bearer {token}"))
//!         .header("user-agent", "docs-client/1.0") // one device for the whole flow
//!         .header("content-type", "application/json")
//!         .body(Body::from(body))
//! };
//! let json = |res: http::Response<Body>| async move {
//!     let bytes = axum::body::to_bytes(res.into_body(), 1 << 16).await?;
//!     Ok::<_, axum::Error>(serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default())
//! };
//!
//! // 1. a high route with a base token: 401 and a challenge
//! let res = app.clone().oneshot(call("/transfer", &base, "{}".into())?).await?;
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! let challenge = json(res).await?["challenge_id"].as_str().unwrap_or_default().to_owned();
//!
//! // 2. the code from the authenticator, on the verify route
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! let body = format!(
//!     r#"{{"challenge_id":"{challenge}","method":"totp","code":"{}"}}"#,
//!     secret.code_at(now)
//! );
//! let res = app.clone().oneshot(call("/step-up/verify", &base, body)?).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! let elevated = json(res).await?["access_token"].as_str().unwrap_or_default().to_owned();
//!
//! // 3. the retry with the elevated token passes
//! let res = app.oneshot(call("/transfer", &elevated, "{}".into())?).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! # Ok(()) }
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
//! | `geoip` | yes | [`risk::GeoIp`]: location, network operator and anonymity signals from MaxMind databases (`maxminddb`) |
//! | `metrics` | yes | counters through the `metrics` facade (decisions, verifications, findings, signals, store errors, token cache; see docs/operations.md): nothing is recorded until the application installs a recorder |
//! | `jwks` | no | [`IdentityProvider`]: base tokens of an identity provider (Auth0, Okta, Keycloak, Entra ID, any OpenID Connect issuer), keys from its JWK Set fetched with `reqwest` over rustls |
//! | `sqlx-postgres`, `sqlx-sqlite`, `sqlx-mysql` | no | `sink::sqlx`: `sqlx` query builders behind the SQL guard |
//! | `reqwest` | no | `sink::UrlGuard`: the URL guard as a `reqwest-middleware` middleware |
//! | `process` | no | `sink::command`: the exec guard for `std::process::Command` |
//! | `fs` | no | `sink::checked_path` and `std::fs` wrappers behind the path guard |

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod clock;
pub mod conformance;
mod decide;
mod decision;
mod error;
mod evaluate;
mod extract;
mod identity;
pub mod inspect;
mod join;
mod layer;
mod level;
mod metrics;
mod outcome;
mod policy;
mod respond;
pub mod risk;
mod runtime;
pub mod sink;
pub mod stepup;
pub mod store;
mod token;

pub use clock::{Clock, MockClock, OsRandom, Random, RandomError, SystemClock, Timestamp};
pub use decision::{Challenge, Decision, Monitored, Rejection, RejectionKind};
pub use error::ConfigError;
pub use identity::{IdentityError, IdentityExtractor, IdentityFuture};
pub use inspect::{
    Budget, CompressedBodies, Exclusion, InspectionRules, MalformedBodies, OverBudget, OverLimit,
};
#[cfg(feature = "axum")]
pub use layer::check_routes;
pub use layer::{
    LoginSubject, RaspStepUp, RaspStepUpService, ResponseFuture, Sensitive, SensitiveService,
};
pub use level::Sensitivity;
pub use outcome::{PROBLEM_JSON, problem_types};
pub use policy::{FailMode, LogAddresses, Mode, Policy, PolicyBuilder, Requirement};
pub use respond::{Responder, invalid_token_header, step_up_header};
pub use risk::{Assessment, ClientAddressHeader, PeerAddr, RiskRules, Signal, SignalCode};
#[cfg(feature = "axum")]
pub use stepup::step_up_routes;
pub use stepup::{
    Elevation, Factor, FactorContext, FactorFuture, FactorOutcome, SecretFuture, StepUpState,
    TotpSecret, TotpSecrets, VerifyError,
};
pub use store::{MemoryStore, StoreError, Stores, SubjectLimits};
#[cfg(feature = "jwks")]
pub use token::IdentityProvider;
pub use token::{
    ACCESS_TOKEN_TYPE, ELEVATED_TOKEN_TYPE, Identity, TokenConfig, TokenError, Tokens,
};
