//! A behavioural test suite for store implementations.
//!
//! Every backend (the in-memory store, the Redis store, yours) must pass the
//! same tests, including the concurrency ones: N parallel attempts on one
//! challenge count exactly `max_attempts`, two parallel claims of one TOTP
//! step elevate once, N parallel rate checks admit exactly the quota.
//!
//! ```text
//! rasp_stepup::store_conformance!(async { std::sync::Arc::new(MyStore::connect().await) });
//! ```
//!
//! Each test takes a fresh store (so shared backends should use a fresh key
//! prefix per call) and a base time; it moves time forward by passing later
//! timestamps, never by sleeping.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::clock::Timestamp;
pub use crate::join::join_all;
use crate::level::Sensitivity;
use crate::risk::{Quota, SubjectHistory};
use crate::store::{
    AttemptStore, ChallengeAttempt, ChallengeRecord, ChallengeStore, CounterKey, CounterStore,
    HistoryStore, RateKey, RateStore, ReplayStore, RevocationStore, SubjectGate, SubjectLimits,
};

/// Every store trait at once.
pub trait FullStore:
    ChallengeStore
    + ReplayStore
    + AttemptStore
    + RevocationStore
    + RateStore
    + HistoryStore
    + CounterStore
{
}

impl<T> FullStore for T where
    T: ChallengeStore
        + ReplayStore
        + AttemptStore
        + RevocationStore
        + RateStore
        + HistoryStore
        + CounterStore
{
}

/// The base time of the suite.
pub const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

fn at(secs: u64) -> Timestamp {
    Timestamp::from_millis(T0.as_millis() + secs * 1000)
}

fn record(id: &str, expires: Timestamp) -> ChallengeRecord {
    ChallengeRecord::new(
        id.into(),
        "alice".into(),
        "s1".into(),
        "dev".into(),
        Sensitivity::High,
        vec!["mfa".into(), "hwk".into()],
        600,
        expires,
    )
}

/// Challenges: foreign callers read `Missing` and are not counted; attempts
/// count up to the limit, then `Burned`; consume is single-use; expiry.
pub async fn challenge_lifecycle<S: FullStore>(s: &S) {
    s.create(record("c1", at(300)), at(0))
        .await
        .expect("create");
    assert_eq!(
        s.attempt("c1", "mallory", "s1", 5, at(1))
            .await
            .expect("attempt"),
        ChallengeAttempt::Missing
    );
    assert_eq!(
        s.attempt("c1", "alice", "s2", 5, at(1))
            .await
            .expect("attempt"),
        ChallengeAttempt::Missing
    );
    for n in 1..=5 {
        match s
            .attempt("c1", "alice", "s1", 5, at(1))
            .await
            .expect("attempt")
        {
            ChallengeAttempt::Counted(r) => {
                assert_eq!(r.attempts, n);
                assert_eq!(r, {
                    let mut e = record("c1", at(300));
                    e.attempts = n;
                    e
                });
            }
            other => panic!("attempt {n}: {other:?}"),
        }
    }
    assert_eq!(
        s.attempt("c1", "alice", "s1", 5, at(1))
            .await
            .expect("attempt"),
        ChallengeAttempt::Burned
    );
    assert!(s.consume("c1", at(2)).await.expect("consume"));
    assert!(!s.consume("c1", at(2)).await.expect("consume"));
    assert_eq!(
        s.attempt("c1", "alice", "s1", 5, at(2))
            .await
            .expect("attempt"),
        ChallengeAttempt::Missing
    );

    s.create(record("c2", at(300)), at(0))
        .await
        .expect("create");
    assert_eq!(
        s.attempt("c2", "alice", "s1", 5, at(301))
            .await
            .expect("attempt"),
        ChallengeAttempt::Missing
    );
    assert!(!s.consume("c2", at(301)).await.expect("consume"));
    assert_eq!(
        s.attempt("nope", "alice", "s1", 5, at(1))
            .await
            .expect("attempt"),
        ChallengeAttempt::Missing
    );
}

/// 20 parallel attempts on one challenge with a limit of 5: exactly 5 count.
pub async fn challenge_parallel_attempts<S: FullStore>(s: &S) {
    s.create(record("p1", at(300)), at(0))
        .await
        .expect("create");
    let futures: Vec<Pin<Box<dyn Future<Output = _> + Send + '_>>> = (0..20)
        .map(|_| s.attempt("p1", "alice", "s1", 5, at(1)))
        .collect();
    let results = join_all(futures).await;
    let counted = results
        .iter()
        .filter(|r| matches!(r, Ok(ChallengeAttempt::Counted(_))))
        .count();
    let burned = results
        .iter()
        .filter(|r| matches!(r, Ok(ChallengeAttempt::Burned)))
        .count();
    assert_eq!((counted, burned), (5, 15), "{results:?}");
}

/// TOTP steps: each accepted once per subject, never an older one; two
/// parallel claims of one step: exactly one wins.
pub async fn replay_claims<S: FullStore>(s: &S) {
    let ttl = Duration::from_secs(120);
    assert!(s.claim_step("alice", 100, ttl, at(0)).await.expect("claim"));
    assert!(!s.claim_step("alice", 100, ttl, at(0)).await.expect("claim"));
    assert!(!s.claim_step("alice", 99, ttl, at(0)).await.expect("claim"));
    assert!(
        s.claim_step("alice", 101, ttl, at(30))
            .await
            .expect("claim")
    );
    assert!(s.claim_step("bob", 100, ttl, at(0)).await.expect("claim"));
    let futures: Vec<Pin<Box<dyn Future<Output = _> + Send + '_>>> = (0..2)
        .map(|_| s.claim_step("carol", 500, ttl, at(0)))
        .collect();
    let wins = join_all(futures)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    assert_eq!(wins, 1);
}

/// Per-subject limits: back-off after `max_failures`, doubling; success
/// clears; the hard cap locks until unlock.
pub async fn attempt_limits<S: FullStore>(s: &S) {
    let limits = SubjectLimits::default();
    for i in 0..10 {
        assert_eq!(
            s.begin("alice", &limits, at(i)).await.expect("begin"),
            SubjectGate::Open,
            "attempt {i}"
        );
    }
    assert_eq!(
        s.begin("alice", &limits, at(10)).await.expect("begin"),
        SubjectGate::Locked {
            retry_after: Duration::from_secs(29),
            hard: false
        }
    );
    assert_eq!(
        s.begin("alice", &limits, at(39)).await.expect("begin"),
        SubjectGate::Open
    );
    assert_eq!(
        s.begin("alice", &limits, at(39)).await.expect("begin"),
        SubjectGate::Locked {
            retry_after: Duration::from_secs(60),
            hard: false
        }
    );
    s.succeed("alice", at(40)).await.expect("succeed");
    assert_eq!(
        s.begin("alice", &limits, at(40)).await.expect("begin"),
        SubjectGate::Open
    );

    let mut capped = limits;
    capped.max_failures = 100;
    capped.hard_cap = 12;
    for i in 0..12 {
        assert_eq!(
            s.begin("bob", &capped, at(i)).await.expect("begin"),
            SubjectGate::Open
        );
    }
    assert!(matches!(
        s.begin("bob", &capped, at(10_000)).await.expect("begin"),
        SubjectGate::Locked { hard: true, .. }
    ));
    s.unlock("bob", at(10_000)).await.expect("unlock");
    assert_eq!(
        s.begin("bob", &capped, at(10_000)).await.expect("begin"),
        SubjectGate::Open
    );
}

/// 20 parallel attempts of one subject with a limit of 5: exactly 5 proceed.
pub async fn attempt_limits_parallel<S: FullStore>(s: &S) {
    let limits = SubjectLimits {
        max_failures: 5,
        ..SubjectLimits::default()
    };
    let futures: Vec<Pin<Box<dyn Future<Output = _> + Send + '_>>> =
        (0..20).map(|_| s.begin("dave", &limits, at(0))).collect();
    let open = join_all(futures)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(SubjectGate::Open)))
        .count();
    assert_eq!(open, 5);
}

/// Revocation by subject epoch (tokens issued up to the current second) and by `jti`.
pub async fn revocation<S: FullStore>(s: &S) {
    let ttl = Duration::from_secs(3600);
    let now = at(50).as_secs();
    assert!(
        !s.is_revoked("alice", None, now - 10, at(50))
            .await
            .expect("check")
    );
    s.revoke_subject("alice", ttl, at(50))
        .await
        .expect("revoke");
    assert!(
        s.is_revoked("alice", None, now - 10, at(50))
            .await
            .expect("check")
    );
    assert!(
        s.is_revoked("alice", None, now, at(50))
            .await
            .expect("check")
    );
    assert!(
        !s.is_revoked("alice", None, now + 1, at(51))
            .await
            .expect("check")
    );
    assert!(
        !s.is_revoked("bob", None, now - 10, at(50))
            .await
            .expect("check")
    );
    s.revoke_token("j1", at(500), at(50)).await.expect("revoke");
    assert!(
        s.is_revoked("bob", Some("j1"), now, at(60))
            .await
            .expect("check")
    );
    assert!(
        !s.is_revoked("bob", Some("j2"), now, at(60))
            .await
            .expect("check")
    );
}

/// GCRA: a burst of the quota, then spacing; parallel checks admit exactly the quota.
pub async fn rate_limits<S: FullStore>(s: &S) {
    let q = Quota::per_minute(3);
    let key = RateKey::Client(Sensitivity::High, "198.51.100.1".parse().expect("ip"));
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let v = s.check(&key, &q, at(0)).await.expect("check");
        assert!(v.allowed);
        remaining.push(v.remaining);
    }
    assert_eq!(remaining, [2, 1, 0]);
    let v = s.check(&key, &q, at(0)).await.expect("check");
    assert!(!v.allowed);
    assert_eq!(v.retry_after, Duration::from_secs(20));
    assert!(s.check(&key, &q, at(20)).await.expect("check").allowed);

    let q = Quota::per_minute(5);
    let key = RateKey::Subject(Sensitivity::High, "erin".into());
    let futures: Vec<Pin<Box<dyn Future<Output = _> + Send + '_>>> =
        (0..12).map(|_| s.check(&key, &q, at(0))).collect();
    let allowed = join_all(futures)
        .await
        .into_iter()
        .filter(|r| r.as_ref().is_ok_and(|v| v.allowed))
        .count();
    assert_eq!(allowed, 5);

    // Above 1,000 per second (microsecond time): 2,000 per second is one
    // request every 500 µs once the burst is spent.
    let q = Quota {
        limit: 2_000,
        window: Duration::from_secs(1),
    };
    let key = RateKey::Client(Sensitivity::Public, "2001:db8::1".parse().expect("ip"));
    for _ in 0..2_000 {
        assert!(s.check(&key, &q, at(0)).await.expect("check").allowed);
    }
    assert!(!s.check(&key, &q, at(0)).await.expect("check").allowed);
    let later = at(0).plus(Duration::from_micros(1_500));
    let mut allowed = 0;
    for _ in 0..5 {
        if s.check(&key, &q, later).await.expect("check").allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 3);
}

/// Fixed-window counters.
pub async fn counters<S: FullStore>(s: &S) {
    let key = CounterKey::NotFoundOfClient("198.51.100.2".parse().expect("ip"));
    let w = Duration::from_secs(60);
    for n in 1..=3 {
        assert_eq!(s.bump(&key, w, at(n)).await.expect("bump"), n as u32);
    }
    assert_eq!(s.count(&key, at(10)).await.expect("count"), 3);
    assert_eq!(s.count(&key, at(61)).await.expect("count"), 0);
    s.bump(&key, w, at(100)).await.expect("bump");
    s.reset(&key, at(100)).await.expect("reset");
    assert_eq!(s.count(&key, at(100)).await.expect("count"), 0);
}

/// Histories round-trip and expire.
pub async fn histories<S: FullStore>(s: &S) {
    assert_eq!(s.load("frank", at(0)).await.expect("load"), None);
    let mut h = SubjectHistory {
        sightings: 4,
        ..SubjectHistory::default()
    };
    h.countries.remember(*b"SE");
    h.asns.remember(29518);
    h.devices.remember(42);
    h.networks.remember((7, 9));
    h.baseline = 1.5;
    s.save("frank", h.clone(), Duration::from_secs(60), at(0))
        .await
        .expect("save");
    assert_eq!(s.load("frank", at(30)).await.expect("load"), Some(h));
    assert_eq!(s.load("frank", at(61)).await.expect("load"), None);
}

/// Generates one `#[tokio::test]` per conformance test for a store factory
/// (an expression evaluating to a future of `Arc<impl FullStore>`).
#[macro_export]
macro_rules! store_conformance {
    ($factory:expr) => {
        $crate::store_conformance!(@tests $factory;
            challenge_lifecycle, challenge_parallel_attempts, replay_claims, attempt_limits,
            attempt_limits_parallel, revocation, rate_limits, counters, histories);
    };
    (@tests $factory:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $factory.await;
                $crate::conformance::$name(&*store).await;
            }
        )*
    };
}
