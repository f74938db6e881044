//! Soak: the bank under mixed load for a while, reporting every minute.
//!
//! `cargo run --release -p rasp-bench --bin soak` (needs `../shared/corpus`;
//! `SOAK_SECS`, default 600). Starts `target/release/bank` (built first:
//! `cargo build --release -p rasp-examples`) on 127.0.0.1 with the local
//! machine as a trusted proxy and short slow-client limits, then runs, until
//! the time is up:
//!
//! - public searches with benign corpus values from 100,000 addresses;
//! - attacks from the corpus as queries and JSON bodies;
//! - authenticated reads with a fresh login every few seconds;
//! - a full step-up (challenge, TOTP, elevated transfer) every 31 s;
//! - slow clients that send half a request head and wait to be closed.
//!
//! Every minute it prints requests per kind and status, transport errors,
//! slow connections closed, and the bank's resident memory. It talks to
//! 127.0.0.1 only and stops by itself.

#![allow(clippy::disallowed_methods)] // a soak reads the real clocks

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rasp_examples::bank::{DEMO_PASSWORD, DEMO_TOTP_SECRET, DEMO_USER};
use rasp_stepup::TotpSecret;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PORT: u16 = 3199;
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// Counts per (kind, status); status 0 is a transport error.
#[derive(Default)]
struct Tally(Mutex<BTreeMap<(&'static str, u16), u64>>);

impl Tally {
    fn add(&self, kind: &'static str, status: u16) {
        *self
            .0
            .lock()
            .expect("tally")
            .entry((kind, status))
            .or_default() += 1;
    }

    fn take(&self) -> BTreeMap<(&'static str, u16), u64> {
        std::mem::take(&mut *self.0.lock().expect("tally"))
    }
}

struct Answer {
    status: u16,
    headers: String,
    body: Value,
}

/// One request on its own connection (`Connection: close`).
async fn call(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Option<Answer> {
    let mut s = TcpStream::connect(("127.0.0.1", PORT)).await.ok()?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: bank\r\nConnection: close\r\nUser-Agent: {UA}\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if body.is_some() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            payload.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(&payload);
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status = head.get(9..12)?.parse().ok()?;
    Some(Answer {
        status,
        headers: head.to_ascii_lowercase(),
        body: serde_json::from_str(rest).unwrap_or(Value::Null),
    })
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn corpus() -> (Vec<String>, Vec<String>) {
    let read = |name: &str| -> Vec<String> {
        rasp_bench::corpus_records(name)
            .iter()
            .filter_map(|r| r["payload"].as_str().map(str::to_owned))
            .filter(|p| p.len() < 2_000)
            .collect()
    };
    (read("benign.jsonl"), read("attacks.jsonl"))
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn start_bank() -> Child {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/bank");
    let mut child = Command::new(&bin)
        .args(["--port", &PORT.to_string(), "--trust-proxy", "127.0.0.1/32"])
        .args(["--header-timeout", "2", "--body-timeout", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (cargo build --release -p rasp-examples)",
                bin.display()
            )
        });
    let out = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(out).lines();
    for line in lines.by_ref() {
        if line.is_ok_and(|l| l.contains("listening")) {
            break;
        }
    }
    // keep draining its output
    std::thread::spawn(move || for _ in lines {});
    child
}

struct Shared {
    tally: Tally,
    stop: AtomicBool,
    seq: AtomicU64,
    slow_closed: AtomicU64,
    slow_open: AtomicU64,
    benign: Vec<String>,
    attacks: Vec<String>,
}

impl Shared {
    fn next(&self) -> u64 {
        let x = self
            .seq
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^ (x >> 29)
    }

    fn addr(&self) -> String {
        let n = self.next() % 100_000;
        format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255)
    }
}

async fn public(s: Arc<Shared>) {
    while !s.stop.load(Ordering::Relaxed) {
        let v = &s.benign[(s.next() as usize) % s.benign.len()];
        let a = call(
            "GET",
            &format!("/search?q={}", encode(v)),
            &[("x-forwarded-for", &s.addr())],
            None,
        )
        .await;
        s.tally.add("public", a.map_or(0, |a| a.status));
    }
}

async fn attacks(s: Arc<Shared>) {
    while !s.stop.load(Ordering::Relaxed) {
        let v = &s.attacks[(s.next() as usize) % s.attacks.len()];
        let ip = s.addr();
        let a = if s.next().is_multiple_of(2) {
            call(
                "GET",
                &format!("/search?q={}", encode(v)),
                &[("x-forwarded-for", &ip)],
                None,
            )
            .await
        } else {
            let body = json!({"to": v, "amount": 1});
            call(
                "POST",
                "/transfer",
                &[("x-forwarded-for", &ip)],
                Some(&body),
            )
            .await
        };
        s.tally.add("attack", a.map_or(0, |a| a.status));
    }
}

async fn login(ip: &str) -> Option<String> {
    let body = json!({"username": DEMO_USER, "password": DEMO_PASSWORD});
    let a = call("POST", "/login", &[("x-forwarded-for", ip)], Some(&body)).await?;
    a.body["access_token"].as_str().map(str::to_owned)
}

async fn authenticated(s: Arc<Shared>) {
    let ip = "192.0.2.10";
    while !s.stop.load(Ordering::Relaxed) {
        let Some(token) = login(ip).await else {
            s.tally.add("login", 0);
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        s.tally.add("login", 200);
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && !s.stop.load(Ordering::Relaxed) {
            let auth = format!("Bearer {token}");
            let a = call(
                "GET",
                "/account",
                &[("x-forwarded-for", ip), ("authorization", &auth)],
                None,
            )
            .await;
            s.tally.add("account", a.map_or(0, |a| a.status));
            // the subject's quota is 300 a minute
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

async fn step_up(s: Arc<Shared>) {
    let ip = "192.0.2.20";
    let secret = TotpSecret::from_base32(DEMO_TOTP_SECRET).expect("secret");
    while !s.stop.load(Ordering::Relaxed) {
        let ok = async {
            let token = login(ip).await?;
            let auth = format!("Bearer {token}");
            let transfer = json!({"to": "bob", "amount": 5});
            let hdr = [("x-forwarded-for", ip), ("authorization", auth.as_str())];
            let ch = call("POST", "/transfer", &hdr, Some(&transfer)).await?;
            let id = ch.body["challenge_id"].as_str()?.to_owned();
            let cookie = ch
                .headers
                .lines()
                .find_map(|l| l.strip_prefix("set-cookie: "))
                .and_then(|c| c.split(';').next())
                .map(str::to_owned)
                .unwrap_or_default();
            let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
            let body = json!({"challenge_id": id, "method": "totp", "code": secret.code_at(now)});
            let hdr = [
                ("x-forwarded-for", ip),
                ("authorization", auth.as_str()),
                ("cookie", cookie.as_str()),
            ];
            let v = call("POST", "/step-up/verify", &hdr, Some(&body)).await?;
            let elevated = format!("Bearer {}", v.body["access_token"].as_str()?);
            let hdr = [
                ("x-forwarded-for", ip),
                ("authorization", elevated.as_str()),
                ("cookie", cookie.as_str()),
            ];
            let done = call("POST", "/transfer", &hdr, Some(&transfer)).await?;
            Some(done.status)
        }
        .await;
        s.tally.add("step-up", ok.unwrap_or(0));
        // each TOTP step is accepted once per user
        for _ in 0..31 {
            if s.stop.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn slow(s: Arc<Shared>) {
    while !s.stop.load(Ordering::Relaxed) {
        for _ in 0..5 {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let Ok(mut c) = TcpStream::connect(("127.0.0.1", PORT)).await else {
                    return;
                };
                s.slow_open.fetch_add(1, Ordering::Relaxed);
                let _ = c
                    .write_all(b"GET /search?q=slow HTTP/1.1\r\nHost: bank\r\nX-Slow: ")
                    .await;
                let mut buf = [0u8; 256];
                let closed = tokio::time::timeout(Duration::from_secs(30), async {
                    while let Ok(n) = c.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                })
                .await
                .is_ok();
                s.slow_open.fetch_sub(1, Ordering::Relaxed);
                if closed {
                    s.slow_closed.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn main() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let (benign, attacks_list) = corpus();
    let mut bank = start_bank();
    let pid = bank.id();
    let shared = Arc::new(Shared {
        tally: Tally::default(),
        stop: AtomicBool::new(false),
        seq: AtomicU64::new(1),
        slow_closed: AtomicU64::new(0),
        slow_open: AtomicU64::new(0),
        benign,
        attacks: attacks_list,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "soak: {secs} s against the bank (pid {pid}), start RSS {:.1} MB",
        rss_mb(pid)
    );
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            tasks.push(tokio::spawn(public(Arc::clone(&shared))));
        }
        for _ in 0..2 {
            tasks.push(tokio::spawn(attacks(Arc::clone(&shared))));
        }
        tasks.push(tokio::spawn(authenticated(Arc::clone(&shared))));
        tasks.push(tokio::spawn(step_up(Arc::clone(&shared))));
        tasks.push(tokio::spawn(slow(Arc::clone(&shared))));
        let start = Instant::now();
        let mut minute = 0;
        while start.elapsed() < Duration::from_secs(secs) {
            let left = Duration::from_secs(secs).saturating_sub(start.elapsed());
            let interval = left.min(Duration::from_secs(60));
            tokio::time::sleep(interval).await;
            minute += 1;
            let counts = shared.tally.take();
            let total: u64 = counts.values().sum();
            let errors: u64 = counts
                .iter()
                .filter(|((_, st), _)| *st == 0 || *st >= 500)
                .map(|(_, n)| n)
                .sum();
            let detail: Vec<String> = counts
                .iter()
                .map(|((k, st), n)| format!("{k}:{st}={n}"))
                .collect();
            println!(
                "minute {minute:>2}: {total} requests ({:.0}/s), {errors} transport errors or 5xx, \
                 slow connections closed {} (open {}), bank RSS {:.1} MB\n           {}",
                total as f64 / interval.as_secs_f64().max(1.0),
                shared.slow_closed.load(Ordering::Relaxed),
                shared.slow_open.load(Ordering::Relaxed),
                rss_mb(pid),
                detail.join(" ")
            );
            if bank.try_wait().ok().flatten().is_some() {
                println!("the bank exited");
                break;
            }
        }
        shared.stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(15), t).await;
        }
    });
    println!("end RSS {:.1} MB", rss_mb(pid));
    let _ = bank.kill();
    let _ = bank.wait();
}
