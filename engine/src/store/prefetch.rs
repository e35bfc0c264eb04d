//! Where each shard's index buckets lie, so that a lookup can start loading its key's buckets
//! before it takes the shard's lock.
//!
//! A get pays three cache misses one after another: the shard's lock, the key's index bucket
//! (found through the index, behind the lock), then the item's record. The bucket's address
//! depends only on the hash and on where the shard's bucket array lies, which changes only when
//! the index grows or is replaced; kept here, read-mostly (both cores keep a clean copy of these
//! lines), it lets the bucket's miss overlap the lock's.
//!
//! The store records a shard's hint wherever it replaces the shard's index (construction,
//! growth, `flush_all`, a warm restart), under the shard's lock. A lookup reads it without
//! that lock, so it may be stale for a moment (the array replaced since): it is only ever an
//! address handed to a prefetch instruction, never dereferenced, so a stale one costs a
//! useless prefetch and nothing else.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::index::{BucketCount, Index};

#[derive(Default)]
struct BucketHint {
    /// The bucket array's address, as an integer: never turned back into a reference.
    addr: AtomicUsize,
    buckets: AtomicUsize,
    /// [`BucketCount`]'s remainder multiplier for `buckets`.
    multiplier: AtomicU64,
}

/// One hint per shard.
pub struct BucketHints(Box<[BucketHint]>);

impl BucketHints {
    pub fn new(shards: usize) -> Self {
        Self((0..shards).map(|_| BucketHint::default()).collect())
    }

    /// Starts loading the buckets `hash` may lie in, in shard `shard`.
    #[inline]
    pub fn prefetch(&self, shard: usize, hash: u64) {
        let hint = &self.0[shard];
        let (addr, buckets, multiplier) = (
            hint.addr.load(Ordering::Relaxed),
            hint.buckets.load(Ordering::Relaxed),
            hint.multiplier.load(Ordering::Relaxed),
        );
        if buckets == 0 {
            return;
        }
        // A count and multiplier read while another thread replaces them may not match: the
        // buckets are still below the count, and a wrong one is a useless prefetch.
        let count = BucketCount::from_parts(buckets, multiplier);
        for bucket in Index::choices_among(count, hash) {
            prefetch_line(addr.wrapping_add(bucket * Index::BUCKET_BYTES));
        }
    }

    /// Records where `index`, shard `shard`'s new one, keeps its buckets.
    pub fn remember(&self, shard: usize, index: &Index) {
        let hint = &self.0[shard];
        let (addr, count) = index.location();
        let (buckets, multiplier) = count.parts();
        hint.addr.store(addr, Ordering::Relaxed);
        hint.buckets.store(buckets, Ordering::Relaxed);
        hint.multiplier.store(multiplier, Ordering::Relaxed);
    }
}

#[cfg(test)]
impl BucketHints {
    /// Shard `shard`'s hint: the address and the number of buckets.
    pub fn hint(&self, shard: usize) -> (usize, BucketCount) {
        let hint = &self.0[shard];
        (
            hint.addr.load(Ordering::Relaxed),
            BucketCount::from_parts(
                hint.buckets.load(Ordering::Relaxed),
                hint.multiplier.load(Ordering::Relaxed),
            ),
        )
    }
}

/// Asks the CPU to bring the cache line at `addr` in; no effect where there is no prefetch
/// instruction to ask with.
#[inline]
pub fn prefetch_line(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch neither faults nor changes any memory or register the program can
    // observe, whatever the address (mapped or not, stale or not); it only may load a cache
    // line. `_mm_prefetch` is `unsafe` for its target feature, SSE, part of every x86-64.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// Bytes of a value [`prefetch_bytes`] asks for at most: beyond them the CPU's own stream
/// prefetcher, started by the first lines' sequential reads, keeps ahead of the reader.
const PREFETCH_BYTES_MAX: usize = 4096;

/// Asks the CPU to bring in every cache line of `bytes` (up to [`PREFETCH_BYTES_MAX`]) at
/// once, before a pass that reads them in order: the lines' misses overlap instead of
/// stalling the pass one after another (a value's CRC check, its copy or its decoding).
#[inline]
pub fn prefetch_bytes(bytes: &[u8]) {
    let start = bytes.as_ptr() as usize;
    let end = start + bytes.len().min(PREFETCH_BYTES_MAX);
    // The line holding the first byte, then every line after it up to the last.
    let mut line = start & !63;
    while line < end {
        prefetch_line(line);
        line += 64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetching_any_slice_reads_and_changes_nothing() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        for (start, len) in [(0, 0), (1, 1), (63, 2), (5, 100), (0, 4096), (7, 9_000)] {
            prefetch_bytes(&bytes[start..start + len]);
        }
        prefetch_bytes(&[]);
        assert!(bytes.iter().enumerate().all(|(i, &b)| b == i as u8));
    }
}
