//! Every occurrence of a set of short literals, in start order.
//!
//! The engine's literal sets are the prefixes (at most four bytes) and gate
//! literals (at most twelve) of every rule branch: up to a few thousand
//! literals, a third of them one or two bytes long, which occur everywhere
//! in text. `aho-corasick` answers that question with an overlapping
//! search over an automaton of thousands of states, whose transitions miss
//! the caches at almost every byte of varied text: it took a third of the
//! engine's time on long query strings. Literals this short are found
//! faster by looking at each position's first two bytes: a 256-entry table
//! answers the one-byte literals, an 8 KiB bitmap says whether any longer
//! literal begins with the pair, and only then a small hash table lists the
//! candidates to compare. Each position costs two table loads; the
//! comparisons happen only where a literal's first two bytes occur.

/// No literal.
const NONE: u32 = u32::MAX;

/// A set of literals, each identified by its position in the list it was
/// built from.
pub(crate) struct Literals {
    lits: Vec<Box<[u8]>>,
    /// Per literal of at most 16 bytes: its bytes as a little-endian word
    /// and the mask of its length, compared against the next 16 bytes of
    /// the value in one instruction instead of a call to `memcmp`.
    words: Vec<(u128, u128)>,
    /// Per byte: the one-byte literal equal to it.
    single: Box<[u32; 256]>,
    /// One bit per pair of bytes: some longer literal begins with it.
    pairs: Box<[u64; 1024]>,
    /// Open addressing by pair: `(pair, start, end)` into `order`, empty
    /// where `start == end`.
    slots: Box<[(u16, u32, u32)]>,
    /// Bits of the slot index.
    bits: u32,
    /// The ids of the literals longer than one byte, grouped by pair.
    order: Vec<u32>,
    /// Ids of empty literals: they occur at every position.
    empty: Vec<u32>,
}

fn pair(a: u8, b: u8) -> u16 {
    u16::from(a) << 8 | u16::from(b)
}

impl Literals {
    /// The set of `lits` (duplicates keep their own ids). `None` when empty.
    pub(crate) fn new(lits: &[Vec<u8>]) -> Option<Self> {
        if lits.is_empty() {
            return None;
        }
        let mut single = Box::new([NONE; 256]);
        let mut pairs = Box::new([0u64; 1024]);
        let mut empty = Vec::new();
        let mut longer: Vec<(u16, u32)> = Vec::new();
        for (id, l) in lits.iter().enumerate() {
            let id = u32::try_from(id).expect("fewer than 4 G literals");
            match l.as_slice() {
                [] => empty.push(id),
                [b] => {
                    // duplicates of a one-byte literal: the first keeps it
                    if single[usize::from(*b)] == NONE {
                        single[usize::from(*b)] = id;
                    }
                }
                [a, b, ..] => {
                    let key = pair(*a, *b);
                    pairs[usize::from(key >> 6)] |= 1 << (key & 63);
                    longer.push((key, id));
                }
            }
        }
        longer.sort_unstable();
        let distinct = longer.windows(2).filter(|w| w[0].0 != w[1].0).count() + 1;
        // at most half full, so that a probe ends within a few slots
        let bits = (2 * distinct).next_power_of_two().trailing_zeros().max(1);
        let mut slots = vec![(0u16, 0u32, 0u32); 1 << bits].into_boxed_slice();
        let order: Vec<u32> = longer.iter().map(|&(_, id)| id).collect();
        let mut i = 0;
        while i < longer.len() {
            let key = longer[i].0;
            let mut j = i;
            while j < longer.len() && longer[j].0 == key {
                j += 1;
            }
            let mut at = Self::home(key, bits);
            while slots[at].1 != slots[at].2 {
                at = (at + 1) & (slots.len() - 1);
            }
            slots[at] = (key, i as u32, j as u32);
            i = j;
        }
        let words = lits
            .iter()
            .map(|l| {
                let mut w = [0u8; 16];
                let n = l.len().min(16);
                w[..n].copy_from_slice(&l[..n]);
                let mask = if n == 16 {
                    u128::MAX
                } else {
                    (1u128 << (8 * n)) - 1
                };
                (u128::from_le_bytes(w), mask)
            })
            .collect();
        Some(Self {
            lits: lits.iter().map(|l| l.clone().into_boxed_slice()).collect(),
            words,
            single,
            pairs,
            slots,
            bits,
            order,
            empty,
        })
    }

    fn home(key: u16, bits: u32) -> usize {
        (u32::from(key).wrapping_mul(0x9e37_79b1) >> (32 - bits)) as usize
    }

    /// The ids of the literals longer than one byte that begin with `key`.
    fn candidates(&self, key: u16) -> &[u32] {
        let mut at = Self::home(key, self.bits);
        loop {
            let (k, start, end) = self.slots[at];
            if start == end {
                return &[];
            }
            if k == key {
                return &self.order[start as usize..end as usize];
            }
            at = (at + 1) & (self.slots.len() - 1);
        }
    }

    /// Calls `f(start, id)` for every occurrence of every literal in `hay`,
    /// by increasing start (in no particular order within one start).
    pub(crate) fn each(&self, hay: &[u8], mut f: impl FnMut(usize, usize)) {
        for (i, &b) in hay.iter().enumerate() {
            for &id in &self.empty {
                f(i, id as usize);
            }
            let one = self.single[usize::from(b)];
            if one != NONE {
                f(i, one as usize);
            }
            let Some(&next) = hay.get(i + 1) else {
                break;
            };
            let key = pair(b, next);
            if self.pairs[usize::from(key >> 6)] & (1 << (key & 63)) == 0 {
                continue;
            }
            let rest = &hay[i..];
            let word = match rest.first_chunk::<16>() {
                Some(w) => u128::from_le_bytes(*w),
                None => {
                    let mut w = [0u8; 16];
                    w[..rest.len()].copy_from_slice(rest);
                    u128::from_le_bytes(w)
                }
            };
            for &id in self.candidates(key) {
                let (value, mask) = self.words[id as usize];
                let lit = &self.lits[id as usize];
                // the word answers for literals that fit it; the bytes
                // past the value's end are zero, so a literal longer than
                // the rest is checked by its length
                let hit = if lit.len() <= 16 {
                    lit.len() <= rest.len() && word & mask == value
                } else {
                    rest.starts_with(lit)
                };
                if hit {
                    f(i, id as usize);
                }
            }
        }
        // empty literals also occur at the end of the value
        for &id in &self.empty {
            f(hay.len(), id as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every occurrence by brute force, sorted.
    fn naive(lits: &[Vec<u8>], hay: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for i in 0..=hay.len() {
            for (id, l) in lits.iter().enumerate() {
                if hay[i..].starts_with(l) && (i < hay.len() || l.is_empty()) {
                    out.push((i, id));
                }
            }
        }
        out
    }

    #[test]
    fn finds_what_a_brute_force_search_finds() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let alphabet = 2 + (next() % 6) as u8;
            let count = 1 + (next() % 40) as usize;
            let lits: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let len = (next() % 6) as usize + usize::from(round % 7 != 0);
                    (0..len)
                        .map(|_| b'a' + (next() % u64::from(alphabet)) as u8)
                        .collect()
                })
                .collect();
            let hay: Vec<u8> = (0..(next() % 80) as usize)
                .map(|_| b'a' + (next() % u64::from(alphabet) + 1) as u8 - 1)
                .collect();
            let set = Literals::new(&lits).expect("not empty");
            let mut got = Vec::new();
            set.each(&hay, |s, id| got.push((s, id)));
            assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "start order");
            got.sort_unstable();
            let mut want = naive(&lits, &hay);
            // a duplicated one-byte literal is reported under its first id
            want.retain(|&(_, id)| {
                lits[id].len() != 1 || lits.iter().position(|l| *l == lits[id]) == Some(id)
            });
            assert_eq!(got, want, "literals {lits:?} in {hay:?}");
        }
    }

    #[test]
    fn an_empty_set_is_none() {
        assert!(Literals::new(&[]).is_none());
    }
}
