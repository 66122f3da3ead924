//! Small read-through caches for the hot paths (the API key of every request, the route table
//! of every send), where a database round trip per request would cost more than the work
//! itself. A lookup is one hash-map read under a read lock.
//!
//! What they hold is kept fresh by eviction, not by expiry: every process listens for the
//! changes announced with each write ([`crate::changes`]) and evicts at once. The time to live
//! only bounds how stale an entry can get should a change go unheard (a listener cut off
//! without noticing).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long an entry may be served without being reloaded. Changes evict at once (announced
/// and heard by every process); this covers only a change that was never heard.
pub const TTL: Duration = Duration::from_secs(60);

/// Entries kept before expired ones are dropped (and, if still over, everything): a flood of
/// unknown API keys cannot grow a cache without bound.
const MAX_ENTRIES: usize = 50_000;

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: RwLock<HashMap<K, (Instant, Arc<V>)>>,
    /// Bumped by every eviction (under the write lock). A load that started before an eviction
    /// may have read what the eviction was for, so it is not stored.
    evictions: AtomicU64,
}

impl<K: Eq + Hash + Clone, V> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
            evictions: AtomicU64::new(0),
        }
    }

    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// The cached value, or `load`'s, stored unless something was evicted while it loaded
    /// (the load may then hold what the eviction was for: it is returned but not kept).
    pub async fn get_or_load<E>(
        &self,
        key: &K,
        load: impl AsyncFnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        if let Some(found) = self.get(key) {
            return Ok(found);
        }
        let before = self.evictions.load(Ordering::Acquire);
        let value = Arc::new(load().await?);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.evictions.load(Ordering::Acquire) == before {
            if entries.len() >= MAX_ENTRIES {
                let ttl = self.ttl;
                entries.retain(|_, (at, _)| at.elapsed() < ttl);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key.clone(), (Instant::now(), value.clone()));
        }
        Ok(value)
    }

    pub fn evict(&self, key: &K) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
        self.evictions.fetch_add(1, Ordering::AcqRel);
    }

    pub fn clear(&self) {
        self.retain(|_, _| false);
    }

    /// Keeps only the entries `keep` accepts.
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|k, (_, v)| keep(k, v));
        self.evictions.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put<V>(cache: &TtlCache<u32, V>, key: u32, value: V) -> Arc<V> {
        futures::executor::block_on(
            cache.get_or_load(&key, async || Ok::<_, std::convert::Infallible>(value)),
        )
        .unwrap()
    }

    #[test]
    fn entries_expire_and_can_be_evicted() {
        let cache = TtlCache::new(Duration::from_millis(30));
        put(&cache, 1, "a");
        assert_eq!(cache.get(&1).as_deref(), Some(&"a"));
        cache.evict(&1);
        assert!(cache.get(&1).is_none());
        put(&cache, 2, "b");
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(&2).is_none());
    }

    #[test]
    fn a_cached_value_is_not_loaded_again() {
        let cache = TtlCache::new(TTL);
        put(&cache, 1, "first");
        let found = futures::executor::block_on(
            cache.get_or_load(&1, async || Err::<&str, _>("loaded although cached")),
        );
        assert_eq!(found.as_deref(), Ok(&"first"));
    }

    #[test]
    fn a_load_overtaken_by_an_eviction_is_returned_but_not_kept() {
        let cache = TtlCache::new(TTL);
        let loaded = futures::executor::block_on(cache.get_or_load(&1, async || {
            // The change this load may have missed is heard while it runs.
            cache.evict(&7);
            Ok::<_, std::convert::Infallible>("read before the change")
        }));
        assert_eq!(loaded.unwrap().as_ref(), &"read before the change");
        assert!(cache.get(&1).is_none());
        put(&cache, 1, "read after");
        assert_eq!(cache.get(&1).as_deref(), Some(&"read after"));
    }

    #[test]
    fn retain_keeps_what_it_is_told() {
        let cache = TtlCache::new(TTL);
        put(&cache, 1, 10);
        put(&cache, 2, 20);
        cache.retain(|_, v| *v != 10);
        assert!(cache.get(&1).is_none());
        assert_eq!(cache.get(&2).as_deref(), Some(&20));
        cache.clear();
        assert!(cache.get(&2).is_none());
    }
}
