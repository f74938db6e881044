//! Access tokens of an identity provider: the bank started with
//! `--jwks-url` (or `--oidc-issuer`) accepts RS256, PS256 and ES256 tokens
//! signed with the keys a JWKS server on loopback publishes, walks the
//! step-up flow with them, follows a key rotation, keeps the last keys
//! through an outage for a bounded time, and refuses forged tokens.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use hyper::StatusCode;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rasp_e2e::{Bank, START, start_with};
use rasp_examples::bank::BankOptions;
use rasp_examples::cli;
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.example.test/";
const AUDIENCE: &str = "bank-api";

fn pem(name: &str) -> Vec<u8> {
    let path = format!("{}/../testdata/idp/{name}.pem", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A signing key of the stand-in provider.
struct Signer {
    kid: &'static str,
    key: EncodingKey,
    /// The JWK's `alg` (none: the key may sign with any algorithm of its type).
    jwk_alg: Option<Algorithm>,
}

impl Signer {
    fn rsa(file: &'static str, jwk_alg: Option<Algorithm>) -> Self {
        let key = EncodingKey::from_rsa_pem(&pem(file)).expect("RSA key");
        Self {
            kid: file,
            key,
            jwk_alg,
        }
    }

    fn ec(file: &'static str) -> Self {
        let key = EncodingKey::from_ec_pem(&pem(file)).expect("EC key");
        Self {
            kid: file,
            key,
            jwk_alg: Some(Algorithm::ES256),
        }
    }

    fn ed(file: &'static str) -> Self {
        let key = EncodingKey::from_ed_pem(&pem(file)).expect("Ed25519 key");
        Self {
            kid: file,
            key,
            jwk_alg: Some(Algorithm::EdDSA),
        }
    }

    /// The public half as a JWK.
    fn jwk(&self) -> Value {
        let alg = self.jwk_alg.unwrap_or(Algorithm::RS256);
        let jwk = Jwk::from_encoding_key(&self.key, alg).expect("jwk");
        let mut v = serde_json::to_value(jwk).expect("json");
        v["kid"] = json!(self.kid);
        v["use"] = json!("sig");
        if self.jwk_alg.is_none() {
            v.as_object_mut().expect("object").remove("alg");
        }
        v
    }

    fn token(&self, alg: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.into());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }
}

/// The access-token claims of an identity provider (no `sid`, as Auth0's
/// and Entra's carry none).
fn claims(sub: &str, jti: &str) -> Value {
    json!({
        "iss": ISSUER, "sub": sub, "aud": [AUDIENCE, "https://other.example"],
        "iat": START, "exp": START + 3600, "auth_time": START - 60,
        "jti": jti, "scope": "openid transfers",
    })
}

/// The stand-in provider: a JWK Set and a discovery document on loopback.
#[derive(Default)]
struct Idp {
    keys: Mutex<Vec<Value>>,
    down: AtomicBool,
    fetches: AtomicUsize,
    discovery_issuer: Mutex<String>,
    base: Mutex<String>,
}

impl Idp {
    fn publish(&self, signers: &[&Signer]) {
        *self.keys.lock().expect("lock") = signers.iter().map(|s| s.jwk()).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn jwks(State(idp): State<Arc<Idp>>) -> Response {
    idp.fetches.fetch_add(1, Ordering::SeqCst);
    if idp.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = idp.keys.lock().expect("lock").clone();
    (
        [
            ("content-type", "application/json"),
            ("cache-control", "public, max-age=300"),
        ],
        json!({ "keys": keys }).to_string(),
    )
        .into_response()
}

async fn discovery(State(idp): State<Arc<Idp>>) -> Response {
    let base = idp.base.lock().expect("lock").clone();
    let issuer = idp.discovery_issuer.lock().expect("lock").clone();
    axum::Json(json!({"issuer": issuer, "jwks_uri": format!("{base}/jwks")})).into_response()
}

async fn start_idp() -> (Arc<Idp>, String) {
    let idp = Arc::new(Idp::default());
    let app = Router::new()
        .route("/jwks", get(jwks))
        .route("/.well-known/openid-configuration", get(discovery))
        .with_state(idp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    *idp.base.lock().expect("lock") = base.clone();
    *idp.discovery_issuer.lock().expect("lock") = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (idp, base)
}

/// The bank as its command line builds it.
async fn bank_with_flags(flags: &[&str]) -> Bank {
    let args = cli::parse(
        BankOptions::with_seed(rasp_e2e::SEED),
        flags.iter().map(|f| (*f).to_owned()),
        |_| None,
    )
    .expect("flags");
    start_with(args.opts).await
}

async fn jwks_bank(base: &str) -> Bank {
    let url = format!("{base}/jwks");
    bank_with_flags(&[
        "--jwks-url",
        &url,
        "--base-issuer",
        ISSUER,
        "--base-audience",
        AUDIENCE,
    ])
    .await
}

async fn account(bank: &Bank, token: &str) -> (StatusCode, String) {
    let a = bank.call("GET", "/account", Some(token), None).await;
    let who = a.json["subject"].as_str().unwrap_or_default().to_owned();
    (a.status, who)
}

#[tokio::test]
async fn rs256_and_es256_tokens_walk_the_flow_and_follow_a_rotation() {
    let (idp, base) = start_idp().await;
    let rsa1 = Signer::rsa("rsa-1", Some(Algorithm::RS256));
    let ec1 = Signer::ec("ec-1");
    idp.publish(&[&rsa1, &ec1]);
    let bank = jwks_bank(&base).await;

    let rs = rsa1.token(Algorithm::RS256, &claims("alice", "t1"));
    assert_eq!(account(&bank, &rs).await, (StatusCode::OK, "alice".into()));
    let es = ec1.token(Algorithm::ES256, &claims("alice", "t2"));
    assert_eq!(account(&bank, &es).await, (StatusCode::OK, "alice".into()));
    assert_eq!(idp.fetches(), 1, "one fetch serves both keys");
    // rsa-1's JWK names RS256: the same key with PS256 is refused
    let ps = rsa1.token(Algorithm::PS256, &claims("alice", "t3"));
    let a = bank.call("GET", "/account", Some(&ps), None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.header("www-authenticate").contains("invalid_token"));

    // the step-up flow with the provider's tokens; the elevated token is ours
    for token in [&rs, &es] {
        let ch = bank.challenge(token).await;
        let v = bank.verify(token, &ch, &bank.code()).await;
        assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
        assert_eq!(v.json["amr"], json!(["otp"]));
        let elevated = v.json["access_token"].as_str().expect("token").to_owned();
        let header = jsonwebtoken::decode_header(&elevated).expect("header");
        assert_eq!(header.typ.as_deref(), Some("stepup+jwt"));
        assert_eq!(header.alg, Algorithm::EdDSA);
        let t = bank.transfer(&elevated, 25).await;
        assert_eq!(t.status, StatusCode::OK, "{:?}", t.json);
        bank.clock.advance(Duration::from_secs(30));
    }
    assert_eq!(idp.fetches(), 1);

    // rotation: the provider moves to rsa-2 (no `alg`: RS256 or PS256) and ec-2
    let rsa2 = Signer::rsa("rsa-2", None);
    let ec2 = Signer::ec("ec-2");
    idp.publish(&[&rsa2, &ec2]);
    let ps2 = rsa2.token(Algorithm::PS256, &claims("alice", "t4"));
    assert_eq!(account(&bank, &ps2).await, (StatusCode::OK, "alice".into()));
    assert_eq!(idp.fetches(), 2, "an unknown kid refetched the set");
    let es2 = ec2.token(Algorithm::ES256, &claims("alice", "t5"));
    assert_eq!(account(&bank, &es2).await, (StatusCode::OK, "alice".into()));
    let rs2 = rsa2.token(Algorithm::RS256, &claims("alice", "t6"));
    assert_eq!(account(&bank, &rs2).await, (StatusCode::OK, "alice".into()));
    assert_eq!(idp.fetches(), 2);
    // a new token of the retired key is refused, without another fetch
    let old = rsa1.token(Algorithm::RS256, &claims("alice", "t7"));
    let a = bank.call("GET", "/account", Some(&old), None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(idp.fetches(), 2);
    // and the flow goes on with the new keys
    let ch = bank.challenge(&es2).await;
    let v = bank.verify(&es2, &ch, &bank.code()).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
}

#[tokio::test]
async fn eddsa_tokens_and_a_sid_are_taken_as_given() {
    let (idp, base) = start_idp().await;
    let ed = Signer::ed("ed-1");
    let ec = Signer::ec("ec-1");
    idp.publish(&[&ed, &ec]);
    let bank = jwks_bank(&base).await;
    let mut c = claims("alice", "e1");
    c["sid"] = json!("login-42");
    let t = ed.token(Algorithm::EdDSA, &c);
    assert_eq!(account(&bank, &t).await, (StatusCode::OK, "alice".into()));
    // the elevated token carries the provider's session
    let ch = bank.challenge(&t).await;
    let v = bank.verify(&t, &ch, &bank.code()).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
    let elevated = v.json["access_token"].as_str().expect("token");
    let payload = elevated.split('.').nth(1).expect("payload");
    let minted: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64"),
    )
    .expect("json");
    assert_eq!(minted["sid"], "login-42");
    assert_eq!(minted["sub"], "alice");
    // an Ed25519 key does not verify an ES256 signature made with it named
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("ed-1".into());
    let t = jsonwebtoken::encode(&header, &claims("alice", "e2"), &ec.key).expect("sign");
    assert_eq!(account(&bank, &t).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_kids_cost_one_fetch_per_interval() {
    let (idp, base) = start_idp().await;
    let rsa1 = Signer::rsa("rsa-1", Some(Algorithm::RS256));
    idp.publish(&[&rsa1]);
    let bank = jwks_bank(&base).await;
    let ok = rsa1.token(Algorithm::RS256, &claims("alice", "k0"));
    assert_eq!(account(&bank, &ok).await.0, StatusCode::OK);
    assert_eq!(idp.fetches(), 1);
    // 20 tokens naming keys the provider never had
    let forger = EncodingKey::from_rsa_pem(&pem("rsa-forger")).expect("key");
    for i in 0..20 {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(format!("made-up-{i}"));
        let t = jsonwebtoken::encode(&header, &claims("alice", &format!("f{i}")), &forger)
            .expect("sign");
        let a = bank.call("GET", "/account", Some(&t), None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{i}");
    }
    assert_eq!(idp.fetches(), 1, "within the refetch interval: no fetch");
    bank.clock.advance(Duration::from_secs(31));
    for i in 20..40 {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(format!("made-up-{i}"));
        let t = jsonwebtoken::encode(&header, &claims("alice", &format!("f{i}")), &forger)
            .expect("sign");
        let a = bank.call("GET", "/account", Some(&t), None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{i}");
    }
    assert_eq!(idp.fetches(), 2, "one fetch for the next interval");
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn forged_and_misaddressed_tokens_are_refused() {
    let (idp, base) = start_idp().await;
    let rsa1 = Signer::rsa("rsa-1", Some(Algorithm::RS256));
    idp.publish(&[&rsa1]);
    let bank = jwks_bank(&base).await;
    let good = rsa1.token(Algorithm::RS256, &claims("alice", "g"));
    assert_eq!(account(&bank, &good).await.0, StatusCode::OK);

    let forger = Signer {
        kid: "rsa-1",
        ..Signer::rsa("rsa-forger", Some(Algorithm::RS256))
    };
    let mut wrong_aud = claims("alice", "w1");
    wrong_aud["aud"] = json!("another-api");
    let mut no_sub = claims("alice", "w2");
    no_sub.as_object_mut().expect("object").remove("sub");
    let mut expired = claims("alice", "w3");
    expired["exp"] = json!(START - 120);
    let mut own_issuer = claims("alice", "w4");
    own_issuer["iss"] = json!(rasp_examples::bank::ISSUER);
    let mut other_issuer = claims("alice", "w5");
    other_issuer["iss"] = json!("https://elsewhere.example/");
    let mut no_iat = claims("alice", "w6");
    no_iat.as_object_mut().expect("object").remove("iat");
    // HS256 keyed with the provider's public modulus (algorithm confusion)
    let n = rsa1.jwk()["n"].as_str().expect("n").to_owned();
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = Some("rsa-1".into());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims("alice", "w7"),
        &EncodingKey::from_secret(n.as_bytes()),
    )
    .expect("sign");
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "at+jwt", "kid": "rsa-1"})),
        b64(&claims("alice", "w8"))
    );
    let mut elevated_typ = Header::new(Algorithm::RS256);
    elevated_typ.typ = Some("stepup+jwt".into());
    elevated_typ.kid = Some("rsa-1".into());
    let fake_elevated =
        jsonwebtoken::encode(&elevated_typ, &claims("alice", "w9"), &rsa1.key).expect("sign");
    let cases = [
        (
            "signed by another key",
            forger.token(Algorithm::RS256, &claims("alice", "w0")),
        ),
        ("another audience", rsa1.token(Algorithm::RS256, &wrong_aud)),
        ("no sub", rsa1.token(Algorithm::RS256, &no_sub)),
        ("expired", rsa1.token(Algorithm::RS256, &expired)),
        (
            "the bank's issuer",
            rsa1.token(Algorithm::RS256, &own_issuer),
        ),
        (
            "an unknown issuer",
            rsa1.token(Algorithm::RS256, &other_issuer),
        ),
        ("no iat", rsa1.token(Algorithm::RS256, &no_iat)),
        ("HS256 with the public key", confused),
        ("alg none", unsigned),
        ("elevated type", fake_elevated),
    ];
    for (what, token) in cases {
        let a = bank.call("GET", "/account", Some(&token), None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", a.json);
        assert!(
            a.header("www-authenticate")
                .starts_with("Bearer error=\"invalid_token\""),
            "{what}: {}",
            a.header("www-authenticate")
        );
    }
    assert_eq!(idp.fetches(), 1);
}

#[tokio::test]
async fn an_outage_keeps_the_last_keys_for_a_bounded_time_then_fails_closed() {
    let (idp, base) = start_idp().await;
    let rsa1 = Signer::rsa("rsa-1", Some(Algorithm::RS256));
    let ec1 = Signer::ec("ec-1");
    idp.publish(&[&rsa1]);
    let bank = jwks_bank(&base).await;
    let mut n = 0;
    let mut fresh = |signer: &Signer, alg| {
        n += 1;
        signer.token(alg, &claims("alice", &format!("o{n}")))
    };
    assert_eq!(
        account(&bank, &fresh(&rsa1, Algorithm::RS256)).await.0,
        StatusCode::OK
    );

    idp.down.store(true, Ordering::SeqCst);
    // past the set's lifetime (max-age 300): the refetch fails, the keys stay
    bank.clock.advance(Duration::from_secs(301));
    assert_eq!(
        account(&bank, &fresh(&rsa1, Algorithm::RS256)).await.0,
        StatusCode::OK
    );
    assert_eq!(idp.fetches(), 2);
    // a key the bank never saw cannot be checked: unavailable, not invalid
    bank.clock.advance(Duration::from_secs(31));
    let a = bank
        .call(
            "GET",
            "/account",
            Some(&fresh(&ec1, Algorithm::ES256)),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", a.json);
    assert!(!a.header("retry-after").is_empty());
    // past the staleness limit (24 h): the provider's tokens fail closed
    bank.clock.advance(Duration::from_secs(24 * 3600));
    let late = rsa1.token(
        Algorithm::RS256,
        &json!({
            "iss": ISSUER, "sub": "alice", "aud": AUDIENCE,
            "iat": bank.clock.now_secs(), "exp": bank.clock.now_secs() + 3600,
        }),
    );
    let a = bank.call("GET", "/account", Some(&late), None).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", a.json);
    // the bank's own tokens are not affected
    let own = bank.login().await;
    assert_eq!(account(&bank, &own).await.0, StatusCode::OK);

    // the provider is back: the next interval fetches, no restart needed
    idp.down.store(false, Ordering::SeqCst);
    idp.publish(&[&rsa1, &ec1]);
    bank.clock.advance(Duration::from_secs(31));
    let a = bank.call("GET", "/account", Some(&late), None).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.json);
}

#[tokio::test]
async fn oidc_discovery_finds_the_keys_and_checks_the_issuer() {
    let (idp, base) = start_idp().await;
    let ec1 = Signer::ec("ec-1");
    idp.publish(&[&ec1]);
    let bank = bank_with_flags(&["--oidc-issuer", &base]).await;
    let mut c = claims("bob", "d1");
    c["iss"] = json!(base);
    c["sid"] = json!("idp-session-7");
    let t = ec1.token(Algorithm::ES256, &c);
    assert_eq!(account(&bank, &t).await, (StatusCode::OK, "bob".into()));

    // a discovery document naming another issuer is not believed
    let (idp2, base2) = start_idp().await;
    idp2.publish(&[&ec1]);
    *idp2.discovery_issuer.lock().expect("lock") = "https://impostor.example/".into();
    let bank2 = bank_with_flags(&["--oidc-issuer", &base2]).await;
    let mut c = claims("bob", "d2");
    c["iss"] = json!(base2);
    let a = bank2
        .call(
            "GET",
            "/account",
            Some(&ec1.token(Algorithm::ES256, &c)),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", a.json);
    assert_eq!(
        idp2.fetches(),
        0,
        "the key set of an unbelieved document is not fetched"
    );
}

#[test]
fn the_flags_are_checked_together() {
    let parse = |flags: &[&str]| {
        cli::parse(
            BankOptions::with_seed(rasp_e2e::SEED),
            flags.iter().map(|f| (*f).to_owned()),
            |_| None,
        )
        .map(|_| ())
    };
    assert_eq!(
        parse(&["--jwks-url", "http://127.0.0.1:1/jwks"]),
        Err("--jwks-url needs --base-issuer (the tokens' iss)".into())
    );
    assert_eq!(
        parse(&["--base-audience", "x"]),
        Err("--base-audience needs --jwks-url or --oidc-issuer".into())
    );
    assert_eq!(
        parse(&["--oidc-issuer", "https://a/", "--jwks-url", "https://a/k"]),
        Err("--jwks-url and --oidc-issuer exclude each other".into())
    );
    assert_eq!(
        parse(&["--oidc-issuer", "https://a/", "--base-issuer", "b"]),
        Err("--oidc-issuer is the tokens' iss: drop --base-issuer".into())
    );
    assert_eq!(
        parse(&["--base-issuer", "b"]),
        Err("--base-issuer needs --jwks-url".into())
    );
    // a clear-text key set off loopback is refused when the policy builds
    let args = cli::parse(
        BankOptions::with_seed(rasp_e2e::SEED),
        [
            "--jwks-url",
            "http://idp.example/jwks",
            "--base-issuer",
            "i",
        ]
        .map(str::to_owned),
        |_| None,
    )
    .expect("flags");
    let e = rasp_examples::bank::policy(&args.opts, rasp_stepup::SystemClock)
        .expect_err("http off loopback");
    assert!(
        e.to_string().contains("http only to a loopback host"),
        "{e}"
    );
}

#[tokio::test]
async fn a_policy_file_names_the_provider() {
    let (idp, base) = start_idp().await;
    let rsa1 = Signer::rsa("rsa-1", Some(Algorithm::RS256));
    idp.publish(&[&rsa1]);
    let mut opts = BankOptions::with_seed(rasp_e2e::SEED);
    opts.policy_toml = Some(format!(
        "[[tokens.identity_providers]]\n\
         jwks_url = \"{base}/jwks\"\n\
         issuer = \"{ISSUER}\"\n\
         audience = \"{AUDIENCE}\"\n\
         algorithms = [\"RS256\"]\n\
         subject_prefix = \"idp|\"\n\
         refetch_interval = 60\n"
    ));
    let bank = start_with(opts).await;
    let t = rsa1.token(Algorithm::RS256, &claims("carol", "p1"));
    assert_eq!(
        account(&bank, &t).await,
        (StatusCode::OK, "idp|carol".into())
    );
    // PS256 is not in the file's list
    let ps = rsa1.token(Algorithm::PS256, &claims("carol", "p2"));
    assert_eq!(account(&bank, &ps).await.0, StatusCode::UNAUTHORIZED);

    for (toml, says) in [
        (
            "[[tokens.identity_providers]]\njwks_url = \"https://a/k\"\naudience = \"x\"",
            "jwks_url needs issuer",
        ),
        (
            "[[tokens.identity_providers]]\noidc_issuer = \"https://a/\"",
            "tokens.identity_providers.audience",
        ),
        (
            "[[tokens.identity_providers]]\noidc_issuer = \"https://a/\"\naudience = \"x\"\nalgorithms = [\"HS256\"]",
            "symmetric",
        ),
        (
            "[[tokens.identity_providers]]\noidc_issuer = \"https://a/\"\naudience = \"x\"\nalgorithms = [\"XY1\"]",
            "not a JWS algorithm",
        ),
        (
            "[[tokens.identity_providers]]\noidc_issuer = \"https://a/\"\naudience = \"x\"\nkeys = 1",
            "unknown field `keys`",
        ),
        (
            "[[tokens.identity_providers]]\noidc_issuer = \"https://a/\"\naudience = \"x\"\nrefetch_interval = 0",
            "refetch_interval",
        ),
    ] {
        let mut opts = BankOptions::with_seed(rasp_e2e::SEED);
        opts.policy_toml = Some(toml.into());
        let e = rasp_examples::bank::policy(&opts, rasp_stepup::SystemClock)
            .expect_err(toml)
            .to_string();
        assert!(e.contains(says), "{toml}: {e}");
    }
}
