//! A sharded map whose entries expire by the injected clock and whose size is capped.
//!
//! Written here rather than taken from `moka`: expiry must follow the crate's
//! injected [`Clock`](crate::Clock) (tests move time without sleeping), and the
//! security stores must *refuse* new keys when full instead of silently
//! evicting live state (an evicted attempt counter is a reset limit).
//!
//! Every operation is O(1) amortized, also under a flood of new keys at
//! capacity: expired entries are purged at most once per second per shard,
//! and eviction removes an eighth of a shard at a time.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard};

use hashbrown::HashTable;

use crate::clock::Timestamp;

const SHARDS: usize = 16;
const PURGE_EVERY_MS: u64 = 1000;

/// What to do when a new key arrives and its shard is full of live entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WhenFull {
    /// Drop the entries closest to expiry (caches, recovered rate limits).
    EvictSoonest,
    /// Refuse the new key (security state: fail closed).
    Refuse,
}

/// The map was full of live entries and refused a new key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// One entry with its key hash, so a lookup hashes the key once (shard and
/// slot come from the same hash) and growth never rehashes keys.
struct Slot<K, V> {
    hash: u64,
    key: K,
    value: V,
    expires: Timestamp,
}

struct Shard<K, V> {
    table: HashTable<Slot<K, V>>,
    last_purge: Timestamp,
}

pub(crate) struct BoundedMap<K, V> {
    shards: Box<[Mutex<Shard<K, V>>]>,
    hasher: RandomState,
    per_shard: usize,
    when_full: WhenFull,
}

impl<K, V> std::fmt::Debug for BoundedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedMap")
            .field("capacity", &(self.per_shard * SHARDS))
            .field("when_full", &self.when_full)
            .finish_non_exhaustive()
    }
}

fn slot_hash<K, V>(s: &Slot<K, V>) -> u64 {
    s.hash
}

impl<K: Eq, V> Shard<K, V> {
    /// Makes room for one new key; `false` when the map must refuse it.
    fn make_room(&mut self, per_shard: usize, when_full: WhenFull, now: Timestamp) -> bool {
        if self.table.len() < per_shard {
            return true;
        }
        if now.as_millis() >= self.last_purge.as_millis().saturating_add(PURGE_EVERY_MS)
            || now < self.last_purge
        {
            self.last_purge = now;
            self.table.retain(|e| e.expires > now);
            if self.table.len() < per_shard {
                return true;
            }
        }
        match when_full {
            WhenFull::Refuse => false,
            WhenFull::EvictSoonest => {
                // Evict the eighth of the shard closest to expiry in one pass.
                let mut expiries: Vec<Timestamp> = self.table.iter().map(|e| e.expires).collect();
                let nth = (expiries.len() / 8).min(expiries.len().saturating_sub(1));
                let (_, cut, _) = expiries.select_nth_unstable(nth);
                let cut = *cut;
                self.table.retain(|e| e.expires > cut);
                if self.table.len() >= per_shard {
                    // Many entries share one expiry: drop arbitrary ones.
                    let mut budget = per_shard / 8 + 1;
                    self.table.retain(|_| {
                        if budget == 0 {
                            return true;
                        }
                        budget -= 1;
                        false
                    });
                }
                true
            }
        }
    }
}

impl<K: Hash + Eq, V> BoundedMap<K, V> {
    pub(crate) fn new(capacity: usize, when_full: WhenFull) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        table: HashTable::new(),
                        last_purge: Timestamp::default(),
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            per_shard,
            when_full,
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> (u64, MutexGuard<'_, Shard<K, V>>) {
        let hash = self.hasher.hash_one(key);
        // High bits pick the shard; the table uses the low ones.
        let idx = (hash >> 60) as usize % SHARDS;
        // A poisoned shard only means another thread panicked mid-update of a
        // plain value; the map itself is still consistent.
        let guard = self.shards[idx]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (hash, guard)
    }

    /// Reads a live entry.
    pub(crate) fn get<Q>(&self, key: &Q, now: Timestamp) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let (hash, shard) = self.shard(key);
        shard
            .table
            .find(hash, |s| s.key.borrow() == key)
            .filter(|e| e.expires > now)
            .map(|e| e.value.clone())
    }

    /// Atomically reads, changes and writes one key.
    ///
    /// `f` sees the live value (expired entries read as `None`) and returns the
    /// new value with its expiry (`None` removes the key) and a result.
    pub(crate) fn update<R>(
        &self,
        key: K,
        now: Timestamp,
        f: impl FnOnce(Option<(V, Timestamp)>) -> (Option<(V, Timestamp)>, R),
    ) -> Result<R, Full> {
        let (hash, mut shard) = self.shard(&key);
        let current = match shard.table.find_entry(hash, |s| s.key == key) {
            Ok(entry) => {
                let (slot, _) = entry.remove();
                (slot.expires > now).then_some((slot.value, slot.expires))
            }
            Err(_) => None,
        };
        let existed = current.is_some();
        let (next, out) = f(current);
        if let Some((value, expires)) = next {
            if expires <= now {
                return Ok(out);
            }
            if !existed && !shard.make_room(self.per_shard, self.when_full, now) {
                return Err(Full);
            }
            let slot = Slot {
                hash,
                key,
                value,
                expires,
            };
            shard.table.insert_unique(hash, slot, slot_hash);
        }
        Ok(out)
    }

    /// Like [`BoundedMap::update`] for small `Copy` values, changing a live
    /// entry in place.
    pub(crate) fn update_copy<R>(
        &self,
        key: &K,
        now: Timestamp,
        f: impl FnOnce(Option<(V, Timestamp)>) -> (Option<(V, Timestamp)>, R),
    ) -> Result<R, Full>
    where
        V: Copy,
        K: Clone,
    {
        let (hash, mut shard) = self.shard(key);
        if let Ok(mut entry) = shard.table.find_entry(hash, |s| s.key == *key) {
            let slot = entry.get_mut();
            if slot.expires > now {
                let (next, out) = f(Some((slot.value, slot.expires)));
                match next {
                    Some((v, exp)) if exp > now => {
                        slot.value = v;
                        slot.expires = exp;
                    }
                    _ => {
                        entry.remove();
                    }
                }
                return Ok(out);
            }
            entry.remove();
        }
        let (next, out) = f(None);
        if let Some((value, expires)) = next
            && expires > now
        {
            if !shard.make_room(self.per_shard, self.when_full, now) {
                return Err(Full);
            }
            let slot = Slot {
                hash,
                key: key.clone(),
                value,
                expires,
            };
            shard.table.insert_unique(hash, slot, slot_hash);
        }
        Ok(out)
    }

    /// Removes a key, returning its live value.
    pub(crate) fn remove<Q>(&self, key: &Q, now: Timestamp) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, mut shard) = self.shard(key);
        match shard.table.find_entry(hash, |s| s.key.borrow() == key) {
            Ok(entry) => {
                let (slot, _) = entry.remove();
                (slot.expires > now).then_some(slot.value)
            }
            Err(_) => None,
        }
    }

    /// Number of entries, live or not yet purged.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .table
                    .len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn expired_entries_read_as_absent() {
        let m = BoundedMap::new(16, WhenFull::Refuse);
        m.update("a", t(0), |_| (Some((1, t(10))), ())).unwrap();
        assert_eq!(m.get("a", t(9)), Some(1));
        assert_eq!(m.get("a", t(10)), None);
    }

    #[test]
    fn refuse_keeps_live_entries_when_full() {
        let m = BoundedMap::new(1, WhenFull::Refuse);
        // capacity 1 rounds up to one entry per shard: fill every shard.
        let mut refused = 0;
        for i in 0..200u32 {
            if m.update(i, t(0), |_| (Some((i, t(100))), ())).is_err() {
                refused += 1;
            }
        }
        assert_eq!(m.len(), SHARDS);
        assert_eq!(refused, 200 - SHARDS);
        // once entries expire, new keys fit again
        assert!(m.update(1000, t(100), |_| (Some((0, t(200))), ())).is_ok());
    }

    #[test]
    fn evict_soonest_never_grows_past_capacity() {
        let m = BoundedMap::new(32 * SHARDS, WhenFull::EvictSoonest);
        for i in 0..100_000u64 {
            m.update(i, t(0), |_| (Some((i, t(1 + i))), ())).unwrap();
        }
        assert!(m.len() <= 32 * SHARDS, "{}", m.len());
        // the latest insert is always kept, the oldest are gone
        assert_eq!(m.get(&99_999, t(0)), Some(99_999));
        assert_eq!(m.get(&0, t(0)), None);
    }

    #[test]
    fn update_copy_changes_in_place_and_respects_capacity() {
        let m: BoundedMap<u32, u64> = BoundedMap::new(SHARDS, WhenFull::EvictSoonest);
        for i in 0..1000u32 {
            m.update_copy(&i, t(0), |cur| {
                (Some((cur.map_or(1, |(v, _)| v + 1), t(10))), ())
            })
            .unwrap();
        }
        assert!(m.len() <= SHARDS + SHARDS / 8 + 1);
        m.update_copy(&5000, t(0), |_| (Some((1, t(10))), ()))
            .unwrap();
        let n = m.update_copy(&5000, t(1), |cur| {
            let v = cur.map_or(0, |(v, _)| v) + 1;
            (Some((v, t(10))), v)
        });
        assert_eq!(n, Ok(2));
        // an expired entry reads as absent
        let n = m.update_copy(&5000, t(10), |cur| (None, cur.is_some()));
        assert_eq!(n, Ok(false));
    }
}
