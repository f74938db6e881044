//! The application's own answers: a `Responder` renders challenges and
//! rejections; the status, protocol headers and extensions stay the
//! layer's. Cookie-session apps turn the bearer wording off.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use rasp_stepup::{Challenge, Decision, MockClock, RaspStepUp, Rejection, Responder, Timestamp};
use tower::{Layer, ServiceExt};

use crate::support::*;

/// Answers `{"error": <kind>}` as plain JSON, with a header of its own and
/// one that tries to override the layer's.
struct OwnErrors;

impl Responder for OwnErrors {
    fn respond(&self, decision: &Decision, _default: Response<Bytes>) -> Response<Bytes> {
        let kind = match decision {
            Decision::StepUp(_) => "step_up",
            Decision::Reject(r) => r.kind().as_str(),
            _ => "allow",
        };
        let mut res = Response::new(Bytes::from(format!(r#"{{"error":"{kind}"}}"#)));
        *res.status_mut() = StatusCode::OK;
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        h.insert("x-app", "bank".parse().unwrap());
        h.insert(header::WWW_AUTHENTICATE, "Basic".parse().unwrap());
        res
    }

    fn respond_verify(&self, kind: &'static str, _default: Response<Bytes>) -> Response<Bytes> {
        let mut res = Response::new(Bytes::from(format!(r#"{{"verify_error":"{kind}"}}"#)));
        *res.status_mut() = StatusCode::IM_A_TEAPOT;
        res
    }
}

type Svc = rasp_stepup::RaspStepUpService<
    tower::util::BoxCloneService<
        http::Request<axum::body::Body>,
        Response<axum::body::Body>,
        std::convert::Infallible,
    >,
>;

/// The layer with `policy` around the echo app, a base token, and the
/// answer to a base-token `POST /transfer` (a step-up).
async fn step_up_with(
    policy: rasp_stepup::Policy,
) -> (Svc, Response<axum::body::Body>, crate::support::Calls) {
    let t = token(&policy, "s1");
    let (inner, calls) = counting_echo();
    let svc = RaspStepUp::new(policy).layer(tower::util::BoxCloneService::new(inner));
    let res = svc
        .clone()
        .oneshot(req("POST", "/transfer", Some(&t)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the status stays");
    (svc, res, calls)
}

async fn text(res: Response<axum::body::Body>) -> String {
    let b = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    String::from_utf8_lossy(&b).into_owned()
}

#[tokio::test]
async fn a_responder_renders_the_body_and_the_layer_keeps_the_protocol() {
    let clock = MockClock::new(Timestamp::from_secs(START));
    let policy = builder(&clock).responder(OwnErrors).build().unwrap();
    let (svc, res, calls) = step_up_with(policy).await;
    let www = res.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        www.starts_with("Bearer error=\"insufficient_user_authentication\""),
        "{www}"
    );
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()["x-app"], "bank");
    assert!(res.headers().contains_key("x-request-id"));
    assert!(res.extensions().get::<Challenge>().is_some());
    assert_eq!(text(res).await, r#"{"error":"step_up"}"#);

    let res = svc
        .clone()
        .oneshot(req("GET", "/account", Some("forged.token.value")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert!(res.extensions().get::<Rejection>().is_some());
    assert_eq!(text(res).await, r#"{"error":"invalid_token"}"#);
    assert_eq!(calls.0.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn cookie_session_apps_get_no_bearer_wording() {
    let clock = MockClock::new(Timestamp::from_secs(START));
    let policy = builder(&clock).bearer_challenges(false).build().unwrap();
    let (svc, res, _) = step_up_with(policy).await;
    assert!(!res.headers().contains_key(header::WWW_AUTHENTICATE));
    let body = text(res).await;
    assert!(body.contains("\"challenge_id\""), "{body}");
    assert!(body.contains("\"verify_uri\""), "{body}");
    let res = svc.oneshot(req("GET", "/account", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(!res.headers().contains_key(header::WWW_AUTHENTICATE));
}

#[tokio::test]
async fn the_verify_route_answers_through_the_responder_too() {
    let clock = MockClock::new(Timestamp::from_secs(START));
    let policy = builder(&clock).responder(OwnErrors).build().unwrap();
    let t = token(&policy, "s1");
    let app = rasp_stepup::step_up_routes(rasp_stepup::StepUpState::new(
        policy,
        std::collections::HashMap::<String, rasp_stepup::TotpSecret>::new(),
    ));
    let mut r = req("POST", "/step-up/verify", Some(&t));
    *r.body_mut() = axum::body::Body::from("not json");
    let res = app.clone().oneshot(r).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "the status stays");
    assert_eq!(text(res).await, r#"{"verify_error":"invalid_request"}"#);
    // a forged base token: 401, the bearer header kept
    let res = app
        .oneshot(req("POST", "/step-up/verify", Some("forged.token.value")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(text(res).await, r#"{"verify_error":"invalid_token"}"#);
}
