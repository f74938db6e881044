//! Injection detection: throughput on benign-heavy short values and on
//! attacks, hostile shapes, and the per-request cost of inspection in the
//! layer (clean GET with 5 query parameters and typical headers; 1 KiB and
//! 64 KiB JSON bodies) against a bare `service_fn`.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use axum::body::Body;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::{Request, Response};
use rasp_bench::{clean_get, inspection_policy};
use rasp_detect::{Detector, SourceKind};
use rasp_stepup::RaspStepUp;
use tower::{Layer, ServiceExt, service_fn};

/// Short benign values like form fields and query parameters.
const BENIGN: &[&str] = &[
    "john smith",
    "calle mayor, 5",
    "ana@example.com",
    "28013",
    "madrid",
    "+34 600 123 456",
    "blue",
    "1",
    "true",
    "2024-05-01",
    "size-m",
    "en-GB",
    "iphone 15 case",
    "o'neil",
    "100.50",
    "search terms here",
    "abc123",
    "page 2",
    "https://example.com/a/b?c=d",
    "3fa85f64-5717-4562-b3fc-2c963f66afa6",
];
const ATTACKS: &[&str] = &[
    "1' OR '1'='1",
    "-1 UNION SELECT username,password FROM users--",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "; cat /etc/passwd",
    "${jndi:ldap://x/a}",
    "http://169.254.169.254/latest/",
    "{{7*7}}",
    "<img src=x onerror=alert(1)>",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
];

fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("runs_of_a_tag", "<a ".repeat(20_000).into_bytes()),
        (
            "nested_encodings",
            "%25252525252525".repeat(4_000).into_bytes(),
        ),
        (
            "non_ascii_64k",
            "ñandú über 東京 ".repeat(3_000).into_bytes(),
        ),
        ("one_token_1mb", vec![b'a'; 1 << 20]),
        ("quotes_and_ors", "' or ' or ".repeat(10_000).into_bytes()),
        ("open_comments", "/*".repeat(30_000).into_bytes()),
        (
            "entity_soup",
            "&#x3c;&lt&#0000060".repeat(4_000).into_bytes(),
        ),
        ("curly_soup", "{{${{#{".repeat(10_000).into_bytes()),
    ]
}

fn bench_detector(c: &mut Criterion) {
    let d = Detector::default();
    let mut g = c.benchmark_group("detect");
    let benign_bytes: u64 = BENIGN.iter().map(|v| v.len() as u64).sum();
    g.throughput(Throughput::Elements(BENIGN.len() as u64));
    g.bench_function("benign_short_values", |b| {
        b.iter(|| {
            for v in BENIGN {
                black_box(d.inspect(black_box(v.as_bytes()), SourceKind::QueryValue));
            }
        })
    });
    g.throughput(Throughput::Bytes(benign_bytes));
    g.bench_function("benign_short_values_bytes", |b| {
        b.iter(|| {
            for v in BENIGN {
                black_box(d.inspect(black_box(v.as_bytes()), SourceKind::QueryValue));
            }
        })
    });
    let ua = b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    g.throughput(Throughput::Elements(1));
    g.bench_function("user_agent", |b| {
        b.iter(|| black_box(d.inspect(black_box(ua), SourceKind::Header)))
    });
    let referer = b"https://shop.example.com/products?q=shoes";
    g.bench_function("referer", |b| {
        b.iter(|| black_box(d.inspect(black_box(referer), SourceKind::Header)))
    });
    // The benign values that take the longest paths: a full analysis with
    // the SQL tokenizer (an apostrophe), a URL (SSRF parse), and an opaque
    // token that stops before the keyword search.
    for (name, v) in [
        ("value_apostrophe", &b"o'neil"[..]),
        ("value_url", b"https://example.com/a/b?c=d"),
        ("value_uuid", b"3fa85f64-5717-4562-b3fc-2c963f66afa6"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(d.inspect(black_box(v), SourceKind::QueryValue)))
        });
    }
    g.throughput(Throughput::Elements(ATTACKS.len() as u64));
    g.bench_function("attack_values", |b| {
        b.iter(|| {
            for v in ATTACKS {
                black_box(d.inspect(black_box(v.as_bytes()), SourceKind::QueryValue));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("detect_hostile");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(2));
    for (name, v) in hostile() {
        g.throughput(Throughput::Bytes(v.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &v, |b, v| {
            b.iter(|| black_box(d.inspect(black_box(v), SourceKind::QueryValue)))
        });
    }
    g.finish();
}

fn bench_layer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let inner = service_fn(|req: Request<Body>| async move {
        // The handler reads the body, as a JSON endpoint would.
        let _ = axum::body::to_bytes(req.into_body(), 1 << 20).await;
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let json = |size: usize| {
        let item = r#"{"name":"Blue shoes","size":42,"note":"deliver after 5pm, ring twice"},"#;
        let mut s = String::from(r#"{"items":["#);
        while s.len() + item.len() < size - 2 {
            s.push_str(item);
        }
        s.pop();
        s.push_str("]}");
        s
    };
    let post = |body: &str| {
        Request::post("/orders")
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(Body::from(body.to_owned()))
            .expect("request")
    };
    let bare = RaspStepUp::new(inspection_policy(false)).layer(inner);
    let layered = RaspStepUp::new(inspection_policy(true)).layer(inner);
    let mut g = c.benchmark_group("inspect_layer");
    g.bench_function("clean_get_5_params_baseline_no_inspection", |b| {
        b.iter(|| rt.block_on(bare.clone().oneshot(clean_get())))
    });
    g.bench_function("clean_get_5_params", |b| {
        b.iter(|| rt.block_on(layered.clone().oneshot(clean_get())))
    });
    for size in [1024usize, 64 * 1024 - 256] {
        let body = json(size);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(
            BenchmarkId::new("json_body_baseline_no_inspection", size),
            |b| b.iter(|| rt.block_on(bare.clone().oneshot(post(&body)))),
        );
        g.bench_function(BenchmarkId::new("json_body", size), |b| {
            b.iter(|| rt.block_on(layered.clone().oneshot(post(&body))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_detector, bench_layer);
criterion_main!(benches);
