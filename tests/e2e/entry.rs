//! The login and verify routes over real HTTP: inside the protection
//! boundary, with their own per-address quota, and their failures counted.

use hyper::StatusCode;
use rasp_e2e::{Bank, SEED, UA, start_with};
use rasp_examples::bank::BankOptions;
use serde_json::{Value, json};

/// A bank behind a trusted local proxy, so that tests pick addresses.
async fn bank() -> Bank {
    let mut opts = BankOptions::with_seed(SEED);
    opts.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    start_with(opts).await
}

async fn post(
    bank: &Bank,
    ip: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> rasp_e2e::Answer {
    bank.call_with(
        "POST",
        path,
        token,
        Some(body),
        UA,
        &[("x-forwarded-for", ip)],
    )
    .await
}

fn wrong_password(user: &str) -> Value {
    json!({"username": user, "password": "Tr0ub4dor&3"})
}

#[tokio::test]
async fn wrong_passwords_from_one_address_meet_the_login_quota() {
    let bank = bank().await;
    for n in 1..=60 {
        let a = post(
            &bank,
            "198.51.100.20",
            "/login",
            None,
            wrong_password("alice"),
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let a = post(
        &bank,
        "198.51.100.20",
        "/login",
        None,
        wrong_password("alice"),
    )
    .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.header("ratelimit-policy"), "\"client\";q=60;w=60");
    // the verify route shares the quota
    let v = post(
        &bank,
        "198.51.100.20",
        "/step-up/verify",
        Some("not-a-token"),
        json!({"challenge_id": "x", "method": "totp", "code": "123456"}),
    )
    .await;
    assert_eq!(v.status, StatusCode::TOO_MANY_REQUESTS);
    // another address logs in
    let ok = post(
        &bank,
        "198.51.100.21",
        "/login",
        None,
        json!({"username": rasp_examples::bank::DEMO_USER, "password": rasp_examples::bank::DEMO_PASSWORD}),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn verify_calls_with_an_invalid_token_meet_the_quota() {
    let bank = bank().await;
    let body = json!({"challenge_id": "x", "method": "totp", "code": "123456"});
    for n in 1..=60 {
        let a = post(
            &bank,
            "198.51.100.30",
            "/step-up/verify",
            Some("forged"),
            body.clone(),
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let a = post(
        &bank,
        "198.51.100.30",
        "/step-up/verify",
        Some("forged"),
        body,
    )
    .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn failed_logins_naming_a_user_raise_that_users_risk() {
    let bank = bank().await;
    let home = "198.51.100.40";
    let login = post(
        &bank,
        home,
        "/login",
        None,
        json!({"username": rasp_examples::bank::DEMO_USER, "password": rasp_examples::bank::DEMO_PASSWORD}),
    )
    .await;
    let token = login.json["access_token"].as_str().unwrap().to_owned();
    let transfer = json!({"to": "bob", "amount": 10});
    let a = post(&bank, home, "/transfer", Some(&token), transfer.clone()).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let ch = a.json["challenge_id"].as_str().unwrap().to_owned();
    let body = json!({"challenge_id": ch, "method": "totp", "code": bank.code()});
    let v = post(&bank, home, "/step-up/verify", Some(&token), body).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
    let elevated = v.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        post(&bank, home, "/transfer", Some(&elevated), transfer.clone())
            .await
            .status,
        StatusCode::OK
    );

    // ten wrong passwords for alice, each from another address
    for n in 0..10 {
        let ip = format!("203.0.113.{}", 10 + n);
        let a = post(&bank, &ip, "/login", None, wrong_password("alice")).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    // her elevated token at home now meets a new challenge
    let again = post(&bank, home, "/transfer", Some(&elevated), transfer).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{:?}", again.json);
    assert!(
        again
            .header("www-authenticate")
            .contains("insufficient_user_authentication")
    );
}

#[tokio::test]
async fn a_password_is_not_judged_as_code_but_the_user_name_is() {
    let bank = bank().await;
    let odd = post(
        &bank,
        "198.51.100.50",
        "/login",
        None,
        json!({"username": "alice", "password": "' OR 1=1 --"}),
    )
    .await;
    assert_eq!(odd.status, StatusCode::UNAUTHORIZED, "{:?}", odd.json);
    let injected = post(
        &bank,
        "198.51.100.50",
        "/login",
        None,
        json!({"username": "admin' OR '1'='1' --", "password": "x"}),
    )
    .await;
    assert_eq!(
        injected.status,
        StatusCode::FORBIDDEN,
        "{:?}",
        injected.json
    );
}
