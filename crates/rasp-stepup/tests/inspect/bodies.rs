//! Bodies the handler may parse whatever their headers say: compressed,
//! mislabelled, without a boundary, with duplicate keys, nested deep, or
//! several documents. Each is inspected, or refused with 400, 413 or 415.

use std::io::Write as _;

use super::*;
use rasp_stepup::{CompressedBodies, MalformedBodies};

const ATTACK: &str = r#"{"memo":"<script>alert(document.cookie)</script>"}"#;
const BENIGN: &str = r#"{"memo":"rent for March","amount":1200}"#;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A brotli stream (RFC 7932) of one uncompressed meta-block: window bits
/// 16 (a 0 bit), not last, four nibbles of length, uncompressed; the
/// bytes; then an empty last meta-block.
fn brotli_stored(data: &[u8]) -> Vec<u8> {
    assert!(!data.is_empty() && data.len() <= 1 << 16);
    let header: u32 = ((data.len() as u32 - 1) << 4) | (1 << 20);
    let mut out = header.to_le_bytes()[..3].to_vec();
    out.extend_from_slice(data);
    out.push(0b11);
    out
}

fn with_headers(content_type: &[&str], encoding: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut req = Request::post("/api").header("content-length", body.len());
    for ct in content_type {
        req = req.header("content-type", *ct);
    }
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req.body(Body::from(body)).unwrap()
}

async fn problem(res: Response<Body>) -> serde_json::Value {
    serde_json::from_str(&body_text(res).await).unwrap()
}

#[tokio::test]
async fn compressed_bodies_are_decompressed_and_inspected() {
    let (svc, calls) = app(builder().build().unwrap());
    let json = ["application/json"];
    for (coding, encode) in [
        ("gzip", gzip as fn(&[u8]) -> Vec<u8>),
        ("x-gzip", gzip),
        ("deflate", zlib),
        ("deflate", raw_deflate),
        ("br", brotli_stored),
    ] {
        let res = send(
            &svc,
            with_headers(&json, Some(coding), encode(ATTACK.as_bytes())),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{coding}");
        assert_eq!(kind(&res), Some(RejectionKind::Injection), "{coding}");
        // the handler gets the body as sent, still compressed
        let sent = encode(BENIGN.as_bytes());
        let res = send(&svc, with_headers(&json, Some(coding), sent.clone())).await;
        assert_eq!(res.status(), StatusCode::OK, "{coding}");
        let got = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(&got[..], &sent[..], "{coding}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    // two codings, applied in order
    let twice = gzip(&zlib(ATTACK.as_bytes()));
    let res = send(&svc, with_headers(&json, Some("deflate, gzip"), twice)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_decompression_bomb_meets_the_limit_on_its_decompressed_size() {
    // 8 MiB of spaces and an attack, 8 KiB compressed: under the 64 KiB
    // limit as sent, 128 times over it decompressed
    let mut big = vec![b' '; 8 << 20];
    big.extend_from_slice(ATTACK.as_bytes());
    let bomb = gzip(&big);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let (svc, calls) = app(builder().build().unwrap());
    let res = send(
        &svc,
        with_headers(&["application/json"], Some("gzip"), bomb.clone()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let b = problem(res).await;
    assert_eq!(b["type"], "urn:rasp-stepup:problem:payload-too-large");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // inspecting the prefix instead: the head is read, the rest passes
    let rules = InspectionRules::default().over_limit(OverLimit::InspectPrefix);
    let (svc, calls) = app(builder().inspection(rules).build().unwrap());
    let res = send(&svc, with_headers(&["text/plain"], Some("gzip"), bomb)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut head = ATTACK.as_bytes().to_vec();
    head.extend(vec![b' '; 8 << 20]);
    let res = send(
        &svc,
        with_headers(&["text/plain"], Some("gzip"), gzip(&head)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn codings_not_decoded_get_415_and_broken_ones_400() {
    let (svc, calls) = app(builder().build().unwrap());
    let res = send(
        &svc,
        with_headers(&["application/json"], Some("zstd"), b"(\xb5/\xfd".to_vec()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(kind(&res), Some(RejectionKind::UnsupportedMediaType));
    let b = problem(res).await;
    assert_eq!(b["type"], "urn:rasp-stepup:problem:unsupported-media-type");
    assert_eq!(b["status"], 415);
    let res = send(
        &svc,
        with_headers(
            &["application/json"],
            Some("gzip, gzip, gzip"),
            gzip(&gzip(&gzip(BENIGN.as_bytes()))),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = send(
        &svc,
        with_headers(
            &["application/json"],
            Some("gzip"),
            b"not gzip at all".to_vec(),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(kind(&res), Some(RejectionKind::BadRequest));
    // `identity` is no coding
    let res = send(
        &svc,
        with_headers(&["application/json"], Some("identity"), BENIGN.into()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // a policy that refuses every compressed body
    let rules = InspectionRules::default().compressed_bodies(CompressedBodies::Reject);
    let (svc, _) = app(builder().inspection(rules).build().unwrap());
    let res = send(
        &svc,
        with_headers(&["application/json"], Some("gzip"), gzip(BENIGN.as_bytes())),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let toml = "[inspection]\ncompressed_bodies = \"reject\"\nmalformed_bodies = \"inspect_as_text\"\nmax_json_depth = 8";
    let policy = builder().toml(toml).unwrap().build().unwrap();
    let (svc, _) = app(policy);
    let res = send(
        &svc,
        with_headers(
            &["application/json"],
            Some("br"),
            brotli_stored(BENIGN.as_bytes()),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        builder()
            .toml("[inspection]\ncompressed_bodies = \"maybe\"")
            .is_err()
    );
    assert!(
        builder()
            .toml("[inspection]\nmax_json_depth = 500")
            .unwrap()
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn two_content_types_get_400() {
    let (svc, calls) = app(builder().build().unwrap());
    let res = send(
        &svc,
        with_headers(&["image/png", "application/json"], None, BENIGN.into()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let b = problem(res).await;
    assert_eq!(b["type"], "urn:rasp-stepup:problem:invalid-request");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn mislabelled_bodies_are_read_by_what_they_hold() {
    let (svc, calls) = app(builder().build().unwrap());
    let form = "to=bob&memo=1'+UNION+SELECT+password+FROM+users--";
    let xml =
        r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"memo\"\r\n\r\n<script>alert(1)</script>\r\n--XyZ--\r\n";
    for (ct, body) in [
        ("application/octet-stream", ATTACK),
        ("application/jsonx", ATTACK),
        ("image/png", form),
        ("application/vnd.acme", xml),
        ("application/octet-stream", multipart),
        // multipart that names no boundary: the first delimiter line does
        ("multipart/form-data", multipart),
        // JSON Lines, the attack in the second document
        (
            "application/json",
            "{\"a\":1}\n{\"b\":\"<script>alert(1)</script>\"}\n",
        ),
        // duplicate keys: parsers disagree on which one wins
        (
            "application/json",
            r#"{"memo":"<script>alert(1)</script>","memo":"ok"}"#,
        ),
    ] {
        let res = send(&svc, with_headers(&[ct], None, body.into())).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{ct}: {body}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // the same types with harmless content pass, binary content too
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    for (ct, body) in [
        ("application/octet-stream", BENIGN.as_bytes().to_vec()),
        ("image/png", png),
        ("application/json", b"{\"a\":1}\n{\"b\":2}\n".to_vec()),
        (
            "multipart/form-data",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"memo\"\r\n\r\nrent\r\n--XyZ--\r\n"
                .to_vec(),
        ),
    ] {
        let res = send(&svc, with_headers(&[ct], None, body)).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{ct} {:?}",
            res.extensions()
                .get::<Rejection>()
                .map(|r| r.rule_ids().to_vec())
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn bodies_that_are_not_what_they_declare_get_400_by_default() {
    let (svc, calls) = app(builder().build().unwrap());
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    for (ct, body, why) in [
        (
            "application/json",
            "{\"memo\": rent}".to_owned(),
            "the body is not valid JSON",
        ),
        (
            "application/json",
            deep.clone(),
            "the JSON body is nested deeper than the server inspects",
        ),
        (
            "multipart/form-data",
            "memo=rent".to_owned(),
            "the multipart body has no boundary",
        ),
    ] {
        let res = send(&svc, with_headers(&[ct], None, body.into())).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{why}");
        let b = problem(res).await;
        assert_eq!(b["detail"], why);
    }
    // past serde_json's own limit, too
    let deeper = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let res = send(
        &svc,
        with_headers(&["application/json"], None, deeper.into()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // an attack below the depth limit is still found: 403, not 400
    let deep_attack = format!(
        "{}\"<script>alert(1)</script>\"{}",
        "[".repeat(40),
        "]".repeat(40)
    );
    let res = send(
        &svc,
        with_headers(&["application/json"], None, deep_attack.clone().into()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // a deeper limit reads it as JSON; inspecting as text lets the app answer
    let rules = InspectionRules::default().max_json_depth(64);
    let (svc, _) = app(builder().inspection(rules).build().unwrap());
    let res = send(&svc, with_headers(&["application/json"], None, deep.into())).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(
        &svc,
        with_headers(&["application/json"], None, deep_attack.into()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let rules = InspectionRules::default().malformed_bodies(MalformedBodies::InspectAsText);
    let (svc, _) = app(builder().inspection(rules).build().unwrap());
    let res = send(
        &svc,
        with_headers(&["application/json"], None, "{\"memo\": rent}".into()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(
        &svc,
        with_headers(
            &["application/json"],
            None,
            "{\"memo\": <script>alert(1)</script>".into(),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
