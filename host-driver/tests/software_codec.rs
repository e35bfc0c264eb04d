//! The software backend: CRC-64/NVME against an independent implementation, LZ4 round trips,
//! malformed blocks turned into error statuses, and the inline calls beside the jobs.

use std::sync::Arc;

use lzcache_driver::{crc64, Codec, Dictionary, Job, JobStatus, SoftwareCodec};
use proptest::prelude::*;

/// The `crc` crate's table-driven CRC-64/NVME: written independently of crc-fast's SIMD code.
fn reference_crc(data: &[u8]) -> u64 {
    crc::Crc::<u64>::new(&crc::CRC_64_NVME).checksum(data)
}

fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn check_value() {
    assert_eq!(crc64::checksum(b"123456789"), crc64::CHECK_VALUE);
    assert_eq!(reference_crc(b"123456789"), crc64::CHECK_VALUE);
    assert_eq!(crc::CRC_64_NVME.poly, crc64::POLYNOMIAL);
}

#[test]
fn crc_fast_matches_the_reference_on_every_length_up_to_4_kib_and_beyond() {
    let data = pattern(70_000, 42);
    for len in (0..=4096).chain([8191, 8192, 8193, 65535, 65536, 65537, 70_000]) {
        assert_eq!(
            crc64::checksum(&data[..len]),
            reference_crc(&data[..len]),
            "length {len}"
        );
    }
    // Unaligned starts too: SIMD code paths often differ by alignment.
    for start in 1..64 {
        let slice = &data[start..start + 1000];
        assert_eq!(
            crc64::checksum(slice),
            reference_crc(slice),
            "offset {start}"
        );
    }
}

#[test]
fn incremental_crc_equals_one_shot() {
    let data = pattern(10_000, 7);
    for split in [0, 1, 63, 64, 65, 4097, 9999, 10_000] {
        let mut crc = crc64::Crc64::new();
        crc.update(&data[..split]);
        crc.update(&data[split..]);
        assert_eq!(crc.finish(), reference_crc(&data), "split at {split}");
    }
}

fn run(job: Job) -> lzcache_driver::Completion {
    SoftwareCodec::new()
        .run(job)
        .expect("software completes inline")
}

#[test]
fn compress_then_decompress_round_trips_with_crc() {
    let text = b"lzcache keeps values compressed and checksummed. ".repeat(100);
    for input in [
        Vec::new(),
        b"x".to_vec(),
        text.clone(),
        pattern(5000, 3),
        vec![0; 70_000],
    ] {
        let c = run(Job::compress(1, input.clone()));
        assert_eq!(c.tag, 1);
        assert_eq!(c.crc64, reference_crc(&input));
        assert!(matches!(
            c.status,
            JobStatus::Ok | JobStatus::Incompressible
        ));
        // Whatever lz4_flex emits, the C library's format rules also hold: it decodes with the
        // expected length.
        let d = run(Job::decompress(2, c.output.clone(), input.len(), c.crc64));
        assert_eq!(d.status, JobStatus::Ok);
        assert!(d.crc_valid && d.is_good());
        assert_eq!(d.output, input);
    }
    let c = run(Job::compress(0, text.clone()));
    assert_eq!(c.status, JobStatus::Ok);
    assert!(c.output.len() < text.len() / 10);
    let noise = run(Job::compress(0, pattern(4096, 9)));
    assert_eq!(noise.status, JobStatus::Incompressible);
}

#[test]
fn wrong_crc_and_wrong_length_are_reported() {
    let input = b"abcabcabcabcabcabcabcabcabcabcabcabc".to_vec();
    let block = run(Job::compress(0, input.clone())).output;
    let crc = reference_crc(&input);
    let d = run(Job::decompress(0, block.clone(), input.len(), crc ^ 1));
    assert_eq!(d.status, JobStatus::Ok);
    assert!(!d.crc_valid && !d.is_good());
    assert_eq!(d.crc64, crc);
    let short = run(Job::decompress(0, block.clone(), input.len() - 1, crc));
    assert_eq!(short.status, JobStatus::LengthMismatch);
    let long = run(Job::decompress(0, block, input.len() + 1, crc));
    assert_eq!(long.status, JobStatus::LengthMismatch);
    assert!(!long.is_good());
}

#[test]
fn malformed_blocks_are_errors() {
    // Offset 0; offset before the start; truncated literal run; match without offset bytes.
    let cases: [&[u8]; 5] = [
        &[0x14, b'a', 0x00, 0x00],
        &[0x14, b'a', 0x05, 0x00],
        &[0xf0, 0xff],
        &[0x50, b'a', b'b'],
        &[0x10, b'a'],
    ];
    for block in cases {
        let d = run(Job::decompress(0, block.to_vec(), 64, 0));
        assert!(
            matches!(d.status, JobStatus::Malformed | JobStatus::LengthMismatch),
            "{block:?} gave {:?}",
            d.status
        );
        assert!(d.output.is_empty());
    }
    let huge = run(Job::decompress(0, vec![0x00], usize::MAX / 2, 0));
    assert_eq!(huge.status, JobStatus::TooLarge);
}

#[test]
fn checksum_jobs() {
    let data = pattern(1234, 5);
    let c = run(Job::checksum(9, data.clone()));
    assert_eq!(
        (c.tag, c.status, c.crc64),
        (9, JobStatus::Ok, reference_crc(&data))
    );
    assert!(c.output.is_empty());
}

/// The inline calls (the server's path: no job, a reused buffer) append exactly what a job
/// would output, after whatever the buffer already holds, and leave it as it was on an error.
#[test]
fn inline_calls_append_what_jobs_output_and_leave_the_buffer_alone_on_errors() {
    let codec = SoftwareCodec::new();
    let text = b"lzcache keeps values compressed and checksummed. ".repeat(40);
    let dict =
        Arc::new(Dictionary::new(7, b"lzcache keeps values ".repeat(20)).expect("dictionary"));
    for input in [text.clone(), pattern(3000, 4), b"x".to_vec()] {
        for shared in [None, Some(Arc::clone(&dict))] {
            let dict = shared.as_deref();
            let prefix = b"VALUE k 0 1\r\n";
            let mut out = prefix.to_vec();
            let done = codec
                .compress_into(&input, dict, &mut out)
                .expect("compresses");
            assert_eq!(done.crc64, reference_crc(&input));
            assert_eq!(out.len(), prefix.len() + done.block_len);
            assert_eq!(&out[..prefix.len()], prefix);
            let block = out[prefix.len()..].to_vec();
            let job = run(Job::compress(0, input.clone()).with_dict(shared.clone()));
            assert_eq!(
                (done.status(input.len()), &block[..]),
                (job.status, &job.output[..])
            );

            let mut reply = b"head".to_vec();
            let crc = codec
                .decompress_into(&block, input.len(), dict, &mut reply)
                .expect("decodes");
            assert_eq!(crc, reference_crc(&input));
            assert_eq!(reply, [&b"head"[..], &input].concat());
            // The wrong length, a damaged block, a dictionary block without its dictionary:
            // errors, and the reply is untouched.
            for (block, len, dict) in [
                (&block[..], input.len() + 1, dict),
                (&block[..], input.len() - 1, dict),
                (&block[..block.len() - 1], input.len(), dict),
            ] {
                let mut reply = b"head".to_vec();
                assert!(codec.decompress_into(block, len, dict, &mut reply).is_err());
                assert_eq!(reply, b"head");
            }
        }
    }
    let mut out = Vec::new();
    let block = dict.compress(&text).expect("block");
    // Its first match reaches into the dictionary: before the start of a block without one.
    assert_eq!(
        codec.decompress_into(&block, text.len(), None, &mut out),
        Err(JobStatus::Malformed)
    );
    assert!(out.is_empty());
    let mut reply = b"head".to_vec();
    assert_eq!(
        codec.decompress_into(&[0x00], usize::MAX / 2, None, &mut reply),
        Err(JobStatus::TooLarge)
    );
    assert_eq!(reply, b"head");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Random blocks never panic and never produce output unless it matches the length.
    #[test]
    fn random_blocks_never_panic(block in prop::collection::vec(any::<u8>(), 0..300), len in 0usize..2000) {
        let d = run(Job::decompress(0, block.clone(), len, 0));
        if d.status == JobStatus::Ok {
            prop_assert_eq!(d.output.len(), len);
        } else {
            prop_assert!(d.output.is_empty());
        }
        // The inline call agrees, and appends nothing on an error.
        let mut reply = b"head".to_vec();
        match SoftwareCodec::new().decompress_into(&block, len, None, &mut reply) {
            Ok(crc) => {
                prop_assert_eq!(d.status, JobStatus::Ok);
                prop_assert_eq!(crc, d.crc64);
                prop_assert_eq!(&reply[4..], &d.output[..]);
            }
            Err(status) => {
                prop_assert_eq!(status, d.status);
                prop_assert_eq!(reply, b"head".to_vec());
            }
        }
    }

    /// Mutated valid blocks: decoded output, when accepted, has exactly the expected length
    /// and its CRC decides `crc_valid`.
    #[test]
    fn mutated_blocks_are_caught_by_length_or_crc(seed in any::<u64>(), pos in any::<usize>(), bit in 0u8..8) {
        let input = [pattern(200, seed), b"repeat repeat repeat repeat ".repeat(10)].concat();
        let crc = reference_crc(&input);
        let mut block = run(Job::compress(0, input.clone())).output.to_vec();
        let i = pos % block.len();
        block[i] ^= 1 << bit;
        let d = run(Job::decompress(0, block, input.len(), crc));
        if d.is_good() {
            prop_assert_eq!(d.output, input);
        }
    }
}

/// The lz4 C library's safe block API, as a second opinion on the format.
mod lz4_c {
    pub fn compress(data: &[u8]) -> Vec<u8> {
        lz4::block::compress(data, Some(lz4::block::CompressionMode::DEFAULT), false)
            .expect("lz4 C compresses")
    }

    pub fn decompress(block: &[u8], raw_len: usize) -> Option<Vec<u8>> {
        let len = i32::try_from(raw_len).ok()?;
        lz4::block::decompress(block, Some(len)).ok()
    }
}

fn corpus_and_generated() -> Vec<(String, Vec<u8>)> {
    let text = b"lzcache keeps values compressed and checksummed. ".repeat(2000);
    let mut inputs = vec![
        ("empty".to_string(), Vec::new()),
        ("text".to_string(), text),
        ("random".to_string(), pattern(100_000, 77)),
        ("zeros".to_string(), vec![0u8; 300_000]),
        ("period3".to_string(), b"abc".repeat(50_000)),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            inputs.push((name, std::fs::read(entry.path()).unwrap()));
        }
    }
    inputs
}

#[test]
fn blocks_interoperate_with_the_lz4_c_library() {
    for (name, input) in corpus_and_generated() {
        // Ours decode with the C library...
        let ours = run(Job::compress(0, input.clone()));
        assert_eq!(
            lz4_c::decompress(&ours.output, input.len()).as_deref(),
            Some(&input[..]),
            "{name}"
        );
        // ...and the C library's decode with ours.
        let theirs = lz4_c::compress(&input);
        let d = run(Job::decompress(
            0,
            theirs,
            input.len(),
            reference_crc(&input),
        ));
        assert!(d.is_good(), "{name}: {:?}", d.status);
        assert_eq!(d.output, input, "{name}");
    }
}
