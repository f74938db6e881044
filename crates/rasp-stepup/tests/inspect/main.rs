//! Inspection through the layer: every input location, body limits,
//! exclusions, monitor mode, and that handlers get bodies intact.

#![allow(missing_docs)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use http::{Request, Response, StatusCode};
use rasp_stepup::{
    Budget, Decision, Exclusion, InspectionRules, MockClock, Mode, Monitored, OverBudget,
    OverLimit, Policy, PolicyBuilder, RaspStepUp, Rejection, RejectionKind, Sensitivity, Timestamp,
    TokenConfig,
};
use tower::{Layer, ServiceExt, service_fn};

mod bodies;
mod sinks;

fn builder() -> PolicyBuilder {
    Policy::builder()
        .default_sensitivity(Sensitivity::Public)
        .route("GET", "/search", Sensitivity::Public)
        .tokens(
            TokenConfig::ed25519_from_seed([6; 32])
                .issuer("i")
                .audience("a"),
        )
        .with_clock(MockClock::new(Timestamp::from_secs(1_800_000_000)))
}

type Svc = rasp_stepup::RaspStepUpService<
    tower::util::BoxCloneService<Request<Body>, Response<Body>, Infallible>,
>;

/// An echo app: answers 200 with the request body it received.
fn app(policy: Policy) -> (Svc, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let inner = service_fn(move |req: Request<Body>| {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            let bytes = axum::body::to_bytes(req.into_body(), 1 << 24)
                .await
                .unwrap_or_default();
            Ok::<_, Infallible>(Response::new(Body::from(bytes)))
        }
    });
    (
        RaspStepUp::new(policy).layer(tower::util::BoxCloneService::new(inner)),
        calls,
    )
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Request<Body> {
    let body = body.into();
    let mut req = Request::post(uri).header("content-length", body.len());
    if !content_type.is_empty() {
        req = req.header("content-type", content_type);
    }
    req.body(Body::from(body)).unwrap()
}

async fn send(svc: &Svc, req: Request<Body>) -> Response<Body> {
    svc.clone().oneshot(req).await.unwrap()
}

fn kind(res: &Response<Body>) -> Option<RejectionKind> {
    res.extensions().get::<Rejection>().map(Rejection::kind)
}

async fn body_text(res: Response<Body>) -> String {
    String::from_utf8_lossy(
        &axum::body::to_bytes(res.into_body(), 1 << 24)
            .await
            .unwrap(),
    )
    .into_owned()
}

#[tokio::test]
async fn query_injection_is_rejected_before_the_app_runs() {
    let (svc, calls) = app(builder().build().unwrap());
    let res = send(&svc, get("/search?q=1%27%20OR%20%271%27%3D%271")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(kind(&res), Some(RejectionKind::Injection));
    let rules = res
        .extensions()
        .get::<Rejection>()
        .unwrap()
        .rule_ids()
        .to_vec();
    assert!(rules.contains(&"sqli-tautology-quote"), "{rules:?}");
    let body = body_text(res).await;
    assert!(body.contains("\"incident_id\""));
    assert!(
        !body.contains("sqli"),
        "the client is not told which rule fired: {body}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn each_input_location_is_inspected() {
    let (svc, _) = app(builder().build().unwrap());
    let cases: Vec<(&str, Request<Body>)> = vec![
        ("path", get("/files/..%2f..%2f..%2fetc%2fpasswd")),
        ("query name", get("/search?user[$ne]=1")),
        (
            "shellshock in any header",
            Request::get("/")
                .header("x-anything", "() { :; }; /bin/cat /etc/passwd")
                .body(Body::empty())
                .unwrap(),
        ),
        (
            "user-agent",
            Request::get("/")
                .header("user-agent", "${jndi:ldap://x/a}")
                .body(Body::empty())
                .unwrap(),
        ),
        (
            "referer",
            Request::get("/")
                .header("referer", "javascript:alert(1)")
                .body(Body::empty())
                .unwrap(),
        ),
        (
            "json value",
            post(
                "/api",
                "application/json",
                r#"{"user":{"name":"<script>alert(1)</script>"}}"#,
            ),
        ),
        (
            "json key",
            post("/api", "application/json", r#"{"$where":"sleep(5000)"}"#),
        ),
        (
            "form",
            post(
                "/login",
                "application/x-www-form-urlencoded",
                "user=admin%27--&pass=x",
            ),
        ),
        (
            "multipart filename",
            post(
                "/upload",
                "multipart/form-data; boundary=XyZ",
                "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"shell.php\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n",
            ),
        ),
        ("bare query name", get("/ping?;cat%20/etc/passwd")),
        (
            "entities split by a raw &",
            get(
                "/p?q=%3Ca%20href=&%23x6A&%23x61&%23x76&%23x61&%23x73&%23x63&%23x72&%23x69&%23x70&%23x74&%23x3A&%23x61lert(1)%3E",
            ),
        ),
        (
            "form value split by a raw & inside an entity",
            post(
                "/run",
                "application/x-www-form-urlencoded",
                "q=<a href=\"ja&tab;vascript&colon;\" >",
            ),
        ),
        (
            "form body without a content type",
            post("/run", "", "host=127.0.0.1%3Bcat+%2Fetc%2Fpasswd\n"),
        ),
        (
            "form body with a bare piece, without a content type",
            post("/run", "", "rce=alias a=c${KK}url&a google.com\n"),
        ),
        (
            "percent-encoded form body without a content type",
            post("/run", "", "pay%3DAND+2771%3D1709%29"),
        ),
        (
            "json body without a content type",
            post(
                "/api",
                "",
                r#"{"q":"1' UNION SELECT password FROM users--"}"#,
            ),
        ),
        (
            "xml body without a content type",
            post(
                "/api",
                "",
                r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#,
            ),
        ),
        (
            "xml",
            post(
                "/api",
                "application/xml",
                r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#,
            ),
        ),
    ];
    for (what, req) in cases {
        let res = send(&svc, req).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{what}");
        assert_eq!(kind(&res), Some(RejectionKind::Injection), "{what}");
    }
}

#[tokio::test]
async fn benign_inputs_pass_and_bodies_reach_the_handler_intact() {
    let (svc, calls) = app(builder().build().unwrap());
    for uri in [
        "/search?q=calle+mayor%2C+5&email=ana%40example.com",
        "/search?q=O%27Neil+and+Sons",
        "/search?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "/search?id=3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "/profile?uname=john+doe&cmd=",
        "/search?q=SMALL+%22&%22+SIGN&flag",
    ] {
        assert_eq!(send(&svc, get(uri)).await.status(), StatusCode::OK, "{uri}");
    }
    let json = r#"{"comment":"Run `cargo build` && `cargo test`; see the <b>book</b>, chapter 3 -- it's fine."}"#;
    let res = send(&svc, post("/api", "application/json", json)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, json);
    let res = send(
        &svc,
        post("/notes", "", "Meet at 5; bring cat food | snacks"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "untyped prose is free text");
    let res = send(&svc, post("/notes", "", "Hello%2C+world%21+See+you+at+5")).await;
    assert_eq!(res.status(), StatusCode::OK, "encoded untyped prose");
    assert_eq!(body_text(res).await, "Hello%2C+world%21+See+you+at+5");
    assert_eq!(calls.load(Ordering::SeqCst), 9);
}

#[tokio::test]
async fn cookies_and_custom_headers_are_read_unless_turned_off() {
    let cookie = || {
        Request::get("/")
            .header(
                "cookie",
                "session=abc; pref=%27%20union%20select%20password%20from%20users--",
            )
            .body(Body::empty())
            .unwrap()
    };
    let (svc, _) = app(builder().build().unwrap());
    let res = send(&svc, cookie()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(kind(&res), Some(RejectionKind::Injection));
    let (svc, _) = app(builder()
        .inspection(InspectionRules::default().cookies(false))
        .build()
        .unwrap());
    assert_eq!(send(&svc, cookie()).await.status(), StatusCode::OK);

    // An application's own header is read by default; a standard one with a
    // fixed grammar (and browser-only `Sec-*` headers) is not.
    let with = |name: &'static str, value: &'static str| {
        Request::get("/")
            .header(name, value)
            .body(Body::empty())
            .unwrap()
    };
    let (svc, _) = app(builder().build().unwrap());
    let res = send(&svc, with("x-client-note", "<script>alert(1)</script>")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(kind(&res), Some(RejectionKind::Injection));
    let res = send(&svc, with("x-original-url", "/../../etc/passwd")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    for (name, value) in [
        (
            "sec-ch-ua",
            "\"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"",
        ),
        ("accept", "text/html;q=0.9,*/*;q=0.8"),
        ("if-none-match", "W/\"<etag>\""),
        ("x-request-id", "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
        ("x-api-key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("x-real-ip", "203.0.113.9"),
        ("x-forwarded-for", "203.0.113.9, [2001:db8::1]:443, unknown"),
        ("origin", "https://app.example.com:8443"),
        ("accept-language", "en-GB,en;q=0.9,fr;q=0.8"),
        (
            "content-type",
            "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
        ),
        (
            "sec-ch-ua",
            "\"Not)A;Brand\";v=\"8\", \"Chromium\";v=\"138\"",
        ),
        (
            "cookie",
            "session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl; theme=dark",
        ),
    ] {
        assert_eq!(
            send(&svc, with(name, value)).await.status(),
            StatusCode::OK,
            "{name}"
        );
    }
    // a standard header that breaks its grammar is read like any other
    for (name, value) in [
        ("x-real-ip", "1.2.3.4' OR '1'='1"),
        ("x-request-id", "1; DROP TABLE users--"),
        ("origin", "https://a.example<script>alert(1)</script>"),
        ("accept-language", "en' UNION SELECT password FROM users--"),
        ("content-type", "text/plain; charset=\"' or sleep(5)--\""),
        ("x-forwarded-uri", "/admin/../../etc/passwd"),
    ] {
        let res = send(&svc, with(name, value)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }
    let (svc, _) = app(builder()
        .inspection(InspectionRules::default().custom_headers(false))
        .build()
        .unwrap());
    let res = send(&svc, with("x-client-note", "<script>alert(1)</script>")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let rules = InspectionRules::default()
        .custom_headers(false)
        .header(http::HeaderName::from_static("x-client-note"));
    let (svc, _) = app(builder().inspection(rules).build().unwrap());
    let res = send(&svc, with("x-client-note", "<script>alert(1)</script>")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn body_limits_follow_the_over_limit_policy() {
    let big = format!(
        r#"{{"pad":"{}","x":"<script>alert(1)</script>"}}"#,
        "a".repeat(200)
    );
    let small = |over| {
        builder()
            .inspection(
                InspectionRules::default()
                    .max_body_bytes(64)
                    .over_limit(over),
            )
            .build()
            .unwrap()
    };

    let (svc, calls) = app(small(OverLimit::Reject));
    let res = send(&svc, post("/api", "application/json", big.clone())).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let (svc, _) = app(small(OverLimit::Pass));
    let res = send(&svc, post("/api", "application/json", big.clone())).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, big, "passed untouched");

    // Only the first 64 bytes are inspected: the attack beyond them passes,
    // one inside them does not; the handler always gets the whole body.
    let (svc, _) = app(small(OverLimit::InspectPrefix));
    let res = send(&svc, post("/api", "application/json", big.clone())).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, big);
    let early = format!(r#"<script>alert(1)</script>{}"#, "a".repeat(200));
    let res = send(&svc, post("/api", "text/plain", early)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_inspection_budget_bounds_each_request() {
    // 40 pairs cost 40 × ((3 + 64) + (36 + 64)) = 6,680 units, the path
    // `/form` 5 + 64: 6,749 in all; the late attack's pair 154 more.
    let many: String = (0..40)
        .map(|i| format!("f{i:02}=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
        .collect::<Vec<_>>()
        .join("&");
    let late_attack = format!("{many}&x=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    let with = |level: Sensitivity, units: usize, over: OverBudget| {
        let policy = builder()
            .route("POST", "/form", level)
            .inspection(InspectionRules::default().budget(level, Budget::new(units, over)))
            .build()
            .unwrap();
        app(policy)
    };
    let form = |body: &str| post("/form", "application/x-www-form-urlencoded", body);

    // Within the budget: every value is read, the late attack is found.
    let (svc, _) = with(Sensitivity::Public, 16_000, OverBudget::InspectPrefix);
    assert_eq!(
        send(&svc, form(&late_attack)).await.status(),
        StatusCode::FORBIDDEN
    );

    // Past it on a public route: the values the budget covers are read,
    // the rest passes to the handler uninspected, whole.
    let (svc, calls) = with(Sensitivity::Public, 6_800, OverBudget::InspectPrefix);
    let res = send(&svc, form(&late_attack)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, late_attack);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let early_attack = format!("x=%3Cscript%3Ealert(1)%3C%2Fscript%3E&{many}");
    assert_eq!(
        send(&svc, form(&early_attack)).await.status(),
        StatusCode::FORBIDDEN
    );

    // Past it where the level rejects: 413 before the handler runs, 403 when
    // the covered part already holds an injection.
    let (svc, calls) = with(Sensitivity::Public, 6_800, OverBudget::Reject);
    let res = send(&svc, form(&late_attack)).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(kind(&res), Some(RejectionKind::PayloadTooLarge));
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(
        send(&svc, form(&early_attack)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(&svc, form(&many)).await.status(), StatusCode::OK);

    // The query counts too: a head over the budget on a rejecting level.
    let res = send(&svc, get(&format!("/search?{many}&more=1"))).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Defaults: public inspects a prefix, every other level rejects.
    assert_eq!(
        Budget::default_for(Sensitivity::Public).over(),
        OverBudget::InspectPrefix
    );
    for level in [
        Sensitivity::Authenticated,
        Sensitivity::High,
        Sensitivity::Critical,
    ] {
        assert_eq!(Budget::default_for(level).over(), OverBudget::Reject);
        assert_eq!(Budget::default_for(level).units(), 262_144);
    }
    // A budget below one value is a configuration error; TOML sets it per level.
    assert!(
        builder()
            .inspection(
                InspectionRules::default()
                    .budget(Sensitivity::High, Budget::new(10, OverBudget::Reject))
            )
            .build()
            .is_err()
    );
    let policy = builder()
        .route("POST", "/form", Sensitivity::Public)
        .toml("[inspection.budget.public]\nunits = 6800\nover = \"reject\"")
        .unwrap()
        .build()
        .unwrap();
    let (svc, _) = app(policy);
    assert_eq!(
        send(&svc, form(&late_attack)).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert!(
        builder()
            .toml("[inspection.budget.public]\nover = \"shrug\"")
            .is_err()
    );
}

#[tokio::test]
async fn exclusions_silence_a_rule_on_one_key_and_count_hits() {
    let rules = InspectionRules::default()
        .exclude(Exclusion::new(Some("/search"), Some("query.q"), "xss"))
        .exclude(Exclusion::new(None, Some("body.never"), "sqli-union"));
    let policy = builder().inspection(rules).build().unwrap();
    let (svc, _) = app(policy.clone());
    let xss = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    assert_eq!(
        send(&svc, get(&format!("/search?q={xss}"))).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, get(&format!("/search?other={xss}")))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let report = policy.exclusion_report();
    // Two findings silenced: the script tag and the alert() sink.
    assert_eq!(report[0].hits, 2, "{report:?}");
    assert_eq!(report[1].hits, 0);
    assert_eq!(
        policy.unused_exclusions(),
        vec!["route=* key=body.never rule=sqli-union".to_owned()]
    );

    let e = builder()
        .inspection(InspectionRules::default().exclude(Exclusion::new(
            None,
            None,
            "sqli-nonexistent",
        )))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("unknown rule"), "{e}");
}

#[tokio::test]
async fn toml_configures_inspection_and_exclusions() {
    let doc = r#"
[inspection]
level = 1
cookies = true
max_body_bytes = 1024
over_limit = "pass"
headers = ["x-note"]
custom_headers = false

[[exclusions]]
route = "/search"
key = "query.q"
class = "xss"
"#;
    let policy = builder().toml(doc).unwrap().build().unwrap();
    let (svc, _) = app(policy.clone());
    assert_eq!(
        send(&svc, get("/search?q=%3Cscript%3E")).await.status(),
        StatusCode::OK
    );
    let req = Request::get("/")
        .header("x-note", "<script>alert(1)</script>")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&svc, req).await.status(), StatusCode::FORBIDDEN);
    // custom_headers = false: an unlisted header is not read
    let req = Request::get("/")
        .header("x-other", "<script>alert(1)</script>")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&svc, req).await.status(), StatusCode::OK);
    assert!(builder().toml("[inspection]\nlevel = 9").is_err());
    assert!(
        builder()
            .toml("[inspection]\nover_limit = \"explode\"")
            .is_err()
    );
}

#[tokio::test]
async fn monitor_mode_lets_injections_through_and_flags_them() {
    let (svc, calls) = app(builder().mode(Mode::Monitor).build().unwrap());
    let res = send(&svc, get("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let Some(Monitored(Decision::Reject(r))) = res.extensions().get::<Monitored>() else {
        panic!("expected a monitored injection");
    };
    assert_eq!(r.kind(), RejectionKind::Injection);
    let res = send(
        &svc,
        post(
            "/api",
            "application/json",
            r#"{"x":"<script>alert(1)</script>"}"#,
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.extensions().get::<Monitored>().is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn inspection_can_be_turned_off() {
    let (svc, _) = app(builder()
        .inspection(InspectionRules::insecure_disabled())
        .build()
        .unwrap());
    assert_eq!(
        send(&svc, get("/search?q=%3Cscript%3E")).await.status(),
        StatusCode::OK
    );
}
