//! `rasp`: evaluate injection detection on corpora through the real layer.
//!
//! ```text
//! rasp eval [--attacks FILE] [--benign FILE] [--policy FILE] [--json] [--missed]
//! rasp check [--level N] [--source KIND] VALUE...
//! rasp build-sets [--out DIR] [--man-step N] [--user-agents FILE]...
//! rasp sink --jsonl FILE [--user-agents FILE]...
//! ```

use std::fs::File;
use std::io::BufReader;
use std::process::ExitCode;

const USAGE: &str =
    "usage: rasp eval [--attacks FILE] [--benign FILE] [--policy FILE] [--json] [--missed]
       rasp check [--level N] [--source KIND] VALUE...
       rasp build-sets [--out DIR] [--man-step N] [--user-agents FILE]...
       rasp sink --jsonl FILE";

struct Args {
    attacks: Option<String>,
    benign: Option<String>,
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
    if attacks.is_none() && benign.is_none() {
        return Err(USAGE.into());
    }
    Ok(Args {
        attacks,
        benign,
        policy,
        json,
        missed,
    })
}

/// `rasp check [--level N] [--source KIND] VALUE...`: the findings for
/// each value (as a query parameter, or from `KIND`: `path`, `header`,
/// `cookie`, `json` (free text), `form`, `xml`...), for tuning rules and
/// exclusions.
fn check(mut args: impl Iterator<Item = String>) -> ExitCode {
    let mut level = 2;
    let mut source = rasp_detect::SourceKind::QueryValue;
    let mut values = Vec::new();
    while let Some(a) = args.next() {
        if a == "--level" {
            level = args.next().and_then(|v| v.parse().ok()).unwrap_or(2);
        } else if a == "--source" {
            use rasp_detect::SourceKind as K;
            source = match args.next().as_deref() {
                Some("path") => K::Path,
                Some("header") => K::Header,
                Some("cookie") => K::Cookie,
                Some("json") => K::JsonValue,
                Some("form") => K::FormValue,
                Some("xml") => K::Xml,
                Some("multipart") => K::MultipartField,
                Some("query") => K::QueryValue,
                other => {
                    eprintln!("unknown source {other:?}");
                    return ExitCode::from(2);
                }
            };
        } else {
            values.push(a);
        }
    }
    let d = rasp_detect::Detector::new(level);
    for v in values {
        let f = d.inspect(v.as_bytes(), source);
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

/// `rasp build-sets [--out DIR] [--man-step N] [--user-agents FILE]...`: the benign sets of this
/// machine's documentation (see `rasp_cli::sets`).
fn build_sets(mut args: impl Iterator<Item = String>) -> ExitCode {
    let (mut out, mut step) = (String::from("target/own-sets"), 20usize);
    let mut agents = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().unwrap_or(out),
            "--user-agents" => agents.extend(args.next().map(std::path::PathBuf::from)),
            "--man-step" => step = args.next().and_then(|v| v.parse().ok()).unwrap_or(step),
            _ => {
                eprintln!("unknown argument {a:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match rasp_cli::sets::build(std::path::Path::new(&out), step, &agents) {
        Ok((tune, held)) => {
            println!(
                "{out}/tune.jsonl: {tune} paragraphs; {out}/heldout.jsonl: {held} (each sent as a JSON comment and as a form field)"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rasp: {out}: {e}");
            ExitCode::from(2)
        }
    }
}

/// `rasp sink --jsonl FILE`: one verdict line per sink call (see
/// `rasp_cli::sink` and docs/sinks.md); `-` reads standard input.
fn sink(mut args: impl Iterator<Item = String>) -> ExitCode {
    use std::io::{BufRead as _, Write as _};
    let file = match (args.next().as_deref(), args.next()) {
        (Some("--jsonl"), Some(f)) => f,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let reader: Box<dyn std::io::BufRead> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match File::open(&file) {
            Ok(f) => Box::new(BufReader::new(f)),
            Err(e) => {
                eprintln!("rasp: {file}: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in reader.lines() {
        let Ok(line) = line else {
            eprintln!("rasp: {file}: unreadable line");
            return ExitCode::from(2);
        };
        if line.trim().is_empty() {
            continue;
        }
        if writeln!(out, "{}", rasp_cli::sink::judge_line(&line)).is_err() {
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let mut raw = std::env::args().skip(1);
    match raw.next().as_deref() {
        Some("check") => return check(raw),
        Some("build-sets") => return build_sets(raw),
        Some("sink") => return sink(raw),
        _ => {}
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
        let read = |p: &Option<String>| -> Result<Box<dyn std::io::BufRead>, String> {
            match p {
                Some(p) => Ok(Box::new(open(p)?)),
                None => Ok(Box::new(std::io::empty())),
            }
        };
        let (attacks, benign) = (read(&args.attacks)?, read(&args.benign)?);
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
