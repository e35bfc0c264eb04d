//! Test data and helpers shared by the RTL engine tests.
#![allow(dead_code)]

use std::path::PathBuf;

use lzcache_sim::axis::Rng;

/// Reference CRC-64/NVME, checked against the independent `crc` crate.
pub fn crc64(data: &[u8]) -> u64 {
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data);
    assert_eq!(
        crc,
        crc::Crc::<u64>::new(&crc::CRC_64_NVME).checksum(data),
        "software CRCs disagree"
    );
    crc
}

/// Bytes of English-like text: words from a small vocabulary, with punctuation.
pub fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "cache",
        "value",
        "of",
        "and",
        "a",
        "server",
        "to",
        "memory",
        "block",
        "is",
        "compressed",
        "in",
        "client",
        "that",
        "key",
        "for",
        "with",
        "hardware",
        "stream",
        "on",
        "lz4",
        "checksum",
        "returns",
        "every",
        "request",
        "item",
        "by",
        "eviction",
        "pipeline",
    ];
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        let word = WORDS[(rng.next_u64() % WORDS.len() as u64) as usize];
        out.extend_from_slice(word.as_bytes());
        out.push(match rng.next_u64() % 12 {
            0 => b'.',
            1 => b',',
            2 => b'\n',
            _ => b' ',
        });
    }
    out.truncate(len);
    out
}

/// JSON documents like a cache holds: repeated field names, varying numbers and strings.
pub fn json(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 128);
    out.push(b'[');
    while out.len() < len {
        let id = rng.next_u64() % 1_000_000;
        let score = rng.next_u64() % 10_000;
        let name = text(6 + (rng.next_u64() % 10) as usize, rng.next_u64());
        out.extend_from_slice(
            format!(
                "{{\"id\":{id},\"name\":\"{}\",\"score\":{score}.{},\"active\":{},\"tags\":[\"a\",\"b{}\"]}},",
                String::from_utf8_lossy(&name).replace(['\n', '"'], " "),
                score % 97,
                id.is_multiple_of(2),
                id % 7
            )
            .as_bytes(),
        );
    }
    out.truncate(len);
    out
}

/// Uniformly random bytes (incompressible).
pub fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// A pattern of `period` random bytes repeated (matches at short offsets, down to 1).
pub fn periodic(len: usize, period: usize, seed: u64) -> Vec<u8> {
    let pattern = random(period.max(1), seed);
    (0..len).map(|i| pattern[i % pattern.len()]).collect()
}

/// Runs of random bytes (long literals) between copies of text from far back (long offsets).
pub fn far_matches(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = text(4096, seed);
    while out.len() < len {
        if rng.next_u64().is_multiple_of(2) {
            out.extend(random(
                100 + (rng.next_u64() % 3000) as usize,
                rng.next_u64(),
            ));
        } else {
            let n = 20 + (rng.next_u64() % 300) as usize;
            let back = (n + (rng.next_u64() % 65_000) as usize).min(out.len());
            let start = out.len() - back;
            let copy = out[start..start + n.min(back)].to_vec();
            out.extend(copy);
        }
    }
    out.truncate(len);
    out
}

/// Named generated inputs: every kind of data at sizes from empty to beyond the 64 KiB window.
pub fn generated() -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for len in [0usize, 1, 5, 12, 13, 64, 100, 1000, 4096] {
        cases.push((format!("text-{len}"), text(len, len as u64)));
    }
    cases.push(("text-200k".into(), text(200_000, 1)));
    cases.push(("json-50k".into(), json(50_000, 2)));
    cases.push(("random-3000".into(), random(3000, 3)));
    cases.push(("random-70k".into(), random(70_000, 4)));
    cases.push(("zeros-100k".into(), vec![0; 100_000]));
    for period in [1usize, 2, 3, 7, 16, 31, 33, 64, 100] {
        cases.push((
            format!("period-{period}"),
            periodic(5000, period, period as u64),
        ));
    }
    cases.push(("far-matches-150k".into(), far_matches(150_000, 5)));
    cases
}

/// A generated corpus of the kinds real data has (prose, records, far matches, periodic and
/// random bytes), then the files of ../shared/corpus (the real compression corpus) when it is
/// present, so a corpus test checks the same generated data on every machine; it says whether
/// the real files were there.
pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("gen-text-256k".into(), text(256 << 10, 101)),
        ("gen-json-128k".into(), json(128 << 10, 102)),
        ("gen-far-150k".into(), far_matches(150_000, 103)),
        ("gen-period-64k".into(), periodic(64 << 10, 97, 104)),
        ("gen-random-32k".into(), random(32 << 10, 105)),
    ];
    let shared = shared_corpus();
    if shared.is_empty() {
        eprintln!("../shared/corpus not present: the generated corpus only");
    }
    files.extend(shared);
    files
}

fn shared_corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).expect("read corpus file"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// LZ4 block by lz4_flex.
pub fn lz4_flex_block(data: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress(data)
}

/// LZ4 block by the lz4 C library (level 1 / default mode).
pub fn lz4_c_block(data: &[u8]) -> Vec<u8> {
    lz4::block::compress(data, Some(lz4::block::CompressionMode::DEFAULT), false)
        .expect("lz4 C compresses")
}

/// A definition by name from one of the RTL's status files (`lz4_dec_status.vh`,
/// `lz4_comp_status.vh`: `localparam [W-1:0] NAME = W'dX;`), so tests and RTL cannot drift
/// apart.
pub fn vh_param(vh: &str, file: &str, name: &str) -> u64 {
    vh.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("localparam [")?;
            let (_, rest) = rest.split_once("] ")?;
            let (n, value) = rest.split_once(" = ")?;
            let (_, value) = value.split(';').next()?.trim().split_once("'d")?;
            Some((n.to_string(), value.parse::<u64>().ok()?))
        })
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} not in {file}"))
        .1
}

/// A status code by name from one of the RTL's status files.
pub fn status_in(vh: &str, file: &str, name: &str) -> u8 {
    vh_param(vh, file, name) as u8
}

/// The `width`-bit field of a completion (`tuser`) at the bit position `lsb_name` names in
/// the RTL file `vh`.
pub fn completion_field(user: u128, vh: &str, file: &str, lsb_name: &str, width: u32) -> u64 {
    let lsb = vh_param(vh, file, lsb_name) as u32;
    ((user >> lsb) & ((1u128 << width) - 1)) as u64
}

/// Decompressor status codes.
pub fn status_code(name: &str) -> u8 {
    status_in(
        include_str!("../../../rtl/lz4_dec_status.vh"),
        "lz4_dec_status.vh",
        name,
    )
}

/// Splits output beats into frames, checking that each is packed (full beats, then a last
/// beat with contiguous tkeep); returns each frame's bytes and its last beat's tuser.
pub fn packed_frames(beats: &[lzcache_sim::Beat], beat_bytes: usize) -> Vec<(Vec<u8>, u128)> {
    let mut out = Vec::new();
    let mut data = Vec::new();
    for beat in beats {
        let kept = beat.keep.count_ones() as usize;
        assert_eq!(
            beat.keep,
            lzcache_sim::axis::lanes(kept),
            "tkeep not contiguous"
        );
        assert!(
            beat.last || kept == beat_bytes,
            "a beat before the last is not full"
        );
        data.extend_from_slice(&beat.data[..kept]);
        if beat.last {
            out.push((std::mem::take(&mut data), beat.user));
        }
    }
    out
}
