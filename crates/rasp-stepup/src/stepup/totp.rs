//! TOTP (RFC 6238): secrets, enrolment helpers and the TOTP [`Factor`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{Factor, FactorContext, FactorFuture, FactorOutcome};
use crate::clock::{OsRandom, Random, RandomError};
use crate::store::StoreError;

/// TOTP time step (RFC 6238 default).
pub const TOTP_STEP: u64 = 30;
/// TOTP code length.
pub const TOTP_DIGITS: u8 = 6;

/// A TOTP shared secret. Redacted in `Debug`, zeroized on drop.
///
/// ```
/// use rasp_stepup::TotpSecret;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = TotpSecret::generate()?; // 160 random bits, at enrolment
/// let same = TotpSecret::from_base32(&secret.to_base32())?; // as stored
/// assert_eq!(secret.code_at(1_800_000_000), same.code_at(1_800_000_000));
/// assert_eq!(secret.code_at(1_800_000_000).len(), 6);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TotpSecret(Arc<Zeroizing<Vec<u8>>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// A secret could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// Not valid base32 (RFC 4648).
    Base32,
    /// Shorter than 128 bits (RFC 4226 §4 R6).
    TooShort {
        /// Bits given.
        bits: usize,
    },
    /// The randomness source failed.
    Random,
    /// Issuer or account name not usable in an `otpauth://` URI.
    Uri(String),
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Base32 => f.write_str("secret is not valid base32"),
            Self::TooShort { bits } => write!(f, "secret has {bits} bits, at least 128 are needed"),
            Self::Random => f.write_str("the randomness source failed"),
            Self::Uri(why) => write!(f, "cannot build otpauth uri: {why}"),
        }
    }
}

impl std::error::Error for SecretError {}

impl From<RandomError> for SecretError {
    fn from(_: RandomError) -> Self {
        Self::Random
    }
}

impl TotpSecret {
    /// A secret from raw bytes (at least 16; 20 or more recommended).
    ///
    /// # Errors
    ///
    /// [`SecretError::TooShort`] under 128 bits.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if bytes.len() < 16 {
            return Err(SecretError::TooShort {
                bits: bytes.len() * 8,
            });
        }
        Ok(Self(Arc::new(Zeroizing::new(bytes.to_vec()))))
    }

    /// A secret from its base32 form (as in authenticator apps; case and
    /// spaces ignored, padding optional).
    ///
    /// # Errors
    ///
    /// [`SecretError::Base32`] or [`SecretError::TooShort`].
    ///
    /// ```
    /// let s = rasp_stepup::TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
    /// assert_eq!(s.to_base32(), "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
    /// ```
    pub fn from_base32(text: &str) -> Result<Self, SecretError> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '=')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let secret =
            totp_rs::Secret::try_from_base32(&*cleaned).map_err(|_| SecretError::Base32)?;
        Self::from_bytes(secret.as_ref())
    }

    /// Generates a new 160-bit secret from the OS CSPRNG.
    ///
    /// # Errors
    ///
    /// [`SecretError::Random`] when the OS source fails.
    pub fn generate() -> Result<Self, SecretError> {
        Self::generate_with(&OsRandom)
    }

    /// Generates a new 160-bit secret from `random`.
    ///
    /// # Errors
    ///
    /// [`SecretError::Random`] when the source fails.
    pub fn generate_with(random: &dyn Random) -> Result<Self, SecretError> {
        let mut buf = Zeroizing::new([0u8; 20]);
        random.fill(&mut *buf)?;
        Self::from_bytes(&*buf)
    }

    /// The base32 form (no padding), for manual entry.
    #[must_use]
    pub fn to_base32(&self) -> String {
        totp_rs::Secret::from(self.0.to_vec()).to_base32()
    }

    /// The `otpauth://totp/...` enrolment URI (for a QR code).
    ///
    /// # Errors
    ///
    /// [`SecretError::Uri`] when `issuer` or `account` contain `:`.
    ///
    /// ```
    /// let s = rasp_stepup::TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
    /// let uri = s.otpauth_uri("Bank", "alice").unwrap();
    /// assert!(uri.starts_with("otpauth://totp/Bank:alice?"));
    /// assert!(uri.contains("secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"));
    /// ```
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Result<String, SecretError> {
        let totp = totp_rs::Builder::new()
            .with_algorithm(totp_rs::Algorithm::SHA1)
            .with_digits(TOTP_DIGITS)
            .with_step_duration(TOTP_STEP)
            .with_secret(self.0.to_vec())
            .with_issuer(Some(issuer))
            .with_account_name(account)
            .build()
            .map_err(|e| SecretError::Uri(e.to_string()))?;
        totp.to_url().map_err(|e| SecretError::Uri(e.to_string()))
    }

    fn totp(&self) -> Option<totp_rs::Totp> {
        totp_rs::Builder::new()
            .with_algorithm(totp_rs::Algorithm::SHA1)
            .with_digits(TOTP_DIGITS)
            .with_step_duration(TOTP_STEP)
            .with_secret(self.0.to_vec())
            .build()
            .ok()
    }

    /// The code for Unix time `unix_secs` (for tests and demos).
    #[must_use]
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.totp()
            .map(|t| t.generate(unix_secs).to_string())
            .unwrap_or_default()
    }
}

/// The future [`TotpSecrets::secret`] returns.
pub type SecretFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<TotpSecret>, StoreError>> + Send + 'a>>;

/// Where the app keeps its users' TOTP secrets (subject -> secret).
pub trait TotpSecrets: Send + Sync + 'static {
    /// The secret of `subject`, or `None` when not enrolled.
    fn secret<'a>(&'a self, subject: &'a str) -> SecretFuture<'a>;
}

impl TotpSecrets for HashMap<String, TotpSecret> {
    fn secret<'a>(&'a self, subject: &'a str) -> SecretFuture<'a> {
        Box::pin(std::future::ready(Ok(self.get(subject).cloned())))
    }
}

/// The TOTP factor: RFC 6238, SHA-1, 6 digits, 30-second steps, the
/// policy's skew (default ±1 step), constant-time comparison, and each time
/// step accepted at most once per subject.
pub struct TotpFactor {
    secrets: Arc<dyn TotpSecrets>,
    /// Used when a subject has no secret, so that case takes the same work.
    decoy: TotpSecret,
}

impl fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpFactor").finish_non_exhaustive()
    }
}

impl TotpFactor {
    /// A TOTP factor reading secrets from `secrets`.
    pub fn new(secrets: impl TotpSecrets) -> Self {
        Self {
            secrets: Arc::new(secrets),
            decoy: TotpSecret(Arc::new(Zeroizing::new(vec![0x5a; 20]))),
        }
    }
}

/// Which step in `[origin - skew, origin + skew]` `code` is valid for,
/// checking every step without early exit and comparing in constant time.
fn matching_step(secret: &TotpSecret, code: &str, unix_secs: u64, skew: u8) -> Option<u64> {
    let totp = secret.totp()?;
    let origin = unix_secs / TOTP_STEP;
    let mut found: Option<u64> = None;
    for step in origin.saturating_sub(u64::from(skew))..=origin + u64::from(skew) {
        let expected = Zeroizing::new(totp.generate(step * TOTP_STEP).to_string());
        let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if equal && found.is_none() {
            found = Some(step);
        }
    }
    found
}

impl Factor for TotpFactor {
    fn method(&self) -> &'static str {
        "totp"
    }

    fn amr(&self) -> &'static [&'static str] {
        &["otp"]
    }

    fn verify<'a>(&'a self, ctx: FactorContext<'a>, response: &'a str) -> FactorFuture<'a> {
        Box::pin(async move {
            let code = response.trim();
            let well_formed =
                code.len() == usize::from(TOTP_DIGITS) && code.bytes().all(|b| b.is_ascii_digit());
            let secret = self.secrets.secret(ctx.subject).await?;
            let enrolled = secret.is_some();
            let secret = secret.unwrap_or_else(|| self.decoy.clone());
            let now = ctx.now.as_secs();
            let step = matching_step(&secret, if well_formed { code } else { "" }, now, ctx.skew);
            let (Some(step), true, true) = (step, enrolled, well_formed) else {
                return Ok(FactorOutcome::Rejected);
            };
            // Remember the step until it can no longer be valid.
            let ttl = Duration::from_secs(TOTP_STEP * (2 * u64::from(ctx.skew) + 2));
            let fresh = ctx.claim_once(step, ttl).await?;
            Ok(if fresh {
                FactorOutcome::Accepted
            } else {
                FactorOutcome::Replayed
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 Appendix B, SHA-1 seed "12345678901234567890", T = 59 -> 94287082 (8 digits);
        // the 6-digit code is its last six digits.
        let s = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        assert_eq!(s.code_at(59), "287082");
        assert_eq!(s.code_at(1_111_111_109), "081804");
    }

    #[test]
    fn skew_window_is_exactly_one_step_each_side() {
        let s = TotpSecret::from_base32(DEMO).unwrap();
        let t = 1_700_000_000 - 1_700_000_000 % 30;
        let code = s.code_at(t);
        assert_eq!(matching_step(&s, &code, t, 1), Some(t / 30));
        assert_eq!(matching_step(&s, &code, t + 30, 1), Some(t / 30));
        assert_eq!(matching_step(&s, &code, t - 30, 1), Some(t / 30));
        assert_eq!(matching_step(&s, &code, t + 60, 1), None);
        assert_eq!(matching_step(&s, &code, t - 60, 1), None);
        assert_eq!(matching_step(&s, &code, t + 30, 0), None);
    }

    #[test]
    fn secrets_shorter_than_128_bits_are_refused() {
        assert_eq!(
            TotpSecret::from_bytes(&[1; 15]).unwrap_err(),
            SecretError::TooShort { bits: 120 }
        );
        assert_eq!(
            TotpSecret::from_base32("not base32!").unwrap_err(),
            SecretError::Base32
        );
    }

    #[test]
    fn generated_secrets_have_160_bits() {
        let s = TotpSecret::generate().unwrap();
        assert_eq!(s.0.len(), 20);
        assert_ne!(s.to_base32(), TotpSecret::generate().unwrap().to_base32());
    }
}
