//! Tail latency of request inspection: the added cost of the layer with
//! inspection on a clean GET (5 query parameters, typical headers), at
//! p50, p90, p99 and p99.9, against the same layer with inspection off,
//! measured in the same run.
//!
//! Criterion reports means and confidence intervals, not percentiles, so
//! this target times each request on its own. The two services run in
//! alternating rounds so that frequency scaling and other load on the
//! machine hit both alike. `cargo bench -p rasp-bench --bench latency`.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Instant;

use axum::body::Body;
use http::{Request, Response};
use rasp_bench::{clean_get, inspection_policy};
use rasp_stepup::RaspStepUp;
use tower::{Layer, Service, ServiceExt, service_fn};

const ROUNDS: usize = 40;
const PER_ROUND: usize = 5_000;

/// Nanoseconds at quantile `q` of sorted samples (nearest rank).
fn quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Times `n` requests through `svc`, one by one.
fn record<S>(rt: &tokio::runtime::Runtime, svc: &S, n: usize, out: &mut Vec<u64>)
where
    S: Service<Request<Body>> + Clone,
    S::Error: std::fmt::Debug,
{
    for _ in 0..n {
        let req = clean_get();
        let svc = svc.clone();
        // A benchmark measures wall time itself; no clock is injected here.
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        let res = rt.block_on(svc.oneshot(req));
        let ns = start.elapsed().as_nanos();
        black_box(res.expect("infallible"));
        out.push(u64::try_from(ns).unwrap_or(u64::MAX));
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and only wants to know that the target runs: do one short round.
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, per_round) = if full { (ROUNDS, PER_ROUND) } else { (1, 100) };

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let inner = service_fn(|_req: Request<Body>| async move {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let bare = RaspStepUp::new(inspection_policy(false)).layer(inner);
    let layered = RaspStepUp::new(inspection_policy(true)).layer(inner);

    let time = |svc: &_, out: &mut Vec<u64>| record(&rt, svc, per_round, out);
    // warm-up, not recorded
    let mut sink = Vec::new();
    time(&bare, &mut sink);
    time(&layered, &mut sink);

    let mut base = Vec::with_capacity(rounds * per_round);
    let mut insp = Vec::with_capacity(rounds * per_round);
    for _ in 0..rounds {
        time(&bare, &mut base);
        time(&layered, &mut insp);
    }
    base.sort_unstable();
    insp.sort_unstable();

    println!(
        "clean GET, 5 query parameters, {} requests each",
        base.len()
    );
    println!(
        "{:>7} {:>14} {:>14} {:>10}",
        "", "no inspection", "inspection", "added"
    );
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)] {
        let b = quantile(&base, q);
        let i = quantile(&insp, q);
        println!(
            "{name:>7} {:>11} ns {:>11} ns {:>7} ns",
            b,
            i,
            i.saturating_sub(b)
        );
    }
}
