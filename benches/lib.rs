//! Shared fixtures of the rasp-stepup benchmarks.

use axum::body::Body;
use http::Request;
use rasp_stepup::risk::RateRules;
use rasp_stepup::{InspectionRules, Policy, RiskRules, Sensitivity, TokenConfig};

/// A public-route policy with rate quotas off (a benchmark's clock stands
/// still), with or without request inspection.
#[must_use]
pub fn inspection_policy(inspect: bool) -> Policy {
    let mut b = Policy::builder()
        .default_sensitivity(Sensitivity::Public)
        .tokens(
            TokenConfig::ed25519_from_seed([3; 32])
                .issuer("b")
                .audience("a"),
        )
        .risk(RiskRules::default().rate(RateRules::none()));
    if !inspect {
        b = b.inspection(InspectionRules::insecure_disabled());
    }
    b.build().expect("policy")
}

/// A clean browser GET with 5 query parameters and typical headers.
#[must_use]
pub fn clean_get() -> Request<Body> {
    Request::get("/products?q=blue+shoes&size=42&color=navy&page=2&sort=price_asc")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        )
        .header("referer", "https://shop.example.com/products?q=shoes")
        .header("accept", "text/html,application/xhtml+xml")
        .header("accept-language", "en-GB,en;q=0.9")
        .body(Body::empty())
        .expect("request")
}

/// The records of `../shared/corpus/{name}` (JSON Lines), beside the
/// repository. Panics with the path when the file is missing: the
/// benchmarks that read the corpus need it.
#[must_use]
pub fn corpus_records(name: &str) -> Vec<serde_json::Value> {
    use std::io::BufRead;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(name);
    let file =
        std::fs::File::open(&path).unwrap_or_else(|e| panic!("{} is needed: {e}", path.display()));
    std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}
