//! A sharded map whose entries expire by the injected clock and whose size is capped.
//!
//! Written here rather than taken from `moka`: expiry must follow the crate's
//! injected [`Clock`](crate::Clock) (tests move time without sleeping), and the
//! security stores must *refuse* new keys when full instead of silently
//! evicting live state (an evicted attempt counter is a reset limit).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard};

use crate::clock::Timestamp;

const SHARDS: usize = 16;

/// What to do when a new key arrives and its shard is full of live entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WhenFull {
    /// Drop the entry closest to expiry (caches).
    EvictSoonest,
    /// Refuse the new key (security state: fail closed).
    Refuse,
}

/// The map was full of live entries and refused a new key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

#[derive(Debug)]
struct Entry<V> {
    value: V,
    expires: Timestamp,
}

type Shard<K, V> = Mutex<HashMap<K, Entry<V>>>;

pub(crate) struct BoundedMap<K, V> {
    shards: Box<[Shard<K, V>]>,
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

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    pub(crate) fn new(capacity: usize, when_full: WhenFull) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            per_shard,
            when_full,
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, HashMap<K, Entry<V>>> {
        let idx = (self.hasher.hash_one(key) as usize) % SHARDS;
        // A poisoned shard only means another thread panicked mid-update of a
        // plain value; the map itself is still consistent.
        self.shards[idx]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads a live entry.
    pub(crate) fn get<Q>(&self, key: &Q, now: Timestamp) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let shard = self.shard(key);
        shard
            .get(key)
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
        let mut shard = self.shard(&key);
        let current = shard
            .remove(&key)
            .filter(|e| e.expires > now)
            .map(|e| (e.value, e.expires));
        let existed = current.is_some();
        let (next, out) = f(current);
        if let Some((value, expires)) = next {
            if expires <= now {
                return Ok(out);
            }
            if !existed && shard.len() >= self.per_shard {
                shard.retain(|_, e| e.expires > now);
                if shard.len() >= self.per_shard {
                    match self.when_full {
                        WhenFull::Refuse => return Err(Full),
                        WhenFull::EvictSoonest => {
                            let soonest = shard
                                .iter()
                                .min_by_key(|(_, e)| e.expires)
                                .map(|(k, _)| k.clone());
                            if let Some(k) = soonest {
                                shard.remove(&k);
                            }
                        }
                    }
                }
            }
            shard.insert(key, Entry { value, expires });
        }
        Ok(out)
    }

    /// Removes a key, returning its live value.
    pub(crate) fn remove<Q>(&self, key: &Q, now: Timestamp) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key)
            .remove(key)
            .filter(|e| e.expires > now)
            .map(|e| e.value)
    }

    /// Number of entries, live or not yet purged.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let m = BoundedMap::new(32, WhenFull::EvictSoonest);
        for i in 0..10_000u64 {
            m.update(i, t(0), |_| (Some((i, t(1 + i))), ())).unwrap();
        }
        assert!(m.len() <= 32);
        // the latest insert is always kept
        assert_eq!(m.get(&9_999, t(0)), Some(9_999));
    }
}
