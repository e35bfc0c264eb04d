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
}

impl Job {
    fn new(block: Vec<u8>, raw: &[u8]) -> Self {
        Self {
            block,
            raw_len: raw.len() as u32,
            crc: crc64(raw),
        }
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
            frame[0].user = u128::from(job.raw_len) << 64 | u128::from(job.crc);
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
    assert!(done.data == raw, "{what}: bytes differ");
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
            block: block.clone(),
            raw_len: *raw_len as u32,
            crc: expected.as_deref().map(crc64).unwrap_or(0),
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
    beats[0].user = u128::from(job.raw_len) << 64 | u128::from(job.crc);
    for beat in beats.iter().take(20) {
        engine.dut.cycle(Some(beat), true);
    }
    engine.dut.reset(2);
    let (done, _) = engine.run_one(&job, &Traffic::matrix(62)[3]);
    assert_decoded(&done, &raw, "after reset");
}
