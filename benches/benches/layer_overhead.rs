//! In-process cost of the `RaspStepUp` layer against a bare `service_fn`:
//! (a) a public clean GET, (b) an authenticated GET (token cache hit),
//! (c) a high route with a valid elevated token.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hint::black_box;

use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use std::net::SocketAddr;

use rasp_stepup::risk::RateRules;
use rasp_stepup::{
    MockClock, PeerAddr, Policy, RaspStepUp, RiskRules, Sensitivity, StepUpState, Timestamp,
    TokenConfig, TotpSecret,
};
use tower::{Layer, ServiceExt, service_fn};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) bench";

fn policy(clock: MockClock) -> Policy {
    Policy::builder()
        .route("GET", "/search", Sensitivity::Public)
        .route("POST", "/transfer", Sensitivity::High)
        .tokens(
            TokenConfig::ed25519_from_seed([3; 32])
                .issuer("bank")
                .audience("bank-api"),
        )
        .with_clock(clock)
        // The mock clock stands still, so any quota would run out; rate
        // checks are measured on their own in the `risk` bench.
        .risk(RiskRules::default().rate(RateRules::none()))
        .build()
        .expect("bench policy")
}

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    with_cookie(path, token, None)
}

/// A request as a browser behind `ConnectInfo` sends it.
fn with_cookie(path: &str, token: Option<&str>, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path)
        .header("user-agent", UA)
        .header("accept-language", "en-GB,en;q=0.9");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    let mut req = b.body(Body::empty()).expect("request");
    req.extensions_mut()
        .insert(PeerAddr(SocketAddr::from(([198, 51, 100, 7], 50_000))));
    req
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let clock = MockClock::new(Timestamp::from_secs(1_800_000_000));
    let policy = policy(clock.clone());
    let inner = service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let layered = RaspStepUp::new(policy.clone()).layer(inner);
    let token = policy
        .issue_access_token("alice", "s1", std::time::Duration::from_secs(3600))
        .expect("token");

    // Elevate once through the real flow.
    let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").expect("secret");
    let state = StepUpState::new(
        policy,
        HashMap::from([("alice".to_owned(), secret.clone())]),
    );
    let elevated = rt.block_on(async {
        let mut req = get("/transfer", Some(&token));
        *req.method_mut() = http::Method::POST;
        let res = layered.clone().oneshot(req).await.expect("infallible");
        let challenge = res
            .extensions()
            .get::<rasp_stepup::Challenge>()
            .expect("challenge")
            .id
            .clone();
        let (parts, _) = get("/step-up/verify", Some(&token)).into_parts();
        let body = format!(
            r#"{{"challenge_id":"{challenge}","method":"totp","code":"{}"}}"#,
            secret.code_at(clock.now_secs())
        );
        state
            .verify(&parts, body.as_bytes())
            .await
            .expect("elevated")
            .access_token
    });

    let cookie = rt.block_on(async {
        let res = layered
            .clone()
            .oneshot(get("/account", Some(&token)))
            .await
            .expect("infallible");
        let set = res.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .to_owned();
        set.split(';').next().expect("a cookie").to_owned()
    });

    let mut g = c.benchmark_group("layer_overhead");
    g.bench_function("baseline_service_fn", |b| {
        b.iter(|| rt.block_on(inner.oneshot(black_box(get("/search?q=shoes", None)))))
    });
    g.bench_function("a_public_clean_get", |b| {
        b.iter(|| {
            rt.block_on(
                layered
                    .clone()
                    .oneshot(black_box(get("/search?q=shoes", None))),
            )
        })
    });
    g.bench_function("b_authenticated_get_cache_hit", |b| {
        b.iter(|| {
            rt.block_on(
                layered
                    .clone()
                    .oneshot(black_box(get("/account", Some(&token)))),
            )
        })
    });
    g.bench_function("b2_authenticated_get_with_device_cookie", |b| {
        b.iter(|| {
            let req = with_cookie("/account", Some(&token), Some(&cookie));
            rt.block_on(layered.clone().oneshot(black_box(req)))
        })
    });
    g.bench_function("c_high_route_elevated", |b| {
        b.iter(|| {
            let mut req = get("/transfer", Some(&elevated));
            *req.method_mut() = http::Method::POST;
            let res = rt
                .block_on(layered.clone().oneshot(black_box(req)))
                .expect("infallible");
            assert_eq!(res.status(), 200);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
