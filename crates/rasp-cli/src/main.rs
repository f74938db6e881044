//! `rasp`: evaluate injection detection on corpora through the real layer.
//!
//! ```text
//! rasp eval --attacks FILE --benign FILE [--policy FILE] [--json] [--missed]
//! ```

use std::fs::File;
use std::io::BufReader;
use std::process::ExitCode;

const USAGE: &str =
    "usage: rasp eval --attacks FILE --benign FILE [--policy FILE] [--json] [--missed]";

struct Args {
    attacks: String,
    benign: String,
    policy: Option<String>,
    json: bool,
    missed: bool,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    if it.next().as_deref() != Some("eval") {
        return Err(USAGE.into());
    }
    let (mut attacks, mut benign, mut policy, mut json, mut missed) =
        (None, None, None, false, false);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--attacks" => attacks = it.next(),
            "--benign" => benign = it.next(),
            "--policy" => policy = it.next(),
            "--json" => json = true,
            "--missed" => missed = true,
            _ => return Err(format!("unknown argument {a:?}\n{USAGE}")),
        }
    }
    Ok(Args {
        attacks: attacks.ok_or(USAGE)?,
        benign: benign.ok_or(USAGE)?,
        policy,
        json,
        missed,
    })
}

/// `rasp check [--level N] VALUE...`: the findings for each value (as a
/// query parameter), for tuning rules and exclusions.
fn check(mut args: impl Iterator<Item = String>) -> ExitCode {
    let mut level = 2;
    let mut values = Vec::new();
    while let Some(a) = args.next() {
        if a == "--level" {
            level = args.next().and_then(|v| v.parse().ok()).unwrap_or(2);
        } else {
            values.push(a);
        }
    }
    let d = rasp_detect::Detector::new(level);
    for v in values {
        let f = d.inspect(v.as_bytes(), rasp_detect::SourceKind::QueryValue);
        println!(
            "{v:?}: {}",
            if f.blocks() {
                "BLOCK"
            } else if f.is_empty() {
                "pass"
            } else {
                "suspect"
            }
        );
        for x in &f {
            println!(
                "  {} {} {:?} severity {} {:?}",
                x.class, x.rule, x.confidence, x.severity, x.excerpt
            );
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let mut raw = std::env::args().skip(1);
    if raw.next().as_deref() == Some("check") {
        return check(raw);
    }
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let open = |p: &str| {
        File::open(p)
            .map(BufReader::new)
            .map_err(|e| format!("{p}: {e}"))
    };
    let run = || -> Result<rasp_cli::Report, String> {
        let toml = match &args.policy {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?),
            None => None,
        };
        let policy = rasp_cli::default_policy(toml.as_deref()).map_err(|e| e.to_string())?;
        let (attacks, benign) = (open(&args.attacks)?, open(&args.benign)?);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(rt.block_on(rasp_cli::evaluate(&policy, attacks, benign)))
    };
    match run() {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_table());
            }
            if args.missed {
                for (class, ids) in &report.missed {
                    eprintln!("missed {class}: {}", ids.join(" "));
                }
                for (subset, ids) in &report.false_positives {
                    eprintln!("false positives {subset}: {}", ids.join(" "));
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rasp: {e}");
            ExitCode::from(2)
        }
    }
}
