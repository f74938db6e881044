//! The in-memory store: one process, bounded by TTL and capacity.

use std::collections::VecDeque;
use std::future::ready;
use std::time::Duration;

use super::{
    AttemptStore, BoundedMap, ChallengeAttempt, ChallengeRecord, ChallengeStore, CounterKey,
    CounterStore, HistoryStore, RateKey, RateStore, ReplayStore, RevocationStore, StoreError,
    StoreFuture, SubjectGate, SubjectLimits, WhenFull,
};
use crate::clock::Timestamp;
use crate::risk::{Quota, RateVerdict, SubjectHistory, gcra};

/// How long a hard lock (and the failure history behind it) is remembered.
pub const HARD_LOCK_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// The `Retry-After` hint given for a hard lock, which only an unlock clears.
pub const HARD_LOCK_RETRY: Duration = Duration::from_secs(3600);

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
    /// Rate-limit keys (client addresses and subjects, per level); the
    /// entries closest to full recovery are evicted when full.
    pub rate_keys: usize,
    /// Subjects with a risk history; the least recently seen are evicted
    /// when full.
    pub histories: usize,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        Self {
            challenges: 100_000,
            replay: 100_000,
            attempts: 100_000,
            revocations: 100_000,
            rate_keys: 1_000_000,
            histories: 100_000,
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
    rate: BoundedMap<RateKey, u64>,
    history: BoundedMap<Box<str>, SubjectHistory>,
    counters: BoundedMap<CounterKey, u32>,
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
            // A GCRA entry that expires has fully recovered: evicting the
            // soonest-expiring one loses the least state.
            rate: BoundedMap::new(limits.rate_keys, WhenFull::EvictSoonest),
            history: BoundedMap::new(limits.histories, WhenFull::EvictSoonest),
            counters: BoundedMap::new(limits.rate_keys, WhenFull::EvictSoonest),
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

/// The back-off after `consecutive` failures: `base × 2^(consecutive −
/// max_failures)`, capped (shared backends use the same curve).
#[must_use]
pub fn backoff(limits: &SubjectLimits, consecutive: u32) -> Duration {
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

impl RateStore for MemoryStore {
    fn check<'a>(
        &'a self,
        key: &'a RateKey,
        quota: &'a Quota,
        now: Timestamp,
    ) -> StoreFuture<'a, RateVerdict> {
        let now_us = now.as_micros();
        let verdict = self.rate.update_copy(key, now, |cur| {
            let (verdict, next) = gcra(cur.as_ref().map(|(tat, _)| *tat), now_us, quota);
            match next {
                Some(tat) => (Some((tat, Timestamp::from_micros(tat))), verdict),
                None => (cur, verdict),
            }
        });
        done(full(verdict))
    }
}

impl CounterStore for MemoryStore {
    fn bump<'a>(
        &'a self,
        key: &'a CounterKey,
        window: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, u32> {
        done(full(self.counters.update(key.clone(), now, |cur| {
            let (n, exp) = cur.unwrap_or((0, now.plus(window)));
            let n = n.saturating_add(1);
            (Some((n, exp)), n)
        })))
    }

    fn count<'a>(&'a self, key: &'a CounterKey, now: Timestamp) -> StoreFuture<'a, u32> {
        done(Ok(self.counters.get(key, now).unwrap_or(0)))
    }

    fn reset<'a>(&'a self, key: &'a CounterKey, now: Timestamp) -> StoreFuture<'a, ()> {
        self.counters.remove(key, now);
        done(Ok(()))
    }
}

impl HistoryStore for MemoryStore {
    fn load<'a>(
        &'a self,
        subject: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, Option<SubjectHistory>> {
        done(Ok(self.history.get(subject, now)))
    }

    fn save<'a>(
        &'a self,
        subject: &'a str,
        history: SubjectHistory,
        ttl: Duration,
        now: Timestamp,
    ) -> StoreFuture<'a, ()> {
        done(full(self.history.update(subject.into(), now, |_| {
            (Some((history, now.plus(ttl))), ())
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::level::Sensitivity;

    fn block<T>(f: StoreFuture<'_, T>) -> Result<T, StoreError> {
        // In-memory futures are ready at once.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = f;
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => panic!("memory store future pending"),
        }
    }

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn subject_backoff_doubles_then_hard_cap_locks() {
        let store = MemoryStore::default();
        let limits = SubjectLimits::default();
        let mut now = 1_000_000;
        for _ in 0..10 {
            assert_eq!(
                block(store.begin("alice", &limits, t(now))).unwrap(),
                SubjectGate::Open
            );
        }
        let locked = block(store.begin("alice", &limits, t(now))).unwrap();
        assert_eq!(
            locked,
            SubjectGate::Locked {
                retry_after: Duration::from_secs(30),
                hard: false
            }
        );
        // each further failure inside the window doubles the wait: 60, 120, 240 ...
        let mut waits = Vec::new();
        let mut wait = 30;
        for _ in 0..4 {
            now += wait;
            assert_eq!(
                block(store.begin("alice", &limits, t(now))).unwrap(),
                SubjectGate::Open
            );
            let SubjectGate::Locked {
                retry_after,
                hard: false,
            } = block(store.begin("alice", &limits, t(now))).unwrap()
            else {
                panic!("expected a back-off");
            };
            wait = retry_after.as_secs();
            waits.push(wait);
        }
        assert_eq!(waits, [60, 120, 240, 480]);
        // Waits outgrow the 15-minute window, so the oldest failures leave it:
        // the rate stays bounded by (max_failures per window + back-off).
        // hard cap: 100 consecutive failures without a success
        let mut consecutive = 14;
        while consecutive < 100 {
            now += 3600;
            if block(store.begin("alice", &limits, t(now))).unwrap() == SubjectGate::Open {
                consecutive += 1;
            }
        }
        now += 3600;
        assert!(matches!(
            block(store.begin("alice", &limits, t(now))).unwrap(),
            SubjectGate::Locked { hard: true, .. }
        ));
        block(store.unlock("alice", t(now))).unwrap();
        assert_eq!(
            block(store.begin("alice", &limits, t(now))).unwrap(),
            SubjectGate::Open
        );
    }

    #[test]
    fn success_clears_failures() {
        let store = MemoryStore::default();
        let limits = SubjectLimits::default();
        for _ in 0..9 {
            block(store.begin("bob", &limits, t(0))).unwrap();
        }
        block(store.succeed("bob", t(0))).unwrap();
        for _ in 0..10 {
            assert_eq!(
                block(store.begin("bob", &limits, t(0))).unwrap(),
                SubjectGate::Open
            );
        }
    }

    #[test]
    fn replay_accepts_each_step_once_and_never_an_older_one() {
        let store = MemoryStore::default();
        let ttl = Duration::from_secs(120);
        assert!(block(store.claim_step("a", 100, ttl, t(3000))).unwrap());
        assert!(!block(store.claim_step("a", 100, ttl, t(3000))).unwrap());
        assert!(!block(store.claim_step("a", 99, ttl, t(3000))).unwrap());
        assert!(block(store.claim_step("a", 101, ttl, t(3030))).unwrap());
        assert!(block(store.claim_step("b", 100, ttl, t(3000))).unwrap());
    }

    #[test]
    fn challenge_attempts_are_counted_and_burned_exactly() {
        let store = MemoryStore::default();
        let rec = ChallengeRecord::new(
            "c1".into(),
            "alice".into(),
            "s1".into(),
            "dev".into(),
            Sensitivity::High,
            vec!["mfa".into()],
            600,
            t(300),
        );
        block(store.create(rec, t(0))).unwrap();
        assert_eq!(
            block(store.attempt("c1", "mallory", "s1", 5, t(1))).unwrap(),
            ChallengeAttempt::Missing
        );
        assert_eq!(
            block(store.attempt("c1", "alice", "s2", 5, t(1))).unwrap(),
            ChallengeAttempt::Missing
        );
        for n in 1..=5 {
            let ChallengeAttempt::Counted(r) =
                block(store.attempt("c1", "alice", "s1", 5, t(1))).unwrap()
            else {
                panic!("attempt {n} should count");
            };
            assert_eq!(r.attempts, n);
        }
        assert_eq!(
            block(store.attempt("c1", "alice", "s1", 5, t(1))).unwrap(),
            ChallengeAttempt::Burned
        );
        assert!(block(store.consume("c1", t(1))).unwrap());
        assert!(!block(store.consume("c1", t(1))).unwrap());
        assert_eq!(
            block(store.attempt("c1", "alice", "s1", 5, t(1))).unwrap(),
            ChallengeAttempt::Missing
        );
    }

    #[test]
    fn parallel_attempts_never_exceed_the_limit() {
        let store = std::sync::Arc::new(MemoryStore::default());
        let rec = ChallengeRecord::new(
            "c".into(),
            "a".into(),
            "s".into(),
            "d".into(),
            Sensitivity::High,
            vec![],
            60,
            t(300),
        );
        block(store.create(rec, t(0))).unwrap();
        let counted = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                let store = store.clone();
                let counted = counted.clone();
                s.spawn(move || {
                    for _ in 0..50 {
                        if let ChallengeAttempt::Counted(_) =
                            block(store.attempt("c", "a", "s", 5, t(1))).unwrap()
                        {
                            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(counted.load(std::sync::atomic::Ordering::SeqCst), 5);
    }

    #[test]
    fn revocation_by_epoch_and_by_id() {
        let store = MemoryStore::default();
        let ttl = Duration::from_secs(3600);
        assert!(!block(store.is_revoked("alice", None, 100, t(150))).unwrap());
        block(store.revoke_subject("alice", ttl, t(150))).unwrap();
        assert!(block(store.is_revoked("alice", None, 100, t(150))).unwrap());
        assert!(block(store.is_revoked("alice", None, 150, t(150))).unwrap());
        assert!(!block(store.is_revoked("alice", None, 151, t(151))).unwrap());
        assert!(!block(store.is_revoked("bob", None, 100, t(150))).unwrap());
        block(store.revoke_token("j1", t(500), t(150))).unwrap();
        assert!(block(store.is_revoked("bob", Some("j1"), 200, t(200))).unwrap());
        assert!(!block(store.is_revoked("bob", Some("j1"), 200, t(500))).unwrap());
    }
}
