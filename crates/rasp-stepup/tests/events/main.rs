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

/// Events of this thread, as text, up to DEBUG.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test(flavor = "current_thread")]
async fn decisions_are_logged_once_without_secrets() {
    let (captured, _guard) = capture();

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

#[tokio::test(flavor = "current_thread")]
async fn decision_events_carry_method_client_and_request_id() {
    let (captured, _guard) = capture();

    let send = |policy: rasp_stepup::Policy, request_id: Option<&'static str>| {
        let t = token(&policy, "s1");
        let (inner, _) = counting_echo();
        let svc = RaspStepUp::new(policy).layer(inner);
        async move {
            let mut r = req("POST", "/transfer", Some(&t));
            r.extensions_mut()
                .insert(rasp_stepup::PeerAddr("203.0.113.77:40000".parse().unwrap()));
            if let Some(id) = request_id {
                r.headers_mut().insert("x-request-id", id.parse().unwrap());
            }
            svc.oneshot(r).await.unwrap()
        }
    };
    // the client's id is kept and echoed
    let (first, _) = policy();
    let res = send(first, Some("req-7f3a")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-request-id"], "req-7f3a");
    let text = captured.text();
    assert!(text.contains("request.method=POST"), "{text}");
    assert!(text.contains("request.id=\"req-7f3a\""), "{text}");
    assert!(text.contains("client.address=203.0.113.77"), "{text}");

    // without one, the layer makes one: echoed and logged alike
    let (second, _) = policy();
    let res = send(second, None).await;
    let made = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(made.len() >= 18 && made.as_bytes()[16] == b'-', "{made}");
    assert!(captured.text().contains(&format!("request.id=\"{made}\"")));

    // addresses truncated, or left out
    for (how, want, not) in [
        (
            rasp_stepup::LogAddresses::Truncated,
            "client.address=203.0.113.0/24",
            "203.0.113.77",
        ),
        (
            rasp_stepup::LogAddresses::Omitted,
            "client.address= ",
            "203.0.113",
        ),
    ] {
        captured.0.lock().unwrap().clear();
        let clock = rasp_stepup::MockClock::new(rasp_stepup::Timestamp::from_secs(START));
        let policy = builder(&clock).log_addresses(how).build().unwrap();
        let res = send(policy, Some("x")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let text = captured.text();
        assert!(text.contains(want), "{how:?}: {text}");
        assert!(!text.contains(not), "{how:?}: {text}");
    }
    // in TOML
    let clock = rasp_stepup::MockClock::new(rasp_stepup::Timestamp::from_secs(START));
    assert!(
        builder(&clock)
            .toml("log_addresses = \"truncated\"")
            .is_ok()
    );
    assert!(builder(&clock).toml("log_addresses = \"hashed\"").is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn verify_events_name_the_subject_the_challenge_and_the_method() {
    use rasp_stepup::{Challenge, StepUpState, TotpSecret};
    let (captured, _guard) = capture();
    let (policy, clock) = policy();
    let t = token(&policy, "s1");
    let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
    let state = StepUpState::new(
        policy.clone(),
        std::collections::HashMap::from([("alice".to_owned(), secret.clone())]),
    );
    let (inner, _) = counting_echo();
    let svc = RaspStepUp::new(policy).layer(inner);
    let res = svc
        .oneshot(req("POST", "/transfer", Some(&t)))
        .await
        .unwrap();
    let id = res.extensions().get::<Challenge>().unwrap().id.clone();
    let (parts, _) = req("POST", "/step-up/verify", Some(&t)).into_parts();
    let wrong = format!(r#"{{"challenge_id":"{id}","method":"totp","code":"000000"}}"#);
    let code = secret.code_at(clock.now_secs());
    let wrong = if code == "000000" {
        wrong.replace("000000", "111111")
    } else {
        wrong
    };
    assert!(state.verify(&parts, wrong.as_bytes()).await.is_err());
    let right = format!(r#"{{"challenge_id":"{id}","method":"totp","code":"{code}"}}"#);
    assert!(state.verify(&parts, right.as_bytes()).await.is_ok());
    let text = captured.text();
    let verify: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("rasp::verify"))
        .collect();
    assert_eq!(verify.len(), 2, "{text}");
    for line in &verify {
        assert!(line.contains("subject=\"alice\""), "{line}");
        assert!(line.contains(&format!("challenge.id={id}")), "{line}");
        assert!(line.contains("method=\"totp\""), "{line}");
        assert!(line.contains("request.id="), "{line}");
    }
    assert!(verify[0].contains("outcome=\"invalid_code\""), "{text}");
    assert!(verify[1].contains("outcome=\"elevated\""), "{text}");
    assert!(
        !text.contains(&format!("\"{code}\"")),
        "the code is never logged: {text}"
    );
}
