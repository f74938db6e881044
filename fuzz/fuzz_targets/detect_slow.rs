//! Hunts inputs that are slow (or panic) in `Detector::inspect` and the
//! decoders. The first byte picks the source kind; the rest is the value.
//!
//! `cargo +nightly fuzz run detect_slow -- -max_len=65536 -timeout=2
//! -report_slow_units=1` (see docs/performance.md). Besides libFuzzer's
//! own slow-unit reports, each input of 256 bytes or more is timed here and
//! the slowest so far, in milliseconds per MiB, is printed with its length
//! (`slowest per MiB: …`) and written to
//! `artifacts/detect_slow/slowest-per-mib`, so that a long run ends with the
//! worst cost per byte it found, not only the worst absolute time.

#![no_main]

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rasp_detect::{Detector, SourceKind, normalize, sql_fold};

const KINDS: [SourceKind; 12] = SourceKind::ALL;

static DETECTOR: OnceLock<Detector> = OnceLock::new();
static WORST: Mutex<f64> = Mutex::new(0.0);

fuzz_target!(|data: &[u8]| {
    // Level 4 runs every rule.
    let detector = DETECTOR.get_or_init(|| Detector::new(4));
    let Some((&k, value)) = data.split_first() else {
        return;
    };
    let kind = KINDS[usize::from(k) % KINDS.len()];
    let start = Instant::now();
    let findings = detector.inspect(value, kind);
    let (decoded, _) = normalize(value, k & 0x80 != 0);
    let folded = sql_fold(&decoded);
    let elapsed = start.elapsed();
    std::hint::black_box((findings, folded));
    if value.len() >= 256 {
        let ms_per_mib = elapsed.as_secs_f64() * 1e3 * (1 << 20) as f64 / value.len() as f64;
        if let Ok(mut worst) = WORST.lock()
            && ms_per_mib > *worst
        {
            *worst = ms_per_mib;
            eprintln!(
                "slowest per MiB: {ms_per_mib:.1} ms/MiB ({} bytes, {:?}, {:?})",
                value.len(),
                elapsed,
                kind
            );
            // kept for replaying outside the fuzzer
            let _ = std::fs::create_dir_all("artifacts/detect_slow");
            let _ = std::fs::write("artifacts/detect_slow/slowest-per-mib", data);
        }
    }
});
