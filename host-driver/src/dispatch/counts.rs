//! Jobs and bytes of one path, counted per thread.
//!
//! Every value the server stores or serves through the codec is counted. Shared atomic counters
//! cost a locked read-modify-write each (three per job) and move one cache line between the
//! worker threads on every job; here each thread adds to counters of its own with a plain load
//! and store, and a reader (`stats`) sums all threads' counters.

use std::sync::atomic::{AtomicU64, Ordering};

use thread_local::ThreadLocal;

/// One thread's counters: written by that thread only, read by any.
#[derive(Debug, Default)]
struct Slot {
    jobs: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// Totals over all threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Totals {
    pub jobs: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counts {
    slots: ThreadLocal<Slot>,
}

/// Adds `n` to a counter only this thread writes: no locked instruction is needed, and a
/// concurrent reader sees the old or the new value, both true at some instant.
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

impl Counts {
    /// Counts one job of `bytes_in` bytes that produced `bytes_out`; returns how many jobs this
    /// thread's slot had counted before it (a slot passes to a new thread when its thread ends).
    pub(super) fn add(&self, bytes_in: usize, bytes_out: usize) -> u64 {
        let slot = self.slots.get_or_default();
        let before = slot.jobs.load(Ordering::Relaxed);
        bump(&slot.jobs, 1);
        bump(&slot.bytes_in, bytes_in as u64);
        bump(&slot.bytes_out, bytes_out as u64);
        before
    }

    /// Jobs this thread's slot has counted (0 before the thread's first count).
    pub(super) fn jobs_here(&self) -> u64 {
        self.slots
            .get()
            .map_or(0, |slot| slot.jobs.load(Ordering::Relaxed))
    }

    pub(super) fn totals(&self) -> Totals {
        self.slots
            .iter()
            .fold(Totals::default(), |sum, slot| Totals {
                jobs: sum.jobs + slot.jobs.load(Ordering::Relaxed),
                bytes_in: sum.bytes_in + slot.bytes_in.load(Ordering::Relaxed),
                bytes_out: sum.bytes_out + slot.bytes_out.load(Ordering::Relaxed),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn every_threads_counts_are_summed() {
        let counts = Arc::new(Counts::default());
        assert_eq!(counts.add(10, 4), 0);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counts = Arc::clone(&counts);
                std::thread::spawn(move || {
                    // A thread may take over the slot of one that ended: counts carry on.
                    let start = counts.add(3, 2);
                    for i in 1..1000 {
                        assert_eq!(counts.add(3, 2), start + i);
                    }
                    counts.jobs_here() - start
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), 1000);
        }
        assert_eq!(counts.jobs_here(), 1);
        assert_eq!(
            counts.totals(),
            Totals {
                jobs: 4001,
                bytes_in: 12_010,
                bytes_out: 8_004,
            }
        );
    }
}
