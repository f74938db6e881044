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

/// A xorshift generator seeded from the clock: every benchmark run draws
/// values the process has never seen.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from the system clock.
    #[must_use]
    #[allow(clippy::disallowed_methods)] // a benchmark's seed is the real clock
    pub fn from_clock() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Self(seed | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `n` random lowercase letters.
    pub fn word(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }
}
