//! Bodies the bank's handlers parse whatever their headers say, over real
//! HTTP with an elevated token (so that nothing but inspection stands
//! between them and `POST /transfer`): each is inspected or refused.

use std::io::Write as _;

use hyper::StatusCode;
use rasp_e2e::{Bank, start};
use rasp_stepup::Mode;

/// A transfer whose payee is an injection; the handler parses it as JSON
/// whatever the `Content-Type`.
const ATTACK: &str = r#"{"to":"bob' UNION SELECT password FROM users--","amount":5}"#;
const BENIGN: &str = r#"{"to":"bob","amount":5}"#;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// What a case is, its headers, its body and the answer it must get.
type Case = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
    StatusCode,
);

async fn elevated() -> (Bank, String) {
    let bank = start(Mode::Enforce).await;
    let base = bank.login().await;
    let token = bank.step_up_with(&base, &[]).await;
    (bank, token)
}

async fn transfer(
    bank: &Bank,
    token: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let a = bank
        .raw("POST", "/transfer", Some(token), headers, body)
        .await;
    (a.status, a.json)
}

#[tokio::test]
async fn every_way_around_body_inspection_is_closed() {
    let (bank, token) = elevated().await;
    // the elevated token works: a plain JSON transfer is sent
    let ok = transfer(
        &bank,
        &token,
        &[("content-type", "application/json")],
        BENIGN.into(),
    )
    .await;
    assert_eq!(ok.0, StatusCode::OK, "{:?}", ok.1);
    let attack = ATTACK.as_bytes().to_vec();
    let cases: Vec<Case> = vec![
        (
            "octet-stream",
            vec![("content-type", "application/octet-stream")],
            attack.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            "jsonx",
            vec![("content-type", "application/jsonx")],
            attack.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            "multipart without a boundary",
            vec![("content-type", "multipart/form-data")],
            attack.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            "two Content-Types",
            vec![
                ("content-type", "image/png"),
                ("content-type", "application/json"),
            ],
            attack.clone(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "gzip",
            vec![
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            gzip(&attack),
            StatusCode::FORBIDDEN,
        ),
        (
            "br that is not brotli",
            vec![
                ("content-type", "application/json"),
                ("content-encoding", "br"),
            ],
            attack.clone(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "zstd",
            vec![
                ("content-type", "application/json"),
                ("content-encoding", "zstd"),
            ],
            attack.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "nested 40 deep",
            vec![("content-type", "application/json")],
            format!("{}{ATTACK}{}", "[".repeat(40), "]".repeat(40)).into_bytes(),
            StatusCode::FORBIDDEN,
        ),
        (
            "a gzip bomb",
            vec![
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            gzip(&[b' '; 4 << 20]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (what, headers, body, want) in cases {
        let (status, json) = transfer(&bank, &token, &headers, body).await;
        assert_eq!(status, want, "{what}: {json}");
        assert_eq!(json["status"], want.as_u16(), "{what}");
    }
    // the refusals say what to fix
    let (_, json) = transfer(
        &bank,
        &token,
        &[
            ("content-type", "application/json"),
            ("content-encoding", "zstd"),
        ],
        BENIGN.into(),
    )
    .await;
    assert_eq!(
        json["type"],
        "urn:rasp-stepup:problem:unsupported-media-type"
    );
    assert_eq!(
        json["detail"],
        "the body's Content-Encoding is not one the server inspects"
    );
    // harmless bodies under the same disguises still reach the handler
    for headers in [
        vec![("content-type", "application/octet-stream")],
        vec![
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
    ] {
        let body = if headers.len() == 2 {
            gzip(BENIGN.as_bytes())
        } else {
            BENIGN.into()
        };
        let (status, json) = transfer(&bank, &token, &headers, body.clone()).await;
        // the handler reads what it was sent: JSON, or gzip it does not
        // decompress (400 from the handler itself)
        let want = if headers.len() == 2 {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        assert_eq!(status, want, "{headers:?}: {json}");
    }
}

#[tokio::test]
async fn paths_no_route_matches_are_inspected_and_answered_404() {
    let bank = start(Mode::Enforce).await;
    let base = bank.login().await;
    let a = bank.call("GET", "/nope", Some(&base), None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json["detail"], "no such route");
    let a = bank
        .call(
            "GET",
            "/nope?q=1'+UNION+SELECT+password+FROM+users--",
            Some(&base),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.json);
    let a = bank
        .call("GET", "/..%2f..%2fetc%2fpasswd", None, None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.json);
    // without a token, the default level answers first
    let a = bank.call("GET", "/nope", None, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

/// `GET /account` with a token and extra headers.
async fn account(bank: &Bank, token: &str, headers: &[(&str, &str)]) -> rasp_e2e::Answer {
    bank.call_with("GET", "/account", Some(token), None, rasp_e2e::UA, headers)
        .await
}

#[tokio::test]
async fn cookies_and_headers_a_handler_may_read_are_inspected() {
    let bank = start(Mode::Enforce).await;
    let base = bank.login().await;
    let sqli = "1' UNION SELECT password FROM users--";
    let quoted = format!("text/plain; charset=\"{sqli}\"");
    let cookie = format!("theme=dark; pref={sqli}");
    for (name, value) in [
        ("cookie", cookie.as_str()),
        ("x-request-id", sqli),
        ("x-real-ip", sqli),
        ("accept-language", sqli),
        ("origin", sqli),
        ("content-type", quoted.as_str()),
    ] {
        let a = account(&bank, &base, &[(name, value)]).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{name}: {}", a.json);
    }
    // the same headers as browsers and proxies send them pass
    let a = account(
        &bank,
        &base,
        &[
            (
                "cookie",
                "theme=dark; sid=Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA",
            ),
            ("x-request-id", "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
            ("x-real-ip", "203.0.113.9"),
            ("accept-language", "en-GB,en;q=0.9"),
            ("origin", "https://bank.example"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
}

#[tokio::test]
async fn an_uncertain_finding_asks_for_a_step_up_on_sensitive_routes() {
    let (bank, token) = elevated().await;
    let json = [("content-type", "application/json")];
    // a probe (a lone quote) is a medium-confidence finding: on a high
    // route the elevated token meets a new challenge, not a 403
    let probe = br#"{"to":"bob'","amount":5}"#.to_vec();
    let (status, body) = transfer(&bank, &token, &json, probe).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["type"], "urn:rasp-stepup:problem:step-up-required");
    assert!(body["challenge_id"].is_string(), "{body}");
    // the same token without the probe is still good
    let (status, _) = transfer(&bank, &token, &json, BENIGN.into()).await;
    assert_eq!(status, StatusCode::OK);
    // on an authenticated route the suspicion alone (40 < 60) passes
    let a = bank
        .call("GET", "/account?note=bob'", Some(&token), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
}
