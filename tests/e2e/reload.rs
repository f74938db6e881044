//! Reloading the bank's policy while it serves (what `SIGHUP` does): a
//! good file replaces the policy for the next request and keeps its
//! stores (a challenge issued before is verified after); a bad one is
//! refused and the running policy stays.

use hyper::StatusCode;
use rasp_e2e::{Bank, SEED, START};
use rasp_examples::bank::{self, BankOptions};
use rasp_examples::serve::{ServeLimits, Swappable, serve_swappable};
use rasp_stepup::{MockClock, Timestamp};

/// Monitor mode after the reload: an injection is logged, not refused.
const MONITOR: &str = "mode = \"monitor\"";
const INJECTION: &str = "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E";

#[tokio::test]
async fn a_reloaded_policy_serves_the_next_request_and_keeps_the_stores() {
    let opts = BankOptions::with_seed(SEED);
    let clock = MockClock::new(Timestamp::from_secs(START));
    let policy = bank::policy(&opts, clock.clone()).expect("policy");
    let demo = bank::demo(&opts).expect("demo");
    let current = Swappable::new(bank::app_with(policy.clone(), Some(&demo)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_swappable(
        listener,
        current.clone(),
        ServeLimits::default(),
        std::future::pending(),
    ));
    let bank = Bank {
        addr,
        clock: clock.clone(),
        policy: policy.clone(),
        demo: demo.clone(),
    };
    // a challenge issued under the first policy
    let token = bank.login().await;
    let challenge = bank.challenge(&token).await;
    let a = bank.call("GET", INJECTION, None, None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    // a bad file is refused; nothing changes
    let bad = bank::reload_policy(
        &opts,
        Some("[risk]\nipv6_prefix = 300".into()),
        &policy,
        clock.clone(),
    );
    assert!(bad.is_err());
    let a = bank.call("GET", INJECTION, None, None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    // a good one serves the next request
    let monitor =
        bank::reload_policy(&opts, Some(MONITOR.into()), &policy, clock.clone()).expect("reload");
    current.swap(bank::app_with(monitor, Some(&demo)));
    let a = bank.call("GET", INJECTION, None, None).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.json);
    // the challenge of the first policy is verified under the second
    let v = bank.verify(&token, &challenge, &bank.code()).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
}
