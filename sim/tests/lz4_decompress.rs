//! The LZ4 block decompressor (rtl/lz4_decompress.v) against software: generated data and the
//! corpus compressed by lz4_flex and by the lz4 C library, hand-built blocks for every edge of
//! the format, malformed blocks, and differential fuzzing against lz4_flex — each crossed with
//! random idle cycles and random backpressure, with a cycle bound on every job.

mod common;

use common::*;

const DEC_STATUS_VH: &str = include_str!("../../rtl/lz4_dec_status.vh");
use lzcache_sim::axis::{frame_to_beats, run_frames, Rng};
use lzcache_sim::{Beat, Dut, Traffic};

/// Default configuration: 512-bit streams, 32 output bytes per cycle, 64 KiB history.
const WIDE: (&str, usize) = ("lz4_decompress_w512", 32);
/// Narrow configuration for small FPGAs: 64-bit streams, 8 output bytes per cycle.
const NARROW: (&str, usize) = ("lz4_decompress_w64", 8);

#[derive(Debug, Clone)]
struct Job {
    block: Vec<u8>,
    raw_len: u32,
    crc: u64,
    /// The block's matches may reach into the loaded dictionary.
    dict: bool,
    /// The frame is a dictionary to load (`block` holds it; `raw_len` declares its length).
    load: bool,
}

impl Job {
    fn new(block: Vec<u8>, raw: &[u8]) -> Self {
        Self {
            block,
            raw_len: raw.len() as u32,
            crc: crc64(raw),
            dict: false,
            load: false,
        }
    }

    /// A block made with the preset dictionary.
    fn with_dict(block: Vec<u8>, raw: &[u8]) -> Self {
        Self {
            dict: true,
            ..Self::new(block, raw)
        }
    }

    /// A dictionary load declaring `declared` bytes.
    fn load(content: &[u8], declared: u32) -> Self {
        Self {
            block: content.to_vec(),
            raw_len: declared,
            crc: 0,
            dict: false,
            load: true,
        }
    }

    /// The first beat's tuser (lz4_dec_status.vh).
    fn user(&self) -> u128 {
        let bit = |name: &str| vh_param(DEC_STATUS_VH, "lz4_dec_status.vh", name) as u32;
        u128::from(self.crc) << bit("LZ4_JOB_CRC_LSB")
            | u128::from(self.raw_len) << bit("LZ4_JOB_LENGTH_LSB")
            | u128::from(self.dict) << bit("LZ4_JOB_DICT_BIT")
            | u128::from(self.load) << bit("LZ4_JOB_LOAD_BIT")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Done {
    data: Vec<u8>,
    crc: u64,
    length: u32,
    status: u8,
    crc_valid: bool,
}

struct Engine {
    dut: Dut,
    out_bytes: usize,
}

impl Engine {
    fn new((name, out_bytes): (&str, usize)) -> Self {
        let mut dut = Dut::new(name).expect("model is compiled in");
        dut.reset(4);
        Self { dut, out_bytes }
    }

    /// The documented bound (lz4_dec_parser.v): 3 cycles per input byte, one per OUT_BYTES
    /// of output, a few per job; plus the pipeline and one cycle per beat in and out.
    fn bound(&self, job: &Job) -> u64 {
        let beat = self.dut.beat_bytes() as u64;
        let input = job.block.len() as u64;
        let output = u64::from(job.raw_len);
        3 * input + output / self.out_bytes as u64 + input / beat + output / beat + 40
    }

    /// Runs `jobs` back to back and returns each completion and the cycles taken.
    fn run(&mut self, jobs: &[Job], traffic: &Traffic) -> (Vec<Done>, u64) {
        let beat_bytes = self.dut.beat_bytes();
        let mut beats = Vec::new();
        let mut budget = 1000;
        for job in jobs {
            let mut frame = frame_to_beats(&job.block, beat_bytes);
            frame[0].user = job.user();
            beats.extend(frame);
            budget += self.bound(job);
        }
        if traffic.idle_percent > 0 || traffic.stall_percent > 0 {
            budget *= 4;
        }
        let run = run_frames(&mut self.dut, beats, jobs.len(), traffic, budget);
        (frames(&run.output, beat_bytes), run.cycles)
    }

    fn run_one(&mut self, job: &Job, traffic: &Traffic) -> (Done, u64) {
        let (mut done, cycles) = self.run(std::slice::from_ref(job), traffic);
        (done.remove(0), cycles)
    }
}

/// Decodes each output frame's completion.
fn frames(beats: &[Beat], beat_bytes: usize) -> Vec<Done> {
    packed_frames(beats, beat_bytes)
        .into_iter()
        .map(|(data, user)| {
            let field = |name: &str, width: u32| {
                completion_field(user, DEC_STATUS_VH, "lz4_dec_status.vh", name, width)
            };
            Done {
                data,
                crc: field("LZ4_DONE_CRC_LSB", 64),
                length: field("LZ4_DONE_LENGTH_LSB", 32) as u32,
                status: field("LZ4_DONE_STATUS_LSB", 4) as u8,
                crc_valid: field("LZ4_DONE_CRC_VALID_BIT", 1) == 1,
            }
        })
        .collect()
}

fn assert_decoded(done: &Done, raw: &[u8], what: &str) {
    assert_eq!(done.status, status_code("LZ4_OK"), "{what}: status");
    assert_eq!(done.data.len(), raw.len(), "{what}: length");
    if let Some(at) = done.data.iter().zip(raw).position(|(a, b)| a != b) {
        let near = at.saturating_sub(4)..(at + 8).min(raw.len());
        panic!(
            "{what}: bytes differ from byte {at}: {:02x?}, expected {:02x?}",
            &done.data[near.clone()],
            &raw[near]
        );
    }
    assert_eq!(done.length as usize, raw.len(), "{what}: reported length");
    assert_eq!(done.crc, crc64(raw), "{what}: CRC");
    assert!(done.crc_valid, "{what}: crc_valid");
}

/// Both compressors' blocks for `cases`, as jobs with a name each.
fn blocks_of(cases: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>, Job)> {
    cases
        .iter()
        .flat_map(|(name, raw)| {
            [
                (format!("{name} (lz4_flex)"), lz4_flex_block(raw)),
                (format!("{name} (lz4 C)"), lz4_c_block(raw)),
            ]
            .into_iter()
            .map(|(label, block)| (label, raw.clone(), Job::new(block, raw)))
        })
        .collect()
}

fn check_batch(engine: &mut Engine, cases: &[(String, Vec<u8>, Job)], traffic: &Traffic) {
    let jobs: Vec<Job> = cases.iter().map(|(_, _, job)| job.clone()).collect();
    let (done, _) = engine.run(&jobs, traffic);
    for ((label, raw, _), done) in cases.iter().zip(&done) {
        assert_decoded(done, raw, &format!("{label}; {traffic}"));
    }
}

#[test]
fn generated_data_from_both_compressors() {
    let mut engine = Engine::new(WIDE);
    let cases = blocks_of(&generated());
    for traffic in Traffic::matrix(11) {
        check_batch(&mut engine, &cases, &traffic);
    }
}

#[test]
fn narrow_configuration_decodes_the_same() {
    let mut engine = Engine::new(NARROW);
    let small: Vec<(String, Vec<u8>)> = generated()
        .into_iter()
        .filter(|(_, raw)| raw.len() <= 70_000)
        .collect();
    let cases = blocks_of(&small);
    for traffic in Traffic::matrix(12) {
        check_batch(&mut engine, &cases, &traffic);
    }
}

/// Every corpus file as one block: correct under the traffic matrix, and output bytes per
/// cycle at full rate (printed with --nocapture; the figures of the README).
#[test]
fn corpus_files_and_throughput() {
    let files = corpus();
    let mut engine = Engine::new(WIDE);
    let mut narrow = Engine::new(NARROW);
    let mut total = (0u64, 0u64, 0u64);
    eprintln!(
        "{:<16} {:>9} {:>9} {:>12} {:>8}",
        "file", "raw", "block", "B/cycle", "w64"
    );
    for (name, raw) in &files {
        let job = Job::new(lz4_flex_block(raw), raw);
        let (done, cycles) = engine.run_one(&job, &Traffic::FULL_RATE);
        assert_decoded(&done, raw, name);
        let (done, narrow_cycles) = narrow.run_one(&job, &Traffic::FULL_RATE);
        assert_decoded(&done, raw, &format!("{name} (w64)"));
        eprintln!(
            "{:<16} {:>9} {:>9} {:>12.2} {:>8.2}",
            name,
            raw.len(),
            job.block.len(),
            raw.len() as f64 / cycles as f64,
            raw.len() as f64 / narrow_cycles as f64
        );
        total.0 += raw.len() as u64;
        total.1 += cycles;
        total.2 += narrow_cycles;
    }
    eprintln!(
        "{:<16} {:>9} {:>9} {:>12.2} {:>8.2}",
        "all",
        total.0,
        "",
        total.0 as f64 / total.1 as f64,
        total.0 as f64 / total.2 as f64
    );
    // The floor the engine is built to: 8 output bytes per cycle over the corpus.
    assert!(total.0 >= 8 * total.1, "below 8 output bytes per cycle");

    // The slowest inputs: generated data of every kind (short offsets, runs, literals).
    let mut worst = (f64::MAX, String::new());
    for (name, raw) in generated().iter().filter(|(_, raw)| raw.len() >= 4096) {
        let job = Job::new(lz4_flex_block(raw), raw);
        let (done, cycles) = engine.run_one(&job, &Traffic::FULL_RATE);
        assert_decoded(&done, raw, name);
        let rate = raw.len() as f64 / cycles as f64;
        eprintln!(
            "{name:<16} {:>9} {:>9} {rate:>12.2}",
            raw.len(),
            job.block.len()
        );
        if rate < worst.0 {
            worst = (rate, name.clone());
        }
    }
    eprintln!(
        "slowest generated input: {} at {:.2} B/cycle",
        worst.1, worst.0
    );

    // Correct under idle cycles and backpressure too (lz4 C blocks this time).
    let cases: Vec<(String, Vec<u8>, Job)> = files
        .iter()
        .map(|(name, raw)| (name.clone(), raw.clone(), Job::new(lz4_c_block(raw), raw)))
        .collect();
    for traffic in &Traffic::matrix(13)[1..] {
        check_batch(&mut engine, &cases, traffic);
    }
}

/// Hand-built blocks: the encoder writes exactly the sequences asked for.
struct BlockWriter(Vec<u8>);

impl BlockWriter {
    fn new() -> Self {
        Self(Vec::new())
    }

    fn extension(&mut self, mut n: usize) {
        while n >= 255 {
            self.0.push(255);
            n -= 255;
        }
        self.0.push(n as u8);
    }

    fn sequence(&mut self, literals: &[u8], offset: u16, match_len: usize) -> &mut Self {
        let lit = literals.len().min(15);
        let mat = (match_len - 4).min(15);
        self.0.push((lit as u8) << 4 | mat as u8);
        if lit == 15 {
            self.extension(literals.len() - 15);
        }
        self.0.extend_from_slice(literals);
        self.0.extend_from_slice(&offset.to_le_bytes());
        if mat == 15 {
            self.extension(match_len - 19);
        }
        self
    }

    fn last(&mut self, literals: &[u8]) -> Vec<u8> {
        let lit = literals.len().min(15);
        self.0.push((lit as u8) << 4);
        if lit == 15 {
            self.extension(literals.len() - 15);
        }
        self.0.extend_from_slice(literals);
        std::mem::take(&mut self.0)
    }
}

/// Decodes with lz4_flex, the reference, at the given output bound.
fn reference(block: &[u8], raw_len: usize) -> Option<Vec<u8>> {
    lz4_flex::block::decompress(block, raw_len).ok()
}

#[test]
fn hand_built_blocks_cover_every_edge() {
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    let history = random(70_000, 21);
    // Offsets 1..=64 and 65535, at several match lengths, after enough history.
    for offset in (1u16..=64).chain([65535]) {
        for match_len in [4usize, 5, 18, 19, 40, 300] {
            let mut w = BlockWriter::new();
            let lits = &history[..(usize::from(offset)).max(20)];
            let block = w
                .sequence(lits, offset, match_len)
                .sequence(b"xy", offset, match_len)
                .last(b"tail!");
            cases.push((format!("offset {offset} match {match_len}"), block));
        }
    }
    // Match lengths 4..=19 and >= 270, at offsets shorter and longer than the lane count.
    for match_len in (4usize..=19).chain([270, 271, 524, 525, 1000, 70_000]) {
        for offset in [1u16, 5, 31, 32, 33, 200] {
            let block = BlockWriter::new()
                .sequence(&history[..300], offset, match_len)
                .last(&history[..7]);
            cases.push((format!("match {match_len} offset {offset}"), block));
        }
    }
    // Literal runs of 0, 14, 15, 270 and 65536+ bytes.
    for lit_len in [0usize, 1, 14, 15, 16, 31, 32, 33, 270, 65_536, 70_000] {
        let lits = &history[..lit_len];
        let block = BlockWriter::new().last(lits);
        cases.push((format!("literals {lit_len} alone"), block));
        let block = BlockWriter::new()
            .sequence(&history[..20], 3, 10)
            .sequence(lits, 12, 20)
            .last(lits);
        cases.push((format!("literals {lit_len} between matches"), block));
    }
    // Empty block (the encoding of an empty value) and a block of one literal.
    cases.push(("empty block".into(), BlockWriter::new().last(b"")));
    cases.push(("one literal".into(), BlockWriter::new().last(b"z")));

    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    for (name, block) in &cases {
        // Every block here is valid: the reference decodes it at a generous bound.
        let raw = reference(block, 1 << 20).unwrap_or_else(|| panic!("{name}: not valid"));
        jobs.push(Job::new(block.clone(), &raw));
        expected.push((name, raw));
    }
    let mut engine = Engine::new(WIDE);
    let mut narrow = Engine::new(NARROW);
    for traffic in Traffic::matrix(22) {
        for engine in [&mut engine, &mut narrow] {
            let (done, _) = engine.run(&jobs, &traffic);
            for ((name, raw), done) in expected.iter().zip(&done) {
                assert_decoded(done, raw, &format!("{name}; {traffic}"));
            }
        }
    }
}

#[test]
fn malformed_blocks_end_with_an_error_and_the_next_job_follows() {
    let raw = text(3000, 31);
    let good = lz4_flex_block(&raw);
    let good_job = Job::new(good.clone(), &raw);
    let mut cases: Vec<(String, Job, &str)> = vec![
        (
            "offset 0".into(),
            Job::new(
                BlockWriter::new().sequence(b"abcd", 0, 4).last(b"tail!"),
                &[0; 13],
            ),
            "LZ4_ERR_OFFSET_ZERO",
        ),
        (
            "offset before the start".into(),
            Job::new(
                BlockWriter::new().sequence(b"abcd", 5, 4).last(b"tail!"),
                &[0; 13],
            ),
            "LZ4_ERR_OFFSET_RANGE",
        ),
        (
            "literals past the bound".into(),
            Job::new(BlockWriter::new().last(&[7; 100]), &[7; 99]),
            "LZ4_ERR_OVERRUN",
        ),
        (
            "match past the bound".into(),
            Job::new(
                BlockWriter::new().sequence(b"abcd", 4, 300).last(b""),
                &[0; 200],
            ),
            "LZ4_ERR_OVERRUN",
        ),
        (
            "length field running off the input".into(),
            Job::new(vec![0xF0, 255, 255, 255], &[0; 100_000]),
            "LZ4_ERR_TRUNCATED",
        ),
        (
            "empty input".into(),
            Job::new(Vec::new(), &[]),
            "LZ4_ERR_TRUNCATED",
        ),
        (
            "ends after a match".into(),
            Job::new(
                BlockWriter::new().sequence(b"abcd", 4, 4).0.clone(),
                &[0; 8],
            ),
            "LZ4_ERR_TRUNCATED",
        ),
        (
            "trailing byte".into(),
            Job::new([good.clone(), vec![0x42]].concat(), &raw),
            "LZ4_ERR_TRUNCATED",
        ),
        (
            "shorter than the expected length".into(),
            Job::new(good.clone(), &[raw.clone(), vec![0]].concat()),
            "LZ4_ERR_SHORT",
        ),
    ];
    // Input ending inside a sequence: every truncation of a valid block.
    for cut in (0..good.len()).step_by(7) {
        cases.push((
            format!("truncated at {cut}"),
            Job::new(good[..cut].to_vec(), &raw),
            "",
        ));
    }
    let mut engine = Engine::new(WIDE);
    for traffic in Traffic::matrix(32) {
        let mut jobs = Vec::new();
        for (_, job, _) in &cases {
            jobs.push(job.clone());
            jobs.push(good_job.clone());
        }
        let (done, _) = engine.run(&jobs, &traffic);
        for (i, (name, job, status)) in cases.iter().enumerate() {
            let bad = &done[2 * i];
            if status.is_empty() {
                assert_ne!(bad.status, status_code("LZ4_OK"), "{name}; {traffic}");
            } else {
                assert_eq!(bad.status, status_code(status), "{name}; {traffic}");
            }
            assert!(!bad.crc_valid, "{name}: crc_valid on an error; {traffic}");
            assert!(
                bad.data.len() <= job.raw_len as usize,
                "{name}: past the bound"
            );
            assert_decoded(
                &done[2 * i + 1],
                &raw,
                &format!("job after {name}; {traffic}"),
            );
        }
    }
}

#[test]
fn a_crc_mismatch_clears_crc_valid() {
    let raw = json(5000, 41);
    let mut job = Job::new(lz4_flex_block(&raw), &raw);
    job.crc ^= 1 << 17;
    let mut engine = Engine::new(WIDE);
    let (done, _) = engine.run_one(&job, &Traffic::matrix(42)[3]);
    assert_eq!(done.status, status_code("LZ4_OK"));
    assert!(done.data == raw);
    assert_eq!(done.crc, crc64(&raw));
    assert!(!done.crc_valid);
}

/// Seeded random mutations of valid blocks, and random byte strings: where lz4_flex decodes,
/// the RTL gives the same bytes (or, documented stricter, rejects offset 0, or reports
/// LZ4_ERR_SHORT with the same bytes when the block decodes to fewer bytes than expected);
/// where lz4_flex rejects, the RTL rejects; every job finishes within its cycle bound.
#[test]
fn differential_fuzz_against_lz4_flex() {
    let seed = std::env::var("LZCACHE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(51u64);
    let mut rng = Rng::new(seed);
    let sources: Vec<Vec<u8>> = vec![
        text(300, 52),
        json(700, 53),
        periodic(400, 3, 54),
        far_matches(2000, 55),
        random(120, 56),
    ];
    let blocks: Vec<(Vec<u8>, Vec<u8>)> = sources
        .iter()
        .flat_map(|raw| {
            [
                (raw.clone(), lz4_flex_block(raw)),
                (raw.clone(), lz4_c_block(raw)),
            ]
        })
        .collect();
    let mut jobs = Vec::new();
    for _ in 0..3000 {
        let (raw, block) = &blocks[(rng.next_u64() % blocks.len() as u64) as usize];
        let mut block = block.clone();
        for _ in 0..1 + rng.next_u64() % 4 {
            if block.is_empty() {
                break;
            }
            let at = (rng.next_u64() % block.len() as u64) as usize;
            match rng.next_u64() % 6 {
                0 => block[at] ^= 1 << (rng.next_u64() % 8),
                1 => block[at] = rng.next_u64() as u8,
                2 => block.truncate(at),
                3 => {
                    block.remove(at);
                }
                4 => block.insert(at, rng.next_u64() as u8),
                _ => block[at] = [0, 15, 255, 0xF0, 0x0F, 0xFF][(rng.next_u64() % 6) as usize],
            }
        }
        let raw_len = match rng.next_u64() % 4 {
            0 => raw.len() + (rng.next_u64() % 64) as usize,
            1 => raw.len().saturating_sub((rng.next_u64() % 64) as usize),
            _ => raw.len(),
        };
        jobs.push((block, raw_len));
    }
    for _ in 0..1000 {
        let len = (rng.next_u64() % 80) as usize;
        let block = random(len, rng.next_u64());
        jobs.push((block, (rng.next_u64() % 600) as usize));
    }

    let mut engine = Engine::new(WIDE);
    let mut outcomes = [0usize; 4];
    let mut batch = Vec::new();
    for (i, (block, raw_len)) in jobs.iter().enumerate() {
        let expected = reference(block, *raw_len);
        let job = Job {
            crc: expected.as_deref().map(crc64).unwrap_or(0),
            raw_len: *raw_len as u32,
            ..Job::new(block.clone(), &[])
        };
        let (done, cycles) = engine.run_one(&job, &Traffic::FULL_RATE);
        let what = format!("job {i} (seed {seed}): block {block:02x?}, raw length {raw_len}");
        assert!(cycles <= engine.bound(&job), "{what}: {cycles} cycles");
        assert!(done.data.len() <= *raw_len, "{what}: output past the bound");
        match expected {
            Some(bytes) if bytes.len() == *raw_len => {
                if done.status == status_code("LZ4_ERR_OFFSET_ZERO") {
                    outcomes[1] += 1;
                } else {
                    assert_eq!(done.status, status_code("LZ4_OK"), "{what}");
                    assert!(done.data == bytes, "{what}: bytes differ");
                    assert!(done.crc_valid, "{what}");
                    outcomes[0] += 1;
                }
            }
            Some(bytes) => {
                if done.status != status_code("LZ4_ERR_OFFSET_ZERO") {
                    assert_eq!(done.status, status_code("LZ4_ERR_SHORT"), "{what}");
                    assert!(done.data == bytes, "{what}: bytes differ");
                }
                outcomes[2] += 1;
            }
            None => {
                assert_ne!(done.status, status_code("LZ4_OK"), "{what}");
                assert!(!done.crc_valid, "{what}");
                outcomes[3] += 1;
            }
        }
        batch.push((job, done));
    }
    eprintln!(
        "fuzz: {} decoded alike, {} offset-0 rejections, {} short, {} rejected by both",
        outcomes[0], outcomes[1], outcomes[2], outcomes[3]
    );
    assert!(
        outcomes[0] > 100 && outcomes[3] > 1000,
        "mutations too mild or too wild"
    );

    // The same jobs back to back under idle cycles and backpressure give the same results.
    let sample: Vec<(Job, Done)> = batch.into_iter().step_by(5).collect();
    let jobs: Vec<Job> = sample.iter().map(|(job, _)| job.clone()).collect();
    for traffic in &Traffic::matrix(seed)[1..] {
        let (done, _) = engine.run(&jobs, traffic);
        for (i, ((_, alone), done)) in sample.iter().zip(&done).enumerate() {
            assert_eq!(done, alone, "job {} back to back; {traffic}", 5 * i);
        }
    }
}

#[test]
fn reset_mid_job_then_decode() {
    let raw = text(20_000, 61);
    let job = Job::new(lz4_flex_block(&raw), &raw);
    let mut engine = Engine::new(WIDE);
    let beat_bytes = engine.dut.beat_bytes();
    let mut beats = frame_to_beats(&job.block, beat_bytes);
    beats[0].user = job.user();
    for beat in beats.iter().take(20) {
        engine.dut.cycle(Some(beat), true);
    }
    engine.dut.reset(2);
    let (done, _) = engine.run_one(&job, &Traffic::matrix(62)[3]);
    assert_decoded(&done, &raw, "after reset");
}

/*
 * Preset dictionaries
 */

impl Engine {
    /// Loads `content` as the preset dictionary and checks that the load succeeded in about a
    /// cycle per byte.
    fn load_dict(&mut self, content: &[u8], traffic: &Traffic) {
        let job = Job::load(content, content.len() as u32);
        let (done, cycles) = self.run_one(&job, traffic);
        assert_eq!(
            done.status,
            status_code("LZ4_OK"),
            "load of {} bytes",
            content.len()
        );
        assert_eq!(done.length as usize, content.len(), "bytes loaded");
        assert!(done.data.is_empty(), "a load answers with an empty frame");
        if traffic.idle_percent == 0 && traffic.stall_percent == 0 {
            let beats = content.len().div_ceil(self.dut.beat_bytes()) as u64;
            assert!(
                cycles <= content.len() as u64 + beats + 40,
                "load of {} bytes took {cycles} cycles",
                content.len()
            );
        }
    }
}

/// A raw value of about `len` bytes made of literals and matches whose offsets reach anywhere
/// in `dict` followed by the value so far — across the dictionary's end, overlapping its tail
/// at short offsets, from its first byte — and its LZ4 block (the last twelve bytes literals:
/// the format ends a block with five and starts no match in the last twelve).
fn dict_value(dict: &[u8], len: usize, rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let mut history = dict.to_vec();
    let mut w = BlockWriter::new();
    while history.len() - dict.len() + 12 < len {
        let literals = random((rng.next_u64() % 12) as usize, rng.next_u64());
        history.extend_from_slice(&literals);
        let reach = history.len().min(65535);
        let offset = match rng.next_u64() % 4 {
            // Near the value's start, often into the dictionary's tail.
            0 => 1 + (rng.next_u64() % 40) as usize,
            // Exactly the dictionary's first byte, when in reach.
            1 => reach,
            _ => 1 + (rng.next_u64() % reach as u64) as usize,
        }
        .min(reach);
        let match_len = 4 + (rng.next_u64() % 80) as usize;
        for _ in 0..match_len {
            history.push(history[history.len() - offset]);
        }
        w.sequence(&literals, offset as u16, match_len);
    }
    let tail = random(12, rng.next_u64());
    history.extend_from_slice(&tail);
    (history[dict.len()..].to_vec(), w.last(&tail))
}

/// A dictionary for text values: a stretch of the same generated text.
fn text_dict(len: usize) -> Vec<u8> {
    text(len, 7001)
}

#[test]
fn dictionary_blocks_from_liblz4_and_lz4_flex_decode() {
    // A trained dictionary and the records it was trained for, and a text dictionary for text.
    let records = lzcache_driver::dict::json_records(3000, 71);
    let trained = lzcache_driver::dict::train(&records[..2500], 16 << 10).expect("trains");
    let text_content = text_dict(16 << 10);
    let mut referencing = 0;
    for (dict_content, values) in [
        (trained, records[2500..].to_vec()),
        (
            text_content,
            (0..60)
                .map(|i| text(100 + 37 * i, 7100 + i as u64))
                .collect(),
        ),
    ] {
        let dict = lzcache_driver::Dictionary::new(1, dict_content.clone()).expect("valid");
        let mut cases = Vec::new();
        for (i, raw) in values.iter().enumerate() {
            let c_block = dict.compress(raw).expect("compresses");
            let flex_block = lz4_flex::block::compress_with_dict(raw, &dict_content);
            for (label, block) in [("liblz4", c_block), ("lz4_flex", flex_block)] {
                assert_eq!(
                    dict.decompress(&block, raw.len()).as_deref(),
                    Some(&raw[..])
                );
                // Count the blocks that need the dictionary (they do not decode without it).
                if lz4_flex::block::decompress(&block, raw.len()).ok().as_ref() != Some(raw) {
                    referencing += 1;
                }
                cases.push((
                    format!("value {i} ({label})"),
                    raw.clone(),
                    Job::with_dict(block, raw),
                ));
            }
        }
        for config in [WIDE, NARROW] {
            let mut engine = Engine::new(config);
            for traffic in Traffic::matrix(72) {
                engine.load_dict(&dict_content, &traffic);
                check_batch(&mut engine, &cases, &traffic);
            }
        }
    }
    assert!(
        referencing > 500,
        "only {referencing} blocks use their dictionary"
    );
}

#[test]
fn matches_reach_across_the_dictionary_end_at_every_length() {
    let mut rng = Rng::new(73);
    for config in [WIDE, NARROW] {
        let mut engine = Engine::new(config);
        // Lengths below, at and around the recent-bytes window, unaligned, and the largest.
        for dict_len in [1usize, 5, 16, 31, 64, 65, 1000, 4099, 16 << 10, 65536] {
            let dict = text_dict(dict_len);
            let reference = lzcache_driver::Dictionary::new(1, dict.clone()).expect("valid");
            let cases: Vec<(String, Vec<u8>, Job)> = (0..12)
                .map(|i| {
                    let (raw, block) = dict_value(&dict, 64 + i * 300, &mut rng);
                    assert_eq!(
                        reference.decompress(&block, raw.len()).as_deref(),
                        Some(&raw[..]),
                        "liblz4 decodes the hand-built block"
                    );
                    (
                        format!("dictionary of {dict_len}, value {i}"),
                        raw.clone(),
                        Job::with_dict(block, &raw),
                    )
                })
                .collect();
            for traffic in Traffic::matrix(74 + dict_len as u64) {
                engine.load_dict(&dict, &traffic);
                check_batch(&mut engine, &cases, &traffic);
            }
        }
    }
}

#[test]
fn jobs_around_a_dictionary_load_use_the_dictionary_of_their_turn() {
    let mut rng = Rng::new(75);
    let first = text(3000, 7501);
    let second = random(2000, 7502);
    let (raw_a, block_a) = dict_value(&first, 2000, &mut rng);
    let (raw_b, block_b) = dict_value(&second, 2000, &mut rng);
    let plain = text(5000, 7503);
    let jobs = vec![
        Job::load(&first, first.len() as u32),
        Job::with_dict(block_a.clone(), &raw_a),
        Job::new(lz4_flex_block(&plain), &plain),
        Job::with_dict(block_a.clone(), &raw_a),
        Job::load(&second, second.len() as u32),
        Job::with_dict(block_b.clone(), &raw_b),
        // The first dictionary's block against the second: decodes to other bytes.
        Job::with_dict(block_a, &raw_a),
        Job::new(lz4_flex_block(&plain), &plain),
        Job::with_dict(block_b, &raw_b),
    ];
    for traffic in Traffic::matrix(76) {
        let mut engine = Engine::new(NARROW);
        let (done, _) = engine.run(&jobs, &traffic);
        assert_eq!(done[0].status, status_code("LZ4_OK"), "{traffic}");
        assert_decoded(&done[1], &raw_a, &format!("first dictionary; {traffic}"));
        assert_decoded(&done[2], &plain, &format!("no dictionary; {traffic}"));
        assert_decoded(
            &done[3],
            &raw_a,
            &format!("first dictionary again; {traffic}"),
        );
        assert_eq!(done[4].status, status_code("LZ4_OK"), "{traffic}");
        assert_decoded(&done[5], &raw_b, &format!("second dictionary; {traffic}"));
        assert!(
            !done[6].crc_valid && done[6].data != raw_a,
            "stale block; {traffic}"
        );
        assert_decoded(&done[7], &plain, &format!("no dictionary; {traffic}"));
        assert_decoded(
            &done[8],
            &raw_b,
            &format!("second dictionary again; {traffic}"),
        );
    }
}

#[test]
fn bad_dictionary_loads_and_references_are_errors() {
    let dict = text_dict(4096);
    let mut rng = Rng::new(77);
    let (raw, block) = dict_value(&dict, 3000, &mut rng);
    // A match reaching one byte before the dictionary, after a literal.
    let mut w = BlockWriter::new();
    let too_far = w.sequence(b"x", (dict.len() + 2) as u16, 4).last(b"12345");
    // The same match reaching exactly the dictionary's first byte.
    let mut w = BlockWriter::new();
    let exact = w.sequence(b"x", (dict.len() + 1) as u16, 4).last(b"12345");
    let mut exact_raw = b"x".to_vec();
    exact_raw.extend_from_slice(&dict[..4]);
    exact_raw.extend_from_slice(b"12345");

    let range = status_code("LZ4_ERR_OFFSET_RANGE");
    let bad_length = status_code("LZ4_ERR_DICT_LENGTH");
    for traffic in Traffic::matrix(78) {
        let mut engine = Engine::new(NARROW);
        let what = |s: &str| format!("{s}; {traffic}");
        // No dictionary yet: a reference before the output is out of range.
        let (done, _) = engine.run_one(&Job::with_dict(block.clone(), &raw), &traffic);
        assert_eq!(done.status, range, "{}", what("no dictionary loaded"));
        engine.load_dict(&dict, &traffic);
        let (done, _) = engine.run_one(&Job::with_dict(block.clone(), &raw), &traffic);
        assert_decoded(&done, &raw, &what("loaded"));
        let (done, _) = engine.run_one(&Job::new(block.clone(), &raw), &traffic);
        assert_eq!(
            done.status,
            range,
            "{}",
            what("a job without the dictionary flag")
        );
        let (done, _) = engine.run_one(&Job::with_dict(too_far.clone(), b"x"), &traffic);
        assert_eq!(
            done.status,
            range,
            "{}",
            what("one byte before the dictionary")
        );
        let (done, _) = engine.run_one(&Job::with_dict(exact.clone(), &exact_raw), &traffic);
        assert_decoded(&done, &exact_raw, &what("the dictionary's first byte"));

        // Loads whose length is not the declared one, or none, or over the memory: each an
        // error, after which no dictionary is in force.
        for (content, declared) in [
            (dict.clone(), dict.len() as u32 + 1),
            (dict.clone(), dict.len() as u32 - 1),
            (Vec::new(), 0),
            (dict.clone(), 0),
            (text(65537, 79), 65537),
        ] {
            let (done, _) = engine.run_one(&Job::load(&content, declared), &traffic);
            let label = what(&format!("load of {} declared {declared}", content.len()));
            assert_eq!(done.status, bad_length, "{label}");
            assert_eq!(
                done.length as usize,
                content.len(),
                "{label}: bytes received"
            );
            let (done, _) = engine.run_one(&Job::with_dict(block.clone(), &raw), &traffic);
            assert_eq!(done.status, range, "{label}: the dictionary is gone");
            engine.load_dict(&dict, &traffic);
        }
        let (done, _) = engine.run_one(&Job::with_dict(block.clone(), &raw), &traffic);
        assert_decoded(&done, &raw, &what("reloaded"));
    }
}
