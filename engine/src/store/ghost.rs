//! S3-FIFO's ghost: which keys were recently evicted from the small queue, in about a byte per
//! key. Two Bloom filters of three bits per key: keys are added to the current one; when it has
//! taken its share it becomes the previous one and the old previous one is cleared. A key is a
//! ghost when either filter has all its bits. False positives only send a newcomer to the main
//! queue; the policy stays a policy.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub struct Ghost {
    filters: [Box<[AtomicU64]>; 2],
    /// Which filter takes new keys (0 or 1).
    current: AtomicUsize,
    added: AtomicUsize,
    /// Keys per filter before it rotates: each filter has eight bits per key.
    per_filter: usize,
}

fn words(n: usize) -> Box<[AtomicU64]> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

impl Ghost {
    /// A ghost that remembers about `keys` keys, in `keys` bytes.
    pub fn new(keys: usize) -> Self {
        let bits_each = Self::bits_each(keys);
        Self {
            filters: [words(bits_each / 64), words(bits_each / 64)],
            current: AtomicUsize::new(0),
            added: AtomicUsize::new(0),
            per_filter: (bits_each / 8).max(1),
        }
    }

    pub fn bytes(&self) -> usize {
        2 * self.filters[0].len() * 8
    }

    /// What [`Ghost::new`]`(keys)` takes.
    pub fn bytes_for(keys: usize) -> usize {
        2 * Self::bits_each(keys) / 8
    }

    fn bits_each(keys: usize) -> usize {
        (keys * 4).next_power_of_two().max(64)
    }

    /// Three bit positions by double hashing.
    fn bits(&self, hash: u64) -> [usize; 3] {
        let mask = self.filters[0].len() * 64 - 1;
        let h1 = hash.rotate_left(23).wrapping_mul(0xff51_afd7_ed55_8ccd);
        let h2 = (hash ^ (hash >> 29)).wrapping_mul(0xc4ce_b9fe_1a85_ec53) | 1;
        [0u64, 1, 2].map(|i| (h1.wrapping_add(i.wrapping_mul(h2)) as usize) & mask)
    }

    fn has(filter: &[AtomicU64], bits: [usize; 3]) -> bool {
        bits.iter()
            .all(|&b| filter[b / 64].load(Ordering::Relaxed) & (1 << (b % 64)) != 0)
    }

    pub fn contains(&self, hash: u64) -> bool {
        let bits = self.bits(hash);
        self.filters.iter().any(|f| Self::has(f, bits))
    }

    /// Remembers a key. Called by the (single) reclaimer; lookups may run concurrently.
    pub fn add(&self, hash: u64) {
        let bits = self.bits(hash);
        let mut current = self.current.load(Ordering::Relaxed);
        if self.added.fetch_add(1, Ordering::Relaxed) >= self.per_filter {
            current ^= 1;
            for word in self.filters[current].iter() {
                word.store(0, Ordering::Relaxed);
            }
            self.current.store(current, Ordering::Relaxed);
            self.added.store(1, Ordering::Relaxed);
        }
        let filter = &self.filters[current];
        for b in bits {
            filter[b / 64].fetch_or(1 << (b % 64), Ordering::Relaxed);
        }
    }

    pub fn clear(&self) {
        for filter in &self.filters {
            for word in filter.iter() {
                word.store(0, Ordering::Relaxed);
            }
        }
        self.added.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u64) -> u64 {
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    #[test]
    fn recent_keys_are_remembered_and_old_ones_forgotten() {
        let ghost = Ghost::new(1000);
        for i in 0..1000 {
            ghost.add(hash(i));
        }
        assert!((0..1000).all(|i| ghost.contains(hash(i))));
        let false_positives = (10_000..20_000)
            .filter(|&i| ghost.contains(hash(i)))
            .count();
        assert!(false_positives < 1000, "{false_positives} of 10 000");
        // Three filters' worth of newer keys later, the first ones are gone.
        for i in 100_000..100_000 + 3 * ghost.per_filter as u64 {
            ghost.add(hash(i));
        }
        let remembered = (0..1000).filter(|&i| ghost.contains(hash(i))).count();
        assert!(remembered < 100, "{remembered} of 1000 still remembered");
    }
}
