//! Server-wide counters reported by `stats`.
//!
//! Relaxed atomics, striped by thread: each worker thread increments its own cache-line-aligned
//! copy of the counters, and `stats` sums the copies. One shared copy cost a cache-line
//! transfer between the workers' cores on nearly every request (memcached keeps per-thread
//! counters for the same reason). Gauges that several threads move up and down
//! (`curr_connections`) stay single.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Copies of the counters; threads beyond this share them.
const STRIPES: usize = 16;

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// One thread's copy of the monotonic counters, named as memcached names them where
        /// memcached has them. Aligned to keep two copies off one cache line (128: adjacent
        /// lines are prefetched in pairs).
        #[derive(Debug, Default)]
        #[repr(align(128))]
        pub struct Counters {
            $(pub $name: AtomicU64,)*
        }

        impl Stats {
            /// `(name, value)` for every counter (`curr_connections` first, then the counters
            /// in declaration order), summed over the threads.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                let mut out = vec![("curr_connections", Self::get(&self.curr_connections))];
                $(out.push((stringify!($name), self.total(|c| &c.$name)));)*
                out
            }

            /// `stats reset`: zeroes the counters (gauges such as connections are kept).
            pub fn reset(&self) {
                for stripe in self.stripes.iter() {
                    $(stripe.$name.store(0, Ordering::Relaxed);)*
                }
            }
        }
    };
}

/// The server's counters: per-thread copies of [`Counters`] (reached through `Deref`: the
/// calling thread's copy) and the shared gauges.
#[derive(Debug)]
pub struct Stats {
    pub curr_connections: AtomicU64,
    stripes: Box<[Counters]>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            curr_connections: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| Counters::default()).collect(),
        }
    }
}

impl std::ops::Deref for Stats {
    type Target = Counters;

    /// The calling thread's copy: increment through it, never read a total from it.
    #[inline]
    fn deref(&self) -> &Counters {
        &self.stripes[stripe_index()]
    }
}

/// The stripe of the calling thread, dealt in turn as threads first count something.
#[inline]
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

counters!(
    total_connections,
    rejected_connections,
    idle_kicks,
    cmd_get,
    cmd_set,
    cmd_flush,
    cmd_touch,
    cmd_meta,
    get_hits,
    get_misses,
    delete_misses,
    delete_hits,
    incr_misses,
    incr_hits,
    decr_misses,
    decr_hits,
    cas_misses,
    cas_hits,
    cas_badval,
    touch_hits,
    touch_misses,
    bytes_read,
    bytes_written,
    auth_cmds,
    auth_errors,
    crc_errors,
    values_compressed,
    values_uncompressed,
    values_passed_over,
);

impl Stats {
    #[inline]
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    #[inline]
    pub fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection counted in `curr_connections` has ended (or was never served): gives
    /// back its place under the connection limit.
    pub fn connection_ended(&self) {
        self.curr_connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// The value of a gauge (for a counter, use [`Stats::total`]).
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// A counter summed over the threads' copies.
    pub fn total(&self, pick: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        self.stripes
            .iter()
            .map(|stripe| pick(stripe).load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up_and_reset_keeps_gauges() {
        let stats = std::sync::Arc::new(Stats::default());
        let threads: Vec<_> = (0..20)
            .map(|_| {
                let stats = stats.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        Stats::incr(&stats.cmd_get);
                    }
                    Stats::add(&stats.bytes_read, 7);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        Stats::incr(&stats.curr_connections);
        let snapshot: std::collections::HashMap<_, _> = stats.snapshot().into_iter().collect();
        assert_eq!(snapshot["cmd_get"], 20_000);
        assert_eq!(snapshot["bytes_read"], 140);
        assert_eq!(snapshot["curr_connections"], 1);
        stats.reset();
        assert_eq!(stats.total(|c| &c.cmd_get), 0);
        assert_eq!(Stats::get(&stats.curr_connections), 1);
    }
}
