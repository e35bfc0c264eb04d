//! The simulated CacheAccelerator through the device driver: identification and registers
//! (checked against the RTL's definitions), every job kind against the software codec, bad
//! jobs, many jobs in flight, and the driver's handling of a device that errs, corrupts,
//! stalls or stops answering.

use std::time::Duration;

use lzcache_driver::device::defs::*;
use lzcache_driver::device::protocol::{job_frame, parse_result, JobHeader};
use lzcache_driver::device::sim::{FaultPlan, SimLink};
use lzcache_driver::device::{DeviceCodec, DeviceLink};
use lzcache_driver::{crc64, Codec, Job, JobStatus, SoftwareCodec};

const WAIT: Duration = Duration::from_secs(120);

fn text(len: usize, seed: u64) -> Vec<u8> {
    let words = [
        "cache", "value", "lz4", "the", "block", "server", "of", "memory", "key",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::new();
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(words[(x % words.len() as u64) as usize].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
}

fn device() -> DeviceCodec {
    DeviceCodec::new(Box::new(
        SimLink::start(FaultPlan::none()).expect("simulator"),
    ))
    .unwrap()
}

#[test]
fn identification_registers_match_the_definitions() {
    let dev = device();
    let info = dev.info().clone();
    assert_eq!(info.id, ACCEL_ID);
    assert_eq!(info.version, ACCEL_VERSION);
    assert!(info.compress_engines >= 1 && info.decompress_engines >= 1);
    assert_eq!(info.beat_bytes, 64);
    assert_eq!(info.history, 65536);
    assert_eq!(info.max_job, 1 << 20);
    for value in [0u32, 0xFFFF_FFFF, 0x1234_5678] {
        dev.write_reg(u32::from(REG_SCRATCH), value).unwrap();
        assert_eq!(dev.read_reg(u32::from(REG_SCRATCH)).unwrap(), value);
    }
    assert_eq!(
        dev.read_reg(u32::from(REG_CONTROL)).unwrap() & 1,
        1,
        "enabled"
    );
}

#[test]
fn jobs_agree_with_software() {
    let dev = device();
    let sw = SoftwareCodec::new();
    for (i, raw) in [
        Vec::new(),
        b"123456789".to_vec(),
        text(100, 1),
        text(5000, 2),
        vec![0u8; 70_000],
    ]
    .into_iter()
    .enumerate()
    {
        let tag = 1000 + i as u64;
        let done = dev.run(Job::checksum(tag, raw.clone()), WAIT).unwrap();
        assert_eq!((done.tag, done.status), (tag, JobStatus::Ok));
        assert_eq!(done.crc64, crc64::checksum(&raw));

        let done = dev.run(Job::compress(tag, raw.clone()), WAIT).unwrap();
        assert_eq!(done.crc64, crc64::checksum(&raw));
        match done.status {
            JobStatus::Ok => {
                let back = lz4_flex::block::decompress(&done.output, raw.len()).unwrap();
                assert_eq!(back, raw);
                assert!(done.output.len() < raw.len());
            }
            JobStatus::Incompressible => assert!(raw.len() < 16, "{} bytes", raw.len()),
            other => panic!("compress: {other:?}"),
        }

        let block = lz4_flex::block::compress(&raw);
        let done = dev
            .run(
                Job::decompress(tag, block.clone(), raw.len(), crc64::checksum(&raw)),
                WAIT,
            )
            .unwrap();
        assert_eq!(done.status, JobStatus::Ok);
        assert!(done.crc_valid);
        assert_eq!(done.output, raw);
        let reference = sw
            .run(
                Job::decompress(tag, block, raw.len(), crc64::checksum(&raw)),
                WAIT,
            )
            .unwrap();
        assert_eq!(reference.output, done.output);
    }
}
