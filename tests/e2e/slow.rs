//! Slow clients over real HTTP: heads and bodies that trickle, idle
//! keep-alive connections and a flood of them meet the server's limits
//! (short ones here, so that the test waits for events, not for minutes).
//!
//! The server runs on the test's own runtime with tokio's clock paused:
//! hyper's timer, tower-http's body timeout and the client's trickle all
//! read that clock, which jumps to the next timer whenever every task
//! waits, so the limits are met in virtual time, without sleeping.

use std::time::Duration;

use hyper::StatusCode;
use rasp_e2e::{Bank, SEED, start_with_limits};
use rasp_examples::bank::BankOptions;
use rasp_examples::serve::ServeLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

const LIMITS: ServeLimits = ServeLimits {
    header_read: Duration::from_millis(300),
    body_idle: Duration::from_millis(300),
    max_connections: 64,
};

/// The longest any test waits for the server to act.
const BOUND: Duration = Duration::from_secs(5);

async fn bank(limits: ServeLimits) -> Bank {
    start_with_limits(BankOptions::with_seed(SEED), limits).await
}

/// Reads until the server closes the connection; what it sent. Panics if it
/// is still open after `BOUND`.
async fn until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    timeout(BOUND, read)
        .await
        .expect("the server closes the connection in time");
    got
}

/// A connection that has sent part of a request head.
async fn half_head(bank: &Bank) -> TcpStream {
    let mut s = TcpStream::connect(bank.addr).await.expect("connect");
    s.write_all(b"GET /search?q=shoes HTTP/1.1\r\nHost: bank\r\nX-Slow: ")
        .await
        .expect("write");
    s
}

#[tokio::test(start_paused = true)]
async fn a_head_that_trickles_is_closed_after_the_header_timeout() {
    let bank = bank(LIMITS).await;
    let mut s = half_head(&bank).await;
    let (mut reader, mut writer) = s.split();
    let started = Instant::now();
    // one byte every 50 ms, for at most 4 s: trickling does not buy time
    let trickle = async {
        for _ in 0..80 {
            if writer.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        while let Ok(n) = reader.read(&mut buf).await {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    };
    tokio::select! {
        () = read => {}
        () = trickle => panic!("still open after 4 s of trickling"),
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"));
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed() {
    let bank = bank(LIMITS).await;
    let mut s = TcpStream::connect(bank.addr).await.expect("connect");
    s.write_all(b"GET /search?q=shoes HTTP/1.1\r\nHost: bank\r\n\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let got = until_closed(&mut s).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test(start_paused = true)]
async fn a_body_that_stops_fails_the_request_and_closes() {
    let bank = bank(LIMITS).await;
    let mut s = TcpStream::connect(bank.addr).await.expect("connect");
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: bank\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"username\":",
    )
    .await
    .expect("write");
    let got = until_closed(&mut s).await;
    let text = String::from_utf8_lossy(&got);
    // the layer reads the login body to inspect it: its 400
    assert!(text.starts_with("HTTP/1.1 400 Bad Request"), "{text}");
    assert!(
        text.contains("content-type: application/problem+json"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn normal_clients_are_served_during_a_slow_client_flood() {
    let bank = bank(LIMITS).await;
    let mut slow = Vec::new();
    for _ in 0..40 {
        slow.push(half_head(&bank).await);
    }
    let started = Instant::now();
    let a = timeout(BOUND, bank.call("GET", "/search?q=shoes", None, None))
        .await
        .expect("served in time");
    assert_eq!(a.status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(250));
    for s in &mut slow {
        assert!(!String::from_utf8_lossy(&until_closed(s).await).contains("200 OK"));
    }
}

#[tokio::test(start_paused = true)]
async fn past_the_connection_limit_new_clients_wait_for_a_slot() {
    let bank = bank(ServeLimits {
        max_connections: 4,
        ..LIMITS
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(half_head(&bank).await);
    }
    // the fifth waits in the listen queue until a slow one times out
    let started = Instant::now();
    let a = timeout(BOUND, bank.call("GET", "/search?q=shoes", None, None))
        .await
        .expect("served once a slot frees");
    assert_eq!(a.status, StatusCode::OK);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(150), "served after {took:?}");
}
