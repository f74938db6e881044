//! Base and elevated tokens: keys, validation, the verified-token cache, minting.
//!
//! Both token kinds are JWTs signed with one pinned algorithm. They are told
//! apart by their explicit `typ` header (RFC 8725 §3.11): elevated tokens are
//! `stepup+jwt`; base tokens carry one of the configured base types (default
//! `at+jwt` or `JWT`). A token of any other type, with another algorithm or
//! `none`, or without one of `exp`, `iat`, `sub`, `sid`, `iss`, `aud` is
//! refused. Time claims are checked against the policy's injected clock.

mod config;
mod identity;
#[cfg(feature = "jwks")]
mod provider;

use std::fmt;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub use config::TokenConfig;
pub(crate) use config::TokenSection;
pub use identity::Identity;
pub(crate) use identity::IdentityData;
#[cfg(feature = "jwks")]
pub use provider::IdentityProvider;

use crate::clock::Timestamp;
use crate::error::ConfigError;
use crate::store::{BoundedMap, WhenFull};

/// The `typ` of elevated tokens.
pub const ELEVATED_TOKEN_TYPE: &str = "stepup+jwt";
/// The `typ` of base tokens minted by [`Tokens::mint_access_token`] (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Why a token was refused. Shown to clients only as `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a JWT, or claims missing or of the wrong type.
    Malformed,
    /// A `typ` that is neither a base nor the elevated type.
    WrongType,
    /// Wrong algorithm, key, signature, issuer or audience.
    Invalid,
    /// `exp` has passed.
    Expired,
    /// `nbf` or `iat` lies in the future.
    NotYetValid,
    /// The session or token was revoked.
    Revoked,
    /// An elevated token presented from another device.
    WrongDevice,
    /// An elevated token presented with another session.
    WrongSession,
    /// Minting failed (key unusable).
    Signing,
    /// The keys of the token's identity provider could not be had (never
    /// fetched, or stale past their limit while the provider is down).
    /// Answered as a failing store is, not as `invalid_token`.
    KeysUnavailable,
}

impl TokenError {
    /// The `error_description` sent with `invalid_token`.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::Expired => "the access token expired",
            Self::Revoked => "the access token was revoked",
            _ => "the access token is invalid",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Malformed => "malformed token",
            Self::WrongType => "wrong token type",
            Self::Invalid => "invalid signature, algorithm, issuer or audience",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::Revoked => "token revoked",
            Self::WrongDevice => "token bound to another device",
            Self::WrongSession => "token bound to another session",
            Self::Signing => "token signing failed",
            Self::KeysUnavailable => "identity provider keys unavailable",
        };
        f.write_str(s)
    }
}

impl std::error::Error for TokenError {}

#[derive(Debug, Deserialize)]
struct BaseClaims {
    sub: String,
    sid: String,
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
}

#[derive(Debug, Serialize, Deserialize)]
struct ElevatedClaims {
    iss: String,
    sub: String,
    aud: String,
    sid: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
    auth_time: u64,
    acr: String,
    amr: Vec<String>,
    /// Device binding: the fingerprint of the device that stepped up.
    dev: String,
}

#[derive(Debug, Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    sid: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
}

/// What the verify route asks [`Tokens::mint_elevated`] to put in a token.
#[derive(Debug, Clone)]
pub(crate) struct ElevationGrant<'a> {
    pub(crate) subject: &'a str,
    pub(crate) session: &'a str,
    pub(crate) acr: &'a str,
    pub(crate) amr: &'a [String],
    pub(crate) device: &'a str,
    pub(crate) max_age: Duration,
    pub(crate) jti: &'a str,
}

/// A freshly minted elevated token.
#[derive(Debug, Clone)]
pub(crate) struct MintedToken {
    pub(crate) token: String,
    pub(crate) expires_in: u64,
}

/// Validated token settings with their keys and the verified-token cache.
pub struct Tokens {
    alg: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    issuer: String,
    audience: String,
    leeway: u64,
    elevated_ttl: Duration,
    base_types: Vec<String>,
    validation: Validation,
    cache: BoundedMap<Box<str>, Identity>,
    #[cfg(feature = "jwks")]
    providers: Vec<provider::Provider>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("elevated_ttl", &self.elevated_ttl)
            .field("base_types", &self.base_types)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    pub(crate) fn new(config: TokenConfig) -> Result<Self, ConfigError> {
        let keys = config.keys()?;
        let issuer = config.issuer.ok_or(ConfigError::Missing("tokens.issuer"))?;
        let audience = config
            .audience
            .ok_or(ConfigError::Missing("tokens.audience"))?;
        if config
            .base_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(ELEVATED_TOKEN_TYPE))
        {
            return Err(ConfigError::Invalid {
                setting: "tokens.base_token_types",
                reason: format!("{ELEVATED_TOKEN_TYPE:?} is reserved for elevated tokens"),
            });
        }
        if config.base_types.is_empty() {
            return Err(ConfigError::Invalid {
                setting: "tokens.base_token_types",
                reason: "at least one type is needed".into(),
            });
        }
        if config.elevated_ttl.is_zero() || config.elevated_ttl > Duration::from_secs(3600) {
            return Err(ConfigError::Invalid {
                setting: "tokens.elevated_ttl",
                reason: "must be between 1 s and 1 h".into(),
            });
        }
        if config.leeway > Duration::from_secs(300) {
            return Err(ConfigError::Invalid {
                setting: "tokens.leeway",
                reason: "at most 300 s".into(),
            });
        }
        #[cfg(feature = "jwks")]
        let providers = {
            let mut providers: Vec<provider::Provider> = Vec::new();
            for p in config.providers {
                if providers.iter().any(|q| q.issuer() == p.issuer) {
                    return Err(ConfigError::Invalid {
                        setting: "tokens.identity_providers.issuer",
                        reason: format!("{:?} is given twice", p.issuer),
                    });
                }
                providers.push(provider::Provider::new(p, &issuer)?);
            }
            providers
        };
        let mut validation = Validation::new(keys.alg);
        // Time claims are checked against the injected clock below; presence
        // of every registered claim we rely on is enforced here, because
        // jsonwebtoken only checks `aud`/`iss` when they are present.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        let tokens = Self {
            alg: keys.alg,
            encoding: keys.encoding,
            decoding: keys.decoding,
            kid: keys.kid,
            issuer,
            audience,
            leeway: config.leeway.as_secs(),
            elevated_ttl: config.elevated_ttl,
            base_types: config.base_types,
            validation,
            cache: BoundedMap::new(config.cache_capacity, WhenFull::EvictSoonest),
            #[cfg(feature = "jwks")]
            providers,
        };
        // Prove the key pair works now rather than on the first request.
        let probe = tokens
            .mint_access_token(
                "probe",
                "probe",
                Duration::from_secs(60),
                Timestamp::from_secs(1),
                "probe",
            )
            .map_err(|e| ConfigError::InvalidKey(e.to_string()))?;
        tokens.decode(&probe).map_err(|_| {
            ConfigError::InvalidKey("the verifying key does not match the signing key".into())
        })?;
        Ok(tokens)
    }

    /// The key id (`kid`) put in minted tokens.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// The pinned algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Mints a base access token (`typ: at+jwt`) for apps that use this
    /// policy's key as their session issuer (the example server does).
    ///
    /// # Errors
    ///
    /// [`TokenError::Signing`] when the key cannot sign.
    pub fn mint_access_token(
        &self,
        subject: &str,
        session: &str,
        ttl: Duration,
        now: Timestamp,
        jti: &str,
    ) -> Result<String, TokenError> {
        let mut header = Header::new(self.alg);
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        header.kid = Some(self.kid.clone());
        let iat = now.as_secs();
        let claims = AccessClaims {
            iss: &self.issuer,
            sub: subject,
            aud: &self.audience,
            sid: session,
            iat,
            exp: iat + ttl.as_secs(),
            jti,
        };
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|_| TokenError::Signing)
    }

    pub(crate) fn mint_elevated(
        &self,
        grant: &ElevationGrant<'_>,
        now: Timestamp,
    ) -> Result<MintedToken, TokenError> {
        let mut header = Header::new(self.alg);
        header.typ = Some(ELEVATED_TOKEN_TYPE.into());
        header.kid = Some(self.kid.clone());
        let ttl = self.elevated_ttl.min(grant.max_age).as_secs().max(1);
        let iat = now.as_secs();
        let claims = ElevatedClaims {
            iss: self.issuer.clone(),
            sub: grant.subject.to_owned(),
            aud: self.audience.clone(),
            sid: grant.session.to_owned(),
            iat,
            nbf: iat,
            exp: iat + ttl,
            jti: grant.jti.to_owned(),
            auth_time: iat,
            acr: grant.acr.to_owned(),
            amr: grant.amr.to_vec(),
            dev: grant.device.to_owned(),
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|_| TokenError::Signing)?;
        Ok(MintedToken {
            token,
            expires_in: ttl,
        })
    }

    /// Verifies a bearer token (signature, type, issuer, audience, required
    /// claims, time), answering from the cache when it was verified before.
    ///
    /// Revocation and device binding are the caller's next steps.
    pub(crate) async fn verify(&self, token: &str, now: Timestamp) -> Result<Identity, TokenError> {
        let cached = self.cache.get(token, now);
        crate::metrics::token_cache(cached.is_some());
        let identity = match cached {
            Some(hit) => hit,
            None => {
                let identity = self.decode_any(token, now).await?;
                let expires =
                    Timestamp::from_secs(identity.data().expires_at.saturating_add(self.leeway));
                let _ = self.cache.update(token.into(), now, |_| {
                    (Some((identity.clone(), expires)), ())
                });
                identity
            }
        };
        let d = identity.data();
        let secs = now.as_secs();
        if d.expires_at.saturating_add(self.leeway) <= secs {
            return Err(TokenError::Expired);
        }
        let not_before = d.not_before.unwrap_or(d.issued_at).max(d.issued_at);
        if not_before > secs.saturating_add(self.leeway) {
            return Err(TokenError::NotYetValid);
        }
        Ok(identity)
    }

    /// An identity provider's token when its (unverified) `iss` names one,
    /// else the policy's own.
    async fn decode_any(&self, token: &str, now: Timestamp) -> Result<Identity, TokenError> {
        #[cfg(feature = "jwks")]
        if !self.providers.is_empty() {
            let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
            let elevated = header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(ELEVATED_TOKEN_TYPE));
            if !elevated
                && let Some(iss) = provider::unverified_issuer(token)
                && let Some(p) = self.providers.iter().find(|p| p.issuer() == iss)
            {
                return p.verify(token, &header, now).await;
            }
        }
        #[cfg(not(feature = "jwks"))]
        let _ = now;
        self.decode(token)
    }

    fn decode(&self, token: &str) -> Result<Identity, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let typ = header.typ.as_deref().ok_or(TokenError::WrongType)?;
        if typ.eq_ignore_ascii_case(ELEVATED_TOKEN_TYPE) {
            if header.kid.as_deref() != Some(self.kid.as_str()) {
                return Err(TokenError::Invalid);
            }
            let data =
                jsonwebtoken::decode::<ElevatedClaims>(token, &self.decoding, &self.validation)
                    .map_err(map_jwt_error)?
                    .claims;
            return Ok(Identity::from_data(IdentityData {
                subject: data.sub,
                session: data.sid,
                acr: Some(data.acr),
                amr: data.amr,
                auth_time: Some(data.auth_time),
                elevated: true,
                token_id: Some(data.jti),
                issued_at: data.iat,
                expires_at: data.exp,
                not_before: Some(data.nbf),
                device: Some(data.dev),
            }));
        }
        if !self.base_types.iter().any(|t| t.eq_ignore_ascii_case(typ)) {
            return Err(TokenError::WrongType);
        }
        let c = jsonwebtoken::decode::<BaseClaims>(token, &self.decoding, &self.validation)
            .map_err(map_jwt_error)?
            .claims;
        Ok(Identity::from_data(IdentityData {
            subject: c.sub,
            session: c.sid,
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

    /// Longest lifetime of a token this policy accepts for revocation
    /// bookkeeping: an epoch must outlive every token issued before it.
    pub(crate) fn revocation_ttl(&self) -> Duration {
        Duration::from_secs(7 * 24 * 3600)
    }
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> TokenError {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) | K::MissingRequiredClaim(_) => {
            TokenError::Malformed
        }
        K::ExpiredSignature => TokenError::Expired,
        K::ImmatureSignature => TokenError::NotYetValid,
        _ => TokenError::Invalid,
    }
}
