//! One cached item as the commands see it: a copy taken out of the store, or one to put in.

use crate::value::StoredValue;

use super::record;

/// An item outside the store. Reads copy the value out of its segment (under the shard lock,
/// so the segment may be reclaimed as soon as the lock is released).
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
            stale: false,
            win_sent: false,
        }
    }

    /// Counts one hit for the eviction policy.
    #[inline]
    pub fn touch_for_eviction(&mut self) {
        self.freq = freq_after_hit(self.freq);
    }

    /// The marks its index slot keeps.
    pub(super) fn marks(&self) -> super::index::Marks {
        super::index::Marks {
            fetched: self.fetched,
            stale: self.stale,
            win_sent: self.win_sent,
        }
    }

    /// The fields of this item's record.
    pub(super) fn fields(&self) -> record::Fields {
        record::Fields {
            last_access: self.last_access,
            expiry: self.expiry,
            expiry_field: self.expiry != 0,
            raw_len: self.value.compressed.then_some(self.value.raw_len),
            dict: self.value.dict,
            client_flags: self.flags,
            cas: self.cas,
            crc: self.value.crc,
            kind: record::Kind::Inline,
        }
    }
}

/// A copy of an item for use outside the shard lock.
pub type ItemSnapshot = Item;

/// Bytes the item's record takes in its segment under a key of `key_len` bytes (its share of
/// the index comes on top: about 13 bytes, see [`super::Layout`]).
pub fn record_size(key_len: usize, item: &Item) -> usize {
    record::encoded_len(&item.fields(), key_len, item.value.held_len())
}

/// An item's eviction frequency after a hit: one more, saturating at the index's two bits.
pub(super) fn freq_after_hit(freq: u8) -> u8 {
    (freq + 1).min(3)
}
