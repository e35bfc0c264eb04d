//! Whether to try compressing a value whose outcome no test settles beforehand, from how such
//! tries have gone lately on this thread.
//!
//! The byte statistics of [`lzcache_driver::compressibility`] need 256 bytes to say anything;
//! below that every value is compressed — the try is cheap, and a short value's savings come
//! from the preset dictionary, which byte statistics cannot see. Above it they settle only the
//! clear cases: a doubtful value (few repeated bytes) is tried whole below 1 KiB and by a
//! 512-byte probe above, and random text fails either. So when a workload's values do not
//! compress (random tokens, encrypted session blobs, short strings the dictionary does not
//! hold), every set pays a failed try. A short one is dear: with a dictionary attached,
//! liblz4 probes the dictionary's hash table at each position it hashes, and between two sets
//! those tables have gone cold — about 0.9 µs for a 100-byte value on the development machine,
//! the largest single cost of a set there and 5 % of the server's user time under a 9:1
//! get/set load of such values (0.6 % with this gate; README, "Not done yet").
//!
//! So each thread keeps, per [`Class`], the number of failed tries in a row. After
//! [`CLOSE_AFTER`] of them it tries only one value in [`SAMPLE_EVERY`] and keeps the others
//! raw; the first try that saves opens the gate again, and so does a new dictionary (it may
//! hold what the values share) or another codec.
//!
//! What it can cost: values that would have compressed but came while the gate was closed
//! are kept raw. When a share `s` of a class compresses, the gate closes only after 128 failures
//! in a row and opens at the first sampled saving, about 16/s values later, having passed over
//! about 15 values that would have saved; 128 failures in a row take long enough to come at
//! every `s` that those stay near 1 % of the class (most near s = 2 %; a test simulates it).
//! At s = 0 it saves 15 of 16 tries.

use std::cell::Cell;

/// Failed tries in a row that close a class's gate.
pub const CLOSE_AFTER: u32 = 128;

/// While a gate is closed, one value in this many is tried.
pub const SAMPLE_EVERY: u32 = 16;

/// Values whose compression no test settles, kept apart because their outcomes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Shorter than the byte statistics need: all of them are tried, mostly for the dictionary.
    Short,
    /// Found doubtful by the statistics (few repeated bytes): tried whole below the probe's
    /// length, by the probe above it.
    Doubtful,
}

/// One class's record on one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// Whose tries these were: the codec instance and its dictionary; others start afresh.
    owner: (u64, u32),
    failures_in_a_row: u32,
    /// Values passed over since the last sampled try while closed.
    passed_over: u32,
}

impl Default for Gate {
    fn default() -> Self {
        Self::OPEN
    }
}

impl Gate {
    /// A gate no try has been recorded in: open.
    pub const OPEN: Gate = Gate {
        owner: (0, 0),
        failures_in_a_row: 0,
        passed_over: 0,
    };

    /// Whether to try a value of this class now, compressed by `owner` (a codec instance and
    /// the dictionary it would use).
    pub fn admits(&mut self, owner: (u64, u32)) -> bool {
        if owner != self.owner {
            *self = Self {
                owner,
                ..Self::OPEN
            };
        }
        if self.failures_in_a_row < CLOSE_AFTER {
            return true;
        }
        self.passed_over += 1;
        if self.passed_over < SAMPLE_EVERY {
            return false;
        }
        self.passed_over = 0;
        true
    }

    /// Records a try's outcome: `saved` when the value is kept compressed.
    pub fn record(&mut self, saved: bool) {
        if saved {
            self.failures_in_a_row = 0;
            self.passed_over = 0;
        } else {
            self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        }
    }
}

thread_local! {
    static GATES: [Cell<Gate>; 2] = const { [Cell::new(Gate::OPEN), Cell::new(Gate::OPEN)] };
}

/// Runs `f` on this thread's gate for `class`.
pub fn with_gate<R>(class: Class, f: impl FnOnce(&mut Gate) -> R) -> R {
    GATES.with(|gates| {
        let cell = &gates[class as usize];
        let mut gate = cell.get();
        let result = f(&mut gate);
        cell.set(gate);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: (u64, u32) = (1, 0);

    /// A reproducible stream of uniform draws in [0, 1).
    struct Draws(u64);

    impl Draws {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Feeds `values` values of which a share `s` would compress; returns (tries, values that
    /// would have compressed but were not tried).
    fn run(s: f64, values: usize, seed: u64) -> (usize, usize) {
        let mut gate = Gate::default();
        let mut draws = Draws(seed);
        let (mut tries, mut lost) = (0, 0);
        for _ in 0..values {
            let compresses = draws.next() < s;
            if gate.admits(OWNER) {
                tries += 1;
                gate.record(compresses);
            } else if compresses {
                lost += 1;
            }
        }
        (tries, lost)
    }

    #[test]
    fn every_value_is_tried_while_tries_save() {
        let (tries, lost) = run(1.0, 10_000, 7);
        assert_eq!((tries, lost), (10_000, 0));
        // Failures fewer than CLOSE_AFTER in a row never close it.
        let mut gate = Gate::default();
        for round in 0..100 {
            for _ in 0..CLOSE_AFTER - 1 {
                assert!(gate.admits(OWNER), "round {round}");
                gate.record(false);
            }
            assert!(gate.admits(OWNER));
            gate.record(true);
        }
    }

    #[test]
    fn a_class_that_never_compresses_is_tried_one_value_in_sixteen() {
        let values = 160_000;
        let (tries, lost) = run(0.0, values, 7);
        assert_eq!(lost, 0);
        let expected = CLOSE_AFTER as usize + (values - CLOSE_AFTER as usize) / 16;
        assert!(
            tries.abs_diff(expected) <= 1,
            "{tries} tries, {expected} expected"
        );
    }

    /// The bound the module's description gives: whatever the share of values that compress,
    /// under 1.5 % of the class is kept raw that would have compressed.
    #[test]
    fn values_kept_raw_that_would_compress_stay_under_one_and_a_half_percent() {
        let values = 400_000;
        let mut worst = (0.0, 0.0);
        for permille in [1, 5, 10, 15, 20, 25, 30, 40, 50, 70, 100, 200, 500] {
            let s = permille as f64 / 1000.0;
            let (_, lost) = run(s, values, 0x9e37_79b9_7f4a_7c15 ^ permille);
            let share = lost as f64 / values as f64;
            assert!(
                share < 0.015,
                "s = {s}: {share:.4} of the values lost their saving"
            );
            if share > worst.1 {
                worst = (s, share);
            }
        }
        // The loss is real somewhere: the gate does pass over compressible values.
        assert!(worst.1 > 0.005, "worst {worst:?}");
    }

    #[test]
    fn one_saving_opens_a_closed_gate() {
        let mut gate = Gate::default();
        for _ in 0..CLOSE_AFTER {
            assert!(gate.admits(OWNER));
            gate.record(false);
        }
        let passed: usize = (0..SAMPLE_EVERY - 1)
            .filter(|_| !gate.admits(OWNER))
            .count();
        assert_eq!(passed, SAMPLE_EVERY as usize - 1);
        assert!(gate.admits(OWNER), "the sixteenth is tried");
        gate.record(true);
        assert!((0..1000).all(|_| gate.admits(OWNER)));
    }

    #[test]
    fn a_new_dictionary_or_codec_opens_a_closed_gate() {
        for new_owner in [(1, 2), (2, 0)] {
            let mut gate = Gate::default();
            for _ in 0..CLOSE_AFTER {
                gate.admits(OWNER);
                gate.record(false);
            }
            assert!(!gate.admits(OWNER));
            assert!(gate.admits(new_owner), "{new_owner:?}");
            assert!(gate.admits(new_owner));
        }
    }

    #[test]
    fn each_class_keeps_its_own_record() {
        for _ in 0..CLOSE_AFTER {
            with_gate(Class::Short, |gate| {
                gate.admits(OWNER);
                gate.record(false);
            });
        }
        let short_closed =
            (0..SAMPLE_EVERY - 1).any(|_| !with_gate(Class::Short, |g| g.admits(OWNER)));
        assert!(short_closed);
        assert!(with_gate(Class::Doubtful, |g| g.admits(OWNER)));
    }
}
