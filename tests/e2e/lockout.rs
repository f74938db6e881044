//! Lockout that cannot be turned on the user (OWASP's device cookies), over
//! real HTTP: failed verifications from a device that stepped up before
//! lock that device only; every other device shares the user's bucket.

use hyper::StatusCode;
use rasp_e2e::{Answer, Bank, SEED, start_with};
use rasp_examples::bank::BankOptions;
use serde_json::json;

const OWN_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0";
const THIEF_UA: &str = "curl/8.5.0";

/// One of the user's devices: its User-Agent and signed device cookie.
struct Device {
    ua: &'static str,
    cookie: Option<String>,
}

impl Device {
    fn new(ua: &'static str) -> Self {
        Self { ua, cookie: None }
    }

    async fn call(
        &mut self,
        bank: &Bank,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> Answer {
        let cookie = self.cookie.clone().unwrap_or_default();
        let extra: Vec<(&str, &str)> = if cookie.is_empty() {
            vec![]
        } else {
            vec![("cookie", cookie.as_str())]
        };
        let a = bank
            .call_with("POST", path, Some(token), Some(body), self.ua, &extra)
            .await;
        // keep the device cookie the layer hands out
        if let Some(set) = a.header("set-cookie").split(';').next()
            && set.starts_with("rasp_did=")
        {
            self.cookie = Some(set.to_owned());
        }
        a
    }

    async fn challenge(&mut self, bank: &Bank, token: &str) -> String {
        let a = self
            .call(bank, "/transfer", token, json!({"to": "bob", "amount": 10}))
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{:?}", a.json);
        a.json["challenge_id"].as_str().unwrap().to_owned()
    }

    async fn verify(&mut self, bank: &Bank, token: &str, ch: &str, code: &str) -> Answer {
        let body = json!({"challenge_id": ch, "method": "totp", "code": code});
        self.call(bank, "/step-up/verify", token, body).await
    }

    /// Ten wrong codes over fresh challenges, then a right one: its answer.
    async fn lock_out(&mut self, bank: &Bank, token: &str) -> Answer {
        let mut failures = 0;
        while failures < 10 {
            let ch = self.challenge(bank, token).await;
            for _ in 0..4 {
                if failures == 10 {
                    break;
                }
                let a = self.verify(bank, token, &ch, &bank.wrong_code()).await;
                assert_eq!(a.status, StatusCode::FORBIDDEN, "failure {failures}");
                failures += 1;
            }
        }
        let ch = self.challenge(bank, token).await;
        self.verify(bank, token, &ch, &bank.code()).await
    }
}

/// The user steps up once on her own device, which makes it known.
async fn known_device(bank: &Bank, token: &str) -> Device {
    let mut own = Device::new(OWN_UA);
    let ch = own.challenge(bank, token).await;
    assert!(own.cookie.is_some(), "the layer issues a device cookie");
    let ok = own.verify(bank, token, &ch, &bank.code()).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.json);
    own
}

#[tokio::test]
async fn a_thief_locks_out_unknown_devices_but_not_the_users_own() {
    let bank = start_with(BankOptions::with_seed(SEED)).await;
    let token = bank.login().await;
    let mut own = known_device(&bank, &token).await;
    bank.clock.advance(std::time::Duration::from_secs(30));

    // the thief holds the base token, on a device of its own
    let mut thief = Device::new(THIEF_UA);
    let locked = thief.lock_out(&bank, &token).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        locked.json
    );

    // the user's own device still steps up
    bank.clock.advance(std::time::Duration::from_secs(1));
    let ch = own.challenge(&bank, &token).await;
    let ok = own.verify(&bank, &token, &ch, &bank.code()).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.json);

    // and the thief is still locked out
    let ch = thief.challenge(&bank, &token).await;
    let still = thief.verify(&bank, &token, &ch, &bank.code()).await;
    assert_eq!(still.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn failures_on_a_known_device_lock_that_device_only() {
    let bank = start_with(BankOptions::with_seed(SEED)).await;
    let token = bank.login().await;
    let mut own = known_device(&bank, &token).await;
    bank.clock.advance(std::time::Duration::from_secs(30));

    let locked = own.lock_out(&bank, &token).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        locked.json
    );

    // another device of the user's (a new browser) is not locked
    bank.clock.advance(std::time::Duration::from_secs(1));
    let mut other = Device::new("Mozilla/5.0 (Macintosh) Safari/17.0");
    let ch = other.challenge(&bank, &token).await;
    let ok = other.verify(&bank, &token, &ch, &bank.code()).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.json);
}
