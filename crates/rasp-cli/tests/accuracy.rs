//! Detection and false-positive rates on `../shared/corpus`, through the
//! real layer, against the targets. Where a target is not reached yet, the
//! floor is the measured value, so any regression fails (see
//! docs/detection.md for the gaps).

use std::fs::File;
use std::io::BufReader;

fn corpus(name: &str) -> BufReader<File> {
    let path = format!(
        "{}/../../../shared/corpus/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    BufReader::new(
        File::open(&path)
            .unwrap_or_else(|e| panic!("{path}: {e} (the corpus must be beside the repository)")),
    )
}

/// (class, target detection %, floor %): the floor is the target where it
/// is reached, else the measured value.
const DETECTION: &[(&str, f64, f64)] = &[
    ("sqli", 99.0, 97.0),
    ("xss", 99.0, 97.4),
    ("traversal", 97.0, 97.0),
    ("cmdi", 97.0, 91.8),
    ("ssrf", 95.0, 95.0),
    ("ssti", 95.0, 95.0),
    ("xxe", 95.0, 95.0),
    ("nosqli", 95.0, 95.0),
    ("ldapi", 95.0, 95.0),
    ("crlf", 95.0, 95.0),
    ("jndi", 95.0, 95.0),
    ("shellshock", 95.0, 95.0),
];

/// (subset, maximum false-positive %): all targets are met.
const FALSE_POSITIVES: &[(&str, f64)] = &[
    ("traffic", 0.1),
    ("form-values", 0.1),
    ("text", 0.5),
    ("tricky", 0.5),
    ("fp-regression", 5.0),
];

#[test]
fn detection_and_false_positives_hold_their_floors() {
    let policy = rasp_cli::default_policy(None).expect("policy");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let report = rt.block_on(rasp_cli::evaluate(
        &policy,
        corpus("attacks.jsonl"),
        corpus("benign.jsonl"),
    ));
    println!("{}", report.to_table());
    assert_eq!(report.malformed, 0);
    let mut failures = Vec::new();
    for (class, target, floor) in DETECTION {
        let c = report.by_class.get(*class).copied().unwrap_or_default();
        let rate = 100.0 * c.rate();
        assert!(c.total > 0, "no {class} records");
        if rate + 1e-9 < *floor {
            failures.push(format!(
                "{class}: {rate:.2}% detected, floor {floor}% (target {target}%)"
            ));
        }
    }
    for (subset, max) in FALSE_POSITIVES {
        let c = report.by_subset.get(*subset).copied().unwrap_or_default();
        let rate = 100.0 * c.rate();
        assert!(c.total > 0, "no {subset} records");
        if rate > *max {
            failures.push(format!(
                "{subset}: {rate:.3}% false positives, ceiling {max}%"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
