//! Login and verify routes: guarded once, in either composition order.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, StatusCode};
use rasp_stepup::risk::{PeerAddr, Quota, RateRules, RiskRules};
use rasp_stepup::{MockClock, RaspStepUp, StepUpState, Timestamp, step_up_routes};
use tower::ServiceExt;

use crate::support::*;

fn from(req: &mut Request<Body>, ip: &str) {
    let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
    req.extensions_mut().insert(PeerAddr(addr));
}

fn verify_call(ip: &str) -> Request<Body> {
    let mut r = Request::builder()
        .method("POST")
        .uri("/step-up/verify")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"challenge_id":"x","method":"totp","code":"123456"}"#,
        ))
        .unwrap();
    from(&mut r, ip);
    r
}

/// The statuses of `n` verify calls from one address.
async fn statuses(app: &Router, n: usize) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for _ in 0..n {
        let res = app
            .clone()
            .oneshot(verify_call("198.51.100.9"))
            .await
            .unwrap();
        out.push(res.status());
    }
    out
}

fn policy_with_entry_quota(limit: u32) -> rasp_stepup::Policy {
    let clock = MockClock::new(Timestamp::from_secs(START));
    builder(&clock)
        .risk(
            RiskRules::default()
                .rate(RateRules::default().per_client_entry(Some(Quota::per_minute(limit)))),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_verify_route_is_guarded_once_in_either_order() {
    let expected = [
        StatusCode::UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS,
    ];
    // the README's order: the companion router merged outside the layer
    let policy = policy_with_entry_quota(3);
    let state = StepUpState::new(policy.clone(), HashMap::new());
    let outside = Router::new()
        .route("/search", get(|| async { "ok" }))
        .layer(RaspStepUp::new(policy))
        .merge(step_up_routes(state));
    assert_eq!(statuses(&outside, 4).await, expected);

    // merged first, the app's layer over everything
    let policy = policy_with_entry_quota(3);
    let state = StepUpState::new(policy.clone(), HashMap::new());
    let inside = Router::new()
        .route("/search", get(|| async { "ok" }))
        .merge(step_up_routes(state))
        .layer(RaspStepUp::new(policy));
    assert_eq!(statuses(&inside, 4).await, expected);
}

#[tokio::test]
async fn a_login_route_is_public_with_its_own_quota_whatever_the_table_says() {
    let clock = MockClock::new(Timestamp::from_secs(START));
    let policy = builder(&clock)
        // a stricter key covering it does not make it need a token
        .route("*", "/{*rest}", rasp_stepup::Sensitivity::High)
        .login_route("POST", "/login")
        .risk(
            RiskRules::default()
                .rate(RateRules::default().per_client_entry(Some(Quota::per_minute(2)))),
        )
        .build()
        .unwrap();
    let (echo, calls) = counting_echo();
    let app = Router::new()
        .route("/login", post(move |req: Request<Body>| echo.oneshot(req)))
        .layer(RaspStepUp::new(policy));
    let mut got = Vec::new();
    for _ in 0..3 {
        let mut r = req("POST", "/login", None);
        from(&mut r, "198.51.100.10");
        got.push(app.clone().oneshot(r).await.unwrap().status());
    }
    assert_eq!(
        got,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(calls.count(), 2);
    let mut r = req("POST", "/login", None);
    from(&mut r, "198.51.100.10");
    let res = app.clone().oneshot(r).await.unwrap();
    assert_eq!(res.headers()["ratelimit-policy"], "\"client\";q=2;w=60");
}
