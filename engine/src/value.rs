//! The value path: what is stored for a value, and how it is turned back into the client's bytes.
//!
//! A value of at least `compress_min` bytes is compressed into one LZ4 block and kept compressed
//! when that saves at least [`MIN_SAVING_DIVISOR`]th of its size; otherwise it is kept raw.
//! Either way the CRC-64/NVME of the raw bytes is kept beside it and checked on every read, so a
//! value damaged in memory (or by a faulty codec) is detected and never served.

use std::sync::Arc;
use std::time::Duration;

use lzcache_driver::{crc64, Codec, Job, JobStatus};

/// Compression must save at least 1/8 of the value to be worth the decompression on every read.
pub const MIN_SAVING_DIVISOR: usize = 8;

/// How long the server waits for a codec job before giving up on that backend for the job.
pub const CODEC_TIMEOUT: Duration = Duration::from_secs(2);

/// A value as held in the store.
#[derive(Debug, Clone)]
pub struct StoredValue {
    /// The raw bytes, or one LZ4 block when `compressed`.
    pub bytes: Arc<[u8]>,
    /// Length of the raw value.
    pub raw_len: u32,
    /// CRC-64/NVME of the raw value.
    pub crc: u64,
    pub compressed: bool,
}

impl StoredValue {
    /// Bytes this value occupies in memory (its payload; item overhead is counted by the store).
    pub fn held_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Why a stored value could not be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValueError {
    #[error("checksum mismatch (expected {expected:#018x}, got {actual:#018x})")]
    CrcMismatch { expected: u64, actual: u64 },
    #[error("compressed block is damaged ({0:?})")]
    BadBlock(JobStatus),
    #[error("codec failed: {0}")]
    Codec(String),
}

/// Encodes and decodes values through a [`Codec`] backend.
pub struct ValueCodec {
    codec: Arc<dyn Codec>,
    compress_min: usize,
}

impl ValueCodec {
    pub fn new(codec: Arc<dyn Codec>, compress_min: usize) -> Self {
        Self {
            codec,
            compress_min,
        }
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
    pub fn encode(&self, raw: &[u8]) -> StoredValue {
        if raw.len() >= self.compress_min && raw.len() >= 16 {
            if let Ok(done) = self
                .codec
                .run(Job::compress(0, raw.to_vec()), CODEC_TIMEOUT)
            {
                let worthwhile = raw.len() - raw.len() / MIN_SAVING_DIVISOR;
                if done.status == JobStatus::Ok && done.output.len() <= worthwhile {
                    return StoredValue {
                        bytes: Arc::from(done.output),
                        raw_len: raw.len() as u32,
                        crc: done.crc64,
                        compressed: true,
                    };
                }
                if done.status == JobStatus::Incompressible || done.status == JobStatus::Ok {
                    return raw_value(raw, done.crc64);
                }
            }
        }
        raw_value(raw, crc64::checksum(raw))
    }

    /// The client's bytes of a stored value, after checking its CRC.
    pub fn decode(&self, value: &StoredValue) -> Result<Vec<u8>, ValueError> {
        if !value.compressed {
            verify_raw(value)?;
            return Ok(value.bytes.to_vec());
        }
        let job = Job::decompress(0, value.bytes.to_vec(), value.raw_len as usize, value.crc);
        let done = self
            .codec
            .run(job, CODEC_TIMEOUT)
            .map_err(|e| ValueError::Codec(e.to_string()))?;
        if done.status != JobStatus::Ok {
            return Err(ValueError::BadBlock(done.status));
        }
        if !done.crc_valid {
            return Err(ValueError::CrcMismatch {
                expected: value.crc,
                actual: done.crc64,
            });
        }
        Ok(done.output)
    }

    /// Like [`ValueCodec::decode`], but a raw value is checked in place and not copied.
    pub fn with_decoded<R>(
        &self,
        value: &StoredValue,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, ValueError> {
        if value.compressed {
            let raw = self.decode(value)?;
            Ok(f(&raw))
        } else {
            verify_raw(value)?;
            Ok(f(&value.bytes))
        }
    }
}

fn raw_value(raw: &[u8], crc: u64) -> StoredValue {
    StoredValue {
        bytes: Arc::from(raw),
        raw_len: raw.len() as u32,
        crc,
        compressed: false,
    }
}

fn verify_raw(value: &StoredValue) -> Result<(), ValueError> {
    let actual = crc64::checksum(&value.bytes);
    if actual == value.crc {
        Ok(())
    } else {
        Err(ValueError::CrcMismatch {
            expected: value.crc,
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

    #[test]
    fn compressible_values_are_stored_compressed_and_round_trip() {
        let raw = b"abcdefgh".repeat(200);
        let v = codec().encode(&raw);
        assert!(v.compressed);
        assert!(v.held_len() < raw.len() / 4);
        assert_eq!(codec().decode(&v).unwrap(), raw);
    }

    #[test]
    fn small_and_random_values_stay_raw() {
        let v = codec().encode(b"short");
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
        let v = codec().encode(&noise);
        assert!(!v.compressed);
        assert_eq!(codec().decode(&v).unwrap(), noise);
    }

    #[test]
    fn a_flipped_bit_is_detected_in_raw_and_compressed_values() {
        for raw in [b"0123456789".to_vec(), b"hello world ".repeat(100)] {
            let v = codec().encode(&raw);
            for bit in [0usize, 7, v.bytes.len() * 8 - 1] {
                let mut bytes = v.bytes.to_vec();
                bytes[bit / 8] ^= 1 << (bit % 8);
                let damaged = StoredValue {
                    bytes: Arc::from(bytes),
                    ..v.clone()
                };
                assert!(codec().decode(&damaged).is_err(), "bit {bit} not detected");
            }
        }
    }
}
