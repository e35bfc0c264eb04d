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

use std::sync::Arc;

use bytes::Bytes;
use lzcache_driver::{crc64, Codec, Job, JobStatus};

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
/// * stored: one, from the connection's buffer into the allocation the store keeps if the value
///   stays raw; the compress job reads that allocation by reference. A compressed block is
///   copied once out of the codec's output into an allocation of its own size: the output may
///   be a slice of a larger buffer (a device's result frame, a compressor's worst-case-sized
///   buffer) that would otherwise stay alive, uncounted, in the store — and the block is
///   smaller than the value, its copy far cheaper than the compression that made it.
/// * served: a raw value of up to [`crate::commands::IN_PLACE_MAX`] bytes is checked and
///   written to the connection's output straight from its segment (one copy, under the shard
///   lock); a larger raw value is copied out of its segment, then checked and written (two); a
///   compressed one is copied out, decompressed (by the job, reading that copy by reference)
///   into a fresh buffer, which is written to the connection's output.
pub struct ValueCodec {
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
        Self {
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
        if raw.len() < self.compress_min || raw.len() < 16 {
            return StoredValue::raw(raw);
        }
        self.dicts.offer(raw);
        let dict = self.dicts.for_value(raw.len());
        let dict_id = dict.as_ref().map_or(0, |d| d.id());
        let kept = StoredValue::raw_unchecked(raw);
        let job = Job::compress(0, kept.shared_bytes()).with_dict(dict);
        let done = match self.codec.submit(job) {
            Ok(pending) => pending.await,
            Err(err) => Err(err),
        };
        match done {
            Ok(done) if done.status == JobStatus::Ok => {
                let held = held_len(raw.len(), done.output.len());
                if dict_id != 0 {
                    self.dicts.note_compressed(raw.len(), held);
                }
                // Values are at least 16 bytes here, so a kept block is always shorter.
                if held < raw.len() {
                    return StoredValue {
                        bytes: Arc::from(&done.output[..]),
                        raw_len: raw.len() as u32,
                        crc: done.crc64,
                        compressed: true,
                        dict: dict_id,
                    };
                }
                kept.with_crc(done.crc64)
            }
            Ok(done) if done.status == JobStatus::Incompressible => kept.with_crc(done.crc64),
            _ => kept.with_crc(crc64::checksum(raw)),
        }
    }

    /// The client's bytes of a stored value, after checking its CRC. A raw value is returned
    /// as the stored bytes themselves (shared, not copied).
    pub async fn decode(&self, value: &StoredValue) -> Result<RawBytes, ValueError> {
        if !value.compressed {
            verify_raw(&value.bytes, value.crc)?;
            return Ok(RawBytes::Stored(Arc::clone(&value.bytes)));
        }
        let dict = match value.dict {
            0 => None,
            id => Some(
                self.dicts
                    .get(id)
                    .ok_or(ValueError::UnknownDictionary(id))?,
            ),
        };
        let job = Job::decompress(0, value.shared_bytes(), value.raw_len as usize, value.crc)
            .with_dict(dict);
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
        let mut x = 0x1234_5678_9abc_def0u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let v = codec().encode(&noise).await;
        assert!(!v.compressed);
        assert_eq!(&codec().decode(&v).await.unwrap()[..], &noise[..]);
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
    }
}
