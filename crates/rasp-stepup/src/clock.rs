//! Time and randomness, injected so that tests control both.
//!
//! Every time-dependent decision in the crate (token expiry, `max_age`,
//! challenge TTLs, TOTP steps, attempt windows) reads [`Clock::now`]; every
//! identifier (challenge ids, `jti`, incident ids) comes from [`Random`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, as the duration since the Unix epoch.
///
/// Microsecond resolution (rate limits above 1,000 requests per second
/// need finer time than milliseconds); seconds are what JWT and TOTP use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// A timestamp from microseconds since the Unix epoch.
    #[must_use]
    pub const fn from_micros(us: u64) -> Self {
        Self(us)
    }

    /// A timestamp from milliseconds since the Unix epoch.
    #[must_use]
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms.saturating_mul(1000))
    }

    /// A timestamp from whole seconds since the Unix epoch.
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1_000_000))
    }

    /// Microseconds since the Unix epoch.
    #[must_use]
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds since the Unix epoch (rounded down).
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0 / 1000
    }

    /// Whole seconds since the Unix epoch (rounded down).
    #[must_use]
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000
    }

    /// `self + d`, saturating.
    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        )
    }

    /// Time elapsed from `earlier` to `self`; zero when `earlier` is later.
    #[must_use]
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

/// A source of the current time.
///
/// Implemented by [`SystemClock`] (the default) and [`MockClock`] (tests).
/// Closures `Fn() -> Timestamp` implement it too.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

impl<F> Clock for F
where
    F: Fn() -> Timestamp + Send + Sync + 'static,
{
    fn now(&self) -> Timestamp {
        self()
    }
}

/// The operating system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the system clock"
    )]
    fn now(&self) -> Timestamp {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
    }
}

/// A clock that only moves when told to. Clones share the same time.
///
/// ```
/// use rasp_stepup::{Clock, MockClock, Timestamp};
/// use std::time::Duration;
///
/// let clock = MockClock::new(Timestamp::from_secs(1_700_000_000));
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(clock.now().as_secs(), 1_700_000_030);
/// ```
#[derive(Clone, Debug)]
pub struct MockClock(Arc<AtomicU64>);

impl MockClock {
    /// A clock standing at `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicU64::new(start.as_micros())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let us = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.0.fetch_add(us, Ordering::SeqCst);
    }

    /// The current time in whole seconds.
    #[must_use]
    pub fn now_secs(&self) -> u64 {
        self.0.load(Ordering::SeqCst) / 1_000_000
    }

    /// Sets the clock to `to` (may move backwards, to test clock skew).
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.as_micros(), Ordering::SeqCst);
    }
}

impl Clock for MockClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// A source of unpredictable bytes for identifiers.
pub trait Random: Send + Sync + 'static {
    /// Fills `buf` with random bytes.
    ///
    /// # Errors
    ///
    /// When the source cannot deliver; the caller then fails closed.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The randomness source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the randomness source failed")
    }
}

impl std::error::Error for RandomError {}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|_| RandomError)
    }
}

/// 128 random bits, URL-safe base64 without padding (22 characters).
pub(crate) fn random_id(rng: &dyn Random) -> Result<String, RandomError> {
    use base64::Engine as _;
    let mut buf = [0u8; 16];
    rng.fill(&mut buf)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}
