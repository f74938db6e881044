//! Risk state at scale: rate checks on a hot key and across 1,000,000 keys,
//! assessments with 100,000 tracked subjects, and memory per tracked key
//! (resident-set growth, printed before the timings).

use std::future::Future;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use rasp_stepup::risk::{Quota, SubjectHistory};
use rasp_stepup::store::{HistoryStore, MemoryLimits, MemoryStore, RateKey, RateStore};
use rasp_stepup::{
    Identity, MockClock, PeerAddr, Policy, Sensitivity, Stores, Timestamp, TokenConfig,
};

/// Polls a future that the in-memory store completes at once.
fn now_ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the memory store never waits"),
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn addr(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(
        0x0b00_0000u32.wrapping_add(i.wrapping_mul(2_654_435_761) >> 8),
    ))
}

const ADDRESSES: u32 = 1_000_000;
const SUBJECTS: u32 = 100_000;

fn bench(c: &mut Criterion) {
    let now = Timestamp::from_secs(1_800_000_000);
    let quota = Quota::per_minute(1_000_000);

    // Memory per tracked address.
    let before = rss_bytes();
    let store = MemoryStore::new(MemoryLimits::default());
    for i in 0..ADDRESSES {
        let key = RateKey::Client(Sensitivity::Authenticated, addr(i));
        let _ = now_ready(store.check(&key, &quota, now));
    }
    let per_address = (rss_bytes() - before) as f64 / f64::from(ADDRESSES);

    // Memory per tracked subject (a typical history: 3 devices, 2 countries, 4 networks).
    let before = rss_bytes();
    let mut h = SubjectHistory::default();
    h.sightings = 20;
    h.countries = vec![*b"SE", *b"US"].into();
    h.asns = vec![29518, 209].into();
    h.devices = vec![1, 2, 3].into();
    h.networks = vec![(1, 1), (2, 2), (3, 3), (4, 4)].into();
    for i in 0..SUBJECTS {
        let subject = format!("user-{i:08}");
        let _ = now_ready(store.save(
            &subject,
            h.clone(),
            std::time::Duration::from_secs(86_400),
            now,
        ));
    }
    let per_subject = (rss_bytes() - before) as f64 / f64::from(SUBJECTS);
    eprintln!(
        "memory: {per_address:.0} bytes per tracked address ({ADDRESSES} keys), {per_subject:.0} bytes per tracked subject ({SUBJECTS} subjects)"
    );

    let mut g = c.benchmark_group("risk");
    let hot = RateKey::Client(Sensitivity::Authenticated, addr(7));
    g.bench_function("rate_check_hot_key", |b| {
        b.iter(|| now_ready(store.check(black_box(&hot), &quota, now)))
    });
    let mut i = 0u32;
    g.bench_function("rate_check_across_1m_keys", |b| {
        b.iter(|| {
            i = (i + 7919) % ADDRESSES;
            let key = RateKey::Client(Sensitivity::Authenticated, addr(i));
            now_ready(store.check(black_box(&key), &quota, now))
        })
    });

    // Assessments against a policy whose store tracks 100,000 subjects and 1,000,000 addresses.
    let store = std::sync::Arc::new(store);
    let clock = MockClock::new(now);
    let policy = Policy::builder()
        .tokens(
            TokenConfig::ed25519_from_seed([2; 32])
                .issuer("b")
                .audience("a"),
        )
        .with_stores(Stores::from_backend(store))
        .with_clock(clock)
        .build()
        .expect("policy");
    let build = |n: u32| {
        let identity = Identity::new(format!("user-{n:08}"), "s");
        let mut req = http::Request::get("/account")
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            )
            .body(())
            .expect("request");
        req.extensions_mut()
            .insert(PeerAddr(SocketAddr::new(addr(n), 443)));
        let (parts, ()) = req.into_parts();
        (identity, parts)
    };
    let mut n = 0u32;
    g.bench_function("baseline_build_request_and_identity", |b| {
        b.iter(|| {
            n = (n + 104_729) % SUBJECTS;
            black_box(build(n))
        })
    });
    g.bench_function("assessment_100k_subjects", |b| {
        b.iter(|| {
            n = (n + 104_729) % SUBJECTS;
            let (identity, parts) = build(n);
            now_ready(policy.assess(&identity, &parts)).expect("assessed")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
