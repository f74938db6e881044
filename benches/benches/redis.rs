//! The Redis store on loopback (`RASP_REDIS_URL`, default
//! `redis://127.0.0.1:6379/`): per-operation latency (one call in flight),
//! throughput (64 in flight), and the layer's added cost per request with
//! the Redis backend against the in-memory one, measured in the same run.

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use rasp_stepup::conformance::join_all;
use rasp_stepup::risk::{Quota, RateRules};
use rasp_stepup::store::{ChallengeRecord, ChallengeStore, RateKey, RateStore, ReplayStore};
use rasp_stepup::{
    MockClock, PeerAddr, Policy, RaspStepUp, RiskRules, Sensitivity, Stores, Timestamp, TokenConfig,
};
use rasp_stepup_redis::RedisStore;
use tower::{Layer, ServiceExt, service_fn};

fn store() -> RedisStore {
    let url = std::env::var("RASP_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    RedisStore::builder(url)
        .prefix(format!("rasp-bench:{}:", std::process::id()))
        .timeout(Duration::from_secs(2))
        .connect()
        .expect("redis url")
}

fn record(id: String, now: Timestamp) -> ChallengeRecord {
    ChallengeRecord::new(
        id,
        "alice".into(),
        "s1".into(),
        "dev".into(),
        Sensitivity::High,
        vec!["mfa".into()],
        600,
        now.plus(Duration::from_secs(300)),
    )
}

fn policy(stores: Stores, clock: MockClock) -> Policy {
    Policy::builder()
        .tokens(
            TokenConfig::ed25519_from_seed([3; 32])
                .issuer("bank")
                .audience("bank-api"),
        )
        .with_clock(clock)
        .with_stores(stores)
        .risk(RiskRules::default().rate(RateRules::none()))
        .build()
        .expect("policy")
}

fn request(token: &str) -> Request<Body> {
    let mut req = Request::get("/account")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
        )
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    req.extensions_mut()
        .insert(PeerAddr(SocketAddr::from(([198, 51, 100, 7], 4000))));
    req
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let redis = Arc::new(rt.block_on(async { store() }));
    rt.block_on(redis.ping())
        .expect("Redis must be reachable for this bench");
    let now = Timestamp::from_secs(1_800_000_000);
    let ids = AtomicU64::new(0);
    let next = || format!("b{}", ids.fetch_add(1, Ordering::Relaxed));

    let mut g = c.benchmark_group("redis_store");
    g.bench_function("challenge_create", |b| {
        b.iter(|| {
            rt.block_on(redis.create(record(next(), now), now))
                .expect("create")
        })
    });
    g.bench_function("verify_ops_attempt_claim_consume", |b| {
        let mut step = 0u64;
        b.iter(|| {
            let id = next();
            rt.block_on(async {
                redis
                    .create(record(id.clone(), now), now)
                    .await
                    .expect("create");
                step += 1;
                redis
                    .attempt(&id, "alice", "s1", 5, now)
                    .await
                    .expect("attempt");
                redis
                    .claim_step("alice", step, Duration::from_secs(120), now)
                    .await
                    .expect("claim");
                redis.consume(&id, now).await.expect("consume")
            })
        })
    });
    let quota = Quota::per_minute(u32::MAX);
    let key = RateKey::Client(Sensitivity::High, "198.51.100.1".parse().expect("ip"));
    g.bench_function("rate_check", |b| {
        b.iter(|| {
            rt.block_on(redis.check(black_box(&key), &quota, now))
                .expect("check")
        })
    });
    g.finish();

    // Throughput: 64 rate checks in flight on one multiplexed connection.
    #[expect(
        clippy::disallowed_methods,
        reason = "a throughput figure needs wall-clock time"
    )]
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        let futures: Vec<_> = (0..64).map(|_| redis.check(&key, &quota, now)).collect();
        let results = rt.block_on(join_all(futures));
        done += results.iter().filter(|r| r.is_ok()).count() as u64;
    }
    let per_sec = done as f64 / started.elapsed().as_secs_f64();
    eprintln!("redis_store/rate_check throughput with 64 in flight: {per_sec:.0} ops/s");

    // The layer with each backend.
    let inner = service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let clock = MockClock::new(now);
    let memory = policy(Stores::default(), clock.clone());
    let shared = policy(Stores::from_backend(redis.clone()), clock);
    let token = memory
        .issue_access_token("alice", "s1", Duration::from_secs(3600))
        .expect("token");
    let mut g = c.benchmark_group("layer_backend");
    g.bench_function("baseline_service_fn", |b| {
        b.iter(|| rt.block_on(inner.oneshot(request(&token))).expect("ok"))
    });
    let layered = RaspStepUp::new(memory).layer(inner);
    g.bench_function("authenticated_get_memory", |b| {
        b.iter(|| {
            rt.block_on(layered.clone().oneshot(request(&token)))
                .expect("ok")
        })
    });
    let layered = RaspStepUp::new(shared).layer(inner);
    g.bench_function("authenticated_get_redis", |b| {
        b.iter(|| {
            let res = rt
                .block_on(layered.clone().oneshot(request(&token)))
                .expect("ok");
            assert_eq!(res.status(), 200);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
