//! A shard's key index: buckets of eight 8-byte slots in one cache line, no per-key allocation.
//!
//! A slot holds the record's arena offset (44 bits), a 12-bit tag from the key's hash, the
//! eviction policy's hit counter and the item's [`Marks`]; the key itself is compared in the
//! record. A key lives in its
//! home bucket or, when that is full, in one of the next [`PROBE`] − 1; a bucket that ever
//! overflowed says so in its first slot, so a lookup stops at the first bucket that did not.
//! With every probed bucket full the insert displaces the home bucket's least-hit entry, which
//! the store then drops: the index is sized with the arena (see [`super::Layout`]) so this only
//! happens when items are smaller than the sizing assumed.

const OFFSET_BITS: u32 = 44;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
const FREQ_SHIFT: u32 = 44;
const FREQ_MASK: u64 = 0b11 << FREQ_SHIFT;
/// In a bucket's first slot: some key whose home is this bucket lives further on.
const OVERFLOW: u64 = 1 << 46;
const MARKS_SHIFT: u32 = 47;
const MARKS_MASK: u64 = 0b111 << MARKS_SHIFT;
const TAG_SHIFT: u32 = 52;

/// Buckets a lookup or insert may visit.
pub const PROBE: usize = 4;
pub const SLOTS: usize = 8;

/// The largest arena offset a slot can hold.
pub const MAX_OFFSET: u64 = OFFSET_MASK;

/// Per-item bits that change on reads: kept in the slot, which a lookup has in cache anyway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// Fetched since stored (memcached's `h`, `fetch=`, the unfetched counters).
    pub fetched: bool,
    /// Marked stale by a meta invalidation.
    pub stale: bool,
    /// A client already received the recache "win".
    pub win_sent: bool,
}

impl Marks {
    fn bits(self) -> u64 {
        (u64::from(self.fetched) | u64::from(self.stale) << 1 | u64::from(self.win_sent) << 2)
            << MARKS_SHIFT
    }

    fn from_bits(raw: u64) -> Self {
        let b = raw >> MARKS_SHIFT;
        Self {
            fetched: b & 1 != 0,
            stale: b & 2 != 0,
            win_sent: b & 4 != 0,
        }
    }
}

#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct Bucket([u64; SLOTS]);

/// Where an entry is, valid until the index changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    bucket: usize,
    slot: usize,
}

pub struct Index {
    buckets: Box<[Bucket]>,
    entries: usize,
}

fn tag_of(hash: u64) -> u64 {
    (hash >> 32) & 0xfff
}

impl Index {
    pub fn new(buckets: usize) -> Self {
        Self {
            buckets: vec![Bucket::default(); buckets.max(1)].into_boxed_slice(),
            entries: 0,
        }
    }

    /// Memory the index takes.
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val(&*self.buckets)
    }

    pub fn capacity(&self) -> usize {
        self.buckets.len() * SLOTS
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries
    }

    fn home(&self, hash: u64) -> usize {
        ((hash as u32 as u64 * self.buckets.len() as u64) >> 32) as usize
    }

    fn next(&self, bucket: usize) -> usize {
        if bucket + 1 == self.buckets.len() {
            0
        } else {
            bucket + 1
        }
    }

    fn raw(&self, p: Position) -> u64 {
        self.buckets[p.bucket].0[p.slot]
    }

    /// The entry for `hash` whose record `is_key` accepts (given the record's offset).
    pub fn find(&self, hash: u64, mut is_key: impl FnMut(u64) -> bool) -> Option<Position> {
        let tag = tag_of(hash);
        let mut bucket = self.home(hash);
        for _ in 0..PROBE {
            let slots = &self.buckets[bucket].0;
            for (slot, &raw) in slots.iter().enumerate() {
                let offset = raw & OFFSET_MASK;
                if offset != 0 && raw >> TAG_SHIFT == tag && is_key(offset) {
                    return Some(Position { bucket, slot });
                }
            }
            if slots[0] & OVERFLOW == 0 {
                return None;
            }
            bucket = self.next(bucket);
        }
        None
    }

    /// The entry whose record starts at `offset`, if any (for the reclaimer, which knows the
    /// record and asks whether the index still points to it).
    pub fn find_offset(&self, hash: u64, offset: u64) -> Option<Position> {
        self.find(hash, |at| at == offset)
    }

    pub fn offset(&self, p: Position) -> u64 {
        self.raw(p) & OFFSET_MASK
    }

    pub fn freq(&self, p: Position) -> u8 {
        ((self.raw(p) & FREQ_MASK) >> FREQ_SHIFT) as u8
    }

    pub fn set_freq(&mut self, p: Position, freq: u8) {
        let slot = &mut self.buckets[p.bucket].0[p.slot];
        *slot = (*slot & !FREQ_MASK) | (u64::from(freq.min(3)) << FREQ_SHIFT);
    }

    pub fn marks(&self, p: Position) -> Marks {
        Marks::from_bits(self.raw(p))
    }

    pub fn set_marks(&mut self, p: Position, marks: Marks) {
        let slot = &mut self.buckets[p.bucket].0[p.slot];
        *slot = (*slot & !MARKS_MASK) | marks.bits();
    }

    pub fn set_offset(&mut self, p: Position, offset: u64) {
        debug_assert!(offset != 0 && offset <= OFFSET_MASK);
        let slot = &mut self.buckets[p.bucket].0[p.slot];
        *slot = (*slot & !OFFSET_MASK) | offset;
    }

    pub fn remove(&mut self, p: Position) {
        let slot = &mut self.buckets[p.bucket].0[p.slot];
        *slot &= OVERFLOW;
        self.entries -= 1;
    }

    /// Adds an entry for a key not in the index. Returns the entry it displaced (its record's
    /// offset and marks) when every probed bucket was full.
    pub fn insert(
        &mut self,
        hash: u64,
        offset: u64,
        freq: u8,
        marks: Marks,
    ) -> Option<(u64, Marks)> {
        debug_assert!(offset != 0 && offset <= OFFSET_MASK);
        let entry = (tag_of(hash) << TAG_SHIFT)
            | (u64::from(freq.min(3)) << FREQ_SHIFT)
            | marks.bits()
            | offset;
        let home = self.home(hash);
        let mut bucket = home;
        for _ in 0..PROBE {
            let slots = &mut self.buckets[bucket].0;
            if let Some(slot) = slots.iter().position(|&raw| raw & OFFSET_MASK == 0) {
                slots[slot] |= entry;
                self.entries += 1;
                return None;
            }
            slots[0] |= OVERFLOW;
            bucket = self.next(bucket);
        }
        // Every probed bucket is full: replace the home bucket's least-hit entry.
        let slots = &mut self.buckets[home].0;
        let victim = (0..SLOTS)
            .min_by_key(|&slot| (slots[slot] & FREQ_MASK) >> FREQ_SHIFT)
            .unwrap_or(0);
        let displaced = (slots[victim] & OFFSET_MASK, Marks::from_bits(slots[victim]));
        slots[victim] = (slots[victim] & OVERFLOW) | entry;
        Some(displaced)
    }

    /// Every slot, bucket by bucket (for a warm restart).
    pub fn slots(&self) -> impl Iterator<Item = u64> + '_ {
        self.buckets.iter().flat_map(|b| b.0)
    }

    /// An index of `buckets` buckets holding `slots` as [`Index::slots`] gave them; `None` when
    /// there are not that many.
    pub fn from_slots(buckets: usize, slots: &[u64]) -> Option<Self> {
        if slots.len() != buckets * SLOTS {
            return None;
        }
        let mut index = Self::new(buckets);
        for (bucket, chunk) in index.buckets.iter_mut().zip(slots.chunks_exact(SLOTS)) {
            bucket.0.copy_from_slice(chunk);
        }
        index.entries = slots.iter().filter(|&&raw| raw & OFFSET_MASK != 0).count();
        Some(index)
    }

    /// Positions of every entry.
    pub fn positions(&self) -> Vec<Position> {
        let mut out = Vec::with_capacity(self.entries);
        for (bucket, b) in self.buckets.iter().enumerate() {
            for (slot, &raw) in b.0.iter().enumerate() {
                if raw & OFFSET_MASK != 0 {
                    out.push(Position { bucket, slot });
                }
            }
        }
        out
    }

    pub fn clear(&mut self) {
        self.buckets.fill(Bucket::default());
        self.entries = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u64) -> u64 {
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i << 29)
    }

    #[test]
    fn entries_are_found_updated_and_removed() {
        let mut index = Index::new(64);
        for i in 1..=400u64 {
            assert_eq!(index.insert(hash(i), i * 100, 0, Marks::default()), None);
        }
        assert_eq!(index.len(), 400);
        for i in 1..=400u64 {
            let p = index.find(hash(i), |off| off == i * 100).expect("present");
            assert_eq!(index.offset(p), i * 100);
            index.set_freq(p, 2);
            let marks = Marks {
                fetched: true,
                stale: i % 2 == 0,
                win_sent: i % 3 == 0,
            };
            index.set_marks(p, marks);
            assert_eq!((index.freq(p), index.marks(p)), (2, marks));
            index.set_offset(p, i * 100 + 1);
        }
        for i in 1..=400u64 {
            let p = index.find_offset(hash(i), i * 100 + 1).expect("moved");
            index.remove(p);
            assert!(index.find_offset(hash(i), i * 100 + 1).is_none());
        }
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn a_full_neighbourhood_displaces_the_least_hit_entry() {
        let mut index = Index::new(PROBE);
        // Every slot of the table full, all hit twice but one.
        for i in 1..=(PROBE * SLOTS) as u64 {
            assert_eq!(index.insert(hash(i), i, 2, Marks::default()), None);
        }
        let cold = hash(7);
        let p = index.find_offset(cold, 7).unwrap();
        let home_of_cold = p.bucket;
        index.set_freq(p, 0);
        // A key whose home is the cold key's bucket displaces it.
        let newcomer = (1000..)
            .map(hash)
            .find(|&h| index.home(h) == home_of_cold)
            .unwrap();
        assert_eq!(
            index.insert(newcomer, 5000, 0, Marks::default()),
            Some((7, Marks::default()))
        );
        assert!(index.find_offset(newcomer, 5000).is_some());
        assert_eq!(index.len(), PROBE * SLOTS);
    }
}
