//! What each route requires, and everything the layer needs to enforce it.
//!
//! A [`Policy`] is built once, validated as a whole ([`PolicyBuilder::build`]
//! never panics and reports the first bad setting as a [`ConfigError`]) and
//! shared by the layer and the companion routes (clones are cheap handles).
//!
//! ```
//! use rasp_stepup::{Policy, Sensitivity, TokenConfig};
//!
//! let policy = Policy::builder()
//!     .route("POST", "/transfer", Sensitivity::High)
//!     .route("*", "/admin/{*rest}", Sensitivity::Critical)
//!     .route("GET", "/search", Sensitivity::Public)
//!     .tokens(TokenConfig::ed25519_from_seed([7; 32]).issuer("bank").audience("bank-api"))
//!     .build()
//!     .expect("valid policy");
//! assert_eq!(policy.sensitivity_of("POST", "/transfer"), Sensitivity::High);
//! assert_eq!(policy.sensitivity_of("GET", "/account"), Sensitivity::Authenticated);
//! ```

pub(crate) mod file;
mod risk_file;
mod routes;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use routes::{RouteKey, RouteTable, parse_method};

use crate::clock::{Clock, OsRandom, Random, SystemClock};
use crate::identity::IdentityExtractor;
use crate::inspect::{InspectionRules, Inspector};
use crate::risk::{DeviceCookie, RiskRules};
use crate::runtime::{Runtime, ThrottleLog};
use crate::store::{Stores, SubjectLimits};
use crate::token::{TokenConfig, Tokens};

use crate::error::ConfigError;
use crate::level::{PerLevel, Sensitivity};

/// What a sensitivity level requires of the caller's authentication.
///
/// ```
/// use rasp_stepup::Requirement;
/// use std::time::Duration;
///
/// let strict = Requirement::step_up(["mfa"], Duration::from_secs(60));
/// assert_eq!(strict.max_age(), Some(Duration::from_secs(60)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Requirement {
    pub(crate) authenticated: bool,
    pub(crate) acr_values: Vec<String>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) risk_step_up: f32,
    pub(crate) risk_reject: f32,
}

impl Requirement {
    /// Nothing required.
    #[must_use]
    pub fn none() -> Self {
        Self {
            authenticated: false,
            acr_values: Vec::new(),
            max_age: None,
            risk_step_up: f32::INFINITY,
            risk_reject: f32::INFINITY,
        }
    }

    /// A valid identity, any authentication strength.
    #[must_use]
    pub fn authenticated() -> Self {
        Self {
            authenticated: true,
            ..Self::none()
        }
    }

    /// One of `acr_values`, verified at most `max_age` ago.
    #[must_use]
    pub fn step_up<I, A>(acr_values: I, max_age: Duration) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<String>,
    {
        Self {
            authenticated: true,
            acr_values: acr_values.into_iter().map(Into::into).collect(),
            max_age: Some(max_age),
            ..Self::none()
        }
    }

    /// Risk thresholds (0–100) used by the risk engine: at or above
    /// `step_up` a satisfied requirement is challenged again; at or above
    /// `reject` the request is rejected.
    #[must_use]
    pub fn risk_thresholds(mut self, step_up: f32, reject: f32) -> Self {
        self.risk_step_up = step_up;
        self.risk_reject = reject;
        self
    }

    /// Accepted `acr` values; empty when any authentication will do.
    #[must_use]
    pub fn acr_values(&self) -> &[String] {
        &self.acr_values
    }

    /// Longest time since the factor was verified.
    #[must_use]
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// Whether an identity is required at all.
    #[must_use]
    pub fn needs_identity(&self) -> bool {
        self.authenticated
    }

    /// The step-up risk threshold.
    #[must_use]
    pub fn risk_step_up(&self) -> f32 {
        self.risk_step_up
    }

    /// The reject risk threshold.
    #[must_use]
    pub fn risk_reject(&self) -> f32 {
        self.risk_reject
    }
}

fn default_requirements() -> PerLevel<Requirement> {
    PerLevel::new([
        Requirement::none(),
        Requirement::authenticated().risk_thresholds(60.0, 90.0),
        Requirement::step_up(["mfa"], Duration::from_secs(600)).risk_thresholds(40.0, 80.0),
        Requirement::step_up(["mfa"], Duration::from_secs(120)).risk_thresholds(30.0, 70.0),
    ])
}

/// How decision events write the client's address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogAddresses {
    /// The whole address (the default).
    #[default]
    Full,
    /// IPv4 to its /24, IPv6 to its /48: the network, not the host.
    Truncated,
    /// No address.
    Omitted,
}

/// Whether decisions are enforced or only reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Mode {
    /// Non-allow decisions answer the client (401/403/429/503).
    #[default]
    Enforce,
    /// Every request passes; the would-be decision is logged and attached to
    /// the response extensions as [`Monitored`](crate::Monitored).
    Monitor,
}

/// What to do when a store (or the randomness source) fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FailMode {
    /// Let the request through and log the failure.
    Open,
    /// Answer 503 with `Retry-After`.
    Closed,
}

/// Settings of the challenge and verification flow.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StepUpSettings {
    pub(crate) challenge_ttl: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) subject_limits: SubjectLimits,
    pub(crate) verify_uri: String,
    pub(crate) totp_skew: u8,
}

impl Default for StepUpSettings {
    fn default() -> Self {
        Self {
            challenge_ttl: Duration::from_secs(300),
            max_attempts: 5,
            subject_limits: SubjectLimits::default(),
            verify_uri: "/step-up/verify".into(),
            totp_skew: 1,
        }
    }
}

/// The validated, shared policy. Cheap to clone (an `Arc`).
///
/// ```
/// use rasp_stepup::{Policy, Sensitivity, TokenConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = Policy::builder()
///     .route("POST", "/transfer", Sensitivity::High)
///     .tokens(TokenConfig::ed25519_from_seed([1; 32]).issuer("bank").audience("bank-api"))
///     .toml("[levels.high]\nmax_age = 300")?
///     .build()?;
/// assert_eq!(policy.sensitivity_of("POST", "/transfer"), Sensitivity::High);
/// // base tokens for apps that use the policy's key as their session issuer
/// let token = policy.issue_access_token("alice", "s1", std::time::Duration::from_secs(3600))?;
/// # let _ = token; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Policy {
    pub(crate) inner: Arc<PolicyInner>,
}

pub(crate) struct PolicyInner {
    pub(crate) mode: Mode,
    /// How decision events write client addresses.
    pub(crate) log_addresses: LogAddresses,
    /// Renders the layer's own answers, when the application gives one.
    pub(crate) responder: Option<Arc<dyn crate::decision::Responder>>,
    /// Whether 401 answers carry `WWW-Authenticate: Bearer …`.
    pub(crate) bearer_challenges: bool,
    pub(crate) default_sensitivity: Sensitivity,
    pub(crate) requirements: PerLevel<Requirement>,
    pub(crate) fail_modes: PerLevel<FailMode>,
    pub(crate) routes: RouteTable,
    /// Routes where clients prove who they are (login routes and the
    /// step-up verify route): method (`None`: any) and template.
    pub(crate) entries: Vec<(Option<http::Method>, String)>,
    pub(crate) tokens: Tokens,
    pub(crate) step_up: StepUpSettings,
    pub(crate) identity: Option<Arc<dyn IdentityExtractor>>,
    pub(crate) risk: RiskRules,
    pub(crate) device_cookie: Option<DeviceCookie>,
    pub(crate) inspector: Inspector,
    /// The shared state: stores, clock, randomness, what is counted.
    pub(crate) rt: Runtime,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Policy")
            .field("mode", &i.mode)
            .field("default_sensitivity", &i.default_sensitivity)
            .field("requirements", &i.requirements)
            .field("routes", &i.routes.keys())
            .field("tokens", &i.tokens)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Mints a base access token for `subject` in `session`, valid for `ttl`,
    /// with this policy's key, issuer, audience and clock (for apps whose
    /// login is served by the same process).
    ///
    /// # Errors
    ///
    /// [`TokenError::Signing`](crate::TokenError::Signing) when the key or randomness source fails.
    pub fn issue_access_token(
        &self,
        subject: &str,
        session: &str,
        ttl: std::time::Duration,
    ) -> Result<String, crate::token::TokenError> {
        let jti = crate::clock::random_id(&*self.inner.rt.random)
            .map_err(|_| crate::token::TokenError::Signing)?;
        self.inner
            .tokens
            .mint_access_token(subject, session, ttl, self.inner.rt.clock.now(), &jti)
    }

    /// Revokes every token of `subject` issued until now (log out everywhere).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn revoke_subject(&self, subject: &str) -> Result<(), crate::store::StoreError> {
        let p = &self.inner;
        p.rt.stores
            .revocation
            .revoke_subject(subject, p.tokens.revocation_ttl(), p.rt.clock.now())
            .await
    }

    /// Revokes one token by its `jti` until its expiry `exp` (Unix seconds).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn revoke_token(&self, jti: &str, exp: u64) -> Result<(), crate::store::StoreError> {
        let p = &self.inner;
        p.rt.stores
            .revocation
            .revoke_token(
                jti,
                crate::clock::Timestamp::from_secs(exp.saturating_add(300)),
                p.rt.clock.now(),
            )
            .await
    }

    /// Starts a policy.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// The enforcement mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// The requirement of a sensitivity level.
    #[must_use]
    pub fn requirement(&self, level: Sensitivity) -> &Requirement {
        &self.inner.requirements[level]
    }

    /// The sensitivity the route table (and the default) gives a request,
    /// matching `path` against the table's templates (as the layer does
    /// without Axum's `MatchedPath`).
    #[must_use]
    pub fn sensitivity_of(&self, method: &str, path: &str) -> Sensitivity {
        let Ok(Some(method)) = parse_method(method) else {
            return self.inner.default_sensitivity;
        };
        self.inner.sensitivity(&method, None, path).0
    }

    /// The token settings (to mint base tokens in apps that use this crate's
    /// key as their session issuer).
    #[must_use]
    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// The stores.
    #[must_use]
    pub fn stores(&self) -> &Stores {
        &self.inner.rt.stores
    }

    /// The clock decisions are made with.
    #[must_use]
    pub fn clock(&self) -> &dyn Clock {
        &*self.inner.rt.clock
    }

    /// How often each exclusion matched so far.
    #[must_use]
    pub fn exclusion_report(&self) -> Vec<crate::inspect::ExclusionReport> {
        self.inner.inspector.exclusions.report()
    }

    /// Exclusions that never matched (each is also logged as a warning,
    /// target `rasp::policy`, when this is called): an exclusion that
    /// silently does nothing is a misconfiguration.
    #[must_use]
    pub fn unused_exclusions(&self) -> Vec<String> {
        let unused: Vec<String> = self
            .exclusion_report()
            .into_iter()
            .filter(|r| r.hits == 0)
            .map(|r| r.exclusion)
            .collect();
        for e in &unused {
            tracing::warn!(target: "rasp::policy", exclusion = %e, "exclusion never matched");
        }
        unused
    }

    #[cfg(feature = "axum")]
    pub(crate) fn route_keys(&self) -> &[RouteKey] {
        self.inner.routes.keys()
    }
}

impl PolicyInner {
    /// (sensitivity, template) of a request.
    pub(crate) fn sensitivity<'a>(
        &'a self,
        method: &http::Method,
        matched: Option<&'a str>,
        path: &str,
    ) -> (Sensitivity, Option<&'a str>) {
        // Both the route Axum matched and every table pattern the raw path
        // matches apply; the strictest wins. A wildcard key therefore also
        // covers routes registered under more specific templates.
        let by_route = matched.and_then(|m| self.routes.lookup(method, m));
        let pattern = self.routes.pattern_match(path);
        let by_pattern = pattern.and_then(|t| self.routes.lookup(method, t));
        let level = by_route.max(by_pattern).unwrap_or(self.default_sensitivity);
        (level, matched.or(pattern))
    }

    /// Whether `template` (the matched route, else the raw path) is a route
    /// where clients prove who they are.
    pub(crate) fn is_entry(&self, method: &http::Method, template: &str) -> bool {
        self.entries
            .iter()
            .any(|(m, t)| t == template && m.as_ref().is_none_or(|m| m == method))
    }

    /// The per-address quota of requests at `level` (`entry`: on a login or
    /// verify route), if any.
    pub(crate) fn address_quota(
        &self,
        level: Sensitivity,
        entry: bool,
    ) -> Option<crate::risk::Quota> {
        if entry {
            self.risk.rate.per_client_entry
        } else {
            self.risk.rate.per_client[level]
        }
    }

    /// The per-address quota of a request at `level` (`entry`: on a login
    /// or verify route) from `ip`, with the key it is counted under.
    pub(crate) fn client_quota(
        &self,
        level: Sensitivity,
        entry: bool,
        ip: std::net::IpAddr,
    ) -> Option<(crate::store::RateKey, crate::risk::Quota)> {
        let quota = self.address_quota(level, entry)?;
        let ip = self.risk.address_key(ip);
        let key = if entry {
            crate::store::RateKey::Entry(ip)
        } else {
            crate::store::RateKey::Client(level, ip)
        };
        Some((key, quota))
    }
}

/// Builds a [`Policy`]. Every setter takes and returns the builder by value.
///
/// ```
/// use std::time::Duration;
/// use rasp_stepup::{FailMode, InspectionRules, Mode, Policy, Requirement, Sensitivity, TokenConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = Policy::builder()
///     .route("POST", "/transfer", Sensitivity::High)
///     .route("*", "/admin/{*rest}", Sensitivity::Critical)
///     .login_route("POST", "/login")
///     .requirement(Sensitivity::Critical, Requirement::step_up(["mfa"], Duration::from_secs(60)))
///     .fail_mode(Sensitivity::Public, FailMode::Open)
///     .inspection(InspectionRules::default().level(3))
///     .mode(Mode::Monitor) // log what enforce mode would do, first
///     .tokens(TokenConfig::ed25519_from_seed([2; 32]).issuer("bank").audience("bank-api"))
///     .build()?;
/// # let _ = policy; Ok(()) }
/// ```
#[must_use]
pub struct PolicyBuilder {
    routes: Vec<(String, String, Sensitivity)>,
    login_routes: Vec<(String, String)>,
    mode: Mode,
    log_addresses: LogAddresses,
    responder: Option<Arc<dyn crate::decision::Responder>>,
    bearer_challenges: bool,
    default_sensitivity: Sensitivity,
    requirements: PerLevel<Requirement>,
    fail_modes: PerLevel<FailMode>,
    tokens: Option<TokenConfig>,
    step_up: StepUpSettings,
    stores: Option<Stores>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    identity: Option<Arc<dyn IdentityExtractor>>,
    risk: RiskRules,
    pub(crate) inspection: InspectionRules,
    file_tokens: crate::token::TokenSection,
}

impl Default for PolicyBuilder {
    fn default() -> Self {
        Self {
            routes: Vec::new(),
            login_routes: Vec::new(),
            mode: Mode::Enforce,
            log_addresses: LogAddresses::Full,
            responder: None,
            bearer_challenges: true,
            default_sensitivity: Sensitivity::Authenticated,
            requirements: default_requirements(),
            fail_modes: PerLevel::new([
                FailMode::Open,
                FailMode::Closed,
                FailMode::Closed,
                FailMode::Closed,
            ]),
            tokens: None,
            step_up: StepUpSettings::default(),
            stores: None,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
            identity: None,
            risk: RiskRules::default(),
            inspection: InspectionRules::default(),
            file_tokens: crate::token::TokenSection::default(),
        }
    }
}

impl fmt::Debug for PolicyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyBuilder")
            .field("routes", &self.routes)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl PolicyBuilder {
    /// Adds a route-table key: `method` (`"GET"`, `"POST"`, ... or `"*"`) and
    /// an Axum route template (`"/users/{id}"`, `"/admin/{*rest}"`).
    ///
    /// When several keys (and a route-site [`Sensitive`](crate::Sensitive)
    /// annotation) apply, the strictest wins.
    pub fn route(mut self, method: &str, template: &str, level: Sensitivity) -> Self {
        self.routes
            .push((method.to_owned(), template.to_owned(), level));
        self
    }

    /// Marks a route where clients prove who they are (the app's login,
    /// a password reset): public (no token needed), with its own
    /// per-address quota ([`RateRules::per_client_entry`](crate::risk::RateRules::per_client_entry),
    /// shared with the step-up verify route), its inputs inspected, and its
    /// 401 and 403 answers counted as authentication failures of the
    /// client's address (and of the subject the app names in a
    /// [`LoginSubject`](crate::LoginSubject) response extension), which
    /// raise the risk of that address and subject. The route must sit
    /// inside the [`RaspStepUp`](crate::RaspStepUp) layer.
    pub fn login_route(mut self, method: &str, template: &str) -> Self {
        self.routes
            .push((method.to_owned(), template.to_owned(), Sensitivity::Public));
        self.login_routes
            .push((method.to_owned(), template.to_owned()));
        self
    }

    /// The sensitivity of routes the table does not list
    /// (default: [`Sensitivity::Authenticated`]).
    ///
    /// # Security
    ///
    /// [`Sensitivity::Public`] makes every unlisted route unauthenticated.
    pub fn default_sensitivity(mut self, level: Sensitivity) -> Self {
        self.default_sensitivity = level;
        self
    }

    /// Replaces the requirement of one sensitivity level.
    pub fn requirement(mut self, level: Sensitivity, requirement: Requirement) -> Self {
        self.requirements[level] = requirement;
        self
    }

    /// Enforce (default) or monitor.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Renders the layer's own answers (challenges, rejections, throttles)
    /// in the application's format; the status and the protocol headers
    /// stay the layer's (see [`Responder`](crate::Responder)).
    pub fn responder(mut self, responder: impl crate::decision::Responder) -> Self {
        self.responder = Some(Arc::new(responder));
        self
    }

    /// Whether 401 answers carry `WWW-Authenticate: Bearer …` (default:
    /// on, as RFC 6750 and RFC 9470 have it for bearer tokens). Apps whose
    /// clients authenticate with a session cookie turn it off: their 401s
    /// then carry the problem+json body (with `challenge_id` and
    /// `verify_uri` for a step-up) and no bearer wording.
    pub fn bearer_challenges(mut self, on: bool) -> Self {
        self.bearer_challenges = on;
        self
    }

    /// How decision events write the client's address (default: whole).
    /// Events also carry the request's method and id (`X-Request-Id`, or
    /// one the layer makes and echoes in its own answers).
    pub fn log_addresses(mut self, how: LogAddresses) -> Self {
        self.log_addresses = how;
        self
    }

    /// What to do when a store fails on routes of `level`
    /// (default: open for public, closed otherwise).
    pub fn fail_mode(mut self, level: Sensitivity, mode: FailMode) -> Self {
        self.fail_modes[level] = mode;
        self
    }

    /// Keys and claims of base and elevated tokens (required).
    pub fn tokens(mut self, tokens: TokenConfig) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Lifetime of a challenge (default 300 s).
    pub fn challenge_ttl(mut self, ttl: Duration) -> Self {
        self.step_up.challenge_ttl = ttl;
        self
    }

    /// Wrong codes a challenge accepts before it is burned (default 5).
    pub fn max_attempts_per_challenge(mut self, n: u32) -> Self {
        self.step_up.max_attempts = n;
        self
    }

    /// Failure limits per subject across challenges.
    pub fn subject_limits(mut self, limits: SubjectLimits) -> Self {
        self.step_up.subject_limits = limits;
        self
    }

    /// The path of the companion verify route, as put in challenges
    /// (default `/step-up/verify`).
    pub fn verify_uri(mut self, uri: impl Into<String>) -> Self {
        self.step_up.verify_uri = uri.into();
        self
    }

    /// Accepted TOTP clock skew in 30-second steps (default 1, at most 2).
    pub fn totp_skew(mut self, steps: u8) -> Self {
        self.step_up.totp_skew = steps;
        self
    }

    /// The stores (default: in memory).
    pub fn with_stores(mut self, stores: Stores) -> Self {
        self.stores = Some(stores);
        self
    }

    /// The clock (default: the system clock).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The randomness source (default: the OS CSPRNG).
    pub fn with_random(mut self, random: impl Random) -> Self {
        self.random = Arc::new(random);
        self
    }

    /// Identifies callers by the app's own means (cookie sessions...) instead
    /// of `Authorization: Bearer` base tokens. Elevated tokens are still read
    /// from `Authorization: Bearer`.
    pub fn with_identity(mut self, extractor: impl IdentityExtractor) -> Self {
        self.identity = Some(Arc::new(extractor));
        self
    }

    /// Adaptive risk: trusted proxies, rate quotas, location, device and
    /// behaviour signals (default: on, without a location source).
    pub fn risk(mut self, rules: RiskRules) -> Self {
        self.risk = rules;
        self
    }

    /// Injection inspection: inputs, body limits, level, exclusions
    /// (default: on at level 2, 64 KiB bodies, 413 above).
    pub fn inspection(mut self, rules: InspectionRules) -> Self {
        self.inspection = rules;
        self
    }

    /// Applies a TOML policy document (see `docs/policy.md`) on top of the
    /// settings made so far.
    ///
    /// # Errors
    ///
    /// [`ConfigError::File`] when the document is not valid TOML, has unknown
    /// keys or values of the wrong type.
    pub fn toml(self, document: &str) -> Result<Self, ConfigError> {
        let parsed: file::PolicyFile =
            toml::from_str(document).map_err(|e| ConfigError::File(e.to_string()))?;
        parsed.apply(self)
    }

    /// Reads and applies a TOML policy file (see [`PolicyBuilder::toml`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError::File`] when the file cannot be read or parsed.
    pub fn toml_file(self, path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::File(format!("{}: {e}", path.display())))?;
        self.toml(&text)
    }

    /// Validates everything and builds the policy.
    ///
    /// # Errors
    ///
    /// The first invalid or missing setting.
    pub fn build(self) -> Result<Policy, ConfigError> {
        let mut keys = Vec::with_capacity(self.routes.len());
        for (method, template, sensitivity) in self.routes {
            keys.push(RouteKey {
                method: parse_method(&method)?,
                template,
                sensitivity,
            });
        }
        let routes = RouteTable::new(keys)?;
        let mut entries = Vec::with_capacity(self.login_routes.len() + 1);
        for (method, template) in self.login_routes {
            entries.push((parse_method(&method)?, template));
        }
        entries.push((Some(http::Method::POST), self.step_up.verify_uri.clone()));
        validate_requirements(&self.requirements)?;
        if let Some(code) = self.risk.unknown_weights.first() {
            let known: Vec<_> = crate::risk::SignalCode::ALL
                .iter()
                .map(|c| c.as_str())
                .collect();
            return Err(ConfigError::Invalid {
                setting: "risk.weight",
                reason: format!("unknown signal code {code:?} (known: {})", known.join(", ")),
            });
        }
        validate_step_up(&self.step_up)?;
        let tokens = self
            .tokens
            .ok_or(ConfigError::Missing("tokens"))?
            .apply_file(self.file_tokens)?;
        let tokens = Tokens::new(tokens)?;
        crate::inspect::validate(&self.inspection).map_err(|reason| ConfigError::Invalid {
            setting: "inspection",
            reason,
        })?;
        let device_cookie = match &self.risk.device_cookie {
            None => None,
            Some((name, key)) => Some(device_cookie(name, *key, &*self.random)?),
        };
        Ok(Policy {
            inner: Arc::new(PolicyInner {
                mode: self.mode,
                log_addresses: self.log_addresses,
                responder: self.responder,
                bearer_challenges: self.bearer_challenges,
                default_sensitivity: self.default_sensitivity,
                requirements: self.requirements,
                fail_modes: self.fail_modes,
                routes,
                entries,
                tokens,
                step_up: self.step_up,
                identity: self.identity,
                risk: self.risk,
                device_cookie,
                inspector: Inspector::new(self.inspection),
                rt: Runtime {
                    stores: self.stores.unwrap_or_default(),
                    clock: self.clock,
                    random: self.random,
                    throttle_log: ThrottleLog::default(),
                    methods: std::sync::RwLock::default(),
                },
            }),
        })
    }
}

/// High and critical levels authenticate; a `max_age` is positive and
/// required with `acr_values`.
fn validate_requirements(requirements: &PerLevel<Requirement>) -> Result<(), ConfigError> {
    for (level, req) in requirements.iter() {
        if level >= Sensitivity::High && !req.authenticated {
            return Err(ConfigError::Invalid {
                setting: "levels",
                reason: format!("level {level} must require authentication"),
            });
        }
        if req.max_age.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::Invalid {
                setting: "levels.max_age",
                reason: format!("level {level}: max_age must be positive"),
            });
        }
        if !req.acr_values.is_empty() && req.max_age.is_none() {
            return Err(ConfigError::Invalid {
                setting: "levels.max_age",
                reason: format!("level {level}: acr_values need a max_age"),
            });
        }
    }
    Ok(())
}

/// The challenge flow's settings within their documented bounds.
fn validate_step_up(s: &StepUpSettings) -> Result<(), ConfigError> {
    let invalid = |setting: &'static str, reason: &str| ConfigError::Invalid {
        setting,
        reason: reason.into(),
    };
    if s.challenge_ttl.is_zero() || s.challenge_ttl > Duration::from_secs(3600) {
        return Err(invalid(
            "step_up.challenge_ttl",
            "must be between 1 s and 1 h",
        ));
    }
    if !(1..=20).contains(&s.max_attempts) {
        return Err(invalid("step_up.max_attempts", "must be between 1 and 20"));
    }
    let l = &s.subject_limits;
    if l.hard_cap == 0 || l.hard_cap > 100 {
        return Err(invalid(
            "step_up.hard_cap",
            "must be between 1 and 100 (NIST SP 800-63B)",
        ));
    }
    if l.max_failures == 0 || l.window.is_zero() {
        return Err(invalid(
            "step_up.max_failures",
            "max_failures and window must be positive",
        ));
    }
    if s.totp_skew > 2 {
        return Err(invalid("step_up.totp_skew", "at most 2 steps"));
    }
    if !s.verify_uri.starts_with('/') {
        return Err(invalid("step_up.verify_uri", "must be an absolute path"));
    }
    Ok(())
}

/// The device cookie: a valid cookie name, and its key (random when none
/// was given).
fn device_cookie(
    name: &str,
    key: Option<[u8; 32]>,
    random: &dyn Random,
) -> Result<DeviceCookie, ConfigError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ConfigError::Invalid {
            setting: "risk.device_cookie",
            reason: format!("invalid cookie name {name:?}"),
        });
    }
    let key = match key {
        Some(k) => k,
        None => {
            let mut k = [0u8; 32];
            random
                .fill(&mut k)
                .map_err(|e| ConfigError::InvalidKey(e.to_string()))?;
            k
        }
    };
    Ok(DeviceCookie::new(name.to_owned(), key))
}
