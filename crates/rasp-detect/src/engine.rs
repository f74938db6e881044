//! The pattern engine: every rule is its own lazy DFA, started only where
//! a match can begin.
//!
//! A set of ~130 patterns in one automaton looks cheap on a warm benchmark
//! and collapses on values it has never seen: the combined lazy DFA meets a
//! new state at almost every byte of varied text, clears its cache and falls
//! back to a slower engine (random printable text ran at 0.1 MB/s that way).
//! Here each rule is compiled alone, and the engine works out from the
//! pattern's syntax the set of literal prefixes any match must begin with
//! (`union`, `<`, `' `, "at the start of the value"...). One literal pass
//! (see `literals`) over the value finds every such prefix for every rule
//! at once; the
//! rule's DFA then runs *anchored* from each place found and stops at its
//! dead state, usually a few bytes later. The answer is exactly the
//! pattern's: a match that starts at `s` starts with one of its prefixes at
//! `s`, and the anchored run sees the same look-behind and look-ahead context
//! as an unanchored search would.
//!
//! A rule written as a top-level alternation is searched as its branches,
//! each with its own prefixes and gate: one branch that may begin anywhere
//! no longer makes the whole rule scan every value.
//!
//! The same analysis finds each branch's gate: a literal set every match
//! contains, and how far into the match it can begin (`--` in a trailing
//! comment rule, `onerror` in an event-handler rule). One literal pass
//! finds every gate and prefix literal; gate hits are recorded at once,
//! prefix hits kept in order until every gate is known. A branch whose gate
//! is more selective than its prefixes runs anchored only just before each
//! gate literal; other branches skip prefixes that no gate literal follows
//! closely enough (known by then), and a branch whose gate literal is
//! absent does not run at all (every gate rarer than about two printable
//! bytes is used that way).
//!
//! Per-thread search state carries a stamp per branch: a search resets
//! nothing up front and pays only for the branches the value touches.
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

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::pool::Pool;
use regex_automata::{Anchored, Input, MatchKind};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

use crate::literals::Literals;

/// Longest prefix kept. Longer ones select a little better but multiply
/// into thousands of literals whose automaton no longer fits the caches:
/// four bytes halve the cost of a short value against eight.
const MAX_PREFIX: usize = 4;
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
    /// When every match begins with a run of one byte class (`[\r\n]+`,
    /// `\s+`): the class. A match that begins just after a byte of it is
    /// also a match from that byte, so only the first byte of a run needs
    /// an anchored start (a run of 64 KiB of newlines is one start, not
    /// 65,536 overlapping ones).
    leading_run: Option<Box<[bool; 256]>>,
}

/// The class of a leading `C+` (at least one, unbounded), if `h` begins
/// with one and with nothing that looks behind.
fn leading_run(h: &Hir) -> Option<Box<[bool; 256]>> {
    match h.kind() {
        HirKind::Capture(c) => leading_run(&c.sub),
        HirKind::Concat(children) => children.first().and_then(leading_run),
        HirKind::Repetition(r) if r.min >= 1 && r.max.is_none() => {
            let HirKind::Class(c) = r.sub.kind() else {
                return None;
            };
            let mut table = Box::new([false; 256]);
            match c {
                Class::Bytes(b) => {
                    for range in b.iter() {
                        for x in range.start()..=range.end() {
                            table[usize::from(x)] = true;
                        }
                    }
                }
                Class::Unicode(u) => {
                    for range in u.iter() {
                        let (lo, hi) = (u32::from(range.start()), u32::from(range.end()));
                        if lo >= 0x80 {
                            continue;
                        }
                        for x in lo..=hi.min(0x7f) {
                            table[x as usize] = true;
                        }
                    }
                }
            }
            Some(table)
        }
        _ => None,
    }
}

/// Compiles a pattern (Unicode off, bytes) into its branches: each
/// alternative of a top-level alternation is searched on its own, with its
/// own prefixes and gate, so that one branch that can begin anywhere does
/// not make the whole rule scan every value. The pattern matches where any
/// branch does. Panics on an invalid pattern: the patterns are the
/// built-in rules, checked by the test suite.
pub(crate) fn compile(pattern: &str) -> Vec<Pattern> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .expect("the built-in rules parse");
    let mut top = &hir;
    while let HirKind::Capture(c) = top.kind() {
        top = &c.sub;
    }
    match top.kind() {
        HirKind::Alternation(alts) => alts.iter().map(compile_hir).collect(),
        _ => vec![compile_hir(&hir)],
    }
}

fn compile_hir(hir: &Hir) -> Pattern {
    let nfa = thompson::Compiler::new()
        .configure(thompson::Config::new().utf8(false).shrink(true))
        .build_from_hir(hir)
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
        anchors: anchors(hir),
        gate: gate(hir),
        leading_run: leading_run(hir),
    }
}

/// Farthest a gate literal may begin into a match for the gate to drive
/// the search (anchored runs at each place up to that far before it).
const MAX_DRIVING_REACH: usize = 32;
/// Expected occurrences per byte above which a gate is not worth finding
/// for its own sake (about one punctuation byte: a single letter is too
/// common).
const MAX_GATE_WEIGHT: f64 = 0.012;
/// Gate positions kept per pattern and search; past it the gate stops
/// filtering (memory stays bounded whatever the value).
const MAX_GATE_HITS: usize = 4096;

/// Prefix hits whose buffer a thread keeps between values (1 MiB); a
/// larger one, grown by one outsized value, is freed after it.
const MAX_KEPT_HITS: usize = 1 << 16;

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
    /// Every gate literal worth checking and every prefix literal of every
    /// anchor-driven member, found in one pass: gate hits are recorded at
    /// once, prefix hits kept in order and run once every gate is known.
    literals: Option<Literals>,
    /// Per literal: the member positions it gates.
    gate_owners: Vec<Vec<usize>>,
    /// Per literal: the member positions it anchors.
    owners: Vec<Vec<usize>>,
    /// Members anchored at offset 0 whatever the bytes, and without a gate
    /// worth checking.
    at_start: Vec<usize>,
    /// Per member: anchored at offset 0 whatever the bytes.
    at_start_flag: Vec<bool>,
    /// Per member: how far into a match its gate literal can begin.
    reach: Vec<Option<usize>>,
    /// Members searched by one unanchored pass.
    scans: Vec<usize>,
}

/// Per-thread search state. A pattern's entries are valid only while its
/// stamp equals the current search's epoch, so a search resets nothing up
/// front and pays only for the patterns the value touches.
pub(crate) struct Scratch {
    caches: Vec<Cache>,
    /// Per pattern (not branch): the search in which one of its branches
    /// matched.
    matched: Vec<u32>,
    /// The current search.
    epoch: u32,
    /// Per pattern: the search its entries below belong to.
    stamp: Vec<u32>,
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
    /// Member positions whose gate literals were met in this search.
    touched: Vec<usize>,
    /// Prefix hits of this search (start, literal), in start order.
    prefix_hits: Vec<(usize, usize)>,
}

impl Scratch {
    /// Starts a search: every pattern's entries become stale at once.
    fn begin(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.matched.iter_mut().for_each(|s| *s = 0);
            self.epoch = 1;
        }
        self.touched.clear();
    }

    /// Pattern `m`'s entries for this search, reset on first use.
    fn fresh(&mut self, m: usize, owner: usize, wanted: &dyn Fn(usize) -> bool) {
        if self.stamp[m] != self.epoch {
            self.stamp[m] = self.epoch;
            self.steps[m] = 0;
            self.done[m] = self.matched[owner] == self.epoch || !wanted(owner);
            self.last[m] = usize::MAX;
            self.hits[m].clear();
            self.saturated[m] = false;
        }
    }
}

type ScratchPool = Pool<
    Scratch,
    Box<dyn Fn() -> Scratch + Send + Sync + std::panic::RefUnwindSafe + std::panic::UnwindSafe>,
>;

/// All patterns (as branches), and the per-thread caches they search with.
pub(crate) struct Patterns {
    patterns: std::sync::Arc<Vec<Pattern>>,
    /// Per branch: the pattern it belongs to.
    owner: Vec<usize>,
    /// Per pattern: its branches.
    branches: Vec<std::ops::Range<usize>>,
    pool: ScratchPool,
}

/// Adds member `pos` as an owner of literal `bytes` (added if new).
fn own(lits: &mut Vec<Vec<u8>>, owners: &mut Vec<Vec<usize>>, bytes: &[u8], pos: usize) {
    let id = match lits.iter().position(|l| l == bytes) {
        Some(id) => id,
        None => {
            lits.push(bytes.to_vec());
            owners.push(Vec::new());
            lits.len() - 1
        }
    };
    owners[id].push(pos);
}

impl Patterns {
    /// Every pattern, each given as its compiled branches.
    pub(crate) fn new(compiled: Vec<Vec<Pattern>>) -> Self {
        let mut owner = Vec::new();
        let mut branches = Vec::with_capacity(compiled.len());
        let mut flat = Vec::new();
        for (i, b) in compiled.into_iter().enumerate() {
            branches.push(flat.len()..flat.len() + b.len());
            owner.extend(std::iter::repeat_n(i, b.len()));
            flat.extend(b);
        }
        let rules = branches.len();
        let patterns = std::sync::Arc::new(flat);
        let for_pool = std::sync::Arc::clone(&patterns);
        let pool: ScratchPool = Pool::new(Box::new(move || {
            let n = for_pool.len();
            Scratch {
                matched: vec![0; rules],
                caches: for_pool.iter().map(|p| p.dfa.create_cache()).collect(),
                epoch: 0,
                stamp: vec![0; n],
                steps: vec![0; n],
                done: vec![false; n],
                last: vec![usize::MAX; n],
                hits: vec![Vec::new(); n],
                saturated: vec![false; n],
                touched: Vec::new(),
                prefix_hits: Vec::new(),
            }
        }));
        Self {
            patterns,
            owner,
            branches,
            pool,
        }
    }

    /// The group of patterns `members` (pattern indices), searched as their
    /// branches.
    pub(crate) fn group(&self, members: Vec<usize>) -> Group {
        let members: Vec<usize> = members
            .into_iter()
            .flat_map(|m| self.branches[m].clone())
            .collect();
        let (mut gate_lits, mut gate_owners) = (Vec::new(), Vec::new());
        let (mut prefix_lits, mut owners) = (Vec::new(), Vec::new());
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
            // A gate rarer than a common byte is worth finding: where none
            // of its literals occurs, the branch does not run at all.
            let worth = match (&p.gate, mode) {
                (None, _) => false,
                (Some(_), Mode::Gate) => true,
                (Some(g), Mode::Anchor) => {
                    set_weight(&g.literals) < MAX_GATE_WEIGHT
                        || p.anchors.as_ref().is_some_and(|a| {
                            4.0 * set_weight(&g.literals) < set_weight(&a.literals)
                        })
                }
                (Some(g), Mode::Scan) => set_weight(&g.literals) < MAX_GATE_WEIGHT,
            };
            gated.push(worth);
            if let Some(g) = p.gate.as_ref().filter(|_| worth) {
                for bytes in &g.literals {
                    own(&mut gate_lits, &mut gate_owners, bytes, pos);
                }
            }
            if mode == Mode::Anchor
                && let Some(a) = &p.anchors
            {
                if a.at_start && !worth {
                    at_start.push(pos);
                }
                for bytes in &a.literals {
                    own(&mut prefix_lits, &mut owners, bytes, pos);
                }
            }
        }
        // one literal list: the gates' literals, then the prefixes' not
        // already among them; each with its gate and anchor owners
        let mut lits = gate_lits;
        gate_owners.resize(lits.len(), Vec::new());
        let mut anchored_by = vec![Vec::new(); lits.len()];
        for (bytes, positions) in prefix_lits.into_iter().zip(owners) {
            let id = match lits.iter().position(|l| *l == bytes) {
                Some(id) => id,
                None => {
                    lits.push(bytes);
                    gate_owners.push(Vec::new());
                    anchored_by.push(Vec::new());
                    lits.len() - 1
                }
            };
            anchored_by[id] = positions;
        }
        let owners = anchored_by;
        let at_start_flag = members
            .iter()
            .zip(&modes)
            .map(|(&m, &mode)| {
                mode == Mode::Anchor
                    && self.patterns[m]
                        .anchors
                        .as_ref()
                        .is_some_and(|a| a.at_start)
            })
            .collect();
        let reach = members
            .iter()
            .map(|&m| self.patterns[m].gate.as_ref().and_then(|g| g.reach))
            .collect();
        let scans = (0..members.len())
            .filter(|&pos| modes[pos] == Mode::Scan)
            .collect();
        Group {
            members,
            scans,
            modes,
            gated,
            literals: Literals::new(&lits),
            gate_owners,
            owners,
            at_start,
            at_start_flag,
            reach,
        }
    }

    /// Whether the gate of member `pos` (pattern `m`), when it has one
    /// worth checking, allows a match that begins at `s`.
    fn gate_allows(group: &Group, scratch: &Scratch, pos: usize, m: usize, s: usize) -> bool {
        if !group.gated[pos] {
            return true;
        }
        if scratch.stamp[m] != scratch.epoch {
            // no gate literal in this value
            return false;
        }
        if scratch.saturated[m] {
            return true;
        }
        let hits = &scratch.hits[m];
        let i = hits.partition_point(|&q| q < s);
        match (hits.get(i), group.reach[pos]) {
            (None, _) => false,
            (Some(&q), Some(r)) => q <= s + r,
            (Some(_), None) => true,
        }
    }

    /// Pushes `(pattern, start, end)` to `found` for every pattern of
    /// `group` that matches `hay` and that `wanted` accepts (once each).
    pub(crate) fn search(
        &self,
        group: &Group,
        hay: &[u8],
        wanted: impl Fn(usize) -> bool,
        found: &mut Vec<(usize, usize, usize)>,
    ) {
        let wanted: &dyn Fn(usize) -> bool = &wanted;
        let mut guard = self.pool.get();
        let scratch = &mut *guard;
        scratch.begin();
        // Anchored work per pattern before one unanchored pass takes over.
        let cap = 2 * hay.len() + 64;
        // One literal pass: gate hits are recorded at once (a gated member
        // none of whose literals occurs never runs); prefix hits are kept,
        // in order, until every gate is known.
        let mut prefix_hits = std::mem::take(&mut scratch.prefix_hits);
        prefix_hits.clear();
        if let Some(lits) = &group.literals {
            lits.each(hay, |at, lit| {
                if !group.owners[lit].is_empty() {
                    prefix_hits.push((at, lit));
                }
                for &pos in &group.gate_owners[lit] {
                    let m = group.members[pos];
                    if scratch.stamp[m] != scratch.epoch {
                        scratch.fresh(m, self.owner[m], wanted);
                        scratch.touched.push(pos);
                    }
                    if scratch.done[m] || scratch.saturated[m] {
                        continue;
                    }
                    if scratch.hits[m].len() >= MAX_GATE_HITS {
                        scratch.saturated[m] = true;
                    } else {
                        scratch.hits[m].push(at);
                    }
                }
            });
        }
        // Members whose gate literal was met: order their hits, and run the
        // gate-driven ones.
        let touched = std::mem::take(&mut scratch.touched);
        for &pos in &touched {
            let m = group.members[pos];
            if scratch.done[m] {
                continue;
            }
            if !scratch.saturated[m] {
                scratch.hits[m].sort_unstable();
                scratch.hits[m].dedup();
            }
            if group.modes[pos] == Mode::Gate {
                self.gate_driven(scratch, m, hay, cap, found);
            } else if group.at_start_flag[pos] && Self::gate_allows(group, scratch, pos, m, 0) {
                self.try_at(scratch, m, hay, 0, cap, found);
            }
        }
        scratch.touched = touched;
        for &pos in &group.scans {
            let m = group.members[pos];
            if group.gated[pos] && scratch.stamp[m] != scratch.epoch {
                continue;
            }
            scratch.fresh(m, self.owner[m], wanted);
            if scratch.done[m] {
                continue;
            }
            let bounded = self.patterns[m]
                .gate
                .as_ref()
                .is_some_and(|g| g.reach.is_some());
            let start = if group.gated[pos] && bounded {
                self.gate_start(scratch, m)
            } else {
                0
            };
            self.scan(scratch, m, hay, start, found);
        }
        // Members anchored at offset 0 with a gate ran above, if it was met.
        for &pos in &group.at_start {
            let m = group.members[pos];
            scratch.fresh(m, self.owner[m], wanted);
            self.try_at(scratch, m, hay, 0, cap, found);
        }
        // Then each prefix hit runs its members where their gates (all
        // known now) allow.
        for &(at, lit) in &prefix_hits {
            for &pos in &group.owners[lit] {
                let m = group.members[pos];
                if group.gated[pos] {
                    let met = scratch.stamp[m] == scratch.epoch;
                    if !met || scratch.done[m] || !Self::gate_allows(group, scratch, pos, m, at) {
                        continue;
                    }
                }
                scratch.fresh(m, self.owner[m], wanted);
                self.try_at(scratch, m, hay, at, cap, found);
            }
        }
        // keep the allocation for the next value, unless one outsized
        // value grew it
        if prefix_hits.capacity() > MAX_KEPT_HITS {
            prefix_hits = Vec::new();
        }
        scratch.prefix_hits = prefix_hits;
    }

    /// Where an unanchored pass of gated pattern `m` may start: its first
    /// gate literal, less how far into a match the literal can begin.
    fn gate_start(&self, scratch: &Scratch, m: usize) -> usize {
        let reach = self.patterns[m]
            .gate
            .as_ref()
            .and_then(|g| g.reach)
            .unwrap_or(0);
        scratch.hits[m]
            .first()
            .map_or(0, |q| q.saturating_sub(reach))
    }

    /// A gate-driven pattern: anchored runs just before each of its gate
    /// literals (one unanchored pass when it has more than are kept).
    fn gate_driven(
        &self,
        scratch: &mut Scratch,
        m: usize,
        hay: &[u8],
        cap: usize,
        found: &mut Vec<(usize, usize, usize)>,
    ) {
        if scratch.saturated[m] {
            let start = self.gate_start(scratch, m);
            self.scan(scratch, m, hay, start, found);
            return;
        }
        let reach = self.patterns[m]
            .gate
            .as_ref()
            .and_then(|g| g.reach)
            .unwrap_or(0);
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
        let owner = self.owner[m];
        if scratch.matched[owner] == scratch.epoch {
            return;
        }
        let cache = &mut scratch.caches[m];
        if let Some(e) = unanchored(&self.patterns[m].dfa, cache, hay, start) {
            scratch.matched[owner] = scratch.epoch;
            found.push((owner, e.saturating_sub(40).max(start), e));
        }
    }

    /// Whether `s` lies inside a run of pattern `m`'s leading class: the
    /// start one byte earlier answers for it.
    fn inside_run(&self, m: usize, hay: &[u8], s: usize) -> bool {
        s > 0
            && self.patterns[m]
                .leading_run
                .as_ref()
                .is_some_and(|run| run[usize::from(hay[s - 1])])
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
        if self.inside_run(m, hay, s) {
            return;
        }
        let owner = self.owner[m];
        if scratch.matched[owner] == scratch.epoch {
            scratch.done[m] = true;
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
            scratch.matched[owner] = scratch.epoch;
            found.push((owner, s, e));
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
            // prefixes stop at four bytes
            Some((vec!["unio".into()], false))
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
            r"[\r\n]+[a-z]{1,4}=",
            r"\s+on",
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
            b"a\n\n\n\r\nab=",
            b"\n\n\n\n\n",
            b"x\n\nabcde=",
            b"   \t on",
            b"a  o  on",
        ];
        let compiled: Vec<Vec<Pattern>> = pats.iter().map(|p| compile(p)).collect();
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
