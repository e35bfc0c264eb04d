//! The item store: one arena of segments holding byte-packed records, a compact sharded index,
//! S3-FIFO eviction a segment at a time, TTL expiry and CAS.
//!
//! Memory is laid out once, from the limit ([`Layout`]): the ghost (under one percent), a small
//! index and the arena of fixed-size segments (the rest); the index grows by taking segments
//! out of use, so the bound holds at every moment. Nothing is allocated per item:
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
mod prefetch;
mod record;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use std::hash::BuildHasher;

use crate::clock::is_expired;
use crate::value::StoredValue;
use arena::Arena;
use ghost::Ghost;
use index::{Index, Position};
pub use item::{record_size, Item, ItemSnapshot};
use log::{Log, Queue, Slot, HEADER};
pub use persist::{DictLookup, Restore, SavedClock};
use record::{Parts, Record};

/// Number of shards: enough that a few dozen threads rarely contend. A key's shard is the top
/// six bits of its hash.
const SHARDS: usize = 64;

/// The hasher of keys: foldhash, seeded at random in a server and by the caller in tests (where
/// eviction order must replay). A key lookup is the hot path of every request; SipHash cost
/// more than the rest of the lookup; a random seed keeps client-chosen keys unpredictable.
type KeyHasher = foldhash::fast::FixedState;

/// Buckets each shard's index starts with. A shard's index grows by an eighth when it is
/// fifteen sixteenths full (or a key's neighbourhood is), taking its memory from the arena (a
/// free segment is retired for it), so it costs what the items need: about 11 bytes per item,
/// a few percent of the limit for 100-byte items and almost nothing for 4 KiB ones.
const INITIAL_BUCKETS: usize = 4;
/// The ghost remembers one key per this many bytes of limit (in about a byte per key).
const GHOST_BYTES_PER_KEY: usize = 128;
/// The smallest and largest segment (see [`Layout::new`]); values longer than an eighth of a
/// segment are held in pieces.
const MIN_SEGMENT: usize = 64 << 10;
const MAX_SEGMENT: usize = 1 << 20;

/// How the limit is divided: index, ghost, segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub index_buckets_per_shard: usize,
    pub ghost_keys: usize,
    pub segment_size: usize,
    pub segments: usize,
}

impl Layout {
    /// The layout for `limit` bytes.
    pub fn new(limit: usize) -> Self {
        let index_buckets_per_shard = INITIAL_BUCKETS;
        let ghost_keys = (limit / GHOST_BYTES_PER_KEY).max(64);
        let arena = limit
            .saturating_sub(index_buckets_per_shard * SHARDS * 64 + Ghost::bytes_for(ghost_keys));
        // About 64 segments (eviction is not coarse), each at least 64 KiB and at most 1 MiB
        // (reclaiming one is short), at least three (both queues' open ones and one to
        // reclaim), and together the whole arena.
        let preferred = (arena / 64).clamp(MIN_SEGMENT, MAX_SEGMENT);
        let count = (arena / preferred).max(3);
        let segment_size = (arena / count / 4096 * 4096).max(4096);
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

    pub fn initial_index_bytes(&self) -> usize {
        self.index_buckets_per_shard * SHARDS * 64
    }

    /// Bytes of `limit` the layout leaves unused (the index's first credit).
    pub fn slack(&self, limit: usize) -> usize {
        limit.saturating_sub(
            self.initial_index_bytes()
                + Ghost::bytes_for(self.ghost_keys)
                + self.segments * self.segment_size,
        )
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

/// How many dictionaries may have values in the store at once: live items are counted per
/// dictionary in this many slots (a dictionary's slot is its id modulo this), so a new id may be
/// used only once the slot it shares is empty ([`StoreTotals::dict_items`]).
pub const DICT_SLOTS: usize = 4;

/// The counting slot of dictionary `id`.
pub fn dict_slot(id: u32) -> usize {
    id as usize % DICT_SLOTS
}

/// Live figures of one shard.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    items: usize,
    record_bytes: usize,
    raw_bytes: usize,
    held_bytes: usize,
    compressed: usize,
    /// Items whose block needs a dictionary, per [`dict_slot`].
    dict_items: [usize; DICT_SLOTS],
}

impl Figures {
    /// Counts an item whose records (head and pieces) take `stored` bytes.
    fn add(&mut self, r: &Record<'_>, stored: usize) {
        self.items += 1;
        self.record_bytes += stored;
        self.raw_bytes += r.raw_len as usize;
        self.held_bytes += r.value_len;
        self.compressed += usize::from(r.compressed());
        if r.dict != 0 {
            self.dict_items[dict_slot(r.dict)] += 1;
        }
    }

    fn remove(&mut self, r: &Record<'_>, stored: usize) {
        self.items -= 1;
        self.record_bytes -= stored;
        self.raw_bytes -= r.raw_len as usize;
        self.held_bytes -= r.value_len;
        self.compressed -= usize::from(r.compressed());
        if r.dict != 0 {
            self.dict_items[dict_slot(r.dict)] -= 1;
        }
    }
}

struct Shard {
    index: Index,
    figures: Figures,
}

/// A shard's lock on cache lines of its own. Both workers take shard locks on every request;
/// unpadded, neighbouring shards' locks share a line and each lock takes it from the other
/// core (the lock's compare-exchange was half of a read's own time under load, perf).
/// 128 bytes: x86 fetches lines in adjacent pairs.
#[repr(align(128))]
struct PaddedShard(Mutex<Shard>);

impl std::ops::Deref for PaddedShard {
    type Target = Mutex<Shard>;

    fn deref(&self) -> &Mutex<Shard> {
        &self.0
    }
}

impl std::ops::DerefMut for PaddedShard {
    fn deref_mut(&mut self) -> &mut Mutex<Shard> {
        &mut self.0
    }
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
    /// Items whose block needs a dictionary, per [`dict_slot`].
    pub dict_items: [usize; DICT_SLOTS],
    pub segment_size: usize,
    pub segments: usize,
    pub segments_free: usize,
    pub segments_small: usize,
    pub segments_main: usize,
    /// Segments whose memory went to the index.
    pub segments_retired: usize,
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

/// A live item seen in place by [`Store::read_in_place`]: its fields and its held value,
/// borrowed from its segment for as long as the shard lock is held.
pub struct InPlace<'a> {
    record: &'a Record<'a>,
    held: Option<&'a [u8]>,
}

impl InPlace<'_> {
    /// The client's flags.
    pub fn flags(&self) -> u32 {
        self.record.client_flags
    }

    /// The version's CAS.
    pub fn cas(&self) -> u64 {
        self.record.cas
    }

    /// The value as held (compressed or raw), its raw length, CRC and dictionary: what
    /// [`Item::value`] would hold, borrowed. `None` when a piece of a value held in pieces is
    /// not what its head says (the CRC check refuses such an item).
    pub fn value(&self) -> Option<crate::value::HeldValue<'_>> {
        Some(crate::value::HeldValue {
            bytes: self.held?,
            raw_len: self.record.raw_len,
            crc: self.record.crc,
            compressed: self.record.compressed(),
            dict: self.record.dict,
        })
    }
}

/// The cache's items.
pub struct Store {
    arena: Arena,
    shards: Box<[PaddedShard]>,
    bucket_hints: prefetch::BucketHints,
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
    /// Bytes of every shard's index.
    index_bytes: std::sync::atomic::AtomicUsize,
    /// Bytes the index may still grow by: what the layout left over plus retired segments,
    /// minus growth so far. Never negative: the limit holds.
    index_credit: std::sync::atomic::AtomicUsize,
    /// Shards whose index wanted to grow when no segment was free.
    growth_wanted: Box<[std::sync::atomic::AtomicBool]>,
    /// Restored items await their check ([`Store::verify_restored`]).
    verify_pending: std::sync::atomic::AtomicBool,
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
    /// A store that holds at most `limit` bytes, seeded at random.
    pub fn new(limit: usize) -> Self {
        Self::with_layout(limit, Layout::new(limit), random_seed())
    }

    /// A store whose keys hash by `seed`: the same seed, the same behaviour.
    pub fn with_seed(limit: usize, seed: u64) -> Self {
        Self::with_layout(limit, Layout::new(limit), seed)
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
        let store = Self {
            arena,
            shards: (0..SHARDS)
                .map(|_| {
                    PaddedShard(Mutex::new(Shard {
                        index: Index::new(layout.index_buckets_per_shard),
                        figures: Figures::default(),
                    }))
                })
                .collect(),
            bucket_hints: prefetch::BucketHints::new(SHARDS),
            log: Mutex::new(Log::new(layout.segments, layout.segment_size)),
            reclaim: Mutex::new(Crawl::default()),
            ghost: Ghost::new(layout.ghost_keys),
            hasher: KeyHasher::with_seed(seed),
            seed,
            file: None,
            layout,
            limit,
            index_bytes: std::sync::atomic::AtomicUsize::new(layout.initial_index_bytes()),
            index_credit: std::sync::atomic::AtomicUsize::new(layout.slack(limit)),
            growth_wanted: (0..SHARDS)
                .map(|_| std::sync::atomic::AtomicBool::new(false))
                .collect(),
            verify_pending: std::sync::atomic::AtomicBool::new(false),
            next_cas: AtomicU64::new(1),
            counters: StoreCounters::default(),
        };
        for si in 0..SHARDS {
            store.bucket_hints.remember(si, &store.lock(si).index);
        }
        store
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
        let fetch = |offset: usize, len: usize| {
            let from = at.checked_add(offset)?;
            (from.checked_add(len)? <= end).then(|| {
                // SAFETY: in bounds of the segment; by the protocol no thread writes these
                // bytes while the caller's lock is held (see the function's contract).
                unsafe { self.arena.bytes(from, len) }
            })
        };
        if parts == Parts::Key {
            return record::parse(fetch, parts);
        }
        // Under the lock every byte of the record is stable: the parse reads from one slice of
        // the bytes it is sure are the record's (its lower-bound length), not byte by byte.
        let head: [u8; 2] = fetch(0, 2)?.try_into().ok()?;
        let window = fetch(0, record::min_len(head).min(end.saturating_sub(at)))?;
        record::parse(
            |offset, len| match window.get(offset..offset.checked_add(len)?) {
                Some(bytes) => Some(bytes),
                None => fetch(offset, len),
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

    /// An item's held value: its record's bytes, or its pieces' gathered. `None` when a piece
    /// is not what its head says (the CRC check then refuses the item).
    fn held_value<'a>(&'a self, r: &Record<'a>) -> Option<std::borrow::Cow<'a, [u8]>> {
        match r.kind {
            record::Kind::Inline => Some(std::borrow::Cow::Borrowed(r.value)),
            record::Kind::Head { value_len } => {
                let mut value = Vec::with_capacity(value_len);
                for at in r.pieces() {
                    let piece = self.piece_of(r, at)?;
                    value.extend_from_slice(piece.value);
                }
                (value.len() == value_len).then_some(std::borrow::Cow::Owned(value))
            }
            record::Kind::Piece => None,
        }
    }

    /// The piece at `at` of head `head`, if it is one of its pieces.
    fn piece_of<'a>(&'a self, head: &Record<'_>, at: u64) -> Option<Record<'a>> {
        if at as usize >= self.arena.len() || at as usize % self.layout.segment_size < HEADER {
            return None;
        }
        let piece = self.record(at)?;
        (piece.kind == record::Kind::Piece && piece.key == head.key && piece.cas == head.cas)
            .then_some(piece)
    }

    /// Bytes an item takes in segments: its record and its pieces'.
    fn stored_len(&self, r: &Record<'_>) -> usize {
        r.len
            + r.pieces()
                .filter_map(|at| self.piece_of(r, at))
                .map(|p| p.len)
                .sum::<usize>()
    }

    fn item_of(&self, index: &Index, pos: Position, r: &Record<'_>) -> Item {
        let marks = index.marks(pos);
        Item {
            value: StoredValue {
                bytes: Arc::from(self.held_value(r).as_deref().unwrap_or_default()),
                raw_len: r.raw_len,
                crc: r.crc,
                compressed: r.compressed(),
                dict: r.dict,
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
        let stored = self.stored_len(r);
        shard.figures.remove(r, stored);
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
        shard.index.set_marks(pos, item.marks());
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
    /// place in the queues); nothing if that version is gone meanwhile. If no room can be
    /// made the item is dropped rather than kept with its old metadata (a lost TTL would let
    /// it outlive its expiry).
    fn rewrite(&self, key: &[u8], hash: u64, item: &Item, cas: u64, now: u32) {
        let mut item = item.clone();
        item.cas = cas;
        let fields = item.fields();
        let Some(plan) = self.plan(&fields, key.len(), item.value.held_len()) else {
            return;
        };
        let mut full = None;
        for attempt in 0..=MAX_APPEND_TRIES {
            if let Some(queue) = full {
                self.make_room(queue, &plan.lens, now);
            }
            let mut shard = self.lock(shard_of(hash));
            let Some((pos, old)) = self.find(&mut shard, hash, key, now) else {
                return;
            };
            if old.cas != cas {
                return;
            }
            if attempt == MAX_APPEND_TRIES {
                self.remove(&mut shard, pos, &old, Removal::Evicted);
                return;
            }
            let to = Destination::QueueOf(shard.index.offset(pos) as usize);
            let at = match self.append(to, &plan, &fields, key, &item.value.bytes) {
                Ok(at) => at,
                Err(queue) => {
                    full = Some(queue);
                    continue;
                }
            };
            let old_stored = self.stored_len(&old);
            shard.figures.remove(&old, old_stored);
            shard.index.set_offset(pos, at as u64);
            if let Some(new) = self.record(at as u64) {
                let stored = self.stored_len(&new);
                shard.figures.add(&new, stored);
            }
            return;
        }
    }

    /// The queue of the segment holding arena offset `at`.
    #[cfg(test)]
    fn queue_of(&self, at: usize) -> Queue {
        let segment = (at / self.layout.segment_size) as u32;
        self.lock_log().segment(segment).queue
    }

    /// Records longer than this are cut into pieces: an eighth of a segment, so the space a
    /// sealed segment leaves unused stays small.
    fn inline_max(&self) -> usize {
        self.layout.segment_size / 8
    }

    /// The records an item becomes: one, or pieces and a head. `None` when it cannot be held
    /// (its head alone would not fit a segment, or it would take over half the arena).
    fn plan(&self, fields: &record::Fields, key_len: usize, held_len: usize) -> Option<Plan> {
        let inline = record::encoded_len(fields, key_len, held_len);
        if inline <= self.inline_max() {
            return Some(Plan {
                lens: vec![inline],
                piece_value: 0,
            });
        }
        let piece_value = self.inline_max() - record::MAX_PREFIX - key_len;
        let piece_fields = Plan::piece_fields(fields);
        let mut lens: Vec<usize> = (0..held_len.div_ceil(piece_value))
            .map(|i| {
                let len = piece_value.min(held_len - i * piece_value);
                record::encoded_len(&piece_fields, key_len, len)
            })
            .collect();
        let head = Plan::head_fields(fields, held_len);
        let head_len = record::encoded_len(&head, key_len, lens.len() * 8);
        lens.push(head_len);
        let total: usize = lens.iter().sum();
        (head_len <= self.layout.max_record()
            && total <= self.layout.segments * self.layout.max_record() / 2)
            .then_some(Plan { lens, piece_value })
    }

    /// Appends an item as `plan` says (copying it under the log lock) to the queue `to`
    /// names, returning where its head is. `Err(queue)` when the segments have no room: the
    /// caller makes room in that queue without holding a shard lock and tries again (pieces
    /// already written are then garbage).
    fn append(
        &self,
        to: Destination,
        plan: &Plan,
        fields: &record::Fields,
        key: &[u8],
        value: &[u8],
    ) -> Result<usize, Queue> {
        let mut log = self.lock_log();
        let queue = match to {
            Destination::Queue(queue) => queue,
            Destination::QueueOf(at) => log.segment((at / self.layout.segment_size) as u32).queue,
        };
        self.append_locked(&mut log, queue, plan, fields, key, value)
            .ok_or(queue)
    }

    fn append_locked(
        &self,
        log: &mut Log,
        queue: Queue,
        plan: &Plan,
        fields: &record::Fields,
        key: &[u8],
        value: &[u8],
    ) -> Option<usize> {
        if plan.piece_value == 0 {
            let prefix = record::prefix(fields, key.len(), value.len());
            let slot = log.append(queue, plan.lens[0], fields.expiry)?;
            return Some(self.write_record(&slot, &prefix, key, value));
        }
        let piece_fields = Plan::piece_fields(fields);
        let mut table = Vec::with_capacity(plan.lens.len() * 8);
        for (chunk, &len) in value.chunks(plan.piece_value).zip(&plan.lens) {
            let prefix = record::prefix(&piece_fields, key.len(), chunk.len());
            // Pieces never expire on their own: their head's expiry decides.
            let slot = log.append(queue, len, 0)?;
            let at = self.write_record(&slot, &prefix, key, chunk);
            table.extend_from_slice(&(at as u64).to_le_bytes());
        }
        let head = Plan::head_fields(fields, value.len());
        let prefix = record::prefix(&head, key.len(), table.len());
        let slot = log.append(queue, *plan.lens.last()?, fields.expiry)?;
        Some(self.write_record(&slot, &prefix, key, &table))
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

    /// Starts loading the first lines a lookup of `key` will touch — its shard's lock and its
    /// index buckets — without waiting for them or taking any lock: a lookup soon after
    /// finds them in cache. Only addresses are worked out; nothing is read. Returns the key's
    /// hash, for [`Store::prefetch_records`] once the buckets have had time to arrive.
    pub fn prefetch(&self, key: &[u8]) -> u64 {
        let hash = self.hash(key);
        let shard = shard_of(hash);
        prefetch::prefetch_line(std::ptr::from_ref(&self.shards[shard]) as usize);
        self.bucket_hints.prefetch(shard, hash);
        hash
    }

    /// The second step after [`Store::prefetch`]: starts loading the first line of every
    /// record the key's buckets point to with the key's tag (its own, and rarely another's) —
    /// a lookup's third miss, the one left after the lock's and the buckets'. It reads the
    /// buckets, so it pays off only once they have arrived (the event loop calls it a socket
    /// read later); it takes the shard's lock only if free, and skips the shard otherwise.
    pub fn prefetch_records(&self, hash: u64) {
        let Ok(shard) = self.shards[shard_of(hash)].try_lock() else {
            return;
        };
        shard.index.find(hash, |at| {
            prefetch::prefetch_line(self.arena.address_of(at as usize));
            false
        });
    }

    /// Like [`Store::get`], but hands `f` the item's value where it lies in its segment,
    /// under the shard lock, instead of a copy: a reader that only sends the bytes on saves
    /// an allocation and a copy per hit. `f` runs with the shard locked, so it should be short
    /// (the server gives it only small raw values).
    pub fn read_in_place<R>(
        &self,
        key: &[u8],
        now: u32,
        f: impl FnOnce(&InPlace<'_>) -> R,
    ) -> Option<R> {
        let hash = self.hash(key);
        self.bucket_hints.prefetch(shard_of(hash), hash);
        let mut shard = self.lock(shard_of(hash));
        let (pos, record) = self.find(&mut shard, hash, key, now)?;
        // The same bookkeeping as `fetch` without a new expiry: a hit for the eviction policy,
        // the access time, the fetched mark.
        let freq = item::freq_after_hit(shard.index.freq(pos));
        shard.index.set_freq(pos, freq);
        let mut marks = shard.index.marks(pos);
        marks.fetched = true;
        shard.index.set_marks(pos, marks);
        if record.last_access != now {
            let at = shard.index.offset(pos) as usize;
            self.write(at + record::LAST_ACCESS_AT, &now.to_le_bytes());
        }
        let held = self.held_value(&record);
        if let Some(value) = &held {
            // The record's first line is in (read above); the value's other lines are asked
            // for together before `f` checks and copies them in order.
            prefetch::prefetch_bytes(value);
        }
        Some(f(&InPlace {
            record: &record,
            held: held.as_deref(),
        }))
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
        if key.is_empty() || key.len() > 255 {
            return Outcome::NoMemory;
        }
        let Some(plan) = self.plan(&fields, key.len(), item.value.held_len()) else {
            return Outcome::NoMemory;
        };
        let hash = self.hash(key);
        let si = shard_of(hash);
        if self.growth_wanted[si].load(Ordering::Relaxed) {
            self.grow_with_reclaim(si, now);
        }
        let mut full = None;
        for _ in 0..MAX_APPEND_TRIES {
            if let Some(queue) = full {
                self.make_room(queue, &plan.lens, now);
            }
            self.bucket_hints.prefetch(si, hash);
            let mut shard = self.lock(si);
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
            let to = match &live {
                // A new version keeps its queue and counts as a hit.
                Some((pos, _)) => Destination::QueueOf(shard.index.offset(*pos) as usize),
                None => {
                    if shard.index.needs_growth() && !self.grow_locked(si, &mut shard) {
                        self.growth_wanted[si].store(true, Ordering::Relaxed);
                    }
                    // A key the ghost remembers goes straight to main.
                    Destination::Queue(if self.ghost.contains(hash) {
                        Queue::Main
                    } else {
                        Queue::Small
                    })
                }
            };
            let at = match self.append(to, &plan, &fields, key, &item.value.bytes) {
                Ok(at) => at,
                Err(queue) => {
                    full = Some(queue);
                    continue;
                }
            };
            let marks = item.marks();
            let Some(new) = self.record(at as u64) else {
                return Outcome::NoMemory;
            };
            match live {
                Some((pos, old)) => {
                    let freq = shard.index.freq(pos).saturating_add(1);
                    let old_stored = self.stored_len(&old);
                    shard.figures.remove(&old, old_stored);
                    shard.index.set_offset(pos, at as u64);
                    shard.index.set_freq(pos, freq);
                    shard.index.set_marks(pos, marks);
                }
                None => {
                    // No room in the key's buckets: grow (a displaced entry is an eviction,
                    // and memory may well be free), then displace only if growing cannot.
                    let mut placed = false;
                    for _ in 0..8 {
                        if shard.index.try_insert(hash, at as u64, 0, marks) {
                            placed = true;
                            break;
                        }
                        if !self.grow_locked(si, &mut shard) {
                            self.growth_wanted[si].store(true, Ordering::Relaxed);
                            break;
                        }
                    }
                    if !placed {
                        if let Some((displaced, displaced_marks)) =
                            shard.index.insert(hash, at as u64, 0, marks)
                        {
                            if let Some(old) = self.record(displaced) {
                                let old_stored = self.stored_len(&old);
                                shard.figures.remove(&old, old_stored);
                            }
                            self.count_removal(Removal::Evicted, displaced_marks.fetched);
                            self.counters
                                .index_displaced
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            let stored = self.stored_len(&new);
            shard.figures.add(&new, stored);
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
        for (si, shard) in shards.iter_mut().enumerate() {
            shard.index = Index::new(self.layout.index_buckets_per_shard);
            self.bucket_hints.remember(si, &shard.index);
            shard.figures = Figures::default();
        }
        self.index_bytes
            .store(self.layout.initial_index_bytes(), Ordering::Relaxed);
        self.index_credit
            .store(self.layout.slack(self.limit), Ordering::Relaxed);
        self.growth_wanted
            .iter()
            .for_each(|w| w.store(false, Ordering::Relaxed));
        self.lock_log().clear();
        self.ghost.clear();
    }

    // ---- the index's memory ----

    /// Grows a locked shard's index by an eighth, paying with index credit, topped up by retiring a
    /// free segment (the log lock nests inside a shard lock). False when neither is there: the
    /// caller asks for [`Store::grow_with_reclaim`] next time.
    fn grow_locked(&self, si: usize, shard: &mut Shard) -> bool {
        let delta = shard.index.grown_bytes() - shard.index.bytes();
        loop {
            let credit = self.index_credit.load(Ordering::Relaxed);
            if credit >= delta {
                if self
                    .index_credit
                    .compare_exchange(credit, credit - delta, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    break;
                }
                continue;
            }
            let retired = self.lock_log().retire_free();
            let Some(id) = retired else {
                return false;
            };
            self.release_segment(id);
            self.index_credit
                .fetch_add(self.layout.segment_size, Ordering::Relaxed);
        }
        let grown = shard
            .index
            .grown(|at| self.record(at).map(|r| self.hash(r.key)));
        debug_assert_eq!(grown.bytes(), shard.index.bytes() + delta);
        self.index_bytes.fetch_add(delta, Ordering::Relaxed);
        shard.index = grown;
        self.bucket_hints.remember(si, &shard.index);
        true
    }

    /// A shard whose index could not grow for want of a free segment: reclaims one (without a
    /// shard lock held), then grows it.
    fn grow_with_reclaim(&self, si: usize, now: u32) {
        let reclaim = self.lock_reclaim();
        loop {
            if self.lock_log().free_segments() > 0 {
                break;
            }
            let victim = self.lock_log().take_victim();
            let Some(victim) = victim else {
                break;
            };
            self.reclaim_segment(victim, now, &reclaim);
        }
        drop(reclaim);
        let mut shard = self.lock(si);
        if self.grow_locked(si, &mut shard) {
            self.growth_wanted[si].store(false, Ordering::Relaxed);
        }
    }

    /// Returns a retired segment's pages to the system.
    fn release_segment(&self, id: u32) {
        let base = self.segment_base(id);
        // SAFETY: the segment is retired: no index entry points into it and the log hands it
        // to no one.
        if let Err(err) = unsafe { self.arena.release(base, self.layout.segment_size) } {
            tracing::warn!(%err, "cannot release a retired segment's memory");
        }
    }

    // ---- eviction ----

    /// Reclaims segments until records of `lens` bytes fit `queue` (or nothing is left to
    /// reclaim). Called without a shard lock: reclaiming takes them.
    fn make_room(&self, queue: Queue, lens: &[usize], now: u32) {
        loop {
            if self.lock_log().has_room_for(queue, lens) {
                return;
            }
            let reclaim = self.lock_reclaim();
            // Another thread may have made room while this one waited.
            if self.lock_log().has_room_for(queue, lens) {
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
            // The key is copied out: moving records may overwrite these bytes.
            let mut key = [0u8; 255];
            key[..found.key.len()].copy_from_slice(found.key);
            let (len, cas, kind, key) = (found.len, found.cas, found.kind, &key[..found.key.len()]);
            if kind == record::Kind::Piece {
                self.reclaim_piece(victim, queue, at, len, key, cas, now);
            } else {
                self.reclaim_record(victim, queue, at, len, self.hash(key), now);
            }
            at += len;
        }
        self.lock_log().finish_reclaim(victim);
        self.counters
            .segments_reclaimed
            .fetch_add(1, Ordering::Relaxed);
    }

    /// A piece is kept (moved, its head's table updated in place) when its item is, by the
    /// same rule as records; otherwise its item goes.
    #[allow(clippy::too_many_arguments)]
    fn reclaim_piece(
        &self,
        victim: u32,
        queue: Queue,
        at: usize,
        len: usize,
        key: &[u8],
        cas: u64,
        now: u32,
    ) {
        let hash = self.hash(key);
        let mut shard = self.lock(shard_of(hash));
        let Some((pos, head)) = self.find(&mut shard, hash, key, now) else {
            return; // its item is gone: garbage
        };
        if head.cas != cas {
            return;
        }
        let Some(i) = head.pieces().position(|p| p == at as u64) else {
            return;
        };
        if self
            .kept_or_evicted(&mut shard, pos, &head, queue, hash)
            .is_none()
        {
            return;
        }
        let entry_at = shard.index.offset(pos) as usize + head.value_at() + 8 * i;
        let Some(to) = self.move_survivor(victim, at, len, 0) else {
            self.remove(&mut shard, pos, &head, Removal::Evicted);
            return;
        };
        self.write(entry_at, &(to as u64).to_le_bytes());
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
        let Some(freq) = self.kept_or_evicted(&mut shard, pos, &record, queue, hash) else {
            return;
        };
        let Some(to) = self.move_survivor(victim, at, len, record.expiry) else {
            self.remove(&mut shard, pos, &record, Removal::Evicted);
            return;
        };
        shard.index.set_offset(pos, to as u64);
        shard
            .index
            .set_freq(pos, if queue == Queue::Small { 0 } else { freq - 1 });
    }

    /// S3-FIFO's decision for the item at `pos` met in a `queue` segment: its hit count when
    /// kept (hit more than once on probation, or at all in main); otherwise it is dropped,
    /// and remembered by the ghost when it was on probation.
    fn kept_or_evicted(
        &self,
        shard: &mut Shard,
        pos: Position,
        record: &Record<'_>,
        queue: Queue,
        hash: u64,
    ) -> Option<u8> {
        let freq = shard.index.freq(pos);
        let kept = match queue {
            Queue::Small => freq > 1,
            Queue::Main => freq > 0,
        };
        if !kept {
            if queue == Queue::Small {
                self.ghost.add(hash);
            }
            self.remove(shard, pos, record, Removal::Evicted);
            return None;
        }
        Some(freq)
    }

    /// Moves a kept record of `victim` to where survivors go; returns its new offset.
    fn move_survivor(&self, victim: u32, at: usize, len: usize, expiry: u32) -> Option<usize> {
        let slot = self.lock_log().append_survivor(victim, len, expiry)?;
        let base = self.segment_base(slot.segment);
        if let Some(seq) = slot.opened {
            self.write_header(base, Queue::Main, seq);
        }
        let to = base + slot.at;
        if to != at {
            self.move_bytes(at, to, len);
        }
        self.counters.records_moved.fetch_add(1, Ordering::Relaxed);
        Some(to)
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
            if found.kind == record::Kind::Piece {
                crawl.at += found.len;
                continue;
            }
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
            for (total, n) in t.dict_items.iter_mut().zip(f.dict_items) {
                *total += n;
            }
            t.index_bytes += shard.index.bytes();
            t.index_slots += shard.index.capacity();
        }
        let census = self.lock_log().census();
        t.segment_size = self.layout.segment_size;
        t.segments = self.layout.segments;
        t.segments_free = census.free;
        t.segments_small = census.small;
        t.segments_main = census.main;
        t.segments_retired = census.retired;
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
        let mut bytes = match self.held_value(&record) {
            Some(value) => value.into_owned(),
            None => return false,
        };
        let len = bytes.len();
        f(&mut bytes);
        if bytes.len() != len {
            return false;
        }
        let head_at = shard.index.offset(pos) as usize;
        let mut places: Vec<(usize, usize)> = Vec::new();
        if record.kind == record::Kind::Inline {
            places.push((head_at + record.value_at(), record.held_len));
        } else {
            for at in record.pieces() {
                let Some(piece) = self.piece_of(&record, at) else {
                    return false;
                };
                places.push((at as usize + piece.value_at(), piece.held_len));
            }
        }
        let mut rest = &bytes[..];
        for (at, n) in places {
            self.write(at, &rest[..n]);
            rest = &rest[n..];
        }
        true
    }
}

/// Which queue a new record goes to.
#[derive(Debug, Clone, Copy)]
enum Destination {
    Queue(Queue),
    /// The queue of the segment holding this arena offset: a new version keeps its item's.
    QueueOf(usize),
}

/// The records an item is written as.
struct Plan {
    /// Record lengths in the order written: pieces then the head, or the one inline record.
    lens: Vec<usize>,
    /// Value bytes per piece; 0 for an inline record.
    piece_value: usize,
}

impl Plan {
    fn piece_fields(item: &record::Fields) -> record::Fields {
        record::Fields {
            last_access: 0,
            expiry: 0,
            expiry_field: false,
            raw_len: None,
            dict: 0,
            client_flags: 0,
            cas: item.cas,
            crc: 0,
            kind: record::Kind::Piece,
        }
    }

    fn head_fields(item: &record::Fields, value_len: usize) -> record::Fields {
        record::Fields {
            kind: record::Kind::Head { value_len },
            ..*item
        }
    }
}

/// Appends retried after making room before a store gives up (a full store of records that
/// all keep getting hit, under heavy concurrent writes).
const MAX_APPEND_TRIES: usize = 64;
#[cfg(test)]
mod tests;
