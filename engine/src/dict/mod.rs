//! Trained LZ4 dictionaries: what makes small values compress.
//!
//! LZ4 on one 100–500-byte value finds little to match; the values of one cache share their
//! structure, and a dictionary trained on them holds it. The server samples values as they are
//! stored ([`sampler`]), trains a dictionary in the background with zstd's fastCover builder
//! ([`lzcache_driver::dict::train`]), and adopts it only when it beats the current one by
//! [`ADOPT_MARGIN_PERCENT`] on samples it was not trained on. It retrains when the ratio of the
//! values it compresses falls well below what the held-out samples promised, and at most every
//! [`DictSettings::retrain_interval`] otherwise.
//!
//! Versioned: every value compressed with a dictionary records its id, so adopting a new one
//! never makes an old value unreadable. An old dictionary stays while the store still holds
//! values that name it (counted per dictionary by the store, [`crate::store::DICT_SLOTS`] at
//! most), and goes once none do. Their memory — the sample, the dictionaries, liblz4's prepared
//! tables — is a fixed budget taken from `-m` ([`Dictionaries::memory_bytes`]).
//!
//! Dictionary blocks run in software (liblz4 with the dictionary hashed once); no device loads
//! dictionaries yet.

pub mod file;
mod sampler;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use lzcache_driver::Dictionary;
use tracing::{info, warn};

use crate::store::{dict_slot, DICT_SLOTS};
use crate::value::held_len;
pub use sampler::Sampler;

/// A new dictionary must shrink the held-out samples by this much more than the current one.
pub const ADOPT_MARGIN_PERCENT: usize = 3;
/// Values longer than this are compressed without a dictionary: they find their matches in
/// themselves, and the device (when present) can take them.
pub const DICT_VALUE_MAX: usize = 16 << 10;
/// The sample the trainer learns from, in multiples of the dictionary's size (zstd suggests
/// about 100; 16 keeps it at 256 KiB for the default 16 KiB: with the dictionaries, 384 KiB
/// taken from `-m`, which costs small random values 2-4 % of the items a `-m 16` holds).
pub const SAMPLE_FACTOR: usize = 16;
/// One in this many samples is held out to judge a dictionary rather than train it.
const HOLD_OUT_EVERY: usize = 5;
/// liblz4's prepared table beside each dictionary's content.
const PREPARED_TABLE_BYTES: usize = 16 << 10;
/// Retrain sooner than the interval when the ratio fell below this share of the promised one.
const DECAY_PERCENT: u64 = 85;
/// Raw bytes compressed with the active dictionary before its ratio is judged for decay.
const DECAY_WINDOW_BYTES: u64 = 4 << 20;

/// The operator's settings (`--dict`, `--dict-size`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictSettings {
    pub enabled: bool,
    /// Bytes of dictionary content to train (≤ 64 KiB).
    pub size: usize,
    /// Retrain at most this often while the ratio holds.
    pub retrain_interval: Duration,
    /// Dictionaries to start with (`--dict-import`).
    pub import: Option<PathBuf>,
    /// Write the dictionaries here whenever one is adopted (`--dict-export`).
    pub export: Option<PathBuf>,
}

impl Default for DictSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            size: 16 << 10,
            retrain_interval: Duration::from_secs(600),
            import: None,
            export: None,
        }
    }
}

/// How a dictionary did on held-out samples: bytes as the store would keep them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    pub raw: usize,
    /// Without a dictionary.
    pub plain: usize,
    /// With the dictionary active before.
    pub current: usize,
    /// With the candidate.
    pub candidate: usize,
}

/// What one training did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trained {
    Adopted {
        id: u32,
        eval: Evaluation,
    },
    Rejected {
        eval: Evaluation,
    },
    /// Every counting slot is taken by a dictionary values still use.
    Deferred {
        eval: Evaluation,
    },
    Failed(String),
}

struct Held {
    dict: Arc<Dictionary>,
    /// When it stopped being the active one.
    retired_at: Option<Instant>,
}

#[derive(Default)]
struct State {
    active: Option<Arc<Dictionary>>,
    held: Vec<Held>,
    next_id: u32,
    /// The held-out figures of the active dictionary when it was adopted.
    adopted: Option<Evaluation>,
    last_training: Option<Instant>,
}

#[derive(Default)]
struct Counters {
    trainings: AtomicU64,
    adoptions: AtomicU64,
    rejections: AtomicU64,
    deferrals: AtomicU64,
    failures: AtomicU64,
    retired: AtomicU64,
    /// Raw and held bytes of values compressed with the active dictionary since its adoption.
    raw_bytes: AtomicU64,
    held_bytes: AtomicU64,
}

/// The server's dictionaries: the active one, the older ones values still name, the sample and
/// the training policy. Shared by every worker.
pub struct Dictionaries {
    settings: DictSettings,
    compress_min: usize,
    sampler: Sampler,
    state: RwLock<State>,
    counters: Counters,
    wake: (Mutex<bool>, Condvar),
    /// Time added by [`Dictionaries::advance`], in nanoseconds.
    advanced: AtomicU64,
}

impl Dictionaries {
    /// Dictionaries for values of at least `compress_min` bytes, within a cache of `limit`
    /// bytes: their budget is at most a sixteenth of it, and with less than that for a useful
    /// sample they are off.
    pub fn new(mut settings: DictSettings, compress_min: usize, limit: usize) -> Self {
        settings.size = settings.size.clamp(256, lzcache_driver::dict::MAX_DICT_LEN);
        let sample = SAMPLE_FACTOR * settings.size;
        let budget = Self::budget(sample, settings.size);
        if settings.enabled && budget > limit / 16 {
            warn!(
                limit,
                budget, "dictionaries off: their memory would exceed a sixteenth of -m"
            );
            settings.enabled = false;
        }
        Self {
            sampler: Sampler::new(if settings.enabled { sample } else { 0 }),
            settings,
            compress_min,
            state: RwLock::new(State {
                next_id: 1,
                ..State::default()
            }),
            counters: Counters::default(),
            wake: (Mutex::new(false), Condvar::new()),
            advanced: AtomicU64::new(0),
        }
    }

    pub fn settings(&self) -> &DictSettings {
        &self.settings
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Bytes taken from `-m`: the sample and the largest set of dictionaries with their tables.
    pub fn memory_bytes(&self) -> usize {
        if !self.enabled() {
            return 0;
        }
        Self::budget(self.sampler.budget(), self.settings.size)
    }

    /// The sample and the most dictionaries held at once, each with liblz4's table.
    fn budget(sample: usize, size: usize) -> usize {
        sample + DICT_SLOTS * (size + PREPARED_TABLE_BYTES)
    }

    /// The policy's time: the monotonic clock plus what [`Dictionaries::advance`] added.
    fn now(&self) -> Instant {
        Instant::now() + Duration::from_nanos(self.advanced.load(Ordering::Relaxed))
    }

    /// Moves the policy's time forward, so that tests of retraining and retirement run
    /// without waiting for real seconds to pass.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.advanced.fetch_add(nanos, Ordering::Relaxed);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The dictionary new values of `len` bytes are compressed with, if any.
    pub fn for_value(&self, len: usize) -> Option<Arc<Dictionary>> {
        if !self.enabled() || len > DICT_VALUE_MAX {
            return None;
        }
        self.read().active.clone()
    }

    /// The dictionary named `id`, while values may still name it.
    pub fn get(&self, id: u32) -> Option<Arc<Dictionary>> {
        let state = self.read();
        state
            .held
            .iter()
            .find(|h| h.dict.id() == id)
            .map(|h| Arc::clone(&h.dict))
    }

    /// A value about to be stored: a candidate sample. Wakes the trainer when the sample is
    /// full.
    pub fn offer(&self, value: &[u8]) {
        if !self.enabled()
            || value.len() < self.compress_min
            || value.len() > DICT_VALUE_MAX
            || self.sampler.is_full()
        {
            return;
        }
        self.sampler.offer(value);
        if self.sampler.is_full() {
            self.notify();
        }
    }

    /// A value was compressed with the active dictionary into `held` bytes.
    pub fn note_compressed(&self, raw: usize, held: usize) {
        self.counters
            .raw_bytes
            .fetch_add(raw as u64, Ordering::Relaxed);
        self.counters
            .held_bytes
            .fetch_add(held as u64, Ordering::Relaxed);
    }

    fn notify(&self) {
        let (flag, condvar) = &self.wake;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        condvar.notify_one();
    }

    /// Whether a training is due now: a full sample and either no dictionary yet, the
    /// interval passed, or the ratio decayed.
    pub fn training_due(&self) -> bool {
        if !self.enabled() || !self.sampler.is_full() {
            return false;
        }
        let state = self.read();
        let Some(last) = state.last_training else {
            return true;
        };
        // Trainings are spaced by a twentieth of the interval at least (30 s by default), so a
        // workload no dictionary helps (random bytes) costs one training per spacing, not one
        // per refilled sample.
        let since = self.now().saturating_duration_since(last);
        if since < self.settings.retrain_interval / 20 {
            return false;
        }
        let Some(adopted) = state.adopted else {
            return true;
        };
        if since >= self.settings.retrain_interval {
            return true;
        }
        let raw = self.counters.raw_bytes.load(Ordering::Relaxed);
        let held = self.counters.held_bytes.load(Ordering::Relaxed).max(1);
        // Decayed: the ratio served (raw / held) fell below DECAY_PERCENT of the held-out one
        // (adopted.raw / adopted.candidate), compared without division.
        raw >= DECAY_WINDOW_BYTES
            && (raw as u128) * (adopted.candidate as u128) * 100
                < (adopted.raw as u128) * (held as u128) * DECAY_PERCENT as u128
    }

    /// Trains on the current sample and adopts the result if it earns it. `dict_items` are the
    /// store's live items per dictionary slot. Runs on the trainer thread (or a test's).
    pub fn train_now(&self, dict_items: [usize; DICT_SLOTS]) -> Trained {
        self.retire_unused(dict_items);
        let samples = self.sampler.drain();
        self.counters.trainings.fetch_add(1, Ordering::Relaxed);
        self.write().last_training = Some(self.now());
        let (mut train, mut held_out) = (Vec::new(), Vec::new());
        for (i, s) in samples.into_iter().enumerate() {
            if i % HOLD_OUT_EVERY == 0 {
                held_out.push(s);
            } else {
                train.push(s);
            }
        }
        let content = match lzcache_driver::dict::train(&train, self.settings.size) {
            Ok(content) => content,
            Err(err) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                return Trained::Failed(err.to_string());
            }
        };
        let id = self.read().next_id;
        let candidate = match Dictionary::new(id, content) {
            Ok(dict) => Arc::new(dict),
            Err(err) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                return Trained::Failed(err.to_string());
            }
        };
        let current = self.read().active.clone();
        let eval = Evaluation {
            raw: held_out.iter().map(|s| s.len()).sum(),
            plain: self.held_size(None, &held_out),
            current: match &current {
                Some(dict) => self.held_size(Some(dict), &held_out),
                None => self.held_size(None, &held_out),
            },
            candidate: self.held_size(Some(&candidate), &held_out),
        };
        if eval.candidate * 100 > eval.current * (100 - ADOPT_MARGIN_PERCENT) {
            self.counters.rejections.fetch_add(1, Ordering::Relaxed);
            return Trained::Rejected { eval };
        }
        let mut state = self.write();
        let slot_taken = dict_items[dict_slot(id)] != 0
            || state
                .held
                .iter()
                .any(|h| dict_slot(h.dict.id()) == dict_slot(id));
        if slot_taken {
            self.counters.deferrals.fetch_add(1, Ordering::Relaxed);
            return Trained::Deferred { eval };
        }
        if let Some(old) = state.held.iter_mut().find(|h| h.retired_at.is_none()) {
            old.retired_at = Some(self.now());
        }
        state.held.push(Held {
            dict: Arc::clone(&candidate),
            retired_at: None,
        });
        state.active = Some(candidate);
        state.adopted = Some(eval);
        state.next_id = id.checked_add(1).filter(|&n| n != 0).unwrap_or(1);
        drop(state);
        self.counters.raw_bytes.store(0, Ordering::Relaxed);
        self.counters.held_bytes.store(0, Ordering::Relaxed);
        self.counters.adoptions.fetch_add(1, Ordering::Relaxed);
        info!(
            id,
            raw = eval.raw,
            plain = eval.plain,
            previous = eval.current,
            with = eval.candidate,
            "dictionary adopted"
        );
        self.export();
        Trained::Adopted { id, eval }
    }

    /// Bytes `samples` would take in the store compressed with `dict` (or without one), kept as
    /// [`crate::value::ValueCodec`] keeps them ([`held_len`]).
    fn held_size(&self, dict: Option<&Arc<Dictionary>>, samples: &[Box<[u8]>]) -> usize {
        samples
            .iter()
            .map(|s| {
                let block = match dict {
                    Some(dict) => dict.compress(s).map_or(usize::MAX, |b| b.len()),
                    None => lz4_flex::block::compress(s).len(),
                };
                if s.len() >= self.compress_min {
                    held_len(s.len(), block)
                } else {
                    s.len()
                }
            })
            .sum()
    }

    /// Drops the dictionaries no live value names any more (and that stopped being active at
    /// least a training interval's twentieth ago: a value compressed just before an adoption
    /// may still be on its way into the store).
    pub fn retire_unused(&self, dict_items: [usize; DICT_SLOTS]) {
        let grace = self.settings.retrain_interval / 20;
        let now = self.now();
        let mut state = self.write();
        let before = state.held.len();
        state.held.retain(|h| match h.retired_at {
            None => true,
            Some(at) => {
                dict_items[dict_slot(h.dict.id())] != 0 || now.saturating_duration_since(at) < grace
            }
        });
        let dropped = before - state.held.len();
        self.counters
            .retired
            .fetch_add(dropped as u64, Ordering::Relaxed);
    }

    /// Everything a dictionaries file keeps.
    pub fn saved(&self) -> file::Saved {
        let state = self.read();
        file::Saved {
            active: state.active.as_ref().map_or(0, |d| d.id()),
            next_id: state.next_id,
            dicts: state.held.iter().map(|h| Arc::clone(&h.dict)).collect(),
        }
    }

    /// Takes the dictionaries of a file (warm restart, `--dict-import`): its active one becomes
    /// active, the others stay readable. Refused whole if one of its ids is already held with
    /// other content: values naming that id could not tell which they were made with.
    pub fn restore(&self, saved: file::Saved) -> Result<(), String> {
        let mut state = self.write();
        for dict in &saved.dicts {
            if let Some(held) = state.held.iter().find(|h| h.dict.id() == dict.id()) {
                if held.dict.crc() != dict.crc() {
                    return Err(format!(
                        "dictionary {} is already held with other content",
                        dict.id()
                    ));
                }
            }
        }
        let now = self.now();
        for dict in saved.dicts {
            if state.held.iter().any(|h| h.dict.id() == dict.id()) {
                continue;
            }
            let active = dict.id() == saved.active;
            if active {
                if let Some(old) = state.held.iter_mut().find(|h| h.retired_at.is_none()) {
                    old.retired_at = Some(now);
                }
                state.active = Some(Arc::clone(&dict));
            }
            state.next_id = state.next_id.max(dict.id().saturating_add(1));
            state.held.push(Held {
                dict,
                retired_at: (!active).then_some(now),
            });
        }
        state.next_id = state.next_id.max(saved.next_id).max(1);
        Ok(())
    }

    fn export(&self) {
        if let Some(path) = &self.settings.export {
            if let Err(err) = file::write(path, &self.saved()) {
                warn!(path = %path.display(), %err, "could not export the dictionaries");
            }
        }
    }

    /// Starts the trainer thread. It holds the cache weakly (`items` upgrades it to read the
    /// store's counts) and ends when the cache is gone.
    pub fn spawn_trainer<C: Send + Sync + 'static>(
        self: &Arc<Self>,
        cache: Weak<C>,
        items: fn(&C) -> [usize; DICT_SLOTS],
    ) -> std::io::Result<()> {
        if !self.enabled() {
            return Ok(());
        }
        let dicts = Arc::clone(self);
        std::thread::Builder::new()
            .name("lzcache-dict".into())
            .spawn(move || loop {
                {
                    let (flag, condvar) = &dicts.wake;
                    let guard = flag.lock().unwrap_or_else(|e| e.into_inner());
                    // Wakes on a full sample; the timeout only notices a gone cache and a
                    // passed interval.
                    let (mut guard, _) = condvar
                        .wait_timeout_while(guard, Duration::from_secs(1), |woken| !*woken)
                        .unwrap_or_else(|e| e.into_inner());
                    *guard = false;
                }
                let Some(cache) = cache.upgrade() else {
                    return;
                };
                let counts = items(&cache);
                if dicts.training_due() {
                    match dicts.train_now(counts) {
                        Trained::Failed(why) => info!(%why, "dictionary training failed"),
                        Trained::Rejected { eval } => {
                            info!(?eval, "trained dictionary not better: kept the current one")
                        }
                        Trained::Deferred { eval } => {
                            info!(?eval, "trained dictionary deferred: every slot in use")
                        }
                        Trained::Adopted { .. } => {}
                    }
                } else {
                    dicts.retire_unused(counts);
                }
            })
            .map(|_| ())
    }

    /// `stats` lines.
    pub fn stats(&self) -> Vec<(&'static str, String)> {
        let state = self.read();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        let ratio = |raw: usize, held: usize| {
            if held == 0 {
                "0".to_string()
            } else {
                format!("{:.3}", raw as f64 / held as f64)
            }
        };
        let eval = state.adopted.unwrap_or_default();
        let c = &self.counters;
        vec![
            ("lz_dict", if self.enabled() { "on" } else { "off" }.into()),
            (
                "lz_dict_id",
                state.active.as_ref().map_or(0, |d| d.id()).to_string(),
            ),
            (
                "lz_dict_size",
                state.active.as_ref().map_or(0, |d| d.len()).to_string(),
            ),
            ("lz_dict_held", state.held.len().to_string()),
            ("lz_dict_bytes", self.memory_bytes().to_string()),
            ("lz_dict_sample_bytes", self.sampler.bytes().to_string()),
            ("lz_dict_trainings", load(&c.trainings)),
            ("lz_dict_adoptions", load(&c.adoptions)),
            ("lz_dict_rejections", load(&c.rejections)),
            ("lz_dict_deferrals", load(&c.deferrals)),
            ("lz_dict_training_failures", load(&c.failures)),
            ("lz_dict_retired", load(&c.retired)),
            ("lz_dict_ratio", ratio(eval.raw, eval.candidate)),
            ("lz_dict_ratio_without", ratio(eval.raw, eval.plain)),
            (
                "lz_dict_ratio_served",
                ratio(
                    c.raw_bytes.load(Ordering::Relaxed) as usize,
                    c.held_bytes.load(Ordering::Relaxed) as usize,
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests;
