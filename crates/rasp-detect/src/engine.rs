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
//! The same analysis finds each rule's gate: a literal set every match
//! contains, and how far into the match it can begin (`--` in a trailing
//! comment rule, `onerror` in an event-handler rule). The gate literals
//! are found in the same pass. A rule whose gate is more selective than
//! its prefixes runs anchored only just before each gate literal; other
//! rules skip prefixes that no gate literal follows closely enough, and a
//! rule whose gate literal is absent does not run at all.
//!
//! Cost is linear in the value: a rule whose anchored runs overlap (a
//! prefix every few bytes and a pattern that lives long after it) has its
//! anchored work capped at a small multiple of the value's length, after
//! which one unanchored pass from the current position answers for the rest.
//! Rules whose matches can begin almost anywhere (no prefix set) take one
//! unanchored pass, from the first gate literal when the gate bounds it.
//! Lazy DFA caches are per thread (a pool), bounded per
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

/// A literal set every match contains, and how far into the match the
/// literal can begin (`None`: anywhere).
#[derive(Clone, Debug, PartialEq)]
struct Gate {
    literals: Vec<Vec<u8>>,
    reach: Option<usize>,
}

/// Most literals in a gate set.
const MAX_GATE_SET: usize = 256;
/// Longest gate literal.
const MAX_GATE_LEN: usize = 12;

/// How often a byte is met in varied text, lowercased: the model behind
/// every choice between literals (letters twice as often as other
/// printable bytes, controls and non-ASCII rarely).
fn byte_weight(b: u8) -> f64 {
    if b.is_ascii_lowercase() {
        2.0 / 95.0
    } else if (0x20..0x7f).contains(&b) {
        1.0 / 95.0
    } else {
        1.0 / 400.0
    }
}

/// Expected occurrences per byte of any literal of `set`.
fn set_weight(set: &[Vec<u8>]) -> f64 {
    set.iter()
        .map(|l| l.iter().map(|b| byte_weight(*b)).product::<f64>())
        .sum()
}

/// Expected anchored runs per byte when `gate` drives the search.
fn gate_cost(g: &Gate) -> f64 {
    set_weight(&g.literals) * (1 + g.reach.unwrap_or(64).min(64)) as f64
}

fn better_gate(a: Option<Gate>, b: Option<Gate>) -> Option<Gate> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => Some(if gate_cost(&b) < gate_cost(&a) { b } else { a }),
    }
}

fn useful(g: Gate) -> Option<Gate> {
    (!g.literals.is_empty() && g.literals.iter().all(|l| !l.is_empty())).then_some(g)
}

fn cross(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len() * b.len() > MAX_GATE_SET {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut z = x.clone();
            z.extend_from_slice(y);
            if z.len() > MAX_GATE_LEN {
                return None;
            }
            out.push(z);
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// What the gate analysis knows of a node: the exact strings it matches
/// (when few), the best gate inside it, its longest match.
struct Info {
    exact: Option<Vec<Vec<u8>>>,
    gate: Option<Gate>,
    max_len: Option<usize>,
}

fn add(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    a?.checked_add(b?)
}

fn info(h: &Hir) -> Info {
    let max_len = h.properties().maximum_len();
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Info {
            exact: Some(vec![Vec::new()]),
            gate: None,
            max_len,
        },
        HirKind::Literal(l) => {
            let v = l.0.to_vec();
            Info {
                exact: (v.len() <= MAX_GATE_LEN).then(|| vec![v.clone()]),
                gate: useful(Gate {
                    literals: vec![v],
                    reach: Some(0),
                }),
                max_len,
            }
        }
        HirKind::Class(c) => {
            let exact: Option<Vec<Vec<u8>>> =
                class_bytes(c).map(|b| b.into_iter().map(|b| vec![b]).collect());
            Info {
                gate: exact.clone().and_then(|literals| {
                    useful(Gate {
                        literals,
                        reach: Some(0),
                    })
                }),
                exact,
                max_len,
            }
        }
        HirKind::Capture(c) => info(&c.sub),
        HirKind::Repetition(r) => {
            let sub = info(&r.sub);
            if r.min == 0 {
                let exact = if r.max == Some(1) {
                    sub.exact.map(|mut e| {
                        e.push(Vec::new());
                        e.sort();
                        e.dedup();
                        e
                    })
                } else {
                    None
                };
                return Info {
                    exact,
                    gate: None,
                    max_len,
                };
            }
            let as_gate = sub.exact.clone().and_then(|literals| {
                useful(Gate {
                    literals,
                    reach: Some(0),
                })
            });
            let exact = match (r.max, &sub.exact) {
                (Some(n), Some(e)) if n == r.min && n <= 4 => {
                    let mut acc = vec![Vec::new()];
                    let mut ok = true;
                    for _ in 0..n {
                        match cross(&acc, e) {
                            Some(x) => acc = x,
                            None => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    ok.then_some(acc)
                }
                _ => None,
            };
            Info {
                exact,
                gate: better_gate(sub.gate, as_gate),
                max_len,
            }
        }
        HirKind::Concat(children) => {
            let infos: Vec<Info> = children.iter().map(info).collect();
            let mut best = None;
            let mut offset = Some(0usize);
            for (i, c) in infos.iter().enumerate() {
                if let Some(g) = &c.gate {
                    best = better_gate(
                        best,
                        Some(Gate {
                            literals: g.literals.clone(),
                            reach: add(offset, g.reach),
                        }),
                    );
                }
                // runs of children with exact strings, from this one on
                let mut acc = Some(vec![Vec::new()]);
                for next in &infos[i..] {
                    acc = match (&acc, &next.exact) {
                        (Some(a), Some(e)) => cross(a, e),
                        _ => None,
                    };
                    let Some(a) = &acc else { break };
                    best = better_gate(
                        best,
                        useful(Gate {
                            literals: a.clone(),
                            reach: offset,
                        }),
                    );
                }
                offset = add(offset, c.max_len);
            }
            let mut exact = Some(vec![Vec::new()]);
            for c in &infos {
                exact = match (&exact, &c.exact) {
                    (Some(a), Some(e)) => cross(a, e),
                    _ => None,
                };
            }
            Info {
                exact,
                gate: best,
                max_len,
            }
        }
        HirKind::Alternation(alts) => {
            let infos: Vec<Info> = alts.iter().map(info).collect();
            let mut exact = Some(Vec::new());
            let mut gate = Some(Gate {
                literals: Vec::new(),
                reach: Some(0),
            });
            for i in &infos {
                exact = match (exact, &i.exact) {
                    (Some(mut a), Some(e)) if a.len() + e.len() <= MAX_GATE_SET => {
                        a.extend(e.iter().cloned());
                        Some(a)
                    }
                    _ => None,
                };
                let own = i.exact.clone().and_then(|literals| {
                    useful(Gate {
                        literals,
                        reach: Some(0),
                    })
                });
                gate = match (gate, better_gate(i.gate.clone(), own)) {
                    (Some(mut a), Some(b))
                        if a.literals.len() + b.literals.len() <= MAX_GATE_SET =>
                    {
                        a.literals.extend(b.literals);
                        a.reach = a.reach.zip(b.reach).map(|(x, y)| x.max(y));
                        Some(a)
                    }
                    _ => None,
                };
            }
            let gate = gate.map(|mut g| {
                g.literals.sort();
                g.literals.dedup();
                g
            });
            Info {
                exact: exact.map(|mut e| {
                    e.sort();
                    e.dedup();
                    e
                }),
                gate: gate.and_then(useful),
                max_len,
            }
        }
    }
}

/// The best gate of a pattern: the literal set every match contains, with
/// the least expected work per byte.
fn gate(h: &Hir) -> Option<Gate> {
    let i = info(h);
    let own = i.exact.and_then(|literals| {
        useful(Gate {
            literals,
            reach: Some(0),
        })
    });
    let mut g = better_gate(i.gate, own)?;
    // a literal that begins with a shorter one of the same set adds
    // nothing (the shorter one begins at the same place)
    g.literals.sort();
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(g.literals.len());
    for l in std::mem::take(&mut g.literals) {
        if !kept.iter().any(|k| l.starts_with(k)) {
            kept.push(l);
        }
    }
    g.literals = kept;
    Some(g)
}

/// One compiled pattern.
pub(crate) struct Pattern {
    dfa: DFA,
    anchors: Option<Anchors>,
    gate: Option<Gate>,
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
        gate: gate(&hir),
    }
}

/// Farthest a gate literal may begin into a match for the gate to drive
/// the search (anchored runs at each place up to that far before it).
const MAX_DRIVING_REACH: usize = 32;
/// Gate positions kept per pattern and search; past it the gate stops
/// filtering (memory stays bounded whatever the value).
const MAX_GATE_HITS: usize = 4096;
/// Prefix hits buffered per search.
const MAX_ANCHOR_HITS: usize = 16 * 1024;

/// How a member of a group is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Anchored runs just before each place its gate literal occurs.
    Gate,
    /// Anchored runs at its prefixes (and at offset 0), filtered by its
    /// gate when it has one.
    Anchor,
    /// One unanchored pass, skipped when its gate literal is absent.
    Scan,
}

/// A group of patterns searched together over one value.
pub(crate) struct Group {
    /// Indices into the pattern list.
    members: Vec<usize>,
    modes: Vec<Mode>,
    /// Per member: whether its gate is worth checking (selective enough to
    /// save more anchored runs than its literals cost to find).
    gated: Vec<bool>,
    /// Every prefix literal of every anchor-driven member and every gate
    /// literal worth checking: one pass finds both.
    literals: Option<AhoCorasick>,
    /// Per literal: the member positions it anchors.
    owners: Vec<Vec<usize>>,
    /// Per literal: the member positions it gates.
    gate_owners: Vec<Vec<usize>>,
    /// Members anchored at offset 0 whatever the bytes.
    at_start: Vec<usize>,
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
    /// Per pattern: where its gate literals begin, in this value.
    hits: Vec<Vec<usize>>,
    /// Per pattern: more gate hits than kept.
    saturated: Vec<bool>,
    /// Prefix hits waiting for the gates: (member position, offset).
    anchors: Vec<(usize, usize)>,
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

fn literal_index(
    lits: &mut Vec<Vec<u8>>,
    owners: &mut Vec<Vec<usize>>,
    gate_owners: &mut Vec<Vec<usize>>,
    bytes: &[u8],
) -> usize {
    match lits.iter().position(|l| l == bytes) {
        Some(id) => id,
        None => {
            lits.push(bytes.to_vec());
            owners.push(Vec::new());
            gate_owners.push(Vec::new());
            lits.len() - 1
        }
    }
}

fn automaton(lits: &[Vec<u8>]) -> Option<AhoCorasick> {
    (!lits.is_empty()).then(|| {
        AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(AcMatchKind::Standard)
            .build(lits)
            .expect("the anchor literals build")
    })
}

impl Patterns {
    pub(crate) fn new(patterns: Vec<Pattern>) -> Self {
        let patterns = std::sync::Arc::new(patterns);
        let for_pool = std::sync::Arc::clone(&patterns);
        let pool: ScratchPool = Pool::new(Box::new(move || {
            let n = for_pool.len();
            Scratch {
                caches: for_pool.iter().map(|p| p.dfa.create_cache()).collect(),
                steps: vec![0; n],
                done: vec![false; n],
                last: vec![usize::MAX; n],
                hits: vec![Vec::new(); n],
                saturated: vec![false; n],
                anchors: Vec::new(),
            }
        }));
        Self { patterns, pool }
    }

    pub(crate) fn group(&self, members: Vec<usize>) -> Group {
        let mut lits: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut gate_owners: Vec<Vec<usize>> = Vec::new();
        let mut at_start = Vec::new();
        let mut modes = Vec::with_capacity(members.len());
        let mut gated = Vec::with_capacity(members.len());
        for (pos, &m) in members.iter().enumerate() {
            let p = &self.patterns[m];
            let driving = p
                .gate
                .as_ref()
                .filter(|g| g.reach.is_some_and(|r| r <= MAX_DRIVING_REACH));
            let mode = match (&p.anchors, driving) {
                (Some(a), Some(g)) if set_weight(&a.literals) <= gate_cost(g) => Mode::Anchor,
                (_, Some(_)) => Mode::Gate,
                (Some(_), None) => Mode::Anchor,
                (None, None) => Mode::Scan,
            };
            modes.push(mode);
            let worth = match (&p.gate, mode) {
                (None, _) => false,
                (Some(_), Mode::Gate) => true,
                (Some(g), Mode::Anchor) => p
                    .anchors
                    .as_ref()
                    .is_some_and(|a| 4.0 * set_weight(&g.literals) < set_weight(&a.literals)),
                (Some(g), Mode::Scan) => set_weight(&g.literals) < 0.01,
            };
            gated.push(worth);
            if let Some(g) = p.gate.as_ref().filter(|_| worth) {
                for bytes in &g.literals {
                    let id = literal_index(&mut lits, &mut owners, &mut gate_owners, bytes);
                    gate_owners[id].push(pos);
                }
            }
            if mode == Mode::Anchor
                && let Some(a) = &p.anchors
            {
                if a.at_start {
                    at_start.push(pos);
                }
                for bytes in &a.literals {
                    let id = literal_index(&mut lits, &mut owners, &mut gate_owners, bytes);
                    owners[id].push(pos);
                }
            }
        }
        Group {
            members,
            modes,
            gated,
            literals: automaton(&lits),
            owners,
            gate_owners,
            at_start,
        }
    }

    /// Whether pattern `m`'s gate (when `gated`) allows a match that
    /// begins at `s`.
    fn gate_allows(&self, scratch: &Scratch, m: usize, gated: bool, s: usize) -> bool {
        let Some(g) = self.patterns[m].gate.as_ref().filter(|_| gated) else {
            return true;
        };
        if scratch.saturated[m] {
            return true;
        }
        let hits = &scratch.hits[m];
        let i = hits.partition_point(|&q| q < s);
        match (hits.get(i), g.reach) {
            (None, _) => false,
            (Some(&q), Some(r)) => q <= s + r,
            (Some(_), None) => true,
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
            scratch.hits[m].clear();
            scratch.saturated[m] = false;
            pending += usize::from(!scratch.done[m]);
        }
        if pending == 0 {
            return;
        }
        // Anchored work per pattern before one unanchored pass takes over.
        let cap = 2 * hay.len() + 64;
        // One pass finds gate literals and prefixes. Prefix hits wait for
        // the gates to be known (a gate literal after the prefix decides);
        // past the buffer they run unfiltered, which costs time, never a
        // match.
        let mut anchors = std::mem::take(&mut scratch.anchors);
        anchors.clear();
        if let Some(ac) = &group.literals {
            for hit in ac.find_overlapping_iter(hay) {
                let id = hit.pattern().as_usize();
                for &pos in &group.gate_owners[id] {
                    let m = group.members[pos];
                    if scratch.done[m] || scratch.saturated[m] {
                        continue;
                    }
                    if scratch.hits[m].len() >= MAX_GATE_HITS {
                        scratch.saturated[m] = true;
                    } else {
                        scratch.hits[m].push(hit.start());
                    }
                }
                for &pos in &group.owners[id] {
                    if anchors.len() < MAX_ANCHOR_HITS {
                        anchors.push((pos, hit.start()));
                    } else {
                        self.try_at(scratch, group.members[pos], hay, hit.start(), cap, found);
                    }
                }
            }
        }
        for (pos, &mode) in group.modes.iter().enumerate() {
            let m = group.members[pos];
            if group.gated[pos] && !scratch.saturated[m] {
                if scratch.hits[m].is_empty() {
                    // no literal every match contains: no match
                    scratch.done[m] = true;
                } else {
                    scratch.hits[m].sort_unstable();
                    scratch.hits[m].dedup();
                }
            }
            if scratch.done[m] {
                continue;
            }
            let reach = self.patterns[m]
                .gate
                .as_ref()
                .and_then(|g| g.reach)
                .unwrap_or(0);
            let from = |scratch: &Scratch| {
                scratch.hits[m]
                    .first()
                    .map_or(0, |q| q.saturating_sub(reach))
            };
            match mode {
                Mode::Gate if scratch.saturated[m] => {
                    let start = from(scratch);
                    self.scan(scratch, m, hay, start, found);
                }
                Mode::Gate => {
                    let mut next = 0usize;
                    let mut i = 0;
                    while i < scratch.hits[m].len() && !scratch.done[m] {
                        let q = scratch.hits[m][i];
                        let lo = q.saturating_sub(reach).max(next);
                        for s in lo..=q {
                            self.try_at(scratch, m, hay, s, cap, found);
                            if scratch.done[m] {
                                break;
                            }
                        }
                        next = q + 1;
                        i += 1;
                    }
                }
                Mode::Scan => {
                    let bounded = self.patterns[m]
                        .gate
                        .as_ref()
                        .is_some_and(|g| g.reach.is_some());
                    let start = if group.gated[pos] && bounded {
                        from(scratch)
                    } else {
                        0
                    };
                    self.scan(scratch, m, hay, start, found);
                }
                Mode::Anchor => {}
            }
        }
        for &pos in &group.at_start {
            let m = group.members[pos];
            if self.gate_allows(scratch, m, group.gated[pos], 0) {
                self.try_at(scratch, m, hay, 0, cap, found);
            }
        }
        for &(pos, at) in &anchors {
            let m = group.members[pos];
            if !scratch.done[m] && self.gate_allows(scratch, m, group.gated[pos], at) {
                self.try_at(scratch, m, hay, at, cap, found);
            }
        }
        scratch.anchors = anchors;
    }

    /// One unanchored pass of pattern `m` from `start`.
    fn scan(
        &self,
        scratch: &mut Scratch,
        m: usize,
        hay: &[u8],
        start: usize,
        found: &mut Vec<(usize, usize, usize)>,
    ) {
        scratch.done[m] = true;
        let cache = &mut scratch.caches[m];
        if let Some(e) = unanchored(&self.patterns[m].dfa, cache, hay, start) {
            found.push((m, e.saturating_sub(40).max(start), e));
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
        if scratch.steps[m] > cap {
            self.scan(scratch, m, hay, s, found);
            return;
        }
        let (hit, stepped) = anchored(&self.patterns[m].dfa, &mut scratch.caches[m], hay, s);
        scratch.steps[m] += stepped;
        if let Some(e) = hit {
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
