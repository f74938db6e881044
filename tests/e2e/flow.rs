//! The step-up flow as a client sees it.

use std::time::Duration;

use hyper::StatusCode;
use rasp_e2e::{Bank, START, start};
use rasp_stepup::Mode;
use serde_json::json;

async fn elevate(bank: &Bank, token: &str) -> String {
    let ch = bank.challenge(token).await;
    let a = bank.verify(token, &ch, &bank.code()).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.json);
    a.json["access_token"]
        .as_str()
        .expect("elevated token")
        .to_owned()
}

#[tokio::test]
async fn login_transfer_challenge_verify_retry() {
    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;

    let account = bank.call("GET", "/account", Some(&token), None).await;
    assert_eq!(account.status, StatusCode::OK);
    assert_eq!(account.json["subject"], "alice");

    let body = json!({"to": "bob", "amount": 25});
    let a = bank
        .call("POST", "/transfer", Some(&token), Some(body.clone()))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.header("www-authenticate"),
        "Bearer error=\"insufficient_user_authentication\", \
         error_description=\"a stronger, more recent authentication is required for this high operation\", \
         acr_values=\"mfa\", max_age=\"600\""
    );
    assert_eq!(a.header("content-type"), "application/problem+json");
    assert_eq!(a.header("cache-control"), "no-store");
    let ch = a.json["challenge_id"].as_str().unwrap().to_owned();
    assert_eq!(ch.len(), 22, "128-bit id, base64url");
    assert_eq!(a.json["type"], "urn:rasp-stepup:problem:step-up-required");
    assert_eq!(a.json["status"], 401);
    assert_eq!(a.json["verify_uri"], "/step-up/verify");
    assert_eq!(a.json["methods"], json!(["totp"]));
    assert_eq!(a.json["expires_in"], 300);

    let wrong = bank.verify(&token, &ch, &bank.wrong_code()).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong.json["type"], "urn:rasp-stepup:problem:invalid-code");
    assert_eq!(wrong.json["attempts_remaining"], 4);

    let right = bank.verify(&token, &ch, &bank.code()).await;
    assert_eq!(right.status, StatusCode::OK, "{:?}", right.json);
    assert_eq!(right.json["token_type"], "Bearer");
    assert_eq!(right.json["expires_in"], 300);
    assert_eq!(right.json["acr"], "mfa");
    assert_eq!(right.json["amr"], json!(["otp"]));
    let elevated = right.json["access_token"].as_str().unwrap().to_owned();

    let retry = bank
        .call("POST", "/transfer", Some(&elevated), Some(body))
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.json);
    assert_eq!(retry.json["status"], "sent");
    assert_eq!(retry.json["amount"], 25.0);

    // The challenge is single use.
    let again = bank.verify(&token, &ch, &bank.code()).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert_eq!(
        again.json["type"],
        "urn:rasp-stepup:problem:invalid-challenge"
    );

    // The same code on a fresh challenge is a replay.
    let ch2 = bank.challenge(&token).await;
    let replay = bank.verify(&token, &ch2, &bank.code()).await;
    assert_eq!(replay.status, StatusCode::FORBIDDEN);
    assert_eq!(replay.json["type"], "urn:rasp-stepup:problem:invalid-code");

    // The next time step's code works.
    bank.clock.advance(Duration::from_secs(30));
    let next = bank.verify(&token, &ch2, &bank.code()).await;
    assert_eq!(next.status, StatusCode::OK, "{:?}", next.json);
}

#[tokio::test]
async fn sixth_wrong_code_finds_the_challenge_burned() {
    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;
    let ch = bank.challenge(&token).await;
    for remaining in (0..5).rev() {
        let a = bank.verify(&token, &ch, &bank.wrong_code()).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert_eq!(a.json["attempts_remaining"], remaining);
    }
    let sixth = bank.verify(&token, &ch, &bank.code()).await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sixth.header("retry-after"), "1");
    assert_eq!(
        sixth.json["type"],
        "urn:rasp-stepup:problem:too-many-requests"
    );
}

#[tokio::test]
async fn failures_spread_over_challenges_hit_the_subject_limit() {
    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;
    let mut failures = 0;
    while failures < 10 {
        let ch = bank.challenge(&token).await;
        for _ in 0..4 {
            if failures == 10 {
                break;
            }
            let a = bank.verify(&token, &ch, &bank.wrong_code()).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "failure {failures}");
            failures += 1;
        }
    }
    // A new challenge does not reset the subject's count.
    let ch = bank.challenge(&token).await;
    let locked = bank.verify(&token, &ch, &bank.code()).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.header("retry-after"), "30");
    assert_eq!(locked.json["retry_after"], 30);

    // After the back-off the right code works and clears the count.
    bank.clock.advance(Duration::from_secs(30));
    let ok = bank.verify(&token, &ch, &bank.code()).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.json);
}

#[tokio::test]
async fn another_session_cannot_complete_or_burn_a_challenge() {
    let bank = start(Mode::Enforce).await;
    let session_a = bank.login().await;
    let session_b = bank.login().await;
    let ch = bank.challenge(&session_a).await;
    for _ in 0..6 {
        let a = bank.verify(&session_b, &ch, &bank.code()).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert_eq!(a.json["type"], "urn:rasp-stepup:problem:invalid-challenge");
    }
    // B's attempts neither completed nor burned A's challenge.
    let a = bank.verify(&session_a, &ch, &bank.code()).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.json);
}

#[tokio::test]
async fn challenge_is_bound_to_the_device() {
    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;
    let ch = bank.challenge(&token).await;
    let body = json!({"challenge_id": ch, "method": "totp", "code": bank.code()});
    let other = bank
        .call_as(
            "POST",
            "/step-up/verify",
            Some(&token),
            Some(body),
            "another-device/2.0",
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(
        other.json["type"],
        "urn:rasp-stepup:problem:invalid-challenge"
    );
}

#[tokio::test]
async fn elevation_expires_and_admin_needs_fresher_authentication() {
    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;
    let elevated = elevate(&bank, &token).await;

    // Fresh: admin (max_age 120) and transfer (max_age 600) pass.
    let admin = bank
        .call("GET", "/admin/settings", Some(&elevated), None)
        .await;
    assert_eq!(admin.status, StatusCode::OK, "{:?}", admin.json);

    // 130 s later: still fresh enough for transfer, not for admin.
    bank.clock.advance(Duration::from_secs(130));
    let t = bank.transfer(&elevated, 1).await;
    assert_eq!(t.status, StatusCode::OK);
    let admin = bank
        .call(
            "POST",
            "/admin/settings",
            Some(&elevated),
            Some(json!({"x": 1})),
        )
        .await;
    assert_eq!(admin.status, StatusCode::UNAUTHORIZED);
    assert!(
        admin
            .header("www-authenticate")
            .ends_with("acr_values=\"mfa\", max_age=\"120\"")
    );
    assert!(admin.json["challenge_id"].is_string());

    // Past its exp (300 s) the elevated token is refused as a token...
    bank.clock.advance(Duration::from_secs(200));
    let expired = bank.transfer(&elevated, 1).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        expired.header("www-authenticate"),
        "Bearer error=\"invalid_token\", error_description=\"the access token expired\""
    );
    // ...and the base token gets a new challenge.
    let again = bank.transfer(&token, 1).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(
        again
            .header("www-authenticate")
            .contains("insufficient_user_authentication")
    );
    assert_eq!(bank.clock.now_secs(), START + 330);
}

#[tokio::test]
async fn elevated_token_from_another_device_is_refused() {
    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;
    let elevated = elevate(&bank, &token).await;
    let a = bank
        .call_as(
            "GET",
            "/admin/settings",
            Some(&elevated),
            None,
            "stolen-token-replayer/1.0",
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.header("www-authenticate")
            .starts_with("Bearer error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn concurrent_verifications_with_one_code_elevate_once() {
    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;
    let ch1 = bank.challenge(&token).await;
    let ch2 = bank.challenge(&token).await;
    let code = bank.code();
    let (a, b) = tokio::join!(
        bank.verify(&token, &ch1, &code),
        bank.verify(&token, &ch2, &code)
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 403]);
}

#[tokio::test]
async fn public_and_unauthenticated_requests() {
    let bank = start(Mode::Enforce).await;
    let s = bank.call("GET", "/search?q=loans", None, None).await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(s.json["q"], "loans");

    let a = bank.call("GET", "/account", None, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.header("www-authenticate"),
        "Bearer error=\"invalid_token\", error_description=\"the access token is missing\""
    );
    // Never a step-up challenge without a valid identity (RFC 9470 §9).
    let t = bank
        .call(
            "POST",
            "/transfer",
            None,
            Some(json!({"to": "x", "amount": 1})),
        )
        .await;
    assert_eq!(t.status, StatusCode::UNAUTHORIZED);
    assert!(t.json.get("challenge_id").is_none());
    assert!(t.header("www-authenticate").contains("invalid_token"));

    let bad = bank
        .call(
            "POST",
            "/login",
            None,
            Some(json!({"username": "alice", "password": "nope"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn route_site_annotation_requires_step_up() {
    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;
    let a = bank
        .call(
            "POST",
            "/payees",
            Some(&token),
            Some(json!({"name": "bob"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.header("www-authenticate").ends_with("max_age=\"600\""));
    let elevated = elevate(&bank, &token).await;
    let ok = bank
        .call(
            "POST",
            "/payees",
            Some(&elevated),
            Some(json!({"name": "bob"})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn monitor_mode_passes_and_logs() {
    let bank = start(Mode::Monitor).await;
    let token = bank.login().await;
    let t = bank.transfer(&token, 3).await;
    assert_eq!(t.status, StatusCode::OK);
    assert_eq!(t.json["status"], "sent");
    let a = bank.call("GET", "/search?q=x", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_verify_requests_are_400() {
    let bank = start(Mode::Enforce).await;
    let token = bank.login().await;
    let a = bank
        .call(
            "POST",
            "/step-up/verify",
            Some(&token),
            Some(json!({"challenge_id": "x"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json["type"], "urn:rasp-stepup:problem:invalid-request");
    let m = bank
        .call(
            "POST",
            "/step-up/verify",
            Some(&token),
            Some(json!({"challenge_id": "x", "method": "sms", "code": "1"})),
        )
        .await;
    assert_eq!(m.status, StatusCode::BAD_REQUEST);
    let no_token = bank
        .call(
            "POST",
            "/step-up/verify",
            None,
            Some(json!({"challenge_id": "x", "method": "totp", "code": "1"})),
        )
        .await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
}
