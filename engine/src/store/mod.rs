//! The item store: one arena of segments holding byte-packed records, a compact sharded index,
//! S3-FIFO eviction a segment at a time, TTL expiry and CAS.
//!
//! Memory is laid out once, from the limit ([`Layout`]): the index (a tenth), the ghost (under
//! one percent) and the arena of fixed-size segments (the rest). Nothing is allocated per item:
//! an item is a record appended to a segment ([`record`]) and an 8-byte slot in its shard's
//! index ([`index`]), so the bound holds by construction and a 100-byte item takes 127 bytes
//! plus its slot where memcached charges 192.
//!
//! Eviction is S3-FIFO (Yang et al., SOSP 2023) with segments as the unit, as Segcache (Yang et
//! al., NSDI 2021) evicts: new keys are appended to the small queue's open segment, keys the
//! ghost remembers to the main queue's. When no segment is free the oldest one of the small
//! queue (while it holds a tenth of the segments) or of the main queue is reclaimed: each of
//! its records still in the index is kept — hit more than once on probation, or hit at all in
//! main (spending one hit) — by moving it to the main queue's open segment, or dropped (and
//! from the small queue, remembered by the ghost). With no free segment to move into, the
//! victim is compacted in place and becomes main's open segment. Expired records are dropped
//! when met; a segment whose records have all expired is reclaimed by the crawler at once.
//!
//! Locks, outermost first: the reclaim lock (one reclaimer at a time, and the crawler), a
//! shard's lock (its index, and the in-place fields of the records it points to), the log lock
//! (segment bookkeeping; appends copy their record under it, so a record is whole before
//! anything can reach it). A reader copies a value out under its shard lock, so a segment
//! reclaimed a moment later never changes bytes under a reader. Who may touch which bytes when
//! is this protocol; [`arena`] holds the accessors.
//!
//! The store knows nothing of sockets or of the protocol: the command layer calls it.

mod arena;
mod ghost;
mod index;
pub mod item;
mod log;
mod persist;
mod record;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use std::hash::BuildHasher;

use crate::clock::is_expired;
use crate::value::StoredValue;
use arena::Arena;
use ghost::Ghost;
use index::{Index, Marks, Position};
pub use item::{record_size, Item, ItemSnapshot};
use log::{Log, Queue, Slot, HEADER};
pub use persist::{Restore, SavedClock};
use record::{Parts, Record};

/// Number of shards: enough that a few dozen threads rarely contend. A key's shard is the top
/// six bits of its hash.
const SHARDS: usize = 64;

/// The hasher of keys: foldhash, seeded at random in a server and by the caller in tests (where
/// eviction order must replay). A key lookup is the hot path of every request; SipHash cost
/// more than the rest of the lookup; a random seed keeps client-chosen keys unpredictable.
type KeyHasher = foldhash::fast::FixedState;

/// The index takes this share of the limit: 8-byte slots for one item per 80 bytes of limit,
/// so items down to ~70-byte records fill the arena before the index (memcached's smallest
/// chunk is 96 bytes).
const INDEX_SHARE: usize = 10;
/// The smallest and largest segment: segments are at least the largest record, and about a
/// 64th of the arena so eviction is not coarse.
const MIN_SEGMENT: usize = 64 << 10;
const MAX_SEGMENT: usize = 8 << 20;

/// How the limit is divided: index, ghost, segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub index_buckets_per_shard: usize,
    pub ghost_keys: usize,
    pub segment_size: usize,
    pub segments: usize,
}

impl Layout {
    /// The layout for `limit` bytes whose largest record is `max_record` bytes.
    pub fn new(limit: usize, max_record: usize) -> Self {
        let index_bytes = limit / INDEX_SHARE;
        let index_buckets_per_shard = (index_bytes / 64 / SHARDS).max(1);
        let slots = index_buckets_per_shard * SHARDS * index::SLOTS;
        let ghost_keys = slots / 2;
        let arena = limit
            .saturating_sub(index_buckets_per_shard * SHARDS * 64 + Ghost::bytes_for(ghost_keys));
        let round = |n: usize| n.div_ceil(4096) * 4096;
        let wanted = round(max_record + HEADER).max(MIN_SEGMENT);
        let preferred = wanted.max((arena / 64).min(MAX_SEGMENT));
        // As many segments of at least the preferred size as fit, then grown to share out the
        // remainder: the whole arena is used.
        let count = (arena / preferred).max(3);
        let mut segment_size = (arena / count / 4096 * 4096).max(4096);
        if segment_size < wanted && arena / wanted >= 3 {
            segment_size = wanted;
        }
        Self {
            index_buckets_per_shard,
            ghost_keys,
            segment_size,
            segments: (arena / segment_size).max(1),
        }
    }

    /// The largest record a segment takes.
    pub fn max_record(&self) -> usize {
        self.segment_size - HEADER
    }
}

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
    /// The item alone would exceed a segment (`SERVER_ERROR out of memory storing object`);
    /// nothing was changed.
    NoMemory,
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
    /// Segments reclaimed (by eviction or because all their records expired).
    pub segments_reclaimed: AtomicU64,
    /// Records moved forward by the reclaimer (kept by the policy).
    pub records_moved: AtomicU64,
    /// Entries the full index displaced (items smaller than the index was sized for).
    pub index_displaced: AtomicU64,
    /// Items a warm restart brought back, and records it dropped because a check failed.
    pub restored: AtomicU64,
    pub restore_dropped: AtomicU64,
}

/// Live figures of one shard.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    items: usize,
    record_bytes: usize,
    raw_bytes: usize,
    held_bytes: usize,
    compressed: usize,
}

impl Figures {
    fn add(&mut self, r: &Record<'_>) {
        self.items += 1;
        self.record_bytes += r.len;
        self.raw_bytes += r.raw_len as usize;
        self.held_bytes += r.held_len;
        self.compressed += usize::from(r.compressed());
    }

    fn remove(&mut self, r: &Record<'_>) {
        self.items -= 1;
        self.record_bytes -= r.len;
        self.raw_bytes -= r.raw_len as usize;
        self.held_bytes -= r.held_len;
        self.compressed -= usize::from(r.compressed());
    }
}

struct Shard {
    index: Index,
    figures: Figures,
}

/// Aggregate figures for `stats`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StoreTotals {
    pub items: usize,
    /// Bytes of live records.
    pub bytes: usize,
    pub raw_value_bytes: usize,
    pub held_value_bytes: usize,
    pub compressed_items: usize,
    pub segment_size: usize,
    pub segments: usize,
    pub segments_free: usize,
    pub segments_small: usize,
    pub segments_main: usize,
    /// Bytes written into segments in use: live records, dead ones and headers.
    pub segment_bytes_used: usize,
    pub index_bytes: usize,
    pub index_slots: usize,
    pub ghost_bytes: usize,
}

/// Where the expiry crawler resumes.
#[derive(Debug, Default)]
struct Crawl {
    segment: u32,
    at: usize,
}

/// Why an entry leaves the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removal {
    Deleted,
    Expired,
    Evicted,
}

/// The cache's items.
pub struct Store {
    arena: Arena,
    shards: Box<[Mutex<Shard>]>,
    log: Mutex<Log>,
    /// Held by the reclaimer and the crawler: one at a time.
    reclaim: Mutex<Crawl>,
    ghost: Ghost,
    hasher: KeyHasher,
    seed: u64,
    /// The memory file of a warm-restartable store.
    file: Option<std::path::PathBuf>,
    layout: Layout,
    limit: usize,
    next_cas: AtomicU64,
    pub counters: StoreCounters,
}

/// A seed no client can guess.
pub fn random_seed() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0u64)
}

fn shard_of(hash: u64) -> usize {
    (hash >> 58) as usize % SHARDS
}

impl Store {
    /// A store that holds at most `limit` bytes, values up to 1 MiB.
    pub fn new(limit: usize) -> Self {
        Self::with_max_value(limit, 1 << 20)
    }

    /// A store for values up to `max_value` bytes, seeded at random.
    pub fn with_max_value(limit: usize, max_value: usize) -> Self {
        Self::with_layout(limit, Layout::new(limit, max_value + 300), random_seed())
    }

    /// A store whose keys hash by `seed`: the same seed, the same behaviour.
    pub fn with_seed(limit: usize, seed: u64) -> Self {
        Self::with_layout(limit, Layout::new(limit, (1 << 20) + 300), seed)
    }

    /// A store laid out as `layout`. Panics if the arena cannot be mapped (the limit exceeds
    /// the address space): there is no item to lose yet.
    pub fn with_layout(limit: usize, layout: Layout, seed: u64) -> Self {
        let arena = Arena::anonymous(layout.segments * layout.segment_size)
            .unwrap_or_else(|e| panic!("cannot map {} bytes for items: {e}", limit));
        Self::with_arena(limit, layout, seed, arena)
    }

    fn with_arena(limit: usize, layout: Layout, seed: u64, arena: Arena) -> Self {
        assert!((arena.len() as u64) < index::MAX_OFFSET);
        Self {
            arena,
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        index: Index::new(layout.index_buckets_per_shard),
                        figures: Figures::default(),
                    })
                })
                .collect(),
            log: Mutex::new(Log::new(layout.segments, layout.segment_size)),
            reclaim: Mutex::new(Crawl::default()),
            ghost: Ghost::new(layout.ghost_keys),
            hasher: KeyHasher::with_seed(seed),
            seed,
            file: None,
            layout,
            limit,
            next_cas: AtomicU64::new(1),
            counters: StoreCounters::default(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Bytes of live records.
    pub fn used(&self) -> usize {
        self.totals().bytes
    }

    /// A fresh CAS token.
    pub fn next_cas(&self) -> u64 {
        self.next_cas.fetch_add(1, Ordering::Relaxed)
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn lock(&self, index: usize) -> MutexGuard<'_, Shard> {
        // Updates under a shard lock leave the index consistent at every step that can panic
        // (none should), so a poisoned lock is still safe to use.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn lock_log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn lock_reclaim(&self) -> MutexGuard<'_, Crawl> {
        self.reclaim
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    // ---- arena access: the only unsafe code of the store, each under the protocol above ----

    /// The record at arena offset `at`, read no further than `end`.
    ///
    /// With [`Parts::All`] the caller holds the lock of the shard whose index points to the
    /// record (or is the reclaimer holding it); with [`Parts::Key`] it only needs the record to
    /// be whole and not reclaimed meanwhile (the reclaim lock), as those bytes never change.
    fn read(&self, at: usize, end: usize, parts: Parts) -> Option<Record<'_>> {
        record::parse(
            |offset, len| {
                let from = at.checked_add(offset)?;
                (from.checked_add(len)? <= end).then(|| {
                    // SAFETY: in bounds of the segment; by the protocol no thread writes these
                    // bytes while the caller's lock is held (see the function's contract).
                    unsafe { self.arena.bytes(from, len) }
                })
            },
            parts,
        )
    }

    /// The record an index entry points to (under that shard's lock).
    fn record(&self, at: u64) -> Option<Record<'_>> {
        let at = at as usize;
        let size = self.layout.segment_size;
        self.read(at, at - at % size + size, Parts::All)
    }

    /// Writes bytes no index entry points to yet (a reserved slot, under the log lock) or owned
    /// by the caller's shard lock (an in-place field).
    fn write(&self, at: usize, bytes: &[u8]) {
        // SAFETY: the range is reserved for the caller or guarded by its shard lock.
        unsafe { self.arena.write(at, bytes) }
    }

    /// Moves a record for the reclaimer, which holds its shard's lock and owns the target.
    fn move_bytes(&self, from: usize, to: usize, len: usize) {
        // SAFETY: the source is guarded by the shard lock held; the target is reserved space.
        unsafe { self.arena.copy(from, to, len) }
    }

    fn segment_base(&self, id: u32) -> usize {
        id as usize * self.layout.segment_size
    }

    /// Writes a record into a reserved slot, and the segment header if the slot opened it.
    fn write_record(&self, slot: &Slot, prefix: &[u8], key: &[u8], value: &[u8]) -> usize {
        let base = self.segment_base(slot.segment);
        if let Some(seq) = slot.opened {
            self.write_header(base, slot.queue, seq);
        }
        let at = base + slot.at;
        self.write(at, prefix);
        self.write(at + prefix.len(), key);
        self.write(at + prefix.len() + key.len(), value);
        at
    }

    fn write_header(&self, base: usize, queue: Queue, seq: u64) {
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&log::MAGIC.to_le_bytes());
        header[4] = queue as u8;
        header[8..].copy_from_slice(&seq.to_le_bytes());
        self.write(base, &header);
    }

    // ---- lookups ----

    /// The live entry of `key` in a locked shard, dropping it on the way if it has expired.
    fn find<'a>(
        &'a self,
        shard: &mut Shard,
        hash: u64,
        key: &[u8],
        now: u32,
    ) -> Option<(Position, Record<'a>)> {
        let mut found = None;
        let pos = shard.index.find(hash, |at| match self.record(at) {
            Some(r) if r.key == key => {
                found = Some(r);
                true
            }
            _ => false,
        })?;
        let record = found?;
        if is_expired(record.expiry, now) {
            self.remove(shard, pos, &record, Removal::Expired);
            return None;
        }
        Some((pos, record))
    }

    fn item_of(&self, index: &Index, pos: Position, r: &Record<'_>) -> Item {
        let marks = index.marks(pos);
        Item {
            value: StoredValue {
                bytes: Arc::from(r.value),
                raw_len: r.raw_len,
                crc: r.crc,
                compressed: r.compressed(),
            },
            flags: r.client_flags,
            expiry: r.expiry,
            cas: r.cas,
            last_access: r.last_access,
            fetched: marks.fetched,
            freq: index.freq(pos),
            stale: marks.stale,
            win_sent: marks.win_sent,
        }
    }

    fn remove(&self, shard: &mut Shard, pos: Position, r: &Record<'_>, why: Removal) {
        let fetched = shard.index.marks(pos).fetched;
        shard.index.remove(pos);
        shard.figures.remove(r);
        self.count_removal(why, fetched);
    }

    fn count_removal(&self, why: Removal, fetched: bool) {
        let c = &self.counters;
        match why {
            Removal::Deleted => {}
            Removal::Expired => {
                c.reclaimed.fetch_add(1, Ordering::Relaxed);
                if !fetched {
                    c.expired_unfetched.fetch_add(1, Ordering::Relaxed);
                }
            }
            Removal::Evicted => {
                c.evictions.fetch_add(1, Ordering::Relaxed);
                if !fetched {
                    c.evicted_unfetched.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Runs `f` on a copy of the live item under `key` while holding its shard lock, then
    /// keeps what `f` changed of its metadata (expiry, last access, the hit counter and the
    /// fetched / stale / win marks; not the value or the CAS). Expired items are removed on
    /// the way and count as absent.
    pub fn access<R>(&self, key: &[u8], now: u32, f: impl FnOnce(&mut Item) -> R) -> Option<R> {
        let hash = self.hash(key);
        let mut shard = self.lock(shard_of(hash));
        let (pos, record) = self.find(&mut shard, hash, key, now)?;
        let before = self.item_of(&shard.index, pos, &record);
        let mut item = before.clone();
        let result = f(&mut item);
        let at = shard.index.offset(pos) as usize;
        shard.index.set_freq(pos, item.freq);
        shard.index.set_marks(
            pos,
            Marks {
                fetched: item.fetched,
                stale: item.stale,
                win_sent: item.win_sent,
            },
        );
        if item.last_access != before.last_access {
            self.write(at + record::LAST_ACCESS_AT, &item.last_access.to_le_bytes());
        }
        if item.expiry != before.expiry {
            if record.has_expiry_field() {
                self.write(at + record::EXPIRY_AT, &item.expiry.to_le_bytes());
                let segment = (at / self.layout.segment_size) as u32;
                self.lock_log().note_expiry(segment, item.expiry);
            } else {
                // A first expiry does not fit the record: write it anew.
                drop(shard);
                self.rewrite(key, hash, &item, before.cas, now);
            }
        }
        Some(result)
    }

    /// Writes the live version `cas` of `key` again with `item`'s fields (same CAS, same
    /// place in the queues); nothing if that version is gone meanwhile.
    fn rewrite(&self, key: &[u8], hash: u64, item: &Item, cas: u64, now: u32) {
        let mut item = item.clone();
        item.cas = cas;
        let fields = item.fields();
        let len = record::encoded_len(&fields, key.len(), item.value.held_len());
        for _ in 0..MAX_APPEND_TRIES {
            self.make_room(Queue::Main, len, now);
            let mut shard = self.lock(shard_of(hash));
            let Some((pos, old)) = self.find(&mut shard, hash, key, now) else {
                return;
            };
            if old.cas != cas {
                return;
            }
            let old_at = shard.index.offset(pos) as usize;
            let queue = self.queue_of(old_at);
            let Some(at) = self.append(queue, &fields, key, &item.value.bytes) else {
                continue;
            };
            shard.figures.remove(&old);
            shard.index.set_offset(pos, at as u64);
            if let Some(new) = self.record(at as u64) {
                shard.figures.add(&new);
            }
            return;
        }
    }

    /// The queue of the segment holding arena offset `at`.
    fn queue_of(&self, at: usize) -> Queue {
        let segment = (at / self.layout.segment_size) as u32;
        self.lock_log().segment(segment).queue
    }

    /// Appends a record to `queue` (copying it under the log lock). `None` when no segment has
    /// room: the caller makes room without holding a shard lock and tries again.
    fn append(
        &self,
        queue: Queue,
        fields: &record::Fields,
        key: &[u8],
        value: &[u8],
    ) -> Option<usize> {
        let prefix = record::prefix(fields, key.len(), value.len());
        let len = prefix.len() + key.len() + value.len();
        let mut log = self.lock_log();
        let slot = log.append(queue, len, fields.expiry)?;
        let at = self.write_record(&slot, &prefix, key, value);
        drop(log);
        Some(at)
    }

    /// A copy of the live item under `key`, counting a hit and marking it fetched.
    pub fn get(&self, key: &[u8], now: u32) -> Option<ItemSnapshot> {
        self.fetch(key, now, None)
    }

    /// Like [`Store::get`], and when `new_expiry` is given, sets it first (`gat`, `gats`).
    pub fn fetch(&self, key: &[u8], now: u32, new_expiry: Option<u32>) -> Option<ItemSnapshot> {
        self.access(key, now, |item| {
            if let Some(expiry) = new_expiry {
                item.expiry = expiry;
            }
            item.touch_for_eviction();
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
        item.cas = cas.unwrap_or_else(|| self.next_cas());
        let fields = item.fields();
        let len = record::encoded_len(&fields, key.len(), item.value.held_len());
        if len > self.layout.max_record() || key.is_empty() || key.len() > 255 {
            return Outcome::NoMemory;
        }
        let hash = self.hash(key);
        let mut queue = if self.ghost.contains(hash) {
            Queue::Main
        } else {
            Queue::Small
        };
        for _ in 0..MAX_APPEND_TRIES {
            self.make_room(queue, len, now);
            let mut shard = self.lock(shard_of(hash));
            let live = self.find(&mut shard, hash, key, now);
            match (condition, &live) {
                (Condition::Exists, None) | (Condition::Absent, Some(_)) => {
                    return Outcome::NotStored
                }
                (Condition::CasEquals(_), None) => return Outcome::NotFound,
                (Condition::CasEquals(want), Some((_, old))) if want != old.cas => {
                    return Outcome::Exists
                }
                _ => {}
            }
            if let Some((pos, _)) = &live {
                // A new version keeps its queue and counts as a hit.
                queue = self.queue_of(shard.index.offset(*pos) as usize);
            }
            let Some(at) = self.append(queue, &fields, key, &item.value.bytes) else {
                continue;
            };
            let marks = Marks {
                fetched: item.fetched,
                stale: item.stale,
                win_sent: item.win_sent,
            };
            let Some(new) = self.record(at as u64) else {
                return Outcome::NoMemory;
            };
            match live {
                Some((pos, old)) => {
                    let freq = shard.index.freq(pos).saturating_add(1);
                    shard.figures.remove(&old);
                    shard.index.set_offset(pos, at as u64);
                    shard.index.set_freq(pos, freq);
                    shard.index.set_marks(pos, marks);
                }
                None => {
                    if let Some((displaced, displaced_marks)) =
                        shard.index.insert(hash, at as u64, 0, marks)
                    {
                        if let Some(old) = self.record(displaced) {
                            shard.figures.remove(&old);
                        }
                        self.count_removal(Removal::Evicted, displaced_marks.fetched);
                        self.counters
                            .index_displaced
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            shard.figures.add(&new);
            self.counters.total_items.fetch_add(1, Ordering::Relaxed);
            return Outcome::Done(item.cas);
        }
        Outcome::NoMemory
    }

    /// Deletes `key`; with `cas`, only that version.
    pub fn delete(&self, key: &[u8], now: u32, cas: Option<u64>) -> Outcome {
        let hash = self.hash(key);
        let mut shard = self.lock(shard_of(hash));
        let Some((pos, record)) = self.find(&mut shard, hash, key, now) else {
            return Outcome::NotFound;
        };
        if cas.is_some_and(|want| want != record.cas) {
            return Outcome::Exists;
        }
        self.remove(&mut shard, pos, &record, Removal::Deleted);
        Outcome::Done(record.cas)
    }

    /// Removes `key` only if it still holds version `cas`: used to drop an item found corrupt
    /// without racing a concurrent writer.
    pub fn remove_version(&self, key: &[u8], cas: u64) -> bool {
        let hash = self.hash(key);
        let mut shard = self.lock(shard_of(hash));
        match self.find(&mut shard, hash, key, 0) {
            Some((pos, record)) if record.cas == cas => {
                self.remove(&mut shard, pos, &record, Removal::Deleted);
                true
            }
            _ => false,
        }
    }

    /// Removes every item (`flush_all`).
    pub fn flush(&self) {
        let _reclaim = self.lock_reclaim();
        let mut shards: Vec<_> = (0..SHARDS).map(|i| self.lock(i)).collect();
        for shard in shards.iter_mut() {
            shard.index.clear();
            shard.figures = Figures::default();
        }
        self.lock_log().clear();
        self.ghost.clear();
    }

    // ---- eviction ----

    /// Reclaims segments until a record of `len` bytes fits `queue` (or nothing is left to
    /// reclaim). Called without a shard lock: reclaiming takes them.
    fn make_room(&self, queue: Queue, len: usize, now: u32) {
        loop {
            if self.lock_log().has_room(queue, len) {
                return;
            }
            let reclaim = self.lock_reclaim();
            // Another thread may have made room while this one waited.
            if self.lock_log().has_room(queue, len) {
                return;
            }
            let victim = self.lock_log().take_victim();
            let Some(victim) = victim else {
                return;
            };
            self.reclaim_segment(victim, now, &reclaim);
        }
    }

    /// Visits every record of `victim` (taken off its FIFO): keeps what the policy keeps,
    /// drops the rest, then frees the segment.
    fn reclaim_segment(&self, victim: u32, now: u32, _reclaim: &MutexGuard<'_, Crawl>) {
        let (end, queue) = {
            let log = self.lock_log();
            let s = log.segment(victim);
            (s.end, s.queue)
        };
        let base = self.segment_base(victim);
        let mut at = base + HEADER;
        while at < base + end {
            let Some(found) = self.read(at, base + end, Parts::Key) else {
                break;
            };
            let (len, hash) = (found.len, self.hash(found.key));
            self.reclaim_record(victim, queue, at, len, hash, now);
            at += len;
        }
        self.lock_log().finish_reclaim(victim);
        self.counters
            .segments_reclaimed
            .fetch_add(1, Ordering::Relaxed);
    }

    fn reclaim_record(
        &self,
        victim: u32,
        queue: Queue,
        at: usize,
        len: usize,
        hash: u64,
        now: u32,
    ) {
        let mut shard = self.lock(shard_of(hash));
        let Some(pos) = shard.index.find_offset(hash, at as u64) else {
            return; // superseded or deleted: garbage
        };
        let Some(record) = self.record(at as u64) else {
            return;
        };
        if is_expired(record.expiry, now) {
            self.remove(&mut shard, pos, &record, Removal::Expired);
            return;
        }
        let freq = shard.index.freq(pos);
        let keep = match queue {
            Queue::Small => freq > 1,
            Queue::Main => freq > 0,
        };
        if !keep {
            if queue == Queue::Small {
                self.ghost.add(hash);
            }
            self.remove(&mut shard, pos, &record, Removal::Evicted);
            return;
        }
        let expiry = record.expiry;
        let slot = self.lock_log().append_survivor(victim, len, expiry);
        let Some(slot) = slot else {
            self.remove(&mut shard, pos, &record, Removal::Evicted);
            return;
        };
        let base = self.segment_base(slot.segment);
        if let Some(seq) = slot.opened {
            self.write_header(base, Queue::Main, seq);
        }
        let to = base + slot.at;
        if to != at {
            self.move_bytes(at, to, len);
        }
        shard.index.set_offset(pos, to as u64);
        shard
            .index
            .set_freq(pos, if queue == Queue::Small { 0 } else { freq - 1 });
        self.counters.records_moved.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops expired items: first every segment whose records have all expired, then the
    /// expired records among the next `budget` × 64 records, resuming where the previous call
    /// stopped, so repeated calls sweep the whole store while each holds a shard lock for one
    /// record at a time. Returns how many were dropped.
    pub fn crawl_expired(&self, now: u32, budget: usize) -> usize {
        let before = self.counters.reclaimed.load(Ordering::Relaxed);
        let mut crawl = self.lock_reclaim();
        for _ in 0..8 {
            let expired = self.lock_log().take_expired(now);
            let Some(id) = expired else {
                break;
            };
            self.reclaim_segment(id, now, &crawl);
        }
        let mut steps = budget * SHARDS;
        let count = self.layout.segments as u32;
        let mut segments_visited = 0;
        while steps > 0 && segments_visited <= count {
            let (state, end) = {
                let log = self.lock_log();
                let s = log.segment(crawl.segment);
                (s.state, s.end)
            };
            let base = self.segment_base(crawl.segment);
            let live = matches!(state, log::State::Active | log::State::Sealed);
            if !live || crawl.at >= end || crawl.at < HEADER {
                if live && crawl.at < HEADER {
                    crawl.at = HEADER;
                    continue;
                }
                crawl.segment = (crawl.segment + 1) % count;
                crawl.at = HEADER;
                segments_visited += 1;
                continue;
            }
            let Some(found) = self.read(base + crawl.at, base + end, Parts::Key) else {
                crawl.at = end;
                continue;
            };
            let (len, hash) = (found.len, self.hash(found.key));
            let at = base + crawl.at;
            let mut shard = self.lock(shard_of(hash));
            if let Some(pos) = shard.index.find_offset(hash, at as u64) {
                if let Some(record) = self.record(at as u64) {
                    if is_expired(record.expiry, now) {
                        self.remove(&mut shard, pos, &record, Removal::Expired);
                    }
                }
            }
            drop(shard);
            crawl.at += len;
            steps -= 1;
        }
        drop(crawl);
        let reclaimed = (self.counters.reclaimed.load(Ordering::Relaxed) - before) as usize;
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
            let f = shard.figures;
            t.items += f.items;
            t.bytes += f.record_bytes;
            t.raw_value_bytes += f.raw_bytes;
            t.held_value_bytes += f.held_bytes;
            t.compressed_items += f.compressed;
            t.index_bytes += shard.index.bytes();
            t.index_slots += shard.index.capacity();
        }
        let census = self.lock_log().census();
        t.segment_size = self.layout.segment_size;
        t.segments = self.layout.segments;
        t.segments_free = census.free;
        t.segments_small = census.small;
        t.segments_main = census.main;
        t.segment_bytes_used = census.used_bytes;
        t.ghost_bytes = self.ghost.bytes();
        t
    }

    /// Runs `f` on the stored value of `key` as it is in memory, for fault-injection tests:
    /// changes of the same length are written in place.
    #[doc(hidden)]
    pub fn with_stored_bytes_mut(&self, key: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> bool {
        let hash = self.hash(key);
        let mut shard = self.lock(shard_of(hash));
        let Some((pos, record)) = self.find(&mut shard, hash, key, 0) else {
            return false;
        };
        let value_at = shard.index.offset(pos) as usize + record.len - record.held_len;
        let mut bytes = record.value.to_vec();
        f(&mut bytes);
        if bytes.len() != record.value.len() {
            return false;
        }
        self.write(value_at, &bytes);
        true
    }
}

/// Appends retried after making room before a store gives up (a full store of records that
/// all keep getting hit, under heavy concurrent writes).
const MAX_APPEND_TRIES: usize = 64;
#[cfg(test)]
mod tests;
