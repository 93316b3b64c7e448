//! A small bounded concurrent cache: sharded maps that are emptied when full. Used where a
//! miss only costs recomputation (tokens already verified, codes already signed, bearer
//! tokens already looked up), so memory stays bounded under any load without an LRU's
//! bookkeeping on the hot path.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;

const SHARDS: usize = 32;

/// A sharded map holding at most `capacity` entries.
#[derive(Debug)]
pub struct BoundedCache<K, V> {
    shards: Vec<Mutex<HashMap<K, V>>>,
    per_shard: usize,
    hasher: RandomState,
}

impl<K: Hash + Eq, V: Clone> BoundedCache<K, V> {
    /// A cache of at most `capacity` entries (at least one per shard).
    pub fn new(capacity: usize) -> Self {
        BoundedCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: (capacity / SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &K) -> &Mutex<HashMap<K, V>> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        &self.shards[i]
    }

    /// The cached value, if present.
    pub fn get(&self, key: &K) -> Option<V> {
        let shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        shard.get(key).cloned()
    }

    /// Caches a value, emptying the shard first if it is full.
    pub fn put(&self, key: K, value: V) {
        let mut shard = self.shard(&key).lock().unwrap_or_else(|p| p.into_inner());
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.clear();
        }
        shard.insert(key, value);
    }

    /// Removes one entry.
    pub fn remove(&self, key: &K) {
        self.shard(key)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Empties the cache.
    pub fn clear(&self) {
        for s in &self.shards {
            s.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// Number of entries (approximate under concurrent writes).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_holds_more_than_its_capacity() {
        let c = BoundedCache::new(64);
        for i in 0..10_000u32 {
            c.put(i, i);
        }
        assert!(c.len() <= 64, "len {}", c.len());
        c.put(7, 70);
        assert_eq!(c.get(&7), Some(70));
    }
}
