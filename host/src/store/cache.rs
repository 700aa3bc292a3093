//! Values read lately, kept in memory so that a hot key is answered on the spot: no
//! trip to one of the store's threads, which costs more than the rest of a small
//! request.
//!
//! Exact, not merely recent: the host holds its database file alone, so every change
//! goes through the store's writer, and the writer marks each key it changes
//! ([`Cache::writing`]) from before its transaction until after it commits. A marked
//! key is not cached, and a read that missed keeps its value only if no write touched
//! the key's shard since the read began and none is under way, so a value read before
//! a write never lands after it.
//!
//! Bounded: values up to [`MAX_CACHED_VALUE`] bytes, [`CACHE_BYTES`] in all; a full
//! shard forgets arbitrary entries to make room.

use super::Scope;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The most bytes (keys and values) the cache holds.
pub const CACHE_BYTES: usize = 32 * 1024 * 1024;
/// The largest value cached.
pub const MAX_CACHED_VALUE: usize = 64 * 1024;
/// Shards, each with its own lock, so that lookups seldom wait for each other.
const SHARDS: usize = 16;
/// What an entry costs beyond its key and value.
const ENTRY_OVERHEAD: usize = 64;

/// The cache of one store.
pub struct Cache {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    /// The most bytes one shard holds.
    shard_bytes: usize,
}

#[derive(Default)]
struct Shard {
    values: HashMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
    /// Bumped when a write to one of the shard's keys starts and when it ends.
    writes: u64,
    /// Writes to the shard's keys under way.
    writing: usize,
}

/// Where a read that missed stood against writes when it began.
pub struct Ticket {
    shard: usize,
    writes: u64,
    key: Vec<u8>,
}

impl Cache {
    /// An empty cache holding at most `bytes`.
    pub fn new(bytes: usize) -> Cache {
        Cache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            shard_bytes: bytes / SHARDS,
        }
    }

    /// The value under `key`, if cached; else the ticket to [`fill`](Cache::fill) it
    /// with once read.
    pub fn get(&self, scope: Scope<'_>, key: &str) -> Result<Vec<u8>, Ticket> {
        let key = encode(scope, key);
        let index = self.index(&key);
        let shard = self.shard(index);
        match shard.values.get(&key) {
            Some(value) => Ok(value.clone()),
            None => Err(Ticket {
                shard: index,
                writes: shard.writes,
                key,
            }),
        }
    }

    /// Keeps `value`, read since `ticket` was taken, unless a write to its shard
    /// started since or is under way, or it is too large.
    pub fn fill(&self, ticket: Ticket, value: &[u8]) {
        if value.len() > MAX_CACHED_VALUE {
            return;
        }
        let mut shard = self.shard(ticket.shard);
        if shard.writes != ticket.writes || shard.writing > 0 {
            return;
        }
        let cost = ticket.key.len() + value.len() + ENTRY_OVERHEAD;
        while shard.bytes + cost > self.shard_bytes {
            let Some(victim) = shard.values.keys().next().cloned() else {
                return;
            };
            shard.forget(&victim);
        }
        shard.bytes += cost;
        shard.values.insert(ticket.key, value.to_vec());
    }

    /// Marks `keys` as being written until the returned guard is dropped (after the
    /// write committed or failed): they are forgotten now and then, and no read fills
    /// its shard meanwhile.
    pub fn writing<'k>(
        &self,
        scope: Scope<'_>,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Writing<'_> {
        let keys: Vec<(usize, Vec<u8>)> = keys
            .into_iter()
            .map(|key| {
                let key = encode(scope, key);
                (self.index(&key), key)
            })
            .collect();
        for (index, key) in &keys {
            let mut shard = self.shard(*index);
            shard.writing += 1;
            shard.writes += 1;
            shard.forget(key);
        }
        Writing { cache: self, keys }
    }

    fn index(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) % SHARDS as u64) as usize
    }

    fn shard(&self, index: usize) -> MutexGuard<'_, Shard> {
        // Every change to a shard is complete before the lock is released.
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Shard {
    fn forget(&mut self, key: &[u8]) {
        if let Some(value) = self.values.remove(key) {
            self.bytes -= key.len() + value.len() + ENTRY_OVERHEAD;
        }
    }
}

/// Keys being written; see [`Cache::writing`].
pub struct Writing<'a> {
    cache: &'a Cache,
    keys: Vec<(usize, Vec<u8>)>,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        for (index, key) in &self.keys {
            let mut shard = self.cache.shard(*index);
            shard.writing -= 1;
            shard.writes += 1;
            shard.forget(key);
        }
    }
}

/// A namespace, bucket and key as one byte string, each but the last prefixed by its
/// length so that no two triples meet.
fn encode(scope: Scope<'_>, key: &str) -> Vec<u8> {
    let mut encoded =
        Vec::with_capacity(16 + scope.namespace.len() + scope.bucket.len() + key.len());
    for part in [scope.namespace, scope.bucket] {
        encoded.extend_from_slice(&(part.len() as u64).to_le_bytes());
        encoded.extend_from_slice(part.as_bytes());
    }
    encoded.extend_from_slice(key.as_bytes());
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOG: Scope<'static> = Scope {
        namespace: "blog",
        bucket: "posts",
        quota_bytes: u64::MAX,
    };

    fn read(cache: &Cache, key: &str, stored: &[u8]) -> Vec<u8> {
        cache.get(BLOG, key).unwrap_or_else(|ticket| {
            cache.fill(ticket, stored);
            stored.to_vec()
        })
    }

    #[test]
    fn a_read_fills_and_a_write_forgets() {
        let cache = Cache::new(CACHE_BYTES);
        assert_eq!(read(&cache, "a", b"one"), b"one");
        assert_eq!(cache.get(BLOG, "a").ok(), Some(b"one".to_vec()));
        drop(cache.writing(BLOG, ["a"]));
        assert!(cache.get(BLOG, "a").is_err());
        // Triples that would run together unprefixed stay apart.
        let other = Scope {
            namespace: "blogposts",
            bucket: "",
            ..BLOG
        };
        read(&cache, "a", b"one");
        assert!(cache.get(other, "a").is_err());
    }

    #[test]
    fn a_read_that_raced_a_write_does_not_fill() {
        let cache = Cache::new(CACHE_BYTES);
        // Read before the write, kept after it started: refused.
        let early = cache.get(BLOG, "a").unwrap_err();
        let write = cache.writing(BLOG, ["a"]);
        cache.fill(early, b"old");
        // Read while it is under way: refused, even once it is over.
        let during = cache.get(BLOG, "a").unwrap_err();
        cache.fill(cache.get(BLOG, "a").unwrap_err(), b"new");
        assert!(cache.get(BLOG, "a").is_err());
        drop(write);
        cache.fill(during, b"new");
        assert!(cache.get(BLOG, "a").is_err());
        // Read after it: kept.
        read(&cache, "a", b"new");
        assert_eq!(cache.get(BLOG, "a").ok(), Some(b"new".to_vec()));
    }

    #[test]
    fn the_cache_stays_within_its_bytes() {
        let cache = Cache::new(SHARDS * 4096);
        assert!(read(&cache, "big", &[0; MAX_CACHED_VALUE + 1]).len() > MAX_CACHED_VALUE);
        assert!(cache.get(BLOG, "big").is_err());
        for i in 0..1000 {
            read(&cache, &format!("k{i}"), &[1; 100]);
        }
        for shard in cache.shards.iter() {
            let shard = shard.lock().unwrap();
            assert!(shard.bytes <= 4096, "{}", shard.bytes);
            let counted: usize = shard
                .values
                .iter()
                .map(|(key, value)| key.len() + value.len() + ENTRY_OVERHEAD)
                .sum();
            assert_eq!(shard.bytes, counted);
        }
        assert!(cache.get(BLOG, "k999").is_ok());
    }
}
