//! The bank's `/metrics` (Prometheus text) moves for a challenge, a
//! verification and a rejection. The recorder is process-wide and other
//! tests run beside this one: counters are compared before and after, and
//! only increases are asserted.

use hyper::StatusCode;
use rasp_e2e::start;
use rasp_stepup::Mode;

/// The value of the series `name{labels}` (labels in any order), 0 when
/// absent.
fn series(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (n, rest) = key.split_once('{').unwrap_or((key, "}"));
            if n != name {
                return None;
            }
            let set = rest.strip_suffix('}')?;
            labels
                .iter()
                .all(|(k, v)| set.split(',').any(|p| p == format!("{k}=\"{v}\"")))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: metrics\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{out}"
    );
    out
}

#[tokio::test]
async fn counters_move_for_a_challenge_a_verification_and_a_rejection() {
    let handle = rasp_examples::metrics::recorder().expect("the only recorder");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(rasp_examples::metrics::serve_metrics(listener, handle));

    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;
    let before = scrape(addr).await;

    let ch = bank.challenge(&token).await;
    let a = bank.verify(&token, &ch, &bank.code()).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.json);
    let a = bank
        .call(
            "GET",
            "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            None,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    let after = scrape(addr).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        series(&after, name, labels) - series(&before, name, labels)
    };
    let step_up = [
        ("decision", "step_up"),
        ("level", "high"),
        ("route", "/transfer"),
        ("monitor", "false"),
    ];
    assert!(moved("rasp_decisions_total", &step_up) >= 1.0, "{after}");
    assert!(moved("rasp_challenges_created_total", &[("level", "high")]) >= 1.0);
    assert!(
        moved(
            "rasp_verifications_total",
            &[("outcome", "elevated"), ("method", "totp")]
        ) >= 1.0
    );
    let injection = [
        ("decision", "injection"),
        ("level", "public"),
        ("route", "/search"),
    ];
    assert!(moved("rasp_decisions_total", &injection) >= 1.0, "{after}");
    assert!(moved("rasp_findings_total", &[("class", "xss")]) >= 1.0);
    assert!(moved("rasp_token_cache_total", &[("result", "miss")]) >= 1.0);
    // the stages that call the stores are timed (a summary per stage)
    for stage in ["decide", "verify"] {
        assert!(
            moved("rasp_store_stage_seconds_count", &[("stage", stage)]) >= 1.0,
            "{stage}: {after}"
        );
    }
    // no path, query or token ever becomes a label
    assert!(!after.contains("script"), "{after}");
    assert!(!after.contains(&token[..20]));
}
