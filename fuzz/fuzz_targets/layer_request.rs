//! Arbitrary requests through the layer and the companion verify route:
//! method, path and query, headers (bearer tokens, cookies, content types,
//! forwarded addresses) and bodies (JSON, form, multipart, XML) are read
//! and judged without a panic, and the inner service never runs on an
//! answer of the layer's own. `cargo +nightly fuzz run layer_request`.
//!
//! Input layout: lines up to the first empty line are the request line
//! (`METHOD /path?query`) and `name: value` headers; the rest is the body.

#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::Request;
use libfuzzer_sys::fuzz_target;
use rasp_stepup::risk::PeerAddr;
use rasp_stepup::{
    Policy, RaspStepUp, Sensitivity, StepUpState, TokenConfig, TotpSecret, step_up_routes,
};
use tower::ServiceExt;

static CALLS: AtomicUsize = AtomicUsize::new(0);

struct Fixture {
    rt: tokio::runtime::Runtime,
    app: Router,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let policy = Policy::builder()
            .route("POST", "/transfer", Sensitivity::High)
            .route("GET", "/search", Sensitivity::Public)
            .login_route("POST", "/login")
            .tokens(TokenConfig::ed25519_from_seed([7; 32]).issuer("fuzz").audience("fuzz"))
            .build()
            .expect("policy");
        let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").expect("secret");
        let state = StepUpState::new(policy.clone(), HashMap::from([("alice".into(), secret)]));
        let handler = || async {
            CALLS.fetch_add(1, Ordering::SeqCst);
            "ok"
        };
        let app = Router::new()
            .route("/search", get(handler))
            .route("/transfer", post(handler))
            .route("/login", post(handler))
            .route("/account", get(handler))
            .layer(RaspStepUp::new(policy))
            .merge(step_up_routes(state));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Fixture { rt, app }
    })
}

fn request(data: &[u8]) -> Option<Request<Body>> {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(data.len());
    let head = std::str::from_utf8(&data[..split]).ok()?;
    let body = data.get(split + 2..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let (method, uri) = lines.next()?.split_once(' ')?;
    let mut b = Request::builder().method(method).uri(uri);
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            b = b.header(k.trim(), v.trim());
        }
    }
    let mut req = b.body(Body::from(body)).ok()?;
    req.extensions_mut()
        .insert(PeerAddr(SocketAddr::from(([198, 51, 100, 7], 40000))));
    Some(req)
}

fuzz_target!(|data: &[u8]| {
    let Some(req) = request(data) else {
        return;
    };
    let f = fixture();
    let before = CALLS.load(Ordering::SeqCst);
    let res = f
        .rt
        .block_on(f.app.clone().oneshot(req))
        .expect("infallible");
    let called = CALLS.load(Ordering::SeqCst) > before;
    // the layer's own answers (401, 403, 413, 429, 503) never reach the app;
    // the handlers here only answer 200
    if called {
        assert!(res.status().is_success(), "{}", res.status());
    }
});
