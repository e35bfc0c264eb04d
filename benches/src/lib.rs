//! # lzcache-benches
//!
//! Benchmark inputs and peers, shared by the criterion benches (`benches/codec.rs`) and the
//! load scripts. Every benchmark runs lzcache side by side with its peer in the same run: the
//! lz4 C library at level 1 for compression, the `crc` crate for CRC-64/NVME, memcached for
//! the server (`make loadbench`). Figures are ratios; absolute times on shared machines vary.

use std::path::Path;

pub mod lz4_dict_c;

/// Value sizes every codec benchmark covers.
pub const VALUE_SIZES: [usize; 6] = [256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 1 << 20];

/// Text-like input of `len` bytes: slices of `../shared/corpus` text files when present (the
/// files concatenated and repeated as needed), generated words otherwise.
pub fn text_input(len: usize) -> Vec<u8> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let mut source = Vec::new();
    for name in [
        "alice29.txt",
        "lcet10.txt",
        "html",
        "urls.10K",
        "plrabn12.txt",
    ] {
        if let Ok(bytes) = std::fs::read(corpus.join(name)) {
            source.extend(bytes);
        }
    }
    if source.is_empty() {
        source = generated_text(len.max(1 << 16));
    }
    source.iter().copied().cycle().take(len).collect()
}

/// Words from a small vocabulary with a deterministic pseudo-random order.
pub fn generated_text(len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "cache",
        "value",
        "memory",
        "of",
        "compressed",
        "server",
        "request",
        "and",
        "{\"id\":",
        "\"name\":",
        "lzcache",
        "block",
        "checksum",
        "item",
        "\n",
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(WORDS[(state % WORDS.len() as u64) as usize].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
}

/// The lz4 C library's block API at its default (level 1, "fast" acceleration 1).
pub mod lz4_c {
    pub fn compress(data: &[u8]) -> Vec<u8> {
        lz4::block::compress(data, Some(lz4::block::CompressionMode::DEFAULT), false)
            .expect("lz4 C compresses")
    }

    pub fn decompress(block: &[u8], raw_len: usize) -> Vec<u8> {
        lz4::block::decompress(block, Some(raw_len as i32)).expect("lz4 C decompresses")
    }
}

/// The `crc` crate's table-driven CRC-64/NVME.
pub fn crc_crate(data: &[u8]) -> u64 {
    crc::Crc::<u64>::new(&crc::CRC_64_NVME).checksum(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_and_peers_agree_with_lzcache() {
        let input = text_input(70_000);
        assert_eq!(input.len(), 70_000);
        assert_eq!(crc_crate(&input), lzcache_driver::crc64::checksum(&input));
        let block = lz4_c::compress(&input);
        assert!(block.len() < input.len());
        assert_eq!(lz4_c::decompress(&block, input.len()), input);
    }
}
