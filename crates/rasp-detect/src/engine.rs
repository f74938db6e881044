//! The pattern engine: every rule is its own lazy DFA, started only where
//! a match can begin.
//!
//! A set of ~130 patterns in one automaton looks cheap on a warm benchmark
//! and collapses on values it has never seen: the combined lazy DFA meets a
//! new state at almost every byte of varied text, clears its cache and falls
//! back to a slower engine (random printable text ran at 0.1 MB/s that way).
//! Here each rule is compiled alone, and the engine works out from the
//! pattern's syntax the set of literal prefixes any match must begin with
//! (`union`, `<`, `' `, "at the start of the value"...). One Aho-Corasick
//! pass over the value finds every such prefix for every rule at once; the
//! rule's DFA then runs *anchored* from each place found and stops at its
//! dead state, usually a few bytes later. The answer is exactly the
//! pattern's: a match that starts at `s` starts with one of its prefixes at
//! `s`, and the anchored run sees the same look-behind and look-ahead context
//! as an unanchored search would.
//!
//! Cost is linear in the value: a rule whose anchored runs overlap (a
//! prefix every few bytes and a pattern that lives long after it) has its
//! anchored work capped at a small multiple of the value's length, after
//! which one unanchored pass from the current position answers for the rest.
//! Rules whose matches can begin almost anywhere (no prefix set) take one
//! unanchored pass. Lazy DFA caches are per thread (a pool), bounded per
//! rule, and never give up: a cache that fills is cleared and refilled, so
//! the worst case is a slower constant, not another algorithm.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind as AcMatchKind};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::pool::Pool;
use regex_automata::{Anchored, Input, MatchKind};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// Longest prefix kept: longer ones select no better.
const MAX_PREFIX: usize = 8;
/// Most prefixes per rule before the analysis stops extending them.
const MAX_SET: usize = 256;
/// Largest byte class that still counts as a set of one-byte prefixes.
const MAX_CLASS: usize = 16;
/// Lazy DFA cache per rule and thread.
const CACHE_BYTES: usize = 128 * 1024;

/// A literal every match of a rule may begin with.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Prefix {
    /// The match must begin at offset 0 (`^`).
    start: bool,
    bytes: Vec<u8>,
    /// The node matched exactly `bytes` along this path, so what follows it
    /// in a concatenation extends the prefix.
    open: bool,
}

impl Prefix {
    fn empty() -> Self {
        Self {
            start: false,
            bytes: Vec::new(),
            open: true,
        }
    }

    fn closed(mut self) -> Self {
        self.open = false;
        self
    }
}

fn class_bytes(c: &Class) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match c {
        Class::Bytes(b) => {
            for r in b.iter() {
                if out.len() + usize::from(r.end() - r.start()) >= MAX_CLASS {
                    return None;
                }
                out.extend(r.start()..=r.end());
            }
        }
        Class::Unicode(u) => {
            for r in u.iter() {
                let (s, e) = (u32::from(r.start()), u32::from(r.end()));
                if e >= 0x80 || out.len() + (e - s) as usize >= MAX_CLASS {
                    return None;
                }
                out.extend((s..=e).map(|c| c as u8));
            }
        }
    }
    Some(out)
}

/// `a` followed by `b`.
fn concat2(a: Vec<Prefix>, b: Option<&[Prefix]>) -> Vec<Prefix> {
    let Some(b) = b else {
        return a.into_iter().map(Prefix::closed).collect();
    };
    let open = a.iter().filter(|p| p.open).count();
    if open * b.len() + a.len() > MAX_SET {
        return a.into_iter().map(Prefix::closed).collect();
    }
    let mut out = Vec::with_capacity(a.len() + open * b.len());
    for p in a {
        if !p.open {
            out.push(p);
            continue;
        }
        for q in b {
            // `^` after bytes were consumed cannot match
            if q.start && !p.bytes.is_empty() {
                continue;
            }
            let mut bytes = p.bytes.clone();
            bytes.extend_from_slice(&q.bytes);
            let cut = bytes.len() > MAX_PREFIX;
            bytes.truncate(MAX_PREFIX);
            out.push(Prefix {
                start: p.start || q.start,
                bytes,
                open: q.open && !cut,
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The prefixes every match of `h` begins with, `None` when a match can
/// begin with too many different bytes.
fn first(h: &Hir) -> Option<Vec<Prefix>> {
    Some(match h.kind() {
        HirKind::Empty => vec![Prefix::empty()],
        HirKind::Literal(l) => {
            let cut = l.0.len() > MAX_PREFIX;
            vec![Prefix {
                start: false,
                bytes: l.0[..l.0.len().min(MAX_PREFIX)].to_vec(),
                open: !cut,
            }]
        }
        HirKind::Class(c) => class_bytes(c)?
            .into_iter()
            .map(|b| Prefix {
                start: false,
                bytes: vec![b],
                open: true,
            })
            .collect(),
        HirKind::Look(Look::Start) => vec![Prefix {
            start: true,
            bytes: Vec::new(),
            open: true,
        }],
        // other assertions consume nothing; the DFA checks them
        HirKind::Look(_) => vec![Prefix::empty()],
        HirKind::Capture(c) => first(&c.sub)?,
        HirKind::Alternation(alts) => {
            let mut out = Vec::new();
            for a in alts {
                out.extend(first(a)?);
            }
            out.sort();
            out.dedup();
            out
        }
        HirKind::Repetition(r) => {
            let sub = first(&r.sub)?;
            match (r.min, r.max) {
                (0, Some(1)) => {
                    let mut s = sub;
                    s.push(Prefix::empty());
                    s
                }
                (0, _) => {
                    let mut s: Vec<Prefix> = sub.into_iter().map(Prefix::closed).collect();
                    s.push(Prefix::empty());
                    s
                }
                (m, Some(n)) if m == n && m <= 4 => {
                    let mut acc = vec![Prefix::empty()];
                    for _ in 0..m {
                        acc = concat2(acc, Some(&sub));
                    }
                    acc
                }
                _ => sub.into_iter().map(Prefix::closed).collect(),
            }
        }
        HirKind::Concat(children) => {
            let mut acc = vec![Prefix::empty()];
            for c in children {
                if acc.iter().all(|p| !p.open) {
                    break;
                }
                let f = first(c);
                acc = concat2(acc, f.as_deref());
            }
            acc
        }
    })
}

/// Where a rule's matches can begin.
#[derive(Debug, PartialEq, Eq)]
struct Anchors {
    /// At these literals.
    literals: Vec<Vec<u8>>,
    /// At offset 0, whatever the bytes.
    at_start: bool,
}

/// Where a rule's matches can begin; `None` when nearly anywhere.
fn anchors(h: &Hir) -> Option<Anchors> {
    let set = first(h)?;
    let mut lits = Vec::new();
    let mut at_start = false;
    for p in set {
        match (p.bytes.is_empty(), p.start) {
            (true, false) => return None,
            // one anchored run at offset 0 answers for every literal that
            // must be there
            (_, true) => at_start = true,
            (false, false) => lits.push(p.bytes),
        }
    }
    // A literal that begins with a shorter one of the same rule adds
    // nothing: wherever it is found, the shorter one is too.
    lits.sort();
    let mut literals: Vec<Vec<u8>> = Vec::with_capacity(lits.len());
    for bytes in lits {
        if !literals.iter().any(|k| bytes.starts_with(k)) {
            literals.push(bytes);
        }
    }
    Some(Anchors { literals, at_start })
}

/// One compiled pattern.
pub(crate) struct Pattern {
    dfa: DFA,
    anchors: Option<Anchors>,
}

/// Compiles a pattern (Unicode off, bytes). Panics on an invalid pattern:
/// the patterns are the built-in rules, checked by the test suite.
pub(crate) fn compile(pattern: &str) -> Pattern {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .expect("the built-in rules parse");
    let nfa = thompson::Compiler::new()
        .configure(thompson::Config::new().utf8(false).shrink(true))
        .build_from_hir(&hir)
        .expect("the built-in rules compile");
    let mut capacity = CACHE_BYTES;
    let dfa = loop {
        let built = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(capacity)
                    // never switch engines: clear and refill instead
                    .minimum_cache_clear_count(None),
            )
            .build_from_nfa(nfa.clone());
        match built {
            Ok(d) => break d,
            Err(_) if capacity < 64 << 20 => capacity *= 2,
            Err(e) => panic!("a built-in rule does not fit a lazy DFA: {e}"),
        }
    };
    Pattern {
        dfa,
        anchors: anchors(&hir),
    }
}

/// A group of patterns searched together over one value.
pub(crate) struct Group {
    /// Indices into the pattern list.
    members: Vec<usize>,
    /// Every anchor literal of every member.
    literals: Option<AhoCorasick>,
    /// Per literal: the member positions it anchors.
    owners: Vec<Vec<usize>>,
    /// Members anchored at offset 0 whatever the bytes.
    at_start: Vec<usize>,
    /// Members searched unanchored.
    unanchored: Vec<usize>,
}

/// Per-thread search state.
pub(crate) struct Scratch {
    caches: Vec<Cache>,
    /// Per pattern: anchored bytes stepped in this search.
    steps: Vec<usize>,
    /// Per pattern: answered for this search.
    done: Vec<bool>,
    /// Per pattern: last anchored start tried.
    last: Vec<usize>,
}

type ScratchPool = Pool<
    Scratch,
    Box<dyn Fn() -> Scratch + Send + Sync + std::panic::RefUnwindSafe + std::panic::UnwindSafe>,
>;

/// All patterns, and the per-thread caches they search with.
pub(crate) struct Patterns {
    patterns: std::sync::Arc<Vec<Pattern>>,
    pool: ScratchPool,
}

impl Patterns {
    pub(crate) fn new(patterns: Vec<Pattern>) -> Self {
        let patterns = std::sync::Arc::new(patterns);
        let for_pool = std::sync::Arc::clone(&patterns);
        let pool: ScratchPool = Pool::new(Box::new(move || Scratch {
            caches: for_pool.iter().map(|p| p.dfa.create_cache()).collect(),
            steps: vec![0; for_pool.len()],
            done: vec![false; for_pool.len()],
            last: vec![usize::MAX; for_pool.len()],
        }));
        Self { patterns, pool }
    }

    pub(crate) fn group(&self, members: Vec<usize>) -> Group {
        let mut lits: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let (mut at_start, mut unanchored) = (Vec::new(), Vec::new());
        for (pos, &m) in members.iter().enumerate() {
            match &self.patterns[m].anchors {
                None => unanchored.push(pos),
                Some(a) => {
                    if a.at_start {
                        at_start.push(pos);
                    }
                    for bytes in &a.literals {
                        let id = match lits.iter().position(|l| l == bytes) {
                            Some(id) => id,
                            None => {
                                lits.push(bytes.clone());
                                owners.push(Vec::new());
                                lits.len() - 1
                            }
                        };
                        owners[id].push(pos);
                    }
                }
            }
        }
        let literals = (!lits.is_empty()).then(|| {
            AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .match_kind(AcMatchKind::Standard)
                .build(&lits)
                .expect("the anchor literals build")
        });
        Group {
            members,
            literals,
            owners,
            at_start,
            unanchored,
        }
    }

    /// Pushes `(pattern, start, end)` to `found` for every member of
    /// `group` that matches `hay` and that `wanted` accepts (once each).
    pub(crate) fn search(
        &self,
        group: &Group,
        hay: &[u8],
        wanted: impl Fn(usize) -> bool,
        found: &mut Vec<(usize, usize, usize)>,
    ) {
        let mut guard = self.pool.get();
        let scratch = &mut *guard;
        let mut pending = 0usize;
        for &m in &group.members {
            scratch.steps[m] = 0;
            scratch.done[m] = !wanted(m);
            scratch.last[m] = usize::MAX;
            pending += usize::from(!scratch.done[m]);
        }
        if pending == 0 {
            return;
        }
        // Anchored work per pattern before one unanchored pass takes over.
        let cap = 2 * hay.len() + 64;
        for &pos in &group.at_start {
            self.try_at(scratch, group.members[pos], hay, 0, cap, found);
        }
        if let Some(ac) = &group.literals {
            for hit in ac.find_overlapping_iter(hay) {
                for &pos in &group.owners[hit.pattern().as_usize()] {
                    self.try_at(scratch, group.members[pos], hay, hit.start(), cap, found);
                }
            }
        }
        for &pos in &group.unanchored {
            let m = group.members[pos];
            if scratch.done[m] {
                continue;
            }
            let cache = &mut scratch.caches[m];
            if let Some(e) = unanchored(&self.patterns[m].dfa, cache, hay, 0) {
                found.push((m, e.saturating_sub(40), e));
            }
        }
    }

    /// Pattern `m` from offset `s`: anchored while its anchored work stays
    /// under `cap`, then one unanchored pass over the rest.
    fn try_at(
        &self,
        scratch: &mut Scratch,
        m: usize,
        hay: &[u8],
        s: usize,
        cap: usize,
        found: &mut Vec<(usize, usize, usize)>,
    ) {
        if scratch.done[m] || scratch.last[m] == s {
            return;
        }
        scratch.last[m] = s;
        let dfa = &self.patterns[m].dfa;
        let cache = &mut scratch.caches[m];
        let hit = if scratch.steps[m] > cap {
            scratch.done[m] = true;
            unanchored(dfa, cache, hay, s).map(|e| (e.saturating_sub(40).max(s), e))
        } else {
            let (hit, stepped) = anchored(dfa, cache, hay, s);
            scratch.steps[m] += stepped;
            hit.map(|e| (s, e))
        };
        if let Some((s, e)) = hit {
            scratch.done[m] = true;
            found.push((m, s, e));
        }
    }
}

/// Whether a match of `dfa` begins at `s`: its end, and the bytes stepped.
/// An engine error (none is reachable: no quit bytes, the cache never gives
/// up) counts as a match, so that it fails closed.
fn anchored(dfa: &DFA, cache: &mut Cache, hay: &[u8], s: usize) -> (Option<usize>, usize) {
    let input = Input::new(hay).span(s..hay.len()).anchored(Anchored::Yes);
    let Ok(mut sid) = dfa.start_state_forward(cache, &input) else {
        return (Some(s), 0);
    };
    let mut i = s;
    while i < hay.len() {
        sid = match dfa.next_state(cache, sid, hay[i]) {
            Ok(sid) => sid,
            Err(_) => return (Some(i), i - s),
        };
        i += 1;
        if sid.is_tagged() {
            if sid.is_match() {
                // matches are reported one byte late
                return (Some(i - 1), i - s);
            }
            if sid.is_dead() || sid.is_quit() {
                return (None, i - s);
            }
        }
    }
    match dfa.next_eoi_state(cache, sid) {
        Ok(sid) if sid.is_match() => (Some(hay.len()), i - s),
        Ok(_) => (None, i - s),
        Err(_) => (Some(hay.len()), i - s),
    }
}

/// The end of the first match of `dfa` in `hay[s..]`, unanchored.
fn unanchored(dfa: &DFA, cache: &mut Cache, hay: &[u8], s: usize) -> Option<usize> {
    let input = Input::new(hay).span(s..hay.len()).earliest(true);
    match dfa.try_search_fwd(cache, &input) {
        Ok(m) => m.map(|m| m.offset()),
        Err(_) => Some(hay.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchors_of(p: &str) -> Option<(Vec<String>, bool)> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(p)
            .unwrap();
        anchors(&hir).map(|a| {
            (
                a.literals
                    .iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect(),
                a.at_start,
            )
        })
    }

    #[test]
    fn prefixes_of_common_shapes() {
        assert_eq!(
            anchors_of(r"\bunion\b *select"),
            Some((vec!["union ".into(), "unionsel".into()], false))
        );
        assert_eq!(
            anchors_of(r"(?:^|[ (])or"),
            Some((vec![" or".into(), "(or".into()], true))
        );
        assert_eq!(anchors_of(r"^\s*x"), Some((vec![], true)));
        assert_eq!(anchors_of(r"[a-z]+x"), None);
        assert_eq!(
            anchors_of(r"a*b"),
            Some((vec!["a".into(), "b".into()], false))
        );
        // `onerror` begins with `on`: only `on` is kept
        assert_eq!(anchors_of(r"on|onerror"), Some((vec!["on".into()], false)));
    }

    #[test]
    fn anchored_search_agrees_with_unanchored() {
        let pats = [
            r"\bunion\b *select",
            r"(?:^|[ (])-?\d+ *or",
            r"<[a-z][^>]{0,40}on[a-z]+=",
            r"'[^']*'$",
            r"[a-z]+\d",
        ];
        let hays: &[&[u8]] = &[
            b"1 union select",
            b"xunion select",
            b"-1 or",
            b"(5 or 2",
            b"a5 or",
            b"<a href=x onload=y",
            b"<a>onload=",
            b"it's 'ok'",
            b"abc1",
            b"",
        ];
        let compiled: Vec<Pattern> = pats.iter().map(|p| compile(p)).collect();
        let all = Patterns::new(compiled);
        let group = all.group((0..pats.len()).collect());
        for hay in hays {
            let mut got = vec![false; pats.len()];
            let mut found = Vec::new();
            all.search(&group, hay, |_| true, &mut found);
            for (m, _, _) in found {
                got[m] = true;
            }
            for (i, p) in pats.iter().enumerate() {
                let want = regex::bytes::RegexBuilder::new(&format!("(?-u){p}"))
                    .unicode(false)
                    .build()
                    .unwrap()
                    .is_match(hay);
                assert_eq!(got[i], want, "{p} on {:?}", String::from_utf8_lossy(hay));
            }
        }
    }
}
