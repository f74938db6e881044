//! A guarded `sqlx` query against PostgreSQL on loopback, against the same
//! query unguarded.
//!
//! `cargo bench -p rasp-bench --bench sqlx_guard` (PostgreSQL at
//! `RASP_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/postgres`).
//! One request through the layer carries 20 query parameters; its handler
//! runs rounds of 200 queries guarded (`sink::sqlx::query`) and 200
//! unguarded (`sqlx::query`), alternating which goes first. Every statement
//! is new (a fresh number in it, so each is parsed and planned) and holds
//! one of the request's inputs inside a string literal: the guard finds
//! it and judges it, as it would on a real search. Reports the median of
//! the rounds' per-query times for each arm and their ratio. Target (issue:
//! sink guards): guarded ≤ 1.02 × unguarded.

#![allow(clippy::disallowed_methods)] // a benchmark reads the real clocks

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, Response};
use rasp_bench::Rng;
use rasp_stepup::{Policy, RaspStepUp, Sensitivity, TokenConfig};
use tower::{Layer, ServiceExt, service_fn};

const ROUNDS: usize = 15;
const PER_ROUND: usize = 200;

async fn arm(pool: &sqlx::PgPool, rng: &mut Rng, owner: &str, guarded: bool) -> Duration {
    let statements: Vec<String> = (0..PER_ROUND)
        .map(|_| {
            format!(
                "SELECT id, owner, amount FROM rasp_bench_items WHERE owner = '{owner}' AND amount > {} ORDER BY id LIMIT 10",
                rng.next_u64() % 1_000_000
            )
        })
        .collect();
    let t = Instant::now();
    for s in &statements {
        let rows = if guarded {
            rasp_stepup::sink::sqlx::query(s)
                .expect("benign")
                .fetch_all(pool)
                .await
        } else {
            sqlx::query(s).fetch_all(pool).await
        };
        std::hint::black_box(rows.expect("query"));
    }
    t.elapsed() / PER_ROUND as u32
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let url = std::env::var("RASP_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
        sqlx::raw_sql(
            "DROP TABLE IF EXISTS rasp_bench_items; \
             CREATE TABLE rasp_bench_items (id BIGINT PRIMARY KEY, owner TEXT, amount BIGINT); \
             INSERT INTO rasp_bench_items SELECT g, 'owner' || (g % 100), g * 7 % 100000 FROM generate_series(1, 10000) g; \
             CREATE INDEX ON rasp_bench_items (owner)",
        )
        .execute(&pool)
        .await
        .expect("table");
        let mut rng = Rng::from_clock();
        let owner = format!("owner{}", rng.below(100));
        let mut query = String::from("/items?");
        for i in 0..19 {
            query.push_str(&format!("p{i}={}&", rng.word(8)));
        }
        query.push_str(&format!("owner={owner}"));

        let policy = Policy::builder()
            .default_sensitivity(Sensitivity::Public)
            .tokens(TokenConfig::ed25519_from_seed([5; 32]).issuer("i").audience("a"))
            .build()
            .expect("policy");
        let handler = service_fn(move |_req: Request<Body>| {
            let pool = pool.clone();
            let owner = owner.clone();
            async move {
                let mut rng = Rng::from_clock();
                // warm the connection and the plan cache of the server
                arm(&pool, &mut rng, &owner, false).await;
                let (mut guarded, mut plain) = (Vec::new(), Vec::new());
                for round in 0..ROUNDS {
                    if round % 2 == 0 {
                        guarded.push(arm(&pool, &mut rng, &owner, true).await);
                        plain.push(arm(&pool, &mut rng, &owner, false).await);
                    } else {
                        plain.push(arm(&pool, &mut rng, &owner, false).await);
                        guarded.push(arm(&pool, &mut rng, &owner, true).await);
                    }
                }
                let (g, p) = (median(guarded), median(plain));
                println!(
                    "PostgreSQL on loopback, {ROUNDS} rounds of {PER_ROUND} new statements each way, 20 request inputs"
                );
                println!("unguarded sqlx::query        {:>8.1} µs/query (median)", p.as_secs_f64() * 1e6);
                println!("guarded sink::sqlx::query    {:>8.1} µs/query (median)", g.as_secs_f64() * 1e6);
                println!("ratio guarded / unguarded    {:>8.3}", g.as_secs_f64() / p.as_secs_f64());
                Ok::<_, Infallible>(Response::new(Body::empty()))
            }
        });
        let svc = RaspStepUp::new(policy).layer(handler);
        let res = svc
            .oneshot(Request::get(query).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        assert_eq!(res.status(), 200, "the benign statements passed");
    });
}
