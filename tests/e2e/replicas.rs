//! Two replicas of the bank on different loopback ports sharing one Redis
//! (`RASP_REDIS_URL`, default `redis://127.0.0.1:6379/`): every step-up and
//! rate guarantee holds across them. These tests fail without Redis.

use std::sync::atomic::{AtomicU32, Ordering};

use hyper::StatusCode;
use rasp_e2e::{Bank, SEED, START, start_with_clock};
use rasp_examples::bank::BankOptions;
use rasp_stepup::{MockClock, Timestamp};

static N: AtomicU32 = AtomicU32::new(0);

pub(crate) fn redis_url() -> String {
    std::env::var("RASP_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// Fails with one clear sentence when nothing listens where Redis should.
async fn require_redis(url: &str) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest
        .split(['/', '?'])
        .next()
        .unwrap_or(rest)
        .rsplit('@')
        .next()
        .unwrap_or(rest);
    let addr = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:6379")
    };
    let reachable = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        tokio::net::TcpStream::connect(&addr),
    )
    .await
    .is_ok_and(|c| c.is_ok());
    assert!(
        reachable,
        "these tests need Redis at {url} (set RASP_REDIS_URL, or start redis-server; .ci/run starts it)"
    );
}

/// Two replicas with one shared Redis prefix and one clock.
async fn replicas() -> (Bank, Bank) {
    require_redis(&redis_url()).await;
    let prefix = format!(
        "rasp-e2e:{}:{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let clock = MockClock::new(Timestamp::from_secs(START));
    let opts = || {
        let mut o = BankOptions::with_seed(SEED);
        o.redis_url = Some(redis_url());
        o.redis_prefix = prefix.clone();
        o
    };
    let a = start_with_clock(opts(), clock.clone()).await;
    let b = start_with_clock(opts(), clock).await;
    assert_ne!(a.addr, b.addr);
    (a, b)
}

#[tokio::test]
async fn challenge_from_a_verified_on_b_retried_on_a() {
    let (a, b) = replicas().await;
    let token = a.login().await;
    let ch = a.challenge(&token).await;
    let v = b.verify(&token, &ch, &b.code()).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
    let elevated = v.json["access_token"].as_str().unwrap().to_owned();
    let t = a.transfer(&elevated, 5).await;
    assert_eq!(t.status, StatusCode::OK);
    // The challenge is used up on both.
    assert_eq!(
        a.verify(&token, &ch, &a.code()).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_code_used_on_a_is_refused_on_b() {
    let (a, b) = replicas().await;
    let token = a.login().await;
    let ch = a.challenge(&token).await;
    let code = a.code();
    assert_eq!(a.verify(&token, &ch, &code).await.status, StatusCode::OK);
    let ch2 = b.challenge(&token).await;
    let replay = b.verify(&token, &ch2, &code).await;
    assert_eq!(replay.status, StatusCode::FORBIDDEN);
    assert_eq!(replay.json["type"], "urn:rasp-stepup:problem:invalid-code");
}

#[tokio::test]
async fn wrong_codes_over_both_replicas_hit_the_challenge_limit() {
    let (a, b) = replicas().await;
    let token = a.login().await;
    let ch = a.challenge(&token).await;
    for i in 0..5 {
        let bank = if i % 2 == 0 { &a } else { &b };
        let r = bank.verify(&token, &ch, &bank.wrong_code()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.json["attempts_remaining"], 4 - i);
    }
    let sixth = b.verify(&token, &ch, &b.code()).await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn wrong_codes_over_both_replicas_hit_the_subject_limit() {
    let (a, b) = replicas().await;
    let token = a.login().await;
    for i in 0..10 {
        let bank = if i % 2 == 0 { &a } else { &b };
        let ch = bank.challenge(&token).await;
        assert_eq!(
            bank.verify(&token, &ch, &bank.wrong_code()).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let ch = a.challenge(&token).await;
    let locked = b.verify(&token, &ch, &b.code()).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.header("retry-after"), "30");
}

#[tokio::test]
async fn a_rate_limit_hit_on_a_applies_on_b() {
    let (a, b) = replicas().await;
    let token = a.login().await;
    // Per subject, high routes: 30 per minute.
    for i in 0..30 {
        let r = a.transfer(&token, 1).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "request {i}");
    }
    let r = b.transfer(&token, 1).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("ratelimit-policy"), "\"subject\";q=30;w=60");
    assert_eq!(r.header("retry-after"), "2");
}
