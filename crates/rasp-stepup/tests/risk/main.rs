//! Adaptive risk through the layer: client addresses behind proxies, rate
//! limits, impossible travel, anonymous networks, new devices, bursts.
//! Location data: MaxMind's test databases in `testdata/geoip`.

#![allow(missing_docs)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use rasp_stepup::risk::{GeoIp, Quota, RateRules, codes};
use rasp_stepup::{
    Assessment, Challenge, Identity, IdentityFuture, InspectionRules, MockClock, PeerAddr, Policy,
    RaspStepUp, Rejection, RejectionKind, RiskRules, Sensitivity, StepUpState, Timestamp,
    TokenConfig, TotpSecret,
};
use tower::{Layer, Service, ServiceExt, service_fn};

const START: u64 = 1_800_000_000;
const LINKOPING: &str = "89.160.20.112";
const CHANGCHUN: &str = "175.16.199.1";
const MILTON: &str = "216.160.83.56";
const TOR_EXIT: &str = "1.124.213.1";
const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const LINUX_FIREFOX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
const WINDOWS_CHROME: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";

fn geoip_dir() -> String {
    format!("{}/../../testdata/geoip", env!("CARGO_MANIFEST_DIR"))
}

fn geoip() -> GeoIp {
    let d = geoip_dir();
    GeoIp::new()
        .with_city(format!("{d}/GeoLite2-City-Test.mmdb"))
        .and_then(|g| g.with_asn(format!("{d}/GeoLite2-ASN-Test.mmdb")))
        .and_then(|g| g.with_anonymous(format!("{d}/GeoIP2-Anonymous-IP-Test.mmdb")))
        .expect("the test databases load")
}

/// Identity from test headers: `x-user` (subject), `x-sid`, and `x-mfa`
/// (authenticated with acr "mfa" at the given Unix time).
fn test_identity(parts: &http::request::Parts) -> IdentityFuture {
    let h = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (user, sid, mfa) = (h("x-user"), h("x-sid"), h("x-mfa"));
    Box::pin(async move {
        let Some(user) = user else { return Ok(None) };
        let id = Identity::new(user, sid.unwrap_or_else(|| "s1".into()));
        Ok(Some(match mfa.and_then(|t| t.parse().ok()) {
            Some(at) => id.with_authentication("mfa", at),
            None => id,
        }))
    })
}

struct World {
    clock: MockClock,
    policy: Policy,
    svc: RaspStepUpSvc,
    state: StepUpState,
}

type RaspStepUpSvc = rasp_stepup::RaspStepUpService<
    tower::util::BoxCloneService<Request<Body>, Response<Body>, Infallible>,
>;

fn world(rules: RiskRules) -> World {
    world_with(rules, InspectionRules::default())
}

fn world_with(rules: RiskRules, inspection: InspectionRules) -> World {
    let clock = MockClock::new(Timestamp::from_secs(START));
    let policy = Policy::builder()
        .route("POST", "/transfer", Sensitivity::High)
        .route("GET", "/search", Sensitivity::Public)
        .route("GET", "/open/items", Sensitivity::Public)
        .tokens(
            TokenConfig::ed25519_from_seed([4; 32])
                .issuer("bank")
                .audience("bank-api"),
        )
        .with_clock(clock.clone())
        .with_identity(test_identity)
        .risk(rules)
        .inspection(inspection)
        .build()
        .unwrap();
    // The inner app answers 403 on /forbidden and 404 on /missing, and
    // pastes `?sort=` of `/items` (authenticated) and `/open/items` (public)
    // into a guarded SQL statement.
    let inner = service_fn(|req: Request<Body>| async move {
        let status = match req.uri().path() {
            "/forbidden" => StatusCode::FORBIDDEN,
            "/missing" => StatusCode::NOT_FOUND,
            "/items" | "/open/items" => {
                let sort = req.uri().query().unwrap_or_default();
                let sort = sort.strip_prefix("sort=").unwrap_or_default();
                let sort = percent_encoding::percent_decode_str(sort).decode_utf8_lossy();
                let statement = format!("SELECT id FROM items ORDER BY {sort}");
                match rasp_stepup::sink::sql(&statement, rasp_stepup::sink::Dialect::Sqlite) {
                    Ok(()) => StatusCode::OK,
                    Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
                }
            }
            _ => StatusCode::OK,
        };
        let mut res = Response::new(Body::empty());
        *res.status_mut() = status;
        Ok::<_, Infallible>(res)
    });
    let svc = RaspStepUp::new(policy.clone()).layer(tower::util::BoxCloneService::new(inner));
    let secret = TotpSecret::from_base32(SECRET).unwrap();
    let state = StepUpState::new(
        policy.clone(),
        HashMap::from([("alice".to_owned(), secret)]),
    );
    World {
        clock,
        policy,
        svc,
        state,
    }
}

static PORT: AtomicU16 = AtomicU16::new(40_000);

struct Call<'a> {
    method: &'a str,
    path: &'a str,
    peer: &'a str,
    user: Option<&'a str>,
    ua: &'a str,
    headers: Vec<(&'a str, String)>,
}

fn call<'a>(method: &'a str, path: &'a str, peer: &'a str) -> Call<'a> {
    Call {
        method,
        path,
        peer,
        user: Some("alice"),
        ua: LINUX_FIREFOX,
        headers: Vec::new(),
    }
}

impl<'a> Call<'a> {
    fn anonymous(mut self) -> Self {
        self.user = None;
        self
    }

    fn ua(mut self, ua: &'a str) -> Self {
        self.ua = ua;
        self
    }

    fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn mfa_at(self, unix: u64) -> Self {
        self.header("x-mfa", unix.to_string())
    }

    fn request(&self) -> Request<Body> {
        let port = PORT.fetch_add(1, Ordering::Relaxed);
        let mut b = Request::builder()
            .method(self.method)
            .uri(self.path)
            .header("user-agent", self.ua);
        if let Some(u) = self.user {
            b = b.header("x-user", u);
        }
        for (k, v) in &self.headers {
            b = b.header(*k, v);
        }
        let mut req = b.body(Body::empty()).unwrap();
        let ip = self.peer.parse().unwrap();
        req.extensions_mut()
            .insert(PeerAddr(SocketAddr::new(ip, port)));
        req
    }
}

impl World {
    async fn send(&mut self, c: &Call<'_>) -> Response<Body> {
        let svc = self.svc.ready().await.unwrap();
        svc.call(c.request()).await.unwrap()
    }

    /// Completes the challenge of `res` from the same client and device.
    async fn step_up(&self, res: &Response<Body>, c: &Call<'_>) {
        let challenge = res
            .extensions()
            .get::<Challenge>()
            .expect("a challenge")
            .id
            .clone();
        let (parts, _) = c.request().into_parts();
        let code = TotpSecret::from_base32(SECRET)
            .unwrap()
            .code_at(self.clock.now_secs());
        let body = format!(r#"{{"challenge_id":"{challenge}","method":"totp","code":"{code}"}}"#);
        self.state
            .verify(&parts, body.as_bytes())
            .await
            .expect("step-up verified");
    }

    /// `POST /transfer` from `peer` with a second factor verified now.
    async fn transfer_fresh(&mut self, peer: &str) -> Response<Body> {
        let now = self.clock.now_secs();
        self.send(&call("POST", "/transfer", peer).mfa_at(now))
            .await
    }

    /// Confirmed sightings from `peer` until the learning period is over.
    async fn learn(&mut self, peer: &str) {
        for _ in 0..3 {
            let res = self.send(&call("GET", "/account", peer)).await;
            assert_eq!(res.status(), StatusCode::OK);
            self.clock.advance(Duration::from_secs(60));
        }
    }
}

fn assessment(res: &Response<Body>) -> Assessment {
    res.extensions()
        .get::<Assessment>()
        .cloned()
        .expect("an assessment")
}

fn rules() -> RiskRules {
    RiskRules::default().locator(geoip())
}

#[tokio::test]
async fn impossible_travel_challenges_transfer_but_not_account_and_stepping_up_settles_it() {
    let mut w = world(rules());
    w.learn(LINKOPING).await;
    let now = w.clock.now_secs();
    // A fresh second factor from home: the transfer passes.
    let home = call("POST", "/transfer", LINKOPING).mfa_at(now);
    assert_eq!(w.send(&home).await.status(), StatusCode::OK);

    // One minute later from Changchun (~7,400 km): impossible travel.
    w.clock.advance(Duration::from_secs(60));
    let now = w.clock.now_secs();
    let away = call("POST", "/transfer", CHANGCHUN).mfa_at(now - 60);
    let res = w.send(&away).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let a = assessment(&res);
    assert!(a.has(codes::IMPOSSIBLE_TRAVEL), "{a:?}");
    assert!(a.has(codes::NEW_COUNTRY), "{a:?}");
    assert_eq!(
        a.score, 50.0,
        "location counts once, by its strongest signal"
    );

    // The account page from Changchun still answers.
    let account = w.send(&call("GET", "/account", CHANGCHUN)).await;
    assert_eq!(account.status(), StatusCode::OK);
    assert!(assessment(&account).has(codes::IMPOSSIBLE_TRAVEL));

    // Step up from Changchun: the same session then proceeds without new challenges.
    w.step_up(&res, &away).await;
    let now = w.clock.now_secs();
    for _ in 0..3 {
        let again = w
            .send(&call("POST", "/transfer", CHANGCHUN).mfa_at(now))
            .await;
        assert_eq!(again.status(), StatusCode::OK, "{:?}", assessment(&again));
        w.clock.advance(Duration::from_secs(10));
    }
}

#[tokio::test]
async fn a_sink_hit_flags_the_subject_until_a_step_up_or_the_period_ends() {
    let mut w = world(rules());
    w.learn(LINKOPING).await;
    let now = w.clock.now_secs();
    let transfer = call("POST", "/transfer", LINKOPING).mfa_at(now);
    assert_eq!(w.send(&transfer).await.status(), StatusCode::OK);
    let fine = w.send(&call("GET", "/items?sort=name", LINKOPING)).await;
    assert_eq!(fine.status(), StatusCode::OK);
    assert!(!assessment(&fine).has(codes::SINK_INJECTION));
    // a column list changes the statement: refused, and alice is flagged
    let hit = w
        .send(&call("GET", "/items?sort=name%2C%20id", LINKOPING))
        .await;
    assert_eq!(hit.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        hit.extensions()
            .get::<Rejection>()
            .map(|r| r.rule_ids().to_vec()),
        Some(vec!["sink-sql"])
    );
    // a fresh second factor no longer carries the transfer
    let res = w.send(&transfer).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let a = assessment(&res);
    assert!(a.has(codes::SINK_INJECTION), "{a:?}");
    assert_eq!(a.score, 50.0);
    // below the authenticated level's threshold the account still answers
    let account = w.send(&call("GET", "/account", LINKOPING)).await;
    assert_eq!(account.status(), StatusCode::OK);
    assert!(assessment(&account).has(codes::SINK_INJECTION));
    // a step-up clears the flag
    w.step_up(&res, &transfer).await;
    let res = w.transfer_fresh(LINKOPING).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", assessment(&res));
    assert!(!assessment(&res).has(codes::SINK_INJECTION));

    // flagged again, the flag ends with its period (one hour by default)
    let hit = w
        .send(&call("GET", "/items?sort=name%2C%20id", LINKOPING))
        .await;
    assert_eq!(hit.status(), StatusCode::FORBIDDEN);
    w.clock.advance(Duration::from_secs(3599));
    let res = w.transfer_fresh(LINKOPING).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    w.clock.advance(Duration::from_secs(2));
    let res = w.transfer_fresh(LINKOPING).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", assessment(&res));
}

#[tokio::test]
async fn a_sink_hit_without_identity_flags_the_address_and_a_weight_rejects() {
    let mut w = world(rules().weight(codes::SINK_INJECTION, 80.0));
    w.learn(MILTON).await;
    let hit = w
        .send(&call("GET", "/open/items?sort=name%2C%20id", MILTON).anonymous())
        .await;
    assert_eq!(hit.status(), StatusCode::FORBIDDEN);
    // alice from the flagged address: rejected on a high route at 80
    let res = w.transfer_fresh(MILTON).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.extensions().get::<Rejection>().map(Rejection::kind),
        Some(RejectionKind::Risk)
    );
    // from another address she is not flagged
    let res = w.transfer_fresh(LINKOPING).await;
    assert!(
        !assessment(&res).has(codes::SINK_INJECTION),
        "{:?}",
        assessment(&res)
    );
}

#[tokio::test]
async fn flagging_can_be_turned_off() {
    let mut w = world_with(
        rules(),
        InspectionRules::default().sink_flag(Duration::ZERO),
    );
    w.learn(LINKOPING).await;
    let hit = w
        .send(&call("GET", "/items?sort=name%2C%20id", LINKOPING))
        .await;
    assert_eq!(hit.status(), StatusCode::FORBIDDEN);
    let res = w.transfer_fresh(LINKOPING).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", assessment(&res));
}

#[tokio::test]
async fn tor_exit_steps_up_by_default_and_is_rejected_when_configured() {
    let mut w = world(rules());
    w.learn(MILTON).await;
    let now = w.clock.now_secs();
    let res = w
        .send(&call("POST", "/transfer", TOR_EXIT).mfa_at(now))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(assessment(&res).has(codes::ANONYMOUS_IP));

    let mut strict = world(rules().weight(codes::ANONYMOUS_IP, 95.0));
    strict.learn(MILTON).await;
    let now = strict.clock.now_secs();
    let res = strict
        .send(&call("POST", "/transfer", TOR_EXIT).mfa_at(now))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.extensions().get::<Rejection>().map(Rejection::kind),
        Some(RejectionKind::Risk)
    );
    let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(
        !text.contains("anonymous") && !text.contains("tor"),
        "no rule names leak: {text}"
    );
}

#[tokio::test]
async fn new_device_steps_up_high_routes_only() {
    let mut w = world(rules());
    w.learn(MILTON).await;
    let now = w.clock.now_secs();
    let known = w.send(&call("POST", "/transfer", MILTON).mfa_at(now)).await;
    assert_eq!(known.status(), StatusCode::OK);

    let other = call("POST", "/transfer", MILTON)
        .ua(WINDOWS_CHROME)
        .mfa_at(now);
    let res = w.send(&other).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(assessment(&res).codes(), [codes::NEW_DEVICE]);
    let account = w
        .send(&call("GET", "/account", MILTON).ua(WINDOWS_CHROME))
        .await;
    assert_eq!(account.status(), StatusCode::OK);

    // After stepping up on the new device it is known.
    w.step_up(&res, &other).await;
    let res = w.send(&other).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn learning_period_reports_initial_sightings_and_missing_data() {
    let mut w = world(rules());
    let res = w.send(&call("GET", "/account", "192.0.2.7")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let a = assessment(&res);
    assert_eq!(a.codes(), [codes::INITIAL_SIGHTING, codes::MISSING_GEOIP]);
    assert_eq!(a.score, 0.0);
}

#[tokio::test]
async fn spoofed_forwarded_for_is_ignored() {
    let trusted: ipnet::IpNet = "127.0.0.1/32".parse().unwrap();
    let mut w = world(rules().trusted_proxies([trusted]));
    for _ in 0..3 {
        let c = call("GET", "/account", "127.0.0.1").header("x-forwarded-for", LINKOPING);
        assert_eq!(w.send(&c).await.status(), StatusCode::OK);
        w.clock.advance(Duration::from_secs(60));
    }
    let now = w.clock.now_secs();
    // A forged left-most entry claims Changchun; the proxy appended the real client.
    let spoofed = call("POST", "/transfer", "127.0.0.1")
        .header("x-forwarded-for", format!("{CHANGCHUN}, {LINKOPING}"))
        .mfa_at(now);
    let res = w.send(&spoofed).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", assessment(&res));
    // An untrusted peer's header is not believed at all: the peer is the client.
    let direct = call("POST", "/transfer", CHANGCHUN)
        .header("x-forwarded-for", LINKOPING)
        .mfa_at(now);
    let res = w.send(&direct).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(assessment(&res).has(codes::IMPOSSIBLE_TRAVEL));
}

#[tokio::test]
async fn one_subject_from_many_networks_steps_up() {
    let mut w = world(RiskRules::default());
    w.learn("198.51.100.1").await;
    let now = w.clock.now_secs();
    for (i, peer) in ["203.0.113.1", "192.0.2.1", "198.18.0.1"]
        .iter()
        .enumerate()
    {
        let res = w.send(&call("GET", "/account", peer)).await;
        assert_eq!(res.status(), StatusCode::OK, "account stays open ({i})");
    }
    let res = w
        .send(&call("POST", "/transfer", "198.18.0.1").mfa_at(now))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(assessment(&res).has(codes::MULTI_IP_BURST));
}

#[tokio::test]
async fn rate_limit_answers_429_with_exact_headers() {
    let rate = RateRules::none().per_client(Sensitivity::Authenticated, Some(Quota::per_minute(3)));
    let mut w = world(RiskRules::default().rate(rate));
    for _ in 0..3 {
        assert_eq!(
            w.send(&call("GET", "/account", "198.51.100.9"))
                .await
                .status(),
            StatusCode::OK
        );
    }
    let res = w.send(&call("GET", "/account", "198.51.100.9")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = res.headers();
    assert_eq!(h["retry-after"], "20");
    assert_eq!(h["ratelimit-policy"], "\"client\";q=3;w=60");
    assert_eq!(h["ratelimit"], "\"client\";r=0;t=60");
    assert_eq!(h["content-type"], "application/problem+json");
    // Other clients are not affected; the limited one recovers after Retry-After.
    assert_eq!(
        w.send(&call("GET", "/account", "198.51.100.10"))
            .await
            .status(),
        StatusCode::OK
    );
    w.clock.advance(Duration::from_secs(20));
    assert_eq!(
        w.send(&call("GET", "/account", "198.51.100.9"))
            .await
            .status(),
        StatusCode::OK
    );
}

/// A request body that records whether anyone read it, and fails if so.
struct Untouched(Arc<std::sync::atomic::AtomicBool>);

impl http_body::Body for Untouched {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.0.store(true, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Err(std::io::Error::other("read"))))
    }
}

#[tokio::test]
async fn the_address_quota_comes_before_any_inspection() {
    let rate = RateRules::none().per_client(Sensitivity::Public, Some(Quota::per_minute(2)));
    let mut w = world(RiskRules::default().rate(rate));
    for _ in 0..2 {
        let res = w
            .send(&call("GET", "/search?q=shoes", "198.51.100.7").anonymous())
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Over quota: an injection in the query (403 if inspected) and a body
    // that fails when read (400 if read) both go unexamined.
    let read = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut req = call("GET", "/search?q=1'%20OR%20'1'%3D'1", "198.51.100.7")
        .anonymous()
        .header("content-type", "application/json")
        .header("content-length", "64")
        .request();
    *req.body_mut() = Body::new(Untouched(read.clone()));
    let res = w.svc.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "30");
    assert!(!read.load(Ordering::SeqCst), "the body was read");
    // Another address is inspected as usual: the same query is an injection.
    let res = w
        .send(&call("GET", "/search?q=1'%20OR%20'1'%3D'1", "198.51.100.8").anonymous())
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn per_subject_quota_holds_across_addresses() {
    let rate =
        RateRules::none().per_subject(Sensitivity::Authenticated, Some(Quota::per_minute(2)));
    let mut w = world(RiskRules::default().rate(rate));
    assert_eq!(
        w.send(&call("GET", "/account", "198.51.100.1"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        w.send(&call("GET", "/account", "198.51.100.2"))
            .await
            .status(),
        StatusCode::OK
    );
    let res = w.send(&call("GET", "/account", "198.51.100.3")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["ratelimit-policy"], "\"subject\";q=2;w=60");
}

#[tokio::test]
async fn bursts_of_app_403s_and_404s_raise_risk() {
    let mut w = world(RiskRules::default());
    w.learn("198.51.100.4").await;
    for _ in 0..10 {
        let res = w.send(&call("GET", "/forbidden", "198.51.100.4")).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let now = w.clock.now_secs();
    let res = w
        .send(&call("POST", "/transfer", "198.51.100.4").mfa_at(now))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(assessment(&res).has(codes::AUTH_FAILURE_BURST));

    let mut w = world(RiskRules::default());
    w.learn("198.51.100.5").await;
    for _ in 0..30 {
        w.send(&call("GET", "/missing", "198.51.100.5")).await;
    }
    let res = w.send(&call("GET", "/account", "198.51.100.5")).await;
    assert!(assessment(&res).has(codes::NOT_FOUND_BURST));
}

#[tokio::test]
async fn device_cookie_is_issued_and_debug_header_is_opt_in() {
    let mut w = world(RiskRules::default().insecure_debug_header(true));
    let res = w.send(&call("GET", "/account", "198.51.100.6")).await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("rasp_did="), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/; Max-Age=31536000; HttpOnly; Secure; SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(
        res.headers()["x-rasp-risk"],
        "score=0 codes=initial_sighting"
    );
    // Sent back, it is not issued again.
    let value = cookie.split(';').next().unwrap().to_owned();
    let res = w
        .send(&call("GET", "/account", "198.51.100.6").header("cookie", value))
        .await;
    assert!(res.headers().get("set-cookie").is_none());

    let mut quiet = world(RiskRules::default());
    let res = quiet.send(&call("GET", "/account", "198.51.100.6")).await;
    assert!(res.headers().get("x-rasp-risk").is_none());
}

#[tokio::test]
async fn denied_networks_are_rejected_and_public_routes_stay_open() {
    let denied: ipnet::IpNet = "203.0.113.0/24".parse().unwrap();
    let mut w = world(RiskRules::default().denied_networks([denied]));
    let res = w.send(&call("GET", "/account", "203.0.113.50")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = w
        .send(&call("GET", "/search", "203.0.113.50").anonymous())
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The network alone decides, before credentials, inspection or body:
    // no identity (401 elsewhere), an injection in the query (403
    // Injection elsewhere) and a body that fails when read (400) all give
    // the risk rejection, and the body is never read.
    let read = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut req = call("POST", "/account?q=1'%20OR%20'1'%3D'1", "203.0.113.50")
        .anonymous()
        .header("content-type", "application/json")
        .header("content-length", "64")
        .request();
    *req.body_mut() = Body::new(Untouched(read.clone()));
    let res = w.svc.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.extensions().get::<Rejection>().map(Rejection::kind),
        Some(RejectionKind::Risk)
    );
    assert!(!read.load(Ordering::SeqCst), "the body was read");
    let res = w
        .send(&call("GET", "/account", "203.0.113.51").anonymous())
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = w
        .send(&call("GET", "/account", "198.51.100.50").anonymous())
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let _ = &w.policy;
}

#[test]
fn corrupt_or_missing_databases_are_clear_errors() {
    let d = geoip_dir();
    for bad in [
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
    ] {
        let e = GeoIp::new().with_city(format!("{d}/{bad}")).unwrap_err();
        assert!(
            e.to_string().starts_with("cannot load geoip database"),
            "{e}"
        );
    }
    let e = GeoIp::new()
        .with_city(format!("{d}/nope.mmdb"))
        .unwrap_err();
    assert!(e.to_string().contains("nope.mmdb"), "{e}");
}

#[test]
fn geoip_answers_the_documented_fixtures() {
    use rasp_stepup::risk::Locator;
    let g = geoip();
    let l = g.locate(LINKOPING.parse().unwrap()).unwrap();
    assert_eq!(l.country.as_deref(), Some("SE"));
    assert_eq!(l.accuracy_km, Some(76));
    let tor = g.locate(TOR_EXIT.parse().unwrap()).unwrap();
    assert!(tor.anonymous.tor);
    let _ = Arc::new(0);
}
