//! A Redis Cluster started by the test (three masters on loopback): the
//! store conformance suite passes on it, two banks on it walk the step-up
//! flow across each other with a 20-way verify race won exactly once, and
//! a master killed and restarted mid-run makes the banks fail closed, then
//! serve again without a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use hyper::StatusCode;
use rasp_e2e::{Bank, RedisCluster, SEED, START, start_with_clock};
use rasp_examples::bank::BankOptions;
use rasp_examples::cli;
use rasp_stepup::{MockClock, Timestamp, conformance};
use rasp_stepup_redis::RedisStore;

static N: AtomicU32 = AtomicU32::new(0);

fn prefix() -> String {
    format!(
        "rasp-cluster:{}:{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

#[tokio::test]
async fn the_store_conformance_suite_passes_on_a_cluster() {
    let cluster = RedisCluster::start().await;
    let store = || {
        RedisStore::cluster(cluster.urls())
            .prefix(prefix())
            .timeout(std::time::Duration::from_secs(2))
            .connect()
            .map(Arc::new)
            .expect("cluster store")
    };
    let s = store();
    s.ping().await.expect("the cluster answers");
    conformance::challenge_lifecycle(&*s).await;
    conformance::challenge_parallel_attempts(&*store()).await;
    conformance::replay_claims(&*store()).await;
    conformance::attempt_limits(&*store()).await;
    conformance::attempt_limits_parallel(&*store()).await;
    conformance::revocation(&*store()).await;
    conformance::rate_limits(&*store()).await;
    conformance::counters(&*store()).await;
    conformance::histories(&*store()).await;
    // Running every script above on the cluster shows no script spans two
    // slots (Redis refuses with CROSSSLOT). The one script of two keys, the
    // attempt state and failure times of a subject, as the cluster hashes
    // them, whatever the subject holds:
    let node = redis::Client::open(cluster.urls()[0].as_str()).expect("url");
    let mut c = node
        .get_multiplexed_async_connection()
        .await
        .expect("a node");
    for subject in ["alice", "a}b", "{x}", "", "ünï"] {
        let mut slots = Vec::new();
        for key in s.attempt_keys(subject) {
            let slot: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(&key)
                .query_async(&mut c)
                .await
                .expect("keyslot");
            slots.push(slot);
        }
        assert_eq!(slots[0], slots[1], "{subject:?}");
    }
}

/// Two banks on the cluster, one prefix, one clock, started from the
/// bank's own `--redis-cluster` flag.
async fn banks(cluster: &RedisCluster) -> (Bank, Bank) {
    let nodes = cluster.urls().join(",");
    let prefix = prefix();
    let clock = MockClock::new(Timestamp::from_secs(START));
    let opts = || {
        cli::parse(
            BankOptions::with_seed(SEED),
            ["--redis-cluster", &nodes, "--redis-prefix", &prefix].map(str::to_owned),
            |_| None,
        )
        .expect("flags")
        .opts
    };
    let a = start_with_clock(opts(), clock.clone()).await;
    let b = start_with_clock(opts(), clock).await;
    (a, b)
}

#[tokio::test]
async fn two_banks_on_a_cluster_share_the_flow_and_survive_a_node() {
    let mut cluster = RedisCluster::start().await;
    let (a, b) = banks(&cluster).await;
    let (a, b) = (Arc::new(a), Arc::new(b));

    // challenge on one, verify on the other, retry on the first
    let token = a.login().await;
    let ch = a.challenge(&token).await;
    let v = b.verify(&token, &ch, &b.code()).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
    let elevated = v.json["access_token"].as_str().expect("token").to_owned();
    assert_eq!(a.transfer(&elevated, 5).await.status, StatusCode::OK);

    // a code used on one is refused on the other
    let ch2 = b.challenge(&token).await;
    let replay = b.verify(&token, &ch2, &a.code()).await;
    assert_eq!(replay.status, StatusCode::FORBIDDEN);
    assert_eq!(replay.json["type"], "urn:rasp-stepup:problem:invalid-code");

    // 20 verifications of one challenge with the right code, at once,
    // spread over both banks: exactly one elevates
    a.clock.advance(std::time::Duration::from_secs(30));
    let ch3 = a.challenge(&token).await;
    let code = a.code();
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..20 {
        let bank = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let (token, ch3, code) = (token.clone(), ch3.clone(), code.clone());
        racers.spawn(async move { bank.verify(&token, &ch3, &code).await.status });
    }
    let statuses = racers.join_all().await;
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(won, 1, "{statuses:?}");

    // a master down: once the cluster says so, protected routes fail closed
    cluster.kill(1).await;
    cluster.wait_state("fail").await;
    for bank in [&*a, &*b] {
        let r = bank.call("GET", "/account", Some(&token), None).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.json);
        assert_eq!(r.header("retry-after"), "5");
    }
    // back: both banks serve again, without a restart
    cluster.restart(1).await;
    for bank in [&*a, &*b] {
        let r = bank.call("GET", "/account", Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    }
    a.clock.advance(std::time::Duration::from_secs(30));
    let ch4 = a.challenge(&token).await;
    let v = b.verify(&token, &ch4, &b.code()).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
}
