//! A shard's key index: buckets of eight 8-byte slots in one cache line, no per-key allocation.
//!
//! A slot holds the record's arena offset (44 bits), a 12-bit tag from the key's hash, the
//! eviction policy's hit counter and the item's [`Marks`]; the key itself is compared in the
//! record. A key has two buckets — one from its hash, the other at an offset given by its tag,
//! so an entry's other bucket is known without its key (as in a cuckoo filter) — and goes to
//! the emptier one; when both are full an entry of theirs moves to its other bucket to make
//! room. A lookup reads at most two cache lines, and the table fills far further before a key
//! finds no room than with linear probing, which fills runs of buckets at two thirds. With no
//! room the store grows the index, or, when it cannot, the insert displaces the least-hit
//! entry of the two buckets and the store drops it.

const OFFSET_BITS: u32 = 44;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
const FREQ_SHIFT: u32 = 44;
const FREQ_MASK: u64 = 0b11 << FREQ_SHIFT;
const MARKS_SHIFT: u32 = 47;
const MARKS_MASK: u64 = 0b111 << MARKS_SHIFT;
/// The entry is in its key's second bucket.
const SECOND: u64 = 1 << 50;
const TAG_SHIFT: u32 = 52;

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
    count: BucketCount,
    entries: usize,
}

fn tag_of(hash: u64) -> u64 {
    (hash >> 32) & 0xfff
}

/// The number of buckets, with what placing a key among them needs: a tag's stride is a
/// remainder modulo `n - 1`, taken on every lookup's path (twice: the prefetch ahead of the
/// lock works its buckets out too). A 32-bit division costs tens of cycles; Lemire's
/// multiply-and-shift remainder ("Faster Remainder by Direct Computation", 2019), with its
/// multiplier worked out once per index size, gives the same value in a few. The strides,
/// hence every entry's buckets, are exactly those of `%`: a saved index reads back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCount {
    n: usize,
    /// `2^64 / (n - 1)` rounded up (wrapping to 0 for `n - 1 = 1`), for `n - 1` in `1..2^32`.
    multiplier: u64,
}

impl BucketCount {
    pub fn new(n: usize) -> Self {
        let divisor = n.saturating_sub(1);
        let multiplier = match u32::try_from(divisor) {
            Ok(d) if d > 0 => (u64::MAX / u64::from(d)).wrapping_add(1),
            _ => 0,
        };
        Self { n, multiplier }
    }

    /// The count and multiplier as [`BucketCount::parts`] gave them (a stored copy).
    pub fn from_parts(n: usize, multiplier: u64) -> Self {
        Self { n, multiplier }
    }

    pub fn parts(self) -> (usize, u64) {
        (self.n, self.multiplier)
    }

    pub fn get(self) -> usize {
        self.n
    }

    /// How far a tag's second bucket is from its first.
    fn stride(self, tag: u64) -> usize {
        if self.n < 2 {
            return 0;
        }
        // Below 2^24: the remainder is exact for any 32-bit dividend.
        let mixed = (tag.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as u32;
        let divisor = self.n - 1;
        let remainder = match u32::try_from(divisor) {
            Ok(d) => {
                let low = self.multiplier.wrapping_mul(u64::from(mixed));
                ((u128::from(low) * u128::from(d)) >> 64) as usize
            }
            Err(_) => mixed as usize % divisor,
        };
        1 + remainder
    }
}

/// `sum` modulo `n` for a sum of a bucket and a stride, both below `n`: a compare instead of a
/// division, on every lookup's path (twice: the prefetch ahead of the lock works its buckets out
/// too).
fn wrap(sum: usize, n: usize) -> usize {
    debug_assert!(sum < 2 * n);
    if sum >= n {
        sum - n
    } else {
        sum
    }
}

impl Index {
    pub fn new(buckets: usize) -> Self {
        Self {
            buckets: vec![Bucket::default(); buckets.max(1)].into_boxed_slice(),
            count: BucketCount::new(buckets.max(1)),
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

    /// Bytes per bucket: one cache line.
    pub const BUCKET_BYTES: usize = std::mem::size_of::<Bucket>();

    /// A key's two buckets: from the hash's low 32 bits, and that plus its tag's stride (the
    /// tag is bits 32..44, the shard bits 58..64).
    fn choices(&self, hash: u64) -> [usize; 2] {
        Self::choices_among(self.count, hash)
    }

    /// [`Index::choices`] in an index of `count` buckets.
    pub fn choices_among(count: BucketCount, hash: u64) -> [usize; 2] {
        let n = count.get();
        let first = ((hash as u32 as u64 * n as u64) >> 32) as usize;
        [first, wrap(first + count.stride(tag_of(hash)), n)]
    }

    /// Where the buckets lie (the address as an integer, for prefetching) and how many.
    pub fn location(&self) -> (usize, BucketCount) {
        (self.buckets.as_ptr() as usize, self.count)
    }

    /// The other bucket of the entry `raw` found in `bucket`.
    fn other_bucket(&self, bucket: usize, raw: u64) -> usize {
        let n = self.buckets.len();
        let stride = self.count.stride(raw >> TAG_SHIFT);
        if raw & SECOND == 0 {
            wrap(bucket + stride, n)
        } else {
            wrap(bucket + n - stride, n)
        }
    }

    fn free_slot(&self, bucket: usize) -> Option<usize> {
        self.buckets[bucket]
            .0
            .iter()
            .position(|&raw| raw & OFFSET_MASK == 0)
    }

    fn free_slots(&self, bucket: usize) -> usize {
        self.buckets[bucket]
            .0
            .iter()
            .filter(|&&raw| raw & OFFSET_MASK == 0)
            .count()
    }

    fn raw(&self, p: Position) -> u64 {
        self.buckets[p.bucket].0[p.slot]
    }

    /// The entry for `hash` whose record `is_key` accepts (given the record's offset).
    pub fn find(&self, hash: u64, mut is_key: impl FnMut(u64) -> bool) -> Option<Position> {
        let tag = tag_of(hash);
        let [first, second] = self.choices(hash);
        for bucket in [first, second] {
            for (slot, &raw) in self.buckets[bucket].0.iter().enumerate() {
                let offset = raw & OFFSET_MASK;
                if offset != 0 && raw >> TAG_SHIFT == tag && is_key(offset) {
                    return Some(Position { bucket, slot });
                }
            }
            if second == first {
                break;
            }
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
        self.buckets[p.bucket].0[p.slot] = 0;
        self.entries -= 1;
    }

    fn entry(hash: u64, offset: u64, freq: u8, marks: Marks) -> u64 {
        debug_assert!(offset != 0 && offset <= OFFSET_MASK);
        (tag_of(hash) << TAG_SHIFT) | (u64::from(freq.min(3)) << FREQ_SHIFT) | marks.bits() | offset
    }

    /// Adds an entry for a key not in the index if one of its buckets has room, or can be
    /// given room by moving one of their entries to its other bucket. False otherwise.
    pub fn try_insert(&mut self, hash: u64, offset: u64, freq: u8, marks: Marks) -> bool {
        let entry = Self::entry(hash, offset, freq, marks);
        let [first, second] = self.choices(hash);
        let (bucket, flag) = if self.free_slots(second) > self.free_slots(first) {
            (second, SECOND)
        } else {
            (first, 0)
        };
        if let Some(slot) = self.free_slot(bucket) {
            self.buckets[bucket].0[slot] = entry | flag;
            self.entries += 1;
            return true;
        }
        for (bucket, flag) in [(first, 0), (second, SECOND)] {
            for slot in 0..SLOTS {
                let raw = self.buckets[bucket].0[slot];
                let other = self.other_bucket(bucket, raw);
                if let Some(free) = self.free_slot(other) {
                    self.buckets[other].0[free] = raw ^ SECOND;
                    self.buckets[bucket].0[slot] = entry | flag;
                    self.entries += 1;
                    return true;
                }
            }
        }
        false
    }

    /// Adds an entry for a key not in the index. Returns the entry it displaced (its record's
    /// offset and marks) when there was no room (see [`Index::try_insert`]).
    pub fn insert(
        &mut self,
        hash: u64,
        offset: u64,
        freq: u8,
        marks: Marks,
    ) -> Option<(u64, Marks)> {
        if self.try_insert(hash, offset, freq, marks) {
            return None;
        }
        let entry = Self::entry(hash, offset, freq, marks);
        let [first, second] = self.choices(hash);
        // No room: replace the least-hit entry of the two buckets.
        let victim = [first, second]
            .into_iter()
            .flat_map(|bucket| (0..SLOTS).map(move |slot| Position { bucket, slot }))
            .min_by_key(|&p| self.freq(p))
            .unwrap_or(Position {
                bucket: first,
                slot: 0,
            });
        let raw = self.raw(victim);
        let flag = if victim.bucket == first { 0 } else { SECOND };
        self.buckets[victim.bucket].0[victim.slot] = entry | flag;
        Some((raw & OFFSET_MASK, Marks::from_bits(raw)))
    }

    /// Whether one more entry would take the index past fifteen sixteenths full: time to grow
    /// (a key finding both its buckets full also makes the store grow the index).
    pub fn needs_growth(&self) -> bool {
        (self.entries + 1) * 16 > self.capacity() * 15
    }

    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    fn grown_buckets(&self) -> usize {
        self.buckets.len() * 9 / 8 + 1
    }

    /// Bytes [`Index::grown`] will take.
    pub fn grown_bytes(&self) -> usize {
        self.grown_buckets() * std::mem::size_of::<Bucket>()
    }

    /// The same entries in an eighth more buckets. `hash_of` gives an entry's key hash from its
    /// record's offset (slots keep only a tag); an entry it has none for is left out.
    pub fn grown(&self, mut hash_of: impl FnMut(u64) -> Option<u64>) -> Self {
        let mut bigger = Self::new(self.grown_buckets());
        for raw in self.slots() {
            let offset = raw & OFFSET_MASK;
            if offset == 0 {
                continue;
            }
            if let Some(hash) = hash_of(offset) {
                let freq = ((raw & FREQ_MASK) >> FREQ_SHIFT) as u8;
                bigger.insert(hash, offset, freq, Marks::from_bits(raw));
            }
        }
        bigger
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
    fn a_grown_index_keeps_every_entry() {
        let mut index = Index::new(4);
        let mut i = 1u64;
        while !index.needs_growth() {
            index.insert(
                hash(i),
                i * 10,
                (i % 4) as u8,
                Marks {
                    fetched: i.is_multiple_of(2),
                    ..Marks::default()
                },
            );
            i += 1;
        }
        let bigger = index.grown(|offset| Some(hash(offset / 10)));
        assert_eq!((bigger.buckets(), bigger.len()), (5, index.len()));
        assert!(!bigger.needs_growth());
        for j in 1..i {
            let p = bigger.find_offset(hash(j), j * 10).unwrap();
            assert_eq!(
                (bigger.freq(p), bigger.marks(p).fetched),
                ((j % 4) as u8, j.is_multiple_of(2))
            );
        }
    }

    #[test]
    fn a_key_with_both_buckets_full_displaces_the_least_hit_entry() {
        let mut index = Index::new(2);
        for i in 1..=(2 * SLOTS) as u64 {
            assert_eq!(index.insert(hash(i), i, 2, Marks::default()), None);
        }
        let p = index.find_offset(hash(7), 7).unwrap();
        index.set_freq(p, 0);
        assert_eq!(
            index.insert(hash(1000), 5000, 0, Marks::default()),
            Some((7, Marks::default()))
        );
        assert!(index.find_offset(hash(1000), 5000).is_some());
        assert_eq!(index.len(), 2 * SLOTS);
    }

    #[test]
    fn the_table_fills_past_nine_tenths_before_a_key_finds_no_room() {
        for n in [80usize, 1000, 10_000] {
            let mut index = Index::new(n);
            let mut i = 1u64;
            while index.try_insert(hash(i), i, 0, Marks::default()) {
                i += 1;
            }
            let load = index.len() as f64 / index.capacity() as f64;
            assert!(load > 0.9, "{n} buckets: no room at load {load:.3}");
            // Every entry is still found where its key's buckets are.
            assert!((1..i).all(|j| index.find_offset(hash(j), j).is_some()));
        }
    }

    /// The stride as the index computed it before the multiplier (a division): what every
    /// saved index was laid out with.
    fn stride_by_division(n: usize, tag: u64) -> usize {
        if n < 2 {
            return 0;
        }
        let mixed = tag.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
        1 + (mixed as usize) % (n - 1)
    }

    #[test]
    fn strides_by_multiplier_equal_strides_by_division() {
        let mut counts: Vec<usize> = (0..=300).collect();
        // Divisors around the dividends' 24 bits and the multiplier's 32, and the largest
        // counts (no index that size is made; the remainder takes `%` past 32 bits).
        for base in [1usize << 24, 1 << 31, 1 << 32, 1 << 33, usize::MAX] {
            counts.extend(
                (0..4)
                    .map(|d| base.wrapping_sub(d))
                    .chain((1..4).map(|d| base.wrapping_add(d))),
            );
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            counts.push((state >> (state % 40)) as usize);
        }
        for n in counts {
            let count = BucketCount::new(n);
            for tag in 0..4096u64 {
                assert_eq!(
                    count.stride(tag),
                    stride_by_division(n, tag),
                    "{n} buckets, tag {tag}"
                );
            }
        }
    }
}
