//! What the layer answers, and that the inner service is skipped.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::StatusCode;
use rasp_stepup::{
    Challenge, Decision, Identity, IdentityError, IdentityFuture, Mode, Monitored, RaspStepUp,
    Rejection, RejectionKind, Sensitive, StepUpState, TotpSecret,
};
use tower::{Layer, ServiceExt};

use crate::support::*;

#[tokio::test]
async fn public_route_passes_without_credentials() {
    let (policy, _) = policy();
    let (inner, calls) = counting_echo();
    let res = RaspStepUp::new(policy)
        .layer(inner)
        .oneshot(req("GET", "/search?q=a", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(calls.count(), 1);
}

#[tokio::test]
async fn missing_token_is_invalid_token_and_inner_never_runs() {
    let (policy, _) = policy();
    let (inner, calls) = counting_echo();
    let res = RaspStepUp::new(policy)
        .layer(inner)
        .oneshot(req("GET", "/account", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\", error_description=\"the access token is missing\""
    );
    assert_eq!(
        res.extensions().get::<Rejection>().map(Rejection::kind),
        Some(RejectionKind::InvalidToken)
    );
    assert_eq!(calls.count(), 0);
}

#[tokio::test]
async fn authenticated_route_passes_identity_to_the_handler() {
    let (policy, _) = policy();
    let t = token(&policy, "s1");
    let (inner, calls) = counting_echo();
    let svc = RaspStepUp::new(policy).layer(inner);
    for _ in 0..3 {
        let res = svc
            .clone()
            .oneshot(req("GET", "/account", Some(&t)))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(&bytes[..], b"hello alice");
    }
    assert_eq!(calls.count(), 3);
}

#[tokio::test]
async fn high_route_challenges_before_inner_runs() {
    let (policy, _) = policy();
    let t = token(&policy, "s1");
    let (inner, calls) = counting_echo();
    let res = RaspStepUp::new(policy)
        .layer(inner)
        .oneshot(req("POST", "/transfer", Some(&t)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.extensions().get::<Challenge>().cloned().unwrap();
    assert_eq!(challenge.max_age, 600);
    assert_eq!(challenge.acr_values, vec!["mfa".to_owned()]);
    assert!(matches!(
        res.extensions().get::<Decision>(),
        Some(Decision::StepUp(_))
    ));
    let body = body_json(res).await;
    assert_eq!(body["challenge_id"], challenge.id);
    assert_eq!(calls.count(), 0);
}

#[tokio::test]
async fn wildcard_key_covers_raw_paths_without_axum() {
    let (policy, _) = policy();
    let t = token(&policy, "s1");
    let (inner, calls) = counting_echo();
    let res = RaspStepUp::new(policy)
        .layer(inner)
        .oneshot(req("DELETE", "/admin/users/7", Some(&t)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .ends_with("max_age=\"120\"")
    );
    assert_eq!(calls.count(), 0);
}

#[tokio::test]
async fn monitor_mode_passes_and_attaches_the_would_be_decision() {
    let clock = rasp_stepup::MockClock::new(rasp_stepup::Timestamp::from_secs(START));
    let policy = builder(&clock).mode(Mode::Monitor).build().unwrap();
    let t = token(&policy, "s1");
    let (inner, calls) = counting_echo();
    let svc = RaspStepUp::new(policy).layer(inner);
    let res = svc
        .clone()
        .oneshot(req("POST", "/transfer", Some(&t)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(matches!(
        res.extensions().get::<Monitored>(),
        Some(Monitored(Decision::StepUp(_)))
    ));
    let res = svc.oneshot(req("GET", "/account", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let Some(Monitored(Decision::Reject(r))) = res.extensions().get::<Monitored>() else {
        panic!("expected a monitored rejection");
    };
    assert_eq!(r.kind(), RejectionKind::InvalidToken);
    assert_eq!(calls.count(), 2);
}

fn app(policy: rasp_stepup::Policy) -> Router {
    Router::new()
        .route(
            "/account",
            get(|id: Identity| async move { format!("hi {}", id.subject()) }),
        )
        .route("/transfer", post(|| async { "sent" }))
        .route(
            "/payees",
            post(|| async { "added" }).layer(Sensitive::high()),
        )
        .layer(RaspStepUp::new(policy))
}

#[tokio::test]
async fn works_as_router_layer_route_layer_and_method_router_layer() {
    let (policy, _) = policy();
    let t = token(&policy, "s1");

    let res = app(policy.clone())
        .oneshot(req("POST", "/payees", Some(&t)))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "route-site annotation"
    );
    let res = app(policy.clone())
        .oneshot(req("GET", "/account", Some(&t)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // route_layer: unknown paths stay 404.
    let routed: Router = Router::new()
        .route("/transfer", post(|| async { "sent" }))
        .route_layer(RaspStepUp::new(policy.clone()));
    let res = routed
        .clone()
        .oneshot(req("POST", "/transfer", Some(&t)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = routed.oneshot(req("GET", "/nope", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // MethodRouter::layer on one route.
    let one: Router = Router::new().route(
        "/transfer",
        post(|| async { "sent" }).layer(RaspStepUp::new(policy)),
    );
    let res = one.oneshot(req("POST", "/transfer", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sensitive_without_outer_layer_fails_closed() {
    let app: Router = Router::new().route(
        "/payees",
        post(|| async { "added" }).layer(Sensitive::critical()),
    );
    let res = app.oneshot(req("POST", "/payees", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn elevated_token_satisfies_until_max_age() {
    let (policy, clock) = policy();
    let t = token(&policy, "s1");
    let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
    let state = StepUpState::new(
        policy.clone(),
        HashMap::from([("alice".to_owned(), secret.clone())]),
    );
    let app = app(policy);
    let res = app
        .clone()
        .oneshot(req("POST", "/transfer", Some(&t)))
        .await
        .unwrap();
    let id = res.extensions().get::<Challenge>().unwrap().id.clone();
    let (parts, _) = req("POST", "/step-up/verify", Some(&t)).into_parts();
    let body = format!(
        r#"{{"challenge_id":"{id}","method":"totp","code":"{}"}}"#,
        secret.code_at(clock.now_secs())
    );
    let elevated = state.verify(&parts, body.as_bytes()).await.unwrap();
    assert_eq!(elevated.expires_in, 300);

    let ok = app
        .clone()
        .oneshot(req("POST", "/transfer", Some(&elevated.access_token)))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    clock.advance(Duration::from_secs(299));
    let ok = app
        .clone()
        .oneshot(req("POST", "/transfer", Some(&elevated.access_token)))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    // Past exp + leeway (30 s) the token no longer authenticates.
    clock.advance(Duration::from_secs(31));
    let res = app
        .oneshot(req("POST", "/transfer", Some(&elevated.access_token)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.extensions().get::<Rejection>().map(Rejection::kind),
        Some(RejectionKind::InvalidToken)
    );
}

fn cookie_sessions(parts: &http::request::Parts) -> IdentityFuture {
    let cookie = parts
        .headers
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Box::pin(async move {
        match cookie.as_deref() {
            None => Ok(None),
            Some("sid=A") => Ok(Some(Identity::new("alice", "A"))),
            Some("sid=B") => Ok(Some(Identity::new("alice", "B"))),
            Some(_) => Err(IdentityError::new("unknown session")),
        }
    })
}

#[tokio::test]
async fn custom_identity_and_session_bound_elevated_tokens() {
    let clock = rasp_stepup::MockClock::new(rasp_stepup::Timestamp::from_secs(START));
    let policy = builder(&clock)
        .with_identity(cookie_sessions)
        .build()
        .unwrap();
    let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
    let state = StepUpState::new(
        policy.clone(),
        HashMap::from([("alice".to_owned(), secret.clone())]),
    );
    let app = app(policy);
    let with_cookie = |method: &str, path: &str, cookie: &str, bearer: Option<&str>| {
        let mut r = req(method, path, bearer);
        r.headers_mut().insert("cookie", cookie.parse().unwrap());
        r
    };
    let res = app
        .clone()
        .oneshot(with_cookie("GET", "/account", "sid=A", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .clone()
        .oneshot(with_cookie("GET", "/account", "sid=zzz", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let res = app
        .clone()
        .oneshot(with_cookie("POST", "/transfer", "sid=A", None))
        .await
        .unwrap();
    let id = res.extensions().get::<Challenge>().unwrap().id.clone();
    let (parts, _) = with_cookie("POST", "/step-up/verify", "sid=A", None).into_parts();
    let body = format!(
        r#"{{"challenge_id":"{id}","method":"totp","code":"{}"}}"#,
        secret.code_at(clock.now_secs())
    );
    let elevated = state
        .verify(&parts, body.as_bytes())
        .await
        .unwrap()
        .access_token;

    let ok = app
        .clone()
        .oneshot(with_cookie("POST", "/transfer", "sid=A", Some(&elevated)))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let other = app
        .oneshot(with_cookie("POST", "/transfer", "sid=B", Some(&elevated)))
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        other.extensions().get::<Rejection>().map(Rejection::kind),
        Some(RejectionKind::InvalidToken)
    );
}

#[tokio::test]
async fn concurrent_requests_share_one_challenge_store() {
    let (policy, _) = policy();
    let t = token(&policy, "s1");
    let svc = app(policy.clone());
    let mut handles = Vec::new();
    for _ in 0..16 {
        let svc = svc.clone();
        let t = t.clone();
        handles.push(tokio::spawn(async move {
            let res = svc
                .oneshot(req("POST", "/transfer", Some(&t)))
                .await
                .unwrap();
            res.extensions().get::<Challenge>().unwrap().id.clone()
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16, "each challenge id is unique");
    let _ = Body::empty();
}

/// A small deterministic generator: garbage without a property-testing dependency.
fn garbage(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn garbage_credentials_and_bodies_never_panic_and_never_challenge() {
    let (policy, _) = policy();
    let good = token(&policy, "s1");
    let state = StepUpState::new(policy.clone(), HashMap::<String, TotpSecret>::new());
    let svc = app(policy);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..400 {
        let len = (i * 7) % 300;
        let bytes = garbage(&mut seed, len);
        // As an Authorization header (when it is a valid header value at all).
        let mut value = b"Bearer ".to_vec();
        value.extend(bytes.iter().map(|b| b'!' + b % 94));
        // Mix in pieces of a real token so some inputs look almost valid.
        if i % 3 == 0 {
            value.extend_from_slice(&good.as_bytes()[..good.len().min(len)]);
        }
        let mut r = req("POST", "/transfer", None);
        r.headers_mut().insert(
            "authorization",
            http::HeaderValue::from_bytes(&value).unwrap(),
        );
        let res = svc.clone().oneshot(r).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(res.extensions().get::<Challenge>().is_none());

        // As a verify body, with a valid token.
        let (parts, _) = req("POST", "/step-up/verify", Some(&good)).into_parts();
        let err = state.verify(&parts, &bytes).await.unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }
    let _ = Body::empty();
}

/// A factor written outside the crate with its public API only: approval
/// responses `ok-<n>`, each accepted once (as a push approval's nonce).
struct Approval;

impl rasp_stepup::Factor for Approval {
    fn method(&self) -> &'static str {
        "approve"
    }

    fn amr(&self) -> &'static [&'static str] {
        &["user"]
    }

    fn verify<'a>(
        &'a self,
        ctx: rasp_stepup::stepup::FactorContext<'a>,
        response: &'a str,
    ) -> rasp_stepup::stepup::FactorFuture<'a> {
        use rasp_stepup::stepup::FactorOutcome;
        Box::pin(async move {
            let Some(nonce) = response
                .strip_prefix("ok-")
                .and_then(|n| n.parse::<u64>().ok())
            else {
                return Ok(FactorOutcome::Rejected);
            };
            Ok(if ctx.claim_once(nonce, Duration::from_secs(600)).await? {
                FactorOutcome::Accepted
            } else {
                FactorOutcome::Replayed
            })
        })
    }
}

#[tokio::test]
async fn a_factor_from_outside_the_crate_completes_a_challenge_once() {
    let (policy, _clock) = policy();
    let t = token(&policy, "s1");
    let state = StepUpState::new(policy.clone(), HashMap::<String, TotpSecret>::new())
        .with_factor(Approval);
    let app = app(policy);
    let challenge = || async {
        let res = app
            .clone()
            .oneshot(req("POST", "/transfer", Some(&t)))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        res.extensions().get::<Challenge>().unwrap().clone()
    };
    let verify = |id: String, response: &str| {
        let (parts, _) = req("POST", "/step-up/verify", Some(&t)).into_parts();
        let body = format!(r#"{{"challenge_id":"{id}","method":"approve","code":"{response}"}}"#);
        let state = state.clone();
        async move { state.verify(&parts, body.as_bytes()).await }
    };
    // challenges advertise the registered methods
    let first = challenge().await;
    assert_eq!(first.methods, ["totp", "approve"]);
    let wrong = verify(first.id.clone(), "no").await.unwrap_err();
    assert_eq!(
        wrong,
        rasp_stepup::VerifyError::InvalidCode {
            attempts_remaining: 4
        }
    );
    let elevated = verify(first.id, "ok-7").await.unwrap();
    assert_eq!(elevated.amr, ["user"]);
    let ok = app
        .clone()
        .oneshot(req("POST", "/transfer", Some(&elevated.access_token)))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    // the same approval cannot complete another challenge
    let second = challenge().await;
    let replayed = verify(second.id.clone(), "ok-7").await.unwrap_err();
    assert_eq!(
        replayed,
        rasp_stepup::VerifyError::InvalidCode {
            attempts_remaining: 4
        }
    );
    assert!(verify(second.id, "ok-8").await.is_ok());
}

/// Monitor mode lets an unauthenticated request through; a handler that
/// needs an `Identity` then answers the 401 the layer would have (not a
/// 500), and `Option<Identity>` sees none.
#[tokio::test]
async fn monitor_mode_never_turns_a_pass_into_a_500() {
    let clock = rasp_stepup::MockClock::new(rasp_stepup::Timestamp::from_secs(START));
    let policy = builder(&clock).mode(Mode::Monitor).build().unwrap();
    let t = token(&policy, "s1");
    let app: Router = Router::new()
        .route(
            "/account",
            get(|id: Identity| async move { id.subject().to_owned() }),
        )
        .route(
            "/search",
            get(|id: Option<Identity>| async move {
                id.map_or_else(|| "anonymous".to_owned(), |i| i.subject().to_owned())
            }),
        )
        .layer(RaspStepUp::new(policy));
    let res = app
        .clone()
        .oneshot(req("GET", "/account", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
    let body = body_json(res).await;
    assert_eq!(body["type"], "urn:rasp-stepup:problem:invalid-token");
    let res = app
        .clone()
        .oneshot(req("GET", "/account", Some(&t)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .clone()
        .oneshot(req("GET", "/search", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
    assert_eq!(&bytes[..], b"anonymous");
    // without the layer in front, both forms fail closed
    let bare: Router = Router::new().route(
        "/search",
        get(|id: Option<Identity>| async move { format!("{}", id.is_some()) }),
    );
    let res = bare.oneshot(req("GET", "/search", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
