//! The README's adaptive demo over real HTTP: a trusted local proxy, the
//! MaxMind test databases, step-up from Linköping, then Changchun.

use hyper::StatusCode;
use rasp_e2e::{Bank, SEED, UA, start_with};
use rasp_examples::bank::BankOptions;
use serde_json::{Value, json};

const LINKOPING: &str = "89.160.20.112";
const CHANGCHUN: &str = "175.16.199.1";
const TOR_EXIT: &str = "1.124.213.1";

async fn demo_bank() -> Bank {
    let dir = format!("{}/../testdata/geoip", env!("CARGO_MANIFEST_DIR"));
    let mut opts = BankOptions::with_seed(SEED);
    opts.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    opts.geoip_city = Some(format!("{dir}/GeoLite2-City-Test.mmdb").into());
    opts.geoip_asn = Some(format!("{dir}/GeoLite2-ASN-Test.mmdb").into());
    opts.geoip_anonymous = Some(format!("{dir}/GeoIP2-Anonymous-IP-Test.mmdb").into());
    start_with(opts).await
}

async fn from(
    bank: &Bank,
    ip: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> rasp_e2e::Answer {
    bank.call_with(
        method,
        path,
        Some(token),
        body,
        UA,
        &[("x-forwarded-for", ip)],
    )
    .await
}

#[tokio::test]
async fn step_up_in_linkoping_then_changchun_needs_a_new_challenge() {
    let bank = demo_bank().await;
    let token = bank.login().await;
    for _ in 0..3 {
        assert_eq!(
            from(&bank, LINKOPING, "GET", "/account", &token, None)
                .await
                .status,
            StatusCode::OK
        );
    }
    let transfer = json!({"to": "bob", "amount": 10});
    let elevated = bank
        .step_up_with(&token, &[("x-forwarded-for", LINKOPING)])
        .await;
    let ok = from(
        &bank,
        LINKOPING,
        "POST",
        "/transfer",
        &elevated,
        Some(transfer.clone()),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);

    bank.clock.advance(std::time::Duration::from_secs(60));
    let away = from(
        &bank,
        CHANGCHUN,
        "POST",
        "/transfer",
        &elevated,
        Some(transfer.clone()),
    )
    .await;
    assert_eq!(away.status, StatusCode::UNAUTHORIZED, "{:?}", away.json);
    assert!(
        away.header("www-authenticate")
            .contains("insufficient_user_authentication")
    );
    let account = from(&bank, CHANGCHUN, "GET", "/account", &elevated, None).await;
    assert_eq!(account.status, StatusCode::OK);

    // Stepping up from Changchun settles it for this session.
    let ch = away.json["challenge_id"].as_str().unwrap().to_owned();
    bank.clock.advance(std::time::Duration::from_secs(30));
    let body = json!({"challenge_id": ch, "method": "totp", "code": bank.code()});
    let v = from(
        &bank,
        CHANGCHUN,
        "POST",
        "/step-up/verify",
        &elevated,
        Some(body),
    )
    .await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
    let elevated = v.json["access_token"].as_str().unwrap().to_owned();
    let ok = from(
        &bank,
        CHANGCHUN,
        "POST",
        "/transfer",
        &elevated,
        Some(transfer.clone()),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.json);

    // A Tor exit: the default action on high routes is a challenge.
    let tor = from(
        &bank,
        TOR_EXIT,
        "POST",
        "/transfer",
        &elevated,
        Some(transfer),
    )
    .await;
    assert_eq!(tor.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_fresh_session_replayed_far_away_after_its_first_step_up_is_challenged() {
    // No learning history: the first confirmed location is enough to judge
    // travel.
    let bank = demo_bank().await;
    let token = bank.login().await;
    let transfer = json!({"to": "bob", "amount": 10});
    let elevated = bank
        .step_up_with(&token, &[("x-forwarded-for", LINKOPING)])
        .await;

    bank.clock.advance(std::time::Duration::from_secs(10));
    let away = from(
        &bank,
        CHANGCHUN,
        "POST",
        "/transfer",
        &elevated,
        Some(transfer.clone()),
    )
    .await;
    assert_eq!(away.status, StatusCode::UNAUTHORIZED, "{:?}", away.json);
    assert!(
        away.header("www-authenticate")
            .contains("insufficient_user_authentication")
    );
    // the same token at home still passes
    let home = from(
        &bank,
        LINKOPING,
        "POST",
        "/transfer",
        &elevated,
        Some(transfer),
    )
    .await;
    assert_eq!(home.status, StatusCode::OK, "{:?}", home.json);
}
