//! The value path: what is stored for a value, and how it is turned back into the client's bytes.
//!
//! A value of at least `compress_min` bytes is compressed into one LZ4 block and kept compressed
//! when that saves at least [`MIN_SAVING_DIVISOR`]th of its size; otherwise it is kept raw.
//! Either way the CRC-64/NVME of the raw bytes is kept beside it and checked on every read, so a
//! value damaged in memory (or by a faulty codec) is detected and never served.
//!
//! A value up to [`crate::dict::DICT_VALUE_MAX`] is compressed with the active trained
//! dictionary when there is one, and records its id; it is decoded with that dictionary, and a
//! value whose dictionary is gone is an error (never served).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use lzcache_driver::compressibility::{self, Outlook};
use lzcache_driver::{crc64, Codec, Dictionary, Job, JobStatus};

use crate::attempt_gate::{self, Class};
use crate::dict::Dictionaries;

/// Compression must save at least 1/8 of the value to be worth the decompression on every read.
pub const MIN_SAVING_DIVISOR: usize = 8;

/// Bytes the store keeps for a value of `raw_len` bytes whose block is `block_len` bytes: the
/// block when it saves at least [`MIN_SAVING_DIVISOR`]th, else the raw value.
pub fn held_len(raw_len: usize, block_len: usize) -> usize {
    if block_len <= raw_len - raw_len / MIN_SAVING_DIVISOR {
        block_len
    } else {
        raw_len
    }
}

/// Values up to this many raw bytes that the codec decodes on the calling thread are decoded
/// without a job ([`ValueCodec::decode`]); it is the size served in place
/// ([`crate::commands::IN_PLACE_MAX`]).
const INLINE_DECODE_MAX: usize = crate::commands::IN_PLACE_MAX;

/// A scratch buffer larger than this is given back after use rather than kept for the thread's
/// next value.
const SCRATCH_KEPT: usize = 256 << 10;

thread_local! {
    /// Each thread's buffer for blocks compressed inline, reused from value to value.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A value as held in the store.
#[derive(Debug, Clone)]
pub struct StoredValue {
    /// The raw bytes, or one LZ4 block when `compressed`, in an allocation of their own length.
    pub bytes: Arc<[u8]>,
    /// Length of the raw value.
    pub raw_len: u32,
    /// CRC-64/NVME of the raw value.
    pub crc: u64,
    pub compressed: bool,
    /// The dictionary the block was made with; 0 for none (always 0 for a raw value).
    pub dict: u32,
}

impl StoredValue {
    /// Bytes this value occupies in memory (its payload; item overhead is counted by the store).
    pub fn held_len(&self) -> usize {
        self.bytes.len()
    }

    /// A value kept raw, with its CRC computed here.
    pub fn raw(raw: &[u8]) -> Self {
        raw_value(Arc::from(raw), crc64::checksum(raw))
    }

    /// The held bytes as a job input: shared with the store, not copied.
    fn shared_bytes(&self) -> Bytes {
        Bytes::from_owner(SharedSlice(Arc::clone(&self.bytes)))
    }
}

/// A value as held, borrowed from the store (see [`crate::store::Store::read_in_place`]).
#[derive(Debug, Clone, Copy)]
pub struct HeldValue<'a> {
    pub bytes: &'a [u8],
    pub raw_len: u32,
    pub crc: u64,
    pub compressed: bool,
    pub dict: u32,
}

impl HeldValue<'_> {
    /// The raw bytes of a value kept raw, after checking its CRC; `None` for a compressed one
    /// (which needs the codec).
    pub fn checked_raw(&self) -> Option<Result<&[u8], ValueError>> {
        if self.compressed {
            return None;
        }
        Some(verify_raw(self.bytes, self.crc).map(|()| self.bytes))
    }

    /// A copy that outlives the store's lock.
    pub fn to_stored(&self) -> StoredValue {
        StoredValue {
            bytes: Arc::from(self.bytes),
            raw_len: self.raw_len,
            crc: self.crc,
            compressed: self.compressed,
            dict: self.dict,
        }
    }
}

/// An `Arc<[u8]>` as the owner of a [`Bytes`] (which needs `AsRef<[u8]>`).
struct SharedSlice(Arc<[u8]>);

impl AsRef<[u8]> for SharedSlice {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A value's raw bytes ready to serve: the stored bytes themselves for a raw value, a fresh
/// buffer for a decompressed one.
#[derive(Debug, Clone)]
pub enum RawBytes {
    Stored(Arc<[u8]>),
    Decoded(Bytes),
}

impl std::ops::Deref for RawBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Stored(bytes) => bytes,
            Self::Decoded(bytes) => bytes,
        }
    }
}

/// Why a stored value could not be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValueError {
    #[error("checksum mismatch (expected {expected:#018x}, got {actual:#018x})")]
    CrcMismatch { expected: u64, actual: u64 },
    #[error("compressed block is damaged ({0:?})")]
    BadBlock(JobStatus),
    #[error("the value's dictionary {0} is not held (lost with an unclean restart)")]
    UnknownDictionary(u32),
    #[error("a piece of the value is not the one its first record lists")]
    BrokenPieces,
    #[error("codec failed: {0}")]
    Codec(#[from] lzcache_driver::CodecError),
}

/// Encodes and decodes values through a [`Codec`] backend, awaiting device jobs so that the
/// worker serves other connections meanwhile.
///
/// Copies of a value's bytes, per path (besides the kernel's, into and out of the socket):
/// * stored, when the codec compresses on this thread ([`Codec::compress_inline`]: software,
///   no device): the block goes into the thread's scratch buffer and is copied once into an
///   allocation of its own size for the store; a value kept raw is copied once from the
///   connection's buffer instead.
/// * stored through a job (a device): one, from the connection's buffer into the allocation the
///   store keeps if the value stays raw; the compress job reads that allocation by reference. A
///   compressed block is copied once out of the codec's output into an allocation of its own
///   size: the output may be a slice of a larger buffer (a device's result frame) that would
///   otherwise stay alive, uncounted, in the store — and the block is smaller than the value,
///   its copy far cheaper than the compression that made it.
/// * served: a value of up to [`crate::commands::IN_PLACE_MAX`] raw bytes is checked and
///   written to the connection's output straight from its segment under the shard lock — a raw
///   one copied (one copy), a compressed one decoded into the output when the codec decodes on
///   this thread ([`Codec::decompress_inline`]; a dictionary block passes through the thread's
///   decode window: two). That is `get`'s path; the other reads (`mg`, `gat`, …) and larger
///   values take a copy out of the segment first. A larger raw value is then checked and
///   written (two); a compressed one is decompressed into a fresh buffer, which is written to
///   the connection's output — by the codec on this thread up to `IN_PLACE_MAX` raw bytes
///   without a device, else by a job reading the copy by reference.
pub struct ValueCodec {
    /// This instance among all made by the process: whose tries an [`attempt_gate`] counts.
    id: u64,
    codec: Arc<dyn Codec>,
    compress_min: usize,
    dicts: Arc<Dictionaries>,
}

impl ValueCodec {
    /// Values compressed without dictionaries.
    pub fn new(codec: Arc<dyn Codec>, compress_min: usize) -> Self {
        let off = crate::dict::DictSettings {
            enabled: false,
            ..Default::default()
        };
        Self::with_dictionaries(
            codec,
            compress_min,
            Arc::new(Dictionaries::new(off, compress_min, 0)),
        )
    }

    pub fn with_dictionaries(
        codec: Arc<dyn Codec>,
        compress_min: usize,
        dicts: Arc<Dictionaries>,
    ) -> Self {
        static INSTANCES: AtomicU64 = AtomicU64::new(1);
        Self {
            id: INSTANCES.fetch_add(1, Ordering::Relaxed),
            codec,
            compress_min,
            dicts,
        }
    }

    pub fn dictionaries(&self) -> &Arc<Dictionaries> {
        &self.dicts
    }

    pub fn backend_name(&self) -> &str {
        self.codec.name()
    }

    pub fn codec_stats(&self) -> Vec<lzcache_driver::CodecStat> {
        self.codec.stats()
    }

    pub fn compress_min(&self) -> usize {
        self.compress_min
    }

    /// Turns a client's raw value into what the store keeps.
    pub async fn encode(&self, raw: &[u8]) -> StoredValue {
        self.encode_reporting(raw).await.value
    }

    /// [`ValueCodec::encode`], saying whether the value was kept raw untried because tries on
    /// values like it have been failing on this thread ([`attempt_gate`]).
    pub async fn encode_reporting(&self, raw: &[u8]) -> Encoded {
        if raw.len() < self.compress_min || raw.len() < 16 {
            return Encoded::tried(StoredValue::raw(raw));
        }
        self.dicts.offer(raw);
        let outlook = compressibility::outlook(raw);
        if outlook == Outlook::Incompressible {
            return Encoded::tried(StoredValue::raw(raw));
        }
        let dict = self.dicts.for_value(raw.len());
        let dict_id = dict.as_ref().map_or(0, |d| d.id());
        let Some(class) = unsettled_class(raw.len(), outlook) else {
            return Encoded::tried(self.compress(raw, outlook, dict, dict_id).await);
        };
        if !attempt_gate::with_gate(class, |gate| gate.admits((self.id, dict_id))) {
            return Encoded {
                value: StoredValue::raw(raw),
                passed_over: true,
            };
        }
        let value = self.compress(raw, outlook, dict, dict_id).await;
        attempt_gate::with_gate(class, |gate| gate.record(value.compressed));
        Encoded::tried(value)
    }

    /// Compresses `raw` (with `dict`, whose id is `dict_id`) and keeps the block if it saves
    /// enough; a doubtful value is probed first.
    async fn compress(
        &self,
        raw: &[u8],
        outlook: Outlook,
        dict: Option<Arc<Dictionary>>,
        dict_id: u32,
    ) -> StoredValue {
        if outlook == Outlook::Doubtful
            && compressibility::probe(raw)
                .is_some_and(|prefix| self.probe_fails(prefix, dict.as_deref()))
        {
            return StoredValue::raw(raw);
        }
        if let Some(value) = self.encode_inline(raw, dict.as_deref(), dict_id) {
            return value;
        }
        let kept = StoredValue::raw_unchecked(raw);
        let job = Job::compress(0, kept.shared_bytes()).with_dict(dict);
        let done = match self.codec.submit(job) {
            Ok(pending) => pending.await,
            Err(err) => Err(err),
        };
        match done {
            Ok(done) if done.status == JobStatus::Ok => {
                self.keep(raw, Some(kept), Some(&done.output), done.crc64, dict_id)
            }
            Ok(done) if done.status == JobStatus::Incompressible => kept.with_crc(done.crc64),
            _ => kept.with_crc(crc64::checksum(raw)),
        }
    }

    /// Whether a doubtful value's probe, `prefix` compressed alone on this thread, saved too
    /// little for the value to be worth compressing (see [`compressibility`]). `false` when
    /// the codec does not compress on this thread: the device, if it takes the value, spends
    /// no CPU on a failed attempt.
    fn probe_fails(&self, prefix: &[u8], dict: Option<&Dictionary>) -> bool {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.clear();
            match self.codec.compress_inline(prefix, dict, &mut scratch) {
                Some(Ok(done)) => !compressibility::probe_passed(done.block_len),
                Some(Err(_)) | None => false,
            }
        })
    }

    /// [`ValueCodec::encode`] when the codec compresses on this thread
    /// ([`Codec::compress_inline`]): the block goes into the thread's scratch buffer and is
    /// copied once into the store's allocation, and a value kept raw is copied once from `raw`.
    /// `None` when the codec wants a job.
    fn encode_inline(
        &self,
        raw: &[u8],
        dict: Option<&Dictionary>,
        dict_id: u32,
    ) -> Option<StoredValue> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.clear();
            let done = self.codec.compress_inline(raw, dict, &mut scratch)?;
            let value = match done {
                Ok(done) => {
                    let block = (done.status(raw.len()) == JobStatus::Ok)
                        .then(|| &scratch[..done.block_len]);
                    self.keep(raw, None, block, done.crc64, dict_id)
                }
                Err(_) => StoredValue::raw(raw),
            };
            if scratch.capacity() > SCRATCH_KEPT {
                *scratch = Vec::new();
            }
            Some(value)
        })
    }

    /// What the store keeps for `raw` (whose CRC is `crc`) given the codec's `block`: the block
    /// when it saves enough, else the raw bytes (`copied` if the caller has them already).
    fn keep(
        &self,
        raw: &[u8],
        copied: Option<StoredValue>,
        block: Option<&[u8]>,
        crc: u64,
        dict_id: u32,
    ) -> StoredValue {
        if let Some(block) = block {
            let held = held_len(raw.len(), block.len());
            if dict_id != 0 {
                self.dicts.note_compressed(raw.len(), held);
            }
            // Values are at least 16 bytes here, so a kept block is always shorter.
            if held < raw.len() {
                return StoredValue {
                    bytes: Arc::from(block),
                    raw_len: raw.len() as u32,
                    crc,
                    compressed: true,
                    dict: dict_id,
                };
            }
        }
        copied
            .unwrap_or_else(|| StoredValue::raw_unchecked(raw))
            .with_crc(crc)
    }

    /// Appends the client's bytes of a compressed value held in the store to `out` (a reply
    /// being built), after checking their CRC, when the codec decodes on this thread
    /// ([`Codec::decompress_inline`]): no copy of the block, no buffer of its own. `None` for a
    /// raw value or when the codec wants a job (then [`ValueCodec::decode`]); on an error `out`
    /// is as it was.
    pub fn decode_held_into(
        &self,
        value: &HeldValue<'_>,
        out: &mut Vec<u8>,
    ) -> Option<Result<(), ValueError>> {
        if !value.compressed {
            return None;
        }
        let dict = match self.dictionary(value.dict) {
            Ok(dict) => dict,
            Err(err) => return Some(Err(err)),
        };
        self.decode_inline(
            value.bytes,
            value.raw_len as usize,
            value.crc,
            dict.as_deref(),
            out,
        )
    }

    /// The dictionary a stored value names (`None` for id 0), or the error of one not held.
    fn dictionary(&self, id: u32) -> Result<Option<Arc<Dictionary>>, ValueError> {
        match id {
            0 => Ok(None),
            id => self
                .dicts
                .get(id)
                .map(Some)
                .ok_or(ValueError::UnknownDictionary(id)),
        }
    }

    /// Appends the `raw_len` bytes `block` decodes to (with `dict`) to `out` and checks them
    /// against `crc`, when the codec decodes on this thread; `None` when it wants a job. On
    /// an error `out` is as it was.
    fn decode_inline(
        &self,
        block: &[u8],
        raw_len: usize,
        crc: u64,
        dict: Option<&Dictionary>,
        out: &mut Vec<u8>,
    ) -> Option<Result<(), ValueError>> {
        let start = out.len();
        let done = self.codec.decompress_inline(block, raw_len, dict, out)?;
        Some(match done {
            Ok(actual) if actual == crc => Ok(()),
            Ok(actual) => {
                out.truncate(start);
                Err(ValueError::CrcMismatch {
                    expected: crc,
                    actual,
                })
            }
            Err(status) => Err(ValueError::BadBlock(status)),
        })
    }

    /// The client's bytes of a stored value, after checking its CRC. A raw value is returned
    /// as the stored bytes themselves (shared, not copied).
    pub async fn decode(&self, value: &StoredValue) -> Result<RawBytes, ValueError> {
        if !value.compressed {
            verify_raw(&value.bytes, value.crc)?;
            return Ok(RawBytes::Stored(Arc::clone(&value.bytes)));
        }
        let dict = self.dictionary(value.dict)?;
        let raw_len = value.raw_len as usize;
        // A small value the codec decodes on this thread needs no job: decoded straight into
        // a buffer of its size (a larger one goes through the job, whose decoder fills an
        // unzeroed buffer). The codec sizes the buffer as it decodes, so one that declines
        // (a device is present) has allocated nothing.
        if raw_len <= INLINE_DECODE_MAX {
            let mut raw = Vec::new();
            if let Some(done) =
                self.decode_inline(&value.bytes, raw_len, value.crc, dict.as_deref(), &mut raw)
            {
                return done.map(|()| RawBytes::Decoded(Bytes::from(raw)));
            }
        }
        let job = Job::decompress(0, value.shared_bytes(), raw_len, value.crc).with_dict(dict);
        let done = self.codec.submit(job)?.await?;
        if done.status != JobStatus::Ok {
            return Err(ValueError::BadBlock(done.status));
        }
        if !done.crc_valid {
            return Err(ValueError::CrcMismatch {
                expected: value.crc,
                actual: done.crc64,
            });
        }
        Ok(RawBytes::Decoded(done.output))
    }
}

impl StoredValue {
    /// `raw` copied for the store, its CRC still to be filled in.
    fn raw_unchecked(raw: &[u8]) -> Self {
        raw_value(Arc::from(raw), 0)
    }

    fn with_crc(mut self, crc: u64) -> Self {
        self.crc = crc;
        self
    }
}

/// What [`ValueCodec::encode_reporting`] made of a value.
#[derive(Debug)]
pub struct Encoded {
    pub value: StoredValue,
    /// Kept raw without a try: values of its class have been failing to compress lately.
    pub passed_over: bool,
}

impl Encoded {
    fn tried(value: StoredValue) -> Self {
        Self {
            value,
            passed_over: false,
        }
    }
}

/// The class of a value whose compression no test settles ([`attempt_gate`]): too short for
/// the byte statistics, or doubtful. `None` for one the statistics found promising.
fn unsettled_class(len: usize, outlook: Outlook) -> Option<Class> {
    if len < compressibility::MIN_LEN {
        Some(Class::Short)
    } else if outlook == Outlook::Doubtful {
        Some(Class::Doubtful)
    } else {
        None
    }
}

fn raw_value(bytes: Arc<[u8]>, crc: u64) -> StoredValue {
    StoredValue {
        raw_len: bytes.len() as u32,
        bytes,
        crc,
        compressed: false,
        dict: 0,
    }
}

/// Checks a raw value's bytes against the CRC stored with them.
fn verify_raw(bytes: &[u8], crc: u64) -> Result<(), ValueError> {
    let actual = crc64::checksum(bytes);
    if actual == crc {
        Ok(())
    } else {
        Err(ValueError::CrcMismatch {
            expected: crc,
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lzcache_driver::SoftwareCodec;

    /// Uniform bytes from a xorshift stream: reproducible noise.
    fn xorshift_bytes(len: usize, mut x: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    fn codec() -> ValueCodec {
        ValueCodec::new(Arc::new(SoftwareCodec::new()), 64)
    }

    #[tokio::test]
    async fn compressible_values_are_stored_compressed_and_round_trip() {
        let raw = b"abcdefgh".repeat(200);
        let v = codec().encode(&raw).await;
        assert!(v.compressed);
        assert!(v.held_len() < raw.len() / 4);
        assert_eq!(&codec().decode(&v).await.unwrap()[..], &raw[..]);
    }

    #[tokio::test]
    async fn small_and_random_values_stay_raw() {
        let v = codec().encode(b"short").await;
        assert!(!v.compressed);
        let noise = xorshift_bytes(4096, 0x1234_5678_9abc_def0);
        let v = codec().encode(&noise).await;
        assert!(!v.compressed);
        assert_eq!(&codec().decode(&v).await.unwrap()[..], &noise[..]);
    }

    /// The software codec, counting the values it is asked to compress.
    #[derive(Default)]
    struct CountingCodec {
        inner: SoftwareCodec,
        compressions: std::sync::atomic::AtomicUsize,
    }

    impl CountingCodec {
        /// A counting codec and a value codec (no dictionaries) compressing through it.
        fn under_value_codec() -> (Arc<Self>, ValueCodec) {
            let counting = Arc::new(Self::default());
            (counting.clone(), ValueCodec::new(counting, 64))
        }

        /// Values it has been asked to compress so far.
        fn attempts(&self) -> usize {
            self.compressions.load(std::sync::atomic::Ordering::Relaxed)
        }
    }

    /// `len` random alphanumerics (random tokens: few repeated bytes, nothing LZ4 can use).
    fn alphanumeric(len: usize, seed: u64) -> Vec<u8> {
        const ALPHANUMERIC: &[u8] =
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        xorshift_bytes(len, seed)
            .iter()
            .map(|&b| ALPHANUMERIC[usize::from(b) % ALPHANUMERIC.len()])
            .collect()
    }

    impl Codec for CountingCodec {
        fn name(&self) -> &str {
            "counting"
        }

        fn submit(&self, job: Job) -> Result<lzcache_driver::Pending, lzcache_driver::CodecError> {
            if job.op == lzcache_driver::JobOp::Compress {
                self.compressions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            self.inner.submit(job)
        }

        fn compress_inline(
            &self,
            input: &[u8],
            dict: Option<&Dictionary>,
            out: &mut Vec<u8>,
        ) -> Option<Result<lzcache_driver::Compressed, JobStatus>> {
            self.compressions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.compress_inline(input, dict, out)
        }
    }

    /// Short values the codec cannot shrink close their class's gate: after
    /// [`attempt_gate::CLOSE_AFTER`] failed tries one in [`attempt_gate::SAMPLE_EVERY`] is
    /// tried, the rest kept raw (and readable) untried; once short values compress again,
    /// within one sample they are all compressed once more. Longer values, which the byte
    /// statistics judge, are tried as before.
    #[tokio::test]
    async fn short_values_that_stop_compressing_are_mostly_kept_raw_untried() {
        let (counting, codec) = CountingCodec::under_value_codec();
        let attempts = || counting.attempts();
        let close_after = attempt_gate::CLOSE_AFTER as usize;
        let every = attempt_gate::SAMPLE_EVERY as usize;
        let mut passed_over = 0;
        let untried = 160 * every;
        for seed in 0..(close_after + untried) as u64 {
            let noise = xorshift_bytes(100, seed + 1);
            let encoded = codec.encode_reporting(&noise).await;
            assert!(!encoded.value.compressed);
            assert_eq!(&codec.decode(&encoded.value).await.unwrap()[..], &noise[..]);
            passed_over += usize::from(encoded.passed_over);
        }
        assert_eq!(attempts(), close_after + untried / every);
        assert_eq!(passed_over, untried - untried / every);
        // A long compressible value is not gated.
        let before = attempts();
        assert!(codec.encode(&b"abcdefgh".repeat(200)).await.compressed);
        assert_eq!(attempts(), before + 1);
        // Compressible short values again: at most a sample's worth pass over untried.
        let text = |i: usize| format!("{{\"user\":{i},\"name\":\"{}\"}}", "a".repeat(80));
        let mut first_compressed = None;
        for i in 0..every {
            let v = codec.encode(text(i).as_bytes()).await;
            if v.compressed && first_compressed.is_none() {
                first_compressed = Some(i);
            }
        }
        assert!(first_compressed.is_some(), "none of {every} compressed");
        for i in every..every + 1000 {
            assert!(
                codec.encode(text(i).as_bytes()).await.compressed,
                "value {i}"
            );
        }
    }

    /// Doubtful values (random alphanumerics) long enough for the probe: after
    /// [`attempt_gate::CLOSE_AFTER`] failed probes only one value in
    /// [`attempt_gate::SAMPLE_EVERY`] is probed. Short values keep their own record.
    #[tokio::test]
    async fn doubtful_values_whose_probes_keep_failing_are_mostly_kept_raw_unprobed() {
        let (counting, codec) = CountingCodec::under_value_codec();
        let attempts = || counting.attempts();
        let close_after = attempt_gate::CLOSE_AFTER as usize;
        let every = attempt_gate::SAMPLE_EVERY as usize;
        let untried = 20 * every;
        for seed in 0..(close_after + untried) as u64 {
            let token = alphanumeric(2048, seed + 1);
            assert_eq!(compressibility::outlook(&token), Outlook::Doubtful);
            let v = codec.encode(&token).await;
            assert!(!v.compressed);
            assert_eq!(&codec.decode(&v).await.unwrap()[..], &token[..]);
        }
        assert_eq!(attempts(), close_after + untried / every);
        // Short values are tried as their own record says: every one, so far.
        let before = attempts();
        for seed in 0..10 {
            codec.encode(&xorshift_bytes(100, seed + 1)).await;
        }
        assert_eq!(attempts(), before + 10);
    }

    #[tokio::test]
    async fn values_that_look_incompressible_are_kept_raw_without_a_full_attempt() {
        let (counting, codec) = CountingCodec::under_value_codec();
        let attempts = || counting.attempts();
        let noise = xorshift_bytes(2048, 0x0bad_5eed_1234_5678);
        let v = codec.encode(&noise).await;
        assert!(!v.compressed);
        assert_eq!(attempts(), 0);
        assert_eq!(&codec.decode(&v).await.unwrap()[..], &noise[..]);
        // The same bytes each repeated eight times: their bytes still collide rarely, so the
        // value is doubtful; its probe (the first 512 bytes) compresses, then the value does.
        let runs: Vec<u8> = noise.iter().flat_map(|&b| [b; 8]).collect();
        let v = codec.encode(&runs).await;
        assert!(v.compressed);
        assert_eq!(attempts(), 2);
        assert_eq!(&codec.decode(&v).await.unwrap()[..], &runs[..]);
        // Random alphanumerics: only their probe is compressed, and fails.
        let token = alphanumeric(2048, 0x0bad_5eed_1234_5678);
        let v = codec.encode(&token).await;
        assert!(!v.compressed);
        assert_eq!(attempts(), 3);
        assert_eq!(&codec.decode(&v).await.unwrap()[..], &token[..]);
        // The same text after 512 repetitive bytes: its probe passes, and it is compressed.
        let mut record = b"{\"id\":1,\"kind\":\"session\"} ".repeat(20);
        record.truncate(512);
        record.extend_from_slice(&token);
        let v = codec.encode(&record).await;
        assert!(v.compressed);
        assert_eq!(attempts(), 5);
        assert_eq!(&codec.decode(&v).await.unwrap()[..], &record[..]);
    }

    #[tokio::test]
    async fn a_flipped_bit_is_detected_in_raw_and_compressed_values() {
        for raw in [b"0123456789".to_vec(), b"hello world ".repeat(100)] {
            let v = codec().encode(&raw).await;
            for bit in [0usize, 7, v.bytes.len() * 8 - 1] {
                let mut bytes = v.bytes.to_vec();
                bytes[bit / 8] ^= 1 << (bit % 8);
                let damaged = StoredValue {
                    bytes: Arc::from(bytes),
                    ..v.clone()
                };
                assert!(
                    codec().decode(&damaged).await.is_err(),
                    "bit {bit} not detected"
                );
            }
        }
    }

    #[tokio::test]
    async fn small_records_use_the_dictionary_and_name_it() {
        use crate::dict::{DictSettings, Dictionaries, Trained};
        let dicts = Arc::new(Dictionaries::new(
            DictSettings {
                size: 8 << 10,
                ..DictSettings::default()
            },
            64,
            64 << 20,
        ));
        let values =
            ValueCodec::with_dictionaries(Arc::new(SoftwareCodec::new()), 64, Arc::clone(&dicts));
        let records = lzcache_driver::dict::json_records(20_000, 8);
        for r in &records {
            // Before a dictionary: stored as plain LZ4 or raw, and sampled.
            assert_eq!(values.encode(r).await.dict, 0);
        }
        assert!(matches!(
            dicts.train_now([0; crate::store::DICT_SLOTS]),
            Trained::Adopted { id: 1, .. }
        ));
        let fresh = lzcache_driver::dict::json_records(200, 9);
        let (mut raw, mut held) = (0, 0);
        for r in &fresh {
            let v = values.encode(r).await;
            assert!(v.compressed && v.dict == 1);
            assert_eq!(&values.decode(&v).await.unwrap()[..], &r[..]);
            raw += r.len();
            held += v.held_len();
        }
        assert!(held * 2 < raw, "{raw} raw bytes held in {held}");
        // Without its dictionary a value is an error, never other bytes.
        let v = values.encode(&fresh[0]).await;
        let plain = codec();
        assert_eq!(
            plain.decode(&v).await.unwrap_err(),
            ValueError::UnknownDictionary(1)
        );
        let mut reply = b"VALUE".to_vec();
        assert_eq!(
            plain.decode_held_into(&held_view(&v), &mut reply),
            Some(Err(ValueError::UnknownDictionary(1)))
        );
        values
            .decode_held_into(&held_view(&v), &mut reply)
            .unwrap()
            .unwrap();
        assert_eq!(reply, [&b"VALUE"[..], &fresh[0]].concat());
    }

    fn held_view(v: &StoredValue) -> HeldValue<'_> {
        HeldValue {
            bytes: &v.bytes,
            raw_len: v.raw_len,
            crc: v.crc,
            compressed: v.compressed,
            dict: v.dict,
        }
    }

    #[tokio::test]
    async fn held_values_decode_into_a_reply_or_leave_it_alone() {
        let c = codec();
        let raw = b"abcdefgh".repeat(200);
        let v = c.encode(&raw).await;
        assert!(v.compressed);
        let mut reply = b"VALUE k 0 1600\r\n".to_vec();
        let head = reply.len();
        c.decode_held_into(&held_view(&v), &mut reply)
            .unwrap()
            .unwrap();
        assert_eq!(&reply[head..], &raw[..]);
        // A raw value needs no codec.
        let r = c.encode(b"short").await;
        assert!(c.decode_held_into(&held_view(&r), &mut reply).is_none());
        // A wrong CRC and a damaged block: errors, and the reply is as it was.
        let before = reply.clone();
        let wrong_crc = StoredValue {
            crc: v.crc ^ 1,
            ..v.clone()
        };
        assert!(matches!(
            c.decode_held_into(&held_view(&wrong_crc), &mut reply),
            Some(Err(ValueError::CrcMismatch { .. }))
        ));
        let mut damaged = v.bytes.to_vec();
        damaged.truncate(damaged.len() - 2);
        let damaged = StoredValue {
            bytes: Arc::from(damaged),
            ..v.clone()
        };
        assert!(matches!(
            c.decode_held_into(&held_view(&damaged), &mut reply),
            Some(Err(ValueError::BadBlock(_)))
        ));
        assert_eq!(reply, before);
    }
}
