//! Where step-up state lives: async store traits and the in-memory default.
//!
//! Each trait method is one operation that a shared backend (Redis) can run
//! atomically; the in-memory implementation holds a shard lock for the whole
//! operation. No method reads then writes across two calls, so there is no
//! race to win between replicas.
//!
//! All state is bounded: every entry carries a TTL, and every table has a
//! capacity. When a security table is full of live entries the store answers
//! [`StoreError::Full`] and the layer fails closed (see
//! [`FailMode`](crate::FailMode)); it never evicts live limits or revocations.

mod bounded;
mod memory;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use bounded::{BoundedMap, WhenFull};
pub use memory::{HARD_LOCK_RETRY, HARD_LOCK_TTL, MemoryLimits, MemoryStore, backoff};

use crate::clock::Timestamp;
use crate::level::Sensitivity;

/// The future every store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The table is full of live entries.
    Full,
    /// The backend could not be reached or answered with an error.
    Unavailable(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("store is full"),
            Self::Unavailable(why) => write!(f, "store unavailable: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// An open step-up challenge, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChallengeRecord {
    /// 128-bit random id (URL-safe base64).
    pub id: String,
    /// The subject (`sub`) the challenge was issued to.
    pub subject: String,
    /// The session (`sid`) the challenge was issued to.
    pub session: String,
    /// The device fingerprint of the request that triggered it.
    pub device: String,
    /// The sensitivity whose requirement triggered it.
    pub sensitivity: Sensitivity,
    /// Accepted `acr` values of that requirement.
    pub acr_values: Vec<String>,
    /// `max_age` of that requirement, in seconds.
    pub max_age: u64,
    /// When it stops being usable.
    pub expires: Timestamp,
    /// Verification attempts made so far (counted before the code is checked).
    pub attempts: u32,
}

impl ChallengeRecord {
    /// A new record with no attempts.
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn new(
        id: String,
        subject: String,
        session: String,
        device: String,
        sensitivity: Sensitivity,
        acr_values: Vec<String>,
        max_age: u64,
        expires: Timestamp,
    ) -> Self {
        Self {
            id,
            subject,
            session,
            device,
            sensitivity,
            acr_values,
            max_age,
            expires,
            attempts: 0,
        }
    }
}

/// What [`ChallengeStore::attempt`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChallengeAttempt {
    /// No such challenge (never issued, expired or already used).
    Missing,
    /// The challenge has used up its attempts.
    Burned,
    /// The attempt was counted; the record shows the new count.
    Counted(ChallengeRecord),
}

/// Open challenges: single use, TTL, attempt counting.
pub trait ChallengeStore: Send + Sync + 'static {
    /// Stores a new challenge until `record.expires`.
    fn create(&self, record: ChallengeRecord, now: Timestamp) -> StoreFuture<'_, ()>;

    /// Atomically counts one attempt on challenge `id` by `subject` in
    /// `session`.
    ///
    /// A challenge of another subject or session reads as
    /// [`ChallengeAttempt::Missing`] and is not counted. Returns
    /// [`ChallengeAttempt::Burned`] without counting when `max_attempts` were
    /// already made, so N parallel attempts check at most `max_attempts` codes.
    fn attempt<'a>(
        &'a self,
        id: &'a str,
        subject: &'a str,
        session: &'a str,
        max_attempts: u32,
        now: Timestamp,
    ) -> StoreFuture<'a, ChallengeAttempt>;

    /// Atomically removes challenge `id`; `true` when this call removed it
    /// (exactly one of several concurrent calls gets `true`).
    fn consume<'a>(&'a self, id: &'a str, now: Timestamp) -> StoreFuture<'a, bool>;
}

/// One-time-code replay protection.
pub trait ReplayStore: Send + Sync + 'static {
    /// Atomically claims time step `step` for `subject`: `true` when `step` is
    /// later than every step accepted before for this subject (RFC 6238 §5.2),
    /// and records it; `false` otherwise.
    fn claim_step<'a>(
        &'a self,
        subject: &'a str,
        step: u64,
        ttl: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, bool>;
}

/// Limits on failed verifications of one subject, across challenges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubjectLimits {
    /// The rolling window failures are counted in.
    pub window: Duration,
    /// Failures inside the window before back-off starts.
    pub max_failures: u32,
    /// First back-off; doubles with each further failure.
    pub base_backoff: Duration,
    /// Longest back-off.
    pub max_backoff: Duration,
    /// Consecutive failures (no success between) after which the subject is
    /// locked until [`AttemptStore::unlock`]. At most 100 (NIST SP 800-63B §5.2.2).
    pub hard_cap: u32,
}

impl Default for SubjectLimits {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            max_failures: 10,
            base_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(15 * 60),
            hard_cap: 100,
        }
    }
}

/// The answer of [`AttemptStore::begin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectGate {
    /// The attempt may proceed (and was counted as a failure until
    /// [`AttemptStore::succeed`] says otherwise).
    Open,
    /// The subject is backing off; try again after this long.
    Locked {
        /// Time until the next attempt is accepted.
        retry_after: Duration,
        /// `true` when locked by the hard cap (only an unlock clears it).
        hard: bool,
    },
}

/// Per-subject failure counting with back-off.
pub trait AttemptStore: Send + Sync + 'static {
    /// Atomically: refuses when `subject` is locked; otherwise counts this
    /// attempt as a failure (pessimistically, so concurrent attempts cannot
    /// overrun the limit) and sets the back-off for the next one.
    fn begin<'a>(
        &'a self,
        subject: &'a str,
        limits: &'a SubjectLimits,
        now: Timestamp,
    ) -> StoreFuture<'a, SubjectGate>;

    /// The attempt succeeded: clears the subject's failures.
    fn succeed<'a>(&'a self, subject: &'a str, now: Timestamp) -> StoreFuture<'a, ()>;

    /// Clears every failure and lock of `subject` (an operator's action).
    fn unlock<'a>(&'a self, subject: &'a str, now: Timestamp) -> StoreFuture<'a, ()>;
}

/// Revoked sessions and tokens.
pub trait RevocationStore: Send + Sync + 'static {
    /// `true` when a token of `subject` issued at `issued_at` (seconds) or with
    /// id `jti` is revoked.
    fn is_revoked<'a>(
        &'a self,
        subject: &'a str,
        jti: Option<&'a str>,
        issued_at: u64,
        now: Timestamp,
    ) -> StoreFuture<'a, bool>;

    /// Revokes every token of `subject` issued before `now` (a new session
    /// epoch), remembered for `ttl` (the longest token lifetime).
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        ttl: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, ()>;

    /// Revokes one token id until `until` (its `exp`).
    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreFuture<'a, ()>;
}

/// Rate-limit state (GCRA theoretical arrival times).
pub trait RateStore: Send + Sync + 'static {
    /// Atomically applies one GCRA step for `key` under `quota`.
    fn check<'a>(
        &'a self,
        key: &'a RateKey,
        quota: &'a crate::risk::Quota,
        now: Timestamp,
    ) -> StoreFuture<'a, crate::risk::RateVerdict>;
}

/// What a rate limit counts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateKey {
    /// A client address at a sensitivity level.
    Client(Sensitivity, std::net::IpAddr),
    /// A subject at a sensitivity level.
    Subject(Sensitivity, Box<str>),
    /// A client address on the routes where clients prove who they are
    /// (login, the step-up verify route).
    Entry(std::net::IpAddr),
}

impl RateKey {
    /// A stable text form (for shared backends).
    #[must_use]
    pub fn to_key_string(&self) -> String {
        match self {
            Self::Client(l, ip) => format!("c:{l}:{ip}"),
            Self::Subject(l, s) => format!("s:{l}:{s}"),
            Self::Entry(ip) => format!("e:{ip}"),
        }
    }
}

/// What a burst counter counts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CounterKey {
    /// 401/403 answers of the app to a client address.
    AuthFailuresOfClient(std::net::IpAddr),
    /// 401/403 answers of the app to a subject.
    AuthFailuresOfSubject(Box<str>),
    /// 404 answers of the app to a client address.
    NotFoundOfClient(std::net::IpAddr),
    /// Sink guard hits of a subject (the flag period is the window).
    SinkHitsOfSubject(Box<str>),
    /// Sink guard hits of an anonymous client address.
    SinkHitsOfClient(std::net::IpAddr),
}

impl CounterKey {
    /// A stable text form (for shared backends).
    #[must_use]
    pub fn to_key_string(&self) -> String {
        match self {
            Self::AuthFailuresOfClient(ip) => format!("af:c:{ip}"),
            Self::AuthFailuresOfSubject(s) => format!("af:s:{s}"),
            Self::NotFoundOfClient(ip) => format!("nf:c:{ip}"),
            Self::SinkHitsOfSubject(s) => format!("sh:s:{s}"),
            Self::SinkHitsOfClient(ip) => format!("sh:c:{ip}"),
        }
    }
}

/// Fixed-window event counters (bursts of 401/403/404).
pub trait CounterStore: Send + Sync + 'static {
    /// Atomically adds one event; returns the count in the current window.
    fn bump<'a>(
        &'a self,
        key: &'a CounterKey,
        window: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, u32>;

    /// The count in the current window.
    fn count<'a>(&'a self, key: &'a CounterKey, now: Timestamp) -> StoreFuture<'a, u32>;

    /// Clears a counter (after a successful step-up).
    fn reset<'a>(&'a self, key: &'a CounterKey, now: Timestamp) -> StoreFuture<'a, ()>;
}

/// Per-subject risk history (locations, devices, networks, baselines).
pub trait HistoryStore: Send + Sync + 'static {
    /// The history of `subject`, if any.
    fn load<'a>(
        &'a self,
        subject: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, Option<crate::risk::SubjectHistory>>;

    /// Replaces the history of `subject`, kept for `ttl`.
    fn save<'a>(
        &'a self,
        subject: &'a str,
        history: crate::risk::SubjectHistory,
        ttl: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, ()>;
}

/// The set of stores a [`Policy`](crate::Policy) uses.
///
/// One backend type usually implements every trait:
/// `Stores::from_backend(Arc::new(MemoryStore::default()))`.
#[derive(Clone)]
pub struct Stores {
    pub(crate) challenges: Arc<dyn ChallengeStore>,
    pub(crate) replay: Arc<dyn ReplayStore>,
    pub(crate) attempts: Arc<dyn AttemptStore>,
    pub(crate) revocation: Arc<dyn RevocationStore>,
    pub(crate) rate: Arc<dyn RateStore>,
    pub(crate) history: Arc<dyn HistoryStore>,
    pub(crate) counters: Arc<dyn CounterStore>,
}

impl Stores {
    /// Every store served by one backend.
    pub fn from_backend<T>(backend: Arc<T>) -> Self
    where
        T: ChallengeStore
            + ReplayStore
            + AttemptStore
            + RevocationStore
            + RateStore
            + HistoryStore
            + CounterStore,
    {
        Self {
            challenges: backend.clone(),
            replay: backend.clone(),
            attempts: backend.clone(),
            revocation: backend.clone(),
            rate: backend.clone(),
            history: backend.clone(),
            counters: backend,
        }
    }

    /// In-memory stores with the given limits (one process only).
    #[must_use]
    pub fn memory(limits: MemoryLimits) -> Self {
        Self::from_backend(Arc::new(MemoryStore::new(limits)))
    }
}

impl Default for Stores {
    fn default() -> Self {
        Self::memory(MemoryLimits::default())
    }
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}
