//! The server of the HTTP load benchmark (`benches/http_load.sh`): the
//! bank with the layer (`--variant layered`, everything on: inspection,
//! risk, identity), or the same routes and handler work without it
//! (`--variant bare`), on one thread, on `127.0.0.1:PORT`.
//!
//! Differences from the shipped bank, all of them so that one load
//! generator can stand for many clients: `X-Forwarded-For` from
//! `127.0.0.1` is believed (the load script gives public requests 1,000
//! different addresses); public routes keep a per-address quota none of
//! them reaches and the other routes have none (one subject at one address
//! at tens of thousands of requests a second is not what a quota is
//! for; the throttled path has its own case, `--tight-quota`, with the
//! bank's defaults); and a base token for the demo user is printed on
//! start (`token: …`) so that the script needs no login round trip.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Query;
use axum::routing::{get, post};
use axum::{Json, Router};
use rasp_examples::bank;
use rasp_stepup::risk::{Quota, RateRules};
use rasp_stepup::{Sensitivity, SystemClock};
use serde_json::{Value, json};

fn bare() -> Router {
    #[derive(serde::Deserialize)]
    struct SearchQuery {
        #[serde(default)]
        q: String,
    }
    #[derive(serde::Deserialize)]
    struct TransferBody {
        to: String,
        amount: f64,
    }
    // The bank's handlers, with the subject the layer would have verified.
    Router::new()
        .route(
            "/account",
            get(|| async {
                Json(json!({"subject": "alice", "balance": 1250.00, "currency": "EUR"}))
            }),
        )
        .route(
            "/transfer",
            post(|body: axum::body::Bytes| async move {
                match serde_json::from_slice::<TransferBody>(&body) {
                    Ok(t) => Json(
                        json!({"status": "sent", "from": "alice", "to": t.to, "amount": t.amount}),
                    ),
                    Err(_) => Json(json!({"error": "expected JSON {\"to\", \"amount\"}"})),
                }
            }),
        )
        .route(
            "/search",
            get(|Query(q): Query<SearchQuery>| async move {
                Json::<Value>(json!({"q": q.q, "results": []}))
            }),
        )
}

fn layered(tight: bool) -> Result<Router, Box<dyn std::error::Error>> {
    let mut opts = bank::BankOptions::random()?;
    opts.trusted_proxies = vec!["127.0.0.1/32".parse()?];
    let mut rules = bank::risk_rules(&opts)?;
    if !tight {
        // Public requests come from 1,000 addresses: each stays far below
        // its quota. The other routes are one subject at one address,
        // which no quota lets through tens of thousands of times a second.
        let rate =
            RateRules::none().per_client(Sensitivity::Public, Some(Quota::per_minute(60_000)));
        rules = rules.rate(rate);
    }
    let policy = bank::policy_builder(&opts)
        .with_clock(SystemClock)
        .risk(rules)
        .build()?;
    let token =
        policy.issue_access_token(bank::DEMO_USER, "load-session", Duration::from_secs(3600))?;
    println!("token: {token}");
    Ok(bank::app(policy))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut variant = String::from("layered");
    let mut port = 3100u16;
    let mut tight = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--variant" => variant = args.next().ok_or("--variant needs layered or bare")?,
            "--port" => port = args.next().ok_or("--port needs a number")?.parse()?,
            "--tight-quota" => tight = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let app = match variant.as_str() {
        "layered" => layered(tight)?,
        "bare" => bare(),
        other => return Err(format!("unknown variant {other}").into()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        println!("listening on {}", listener.local_addr()?);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await?;
        Ok(())
    })
}
