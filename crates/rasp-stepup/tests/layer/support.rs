//! Fixtures: a counting echo service, a test policy, requests.
#![allow(missing_docs, dead_code)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response};
use rasp_stepup::{MockClock, Policy, PolicyBuilder, Sensitivity, Timestamp, TokenConfig};
use tower::service_fn;

pub(crate) const START: u64 = 1_800_000_000;
pub(crate) const UA: &str = "layer-test/1.0";

#[derive(Clone)]
pub(crate) struct Calls(pub(crate) Arc<AtomicUsize>);

impl Calls {
    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

pub(crate) fn counting_echo() -> (
    impl tower::Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future = impl Send,
    > + Clone
    + Send,
    Calls,
) {
    let calls = Calls(Arc::new(AtomicUsize::new(0)));
    let c = calls.clone();
    let svc = service_fn(move |req: Request<Body>| {
        let c = c.clone();
        async move {
            c.0.fetch_add(1, Ordering::SeqCst);
            let who = req
                .extensions()
                .get::<rasp_stepup::Identity>()
                .map(|i| i.subject().to_owned())
                .unwrap_or_default();
            Ok::<_, Infallible>(Response::new(Body::from(format!("hello {who}"))))
        }
    });
    (svc, calls)
}

pub(crate) fn builder(clock: &MockClock) -> PolicyBuilder {
    Policy::builder()
        .route("GET", "/search", Sensitivity::Public)
        .route("POST", "/transfer", Sensitivity::High)
        .route("*", "/admin/{*rest}", Sensitivity::Critical)
        .tokens(
            TokenConfig::ed25519_from_seed([5; 32])
                .issuer("bank")
                .audience("bank-api"),
        )
        .with_clock(clock.clone())
}

pub(crate) fn policy() -> (Policy, MockClock) {
    let clock = MockClock::new(Timestamp::from_secs(START));
    (builder(&clock).build().unwrap(), clock)
}

pub(crate) fn token(policy: &Policy, sid: &str) -> String {
    policy
        .issue_access_token("alice", sid, Duration::from_secs(3600))
        .unwrap()
}

pub(crate) fn req(method: &str, path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("user-agent", UA);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

pub(crate) async fn body_json(res: Response<Body>) -> serde_json::Value {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
}
