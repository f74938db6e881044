//! Redis failing mid-run: high and authenticated routes answer 503 with
//! `Retry-After` (fail closed), public routes keep working (fail open),
//! nothing panics, and the flow works again once Redis is back. The test
//! runs its own `redis-server` on a free loopback port so it can kill it.

use std::process::Stdio;

use hyper::StatusCode;
use rasp_e2e::{SEED, start_with};
use rasp_examples::bank::BankOptions;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts `redis-server` on `port` and waits for its ready line (no sleeping).
async fn redis_server(port: u16) -> Child {
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server must be installed for this test (.ci/run installs it)");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut ready = false;
    for _ in 0..200 {
        match lines.next_line().await {
            Ok(Some(line)) if line.contains("Ready to accept connections") => {
                ready = true;
                break;
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    assert!(ready, "redis-server on port {port} did not become ready");
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

#[tokio::test]
async fn redis_down_fails_closed_on_protected_routes_and_recovers() {
    let port = free_port();
    let mut redis = redis_server(port).await;
    let mut opts = BankOptions::with_seed(SEED);
    opts.redis_url = Some(format!("redis://127.0.0.1:{port}/"));
    opts.redis_prefix = "fault:".into();
    let bank = start_with(opts).await;
    let token = bank.login().await;
    let transfer = || json!({"to": "bob", "amount": 1});
    let r = bank
        .call("POST", "/transfer", Some(&token), Some(transfer()))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.json);

    redis.kill().await.expect("kill redis-server");

    let search = bank.call("GET", "/search?q=x", None, None).await;
    assert_eq!(search.status, StatusCode::OK, "public routes fail open");
    for (method, path) in [
        ("POST", "/transfer"),
        ("GET", "/account"),
        ("GET", "/admin/settings"),
    ] {
        let r = bank
            .call(method, path, Some(&token), Some(transfer()))
            .await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{method} {path}");
        assert_eq!(r.header("retry-after"), "5");
        assert_eq!(r.json["type"], "urn:rasp-stepup:problem:unavailable");
    }
    let v = bank.verify(&token, "whatever", "123456").await;
    assert_eq!(v.status, StatusCode::SERVICE_UNAVAILABLE);

    let _redis = redis_server(port).await;
    let mut recovered = None;
    for _ in 0..50 {
        let r = bank
            .call("POST", "/transfer", Some(&token), Some(transfer()))
            .await;
        if r.status != StatusCode::SERVICE_UNAVAILABLE {
            recovered = Some(r);
            break;
        }
    }
    let r = recovered.expect("the layer reconnects by itself");
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let ch = r.json["challenge_id"].as_str().unwrap().to_owned();
    let v = bank.verify(&token, &ch, &bank.code()).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
    let elevated = v.json["access_token"].as_str().unwrap().to_owned();
    let ok = bank
        .call("POST", "/transfer", Some(&elevated), Some(transfer()))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}
