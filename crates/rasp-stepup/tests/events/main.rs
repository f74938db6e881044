//! One `tracing` event per non-allow decision, with structured fields and
//! without secrets. A binary of its own: `tracing`'s callsite cache is
//! process-wide, so a capturing subscriber must not share the process with
//! tests that run without one.

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::StatusCode;
use rasp_stepup::RaspStepUp;
use tower::{Layer, ServiceExt};

#[path = "../layer/support.rs"]
mod support;
use support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn decisions_are_logged_once_without_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (policy, _) = policy();
    let t = token(&policy, "s1");
    let (inner, _) = counting_echo();
    let svc = RaspStepUp::new(policy).layer(inner);

    let ok = svc
        .clone()
        .oneshot(req("GET", "/account", Some(&t)))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(captured.text(), "", "allowed requests log nothing");

    let res = svc
        .clone()
        .oneshot(req("POST", "/transfer?secret=hunter2", Some(&t)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = svc
        .oneshot(req("GET", "/account", Some("forged.token.value")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let text = captured.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("rasp::decision"), "{text}");
    assert!(lines[0].contains("decision=\"step_up\""), "{text}");
    assert!(lines[0].contains("route.template=\"/transfer\""), "{text}");
    assert!(lines[0].contains("route.sensitivity=\"high\""), "{text}");
    assert!(lines[0].contains("subject=\"alice\""), "{text}");
    assert!(lines[1].contains("decision=\"invalid_token\""), "{text}");
    assert!(lines[1].contains("status=401"), "{text}");
    for secret in [t.as_str(), "hunter2", "forged.token.value"] {
        assert!(!text.contains(secret), "a secret reached the log: {text}");
    }
}
