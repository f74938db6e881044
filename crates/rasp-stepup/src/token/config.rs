//! Token keys and claim settings, as the user gives them.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::ConfigError;

/// The `[tokens]` section of a policy file: claims settings only; keys
/// never come from the file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenSection {
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) leeway: Option<u64>,
    pub(crate) elevated_ttl: Option<u64>,
    pub(crate) base_token_types: Option<Vec<String>>,
    /// `[[tokens.identity_providers]]`: replaces the providers given in code.
    pub(crate) identity_providers: Option<Vec<ProviderSection>>,
}

/// One `[[tokens.identity_providers]]` table.
#[cfg_attr(
    not(feature = "jwks"),
    expect(
        dead_code,
        reason = "read only with the `jwks` feature; refused without it"
    )
)]
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderSection {
    jwks_url: Option<String>,
    oidc_issuer: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    algorithms: Option<Vec<String>>,
    token_types: Option<Vec<String>>,
    session_claim: Option<String>,
    subject_prefix: Option<String>,
    refetch_interval: Option<u64>,
    max_stale: Option<u64>,
    timeout: Option<u64>,
}

#[cfg(feature = "jwks")]
impl ProviderSection {
    fn into_provider(self) -> Result<super::IdentityProvider, ConfigError> {
        use super::IdentityProvider;
        let invalid = |reason: &str| ConfigError::Invalid {
            setting: "tokens.identity_providers",
            reason: reason.into(),
        };
        let mut p = match (self.jwks_url, self.oidc_issuer, self.issuer) {
            (Some(url), None, Some(iss)) => IdentityProvider::jwks(url, iss),
            (Some(_), None, None) => {
                return Err(invalid("jwks_url needs issuer (the tokens' iss)"));
            }
            (None, Some(iss), None) => IdentityProvider::oidc(iss),
            (None, Some(_), Some(_)) => {
                return Err(invalid("oidc_issuer is the tokens' iss: drop issuer"));
            }
            (Some(_), Some(_), _) => {
                return Err(invalid("jwks_url and oidc_issuer exclude each other"));
            }
            (None, None, _) => return Err(invalid("each provider needs jwks_url or oidc_issuer")),
        };
        if let Some(v) = self.audience {
            p = p.audience(v);
        }
        if let Some(names) = self.algorithms {
            let mut algs = Vec::new();
            for n in names {
                algs.push(n.parse::<jsonwebtoken::Algorithm>().map_err(|_| {
                    ConfigError::Invalid {
                        setting: "tokens.identity_providers.algorithms",
                        reason: format!(
                            "{n:?} is not a JWS algorithm (RS256, PS256, ES256, EdDSA…)"
                        ),
                    }
                })?);
            }
            p = p.algorithms(algs);
        }
        if let Some(v) = self.token_types {
            p = p.token_types(v);
        }
        if let Some(v) = self.session_claim {
            p = p.session_claim(v);
        }
        if let Some(v) = self.subject_prefix {
            p = p.subject_prefix(v);
        }
        if let Some(v) = self.refetch_interval {
            p = p.refetch_interval(Duration::from_secs(v));
        }
        if let Some(v) = self.max_stale {
            p = p.max_stale(Duration::from_secs(v));
        }
        if let Some(v) = self.timeout {
            p = p.timeout(Duration::from_secs(v));
        }
        Ok(p)
    }
}

enum KeyMaterial {
    Ed25519Seed(Zeroizing<[u8; 32]>),
    Ed25519Der {
        private_pkcs8: Zeroizing<Vec<u8>>,
        public: Vec<u8>,
    },
    Hs256(Zeroizing<Vec<u8>>),
}

/// Keys and claim settings for base and elevated tokens.
///
/// EdDSA (Ed25519) is preferred; HS256 is accepted with a key of at least
/// 256 bits. The algorithm is pinned: tokens signed with any other algorithm
/// (or `none`) are refused.
///
/// ```
/// use rasp_stepup::TokenConfig;
/// use std::time::Duration;
///
/// let tokens = TokenConfig::ed25519_from_seed([42; 32])
///     .issuer("bank")
///     .audience("bank-api")
///     .elevated_ttl(Duration::from_secs(300));
/// # let _ = tokens;
/// ```
#[must_use]
pub struct TokenConfig {
    key: KeyMaterial,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) leeway: Duration,
    pub(crate) elevated_ttl: Duration,
    pub(crate) base_types: Vec<String>,
    pub(crate) key_id: Option<String>,
    pub(crate) cache_capacity: usize,
    #[cfg(feature = "jwks")]
    pub(crate) providers: Vec<super::IdentityProvider>,
}

impl fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = match self.key {
            KeyMaterial::Hs256(_) => "HS256",
            _ => "EdDSA",
        };
        let mut d = f.debug_struct("TokenConfig");
        d.field("alg", &alg)
            .field("key", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("elevated_ttl", &self.elevated_ttl)
            .field("base_types", &self.base_types);
        #[cfg(feature = "jwks")]
        d.field("identity_providers", &self.providers);
        d.finish_non_exhaustive()
    }
}

pub(crate) struct Keys {
    pub(crate) alg: Algorithm,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    pub(crate) kid: String,
}

fn kid_of(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..9])
}

impl TokenConfig {
    fn with_key(key: KeyMaterial) -> Self {
        Self {
            key,
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(30),
            elevated_ttl: Duration::from_secs(300),
            base_types: vec!["at+jwt".into(), "JWT".into()],
            key_id: None,
            cache_capacity: 10_000,
            #[cfg(feature = "jwks")]
            providers: Vec::new(),
        }
    }

    /// Ed25519 from a private key (PKCS#8 DER) and its public key (32 raw bytes).
    ///
    /// Checked by [`PolicyBuilder::build`](crate::PolicyBuilder::build): the two
    /// keys must belong together.
    pub fn ed25519(private_pkcs8_der: &[u8], public_key: &[u8]) -> Self {
        Self::with_key(KeyMaterial::Ed25519Der {
            private_pkcs8: Zeroizing::new(private_pkcs8_der.to_vec()),
            public: public_key.to_vec(),
        })
    }

    /// Ed25519 from a 32-byte secret seed (share it between replicas).
    pub fn ed25519_from_seed(seed: [u8; 32]) -> Self {
        Self::with_key(KeyMaterial::Ed25519Seed(Zeroizing::new(seed)))
    }

    /// HMAC-SHA-256 with a shared secret of at least 32 bytes.
    ///
    /// # Security
    ///
    /// Anyone who can verify can also mint. Prefer Ed25519.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::with_key(KeyMaterial::Hs256(Zeroizing::new(secret.to_vec())))
    }

    /// The `iss` of every token (required).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud` of every token (required).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat` (default 30 s, at most 300 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Lifetime of elevated tokens (default 300 s); never longer than the
    /// `max_age` of the requirement a token is minted for.
    pub fn elevated_ttl(mut self, ttl: Duration) -> Self {
        self.elevated_ttl = ttl;
        self
    }

    /// Accepted `typ` values of base tokens (default `at+jwt` and `JWT`).
    pub fn base_token_types<I, T>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.base_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// The `kid` of minted tokens (default: derived from the public key).
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.key_id = Some(kid.into());
        self
    }

    /// Entries of the verified-token cache (default 10,000).
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// Also accept base tokens of an identity provider (feature `jwks`):
    /// its access tokens, verified with the keys it publishes. May be
    /// called once per provider; each needs its own issuer.
    #[cfg(feature = "jwks")]
    pub fn identity_provider(mut self, provider: super::IdentityProvider) -> Self {
        self.providers.push(provider);
        self
    }

    pub(crate) fn apply_file(mut self, file: TokenSection) -> Result<Self, ConfigError> {
        if let Some(v) = file.issuer {
            self.issuer = Some(v);
        }
        if let Some(v) = file.audience {
            self.audience = Some(v);
        }
        if let Some(v) = file.leeway {
            self.leeway = Duration::from_secs(v);
        }
        if let Some(v) = file.elevated_ttl {
            self.elevated_ttl = Duration::from_secs(v);
        }
        if let Some(v) = file.base_token_types {
            self.base_types = v;
        }
        if let Some(providers) = file.identity_providers {
            #[cfg(feature = "jwks")]
            {
                self.providers = providers
                    .into_iter()
                    .map(ProviderSection::into_provider)
                    .collect::<Result<_, _>>()?;
            }
            #[cfg(not(feature = "jwks"))]
            if !providers.is_empty() {
                return Err(ConfigError::Invalid {
                    setting: "tokens.identity_providers",
                    reason: "identity providers need the crate feature `jwks`".into(),
                });
            }
        }
        Ok(self)
    }

    pub(crate) fn keys(&self) -> Result<Keys, ConfigError> {
        let (alg, encoding, decoding, kid) = match &self.key {
            KeyMaterial::Ed25519Seed(seed) => {
                let sk = ed25519_dalek::SigningKey::from_bytes(seed);
                let der = sk
                    .to_pkcs8_der()
                    .map_err(|e| ConfigError::InvalidKey(e.to_string()))?;
                let public = sk.verifying_key().to_bytes();
                (
                    Algorithm::EdDSA,
                    EncodingKey::from_ed_der(der.as_bytes()),
                    DecodingKey::from_ed_der(&public),
                    kid_of(&public),
                )
            }
            KeyMaterial::Ed25519Der {
                private_pkcs8,
                public,
            } => {
                let sk = ed25519_dalek::SigningKey::from_pkcs8_der(private_pkcs8)
                    .map_err(|e| ConfigError::InvalidKey(format!("private key: {e}")))?;
                if sk.verifying_key().as_bytes().as_slice() != public.as_slice() {
                    return Err(ConfigError::InvalidKey(
                        "the public key does not belong to the private key".into(),
                    ));
                }
                (
                    Algorithm::EdDSA,
                    EncodingKey::from_ed_der(private_pkcs8),
                    DecodingKey::from_ed_der(public),
                    kid_of(public),
                )
            }
            KeyMaterial::Hs256(secret) => {
                if secret.len() < 32 {
                    return Err(ConfigError::InvalidKey(format!(
                        "an HS256 secret needs at least 256 bits, got {}",
                        secret.len() * 8
                    )));
                }
                let mut tagged = Zeroizing::new(b"hs256:".to_vec());
                tagged.extend_from_slice(secret);
                (
                    Algorithm::HS256,
                    EncodingKey::from_secret(secret),
                    DecodingKey::from_secret(secret),
                    kid_of(&Sha256::digest(&*tagged)),
                )
            }
        };
        Ok(Keys {
            alg,
            encoding,
            decoding,
            kid: self.key_id.clone().unwrap_or(kid),
        })
    }
}
