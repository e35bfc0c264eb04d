//! The item store: memory-bounded, sharded, with CLOCK eviction, TTL expiry and CAS.
//!
//! Keys hash to one of many shards, each behind its own mutex, so threads working on different
//! keys rarely meet; there is no global lock. Memory is counted in one atomic: every item is
//! charged its key, its (usually compressed) value and its bookkeeping ([`item::charged_size`]).
//! When an insert pushes the total past the limit, items are evicted, starting with the inserting
//! shard and then round-robin, until the total is under the limit again.
//!
//! Eviction is CLOCK (second chance) per shard: a FIFO of keys where a hit sets a bit and the
//! hand gives such items one more lap. It approximates LRU without moving anything on a hit,
//! which keeps reads cheap. Expired items are dropped lazily when touched, by the hand, and by
//! [`Store::crawl_expired`], which the server runs in the background.
//!
//! The store knows nothing of sockets or of the protocol: the command layer calls it.

pub mod item;

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::is_expired;
pub use item::{charged_size, Item, ItemSnapshot};

/// Number of shards: enough that a few dozen threads rarely contend.
const SHARDS: usize = 64;

/// What a store operation requires of the key's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Store unconditionally (`set`).
    Always,
    /// Only when the key holds a live item (`replace`, `append`, `prepend`).
    Exists,
    /// Only when the key holds no live item (`add`).
    Absent,
    /// Only when the live item's CAS equals this (`cas`).
    CasEquals(u64),
}

/// The outcome of a conditional store or delete, mapping one-to-one onto memcached's replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (`STORED`, `DELETED`). Carries the new CAS for stores.
    Done(u64),
    /// The condition failed on presence (`NOT_STORED`).
    NotStored,
    /// A CAS condition met a different version (`EXISTS`).
    Exists,
    /// A CAS condition or delete met no item (`NOT_FOUND`).
    NotFound,
}

/// Counters the store keeps; the server adds them to `stats`.
#[derive(Debug, Default)]
pub struct StoreCounters {
    pub evictions: AtomicU64,
    pub expired_unfetched: AtomicU64,
    pub evicted_unfetched: AtomicU64,
    pub reclaimed: AtomicU64,
    pub total_items: AtomicU64,
    pub crawler_reclaimed: AtomicU64,
}

struct Shard {
    map: HashMap<Arc<[u8]>, Item>,
    /// CLOCK order. May hold keys already removed from `map` (checked by pointer identity when
    /// the hand reaches them); compacted when such entries outnumber live ones.
    queue: VecDeque<Arc<[u8]>>,
    /// Bytes charged to this shard.
    bytes: usize,
    /// Bytes of raw (uncompressed) values held, for the compression stats.
    raw_bytes: usize,
    compressed_items: usize,
    /// Where the expiry crawler resumes in `queue`.
    crawl_cursor: usize,
}

impl Shard {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
            queue: VecDeque::new(),
            bytes: 0,
            raw_bytes: 0,
            compressed_items: 0,
            crawl_cursor: 0,
        }
    }
}

/// Aggregate figures for `stats`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StoreTotals {
    pub items: usize,
    pub bytes: usize,
    pub raw_value_bytes: usize,
    pub held_value_bytes: usize,
    pub compressed_items: usize,
}

/// The cache's items.
pub struct Store {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    limit: usize,
    used: AtomicUsize,
    held_value_bytes: AtomicUsize,
    next_cas: AtomicU64,
    evict_cursor: AtomicUsize,
    pub counters: StoreCounters,
}

impl Store {
    /// A store that holds at most `limit` bytes of items.
    pub fn new(limit: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            hasher: RandomState::new(),
            limit,
            used: AtomicUsize::new(0),
            held_value_bytes: AtomicUsize::new(0),
            next_cas: AtomicU64::new(1),
            evict_cursor: AtomicUsize::new(0),
            counters: StoreCounters::default(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes currently charged for items.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// A fresh CAS token.
    pub fn next_cas(&self) -> u64 {
        self.next_cas.fetch_add(1, Ordering::Relaxed)
    }

    fn shard_index(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    fn lock(&self, index: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard lock cannot leave a half-updated item behind (updates
        // are single assignments), so a poisoned lock is still safe to use.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Runs `f` on the live item under `key` while holding its shard lock. Expired items are
    /// removed on the way and count as absent. `f` may update metadata (expiry, flags, bits)
    /// but not the value, whose size the store has charged.
    pub fn access<R>(&self, key: &[u8], now: u32, f: impl FnOnce(&mut Item) -> R) -> Option<R> {
        let index = self.shard_index(key);
        let mut shard = self.lock(index);
        let expired = match shard.map.get_mut(key) {
            None => return None,
            Some(item) if is_expired(item.expiry, now) => true,
            Some(item) => return Some(f(item)),
        };
        debug_assert!(expired);
        self.remove_locked(&mut shard, key, true);
        None
    }

    /// A copy of the live item under `key`, marking it referenced and fetched.
    pub fn get(&self, key: &[u8], now: u32) -> Option<ItemSnapshot> {
        self.access(key, now, |item| {
            item.referenced = true;
            item.last_access = now;
            let snapshot = item.clone();
            item.fetched = true;
            snapshot
        })
    }

    /// Stores `item` under `key` if `condition` holds, giving it a new CAS (or `cas` when the
    /// client chose one). Returns what memcached would reply.
    pub fn store(
        &self,
        key: &[u8],
        mut item: Item,
        condition: Condition,
        now: u32,
        cas: Option<u64>,
    ) -> Outcome {
        let index = self.shard_index(key);
        let mut shard = self.lock(index);
        let live = match shard.map.get(key) {
            Some(old) if is_expired(old.expiry, now) => {
                self.remove_locked(&mut shard, key, true);
                None
            }
            Some(old) => Some(old.cas),
            None => None,
        };
        match (condition, live) {
            (Condition::Exists, None) | (Condition::Absent, Some(_)) => return Outcome::NotStored,
            (Condition::CasEquals(_), None) => return Outcome::NotFound,
            (Condition::CasEquals(want), Some(have)) if want != have => return Outcome::Exists,
            _ => {}
        }
        item.cas = cas.unwrap_or_else(|| self.next_cas());
        let new_cas = item.cas;
        let charge = charged_size(key.len(), &item.value);
        self.charge(&mut shard, &item, charge as isize, 1);
        if let Some(old) = shard.map.get_mut(key) {
            item.referenced = old.referenced;
            let old = std::mem::replace(old, item);
            let old_charge = charged_size(key.len(), &old.value);
            self.charge(&mut shard, &old, -(old_charge as isize), -1);
        } else {
            let key: Arc<[u8]> = Arc::from(key);
            shard.queue.push_back(key.clone());
            shard.map.insert(key, item);
        }
        self.counters.total_items.fetch_add(1, Ordering::Relaxed);
        drop(shard);
        self.enforce_limit(index, now);
        Outcome::Done(new_cas)
    }

    /// Deletes `key`; with `cas`, only that version.
    pub fn delete(&self, key: &[u8], now: u32, cas: Option<u64>) -> Outcome {
        let index = self.shard_index(key);
        let mut shard = self.lock(index);
        let found = match shard.map.get(key) {
            None => None,
            Some(item) if is_expired(item.expiry, now) => None,
            Some(item) => Some(item.cas),
        };
        match (found, cas) {
            (None, _) => {
                if shard.map.contains_key(key) {
                    self.remove_locked(&mut shard, key, true);
                }
                Outcome::NotFound
            }
            (Some(have), Some(want)) if have != want => Outcome::Exists,
            (Some(have), _) => {
                self.remove_locked(&mut shard, key, false);
                Outcome::Done(have)
            }
        }
    }

    /// Removes `key` only if it still holds version `cas`: used to drop an item found corrupt
    /// without racing a concurrent writer.
    pub fn remove_version(&self, key: &[u8], cas: u64) -> bool {
        let index = self.shard_index(key);
        let mut shard = self.lock(index);
        if shard.map.get(key).is_some_and(|item| item.cas == cas) {
            self.remove_locked(&mut shard, key, false);
            true
        } else {
            false
        }
    }

    /// Removes every item (`flush_all`).
    pub fn flush(&self) {
        for index in 0..SHARDS {
            let mut shard = self.lock(index);
            let bytes = shard.bytes;
            let held: usize = shard.map.values().map(|i| i.value.held_len()).sum();
            shard.map = HashMap::new();
            shard.queue = VecDeque::new();
            shard.bytes = 0;
            shard.raw_bytes = 0;
            shard.compressed_items = 0;
            shard.crawl_cursor = 0;
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            self.held_value_bytes.fetch_sub(held, Ordering::Relaxed);
        }
    }

    /// Drops expired items among the next `budget` queue positions of every shard, resuming
    /// where the previous call stopped, so repeated calls sweep the whole store while each
    /// holds a shard lock for a bounded time. Returns how many were dropped.
    pub fn crawl_expired(&self, now: u32, budget: usize) -> usize {
        let mut reclaimed = 0;
        for index in 0..SHARDS {
            let mut shard = self.lock(index);
            if shard.queue.is_empty() {
                continue;
            }
            let start = shard.crawl_cursor % shard.queue.len();
            let end = (start + budget).min(shard.queue.len());
            let dead: Vec<Arc<[u8]>> = shard
                .queue
                .range(start..end)
                .filter(|key| {
                    shard
                        .map
                        .get(&key[..])
                        .is_some_and(|item| is_expired(item.expiry, now))
                })
                .cloned()
                .collect();
            shard.crawl_cursor = if end == shard.queue.len() { 0 } else { end };
            for key in dead {
                self.remove_locked(&mut shard, &key, true);
                reclaimed += 1;
            }
        }
        self.counters
            .crawler_reclaimed
            .fetch_add(reclaimed as u64, Ordering::Relaxed);
        reclaimed
    }

    /// Totals across shards (locks each shard briefly).
    pub fn totals(&self) -> StoreTotals {
        let mut t = StoreTotals::default();
        for index in 0..SHARDS {
            let shard = self.lock(index);
            t.items += shard.map.len();
            t.bytes += shard.bytes;
            t.raw_value_bytes += shard.raw_bytes;
            t.compressed_items += shard.compressed_items;
        }
        t.held_value_bytes = self.held_value_bytes.load(Ordering::Relaxed);
        t
    }

    /// Runs `f` on the stored value of `key` as it is in memory, for fault-injection tests.
    #[doc(hidden)]
    pub fn with_stored_bytes_mut(&self, key: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> bool {
        let index = self.shard_index(key);
        let mut shard = self.lock(index);
        match shard.map.get_mut(key) {
            Some(item) => {
                let mut bytes = item.value.bytes.to_vec();
                f(&mut bytes);
                item.value.bytes = Arc::from(bytes);
                true
            }
            None => false,
        }
    }

    fn charge(&self, shard: &mut Shard, item: &Item, bytes: isize, sign: isize) {
        let raw = item.value.raw_len as isize * sign;
        let held = item.value.held_len() as isize * sign;
        shard.bytes = (shard.bytes as isize + bytes) as usize;
        shard.raw_bytes = (shard.raw_bytes as isize + raw) as usize;
        if item.value.compressed {
            shard.compressed_items = (shard.compressed_items as isize + sign) as usize;
        }
        if bytes >= 0 {
            self.used.fetch_add(bytes as usize, Ordering::Relaxed);
            self.held_value_bytes
                .fetch_add(held as usize, Ordering::Relaxed);
        } else {
            self.used.fetch_sub((-bytes) as usize, Ordering::Relaxed);
            self.held_value_bytes
                .fetch_sub((-held) as usize, Ordering::Relaxed);
        }
    }

    fn remove_locked(&self, shard: &mut Shard, key: &[u8], expired: bool) {
        if let Some((key, item)) = shard.map.remove_entry(key) {
            let charge = charged_size(key.len(), &item.value);
            self.charge(shard, &item, -(charge as isize), -1);
            if expired {
                self.counters.reclaimed.fetch_add(1, Ordering::Relaxed);
                if !item.fetched {
                    self.counters
                        .expired_unfetched
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            if shard.queue.len() > 2 * shard.map.len() + 64 {
                compact_queue(shard);
            }
        }
    }

    /// Evicts until the charged total is within the limit: first from the shard that just grew,
    /// then from the others in turn.
    fn enforce_limit(&self, first: usize, now: u32) {
        let mut index = first;
        let mut empty_in_a_row = 0;
        while self.used() > self.limit && empty_in_a_row < SHARDS {
            let mut shard = self.lock(index);
            if self.evict_one(&mut shard, now) {
                empty_in_a_row = 0;
            } else {
                empty_in_a_row += 1;
                drop(shard);
                index = self.evict_cursor.fetch_add(1, Ordering::Relaxed) % SHARDS;
            }
        }
    }

    /// Advances this shard's CLOCK hand until one item is removed. False if the shard is empty.
    fn evict_one(&self, shard: &mut Shard, now: u32) -> bool {
        // Each live item can be passed over at most once (its bit is cleared), so this loop
        // ends within 2 × queue length steps.
        while let Some(key) = shard.queue.pop_front() {
            let Some((stored_key, item)) = shard.map.get_key_value(&key[..]) else {
                continue;
            };
            if !Arc::ptr_eq(stored_key, &key) {
                continue;
            }
            if is_expired(item.expiry, now) {
                self.remove_locked(shard, &key, true);
                return true;
            }
            if item.referenced {
                if let Some(item) = shard.map.get_mut(&key[..]) {
                    item.referenced = false;
                }
                shard.queue.push_back(key);
                continue;
            }
            if !item.fetched {
                self.counters
                    .evicted_unfetched
                    .fetch_add(1, Ordering::Relaxed);
            }
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
            self.remove_locked(shard, &key, false);
            return true;
        }
        false
    }
}

/// Drops queue entries whose key is no longer (or no longer the same allocation) in the map.
fn compact_queue(shard: &mut Shard) {
    let map = &shard.map;
    shard.queue.retain(|key| {
        map.get_key_value(&key[..])
            .is_some_and(|(stored, _)| Arc::ptr_eq(stored, key))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::StoredValue;

    fn item(len: usize, expiry: u32) -> Item {
        let value = StoredValue {
            bytes: Arc::from(vec![7u8; len]),
            raw_len: len as u32,
            crc: 0,
            compressed: false,
        };
        Item::new(value, 0, expiry, 10)
    }

    #[test]
    fn conditions_map_to_memcached_outcomes() {
        let s = Store::new(1 << 20);
        assert_eq!(
            s.store(b"k", item(1, 0), Condition::Exists, 10, None),
            Outcome::NotStored
        );
        let Outcome::Done(cas) = s.store(b"k", item(1, 0), Condition::Absent, 10, None) else {
            panic!("add failed");
        };
        assert_eq!(
            s.store(b"k", item(1, 0), Condition::Absent, 10, None),
            Outcome::NotStored
        );
        assert_eq!(
            s.store(b"k", item(1, 0), Condition::CasEquals(cas + 100), 10, None),
            Outcome::Exists
        );
        assert!(matches!(
            s.store(b"k", item(1, 0), Condition::CasEquals(cas), 10, None),
            Outcome::Done(_)
        ));
        assert_eq!(
            s.store(b"x", item(1, 0), Condition::CasEquals(1), 10, None),
            Outcome::NotFound
        );
        assert!(matches!(s.delete(b"k", 10, None), Outcome::Done(_)));
        assert_eq!(s.delete(b"k", 10, None), Outcome::NotFound);
        assert_eq!(s.used(), 0);
    }

    #[test]
    fn expired_items_are_absent() {
        let s = Store::new(1 << 20);
        s.store(b"k", item(1, 20), Condition::Always, 10, None);
        assert!(s.get(b"k", 19).is_some());
        assert!(s.get(b"k", 20).is_none());
        assert_eq!(s.used(), 0);
    }

    #[test]
    fn memory_bound_holds_and_newest_items_survive() {
        let limit = 256 * 1024;
        let s = Store::new(limit);
        for i in 0..20_000u32 {
            s.store(
                format!("key{i}").as_bytes(),
                item(100, 0),
                Condition::Always,
                10,
                None,
            );
            assert!(s.used() <= limit);
        }
        assert!(s.get(b"key19999", 10).is_some());
        assert!(s.get(b"key0", 10).is_none());
        assert!(s.counters.evictions.load(Ordering::Relaxed) > 10_000);
        // The queue does not grow without bound under churn.
        for index in 0..SHARDS {
            let shard = s.lock(index);
            assert!(shard.queue.len() <= 2 * shard.map.len() + 64);
        }
    }

    #[test]
    fn the_crawler_sweeps_every_expired_item() {
        let s = Store::new(64 << 20);
        for i in 0..50_000u32 {
            let expiry = if i % 2 == 0 { 20 } else { 0 };
            s.store(
                format!("k{i}").as_bytes(),
                item(10, expiry),
                Condition::Always,
                10,
                None,
            );
        }
        let mut total = 0;
        for _ in 0..200 {
            total += s.crawl_expired(30, 64);
        }
        assert_eq!(total, 25_000);
        assert_eq!(s.totals().items, 25_000);
        assert!(s.get(b"k1", 30).is_some());
    }

    #[test]
    fn referenced_items_get_a_second_chance() {
        let limit = 64 * 1024;
        let s = Store::new(limit);
        s.store(b"hot", item(100, 0), Condition::Always, 10, None);
        for i in 0..5_000u32 {
            assert!(s.get(b"hot", 10).is_some(), "hot key evicted at {i}");
            s.store(
                format!("cold{i}").as_bytes(),
                item(100, 0),
                Condition::Always,
                10,
                None,
            );
        }
    }
}
