//! The TOML policy loader on arbitrary documents: an error or a policy,
//! never a panic. `cargo +nightly fuzz run policy_toml`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rasp_stepup::{Policy, Sensitivity, TokenConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = std::str::from_utf8(data) else {
        return;
    };
    let builder = Policy::builder()
        .route("POST", "/transfer", Sensitivity::High)
        .tokens(TokenConfig::ed25519_from_seed([7; 32]).issuer("fuzz").audience("fuzz"));
    if let Ok(b) = builder.toml(doc) {
        let _ = b.build();
    }
});
