//! Preset dictionaries for LZ4 blocks: what lets a 100–500-byte value compress.
//!
//! LZ4 on one small value finds almost nothing to match. Values in one cache share structure
//! (field names, enums, common prefixes), and a dictionary holds it: in LZ4's block format a
//! dictionary is history that logically precedes the value, so a match may reach back into it
//! (offsets up to 65 535, hence at most 64 KiB of dictionary are usable). The block format itself
//! does not change; a block made with a dictionary decodes only with the same dictionary, so
//! every such block is stored with the dictionary's id.
//!
//! Dictionaries are trained by zstd's fastCover builder, whose output is a zstd dictionary: its
//! header (entropy tables) is dropped and its raw content — the most useful bytes last, where
//! offsets are cheapest — is what LZ4 uses.

mod ffi;
mod records;
mod window;

use std::fmt;
use std::sync::Arc;

use crate::crc64;
pub use records::json_records;

/// The most dictionary bytes an LZ4 block can reference (its largest offset is 65 535).
pub const MAX_DICT_LEN: usize = 64 << 10;

/// Why a dictionary could not be made or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DictError {
    #[error("dictionary id 0 is reserved for \"no dictionary\"")]
    ReservedId,
    #[error("a dictionary must hold 1 to {MAX_DICT_LEN} bytes, not {0}")]
    BadLength(usize),
    #[error("dictionary training failed: {0}")]
    Training(String),
}

/// A dictionary ready for use: its id, its content, and the content hashed once for
/// compression. Shared by every thread (`Arc<Dictionary>`).
pub struct Dictionary {
    id: u32,
    crc: u64,
    prepared: ffi::PreparedDict,
}

impl fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dictionary")
            .field("id", &self.id)
            .field("len", &self.len())
            .field("crc", &format_args!("{:#018x}", self.crc))
            .finish()
    }
}

impl Dictionary {
    /// A dictionary named `id` (never 0) with raw `content` (1 byte to 64 KiB).
    pub fn new(id: u32, content: impl Into<Arc<[u8]>>) -> Result<Self, DictError> {
        let content = content.into();
        if id == 0 {
            return Err(DictError::ReservedId);
        }
        if content.is_empty() || content.len() > MAX_DICT_LEN {
            return Err(DictError::BadLength(content.len()));
        }
        Ok(Self {
            id,
            crc: crc64::checksum(&content),
            prepared: ffi::PreparedDict::prepare(content),
        })
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn content(&self) -> &[u8] {
        self.prepared.content()
    }

    pub fn len(&self) -> usize {
        self.content().len()
    }

    pub fn is_empty(&self) -> bool {
        self.content().is_empty()
    }

    /// CRC-64/NVME of the content: how an exported dictionary is checked when imported.
    pub fn crc(&self) -> u64 {
        self.crc
    }

    /// One LZ4 block of `input` whose matches may reach into the dictionary (liblz4, level 1
    /// "fast" with the prepared table). `None` only for inputs beyond 2 GiB.
    pub fn compress(&self, input: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.compress_into(input, &mut out).map(|_| out)
    }

    /// [`Dictionary::compress`] appending the block to `out` (a buffer the caller reuses);
    /// returns the block's length, `None` with `out` as it was.
    pub fn compress_into(&self, input: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        self.prepared.compress_into(input, out)
    }

    /// The raw bytes of a block made with this dictionary; `None` if the block is malformed or
    /// does not produce exactly `raw_len` bytes.
    pub fn decompress(&self, block: &[u8], raw_len: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.decompress_into(block, raw_len, &mut out)
            .then_some(out)
    }

    /// [`Dictionary::decompress`] appending the raw bytes to `out`; false (with `out` as it
    /// was) for a bad block.
    pub fn decompress_into(&self, block: &[u8], raw_len: usize, out: &mut Vec<u8>) -> bool {
        window::decompress_into(self, block, raw_len, out)
    }
}

/// log2 of the trainer's frequency table (see [`ffi::train_fast_cover`]).
const TRAINING_TABLE_BITS: u32 = 16;

/// Trains a raw-content dictionary of at most `max_len` bytes (≤ 64 KiB) from sample values
/// with zstd's fastCover builder. zstd wants a few thousand samples, about 100 times the
/// dictionary's size in all; with too few or too uniform ones it fails, and the caller goes on
/// without a dictionary.
pub fn train<S: AsRef<[u8]>>(samples: &[S], max_len: usize) -> Result<Vec<u8>, DictError> {
    let max_len = max_len.clamp(256, MAX_DICT_LEN);
    // The header (a few hundred bytes of entropy tables) is dropped below: ask for that much
    // more so the content is close to `max_len`.
    let sizes: Vec<usize> = samples.iter().map(|s| s.as_ref().len()).collect();
    let joined: Vec<u8> = samples.iter().flat_map(|s| s.as_ref()).copied().collect();
    let trained = ffi::train_fast_cover(&joined, &sizes, max_len + 1024, TRAINING_TABLE_BITS)
        .map_err(DictError::Training)?;
    let header = ffi::zstd_dict_header_len(&trained)
        .ok_or_else(|| DictError::Training("zstd returned no dictionary".into()))?;
    let content = &trained[header..];
    // Keep the end: the builder puts the most useful segments last.
    let content = &content[content.len().saturating_sub(max_len)..];
    if content.is_empty() {
        return Err(DictError::Training("empty dictionary".into()));
    }
    Ok(content.to_vec())
}

#[cfg(test)]
mod tests;
