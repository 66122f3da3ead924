//! Small read-through caches for the accept path, where a database round trip per request
//! would cost more than the insert itself. Entries live `ttl`; this process evicts them at
//! once when it changes what they cache (revoking a key, editing a provider or its prices).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: RwLock<HashMap<K, (Instant, Arc<V>)>>,
}

impl<K: Eq + Hash + Clone, V> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: K, value: V) -> Arc<V> {
        let value = Arc::new(value);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 10_000 {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        entries.insert(key, (Instant::now(), value.clone()));
        value
    }

    pub fn evict(&self, key: &K) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_evicted() {
        let cache = TtlCache::new(Duration::from_millis(30));
        cache.put(1, "a");
        assert_eq!(cache.get(&1).as_deref(), Some(&"a"));
        cache.evict(&1);
        assert!(cache.get(&1).is_none());
        cache.put(2, "b");
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(&2).is_none());
    }
}
