//! The in-memory store: one process, bounded by TTL and capacity.

use std::collections::VecDeque;
use std::future::ready;
use std::time::Duration;

use super::{
    AttemptStore, BoundedMap, ChallengeAttempt, ChallengeRecord, ChallengeStore, ReplayStore,
    RevocationStore, StoreError, StoreFuture, SubjectGate, SubjectLimits, WhenFull,
};
use crate::clock::Timestamp;

/// How long a hard lock (and the failure history behind it) is remembered.
const HARD_LOCK_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// The `Retry-After` hint given for a hard lock, which only an unlock clears.
pub(crate) const HARD_LOCK_RETRY: Duration = Duration::from_secs(3600);

/// Capacities of the in-memory tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryLimits {
    /// Open challenges.
    pub challenges: usize,
    /// Subjects with a recently used TOTP step.
    pub replay: usize,
    /// Subjects with recent failed verifications.
    pub attempts: usize,
    /// Revoked subjects and token ids.
    pub revocations: usize,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        Self {
            challenges: 100_000,
            replay: 100_000,
            attempts: 100_000,
            revocations: 100_000,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct SubjectState {
    failures: VecDeque<Timestamp>,
    consecutive: u32,
    locked_until: Timestamp,
    hard: bool,
}

/// Every store trait, in this process's memory.
///
/// Safe under concurrency (each operation holds one shard lock) and bounded:
/// when a table is full of live entries, new keys get [`StoreError::Full`].
#[derive(Debug)]
pub struct MemoryStore {
    challenges: BoundedMap<String, ChallengeRecord>,
    replay: BoundedMap<String, u64>,
    attempts: BoundedMap<String, SubjectState>,
    epochs: BoundedMap<String, u64>,
    jtis: BoundedMap<String, ()>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(MemoryLimits::default())
    }
}

impl MemoryStore {
    /// A store with the given capacities.
    #[must_use]
    pub fn new(limits: MemoryLimits) -> Self {
        Self {
            challenges: BoundedMap::new(limits.challenges, WhenFull::Refuse),
            replay: BoundedMap::new(limits.replay, WhenFull::Refuse),
            attempts: BoundedMap::new(limits.attempts, WhenFull::Refuse),
            epochs: BoundedMap::new(limits.revocations, WhenFull::Refuse),
            jtis: BoundedMap::new(limits.revocations, WhenFull::Refuse),
        }
    }
}

fn done<'a, T: Send + 'a>(r: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(ready(r))
}

fn full<T>(r: Result<T, super::bounded::Full>) -> Result<T, StoreError> {
    r.map_err(|_| StoreError::Full)
}

impl ChallengeStore for MemoryStore {
    fn create(&self, record: ChallengeRecord, now: Timestamp) -> StoreFuture<'_, ()> {
        let expires = record.expires;
        let id = record.id.clone();
        done(full(
            self.challenges
                .update(id, now, |_| (Some((record, expires)), ())),
        ))
    }

    fn attempt<'a>(
        &'a self,
        id: &'a str,
        subject: &'a str,
        session: &'a str,
        max_attempts: u32,
        now: Timestamp,
    ) -> StoreFuture<'a, ChallengeAttempt> {
        done(full(self.challenges.update(
            id.to_owned(),
            now,
            |cur| match cur {
                None => (None, ChallengeAttempt::Missing),
                Some((rec, exp)) if rec.subject != subject || rec.session != session => {
                    (Some((rec, exp)), ChallengeAttempt::Missing)
                }
                Some((rec, exp)) if rec.attempts >= max_attempts => {
                    (Some((rec, exp)), ChallengeAttempt::Burned)
                }
                Some((mut rec, exp)) => {
                    rec.attempts += 1;
                    let out = ChallengeAttempt::Counted(rec.clone());
                    (Some((rec, exp)), out)
                }
            },
        )))
    }

    fn consume<'a>(&'a self, id: &'a str, now: Timestamp) -> StoreFuture<'a, bool> {
        done(Ok(self.challenges.remove(id, now).is_some()))
    }
}

impl ReplayStore for MemoryStore {
    fn claim_step<'a>(
        &'a self,
        subject: &'a str,
        step: u64,
        ttl: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, bool> {
        done(full(self.replay.update(
            subject.to_owned(),
            now,
            |cur| match cur {
                Some((last, exp)) if step <= last => (Some((last, exp)), false),
                _ => (Some((step, now.plus(ttl))), true),
            },
        )))
    }
}

fn backoff(limits: &SubjectLimits, consecutive: u32) -> Duration {
    let exp = consecutive.saturating_sub(limits.max_failures).min(20);
    limits
        .base_backoff
        .saturating_mul(1u32 << exp)
        .min(limits.max_backoff)
}

fn retry_secs(d: Duration) -> Duration {
    // Round up so a client that waits Retry-After is never early.
    Duration::from_secs(d.as_millis().div_ceil(1000).max(1) as u64)
}

impl AttemptStore for MemoryStore {
    fn begin<'a>(
        &'a self,
        subject: &'a str,
        limits: &'a SubjectLimits,
        now: Timestamp,
    ) -> StoreFuture<'a, SubjectGate> {
        done(full(self.attempts.update(subject.to_owned(), now, |cur| {
            let (mut st, exp) = cur.unwrap_or_default();
            if st.hard {
                let gate = SubjectGate::Locked {
                    retry_after: HARD_LOCK_RETRY,
                    hard: true,
                };
                return (Some((st, exp)), gate);
            }
            if st.locked_until > now {
                let gate = SubjectGate::Locked {
                    retry_after: retry_secs(st.locked_until.since(now)),
                    hard: false,
                };
                return (Some((st, exp)), gate);
            }
            while st
                .failures
                .front()
                .is_some_and(|t| now.since(*t) >= limits.window)
            {
                st.failures.pop_front();
            }
            st.failures.push_back(now);
            while st.failures.len() > limits.max_failures as usize {
                st.failures.pop_front();
            }
            st.consecutive = st.consecutive.saturating_add(1);
            let ttl = if st.consecutive >= limits.hard_cap {
                st.hard = true;
                HARD_LOCK_TTL
            } else if st.failures.len() >= limits.max_failures as usize {
                let wait = backoff(limits, st.consecutive);
                st.locked_until = now.plus(wait);
                limits.window.max(wait)
            } else {
                limits.window
            };
            // Consecutive failures outlive the window: keep the entry at least a day.
            let ttl = ttl.max(Duration::from_secs(24 * 3600));
            (Some((st, now.plus(ttl))), SubjectGate::Open)
        })))
    }

    fn succeed<'a>(&'a self, subject: &'a str, now: Timestamp) -> StoreFuture<'a, ()> {
        self.attempts.remove(subject, now);
        done(Ok(()))
    }

    fn unlock<'a>(&'a self, subject: &'a str, now: Timestamp) -> StoreFuture<'a, ()> {
        self.attempts.remove(subject, now);
        done(Ok(()))
    }
}

impl RevocationStore for MemoryStore {
    fn is_revoked<'a>(
        &'a self,
        subject: &'a str,
        jti: Option<&'a str>,
        issued_at: u64,
        now: Timestamp,
    ) -> StoreFuture<'a, bool> {
        let by_epoch = self
            .epochs
            .get(subject, now)
            .is_some_and(|epoch| issued_at < epoch);
        let by_id = jti.is_some_and(|j| self.jtis.get(j, now).is_some());
        done(Ok(by_epoch || by_id))
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        ttl: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        // Tokens issued in the current second are revoked too: `iat` has
        // second resolution and a token minted just before the call must not
        // survive it.
        let epoch = now.as_secs() + 1;
        done(full(self.epochs.update(subject.to_owned(), now, |cur| {
            let epoch = cur.map_or(epoch, |(e, _)| e.max(epoch));
            (Some((epoch, now.plus(ttl))), ())
        })))
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        done(full(
            self.jtis
                .update(jti.to_owned(), now, |_| (Some(((), until)), ())),
        ))
    }
}
