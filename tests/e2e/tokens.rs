//! Forged and confused tokens get 401 `invalid_token`, never a challenge.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rasp_e2e::{Bank, SEED, START, start};
use rasp_stepup::Mode;
use serde_json::{Value, json};

/// PKCS#8 v1 DER of an Ed25519 private key: a fixed prefix and the seed.
fn ed25519_pkcs8(seed: [u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    der
}

fn claims() -> Value {
    json!({"iss": "bank", "aud": "bank-api", "sub": "alice", "sid": "s1", "iat": START, "exp": START + 600})
}

fn sign(typ: &str, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::EdDSA);
    h.typ = Some(typ.into());
    encode(&h, claims, &EncodingKey::from_ed_der(&ed25519_pkcs8(SEED))).unwrap()
}

async fn assert_invalid(bank: &Bank, token: &str, what: &str) {
    for (method, path) in [("GET", "/account"), ("POST", "/transfer")] {
        let a = bank
            .call(
                method,
                path,
                Some(token),
                Some(json!({"to": "x", "amount": 1})),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what} on {path}");
        assert!(
            a.header("www-authenticate")
                .starts_with("Bearer error=\"invalid_token\""),
            "{what}: {}",
            a.header("www-authenticate")
        );
        assert!(a.json.get("challenge_id").is_none(), "{what}");
    }
}

#[tokio::test]
async fn a_correctly_forged_token_is_accepted_so_the_forgeries_below_are_meaningful() {
    let bank = start(Mode::Enforce).await;
    let a = bank
        .call("GET", "/account", Some(&sign("at+jwt", &claims())), None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn alg_none_is_refused() {
    let bank = start(Mode::Enforce).await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    assert_invalid(&bank, &format!("{header}.{payload}."), "alg none").await;
}

#[tokio::test]
async fn hs256_confusion_is_refused() {
    let bank = start(Mode::Enforce).await;
    let mut h = Header::new(Algorithm::HS256);
    h.typ = Some("at+jwt".into());
    // Signed with the key material an attacker might guess or know.
    let t = encode(&h, &claims(), &EncodingKey::from_secret(&SEED)).unwrap();
    assert_invalid(&bank, &t, "HS256 with the EdDSA key").await;
}

#[tokio::test]
async fn wrong_typ_is_refused() {
    let bank = start(Mode::Enforce).await;
    assert_invalid(&bank, &sign("id_token+jwt", &claims()), "wrong typ").await;
    // A base token dressed as an elevated one lacks the elevated claims and kid.
    assert_invalid(
        &bank,
        &sign("stepup+jwt", &claims()),
        "base claims as elevated",
    )
    .await;
}

#[tokio::test]
async fn missing_or_wrong_required_claims_are_refused() {
    let bank = start(Mode::Enforce).await;
    for claim in ["aud", "iss", "sub", "sid", "exp", "iat"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(claim);
        assert_invalid(&bank, &sign("at+jwt", &c), &format!("missing {claim}")).await;
    }
    let mut c = claims();
    c["aud"] = json!("another-api");
    assert_invalid(&bank, &sign("at+jwt", &c), "wrong aud").await;
    let mut c = claims();
    c["iss"] = json!("evil");
    assert_invalid(&bank, &sign("at+jwt", &c), "wrong iss").await;
    let mut c = claims();
    c["exp"] = json!(START - 100);
    assert_invalid(&bank, &sign("at+jwt", &c), "expired").await;
    assert_invalid(&bank, "not-a-jwt", "garbage").await;
}

#[tokio::test]
async fn revoked_subject_tokens_are_refused() {
    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;
    assert_eq!(
        bank.call("GET", "/account", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    bank.policy.revoke_subject("alice").await.unwrap();
    let a = bank.call("GET", "/account", Some(&token), None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.header("www-authenticate"),
        "Bearer error=\"invalid_token\", error_description=\"the access token was revoked\""
    );
}
