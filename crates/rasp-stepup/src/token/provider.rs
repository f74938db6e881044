//! Base tokens from identity providers (feature `jwks`): keys from a JWKS URL
//! or an OpenID Connect issuer's discovery document, cached with their HTTP
//! cache lifetime, refetched when a token names an unknown key, and kept
//! for a bounded time while the provider cannot be reached.
//!
//! What is accepted, per provider:
//! - signatures by the provider's published public keys only; each key's
//!   algorithm is pinned by its type (`RSA`: RS256/384/512 and
//!   PS256/384/512, `EC` P-256: ES256, P-384: ES384, `OKP` Ed25519: EdDSA),
//!   narrowed to the key's own `alg` when it names one and to
//!   [`IdentityProvider::algorithms`]. Symmetric (`oct`) keys, encryption
//!   keys and RSA keys under 2048 bits are ignored;
//! - `iss` equal to the provider's issuer, `aud` containing its audience,
//!   `sub`, `iat` and `exp` present, a `typ` from its token types.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{IdentityData, TokenError, map_jwt_error};
use crate::clock::Timestamp;
use crate::error::ConfigError;
use crate::token::Identity;

/// The largest key set or discovery document read (bytes).
const MAX_DOCUMENT: usize = 256 * 1024;
/// Keys kept from one key set; the rest are ignored.
const MAX_KEYS: usize = 64;
/// Bounds on a key set's cache lifetime, whatever the provider's
/// `Cache-Control` says.
const MIN_LIFETIME: Duration = Duration::from_secs(60);
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The lifetime when the provider sends no `max-age`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
enum Source {
    Jwks(String),
    Discovery,
}

/// An identity provider whose access tokens are accepted as base tokens,
/// beside the policy's own (Auth0, Okta, Keycloak, Entra ID, any OpenID
/// Connect provider). Added with
/// [`TokenConfig::identity_provider`](crate::TokenConfig::identity_provider);
/// several may be added. Elevated tokens are always the policy's own.
///
/// ```
/// use rasp_stepup::{IdentityProvider, TokenConfig};
///
/// let tokens = TokenConfig::ed25519_from_seed([7; 32])
///     .issuer("bank")
///     .audience("bank-api")
///     .identity_provider(
///         IdentityProvider::oidc("https://login.example.com/")
///             .audience("https://api.example.com"),
///     );
/// # let _ = tokens;
/// ```
///
/// # Keys
///
/// Fetched on the first token of the provider, then cached for the key
/// set's `Cache-Control: max-age` (clamped to 1 min – 24 h; 15 min
/// without one). A token naming a `kid` the cache lacks triggers a refetch,
/// at most once per [`refetch_interval`](Self::refetch_interval). When the
/// provider cannot be reached, the keys it last served stay in use for
/// [`max_stale`](Self::max_stale) past their lifetime; after that (or
/// before a first successful fetch) its tokens are answered as a failing
/// store is: 503 where the route fails closed. A `kid` still unknown after
/// a successful refetch is `invalid_token`.
///
/// # Sessions
///
/// Elevated tokens are bound to the base token's session. Many providers'
/// access tokens carry no `sid`: the session is then derived from `iss`,
/// `sub` and `auth_time` (`idp-` and a digest), so an elevated token works
/// with every access token of the same login (refreshed tokens keep
/// `auth_time`) and not with another login's. Without `auth_time` either,
/// every session of the subject at this provider shares one session id.
/// [`session_claim`](Self::session_claim) names another claim (Keycloak's
/// `session_state`, for instance).
#[must_use]
#[derive(Clone)]
pub struct IdentityProvider {
    source: Source,
    pub(crate) issuer: String,
    audience: Option<String>,
    algorithms: Vec<Algorithm>,
    token_types: Vec<String>,
    session_claim: String,
    subject_prefix: String,
    refetch_interval: Duration,
    max_stale: Duration,
    timeout: Duration,
    client: Option<reqwest::Client>,
}

impl fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("source", &self.source)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algorithms", &self.algorithms)
            .field("token_types", &self.token_types)
            .field("session_claim", &self.session_claim)
            .field("subject_prefix", &self.subject_prefix)
            .field("refetch_interval", &self.refetch_interval)
            .field("max_stale", &self.max_stale)
            .finish_non_exhaustive()
    }
}

impl IdentityProvider {
    fn new(source: Source, issuer: String) -> Self {
        Self {
            source,
            issuer,
            audience: None,
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
            ],
            token_types: vec!["at+jwt".into(), "JWT".into()],
            session_claim: "sid".into(),
            subject_prefix: String::new(),
            refetch_interval: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(5),
            client: None,
        }
    }

    /// Keys from the JWK Set at `jwks_url`; tokens must carry `iss` equal
    /// to `issuer`. `https`, or `http` on a loopback host only.
    pub fn jwks(jwks_url: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self::new(Source::Jwks(jwks_url.into()), issuer.into())
    }

    /// Keys found through OpenID Connect discovery:
    /// `<issuer>/.well-known/openid-configuration` names the `jwks_uri`.
    /// The document's `issuer` must equal `issuer` exactly, as must the
    /// tokens' `iss` (OpenID Connect Discovery 1.0, §4.3).
    pub fn oidc(issuer: impl Into<String>) -> Self {
        Self::new(Source::Discovery, issuer.into())
    }

    /// The audience the tokens must name in `aud` (required).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Signature algorithms accepted (default: RS256/384/512,
    /// PS256/384/512, ES256, ES384, EdDSA). Symmetric algorithms are
    /// refused: anyone holding a shared key could mint.
    pub fn algorithms<I: IntoIterator<Item = Algorithm>>(mut self, algorithms: I) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Accepted `typ` header values (default `at+jwt` and `JWT`).
    pub fn token_types<I, T>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.token_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// The claim holding the session id (default `sid`); see the type's
    /// docs for what is used when the token has none.
    pub fn session_claim(mut self, claim: impl Into<String>) -> Self {
        self.session_claim = claim.into();
        self
    }

    /// Put before every subject of this provider (default none), so that
    /// its users cannot collide with the app's own or another provider's.
    /// Step-up factors are looked up by the prefixed subject.
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.subject_prefix = prefix.into();
        self
    }

    /// Least time between two fetches of the key set (default 30 s, 1 s –
    /// 1 h): an unknown `kid` causes at most one fetch per interval.
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// How long past its lifetime a key set stays in use while the
    /// provider cannot be reached (default 24 h, at most 7 days).
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Time limit of one fetch (default 5 s, 1–60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The HTTP client for fetches (proxies, extra root certificates). The
    /// default one has TLS with the platform's roots and follows up to 3
    /// redirects.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        reason: reason.into(),
    }
}

/// `https`, or `http` to a loopback host: keys fetched in clear text over a
/// network could be swapped by anyone on the path.
fn check_url(setting: &'static str, raw: &str) -> Result<(), ConfigError> {
    let url = url::Url::parse(raw).map_err(|e| invalid(setting, format!("{raw:?}: {e}")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(invalid(
                    setting,
                    format!("{raw:?}: http only to a loopback host; use https"),
                ))
            }
        }
        other => Err(invalid(
            setting,
            format!("{raw:?}: scheme {other:?}, not https"),
        )),
    }
}

/// One usable key of a key set.
struct Key {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// A fetched key set and how long it may be used.
#[derive(Default)]
struct KeySet {
    keys: Vec<Key>,
    /// Refetch after this.
    fresh_until: Timestamp,
    /// Never used after this.
    usable_until: Timestamp,
}

impl KeySet {
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Key> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid) && k.algorithms.contains(&alg)),
            // No `kid`: only a key set with one key for the algorithm.
            None => {
                let mut fit = self.keys.iter().filter(|k| k.algorithms.contains(&alg));
                let first = fit.next()?;
                fit.next().is_none().then_some(first)
            }
        }
    }
}

/// What the single fetcher remembers between fetches.
#[derive(Default)]
struct FetchState {
    last_attempt: Option<Timestamp>,
    last_failed: bool,
    jwks_uri: Option<String>,
}

/// A provider ready to verify tokens.
pub(crate) struct Provider {
    config: IdentityProvider,
    audience: String,
    client: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// Held while fetching: one fetch at a time per provider.
    fetch: tokio::sync::Mutex<FetchState>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct ProviderClaims {
    sub: String,
    iat: u64,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    acr: Option<String>,
    #[serde(default)]
    amr: Option<Vec<String>>,
    #[serde(default)]
    auth_time: Option<u64>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// The algorithms a key of this shape may verify, before narrowing.
fn key_algorithms(jwk: &Jwk) -> Option<Vec<Algorithm>> {
    use Algorithm as A;
    Some(match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(rsa.n.trim_end_matches('='))
                .ok()?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < 2048 {
                return None;
            }
            vec![A::RS256, A::RS384, A::RS512, A::PS256, A::PS384, A::PS512]
        }
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![A::ES256],
            EllipticCurve::P384 => vec![A::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => vec![A::EdDSA],
            _ => return None,
        },
        _ => return None,
    })
}

fn key_alg(alg: KeyAlgorithm) -> Option<Algorithm> {
    use KeyAlgorithm as K;
    Some(match alg {
        K::RS256 => Algorithm::RS256,
        K::RS384 => Algorithm::RS384,
        K::RS512 => Algorithm::RS512,
        K::PS256 => Algorithm::PS256,
        K::PS384 => Algorithm::PS384,
        K::PS512 => Algorithm::PS512,
        K::ES256 => Algorithm::ES256,
        K::ES384 => Algorithm::ES384,
        K::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The usable keys of a JWK Set: signature keys of the accepted types, each
/// with the algorithms it may verify. Unusable members are skipped, not
/// fatal: providers publish encryption keys and new key types beside
/// their signing keys.
fn usable_keys(set: RawKeySet, accepted: &[Algorithm]) -> Vec<Key> {
    let mut keys = Vec::new();
    for raw in set.keys.into_iter().take(MAX_KEYS) {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
            continue;
        };
        if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        let Some(mut algorithms) = key_algorithms(&jwk) else {
            continue;
        };
        if let Some(named) = jwk.common.key_algorithm {
            let Some(named) = key_alg(named) else {
                continue;
            };
            algorithms.retain(|a| *a == named);
        }
        algorithms.retain(|a| accepted.contains(a));
        if algorithms.is_empty() {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        keys.push(Key {
            kid: jwk.common.key_id,
            algorithms,
            key,
        });
    }
    keys
}

/// `max-age` of a `Cache-Control` header, unless `no-store`/`no-cache`.
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let mut age = None;
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        for directive in value.to_str().ok()?.split(',') {
            let directive = directive.trim();
            if directive.eq_ignore_ascii_case("no-store")
                || directive.eq_ignore_ascii_case("no-cache")
            {
                return Some(Duration::ZERO);
            }
            if let Some((name, v)) = directive.split_once('=')
                && name.trim().eq_ignore_ascii_case("max-age")
            {
                age = v
                    .trim()
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
    }
    age
}

impl Provider {
    pub(crate) fn new(config: IdentityProvider, own_issuer: &str) -> Result<Self, ConfigError> {
        if config.issuer.is_empty() {
            return Err(invalid(
                "tokens.identity_providers.issuer",
                "must not be empty",
            ));
        }
        if config.issuer == own_issuer {
            return Err(invalid(
                "tokens.identity_providers.issuer",
                format!("{:?} is the policy's own issuer", config.issuer),
            ));
        }
        match &config.source {
            Source::Jwks(url) => check_url("tokens.identity_providers.jwks_url", url)?,
            Source::Discovery => check_url("tokens.identity_providers.issuer", &config.issuer)?,
        }
        let audience = config
            .audience
            .clone()
            .filter(|a| !a.is_empty())
            .ok_or(ConfigError::Missing("tokens.identity_providers.audience"))?;
        if config.algorithms.is_empty() {
            return Err(invalid(
                "tokens.identity_providers.algorithms",
                "at least one is needed",
            ));
        }
        if let Some(a) = config
            .algorithms
            .iter()
            .find(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            return Err(invalid(
                "tokens.identity_providers.algorithms",
                format!("{a:?} is symmetric: anyone with the key could mint tokens"),
            ));
        }
        if config.token_types.is_empty() {
            return Err(invalid(
                "tokens.identity_providers.token_types",
                "at least one is needed",
            ));
        }
        if config
            .token_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(super::ELEVATED_TOKEN_TYPE))
        {
            return Err(invalid(
                "tokens.identity_providers.token_types",
                format!(
                    "{:?} is reserved for elevated tokens",
                    super::ELEVATED_TOKEN_TYPE
                ),
            ));
        }
        if config.session_claim.is_empty() {
            return Err(invalid(
                "tokens.identity_providers.session_claim",
                "must not be empty",
            ));
        }
        let range = |setting, v: Duration, lo: u64, hi: u64| {
            if v < Duration::from_secs(lo) || v > Duration::from_secs(hi) {
                Err(invalid(
                    setting,
                    format!("must be between {lo} s and {hi} s"),
                ))
            } else {
                Ok(())
            }
        };
        range(
            "tokens.identity_providers.refetch_interval",
            config.refetch_interval,
            1,
            3600,
        )?;
        range(
            "tokens.identity_providers.max_stale",
            config.max_stale,
            0,
            7 * 24 * 3600,
        )?;
        range("tokens.identity_providers.timeout", config.timeout, 1, 60)?;
        let client = match &config.client {
            Some(c) => c.clone(),
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .map_err(|e| invalid("tokens.identity_providers", format!("HTTP client: {e}")))?,
        };
        Ok(Self {
            audience,
            client,
            keys: RwLock::new(Arc::default()),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            config,
        })
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub(crate) fn accepts_type(&self, typ: &str) -> bool {
        self.config
            .token_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(typ))
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Verifies a token this provider issued (its `iss` said so, unverified).
    pub(crate) async fn verify(
        &self,
        token: &str,
        header: &jsonwebtoken::Header,
        now: Timestamp,
    ) -> Result<Identity, TokenError> {
        let typ = header.typ.as_deref().ok_or(TokenError::WrongType)?;
        if !self.accepts_type(typ) {
            return Err(TokenError::WrongType);
        }
        let alg = header.alg;
        if !self.config.algorithms.contains(&alg) {
            return Err(TokenError::Invalid);
        }
        let keys = self.keys_for(header.kid.as_deref(), alg, now).await?;
        let key = &keys
            .find(header.kid.as_deref(), alg)
            .ok_or(TokenError::Invalid)?
            .key;
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.audience]);
        let c = jsonwebtoken::decode::<ProviderClaims>(token, key, &validation)
            .map_err(map_jwt_error)?
            .claims;
        let session = match c.rest.get(&self.config.session_claim) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(TokenError::Malformed),
            None => self.derived_session(&c.sub, c.auth_time),
        };
        Ok(Identity::from_data(IdentityData {
            subject: format!("{}{}", self.config.subject_prefix, c.sub),
            session,
            acr: c.acr,
            amr: c.amr.unwrap_or_default(),
            auth_time: c.auth_time,
            elevated: false,
            token_id: c.jti,
            issued_at: c.iat,
            expires_at: c.exp,
            not_before: c.nbf,
            device: None,
        }))
    }

    /// `idp-` and a digest of issuer, subject and `auth_time`.
    fn derived_session(&self, sub: &str, auth_time: Option<u64>) -> String {
        let mut h = Sha256::new();
        h.update(self.config.issuer.as_bytes());
        h.update([0]);
        h.update(sub.as_bytes());
        h.update([0]);
        if let Some(t) = auth_time {
            h.update(t.to_be_bytes());
        }
        let d = h.finalize();
        format!(
            "idp-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d[..12])
        )
    }

    /// A key set holding a key for (`kid`, `alg`) when one can be had.
    async fn keys_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        now: Timestamp,
    ) -> Result<Arc<KeySet>, TokenError> {
        let set = self.current();
        let known = set.find(kid, alg).is_some();
        if known && now < set.fresh_until {
            return Ok(set);
        }
        if known {
            // Stale but known: one request refreshes, the others go on with
            // the keys they have while those are usable.
            if let Ok(mut state) = self.fetch.try_lock()
                && self.may_fetch(&state, now)
            {
                self.refresh(&mut state, now).await;
            }
            let set = self.current();
            return if now < set.usable_until {
                Ok(set)
            } else {
                Err(TokenError::KeysUnavailable)
            };
        }
        // Unknown key: wait for the fetcher (another request may be
        // fetching this very key), then fetch if the interval allows.
        let mut state = self.fetch.lock().await;
        let set = self.current();
        if set.find(kid, alg).is_some() && now < set.usable_until {
            return Ok(set);
        }
        if self.may_fetch(&state, now) {
            self.refresh(&mut state, now).await;
        }
        let set = self.current();
        if set.find(kid, alg).is_some() && now < set.usable_until {
            Ok(set)
        } else if state.last_failed || now >= set.usable_until {
            Err(TokenError::KeysUnavailable)
        } else {
            Err(TokenError::Invalid)
        }
    }

    fn may_fetch(&self, state: &FetchState, now: Timestamp) -> bool {
        state
            .last_attempt
            .is_none_or(|t| now >= t.plus(self.config.refetch_interval))
    }

    async fn refresh(&self, state: &mut FetchState, now: Timestamp) {
        state.last_attempt = Some(now);
        match self.fetch_keys(state).await {
            Ok((keys, lifetime)) => {
                state.last_failed = false;
                let lifetime = lifetime
                    .unwrap_or(DEFAULT_LIFETIME)
                    .clamp(MIN_LIFETIME, MAX_LIFETIME);
                tracing::info!(
                    target: "rasp::tokens",
                    issuer = %self.config.issuer,
                    keys = keys.len(),
                    lifetime_s = lifetime.as_secs(),
                    "identity provider keys fetched"
                );
                crate::metrics::key_fetch(&self.config.issuer, "ok");
                let fresh_until = now.plus(lifetime);
                let set = KeySet {
                    keys,
                    fresh_until,
                    usable_until: fresh_until.plus(self.config.max_stale),
                };
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
            }
            Err(why) => {
                state.last_failed = true;
                // A discovery document may have moved the key set.
                if matches!(self.config.source, Source::Discovery) {
                    state.jwks_uri = None;
                }
                tracing::warn!(
                    target: "rasp::tokens",
                    issuer = %self.config.issuer,
                    error = %why,
                    "identity provider keys could not be fetched; keeping the last ones while usable"
                );
                crate::metrics::key_fetch(&self.config.issuer, "error");
            }
        }
    }

    async fn fetch_keys(
        &self,
        state: &mut FetchState,
    ) -> Result<(Vec<Key>, Option<Duration>), String> {
        let jwks_uri = match (&self.config.source, &state.jwks_uri) {
            (Source::Jwks(url), _) => url.clone(),
            (Source::Discovery, Some(url)) => url.clone(),
            (Source::Discovery, None) => {
                let base = self.config.issuer.trim_end_matches('/');
                let url = format!("{base}/.well-known/openid-configuration");
                let (doc, _) = self.get_json::<Discovery>(&url).await?;
                if doc.issuer != self.config.issuer {
                    return Err(format!(
                        "the discovery document names issuer {:?}, not {:?}",
                        doc.issuer, self.config.issuer
                    ));
                }
                check_url("jwks_uri", &doc.jwks_uri).map_err(|e| e.to_string())?;
                state.jwks_uri = Some(doc.jwks_uri.clone());
                doc.jwks_uri
            }
        };
        let (set, lifetime) = self.get_json::<RawKeySet>(&jwks_uri).await?;
        let keys = usable_keys(set, &self.config.algorithms);
        if keys.is_empty() {
            return Err("the key set holds no usable signature key".into());
        }
        Ok((keys, lifetime))
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<(T, Option<Duration>), String> {
        let mut response = self
            .client
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .timeout(self.config.timeout)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT as u64)
        {
            return Err(format!("{url}: larger than {MAX_DOCUMENT} bytes"));
        }
        let lifetime = max_age(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(format!("{url}: larger than {MAX_DOCUMENT} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let doc = serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))?;
        Ok((doc, lifetime))
    }
}

/// The `iss` of a token's payload, read without verifying anything: it
/// only picks the provider whose keys then verify the token.
pub(crate) fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok()?.iss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_loopback_http() {
        for ok in [
            "https://idp.example.com/jwks",
            "http://127.0.0.1:8080/jwks",
            "http://[::1]/jwks",
            "http://localhost/jwks",
        ] {
            assert!(check_url("x", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com/jwks",
            "ftp://127.0.0.1/",
            "not a url",
            "http://10.0.0.1/",
        ] {
            assert!(check_url("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_control_max_age() {
        let mut h = http::HeaderMap::new();
        assert_eq!(max_age(&h), None);
        h.insert(
            http::header::CACHE_CONTROL,
            "public, max-age=3600, must-revalidate".parse().unwrap(),
        );
        assert_eq!(max_age(&h), Some(Duration::from_secs(3600)));
        h.insert(http::header::CACHE_CONTROL, "no-store".parse().unwrap());
        assert_eq!(max_age(&h), Some(Duration::ZERO));
    }

    #[test]
    fn unusable_keys_are_skipped_not_fatal() {
        let set: RawKeySet = serde_json::from_str(
            r#"{"keys":[
                {"kty":"oct","k":"c2VjcmV0","kid":"hmac"},
                {"kty":"EC","crv":"P-256","kid":"enc","use":"enc",
                 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
                {"kty":"EC","crv":"P-256","kid":"sig","use":"sig",
                 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
                {"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"},
                {"kty":"XYZ","kid":"future"}
            ]}"#,
        )
        .unwrap();
        let keys = usable_keys(set, &[Algorithm::ES256, Algorithm::RS256]);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("sig"));
        assert_eq!(keys[0].algorithms, vec![Algorithm::ES256]);
    }

    #[test]
    fn the_issuer_is_read_from_the_payload() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"iss":"https://idp"}"#);
        assert_eq!(
            unverified_issuer(&format!("e30.{payload}.sig")).as_deref(),
            Some("https://idp")
        );
        assert_eq!(unverified_issuer("garbage"), None);
    }
}
