//! The demo bank: login, account, transfer (high), admin settings
//! (critical), public search, and the step-up verify route.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ipnet::IpNet;
use rasp_stepup::risk::{ClientAddressHeader, GeoIp, GeoIpError};
use rasp_stepup::{
    Clock, ConfigError, Exclusion, Identity, IdentityProvider, InspectionRules, LoginSubject, Mode,
    OsRandom, Policy, PolicyBuilder, Random, RandomError, RaspStepUp, Sensitive, Sensitivity,
    StepUpState, SystemClock, TokenConfig, TotpSecret, step_up_routes,
};
use rasp_stepup::{RiskRules, Stores};
use rasp_stepup_redis::{RedisStore, RedisStoreError};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::demo::{Demo, DemoError};

/// The demo user.
pub const DEMO_USER: &str = "alice";
/// The demo user's password.
pub const DEMO_PASSWORD: &str = "correct horse battery staple";
/// The demo user's TOTP secret (base32). Demo only.
pub const DEMO_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// Lifetime of base tokens minted by `/login`.
pub const LOGIN_TTL: Duration = Duration::from_secs(3600);
/// Token issuer.
pub const ISSUER: &str = "bank";
/// Token audience.
pub const AUDIENCE: &str = "bank-api";

/// How to build the bank.
#[derive(Debug)]
pub struct BankOptions {
    /// 32-byte Ed25519 seed for token signing (random per process by default).
    pub token_seed: [u8; 32],
    /// Enforce or monitor.
    pub mode: Mode,
    /// An optional TOML policy document applied over the built-in table.
    pub policy_toml: Option<String>,
    /// Proxies whose client-address header is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The header those proxies write the client's address into (default
    /// `X-Forwarded-For`; no other is read).
    pub client_address_header: ClientAddressHeader,
    /// Prefix length under which IPv6 clients are counted (default 64).
    pub ipv6_prefix: u8,
    /// MaxMind City database.
    pub geoip_city: Option<PathBuf>,
    /// MaxMind ASN database.
    pub geoip_asn: Option<PathBuf>,
    /// MaxMind Anonymous IP database.
    pub geoip_anonymous: Option<PathBuf>,
    /// Shared state in Redis (`redis://host:port/db`) instead of memory.
    pub redis_url: Option<String>,
    /// Shared state in a Redis Cluster instead: some of its nodes
    /// (`redis://host:port`; the rest are discovered). Excludes `redis_url`.
    pub redis_cluster: Vec<String>,
    /// Key prefix in Redis.
    pub redis_prefix: String,
    /// The demonstration routes' database (`sqlite:…` or `postgres://…`;
    /// `None`: SQLite in memory).
    pub database_url: Option<String>,
    /// The folder `/demo/export` reads (`None`: demo files in a temporary
    /// folder).
    pub data_dir: Option<PathBuf>,
    /// `host:port` pairs `/demo/webhook-test` fetches without the URL guard.
    pub webhook_allow: Vec<String>,
    /// An identity provider whose access tokens are accepted beside the
    /// bank's own `/login` tokens.
    pub identity_provider: Option<ProviderOptions>,
}

/// Where an identity provider's keys come from, and the claims its
/// tokens must carry.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// The key source.
    pub keys: ProviderKeys,
    /// The `iss` of its tokens (for [`ProviderKeys::Oidc`], the issuer
    /// URL itself).
    pub issuer: String,
    /// The `aud` its tokens must name (default [`AUDIENCE`]).
    pub audience: String,
}

/// An identity provider's key source.
#[derive(Debug, Clone)]
pub enum ProviderKeys {
    /// A JWK Set URL (`--jwks-url`).
    Jwks(String),
    /// OpenID Connect discovery at the issuer (`--oidc-issuer`).
    Oidc,
}

/// The bank could not be configured.
#[derive(Debug)]
pub enum BankError {
    /// The policy was invalid.
    Policy(ConfigError),
    /// A GeoIP database could not be loaded.
    GeoIp(GeoIpError),
    /// The Redis store could not be set up.
    Redis(RedisStoreError),
    /// The demonstration routes could not be set up.
    Demo(DemoError),
}

impl std::fmt::Display for BankError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Policy(e) => write!(f, "{e}"),
            Self::GeoIp(e) => write!(f, "{e}"),
            Self::Redis(e) => write!(f, "{e}"),
            Self::Demo(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BankError {}

impl From<ConfigError> for BankError {
    fn from(e: ConfigError) -> Self {
        Self::Policy(e)
    }
}

impl From<RedisStoreError> for BankError {
    fn from(e: RedisStoreError) -> Self {
        Self::Redis(e)
    }
}

impl From<DemoError> for BankError {
    fn from(e: DemoError) -> Self {
        Self::Demo(e)
    }
}

impl From<GeoIpError> for BankError {
    fn from(e: GeoIpError) -> Self {
        Self::GeoIp(e)
    }
}

impl BankOptions {
    /// Defaults with a random signing seed.
    ///
    /// # Errors
    ///
    /// When the OS randomness source fails.
    pub fn random() -> Result<Self, RandomError> {
        let mut token_seed = [0u8; 32];
        OsRandom.fill(&mut token_seed)?;
        Ok(Self {
            token_seed,
            ..Self::with_seed(token_seed)
        })
    }

    /// Defaults with a given signing seed.
    #[must_use]
    pub fn with_seed(token_seed: [u8; 32]) -> Self {
        Self {
            token_seed,
            mode: Mode::Enforce,
            policy_toml: None,
            trusted_proxies: Vec::new(),
            client_address_header: ClientAddressHeader::default(),
            ipv6_prefix: 64,
            geoip_city: None,
            geoip_asn: None,
            geoip_anonymous: None,
            redis_url: None,
            redis_cluster: Vec::new(),
            redis_prefix: "bank:".into(),
            database_url: None,
            data_dir: None,
            identity_provider: None,
            webhook_allow: Vec::new(),
        }
    }
}

/// The bank's risk rules: trusted proxies and GeoIP databases from `opts`.
///
/// # Errors
///
/// A database that cannot be loaded.
pub fn risk_rules(opts: &BankOptions) -> Result<RiskRules, GeoIpError> {
    // Replicas share the signing seed, so they can share the device-cookie key too.
    let mut h = Sha256::new();
    h.update(b"bank device cookie\0");
    h.update(opts.token_seed);
    let device_key: [u8; 32] = h.finalize().into();
    let mut rules = RiskRules::default()
        .trusted_proxies(opts.trusted_proxies.iter().copied())
        .client_address_header(opts.client_address_header.clone())
        .ipv6_prefix(opts.ipv6_prefix)
        .device_cookie("rasp_did", device_key);
    if opts.geoip_city.is_some() || opts.geoip_asn.is_some() || opts.geoip_anonymous.is_some() {
        let mut g = GeoIp::new();
        if let Some(p) = &opts.geoip_city {
            g = g.with_city(p)?;
        }
        if let Some(p) = &opts.geoip_asn {
            g = g.with_asn(p)?;
        }
        if let Some(p) = &opts.geoip_anonymous {
            g = g.with_anonymous(p)?;
        }
        rules = rules.locator(g);
    }
    Ok(rules)
}

/// The bank's policy builder: the route table and token settings.
pub fn policy_builder(opts: &BankOptions) -> PolicyBuilder {
    Policy::builder()
        .route("POST", "/transfer", Sensitivity::High)
        .route("*", "/admin/settings", Sensitivity::Critical)
        .route("GET", "/search", Sensitivity::Public)
        .login_route("POST", "/login")
        // a password is any string the user chose: never judged as code
        .inspection(InspectionRules::default().exclude(Exclusion {
            route: Some("/login".into()),
            key: Some("body.password".into()),
            rule: None,
            class: None,
        }))
        .mode(opts.mode)
        .tokens(token_config(opts))
}

fn token_config(opts: &BankOptions) -> TokenConfig {
    let tokens = TokenConfig::ed25519_from_seed(opts.token_seed)
        .issuer(ISSUER)
        .audience(AUDIENCE);
    let Some(idp) = &opts.identity_provider else {
        return tokens;
    };
    let provider = match &idp.keys {
        ProviderKeys::Jwks(url) => IdentityProvider::jwks(url, &idp.issuer),
        ProviderKeys::Oidc => IdentityProvider::oidc(&idp.issuer),
    };
    tokens.identity_provider(provider.audience(&idp.audience))
}

/// The bank's policy again, from `toml` (the policy file as it reads
/// now), keeping the running policy's stores: challenges in flight, used
/// codes, failure counts and risk history survive a reload.
///
/// # Errors
///
/// An invalid policy document (the running policy stays as it was).
pub fn reload_policy(
    opts: &BankOptions,
    toml: Option<String>,
    running: &Policy,
    clock: impl Clock,
) -> Result<Policy, BankError> {
    let mut b = policy_builder(opts)
        .with_clock(clock)
        .risk(risk_rules(opts)?)
        .with_stores(running.stores().clone());
    if let Some(doc) = &toml {
        b = b.toml(doc)?;
    }
    Ok(b.build()?)
}

/// Builds the bank's policy with the given clock.
///
/// # Errors
///
/// An invalid policy document.
pub fn policy(opts: &BankOptions, clock: impl Clock) -> Result<Policy, BankError> {
    let mut b = policy_builder(opts)
        .with_clock(clock)
        .risk(risk_rules(opts)?);
    let redis = match (&opts.redis_url, opts.redis_cluster.as_slice()) {
        (Some(url), []) => Some(RedisStore::builder(url.as_str())),
        (None, []) => None,
        (None, nodes) => Some(RedisStore::cluster(nodes.iter().cloned())),
        (Some(_), _) => {
            return Err(BankError::Redis(RedisStoreError::new(
                "a Redis URL and a Redis Cluster exclude each other",
            )));
        }
    };
    if let Some(redis) = redis {
        let store = redis.prefix(opts.redis_prefix.as_str()).connect()?;
        b = b.with_stores(Stores::from_backend(Arc::new(store)));
    }
    if let Some(doc) = &opts.policy_toml {
        b = b.toml(doc)?;
    }
    Ok(b.build()?)
}

/// The demo users' TOTP secrets.
///
/// # Panics
///
/// Never: the demo secret is a constant valid base32 string.
#[must_use]
pub fn totp_secrets() -> HashMap<String, TotpSecret> {
    let secret =
        TotpSecret::from_base32(DEMO_TOTP_SECRET).expect("the demo secret is valid base32");
    HashMap::from([(DEMO_USER.to_owned(), secret)])
}

/// The bank router for `policy`, with the embedded demonstration routes
/// (SQLite in memory, demo files in a temporary folder; left out when that
/// folder cannot be made).
pub fn app(policy: Policy) -> Router {
    app_with(policy, Demo::embedded().ok().as_ref())
}

/// The bank router for `policy` and the demonstration routes of `demo`.
pub fn app_with(policy: Policy, demo: Option<&Demo>) -> Router {
    let login_policy = policy.clone();
    let demo = demo.map_or_else(Router::new, Demo::routes);
    Router::new()
        .route("/account", get(account))
        .route("/transfer", post(transfer))
        .route("/payees", post(add_payee).layer(Sensitive::high()))
        .route("/admin/settings", get(get_settings).post(set_settings))
        .route("/search", get(search))
        // deliberately vulnerable, each guarded by its sink guard
        .merge(demo)
        // inside the layer: a login route (the policy marks it) has its own
        // per-address quota, inspection and failure counting
        .route(
            "/login",
            post(move |body| login(login_policy.clone(), body)),
        )
        // before the layer, so that it covers paths no route matches too:
        // they are inspected and counted against the address quota, and
        // answered at the default level (a 401 without a token)
        .fallback(not_found)
        .layer(RaspStepUp::new(policy.clone()))
        .merge(step_up_routes(StepUpState::new(policy, totp_secrets())))
}

/// Builds the bank with the system clock.
///
/// # Errors
///
/// An invalid policy document.
pub fn system_app(opts: &BankOptions) -> Result<(Router, Policy), BankError> {
    let policy = policy(opts, SystemClock)?;
    let demo = demo(opts)?;
    Ok((app_with(policy.clone(), Some(&demo)), policy))
}

/// The demonstration routes' state from `opts`.
///
/// # Errors
///
/// An unsupported database URL, or a data folder that cannot be made.
pub fn demo(opts: &BankOptions) -> Result<Demo, DemoError> {
    Demo::new(
        opts.database_url.as_deref(),
        opts.data_dir.as_deref(),
        &opts.webhook_allow,
    )
}

pub(crate) fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body =
        json!({"type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail});
    (
        status,
        [(axum::http::header::CONTENT_TYPE, rasp_stepup::PROBLEM_JSON)],
        body.to_string(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

async fn login(policy: Policy, body: axum::body::Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<LoginBody>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "expected JSON {\"username\", \"password\"}",
        );
    };
    let user_ok: bool = req.username.as_bytes().ct_eq(DEMO_USER.as_bytes()).into();
    let pass_ok: bool = req
        .password
        .as_bytes()
        .ct_eq(DEMO_PASSWORD.as_bytes())
        .into();
    if !(user_ok & pass_ok) {
        let mut res = problem(
            StatusCode::UNAUTHORIZED,
            "Invalid credentials",
            "unknown user or wrong password",
        );
        // the layer counts the failure against this user too
        res.extensions_mut()
            .insert(LoginSubject(req.username.chars().take(128).collect()));
        return res;
    }
    let mut sid = [0u8; 16];
    if OsRandom.fill(&mut sid).is_err() {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", "try again");
    }
    let sid: String = sid.iter().map(|b| format!("{b:02x}")).collect();
    match policy.issue_access_token(DEMO_USER, &sid, LOGIN_TTL) {
        Ok(token) => Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": LOGIN_TTL.as_secs(),
        }))
        .into_response(),
        Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", "try again"),
    }
}

async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "Not found", "no such route")
}

async fn account(identity: Identity) -> Json<Value> {
    Json(json!({"subject": identity.subject(), "balance": 1250.00, "currency": "EUR"}))
}

#[derive(Deserialize)]
struct TransferBody {
    to: String,
    amount: f64,
}

async fn transfer(identity: Identity, body: axum::body::Bytes) -> Response {
    let Ok(t) = serde_json::from_slice::<TransferBody>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "expected JSON {\"to\", \"amount\"}",
        );
    };
    if !(t.amount.is_finite() && t.amount > 0.0) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "amount must be a positive number",
        );
    }
    Json(json!({"status": "sent", "from": identity.subject(), "to": t.to, "amount": t.amount}))
        .into_response()
}

async fn add_payee(identity: Identity, body: axum::body::Bytes) -> Response {
    let payee: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Json(json!({"status": "added", "owner": identity.subject(), "payee": payee})).into_response()
}

async fn get_settings(identity: Identity) -> Json<Value> {
    Json(json!({"admin": identity.subject(), "settings": {"daily_limit": 10000}}))
}

async fn set_settings(identity: Identity, body: axum::body::Bytes) -> Response {
    let Ok(settings) = serde_json::from_slice::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "expected a JSON object",
        );
    };
    Json(json!({"status": "updated", "admin": identity.subject(), "settings": settings}))
        .into_response()
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search(Query(q): Query<SearchQuery>) -> Json<Value> {
    Json(json!({"q": q.q, "results": []}))
}
