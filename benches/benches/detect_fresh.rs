//! Detection speed on values the process has never seen.
//!
//! `cargo bench -p rasp-bench --bench detect_fresh` (needs
//! `../shared/corpus` beside the repository). One fresh process:
//!
//! - 100,000 distinct values built from the corpus (benign form values and
//!   traffic with 3 % attacks; then attacks only), each value made unique by
//!   a random number so that nothing repeats within the run: values/s and
//!   MB/s on the first pass (cold caches) and on a second pass over new
//!   values built the same way (steady state);
//! - hostile shapes generated fresh from a seed taken from the clock:
//!   per-value worst case and MB/s.
//!
//! Every value goes through `Detector::inspect` as a query value, as the
//! layer calls it.

#![allow(clippy::disallowed_methods)] // a benchmark reads the real clocks

use std::hint::black_box;
use std::time::{Duration, Instant};

use rasp_bench::Rng;
use rasp_detect::{Detector, SourceKind};

/// Payloads of the corpus: (benign form values and traffic, attacks).
fn corpus() -> (Vec<String>, Vec<String>) {
    let read = rasp_bench::corpus_records;
    let text = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or_default().to_owned();
    let benign = read("benign.jsonl")
        .iter()
        .filter(|r| matches!(r["subset"].as_str(), Some("form-values" | "traffic")))
        .map(|r| text(r, "payload"))
        .collect();
    let attacks = read("attacks.jsonl")
        .iter()
        .filter(|r| r["location"].as_str() != Some("raw"))
        .map(|r| text(r, "payload"))
        .collect();
    (benign, attacks)
}

/// `n` distinct values: a corpus value and a fresh number, as a form
/// field or query parameter would carry an id or a page next to its text.
fn distinct(
    rng: &mut Rng,
    benign: &[String],
    attacks: &[String],
    attack_share: f64,
    n: usize,
) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let attack = (rng.below(10_000) as f64) < attack_share * 10_000.0;
            let base = if attack {
                &attacks[rng.below(attacks.len())]
            } else {
                &benign[rng.below(benign.len())]
            };
            format!("{base} {}", rng.next_u64() % 1_000_000_000).into_bytes()
        })
        .collect()
}

fn pass(d: &Detector, values: &[Vec<u8>]) -> (Duration, usize) {
    let bytes = values.iter().map(Vec::len).sum();
    let t = Instant::now();
    for v in values {
        black_box(d.inspect(black_box(v), SourceKind::QueryValue));
    }
    (t.elapsed(), bytes)
}

fn report(label: &str, n: usize, (time, bytes): (Duration, usize)) {
    let secs = time.as_secs_f64();
    println!(
        "{label:<44} {:>12.0} values/s {:>9.1} MB/s",
        n as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

fn printable(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| 0x20 + rng.below(95) as u8).collect()
}

/// `unit` repeated to about `n` bytes, each copy followed by 0–2 random
/// letters so that no two runs are alike.
fn run_of(rng: &mut Rng, unit: &str, n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 16);
    while v.len() < n {
        v.extend_from_slice(unit.as_bytes());
        for _ in 0..rng.below(3) {
            v.push(b'a' + rng.below(26) as u8);
        }
    }
    v
}

fn hostile(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    let cjk: String = (0..20_000)
        .map(|_| char::from_u32(0x4e00 + rng.below(0x5000) as u32).unwrap_or('中'))
        .collect();
    let accents: String = (0..30_000)
        .map(|_| ['é', 'ü', 'ñ', 'ø'][rng.below(4)])
        .collect();
    let mut token = Vec::with_capacity(1 << 20);
    while token.len() < 1 << 20 {
        token.push(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.below(36)]);
    }
    vec![
        ("random printable 4 KiB", printable(rng, 4 << 10)),
        ("random printable 64 KiB", printable(rng, 64 << 10)),
        ("runs of `<a ` (64 KiB)", run_of(rng, "<a ", 64 << 10)),
        ("runs of `'` (64 KiB)", run_of(rng, "'", 64 << 10)),
        ("runs of `/*` (64 KiB)", run_of(rng, "/*", 64 << 10)),
        (
            "runs of `union select ` (64 KiB)",
            run_of(rng, "union select ", 64 << 10),
        ),
        (
            "runs of `%2e%2e%2f` (64 KiB)",
            run_of(rng, "%2e%2e%2f", 64 << 10),
        ),
        (
            "nested encodings (64 KiB)",
            run_of(rng, "%25252525252e", 64 << 10),
        ),
        ("runs of `&` (64 KiB)", run_of(rng, "&", 64 << 10)),
        ("runs of newlines (64 KiB)", run_of(rng, "\n", 64 << 10)),
        ("runs of `\\` (64 KiB)", run_of(rng, "\\", 64 << 10)),
        ("`é` runs (60 KB)", accents.into_bytes()),
        ("CJK text (60 KB)", cjk.into_bytes()),
        ("one 1 MiB token", token),
    ]
}

/// Resident and peak resident memory of this process, in MB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

fn main() {
    // criterion passes `--bench`; nothing else is read
    let mut rng = Rng::from_clock();
    let (benign, attacks) = corpus();
    let first = distinct(&mut rng, &benign, &attacks, 0.03, 100_000);
    let (before, _) = memory();
    let t = Instant::now();
    let d = Detector::new(2);
    println!(
        "detector built in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    const N: usize = 100_000;

    report(
        "benign-heavy (3 % attacks), first pass",
        N,
        pass(&d, &first),
    );
    // each set is dropped before the next is built: the memory figure
    // below is the detector's, not the values'
    drop(first);
    let steady = distinct(&mut rng, &benign, &attacks, 0.03, N);
    report(
        "benign-heavy (3 % attacks), steady state",
        N,
        pass(&d, &steady),
    );
    drop(steady);
    let first = distinct(&mut rng, &benign, &attacks, 1.0, N);
    report("attacks only, first pass", N, pass(&d, &first));
    drop(first);
    let steady = distinct(&mut rng, &benign, &attacks, 1.0, N);
    report("attacks only, steady state", N, pass(&d, &steady));
    drop(steady);

    println!(
        "\n{:<44} {:>12} {:>12} {:>9}",
        "hostile shape (fresh each run)", "first", "worst of 5", "MB/s"
    );
    // five rounds of fresh values of every shape; the first in cold caches
    let mut rows: Vec<(&str, Vec<Duration>, usize)> = Vec::new();
    for round in 0..5 {
        for (i, (label, v)) in hostile(&mut rng).into_iter().enumerate() {
            let t = Instant::now();
            black_box(d.inspect(black_box(&v), SourceKind::QueryValue));
            let e = t.elapsed();
            if round == 0 {
                rows.push((label, Vec::new(), 0));
            }
            rows[i].1.push(e);
            rows[i].2 += v.len();
        }
    }
    let slowest = rows
        .iter()
        .filter(|(label, _, _)| !label.contains("MiB"))
        .flat_map(|(label, times, _)| times.iter().map(move |t| (*t, *label)))
        .max();
    for (label, times, bytes) in rows {
        let total: Duration = times.iter().sum();
        let worst = times.iter().max().copied().unwrap_or_default();
        println!(
            "{label:<44} {:>9.0} µs {:>9.0} µs {:>9.1}",
            times[0].as_secs_f64() * 1e6,
            worst.as_secs_f64() * 1e6,
            bytes as f64 / total.as_secs_f64() / 1e6
        );
    }
    let (now, peak) = memory();
    println!(
        "\nresident memory: {before:.1} MB with the corpus and the first values loaded, \
         {now:.1} MB at the end, peak {peak:.1} MB: the detector and its caches \
         (one thread) add at most {:.1} MB",
        peak - before
    );
    if let Some((t, label)) = slowest {
        println!(
            "\nslowest value of at most 64 KiB: {:.0} µs ({label})",
            t.as_secs_f64() * 1e6
        );
    }
}
