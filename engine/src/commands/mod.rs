//! Executing requests against the cache: the layer between the protocol and the store.
//!
//! [`Cache`] owns everything a request can reach (store, value codec, clock, counters,
//! settings). Each command writes memcached's exact reply bytes into an output buffer; the
//! connection decides when to send them.

mod meta;
mod stats;
mod text;

use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use lzcache_driver::Codec;
use tracing::warn;

use crate::clock::Clock;
use crate::config::Config;
use crate::dict::{file as dict_file, Dictionaries};
use crate::protocol::{KeysAhead, Limits, Request};
use crate::stats::Stats;
use crate::store::{ItemSnapshot, Restore, SavedClock, Store};
use crate::value::{RawBytes, StoredValue, ValueCodec, ValueError};

/// Queue positions of each store shard the expiry crawler looks at per upkeep tick (every
/// 500 ms): 8 K lookups a second in all. Each is a likely cache miss; at 256 per shard the
/// crawler cost 4 % of the server's user CPU under load (perf), for items that are also
/// dropped when a request or eviction reaches them.
const CRAWL_PER_SHARD: usize = 64;

/// Raw values up to this size are served from their segment under the shard lock (checked and
/// written to the output there); larger ones are copied out first, so that no read holds a
/// shard for long.
pub const IN_PLACE_MAX: usize = 16 * 1024;

/// What the connection should do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// `quit`: close without a reply.
    Close,
}

/// The state every connection shares.
pub struct Cache {
    pub store: Store,
    pub values: ValueCodec,
    pub clock: Clock,
    pub stats: Stats,
    pub config: Config,
    /// Relative time at which a delayed `flush_all` takes effect; 0 when none is pending.
    flush_at: AtomicU32,
    verbosity: AtomicU32,
}

impl Cache {
    /// A cache in anonymous memory (any `memory_file` of the config is not used).
    pub fn new(config: Config, codec: Arc<dyn Codec>) -> Self {
        let dicts = Self::dictionaries(&config);
        let store = Store::new(config.memory_limit - dicts.memory_bytes());
        Self::with_store(config, codec, store, Clock::new(), dicts)
    }

    /// The dictionaries, whose memory comes out of `-m` before the store's.
    fn dictionaries(config: &Config) -> Arc<Dictionaries> {
        Arc::new(Dictionaries::new(
            config.dict.clone(),
            config.compress_min,
            config.memory_limit,
        ))
    }

    /// A cache as [`Cache::open`] makes it, with `--dict-import`'s dictionaries.
    pub fn open_with_imports(config: Config, codec: Arc<dyn Codec>) -> std::io::Result<Self> {
        let import = config.dict.import.clone();
        let cache = Self::open(config, codec)?;
        if let Some(path) = import {
            let saved = dict_file::read(&path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("--dict-import {}: {e}", path.display()))
            })?;
            tracing::info!(path = %path.display(), dictionaries = saved.dicts.len(), active = saved.active, "dictionaries imported");
            cache.values.dictionaries().restore(saved).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("--dict-import {}: {e}", path.display()),
                )
            })?;
        }
        Ok(cache)
    }

    /// A cache in `config.memory_file` when one is given (resuming what a clean shutdown left
    /// there), else in anonymous memory. Fails only when the file cannot be opened or mapped.
    pub fn open(config: Config, codec: Arc<dyn Codec>) -> std::io::Result<Self> {
        let Some(path) = config.memory_file.clone() else {
            return Ok(Self::new(config, codec));
        };
        let dicts = Self::dictionaries(&config);
        let (store, restore) = Store::open_file(
            config.memory_limit - dicts.memory_bytes(),
            &path,
            crate::store::random_seed(),
        )?;
        let dicts_path = dicts_path(&path);
        let saved_dicts = dict_file::read(&dicts_path);
        // Read once, as the store's meta file: only a clean shutdown's is trusted.
        let _ = std::fs::remove_file(&dicts_path);
        let clock = match restore {
            Restore::Resumed { items, clock } => {
                tracing::info!(path = %path.display(), items, "warm restart: items restored, being checked");
                match saved_dicts {
                    Ok(saved) => {
                        // A fresh set: nothing held yet to clash with.
                        if let Err(e) = dicts.restore(saved) {
                            tracing::warn!(path = %dicts_path.display(), "{e}");
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => tracing::warn!(
                        path = %dicts_path.display(),
                        "{e}: values compressed with dictionaries will be dropped"
                    ),
                }
                Clock::resume(clock.rel_now, clock.unix_now)
            }
            Restore::Empty(why) => {
                tracing::warn!("{why}");
                Clock::new()
            }
        };
        Ok(Self::with_store(config, codec, store, clock, dicts))
    }

    fn with_store(
        config: Config,
        codec: Arc<dyn Codec>,
        store: Store,
        clock: Clock,
        dicts: Arc<Dictionaries>,
    ) -> Self {
        Self {
            store,
            values: ValueCodec::with_dictionaries(codec, config.compress_min, dicts),
            clock,
            stats: Stats::default(),
            flush_at: AtomicU32::new(0),
            verbosity: AtomicU32::new(u32::from(config.verbosity)),
            config,
        }
    }

    /// Saves what a warm restart needs, when the cache lives in a memory file. Called after
    /// the server stopped serving.
    pub fn save(&self) -> std::io::Result<()> {
        if let Some(path) = &self.config.memory_file {
            let dicts = self.values.dictionaries();
            if dicts.enabled() {
                dict_file::write(&dicts_path(path), &dicts.saved())?;
            }
        }
        self.store.save(SavedClock {
            rel_now: self.clock.now(),
            unix_now: self.clock.unix_now(),
        })
    }

    pub fn limits(&self) -> Limits {
        Limits {
            item_size_max: self.config.item_size_max,
        }
    }

    /// Executes one request (retrievals go through [`Cache::get_one`] and [`Cache::end_get`] so
    /// the connection can send a long multi-get in pieces). It awaits only codec jobs on a
    /// device; no lock is held across an await.
    pub async fn execute(&self, request: &Request<'_>, out: &mut Vec<u8>) -> Flow {
        self.apply_due_flush();
        match request {
            Request::Get { kind, keys } => {
                for key in keys.iter() {
                    self.get_one(*kind, key, out).await;
                }
                self.end_get(out);
            }
            Request::GetRefused { kind, keys } => {
                let mut discarded = Vec::new();
                for key in keys.iter() {
                    self.get_one(*kind, key, &mut discarded).await;
                }
                out.extend_from_slice(crate::protocol::BAD_FORMAT.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Request::Store {
                kind,
                key,
                flags,
                exptime,
                data,
                noreply,
            } => {
                self.store_command(*kind, key, *flags, *exptime, data, *noreply, out)
                    .await
            }
            Request::Delete { key, noreply } => self.delete(key, *noreply, out),
            Request::Arith {
                incr,
                key,
                delta,
                noreply,
            } => self.arith(*incr, key, *delta, *noreply, out).await,
            Request::Touch {
                key,
                exptime,
                noreply,
            } => self.touch(key, *exptime, *noreply, out),
            Request::FlushAll { delay, noreply } => self.flush_all(*delay, *noreply, out),
            Request::Stats { args } => self.stats_command(args, out),
            Request::Version => {
                let _ = write!(out, "VERSION {}\r\n", version_string());
            }
            Request::Verbosity { level, noreply } => {
                self.verbosity.store((*level).min(2), Ordering::Relaxed);
                reply(out, *noreply, "OK");
            }
            Request::Slabs {
                reply: line,
                noreply,
            } => reply(out, *noreply, line),
            Request::Quit => return Flow::Close,
            Request::MetaGet { key, flags } => self.meta_get(key, flags, out).await,
            Request::MetaSet { key, data, flags } => self.meta_set(key, data, flags, out).await,
            Request::MetaDelete { key, flags } => self.meta_delete(key, flags, out),
            Request::MetaArith { key, flags } => self.meta_arith(key, flags, out).await,
            Request::MetaDebug { key, flags } => self.meta_debug(key, flags, out),
            Request::MetaNoop => out.extend_from_slice(b"MN\r\n"),
        }
        Flow::Continue
    }

    /// Schedules or performs `flush_all`.
    fn flush_all(&self, delay: i64, noreply: bool, out: &mut Vec<u8>) {
        Stats::incr(&self.stats.cmd_flush);
        if delay <= 0 {
            self.flush_at.store(0, Ordering::Relaxed);
            self.store.flush();
        } else {
            let at = self.clock.expiry(delay).max(1);
            self.flush_at.store(at, Ordering::Relaxed);
        }
        reply(out, noreply, "OK");
    }

    /// Performs a delayed flush whose time has come. Called before every command and by the
    /// background task, so a due flush is never missed.
    pub fn apply_due_flush(&self) {
        let at = self.flush_at.load(Ordering::Relaxed);
        if at != 0
            && at <= self.clock.now()
            && self
                .flush_at
                .compare_exchange(at, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.store.flush();
        }
    }

    /// Background upkeep: due flushes and a pass over expired items.
    pub fn maintain(&self) {
        self.apply_due_flush();
        self.store.crawl_expired(self.clock.now(), CRAWL_PER_SHARD);
    }

    /// Deletes `key` without a reply (after a refused `set`).
    pub fn drop_key(&self, key: &[u8]) {
        self.store.delete(key, self.clock.now(), None);
    }

    pub fn verbosity(&self) -> u32 {
        self.verbosity.load(Ordering::Relaxed)
    }

    /// The client's bytes of `item`, checked (a raw value is shared, not copied). A value that
    /// fails its check is dropped from the store (if still the same version), counted and
    /// logged; the caller serves a miss.
    async fn decode_for_serving(&self, key: &[u8], item: &ItemSnapshot) -> Option<RawBytes> {
        self.decode_stored(key, item.cas, &item.value).await
    }

    /// [`Cache::decode_for_serving`] of the value of version `cas`.
    async fn decode_stored(&self, key: &[u8], cas: u64, value: &StoredValue) -> Option<RawBytes> {
        match self.values.decode(value).await {
            Ok(raw) => Some(raw),
            Err(err) => {
                self.report_corrupt(key, cas, &err);
                None
            }
        }
    }

    fn report_corrupt(&self, key: &[u8], cas: u64, err: &ValueError) {
        Stats::incr(&self.stats.crc_errors);
        self.store.remove_version(key, cas);
        warn!(
            key = %String::from_utf8_lossy(key),
            cas,
            error = %err,
            "stored value failed its integrity check; dropped and served as a miss"
        );
    }

    /// Starts loading what the lookups of the first request in `input` will touch first
    /// (see [`crate::protocol::keys_ahead`]); it neither reads nor changes the cache. Returns
    /// the keys' hashes for [`Cache::prefetch_records`], the next step.
    pub fn prefetch_for(&self, input: &[u8]) -> KeysAhead {
        let mut ahead = KeysAhead::default();
        for key in crate::protocol::keys_ahead(input) {
            ahead.push(self.store.prefetch(key));
        }
        ahead
    }

    /// Starts loading the records the keys of [`Cache::prefetch_for`] lead to; best called
    /// some time after it, when their index buckets are in cache.
    pub fn prefetch_records(&self, ahead: &KeysAhead) {
        for &hash in ahead.hashes() {
            self.store.prefetch_records(hash);
        }
    }

    /// Encodes a value for the store, counting how it was kept.
    async fn encode(&self, raw: &[u8]) -> StoredValue {
        let encoded = self.values.encode_reporting(raw).await;
        if encoded.passed_over {
            Stats::incr(&self.stats.values_passed_over);
        }
        self.count_encoded(&encoded.value);
        encoded.value
    }

    /// The empty value (vivified and invalidated items): never worth a codec job.
    fn encode_empty(&self) -> StoredValue {
        let value = StoredValue::raw(b"");
        self.count_encoded(&value);
        value
    }

    fn count_encoded(&self, value: &StoredValue) {
        let counter = if value.compressed {
            &self.stats.values_compressed
        } else {
            &self.stats.values_uncompressed
        };
        Stats::incr(counter);
    }
}

/// Where a memory file's dictionaries are kept across a clean shutdown.
fn dicts_path(memory_file: &std::path::Path) -> std::path::PathBuf {
    let mut name = memory_file.as_os_str().to_owned();
    name.push(".dicts");
    name.into()
}

/// Live items per dictionary slot: what the trainer retires dictionaries by.
pub fn dict_items(cache: &Cache) -> [usize; crate::store::DICT_SLOTS] {
    cache.store.totals().dict_items
}

/// The version lzcache reports: memcached's protocol level first (clients and memcapable read
/// it character by character), then lzcache's own.
pub fn version_string() -> String {
    format!("1.6.21-lzcache-{}", env!("CARGO_PKG_VERSION"))
}

/// Appends `line` and CRLF unless the client asked for no reply.
fn reply(out: &mut Vec<u8>, noreply: bool, line: &str) {
    if !noreply {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}
