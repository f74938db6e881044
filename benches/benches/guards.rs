//! Sink guards on arguments the process has never seen.
//!
//! `cargo bench -p rasp-bench --bench guards`: one fresh process; for each
//! sink, 100,000 distinct calls built from a clock seed (each statement,
//! path, URL or argv carries fresh random words, and 20 request inputs of
//! which one is in the argument, kept in one buffer per call as the layer
//! keeps a request's inputs), first pass and a second pass over new calls;
//! nanoseconds per call, collecting the inputs' slices included. Targets (issue: sink guards): SQL on a
//! 200-byte statement with 20 inputs ≤ 5 µs; path, URL, exec ≤ 1 µs.

#![allow(clippy::disallowed_methods)] // a benchmark reads the real clocks

use std::hint::black_box;
use std::time::Instant;

use rasp_bench::Rng;
use rasp_guard::{Dialect, Platform};

/// A request's inputs as the layer keeps them (`rasp_stepup::sink`): one
/// buffer and the end of each value.
struct Inputs {
    text: String,
    ends: Vec<usize>,
}

impl Inputs {
    /// The values, as the layer's guards collect them for each call.
    fn values(&self) -> Vec<&str> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&e| {
                let v = &self.text[start..e];
                start = e;
                v
            })
            .collect()
    }
}

/// 20 inputs: 19 unrelated values and `used`.
fn inputs(rng: &mut Rng, used: String) -> Inputs {
    let mut text = String::new();
    let mut ends = Vec::with_capacity(20);
    for i in 0..19 {
        text.push_str(&format!("{}{i}", rng.word(8)));
        ends.push(text.len());
    }
    text.push_str(&used);
    ends.push(text.len());
    Inputs { text, ends }
}

fn run(label: &str, calls: &[(String, Inputs)], f: impl Fn(&str, &[&str]) -> bool) {
    let t = Instant::now();
    let mut refused = 0;
    for (arg, ins) in calls {
        let ins = ins.values();
        refused += usize::from(black_box(f(black_box(arg), &ins)));
    }
    let ns = t.elapsed().as_nanos() as f64 / calls.len() as f64;
    let bytes = calls.iter().map(|(a, _)| a.len()).sum::<usize>() / calls.len();
    println!("{label:<44} {ns:>9.0} ns/call  ({bytes} bytes average, {refused} refused)");
}

fn main() {
    let mut rng = Rng::from_clock();
    const N: usize = 100_000;
    for pass in ["first pass", "second pass"] {
        let sql: Vec<_> = (0..N)
            .map(|i| {
                let name = rng.word(12);
                let attack = i % 10 == 0;
                let value = if attack { format!("{name}' OR '1'='1") } else { name };
                let stmt = format!(
                    "SELECT id, owner, amount, currency, created_at, memo FROM transfers WHERE owner = '{value}' AND status = 'sent' AND amount > {} ORDER BY created_at DESC LIMIT 50",
                    rng.next_u64() % 10_000
                );
                (stmt, inputs(&mut rng, value))
            })
            .collect();
        run(&format!("sql (PostgreSQL), {pass}"), &sql, |s, i| {
            rasp_guard::sql(s, Dialect::PostgreSql, i).is_err()
        });
        let paths: Vec<_> = (0..N)
            .map(|i| {
                let f = if i % 10 == 0 {
                    "../../etc/passwd".to_owned()
                } else {
                    format!("{}.csv", rng.word(10))
                };
                (
                    format!("/srv/data/exports/{}/{f}", rng.word(6)),
                    inputs(&mut rng, f),
                )
            })
            .collect();
        run(&format!("path (Unix), {pass}"), &paths, |s, i| {
            rasp_guard::path(s, Platform::Unix, i).is_err()
        });
        let urls: Vec<_> = (0..N)
            .map(|i| {
                let u = if i % 10 == 0 {
                    "http://169.254.169.254/latest/meta-data/".to_owned()
                } else {
                    format!("https://hooks.{}.example/{}", rng.word(8), rng.word(10))
                };
                (u.clone(), inputs(&mut rng, u))
            })
            .collect();
        run(&format!("url, {pass}"), &urls, |s, i| {
            rasp_guard::url(s, i).is_err()
        });
        let cmds: Vec<_> = (0..N)
            .map(|i| {
                let host = if i % 10 == 0 {
                    "x; id".to_owned()
                } else {
                    format!("{}.example", rng.word(8))
                };
                (format!("ping -c 1 -W 2 {host}"), inputs(&mut rng, host))
            })
            .collect();
        run(&format!("shell, {pass}"), &cmds, |s, i| {
            rasp_guard::shell(s, i).is_err()
        });
        run(&format!("exec (argv of 5), {pass}"), &cmds, |s, i| {
            let argv: Vec<&str> = s.splitn(5, ' ').collect();
            rasp_guard::exec(&argv, i).is_err()
        });
    }
}
