//! Helpers for the end-to-end tests: a bank server on a free loopback port
//! with a mock clock, and a minimal HTTP/1.1 client.

use std::net::SocketAddr;

mod cluster;
pub use cluster::RedisCluster;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rasp_examples::bank::{self, BankOptions};
use rasp_examples::demo::Demo;
use rasp_examples::serve::{ServeLimits, serve};
use rasp_stepup::{MockClock, Mode, Policy, Timestamp, TotpSecret};
use serde_json::Value;

/// The seed the test bank signs with (tests forge tokens with it).
pub const SEED: [u8; 32] = [11; 32];
/// Where the mock clock starts (a multiple of 30 s: TOTP steps are aligned).
pub const START: u64 = 1_800_000_000;
/// The User-Agent every test request sends unless told otherwise.
pub const UA: &str = "rasp-e2e/1.0";

/// A running bank.
#[derive(Debug)]
pub struct Bank {
    /// Its address.
    pub addr: SocketAddr,
    /// Its clock.
    pub clock: MockClock,
    /// Its policy.
    pub policy: Policy,
    /// The state of its demonstration routes (their database's pool).
    pub demo: Demo,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body parsed as JSON (`Null` when empty or not JSON).
    pub json: Value,
}

impl Answer {
    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Starts the bank in `mode` on `127.0.0.1:0`.
pub async fn start(mode: Mode) -> Bank {
    let mut opts = BankOptions::with_seed(SEED);
    opts.mode = mode;
    start_with(opts).await
}

/// Starts the bank with `opts` on `127.0.0.1:0`.
pub async fn start_with(opts: BankOptions) -> Bank {
    start_with_clock(opts, MockClock::new(Timestamp::from_secs(START))).await
}

/// Starts the bank with `opts` and a given clock (replicas share one).
pub async fn start_with_clock(opts: BankOptions, clock: MockClock) -> Bank {
    start_served(opts, clock, ServeLimits::default()).await
}

/// Starts the bank with `opts`, served with `limits`.
pub async fn start_with_limits(opts: BankOptions, limits: ServeLimits) -> Bank {
    start_served(opts, MockClock::new(Timestamp::from_secs(START)), limits).await
}

async fn start_served(opts: BankOptions, clock: MockClock, limits: ServeLimits) -> Bank {
    let policy = bank::policy(&opts, clock.clone()).expect("bank policy");
    let demo = bank::demo(&opts).expect("bank demo");
    let app = bank::app_with(policy.clone(), Some(&demo));
    rasp_stepup::check_routes(&app, &policy)
        .await
        .expect("every key routed");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(listener, app, limits, std::future::pending()));
    Bank {
        addr,
        clock,
        policy,
        demo,
    }
}

impl Bank {
    /// Sends one request with optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.call_as(method, path, token, body, UA).await
    }

    /// Like [`Bank::call`] with a chosen User-Agent.
    pub async fn call_as(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        user_agent: &str,
    ) -> Answer {
        self.call_with(method, path, token, body, user_agent, &[])
            .await
    }

    /// Like [`Bank::call_as`] with extra headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        user_agent: &str,
        extra: &[(&str, &str)],
    ) -> Answer {
        let (mut headers, bytes) = (extra.to_vec(), Vec::new());
        let bytes = match body {
            Some(v) => {
                headers.push(("content-type", "application/json"));
                v.to_string().into_bytes()
            }
            None => bytes,
        };
        self.raw_as(method, path, token, user_agent, &headers, bytes)
            .await
    }

    /// Sends `body` as it is, with exactly the headers given (repeated
    /// names are sent repeated) besides `Host`, `User-Agent` and the token.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        self.raw_as(method, path, token, UA, headers, body).await
    }

    async fn raw_as(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        user_agent: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(path)
            .header("host", self.addr.to_string())
            .header("user-agent", user_agent);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let bytes = Bytes::from(body);
        let res = sender
            .send_request(req.body(Full::new(bytes)).expect("request"))
            .await
            .expect("send");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
        }
    }

    /// Logs in as the demo user and returns the base token.
    pub async fn login(&self) -> String {
        let a = self
            .call(
                "POST",
                "/login",
                None,
                Some(serde_json::json!({"username": bank::DEMO_USER, "password": bank::DEMO_PASSWORD})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "login: {:?}", a.json);
        a.json["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// The demo user's TOTP code at the bank's current time.
    pub fn code(&self) -> String {
        let secret = TotpSecret::from_base32(bank::DEMO_TOTP_SECRET).expect("secret");
        secret.code_at(self.clock.now_secs())
    }

    /// A six-digit code that is wrong at the bank's current time (and ±1 step).
    pub fn wrong_code(&self) -> String {
        let secret = TotpSecret::from_base32(bank::DEMO_TOTP_SECRET).expect("secret");
        let now = self.clock.now_secs();
        let valid: Vec<String> = [now - 30, now, now + 30]
            .iter()
            .map(|t| secret.code_at(*t))
            .collect();
        (0..1_000_000u32)
            .map(|n| format!("{n:06}"))
            .find(|c| !valid.contains(c))
            .expect("a wrong code exists")
    }

    /// `POST /transfer` of `amount` to bob with a bearer token.
    pub async fn transfer(&self, token: &str, amount: u32) -> Answer {
        self.call(
            "POST",
            "/transfer",
            Some(token),
            Some(serde_json::json!({"to": "bob", "amount": amount})),
        )
        .await
    }

    /// Calls a route that needs step-up and returns the challenge id.
    pub async fn challenge(&self, token: &str) -> String {
        let a = self.transfer(token, 10).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{:?}", a.json);
        a.json["challenge_id"]
            .as_str()
            .expect("challenge_id")
            .to_owned()
    }

    /// Steps up with `headers` on every request (a client address, a
    /// device): the challenge from `POST /transfer`, the current code, and
    /// the elevated token.
    pub async fn step_up_with(&self, token: &str, headers: &[(&str, &str)]) -> String {
        let transfer = serde_json::json!({"to": "bob", "amount": 10});
        let a = self
            .call_with(
                "POST",
                "/transfer",
                Some(token),
                Some(transfer),
                UA,
                headers,
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{:?}", a.json);
        let ch = a.json["challenge_id"].as_str().expect("challenge_id");
        let body = serde_json::json!({"challenge_id": ch, "method": "totp", "code": self.code()});
        let v = self
            .call_with(
                "POST",
                "/step-up/verify",
                Some(token),
                Some(body),
                UA,
                headers,
            )
            .await;
        assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
        v.json["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Posts a verification.
    pub async fn verify(&self, token: &str, challenge: &str, code: &str) -> Answer {
        self.call(
            "POST",
            "/step-up/verify",
            Some(token),
            Some(serde_json::json!({"challenge_id": challenge, "method": "totp", "code": code})),
        )
        .await
    }
}
