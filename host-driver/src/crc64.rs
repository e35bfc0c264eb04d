//! CRC-64/NVME, the checksum lzcache keeps for every value.
//!
//! Parameters: polynomial 0xAD93D23594C93659, reflected in and out, initial value and final XOR
//! all ones. It is the CRC of NVMe, of Linux `crc64_nvme` and of S3, so a value's checksum can be
//! compared with what other systems compute. It is always taken over the *raw* value, so one
//! number protects memory, the compressor, the decompressor and the link to a device.

use crc_fast::{CrcAlgorithm, Digest};

/// The check value of the ASCII string `123456789`, as catalogued for CRC-64/NVME.
pub const CHECK_VALUE: u64 = 0xAE8B_1486_0A79_9888;

/// The generator polynomial in normal (MSB-first) form.
pub const POLYNOMIAL: u64 = 0xAD93_D235_94C9_3659;

/// CRC-64/NVME of `data`, computed with SIMD where the CPU has it.
#[inline]
pub fn checksum(data: &[u8]) -> u64 {
    crc_fast::checksum(CrcAlgorithm::Crc64Nvme, data)
}

/// Incremental CRC-64/NVME for data that arrives in pieces.
pub struct Crc64 {
    digest: Digest,
}

impl Crc64 {
    /// A checksum over no bytes yet.
    pub fn new() -> Self {
        Self {
            digest: Digest::new(CrcAlgorithm::Crc64Nvme),
        }
    }

    /// Feeds the next piece.
    pub fn update(&mut self, data: &[u8]) {
        self.digest.update(data);
    }

    /// The CRC of everything fed so far.
    pub fn finish(&self) -> u64 {
        self.digest.finalize()
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Self::new()
    }
}
