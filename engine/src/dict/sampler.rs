//! The values dictionaries are trained on: a bounded sample of what clients store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Collects stored values until it holds `budget` bytes, then stops taking any until it is
/// drained for a training. While full, a store pays one relaxed load for it.
pub struct Sampler {
    budget: usize,
    full: AtomicBool,
    held: Mutex<Samples>,
}

#[derive(Default)]
struct Samples {
    values: Vec<Box<[u8]>>,
    bytes: usize,
    /// Values offered while filling; every `stride`th is kept, so one burst of a single kind
    /// does not fill the sample alone.
    offered: u64,
}

/// Of the values offered, one in this many is kept.
const STRIDE: u64 = 4;

impl Sampler {
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            full: AtomicBool::new(false),
            held: Mutex::new(Samples::default()),
        }
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// Offers a stored value; kept when there is room and it is its turn.
    pub fn offer(&self, value: &[u8]) {
        if self.is_full() || value.len() > self.budget {
            return;
        }
        let mut held = self.lock();
        held.offered += 1;
        if !held.offered.is_multiple_of(STRIDE) {
            return;
        }
        held.bytes += value.len();
        held.values.push(value.into());
        if held.bytes >= self.budget {
            self.full.store(true, Ordering::Relaxed);
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Takes every sample and starts collecting afresh.
    pub fn drain(&self) -> Vec<Box<[u8]>> {
        let mut held = self.lock();
        let values = std::mem::take(&mut held.values);
        held.bytes = 0;
        self.full.store(false, Ordering::Relaxed);
        values
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Samples> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_to_its_budget_then_refuses_until_drained() {
        let sampler = Sampler::new(1000);
        for _ in 0..STRIDE * 9 {
            sampler.offer(&[7; 100]);
        }
        assert!(!sampler.is_full());
        assert_eq!(sampler.bytes(), 900);
        for _ in 0..STRIDE * 5 {
            sampler.offer(&[7; 100]);
        }
        assert!(sampler.is_full());
        assert_eq!(sampler.bytes(), 1000);
        let taken = sampler.drain();
        assert_eq!(taken.len(), 10);
        assert!(!sampler.is_full() && sampler.bytes() == 0);
    }
}
