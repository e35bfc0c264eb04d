//! The CacheAccelerator top driven beat by beat: a batch of jobs of every kind (and bad ones)
//! streamed back to back into the Verilated model under random idle cycles on the job stream
//! and random backpressure on the result stream, every result checked against software.
#![cfg(feature = "sim")]

use std::collections::HashMap;

use lzcache_driver::crc64;
use lzcache_driver::device::defs::*;
use lzcache_driver::device::protocol::{job_frame, parse_result, JobHeader, BEAT_BYTES};
use lzcache_sim::axis::{frame_to_beats, run_frames};
use lzcache_sim::{Beat, Dut, Traffic};

fn beats(frame: &[u8]) -> Vec<Beat> {
    frame_to_beats(frame, BEAT_BYTES)
}

fn text(len: usize, seed: u64) -> Vec<u8> {
    let words = [
        "cache", "value", "lz4", "block", "the", "of", "server", "memory",
    ];
    let mut x = seed | 1;
    let mut out = Vec::new();
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(words[(x % 8) as usize].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
}

/// What a job must come back as.
enum Expect {
    Compressed(Vec<u8>),
    /// Compressed with preset dictionary 3.
    CompressedWithDict(Vec<u8>),
    Raw(Vec<u8>),
    Crc(u64),
    Status(u8),
}

#[test]
fn jobs_back_to_back_under_idle_and_backpressure() {
    let mut dut = Dut::new("cache_accelerator").expect("model is compiled in");
    dut.reset(8);
    let mut input = Vec::new();
    let mut expect: HashMap<u32, Expect> = HashMap::new();
    let mut tag = 0u32;
    let mut job =
        |opcode: u8, payload: &[u8], raw_len: usize, crc: u64, dict: (u32, u8, bool), e| {
            tag += 1;
            let header = JobHeader {
                opcode,
                tag,
                input_len: payload.len() as u32,
                raw_len: raw_len as u32,
                expected_crc: crc,
                dict_id: dict.0,
                engine: dict.1,
                load_compress: dict.2,
            };
            input.extend(beats(&job_frame(&header, payload)));
            expect.insert(tag, e);
        };
    // Preset dictionary 3 on both decompress and both compress engines first, so its values
    // may go to either.
    let dict = lzcache_driver::Dictionary::new(3, text(6000, 99)).unwrap();
    for engine in 0..2 {
        for compress in [false, true] {
            job(
                OP_LOAD_DICT,
                dict.content(),
                0,
                0,
                (3, engine, compress),
                Expect::Status(RES_OK),
            );
        }
    }
    for (i, len) in [0usize, 5, 100, 1000, 5000, 20_000, 64, 65]
        .into_iter()
        .enumerate()
    {
        let raw = text(len, i as u64 + 1);
        let crc = crc64::checksum(&raw);
        let block = lz4_flex::block::compress(&raw);
        job(
            OP_COMPRESS,
            &raw,
            0,
            0,
            (0, 0, false),
            Expect::Compressed(raw.clone()),
        );
        job(
            OP_DECOMPRESS,
            &block,
            raw.len(),
            crc,
            (0, 0, false),
            Expect::Raw(raw.clone()),
        );
        job(OP_CHECKSUM, &raw, 0, 0, (0, 0, false), Expect::Crc(crc));
        let dict_block = dict.compress(&raw).unwrap();
        job(
            OP_DECOMPRESS,
            &dict_block,
            raw.len(),
            crc,
            (3, 0, false),
            Expect::Raw(raw.clone()),
        );
        job(
            OP_COMPRESS,
            &raw,
            0,
            0,
            (3, 0, false),
            Expect::CompressedWithDict(raw.clone()),
        );
        job(
            OP_DECOMPRESS,
            &dict_block,
            raw.len(),
            crc,
            (4, 0, false),
            Expect::Status(RES_NO_DICT),
        );
    }
    job(
        9,
        b"payload of a job nobody can run",
        0,
        0,
        (0, 0, false),
        Expect::Status(RES_BAD_OPCODE),
    );
    job(
        OP_DECOMPRESS,
        &[0x04, 0x01, 0x00],
        50,
        0,
        (0, 0, false),
        Expect::Status(RES_MALFORMED),
    );
    job(
        OP_DECOMPRESS,
        b"x",
        2 << 20,
        0,
        (0, 0, false),
        Expect::Status(RES_TOO_LARGE),
    );
    let jobs = expect.len();

    for traffic in Traffic::matrix(301) {
        let run = run_frames(&mut dut, input.clone(), jobs, &traffic, 5_000_000);
        let mut frame = Vec::new();
        let mut seen = 0;
        for beat in &run.output {
            frame.extend_from_slice(&beat.data[..beat.keep.count_ones() as usize]);
            if !beat.last {
                continue;
            }
            let (header, output) = parse_result(&frame).expect("a result frame");
            let what = format!("tag {} ({traffic})", header.tag);
            match &expect[&header.tag] {
                Expect::Compressed(raw) => {
                    assert_eq!(header.crc, crc64::checksum(raw), "{what}");
                    if header.status == RES_OK {
                        let back = lz4_flex::block::decompress(output, raw.len()).unwrap();
                        assert!(&back == raw, "{what}");
                    } else {
                        assert_eq!(header.status, RES_INCOMPRESSIBLE, "{what}");
                        assert!(raw.len() < 32, "{what}: {} bytes", raw.len());
                    }
                }
                Expect::CompressedWithDict(raw) => {
                    assert_eq!(header.crc, crc64::checksum(raw), "{what}");
                    if header.status == RES_OK {
                        let back = dict.decompress(output, raw.len());
                        assert!(back.as_ref() == Some(raw), "{what}");
                    } else {
                        assert_eq!(header.status, RES_INCOMPRESSIBLE, "{what}");
                        assert!(raw.len() < 32, "{what}: {} bytes", raw.len());
                    }
                }
                Expect::Raw(raw) => {
                    assert_eq!(header.status, RES_OK, "{what}");
                    assert!(header.crc_valid, "{what}");
                    assert!(output == raw.as_slice(), "{what}");
                }
                Expect::Crc(crc) => assert_eq!(header.crc, *crc, "{what}"),
                Expect::Status(status) => {
                    assert_eq!(header.status, *status, "{what}");
                    assert!(output.is_empty(), "{what}");
                }
            }
            frame.clear();
            seen += 1;
        }
        assert_eq!(seen, jobs, "{traffic}");
    }
}
