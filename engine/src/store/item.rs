//! One cached item and the memory it is charged for.

use std::mem::size_of;
use std::sync::Arc;

use crate::value::StoredValue;

/// An item as the store keeps it. The key lives in the map beside it.
#[derive(Debug, Clone)]
pub struct Item {
    pub value: StoredValue,
    /// The client's opaque 32-bit flags, returned unchanged.
    pub flags: u32,
    /// Relative time at which the item expires; 0 = never (see [`crate::clock`]).
    pub expiry: u32,
    /// Compare-and-swap token, unique per stored version.
    pub cas: u64,
    /// Relative time of the last access.
    pub last_access: u32,
    /// Fetched at least once since stored.
    pub fetched: bool,
    /// Hits since insertion or since the eviction policy last looked, capped at 3 (S3-FIFO).
    pub(crate) freq: u8,
    /// In the main queue (true) or the small probationary queue (false).
    pub(crate) in_main: bool,
    /// Marked stale by a meta invalidation (`md … I`, `ms … I`).
    pub stale: bool,
    /// A client already received the recache "win" for this item.
    pub win_sent: bool,
}

impl Item {
    pub fn new(value: StoredValue, flags: u32, expiry: u32, now: u32) -> Self {
        Self {
            value,
            flags,
            expiry,
            cas: 0,
            last_access: now,
            fetched: false,
            freq: 0,
            in_main: false,
            stale: false,
            win_sent: false,
        }
    }
}

impl Item {
    /// Counts one hit for the eviction policy.
    #[inline]
    pub fn touch_for_eviction(&mut self) {
        self.freq = (self.freq + 1).min(3);
    }
}

/// A cheap copy of an item for use outside the shard lock (the value bytes are shared).
pub type ItemSnapshot = Item;

/// What glibc malloc hands out for a request of `n` bytes: 16-byte granules, an 8-byte header,
/// 32 bytes at least. Charging this rather than `n` keeps the memory bound honest for small items.
pub fn malloc_size(n: usize) -> usize {
    ((n + 8 + 15) & !15).max(32)
}

/// Bytes charged for an item with a key of `key_len` bytes: the key and value allocations (each
/// an `Arc` with two counters), the map slot at the table's worst load factor (7/8 full, then it
/// doubles: up to 2 slots per item in the worst moment), its eviction queue entry (up to 2 slots
/// for the same reason), and the ghost entry it may leave behind when evicted (a 4-byte hash in
/// a queue and a set, at most one per item held).
pub fn charged_size(key_len: usize, value: &StoredValue) -> usize {
    let slot = size_of::<(Arc<[u8]>, Item)>() + 1;
    let queue_slot = size_of::<Arc<[u8]>>();
    let ghost = size_of::<u32>() + size_of::<u32>() + 1;
    malloc_size(16 + key_len) + malloc_size(16 + value.held_len()) + 2 * (slot + queue_slot + ghost)
}
