//! The simulated CacheAccelerator through the device driver: identification and registers
//! (checked against the RTL's definitions), every job kind against the software codec, bad
//! jobs, many jobs in flight, and the driver's handling of a device that errs, corrupts,
//! stalls or stops answering.
#![cfg(feature = "sim")]

use std::sync::Arc;
use std::time::Duration;

use lzcache_driver::device::defs::*;
use lzcache_driver::device::protocol::{job_frame, parse_result, JobHeader};
use lzcache_driver::device::sim::SimLink;
use lzcache_driver::device::{DeviceCodec, DeviceLink, DeviceOptions, FaultPlan};
use lzcache_driver::{crc64, Codec, CodecError, Dictionary, Job, JobStatus, SoftwareCodec};

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
        (dev.read_reg(u32::from(REG_CONTROL)).unwrap() >> CONTROL_ENABLE_BIT) & 1,
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
        let done = dev.run(Job::checksum(tag, raw.clone())).unwrap();
        assert_eq!((done.tag, done.status), (tag, JobStatus::Ok));
        assert_eq!(done.crc64, crc64::checksum(&raw));

        let done = dev.run(Job::compress(tag, raw.clone())).unwrap();
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
            .run(Job::decompress(
                tag,
                block.clone(),
                raw.len(),
                crc64::checksum(&raw),
            ))
            .unwrap();
        assert_eq!(done.status, JobStatus::Ok);
        assert!(done.crc_valid);
        assert_eq!(done.output, raw);
        let reference = sw
            .run(Job::decompress(
                tag,
                block,
                raw.len(),
                crc64::checksum(&raw),
            ))
            .unwrap();
        assert_eq!(reference.output, done.output);
    }
}

/// Sends one raw frame and returns the result frame.
fn exchange(link: &mut SimLink, frame: &[u8]) -> Vec<u8> {
    let (header, payload) = frame.split_at(64);
    link.send(header.try_into().unwrap(), &payload.to_vec().into())
        .unwrap();
    link.recv(WAIT).unwrap().expect("a result").frame
}

#[test]
fn bad_jobs_get_error_results_and_the_device_goes_on() {
    let mut link = SimLink::start(FaultPlan::none()).unwrap();
    let good_raw = text(3000, 5);
    let block = lz4_flex::block::compress(&good_raw);
    let decompress = |tag, block: &[u8], raw_len: usize| {
        job_frame(
            &JobHeader {
                opcode: OP_DECOMPRESS,
                tag,
                input_len: block.len() as u32,
                raw_len: raw_len as u32,
                expected_crc: crc64::checksum(&good_raw),
                dict_id: 0,
                engine: 0,
                load_compress: false,
            },
            block,
        )
    };
    let mut bad_magic = decompress(1, &block, good_raw.len());
    bad_magic[0] ^= 0xFF;
    let mut bad_opcode = decompress(2, &block, good_raw.len());
    bad_opcode[2] = 9;
    let too_large = decompress(3, &block, (1 << 20) + 1);
    // A match before the start of the output.
    let malformed = decompress(4, &[0x04, 0x01, 0x00, 0x50, 1, 2, 3, 4, 5], good_raw.len());
    let short = decompress(5, &block, good_raw.len() + 1);
    let cases: [(&[u8], u8); 5] = [
        (&bad_magic, RES_BAD_OPCODE),
        (&bad_opcode, RES_BAD_OPCODE),
        (&too_large, RES_TOO_LARGE),
        (&malformed, RES_MALFORMED),
        (&short, RES_LENGTH),
    ];
    for (i, (frame, status)) in cases.iter().enumerate() {
        let result = exchange(&mut link, frame);
        let (header, output) = parse_result(&result).unwrap();
        assert_eq!(header.status, *status, "case {i}");
        if i != 0 {
            // (A bad magic still carries the tag field where the header has it.)
            assert_eq!(header.tag, i as u32 + 1, "case {i}");
        }
        assert!(output.is_empty());
        // The next job right after decodes normally.
        let result = exchange(
            &mut link,
            &decompress(100 + i as u32, &block, good_raw.len()),
        );
        let (header, output) = parse_result(&result).unwrap();
        assert_eq!((header.status, header.tag), (RES_OK, 100 + i as u32));
        assert!(header.crc_valid);
        assert_eq!(output, good_raw.as_slice());
    }
    // The counters saw all of it, at the offsets the definitions give.
    let reg = |link: &mut SimLink, r: u16| link.read_reg(u32::from(r)).unwrap();
    assert_eq!(reg(&mut link, REG_JOBS_IN), 10);
    assert_eq!(reg(&mut link, REG_JOBS_OUT), 10);
    assert_eq!(reg(&mut link, REG_ERR_OPCODE), 2);
    assert_eq!(reg(&mut link, REG_ERR_LENGTH), 1);
    assert_eq!(reg(&mut link, REG_ERR_MALFORMED), 2);
    assert_eq!(
        (reg(&mut link, REG_LAST_ERROR) >> LAST_ERROR_STATUS_LSB) & 0xFF,
        u32::from(RES_LENGTH)
    );
    assert_eq!(reg(&mut link, REG_LAST_ERROR_TAG), 5);
    assert_eq!(
        u64::from(reg(&mut link, REG_BYTES_OUT_LO)),
        5 * good_raw.len() as u64
    );
    // Soft reset clears the counters; the device works after it.
    link.write_reg(
        u32::from(REG_CONTROL),
        1 << CONTROL_ENABLE_BIT | 1 << CONTROL_SOFT_RESET_BIT,
    )
    .unwrap();
    assert_eq!(reg(&mut link, REG_JOBS_IN), 0);
    let result = exchange(&mut link, &decompress(7, &block, good_raw.len()));
    assert_eq!(parse_result(&result).unwrap().1, good_raw.as_slice());
}

#[test]
fn many_jobs_in_flight_come_back_by_tag() {
    let dev = device();
    let values: Vec<Vec<u8>> = (0..24).map(|i| text(200 + 700 * i, i as u64)).collect();
    let pending: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let job = match i % 3 {
                0 => Job::compress(i as u64, raw.clone()),
                1 => Job::decompress(
                    i as u64,
                    lz4_flex::block::compress(raw),
                    raw.len(),
                    crc64::checksum(raw),
                ),
                _ => Job::checksum(i as u64, raw.clone()),
            };
            dev.submit(job).unwrap()
        })
        .collect();
    for (i, pending) in pending.into_iter().enumerate() {
        let done = pending.wait().unwrap();
        let raw = &values[i];
        assert_eq!(done.tag, i as u64);
        assert_eq!(done.crc64, crc64::checksum(raw), "job {i}");
        match i % 3 {
            0 => assert_eq!(
                lz4_flex::block::decompress(&done.output, raw.len()).unwrap(),
                *raw
            ),
            1 => assert_eq!(done.output, *raw),
            _ => assert!(done.output.is_empty()),
        }
    }
    assert_eq!(dev.queue_depth(), 0);
}

#[test]
fn faults_reach_the_driver_and_a_silent_device_times_out() {
    let link = SimLink::start(FaultPlan::none()).unwrap();
    let faults = link.fault_handle();
    let options = DeviceOptions {
        timeout: Some(Duration::from_millis(300)),
        ..DeviceOptions::default()
    };
    let dev = DeviceCodec::with_options(Box::new(link), options).unwrap();
    let raw = text(2000, 9);
    let block = lz4_flex::block::compress(&raw);
    let job = || Job::decompress(1, block.clone(), raw.len(), crc64::checksum(&raw));

    *faults.lock().unwrap() = FaultPlan::parse("error=1").unwrap();
    assert_eq!(dev.run(job()).unwrap().status, JobStatus::Malformed);

    *faults.lock().unwrap() = FaultPlan::parse("corrupt=1").unwrap();
    let done = dev.run(job()).unwrap();
    assert_eq!(done.status, JobStatus::Ok);
    assert_ne!(done.output, raw, "one bit flipped");
    assert_ne!(crc64::checksum(&done.output), done.crc64);

    *faults.lock().unwrap() = FaultPlan::parse("stall=1:100ms").unwrap();
    assert_eq!(dev.run(job()).unwrap().output, raw);

    *faults.lock().unwrap() = FaultPlan::parse("drop=1").unwrap();
    let started = std::time::Instant::now();
    let missed = dev.run(job()).unwrap_err();
    assert!(
        matches!(missed, CodecError::Timeout(t) if t >= Duration::from_millis(300)),
        "{missed}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        dev.queue_depth(),
        0,
        "a job past its deadline leaves the queue"
    );
    assert!(!dev.is_responsive());
    assert_eq!(
        dev.counters()
            .timeouts
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    *faults.lock().unwrap() = FaultPlan::none();
    assert_eq!(dev.run(job()).unwrap().output, raw);
    assert!(dev.is_responsive());

    assert!(FaultPlan::parse("explode=1").is_err());
    assert!(FaultPlan::parse("drop=2").is_err());
}

/// A raw value and its block.
type Value = (Vec<u8>, Vec<u8>);

/// A dictionary of generated text and values made with it (liblz4, level 1).
fn dictionary_and_values(id: u32, seed: u64) -> (Arc<Dictionary>, Vec<Value>) {
    let dict = Arc::new(Dictionary::new(id, text(8192, seed)).unwrap());
    let values = (0..8)
        .map(|i| {
            let raw = text(150 + 97 * i, seed + 1 + i as u64);
            let block = dict.compress(&raw).unwrap();
            (raw, block)
        })
        .collect();
    (dict, values)
}

#[test]
fn dictionary_loads_and_jobs_on_the_device() {
    let mut link = SimLink::start(FaultPlan::none()).unwrap();
    let reg = |link: &mut SimLink, r: u16| link.read_reg(u32::from(r)).unwrap();
    assert_eq!(reg(&mut link, REG_CAPS) >> CAPS_DICT_BIT & 1, 1);
    assert_eq!(reg(&mut link, REG_DICT_SIZE), 65536);
    let engines = (reg(&mut link, REG_CAPS) >> CAPS_DECOMPRESS_LSB & 0xFF) as u8;
    let compress_engines = (reg(&mut link, REG_CAPS) >> CAPS_COMPRESS_LSB & 0xFF) as u8;
    let (dict, values) = dictionary_and_values(7, 40);
    let load = |tag, engine, id, content: &[u8]| {
        job_frame(
            &JobHeader::load_dict(tag, engine, id, content.len()),
            content,
        )
    };
    let decompress = |tag, id, (raw, block): &Value| {
        let mut header = JobHeader::for_op(
            &lzcache_driver::JobOp::Decompress {
                raw_len: raw.len(),
                expected_crc: crc64::checksum(raw),
            },
            tag,
            block.len(),
        );
        header.dict_id = id;
        job_frame(&header, block)
    };
    let status = |link: &mut SimLink, frame: &[u8]| {
        let result = exchange(link, frame);
        let (header, output) = parse_result(&result).unwrap();
        (header.status, header.opcode, output.to_vec())
    };
    let dict_ids = |link: &mut SimLink| -> Vec<u32> {
        (0..u16::from(engines))
            .map(|e| reg(link, REG_DICT_ID_BASE + 4 * e))
            .collect()
    };

    // Nothing loaded: a job naming a dictionary is refused at once; so are bad loads.
    assert_eq!(
        status(&mut link, &decompress(1, 7, &values[0])).0,
        RES_NO_DICT
    );
    assert_eq!(
        status(&mut link, &load(2, 0, 0, dict.content())).0,
        RES_BAD_DICT
    );
    assert_eq!(
        status(&mut link, &load(3, engines, 7, dict.content())).0,
        RES_BAD_DICT
    );
    assert_eq!(dict_ids(&mut link), vec![0; usize::from(engines)]);

    // Loaded on the first engine: its values decode there, and only there.
    let (loaded, opcode, _) = status(&mut link, &load(4, 0, 7, dict.content()));
    assert_eq!((loaded, opcode), (RES_OK, OP_LOAD_DICT));
    assert_eq!(dict_ids(&mut link)[0], 7);
    for (i, value) in values.iter().enumerate() {
        let result = exchange(&mut link, &decompress(10 + i as u32, 7, value));
        let (header, output) = parse_result(&result).unwrap();
        assert_eq!(
            (header.status, header.opcode),
            (RES_OK, OP_DECOMPRESS),
            "value {i}"
        );
        assert!(header.crc_valid, "value {i}");
        assert_eq!(
            header.engine, compress_engines,
            "value {i}: the engine holding it"
        );
        assert_eq!(output, value.0.as_slice(), "value {i}");
    }
    // The same block without naming the dictionary is malformed (it reaches before its start).
    assert_eq!(
        status(&mut link, &decompress(20, 0, &values[3])).0,
        RES_MALFORMED
    );

    // A failed load (over the engine's dictionary memory) leaves that engine without one.
    let last = engines - 1;
    assert_eq!(
        status(&mut link, &load(21, last, 7, dict.content())).0,
        RES_OK
    );
    let too_long = text(65537, 41);
    assert_eq!(
        status(&mut link, &load(22, last, 9, &too_long)).0,
        RES_BAD_DICT
    );
    assert_eq!(dict_ids(&mut link)[usize::from(last)], 0);
    assert_eq!(
        status(&mut link, &decompress(23, 9, &values[0])).0,
        RES_NO_DICT
    );
    let (ok, _, output) = status(&mut link, &decompress(24, 7, &values[5]));
    assert_eq!((ok, output), (RES_OK, values[5].0.clone()));

    // A soft reset clears the engines' dictionaries.
    link.write_reg(
        u32::from(REG_CONTROL),
        1 << CONTROL_ENABLE_BIT | 1 << CONTROL_SOFT_RESET_BIT,
    )
    .unwrap();
    assert_eq!(dict_ids(&mut link), vec![0; usize::from(engines)]);
    assert_eq!(
        status(&mut link, &decompress(25, 7, &values[0])).0,
        RES_NO_DICT
    );
}

#[test]
fn the_driver_loads_the_newest_dictionary_and_declines_the_rest() {
    let dev = device();
    let engines = u64::from(dev.info().decompress_engines);
    assert_eq!(dev.info().dict_size, 65536);
    let (first, first_values) = dictionary_and_values(1, 50);
    let (second, second_values) = dictionary_and_values(2, 60);
    let run = |dict: &Arc<Dictionary>, (raw, block): &Value| {
        dev.run(
            Job::decompress(0, block.clone(), raw.len(), crc64::checksum(raw))
                .with_dict(Some(Arc::clone(dict))),
        )
        .unwrap()
    };
    let submitted = || {
        dev.counters()
            .submitted
            .load(std::sync::atomic::Ordering::Relaxed)
    };

    for value in &first_values {
        let done = run(&first, value);
        assert_eq!(done.status, JobStatus::Ok);
        assert!(done.crc_valid);
        assert_eq!(done.output, value.0);
    }
    // One load per decompress engine, then the jobs.
    assert_eq!(submitted(), engines + first_values.len() as u64);

    // Compression with the dictionary: one load per compress engine, then the job; the
    // block needs the dictionary and decodes with it.
    let compress_engines = u64::from(dev.info().compress_engines);
    assert_eq!(dev.info().compress_dict_size, 65536);
    let raw = &first_values[0].0;
    let compress = dev
        .run(Job::compress(0, raw.clone()).with_dict(Some(Arc::clone(&first))))
        .unwrap();
    assert_eq!(compress.status, JobStatus::Ok);
    assert_eq!(compress.crc64, crc64::checksum(raw));
    assert_eq!(
        first.decompress(&compress.output, raw.len()).as_deref(),
        Some(&raw[..])
    );
    assert_ne!(
        lz4_flex::block::decompress(&compress.output, raw.len())
            .ok()
            .as_ref(),
        Some(raw),
        "the block uses the dictionary"
    );
    assert_eq!(
        submitted(),
        engines + compress_engines + first_values.len() as u64 + 1
    );

    // A newer dictionary replaces it; the older one's values are declined from then on.
    let done = run(&second, &second_values[0]);
    assert_eq!(
        (done.status, done.output.to_vec()),
        (JobStatus::Ok, second_values[0].0.clone())
    );
    assert_eq!(run(&first, &first_values[0]).status, JobStatus::Unsupported);
    assert_eq!(
        submitted(),
        2 * engines + compress_engines + first_values.len() as u64 + 2
    );

    // After a reset the device has none: the job that finds out is declined, the next reloads.
    dev.write_reg(
        u32::from(REG_CONTROL),
        1 << CONTROL_ENABLE_BIT | 1 << CONTROL_SOFT_RESET_BIT,
    )
    .unwrap();
    assert_eq!(
        run(&second, &second_values[1]).status,
        JobStatus::Unsupported
    );
    let done = run(&second, &second_values[2]);
    assert_eq!(
        (done.status, done.output.to_vec()),
        (JobStatus::Ok, second_values[2].0.clone())
    );
    assert_eq!(
        submitted(),
        3 * engines + compress_engines + first_values.len() as u64 + 4
    );
}

#[test]
fn compress_engines_take_a_dictionary() {
    let mut link = SimLink::start(FaultPlan::none()).unwrap();
    let reg = |link: &mut SimLink, r: u16| link.read_reg(u32::from(r)).unwrap();
    assert_eq!(reg(&mut link, REG_CAPS) >> CAPS_COMPRESS_DICT_BIT & 1, 1);
    assert_eq!(reg(&mut link, REG_COMPRESS_DICT_SIZE), 65536);
    let engines = (reg(&mut link, REG_CAPS) >> CAPS_COMPRESS_LSB & 0xFF) as u8;
    let (dict, values) = dictionary_and_values(7, 70);
    let load = |tag, engine, id, content: &[u8]| {
        job_frame(
            &JobHeader::load_compress_dict(tag, engine, id, content.len()),
            content,
        )
    };
    let compress = |tag, id, raw: &[u8]| {
        let mut header = JobHeader::for_op(&lzcache_driver::JobOp::Compress, tag, raw.len());
        header.dict_id = id;
        job_frame(&header, raw)
    };
    let result = |link: &mut SimLink, frame: &[u8]| {
        let result = exchange(link, frame);
        let (header, output) = parse_result(&result).unwrap();
        (header, output.to_vec())
    };
    let dict_ids = |link: &mut SimLink| -> Vec<u32> {
        (0..u16::from(engines))
            .map(|e| reg(link, REG_COMPRESS_DICT_ID_BASE + 4 * e))
            .collect()
    };

    // Nothing loaded: refused at once; so are loads naming no such engine or id 0.
    assert_eq!(
        result(&mut link, &compress(1, 7, &values[0].0)).0.status,
        RES_NO_DICT
    );
    assert_eq!(
        result(&mut link, &load(2, engines, 7, dict.content()))
            .0
            .status,
        RES_BAD_DICT
    );
    assert_eq!(
        result(&mut link, &load(3, 0, 0, dict.content())).0.status,
        RES_BAD_DICT
    );
    assert_eq!(dict_ids(&mut link), vec![0; usize::from(engines)]);

    // Loaded on the first compress engine: values naming it run there, their blocks need the
    // dictionary and decode with liblz4's and lz4_flex's dictionary decoders; the decompress
    // engines hold none.
    let (loaded, _) = result(&mut link, &load(4, 0, 7, dict.content()));
    assert_eq!((loaded.status, loaded.opcode), (RES_OK, OP_LOAD_DICT));
    assert_eq!(dict_ids(&mut link)[0], 7);
    assert_eq!(reg(&mut link, REG_DICT_ID_BASE), 0);
    for (i, (raw, _)) in values.iter().enumerate() {
        let (header, block) = result(&mut link, &compress(10 + i as u32, 7, raw));
        assert_eq!((header.status, header.engine), (RES_OK, 0), "value {i}");
        assert_eq!(header.crc, crc64::checksum(raw), "value {i}");
        assert_eq!(
            dict.decompress(&block, raw.len()).as_deref(),
            Some(&raw[..]),
            "value {i}"
        );
        assert_eq!(
            lz4_flex::block::decompress_with_dict(&block, raw.len(), dict.content()).unwrap(),
            *raw,
            "value {i}"
        );
        assert_ne!(
            lz4_flex::block::decompress(&block, raw.len()).ok().as_ref(),
            Some(raw),
            "value {i}: the block uses the dictionary"
        );
    }
    // A load too long for the engine's memory leaves it without one.
    let too_long = text(65537, 71);
    assert_eq!(
        result(&mut link, &load(30, 0, 9, &too_long)).0.status,
        RES_BAD_DICT
    );
    assert_eq!(dict_ids(&mut link)[0], 0);
    assert_eq!(
        result(&mut link, &compress(31, 7, &values[1].0)).0.status,
        RES_NO_DICT
    );
    // Plain compression is unaffected.
    let (header, block) = result(&mut link, &compress(32, 0, &values[2].0));
    assert_eq!(header.status, RES_OK);
    assert_eq!(
        lz4_flex::block::decompress(&block, values[2].0.len()).unwrap(),
        values[2].0
    );
}
