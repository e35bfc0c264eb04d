//! Warm restart (memcached's `-e PATH`): the arena is a shared mapping of `PATH`; a clean
//! shutdown writes `PATH.meta` — the layout, the hash seed, the CAS counter, the clock, the
//! segment bookkeeping and every shard's index — and the next start with the same `-e` and
//! `-m` maps the same bytes and serves every unexpired item again.
//!
//! The meta file ends with its CRC-64 and is removed once read, so only the state of a clean
//! shutdown is ever trusted: after a crash (no meta file), a torn one (CRC mismatch) or a
//! different layout, the server says why and starts empty. The server serves as soon as the
//! index is loaded; meanwhile every record the index points to is checked in the background —
//! its place, its key's hash, its pieces and the CRC-64 of its raw value (compressed values are
//! decompressed for the check) — and dropped and counted if any fails. A read checks the CRC
//! anyway, so nothing damaged is served before its turn. The ghost is not kept.

use std::io;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use lzcache_driver::{crc64, Dictionary};

use super::log::{Log, Reader};
use super::{shard_of, Figures, Index, Layout, Parts, Shard, Store, SHARDS};

const MAGIC: &[u8; 8] = b"LZSTORE2";

/// The dictionary of an id, for checking restored values.
pub type DictLookup<'a> = dyn Fn(u32) -> Option<Arc<Dictionary>> + Sync + 'a;

/// The clock a store was saved with: relative seconds then, and the unix time then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedClock {
    pub rel_now: u32,
    pub unix_now: i64,
}

/// What opening a memory file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// Items from a clean shutdown are back (to be checked by [`Store::verify_restored`]).
    Resumed { items: usize, clock: SavedClock },
    /// Starting empty, and why.
    Empty(String),
}

fn meta_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".meta");
    PathBuf::from(name)
}

impl Store {
    /// A store whose arena is the file `path` (warm restart), with what it found there.
    pub fn open_file(limit: usize, path: &Path, seed: u64) -> io::Result<(Self, Restore)> {
        let layout = Layout::new(limit);
        let (arena, same_length) = super::Arena::file(path, layout.segments * layout.segment_size)?;
        let meta = meta_path(path);
        let saved = std::fs::read(&meta);
        // Read once: from here on a crash must not find it.
        let _ = std::fs::remove_file(&meta);
        let mut store = Self::with_arena(limit, layout, seed, arena);
        store.file = Some(path.to_owned());
        let restore = match saved {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Restore::Empty(format!(
                "{}: no {} (not shut down cleanly, or new): starting empty",
                path.display(),
                meta.display()
            )),
            Err(e) => Restore::Empty(format!("{}: {e}: starting empty", meta.display())),
            Ok(_) if !same_length => Restore::Empty(format!(
                "{}: its size is not this -m's arena: starting empty",
                path.display()
            )),
            Ok(bytes) => match store.load(&bytes) {
                Ok(restore) => restore,
                Err(why) => {
                    store.reset();
                    Restore::Empty(format!("{}: {why}: starting empty", meta.display()))
                }
            },
        };
        Ok((store, restore))
    }

    /// Writes the state a warm restart needs (a file-backed store only; nothing otherwise).
    /// Takes every lock: called once the server has stopped serving.
    pub fn save(&self, clock: SavedClock) -> io::Result<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let _reclaim = self.lock_reclaim();
        let shards: Vec<_> = (0..SHARDS).map(|i| self.lock(i)).collect();
        let log = self.lock_log();
        let l = self.layout;
        let mut out = Vec::with_capacity(l.index_buckets_per_shard * SHARDS * 64 + 4096);
        out.extend_from_slice(MAGIC);
        let layout = self.layout_words().map(|(_, v)| v);
        let state = [
            self.seed,
            self.next_cas.load(std::sync::atomic::Ordering::Relaxed),
        ];
        for v in layout.into_iter().chain(state) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&clock.rel_now.to_le_bytes());
        out.extend_from_slice(&clock.unix_now.to_le_bytes());
        let mut log_bytes = Vec::new();
        log.encode(&mut log_bytes);
        out.extend_from_slice(&(log_bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&log_bytes);
        for shard in &shards {
            out.extend_from_slice(&(shard.index.buckets() as u64).to_le_bytes());
            shard
                .index
                .slots()
                .for_each(|raw| out.extend_from_slice(&raw.to_le_bytes()));
            let f = shard.figures;
            for v in [
                f.items,
                f.record_bytes,
                f.raw_bytes,
                f.held_bytes,
                f.compressed,
            ]
            .into_iter()
            .chain(f.dict_items)
            {
                out.extend_from_slice(&(v as u64).to_le_bytes());
            }
        }
        let crc = crc64::checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        self.arena.flush()?;
        let meta = meta_path(path);
        let tmp = meta.with_extension("meta.tmp");
        std::fs::write(&tmp, &out)?;
        std::fs::rename(&tmp, &meta)
    }

    /// What a saved store must match, with the name a mismatch is reported by.
    fn layout_words(&self) -> [(&'static str, u64); 5] {
        let l = self.layout;
        [
            ("-m", self.limit as u64),
            ("segment size", l.segment_size as u64),
            ("segments", l.segments as u64),
            ("index size", l.index_buckets_per_shard as u64),
            ("ghost", l.ghost_keys as u64),
        ]
    }

    /// Takes the saved state in `bytes`, then checks every record it points to.
    fn load(&mut self, bytes: &[u8]) -> Result<Restore, String> {
        let (body, crc) = bytes.split_last_chunk::<8>().ok_or("truncated meta file")?;
        if crc64::checksum(body) != u64::from_le_bytes(*crc) {
            return Err("torn meta file (checksum mismatch)".into());
        }
        let mut r = Reader(body);
        if r.take(8) != Some(MAGIC) {
            return Err("not an lzcache meta file".into());
        }
        let l = self.layout;
        for (what, expected) in self.layout_words() {
            if r.u64() != Some(expected) {
                return Err(format!("saved with another {what} (the same -m is needed)"));
            }
        }
        let seed = r.u64().ok_or("truncated")?;
        let next_cas = r.u64().ok_or("truncated")?;
        let clock = SavedClock {
            rel_now: r.u32().ok_or("truncated")?,
            unix_now: r.u64().ok_or("truncated")? as i64,
        };
        let log_len = r.u64().ok_or("truncated")? as usize;
        let log = Log::decode(
            r.take(log_len).ok_or("truncated")?,
            l.segments,
            l.segment_size,
        )
        .ok_or("inconsistent segment bookkeeping")?;
        let mut indexes = Vec::with_capacity(SHARDS);
        for _ in 0..SHARDS {
            let buckets = r.u64().ok_or("truncated index")? as usize;
            if buckets > self.limit / 64 {
                return Err("bad index size".into());
            }
            let raw = r
                .take(buckets * super::index::SLOTS * 8)
                .ok_or("truncated index")?;
            let slots: Vec<u64> = raw
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect();
            let index = Index::from_slots(buckets, &slots).ok_or("bad index")?;
            let mut f = [0usize; 5 + super::DICT_SLOTS];
            for v in f.iter_mut() {
                *v = r.u64().ok_or("truncated figures")? as usize;
            }
            let figures = Figures {
                items: f[0],
                record_bytes: f[1],
                raw_bytes: f[2],
                held_bytes: f[3],
                compressed: f[4],
                dict_items: std::array::from_fn(|i| f[5 + i]),
            };
            indexes.push(Shard { index, figures });
        }
        if !r.0.is_empty() {
            return Err("trailing bytes".into());
        }
        self.seed = seed;
        self.hasher = super::KeyHasher::with_seed(seed);
        self.next_cas
            .store(next_cas, std::sync::atomic::Ordering::Relaxed);
        *self.log.get_mut().unwrap_or_else(|p| p.into_inner()) = log;
        let index_bytes: usize = indexes.iter().map(|s| s.index.bytes()).sum();
        let arena = {
            let log = self.log.get_mut().unwrap_or_else(|p| p.into_inner());
            (log.count() - log.retired()) * l.segment_size
        };
        let credit = self
            .limit
            .checked_sub(index_bytes + self.ghost.bytes() + arena)
            .ok_or("saved index over the limit")?;
        self.index_bytes
            .store(index_bytes, std::sync::atomic::Ordering::Relaxed);
        self.index_credit
            .store(credit, std::sync::atomic::Ordering::Relaxed);
        let items = indexes.iter().map(|s| s.figures.items).sum();
        for (i, shard) in indexes.into_iter().enumerate() {
            self.bucket_hints.remember(i, &shard.index);
            *self.shards[i].get_mut().unwrap_or_else(|p| p.into_inner()) = shard;
        }
        self.verify_pending
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(Restore::Resumed { items, clock })
    }

    /// Whether restored items still await [`Store::verify_restored`].
    pub fn verify_pending(&self) -> bool {
        self.verify_pending
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks every restored entry (place, key hash, pieces, CRC-64 of the raw value), dropping
    /// and counting the bad ones, a shard at a time under its lock (and the reclaim lock, so no
    /// record moves meanwhile), on `threads` threads. The server serves meanwhile: a read
    /// checks the CRC anyway, so nothing damaged is ever served. Returns (kept, dropped).
    ///
    /// `dicts` finds the dictionary a compressed value names; a value whose dictionary is gone
    /// cannot be read and is dropped.
    pub fn verify_restored(&self, threads: usize, dicts: &DictLookup<'_>) -> (usize, usize) {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        if !self.verify_pending() {
            return (0, 0);
        }
        let next = AtomicUsize::new(0);
        let (kept, dropped) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..threads.max(1) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= SHARDS {
                        break;
                    }
                    let _reclaim = self.lock_reclaim();
                    let ends = self.segment_ends();
                    let mut shard = self.lock(i);
                    let (k, d) = self.check_shard(i, &mut shard, &ends, dicts);
                    kept.fetch_add(k, Relaxed);
                    dropped.fetch_add(d, Relaxed);
                });
            }
        });
        let (kept, dropped) = (kept.into_inner(), dropped.into_inner());
        self.counters.restored.store(kept as u64, Relaxed);
        self.counters.restore_dropped.store(dropped as u64, Relaxed);
        self.verify_pending.store(false, Relaxed);
        (kept, dropped)
    }

    /// Where each segment's records end, if it holds any.
    fn segment_ends(&self) -> Vec<Option<usize>> {
        let log = self.lock_log();
        (0..self.layout.segments as u32)
            .map(|id| {
                let s = log.segment(id);
                (!matches!(
                    s.state,
                    super::log::State::Free | super::log::State::Retired
                ))
                .then_some(s.end)
            })
            .collect()
    }

    /// Checks every entry of shard `i` (held locked by the caller), dropping the bad ones and
    /// counting the shard's figures afresh. Returns (kept, dropped).
    fn check_shard(
        &self,
        i: usize,
        shard: &mut Shard,
        ends: &[Option<usize>],
        dicts: &DictLookup<'_>,
    ) -> (usize, usize) {
        let (mut kept, mut dropped) = (0, 0);
        let mut figures = Figures::default();
        let size = self.layout.segment_size;
        for pos in shard.index.positions() {
            let at = shard.index.offset(pos);
            let good = (|| {
                let segment = at as usize / size;
                let end = (*ends.get(segment)?)?;
                let base = segment * size;
                if (at as usize) < base + super::HEADER || at as usize >= base + end {
                    return None;
                }
                let record = self.read(at as usize, base + end, Parts::All)?;
                let hash = self.hash(record.key);
                if shard_of(hash) != i || shard.index.find_offset(hash, at) != Some(pos) {
                    return None;
                }
                let value = self.held_value(&record)?;
                let crc = if record.dict != 0 {
                    let raw = dicts(record.dict)?.decompress(&value, record.raw_len as usize)?;
                    crc64::checksum(&raw)
                } else if record.compressed() {
                    let raw = lz4_flex::block::decompress(&value, record.raw_len as usize).ok()?;
                    (raw.len() == record.raw_len as usize).then(|| crc64::checksum(&raw))?
                } else {
                    crc64::checksum(&value)
                };
                (crc == record.crc).then_some(record)
            })();
            match good {
                Some(record) => {
                    let stored = self.stored_len(&record);
                    figures.add(&record, stored);
                    kept += 1;
                }
                None => {
                    shard.index.remove(pos);
                    dropped += 1;
                }
            }
        }
        shard.figures = figures;
        (kept, dropped)
    }

    /// Back to empty after a failed load.
    fn reset(&mut self) {
        let buckets = self.layout.index_buckets_per_shard;
        for shard in self.shards.iter_mut() {
            let shard = shard.get_mut().unwrap_or_else(|p| p.into_inner());
            shard.index = Index::new(buckets);
            shard.figures = Figures::default();
        }
        self.index_bytes.store(
            self.layout.initial_index_bytes(),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.index_credit.store(
            self.layout.slack(self.limit),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.log
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
