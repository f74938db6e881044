//! Findings of header values and paths seen lately on this thread.
//!
//! The same client sends the same `User-Agent` (and often the same
//! `Referer`) with every request, an application serves the same few
//! paths, and a browser's User-Agent is one of the most expensive values a
//! request carries (punctuation everywhere). The detector's answer depends
//! only on the bytes, the source and the detector's level (the inspector
//! holds one detector per level and process), so a repeated value can
//! reuse it. The table is small
//! and per thread: no lock, bounded memory (at most [`SLOTS`] values of
//! at most [`MAX_LEN`] bytes), and an entry is only used when its bytes
//! are equal to the value's, so a collision or a flood of fresh values
//! costs a miss, never a wrong answer. Values the process has never seen
//! pay the detector's full price: the speed figures in
//! docs/performance.md are measured on them.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};

use rasp_detect::{Detector, Findings, SourceKind};

/// Entries per thread.
pub(crate) const SLOTS: usize = 256;
/// Longest value kept.
pub(crate) const MAX_LEN: usize = 512;

struct Entry {
    level: u8,
    source: SourceKind,
    value: Box<[u8]>,
    findings: Findings,
}

thread_local! {
    static TABLE: RefCell<Vec<Option<Entry>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
    static HASHER: std::hash::RandomState = std::hash::RandomState::new();
}

/// The detector's findings for `value` from `source`, reused when this
/// thread inspected the same bytes lately.
pub(crate) fn inspect(detector: &Detector, value: &[u8], source: SourceKind) -> Findings {
    if value.len() > MAX_LEN {
        return detector.inspect(value, source);
    }
    let level = detector.level();
    let slot = HASHER.with(|h| {
        let mut hasher = h.build_hasher();
        hasher.write(value);
        hasher.write_u8(level);
        (hasher.finish() as usize) % SLOTS
    });
    let hit = TABLE.with(|t| {
        t.borrow()[slot]
            .as_ref()
            .filter(|e| e.level == level && e.source == source && *e.value == *value)
            .map(|e| e.findings.clone())
    });
    if let Some(f) = hit {
        return f;
    }
    let findings = detector.inspect(value, source);
    TABLE.with(|t| {
        t.borrow_mut()[slot] = Some(Entry {
            level,
            source,
            value: value.into(),
            findings: findings.clone(),
        });
    });
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_values_get_the_same_answer_and_others_their_own() {
        let d = Detector::new(2);
        let ua = b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
        let attack = b"() { :; }; /bin/bash -c 'cat /etc/passwd'";
        for _ in 0..3 {
            assert!(inspect(&d, ua, SourceKind::Header).is_empty());
            let f = inspect(&d, attack, SourceKind::Header);
            assert_eq!(f, d.inspect(attack, SourceKind::Header));
            assert!(f.blocks());
        }
        // The same bytes from another source, or at another level, are
        // judged again.
        let q = b"1' or '1'='1";
        assert_eq!(
            inspect(&d, q, SourceKind::QueryValue),
            d.inspect(q, SourceKind::QueryValue)
        );
        assert_eq!(
            inspect(&d, q, SourceKind::JsonValue),
            d.inspect(q, SourceKind::JsonValue)
        );
        let d4 = Detector::new(4);
        assert_eq!(
            inspect(&d4, q, SourceKind::QueryValue),
            d4.inspect(q, SourceKind::QueryValue)
        );
        // A flood of distinct values never grows the table and never
        // answers for a value it did not see.
        for i in 0..(SLOTS * 4) {
            let v = format!("<script>alert({i})</script>");
            assert!(inspect(&d, v.as_bytes(), SourceKind::Header).blocks());
        }
        TABLE.with(|t| assert_eq!(t.borrow().len(), SLOTS));
        assert!(inspect(&d, ua, SourceKind::Header).is_empty());
        // Long values are not kept.
        let long = vec![b'a'; MAX_LEN + 1];
        assert!(inspect(&d, &long, SourceKind::Header).is_empty());
    }
}
